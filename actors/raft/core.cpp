// actors/raft/core.cpp — see core.h. The structure follows etcd's raft.go
// so that readers who know it find their way; comments cite the Raft paper
// (§) or thesis where a rule comes from.
#include "actors/raft/core.h"

#include <algorithm>

#include "actors/common/assert.h"
#include "actors/raft/codec.h"
#include "actors/raft/conf_change.h"

namespace cairn::raft {

// ---------------------------------------------------------------------------
// Small helpers

std::uint64_t seeded_random::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t seeded_random::below(std::uint64_t n) {
  return n == 0 ? 0 : next() % n;
}

const char* to_string(role r) {
  switch (r) {
    case role::follower:
      return "follower";
    case role::pre_candidate:
      return "pre-candidate";
    case role::candidate:
      return "candidate";
    case role::leader:
      return "leader";
  }
  return "?";
}

const char* to_string(message_type t) {
  switch (t) {
    case message_type::append:
      return "append";
    case message_type::append_response:
      return "append_response";
    case message_type::vote:
      return "vote";
    case message_type::vote_response:
      return "vote_response";
    case message_type::pre_vote:
      return "pre_vote";
    case message_type::pre_vote_response:
      return "pre_vote_response";
    case message_type::heartbeat:
      return "heartbeat";
    case message_type::heartbeat_response:
      return "heartbeat_response";
    case message_type::install_snapshot:
      return "install_snapshot";
    case message_type::timeout_now:
      return "timeout_now";
    case message_type::read_index:
      return "read_index";
    case message_type::read_index_response:
      return "read_index_response";
    case message_type::propose:
      return "propose";
    case message_type::transfer_leader:
      return "transfer_leader";
  }
  return "?";
}

const char* to_string(step_error e) {
  switch (e) {
    case step_error::ok:
      return "ok";
    case step_error::proposal_dropped:
      return "proposal dropped";
    case step_error::invalid_message:
      return "invalid message";
    case step_error::not_member:
      return "not a member";
    case step_error::conf_change_refused:
      return "conf change refused";
    case step_error::read_dropped:
      return "read dropped";
  }
  return "?";
}

namespace {

step_result fail(step_error e, std::string reason) {
  return step_result{e, std::move(reason)};
}

/// Messages forwarded to a leader carry no term (they act as local input).
bool is_forwarded(message_type t) {
  return t == message_type::propose || t == message_type::read_index ||
         t == message_type::transfer_leader;
}

const bytes transfer_context = "cairn-transfer";

}  // namespace

// ---------------------------------------------------------------------------
// Construction

core::core(const config& cfg, restored_state st)
    : cfg_(cfg),
      random_(cfg.random_seed ^ (cfg.id.value * 0x9e3779b97f4a7c15ULL)),
      log_(st.log_offset, st.log_offset_term),
      snapshot_(std::move(st.snap)),
      tracker_(cfg.inflight_messages_max, cfg.inflight_bytes_max) {
  CAIRN_ASSERT_MSG(!cfg.id.is_none(), "config.id must not be 0");
  CAIRN_ASSERT_MSG(cfg.heartbeat_interval_ticks > 0, "heartbeat interval must be > 0");
  CAIRN_ASSERT_MSG(cfg.election_timeout_ticks > cfg.heartbeat_interval_ticks,
                   "election timeout must exceed the heartbeat interval");
  const log_index snap_index = snapshot_.metadata.index;
  CAIRN_ASSERT_MSG(snap_index >= st.log_offset || snapshot_.empty(),
                   "snapshot older than the compaction point");
  log_.load(std::move(st.entries), st.hard.commit, snapshot_.empty() ? st.log_offset : snap_index);
  const conf_state& cs = snapshot_.empty() ? st.initial_conf : snapshot_.metadata.conf;
  tracker_ = conf_changer::restore(cs, log_.last_index(), cfg.inflight_messages_max,
                                   cfg.inflight_bytes_max);
  auto self = tracker_.nodes.find(cfg_.id);
  is_learner_ = self != tracker_.nodes.end() && self->second.is_learner;
  term_ = st.hard.term;
  vote_ = st.hard.vote;
  checked_term_ = term_;
  become_follower(term_, no_node);
  prev_hard_ = hard_state{term_, vote_, log_.committed()};
  prev_soft_ = soft_state{lead_, state_};
}

// ---------------------------------------------------------------------------
// Roles

void core::reset(term_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = no_node;
  }
  lead_ = no_node;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_leader_transfer();
  tracker_.reset_votes();
  tracker_.visit([&](node_id id, progress& pr) {
    bool learner = pr.is_learner;
    pr = progress(log_.last_index() + 1, cfg_.inflight_messages_max, cfg_.inflight_bytes_max,
                  learner);
    if (id == cfg_.id) pr.match = log_.persisted();
  });
  pending_conf_index_ = log_index{0};
  uncommitted_bytes_ = 0;
  append_pending_ = false;
  reads_by_context_.clear();
  read_queue_.clear();
  reads_waiting_for_commit_.clear();
}

void core::reset_randomized_election_timeout() {
  randomized_election_timeout_ =
      cfg_.election_timeout_ticks + random_.below(cfg_.election_timeout_ticks);
}

void core::become_follower(term_t term, node_id lead) {
  reset(term);
  lead_ = lead;
  state_ = role::follower;
}

void core::become_pre_candidate() {
  CAIRN_ASSERT_MSG(state_ != role::leader, "leader cannot become pre-candidate");
  // A pre-candidate keeps its term and vote (thesis §9.6): it only asks.
  tracker_.reset_votes();
  lead_ = no_node;
  state_ = role::pre_candidate;
}

void core::become_candidate() {
  CAIRN_ASSERT_MSG(state_ != role::leader, "leader cannot become candidate");
  reset(term_ + 1);
  vote_ = cfg_.id;
  state_ = role::candidate;
}

void core::become_leader() {
  CAIRN_ASSERT_MSG(state_ != role::follower, "follower cannot become leader directly");
  reset(term_);
  lead_ = cfg_.id;
  state_ = role::leader;
  auto& self = tracker_.nodes.at(cfg_.id);
  self.become_replicate();
  self.match = log_.persisted();
  // Conservatively treat every uncommitted entry as a possible conf change.
  pending_conf_index_ = log_.last_index();
  // An empty entry of the new term lets the leader commit earlier entries
  // (§5.4.2); it does not count against the uncommitted budget.
  std::vector<entry> noop{entry{term_, log_.last_index() + 1, entry_type::normal, {}}};
  log_.append(std::move(noop));
}

bool core::promotable() const {
  auto it = tracker_.nodes.find(cfg_.id);
  return it != tracker_.nodes.end() && !it->second.is_learner && !snapshot_unpersisted_;
}

// ---------------------------------------------------------------------------
// Time

void core::tick() {
  if (state_ == role::leader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
  check_invariants();
}

bool core::past_election_timeout() const {
  return election_elapsed_ >= randomized_election_timeout_;
}

void core::tick_election() {
  ++election_elapsed_;
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    hup(cfg_.pre_vote ? campaign_kind::pre_election : campaign_kind::election);
  }
}

void core::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= cfg_.election_timeout_ticks) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum) {
      // Check-quorum (thesis §6.2): a leader that has not heard from a
      // quorum within an election timeout steps down, so that a partitioned
      // leader stops serving reads and accepting proposals.
      auto self = tracker_.nodes.find(cfg_.id);
      if (self != tracker_.nodes.end()) self->second.recent_active = true;
      bool active = tracker_.quorum_active();
      tracker_.visit([&](node_id id, progress& pr) {
        if (id != cfg_.id) pr.recent_active = false;
      });
      if (!active) {
        become_follower(term_, no_node);
        return;
      }
    }
    // A transfer that did not finish within an election timeout is over.
    if (!lead_transferee_.is_none()) abort_leader_transfer();
  }
  tracker_.visit([&](node_id, progress& pr) {
    if (pr.state != progress_state::snapshot) return;
    if (++pr.snapshot_elapsed_ticks >= cfg_.snapshot_timeout_ticks) pr.become_probe();
  });
  if (heartbeat_elapsed_ >= cfg_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ = 0;
    bcast_heartbeat({});
  }
}

// ---------------------------------------------------------------------------
// Elections

void core::campaign() {
  hup(campaign_kind::election);
  check_invariants();
}

void core::hup(campaign_kind kind) {
  if (state_ == role::leader) return;
  if (!promotable()) return;
  // Do not campaign with an unapplied conf change: we might not be a voter
  // of the configuration the group is moving to.
  if (log_.committed() > log_.applied()) {
    for (log_index i = log_.applied() + 1; i <= log_.committed(); ++i) {
      if (i <= log_.offset()) continue;
      if (log_.at(i).type == entry_type::conf_change) return;
    }
  }
  run_campaign(kind);
}

void core::run_campaign(campaign_kind kind) {
  message_type vote_type;
  term_t vote_term;
  if (kind == campaign_kind::pre_election) {
    become_pre_candidate();
    vote_type = message_type::pre_vote;
    vote_term = term_ + 1;  // the term we would campaign in, not adopted yet
  } else {
    become_candidate();
    vote_type = message_type::vote;
    vote_term = term_;
  }
  const message_type response_type = vote_type == message_type::pre_vote
                                         ? message_type::pre_vote_response
                                         : message_type::vote_response;
  if (poll(cfg_.id, response_type, true) == vote_result::won) {
    // A group of one wins at once.
    if (kind == campaign_kind::pre_election) {
      run_campaign(campaign_kind::election);
    } else {
      become_leader();
    }
    return;
  }
  for (auto id : tracker_.voters.ids()) {
    if (id == cfg_.id) continue;
    message m;
    m.type = vote_type;
    m.to = id;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    if (kind == campaign_kind::transfer) m.context = transfer_context;
    send(std::move(m));
  }
}

vote_result core::poll(node_id id, message_type, bool granted) {
  tracker_.record_vote(id, granted);
  return tracker_.tally(nullptr, nullptr);
}

void core::handle_vote_request(const message& m) {
  // Grant if we have not voted for someone else in this term (§5.2), or it
  // is a pre-vote for a future term; and the candidate's log is at least as
  // up to date as ours (§5.4.1).
  const bool can_vote = vote_ == m.from || (vote_.is_none() && lead_.is_none()) ||
                        (m.type == message_type::pre_vote && m.term > term_);
  const message_type resp_type = m.type == message_type::pre_vote ? message_type::pre_vote_response
                                                                  : message_type::vote_response;
  message r;
  r.type = resp_type;
  r.to = m.from;
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    // The response carries the candidate's term: for a pre-vote it is the
    // future term, which the receiving pre-candidate recognises.
    r.term = m.term;
    r.reject = false;
    send(std::move(r));
    if (m.type == message_type::vote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    r.term = term_;
    r.reject = true;
    send(std::move(r));
  }
}

// ---------------------------------------------------------------------------
// Input validation

namespace {

/// A membership from the wire must be one the changer could have produced
/// (P4 and conf_change.h C1-C5); anything else is rejected.
const char* invalid_conf_state(const conf_state& cs) {
  auto sorted_unique = [](std::vector<node_id> v, bool& ok) {
    std::sort(v.begin(), v.end());
    ok = std::adjacent_find(v.begin(), v.end()) == v.end() &&
         std::find(v.begin(), v.end(), no_node) == v.end();
    return v;
  };
  bool ok = true;
  const auto in = sorted_unique(cs.voters, ok);
  if (!ok) return "snapshot voters repeat an id or name node 0";
  const auto out = sorted_unique(cs.voters_outgoing, ok);
  if (!ok) return "snapshot outgoing voters repeat an id or name node 0";
  const auto learners = sorted_unique(cs.learners, ok);
  if (!ok) return "snapshot learners repeat an id or name node 0";
  const auto next = sorted_unique(cs.learners_next, ok);
  if (!ok) return "snapshot learners_next repeat an id or name node 0";
  if (in.empty()) return "snapshot without voters";
  auto contains = [](const std::vector<node_id>& v, node_id id) {
    return std::binary_search(v.begin(), v.end(), id);
  };
  for (auto id : learners) {
    if (contains(in, id) || contains(out, id)) return "snapshot names a node as voter and learner";
  }
  for (auto id : next) {
    if (!contains(out, id) || contains(in, id) || contains(learners, id))
      return "snapshot learners_next is not a set of outgoing-only voters";
  }
  if (out.empty() && (cs.auto_leave || !next.empty()))
    return "snapshot joint fields outside a joint config";
  return nullptr;
}

}  // namespace

step_result core::validate(const message& m) const {
  if (static_cast<std::uint8_t>(m.type) > message_type_max)
    return fail(step_error::invalid_message, "unknown message type");
  // Indexes and terms far beyond any real log would overflow `index + 1`
  // arithmetic; no honest peer sends them.
  const std::uint64_t last_sent = m.index.value + m.entries.size();
  if (m.index > index_max || m.commit > index_max || m.reject_hint > index_max ||
      last_sent > index_max.value || m.term > term_max || m.log_term > term_max ||
      m.hint_term > term_max ||
      (m.snap && (m.snap->metadata.index > index_max || m.snap->metadata.term > term_max)))
    return fail(step_error::invalid_message, "index or term out of range");
  if (m.from.is_none()) return fail(step_error::invalid_message, "sender is node 0");
  if (m.to != cfg_.id)
    return fail(step_error::invalid_message, "message addressed to another node");
  if (m.from == cfg_.id) return fail(step_error::invalid_message, "message from self");
  if (m.context.size() > cfg_.read_context_bytes_max)
    return fail(step_error::invalid_message, "context too large");
  if (m.snap.has_value() != (m.type == message_type::install_snapshot))
    return fail(step_error::invalid_message, "snapshot present on the wrong message type");
  if (m.type == message_type::install_snapshot) {
    const auto& meta = m.snap->metadata;
    if (meta.index == log_index{0} || meta.term == term_t{0})
      return fail(step_error::invalid_message, "empty snapshot");
    if (const char* why = invalid_conf_state(meta.conf))
      return fail(step_error::invalid_message, why);
    if (meta.term > m.term) return fail(step_error::invalid_message, "snapshot from a future term");
  }
  if (!is_forwarded(m.type) && m.term == term_t{0})
    return fail(step_error::invalid_message, "message without a term");
  if (m.type != message_type::append && m.type != message_type::propose && !m.entries.empty())
    return fail(step_error::invalid_message, "entries on a message type that carries none");
  if (m.type == message_type::append) {
    term_t prev = m.log_term;
    for (std::size_t i = 0; i < m.entries.size(); ++i) {
      const entry& e = m.entries[i];
      if (e.index != m.index + 1 + i)
        return fail(step_error::invalid_message, "entries not contiguous");
      if (e.term < prev) return fail(step_error::invalid_message, "entry terms decrease");
      if (e.term > m.term) return fail(step_error::invalid_message, "entry from a future term");
      if (static_cast<std::uint8_t>(e.type) > 1)
        return fail(step_error::invalid_message, "unknown entry type");
      prev = e.term;
    }
  }
  if (m.type == message_type::propose) {
    if (m.entries.empty()) return fail(step_error::invalid_message, "empty proposal");
    for (const auto& e : m.entries) {
      if (static_cast<std::uint8_t>(e.type) > 1)
        return fail(step_error::invalid_message, "unknown entry type");
    }
  }
  return step_result::success();
}

// ---------------------------------------------------------------------------
// Step

step_result core::step(const message& m) {
  if (auto v = validate(m); !v.ok()) return v;
  auto r = step_checked(m);
  check_invariants();
  return r;
}

step_result core::step_checked(const message& m) {
  if (is_forwarded(m.type)) {
    // Treated as local input of the receiver, whatever its term.
  } else if (m.term > term_) {
    if (m.type == message_type::vote || m.type == message_type::pre_vote) {
      const bool force = m.context == transfer_context;
      const bool in_lease =
          cfg_.check_quorum && !lead_.is_none() && election_elapsed_ < cfg_.election_timeout_ticks;
      // Leader stickiness (thesis §4.2.3): while we hear from a leader,
      // ignore candidates that could only disrupt it.
      if (!force && in_lease) return step_result::success();
    }
    if (m.type == message_type::pre_vote) {
      // Never change term for a pre-vote.
    } else if (m.type == message_type::pre_vote_response && !m.reject) {
      // The future term of our pre-vote; adopted when we campaign.
    } else if (m.type == message_type::append || m.type == message_type::heartbeat ||
               m.type == message_type::install_snapshot) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, no_node);
    }
  } else if (m.term < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (m.type == message_type::heartbeat || m.type == message_type::append)) {
      // A stale leader (or a node whose term we pushed up while it was
      // partitioned) learns our term from this and steps down.
      message r;
      r.type = message_type::append_response;
      r.to = m.from;
      r.term = term_;
      send(std::move(r));
    } else if (m.type == message_type::pre_vote) {
      message r;
      r.type = message_type::pre_vote_response;
      r.to = m.from;
      r.term = term_;
      r.reject = true;
      send(std::move(r));
    }
    return step_result::success();  // stale: ignored
  }

  if (m.type == message_type::vote || m.type == message_type::pre_vote) {
    handle_vote_request(m);
    return step_result::success();
  }
  switch (state_) {
    case role::leader:
      return step_leader(m);
    case role::candidate:
    case role::pre_candidate:
      return step_candidate(m);
    case role::follower:
      return step_follower(m);
  }
  return step_result::success();
}

step_result core::step_leader(const message& m) {
  switch (m.type) {
    case message_type::propose:
      return leader_propose(m);
    case message_type::read_index:
      return leader_read_index(m);
    case message_type::transfer_leader:
      if (!tracker_.is_member(m.from))
        return fail(step_error::not_member, "transfer from non-member");
      leader_transfer(m.from);
      return step_result::success();
    default:
      break;
  }
  auto it = tracker_.nodes.find(m.from);
  if (it == tracker_.nodes.end()) return step_result::success();  // not a member (any more)
  switch (m.type) {
    case message_type::append_response:
      if (m.index > log_.last_index() && !m.reject)
        return fail(step_error::invalid_message, "append_response beyond the leader's log");
      leader_append_response(m);
      break;
    case message_type::heartbeat_response:
      leader_heartbeat_response(m);
      break;
    default:
      break;  // responses to old elections etc.
  }
  return step_result::success();
}

step_result core::step_candidate(const message& m) {
  const message_type my_response =
      state_ == role::pre_candidate ? message_type::pre_vote_response : message_type::vote_response;
  switch (m.type) {
    case message_type::propose:
      return fail(step_error::proposal_dropped, "no leader (election in progress)");
    case message_type::read_index:
      return fail(step_error::read_dropped, "no leader (election in progress)");
    case message_type::append:
      become_follower(m.term, m.from);  // §5.2: a leader of our term exists
      handle_append(m);
      break;
    case message_type::heartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      break;
    case message_type::install_snapshot:
      become_follower(m.term, m.from);
      handle_snapshot(m);
      break;
    default:
      if (m.type == my_response) {
        switch (poll(m.from, m.type, !m.reject)) {
          case vote_result::won:
            if (state_ == role::pre_candidate) {
              run_campaign(campaign_kind::election);
            } else {
              become_leader();
              bcast_append();
            }
            break;
          case vote_result::lost:
            // A rejection carries the rejecter's term (possibly higher);
            // for pre-votes we keep our term.
            become_follower(term_, no_node);
            break;
          case vote_result::pending:
            break;
        }
      }
      break;
  }
  return step_result::success();
}

step_result core::step_follower(const message& m) {
  switch (m.type) {
    case message_type::propose: {
      if (lead_.is_none()) return fail(step_error::proposal_dropped, "no leader");
      if (!cfg_.forward_proposals) return fail(step_error::proposal_dropped, "forwarding disabled");
      message f = m;
      f.to = lead_;
      f.term = term_t{0};
      send(std::move(f));
      return step_result::success();
    }
    case message_type::append:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_append(m);
      break;
    case message_type::heartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_heartbeat(m);
      break;
    case message_type::install_snapshot:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_snapshot(m);
      break;
    case message_type::transfer_leader: {
      if (lead_.is_none()) return fail(step_error::proposal_dropped, "no leader to transfer from");
      message f = m;
      f.to = lead_;
      f.term = term_t{0};
      send(std::move(f));
      break;
    }
    case message_type::timeout_now:
      // Leadership transfer (thesis §3.10): campaign at once, skipping the
      // pre-vote, and tell voters to ignore their leader lease.
      hup(campaign_kind::transfer);
      break;
    case message_type::read_index: {
      if (lead_.is_none()) return fail(step_error::read_dropped, "no leader");
      message f = m;
      f.to = lead_;
      f.term = term_t{0};
      send(std::move(f));
      break;
    }
    case message_type::read_index_response:
      if (m.from != lead_) break;
      read_states_.push_back(read_state{m.index, m.context});
      break;
    default:
      break;
  }
  return step_result::success();
}

void core::handle_append(const message& m) {
  message r;
  r.type = message_type::append_response;
  r.to = m.from;
  r.term = term_;
  if (m.index < log_.committed()) {
    // Everything up to our commit index matches the leader's log.
    r.index = log_.committed();
    send(std::move(r));
    return;
  }
  std::vector<entry> ents = m.entries;
  if (auto last_new = log_.maybe_append(m.index, m.log_term, m.commit, std::move(ents))) {
    r.index = *last_new;
    send(std::move(r));
    return;
  }
  // Reject with a hint (etcd's fast log back-tracking): the largest index
  // <= m.index whose term is <= m.log_term.
  log_index hint = std::min(m.index, log_.last_index());
  auto [hint_index, hint_term] = log_.find_conflict_by_term(hint, m.log_term);
  r.index = m.index;
  r.reject = true;
  r.reject_hint = hint_index;
  r.hint_term = hint_term;
  send(std::move(r));
}

void core::handle_heartbeat(const message& m) {
  // The leader sends min(match, commit), so this never exceeds our log.
  log_.commit_to(std::min(m.commit, log_.last_index()));
  message r;
  r.type = message_type::heartbeat_response;
  r.to = m.from;
  r.term = term_;
  r.context = m.context;
  send(std::move(r));
}

void core::handle_snapshot(const message& m) {
  message r;
  r.type = message_type::append_response;
  r.to = m.from;
  r.term = term_;
  if (restore(*m.snap)) {
    r.index = log_.last_index();
  } else {
    r.index = log_.committed();
  }
  send(std::move(r));
}

bool core::restore(const snapshot& s) {
  const auto& meta = s.metadata;
  if (meta.index <= log_.committed()) return false;
  if (state_ != role::follower) {
    // Only a follower installs snapshots; this cannot happen after the
    // term checks above, so treat it as a bug.
    CAIRN_ASSERT_MSG(false, "non-follower restoring a snapshot");
  }
  // The snapshot's configuration may not contain us: a node removed and
  // added again after the snapshot was taken. Install it anyway: we are
  // not promotable until the entries that re-add us are applied, and
  // refusing would leave the leader sending the same snapshot forever.
  if (log_.match_term(meta.index, meta.term)) {
    // We already have the entries; just fast-forward the commit index.
    log_.commit_to(meta.index);
    return false;
  }
  log_.restore(meta);
  snapshot_ = s;
  snapshot_unpersisted_ = true;
  pending_compaction_.reset();
  tracker_ = conf_changer::restore(meta.conf, log_.last_index(), cfg_.inflight_messages_max,
                                   cfg_.inflight_bytes_max);
  auto self = tracker_.nodes.find(cfg_.id);
  is_learner_ = self != tracker_.nodes.end() && self->second.is_learner;
  return true;
}

// ---------------------------------------------------------------------------
// Leader

bool core::append_entries(std::vector<entry>& ents) {
  std::uint64_t bytes = 0;
  for (const auto& e : ents) bytes += payload_size(e);
  if (cfg_.uncommitted_bytes_max != 0 && uncommitted_bytes_ > 0 &&
      uncommitted_bytes_ + bytes > cfg_.uncommitted_bytes_max) {
    return false;  // R5
  }
  uncommitted_bytes_ += bytes;
  log_index li = log_.last_index();
  for (auto& e : ents) {
    e.term = term_;
    e.index = ++li;
  }
  log_.append(std::move(ents));
  // The leader's own progress advances when the entries are persisted
  // (advance()), so a leader never counts itself for undurable entries.
  return true;
}

step_result core::leader_propose(const message& m) {
  if (!tracker_.is_member(cfg_.id))
    return fail(step_error::proposal_dropped, "leader was removed from the configuration");
  if (!lead_transferee_.is_none())
    return fail(step_error::proposal_dropped, "leadership transfer in progress");
  std::vector<entry> ents = m.entries;
  for (std::size_t i = 0; i < ents.size(); ++i) {
    if (ents[i].type != entry_type::conf_change) continue;
    auto cc = decode_conf_change(ents[i].data);
    const char* refused = nullptr;
    std::string plan_error;
    if (!cc) {
      refused = "undecodable conf change";
    } else if (pending_conf_index_ > log_.applied()) {
      refused = "a conf change is still pending";
    } else if (tracker_.voters.is_joint() && !cc->leaves_joint()) {
      refused = "must leave the joint configuration first";
    } else if (!tracker_.voters.is_joint() && cc->leaves_joint()) {
      refused = "not in a joint configuration";
    } else {
      progress_tracker next = tracker_;
      plan_error = plan_conf_change(*cc, next);
      if (!plan_error.empty()) refused = plan_error.c_str();
    }
    if (refused) {
      if (m.from == cfg_.id) return fail(step_error::conf_change_refused, refused);
      // A forwarded batch: keep the other proposals, blank this one.
      ents[i] = entry{term_t{0}, log_index{0}, entry_type::normal, {}};
    } else {
      pending_conf_index_ = log_.last_index() + 1 + i;
    }
  }
  if (!append_entries(ents))
    return fail(step_error::proposal_dropped, "uncommitted bytes limit reached");
  // Batching: the appends go out when the host asks for the next Ready,
  // so every proposal made until then travels in the same messages.
  append_pending_ = true;
  return step_result::success();
}

step_result core::leader_read_index(const message& m) {
  if (tracker_.is_singleton()) {
    answer_read(m, log_.committed());
    return step_result::success();
  }
  if (!committed_entry_in_current_term()) {
    // Thesis §6.4: the leader must know the commit index of its term first.
    if (reads_waiting_for_commit_.size() >= cfg_.pending_reads_max)
      return fail(step_error::read_dropped, "too many reads waiting for the first commit");
    reads_waiting_for_commit_.push_back(m);
    return step_result::success();
  }
  if (reads_by_context_.count(m.context)) return step_result::success();  // duplicate
  if (read_queue_.size() >= cfg_.pending_reads_max)
    return fail(step_error::read_dropped, "too many reads in flight");
  pending_read pr{m, log_.committed(), {cfg_.id}};
  reads_by_context_.emplace(m.context, std::move(pr));
  read_queue_.push_back(m.context);
  bcast_heartbeat(m.context);
  return step_result::success();
}

void core::answer_read(const message& req, log_index index) {
  if (req.from == cfg_.id || req.from.is_none()) {
    read_states_.push_back(read_state{index, req.context});
    return;
  }
  message r;
  r.type = message_type::read_index_response;
  r.to = req.from;
  r.term = term_;
  r.index = index;
  r.context = req.context;
  send(std::move(r));
}

void core::release_pending_reads() {
  if (reads_waiting_for_commit_.empty() || !committed_entry_in_current_term()) return;
  auto waiting = std::move(reads_waiting_for_commit_);
  reads_waiting_for_commit_.clear();
  for (auto& m : waiting) leader_read_index(m);
}

bool core::committed_entry_in_current_term() const {
  auto t = log_.term(log_.committed());
  return t && *t == term_;
}

void core::leader_append_response(const message& m) {
  progress& pr = tracker_.nodes.at(m.from);
  pr.recent_active = true;
  if (m.reject) {
    // Skip back over the follower's divergent entries in one step: the
    // largest index in our log whose term is <= the follower's hint term.
    log_index next_probe = m.reject_hint;
    if (m.hint_term > term_t{0}) {
      next_probe = log_.find_conflict_by_term(m.reject_hint, m.hint_term).first;
    }
    if (pr.maybe_decrease_to(m.index, next_probe)) {
      if (pr.state == progress_state::replicate) pr.become_probe();
      send_append(m.from);
    }
    return;
  }
  const bool was_paused = pr.is_paused();
  if (pr.maybe_update(m.index)) {
    switch (pr.state) {
      case progress_state::probe:
        pr.become_replicate();
        break;
      case progress_state::snapshot:
        if (pr.match + 1 >= log_.first_index()) {
          pr.become_probe();
          pr.become_replicate();
        }
        break;
      case progress_state::replicate:
        pr.inflight.free_le(m.index);
        break;
    }
    if (maybe_commit()) {
      bcast_append();
    } else if (was_paused) {
      send_append(m.from);
    }
    // Fill the pipeline while the window allows (batching + pipelining).
    while (maybe_send_append(m.from, false)) {
    }
    if (m.from == lead_transferee_ && pr.match == log_.last_index()) {
      send_timeout_now(m.from);
    }
  }
}

void core::leader_heartbeat_response(const message& m) {
  progress& pr = tracker_.nodes.at(m.from);
  pr.recent_active = true;
  if (pr.state == progress_state::replicate && pr.inflight.full()) {
    // Appends may have been lost: free one slot so that one more append
    // goes out; a gap makes the follower reject it and we fall back to
    // probing (etcd does the same).
    pr.inflight.free_first_one();
  }
  pr.msg_app_flow_paused = pr.state == progress_state::replicate ? pr.inflight.full() : false;
  if (pr.match < log_.last_index()) send_append(m.from);
  if (m.context.empty()) return;
  auto it = reads_by_context_.find(m.context);
  if (it == reads_by_context_.end()) return;
  auto& acks = it->second.acks;
  if (std::find(acks.begin(), acks.end(), m.from) == acks.end()) acks.push_back(m.from);
  auto result = tracker_.voters.vote([&](node_id id) -> std::optional<bool> {
    if (std::find(acks.begin(), acks.end(), id) != acks.end()) return true;
    return std::nullopt;
  });
  if (result != vote_result::won) return;
  // Every read queued before this one is confirmed by the same round.
  while (!read_queue_.empty()) {
    bytes ctx = read_queue_.front();
    read_queue_.pop_front();
    auto node = reads_by_context_.extract(ctx);
    answer_read(node.mapped().request, node.mapped().index);
    if (ctx == m.context) break;
  }
}

void core::leader_transfer(node_id transferee) {
  auto it = tracker_.nodes.find(transferee);
  if (it == tracker_.nodes.end() || it->second.is_learner) return;
  if (!lead_transferee_.is_none()) {
    if (lead_transferee_ == transferee) return;  // already in progress
    abort_leader_transfer();
  }
  if (transferee == cfg_.id) return;
  election_elapsed_ = 0;  // the transfer must finish within one timeout
  lead_transferee_ = transferee;
  if (it->second.match == log_.last_index()) {
    send_timeout_now(transferee);
  } else {
    send_append(transferee);
  }
}

bool core::maybe_commit() {
  const bool had_current = committed_entry_in_current_term();
  if (!log_.maybe_commit(tracker_.committed(), term_)) return false;
  if (!had_current) release_pending_reads();
  return true;
}

bool core::maybe_send_append(node_id to, bool send_if_empty) {
  auto it = tracker_.nodes.find(to);
  if (it == tracker_.nodes.end()) return false;
  progress& pr = it->second;
  if (pr.is_paused()) return false;
  const log_index prev_index = pr.next - 1;
  auto prev_term = log_.term(prev_index);
  const bool compacted = !prev_term || pr.next < log_.first_index();
  if (!compacted) {
    std::vector<entry> ents;
    if (pr.next <= log_.last_index()) {
      ents = log_.slice(pr.next, log_.last_index() + 1, cfg_.append_bytes_max);
    }
    if (ents.empty() && !send_if_empty) return false;
    std::uint64_t bytes = 0;
    for (const auto& e : ents) bytes += payload_size(e);
    message m;
    m.type = message_type::append;
    m.to = to;
    m.term = term_;
    m.index = prev_index;
    m.log_term = *prev_term;
    m.commit = log_.committed();
    const std::size_t n = ents.size();
    const log_index last = n ? ents.back().index : prev_index;
    m.entries = std::move(ents);
    send(std::move(m));
    pr.sent_entries(n, bytes, last);
    return true;
  }
  // The entries the follower needs are compacted: send the snapshot.
  if (!pr.recent_active) return false;
  CAIRN_ASSERT_MSG(!snapshot_.empty(), "log compacted without a snapshot");
  message m;
  m.type = message_type::install_snapshot;
  m.to = to;
  m.term = term_;
  m.snap = snapshot_;
  send(std::move(m));
  pr.become_snapshot(snapshot_.metadata.index);
  return true;
}

void core::bcast_append() {
  tracker_.visit([&](node_id id, progress&) {
    if (id != cfg_.id) send_append(id);
  });
}

void core::bcast_heartbeat(const bytes& context) {
  tracker_.visit([&](node_id id, progress&) {
    if (id != cfg_.id) send_heartbeat(id, context);
  });
}

void core::send_heartbeat(node_id to, const bytes& context) {
  const progress& pr = tracker_.nodes.at(to);
  message m;
  m.type = message_type::heartbeat;
  m.to = to;
  m.term = term_;
  // Never tell a follower to commit past what it is known to hold.
  m.commit = std::min(pr.match, log_.committed());
  m.context = context;
  send(std::move(m));
}

void core::send_timeout_now(node_id to) {
  message m;
  m.type = message_type::timeout_now;
  m.to = to;
  m.term = term_;
  send(std::move(m));
}

void core::send(message m) {
  m.from = cfg_.id;
  outbound_message out;
  const bool from_leader_role =
      state_ == role::leader &&
      (m.type == message_type::append || m.type == message_type::heartbeat ||
       m.type == message_type::install_snapshot || m.type == message_type::timeout_now ||
       m.type == message_type::read_index_response);
  if (!from_leader_role) {
    // Responses and votes reveal state (a vote, a new term, accepted
    // entries) that must survive a crash: send them only once the Ready's
    // hard state and entries are durable.
    out.wait_for_hard_state = true;
    out.wait_for_persisted_index = log_.last_index();
  }
  out.msg = std::move(m);
  msgs_.push_back(std::move(out));
}

// ---------------------------------------------------------------------------
// Local inputs

message core::local_proposal(entry_type type, shared_bytes data) const {
  message m;
  m.type = message_type::propose;
  m.from = cfg_.id;
  m.entries.push_back(entry{term_t{0}, log_index{0}, type, std::move(data)});
  return m;
}

step_result core::propose_local(const message& m) {
  step_result r;
  switch (state_) {
    case role::leader:
      r = leader_propose(m);
      break;
    case role::follower:
      r = step_follower(m);
      break;
    default:
      r = fail(step_error::proposal_dropped, "no leader (election in progress)");
  }
  check_invariants();
  return r;
}

step_result core::propose(bytes data) {
  return propose_local(local_proposal(entry_type::normal, std::move(data)));
}

step_result core::propose_conf_change(const conf_change& cc) {
  return propose_local(local_proposal(entry_type::conf_change, encode_conf_change(cc)));
}

step_result core::read_index(bytes context) {
  if (context.size() > cfg_.read_context_bytes_max)
    return fail(step_error::read_dropped, "context too large");
  message m;
  m.type = message_type::read_index;
  m.from = cfg_.id;
  m.context = std::move(context);
  step_result r;
  switch (state_) {
    case role::leader:
      r = leader_read_index(m);
      break;
    case role::follower:
      r = step_follower(m);
      break;
    default:
      r = fail(step_error::read_dropped, "no leader (election in progress)");
  }
  check_invariants();
  return r;
}

step_result core::transfer_leader(node_id to) {
  if (state_ == role::leader) {
    leader_transfer(to);
  } else {
    if (lead_.is_none()) return fail(step_error::proposal_dropped, "no leader");
    message m;
    m.type = message_type::transfer_leader;
    m.to = lead_;
    // A forwarded transfer names its target in `from` (etcd's convention):
    // the leader reads the transferee from the sender id.
    if (to != cfg_.id)
      return fail(step_error::proposal_dropped, "a follower can only ask for itself");
    send(std::move(m));
  }
  check_invariants();
  return step_result::success();
}

void core::report_unreachable(node_id id) {
  if (state_ != role::leader) return;
  auto it = tracker_.nodes.find(id);
  if (it == tracker_.nodes.end()) return;
  // Optimistic replication stalls against an unreachable peer: fall back
  // to probing so the window does not fill up with lost messages.
  if (it->second.state == progress_state::replicate) it->second.become_probe();
}

void core::report_snapshot(node_id id, snapshot_status st) {
  if (state_ != role::leader) return;
  auto it = tracker_.nodes.find(id);
  if (it == tracker_.nodes.end()) return;
  progress& pr = it->second;
  if (pr.state != progress_state::snapshot) return;
  if (st == snapshot_status::failed) pr.pending_snapshot = log_index{0};
  pr.become_probe();
  // Wait for the follower's append response before sending more.
  pr.msg_app_flow_paused = true;
}

std::string core::plan_conf_change(const conf_change& cc, progress_tracker& next) const {
  conf_changer changer(tracker_, log_.last_index());
  next = tracker_;
  if (cc.leaves_joint()) return changer.leave_joint(next);
  const bool joint = cc.transition != conf_change_transition::automatic || cc.changes.size() > 1;
  if (joint) {
    const bool auto_leave = cc.transition != conf_change_transition::joint_explicit;
    return changer.enter_joint(auto_leave, cc.changes, next);
  }
  return changer.simple(cc.changes, next);
}

conf_state core::apply_conf_change(const conf_change& cc) {
  progress_tracker next = tracker_;
  last_conf_change_error_ = plan_conf_change(cc, next);
  // The leader validates a change against the configuration it will apply
  // to (one pending change at a time), so an error here means a change was
  // proposed by an older leader under other rules. Every replica reaches
  // the same verdict from the same configuration, so skipping it keeps
  // them identical; crashing them all would not be better.
  if (last_conf_change_error_.empty()) switch_to_config(std::move(next));
  check_invariants();
  return tracker_.to_conf_state();
}

void core::switch_to_config(progress_tracker t) {
  // Keep replication state of nodes that stay; probe newcomers at once.
  std::vector<node_id> newcomers;
  for (auto& [id, pr] : t.nodes) {
    auto old = tracker_.nodes.find(id);
    if (old != tracker_.nodes.end()) {
      bool learner = pr.is_learner;
      pr = old->second;
      pr.is_learner = learner;
    } else {
      newcomers.push_back(id);
    }
  }
  tracker_ = std::move(t);
  auto self = tracker_.nodes.find(cfg_.id);
  is_learner_ = self != tracker_.nodes.end() && self->second.is_learner;
  if ((self == tracker_.nodes.end() || is_learner_) && state_ == role::leader) {
    if (cfg_.step_down_on_removal) become_follower(term_, no_node);
    return;
  }
  if (state_ != role::leader || tracker_.voters.incoming.empty()) return;
  // The quorum may have changed: maybe commit, and bring new nodes along.
  if (maybe_commit()) {
    bcast_append();
  } else {
    tracker_.visit([&](node_id id, progress&) {
      if (id != cfg_.id) maybe_send_append(id, false);
    });
  }
  for (auto id : newcomers) {
    if (id != cfg_.id) send_append(id);
  }
  if (!lead_transferee_.is_none() && !tracker_.voters.contains(lead_transferee_)) {
    abort_leader_transfer();
  }
}

step_result core::compact(bytes state_machine_data, std::uint64_t retain_entries) {
  const log_index at = log_.applied();
  if (at <= snapshot_.metadata.index)
    return fail(step_error::invalid_message, "nothing applied since the last snapshot");
  if (snapshot_unpersisted_)
    return fail(step_error::invalid_message, "a received snapshot is not yet persisted");
  snapshot s;
  s.metadata.index = at;
  s.metadata.term = *log_.term(at);
  s.metadata.conf = tracker_.to_conf_state();
  s.data = std::move(state_machine_data);
  snapshot_ = s;
  log_index compact_to = at.value > retain_entries ? at - retain_entries : log_index{0};
  compact_to = std::min(compact_to, log_.persisted());
  if (compact_to > log_.offset()) log_.compact(compact_to);
  pending_compaction_ = log_compaction{std::move(s), log_.offset(), log_.offset_term()};
  check_invariants();
  return step_result::success();
}

// ---------------------------------------------------------------------------
// Ready / advance

bool core::has_ready() const {
  if (append_pending_) return true;
  if (soft_state{lead_, state_} != prev_soft_) return true;
  if (hard_state{term_, vote_, log_.committed()} != prev_hard_) return true;
  if (snapshot_unpersisted_ || pending_compaction_) return true;
  if (log_.has_unstable()) return true;
  if (!msgs_.empty() || !read_states_.empty()) return true;
  if (!snapshot_unpersisted_ && log_.has_next_committed()) return true;
  return false;
}

ready core::get_ready() {
  if (append_pending_) {
    append_pending_ = false;
    if (state_ == role::leader) bcast_append();
  }
  ready rd;
  soft_state ss{lead_, state_};
  if (ss != prev_soft_) rd.soft = ss;
  hard_state hs{term_, vote_, log_.committed()};
  if (hs != prev_hard_) rd.hard = hs;
  if (snapshot_unpersisted_) rd.snap = snapshot_;
  rd.compaction = pending_compaction_;
  rd.entries = log_.unstable_entries();
  if (!snapshot_unpersisted_) rd.committed_entries = log_.next_committed(cfg_.apply_bytes_max);
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.must_sync = !rd.entries.empty() || rd.snap.has_value() || rd.compaction.has_value() ||
                 hs.term != prev_hard_.term || hs.vote != prev_hard_.vote;
  return rd;
}

void core::reduce_uncommitted(const std::vector<entry>& committed) {
  if (state_ != role::leader) return;
  std::uint64_t bytes = 0;
  for (const auto& e : committed) bytes += payload_size(e);
  uncommitted_bytes_ = bytes > uncommitted_bytes_ ? 0 : uncommitted_bytes_ - bytes;
}

void core::advance(const ready& rd) {
  if (rd.soft) prev_soft_ = *rd.soft;
  if (rd.hard) prev_hard_ = *rd.hard;
  if (rd.snap) {
    if (snapshot_unpersisted_ && rd.snap->metadata == snapshot_.metadata) {
      snapshot_unpersisted_ = false;
    }
  }
  if (rd.compaction) pending_compaction_.reset();
  if (!rd.entries.empty()) log_.stable_to(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) {
    log_.applied_to(rd.committed_entries.back().index);
    reduce_uncommitted(rd.committed_entries);
  }
  if (state_ == role::leader) {
    // The leader acknowledges its own durable entries (R4).
    progress& self = tracker_.nodes.at(cfg_.id);
    if (self.maybe_update(log_.persisted())) {
      if (maybe_commit()) bcast_append();
    }
    maybe_auto_leave();
  }
  check_invariants();
}

void core::maybe_auto_leave() {
  if (!tracker_.auto_leave || !tracker_.voters.is_joint()) return;
  if (pending_conf_index_ > log_.applied()) return;
  if (!lead_transferee_.is_none()) return;
  // The joint configuration is applied: propose to leave it.
  leader_propose(local_proposal(entry_type::conf_change, encode_conf_change(conf_change{})));
}

// ---------------------------------------------------------------------------
// Observation and invariants

status core::get_status() const {
  status s;
  s.id = cfg_.id;
  s.hard = hard_state{term_, vote_, log_.committed()};
  s.soft = soft_state{lead_, state_};
  s.applied = log_.applied();
  s.persisted = log_.persisted();
  s.last_index = log_.last_index();
  s.first_index = log_.first_index();
  s.lead_transferee = lead_transferee_;
  s.conf = tracker_.to_conf_state();
  s.uncommitted_bytes = uncommitted_bytes_;
  return s;
}

void core::check_invariants() const {
  log_.check_invariants();
  CAIRN_ASSERT_MSG(term_ >= checked_term_, "R1 term decreased");
  checked_term_ = term_;
  if (state_ == role::leader) {
    CAIRN_ASSERT_MSG(lead_ == cfg_.id, "leader does not name itself");
    CAIRN_ASSERT_MSG(
        log_.committed() <= log_.persisted() || log_.committed() <= snapshot_.metadata.index,
        "R3 leader committed beyond its durable log");
  }
  for (const auto& [id, pr] : tracker_.nodes) {
    CAIRN_ASSERT_MSG(pr.match < pr.next, "P1 match < next");
    if (pr.state == progress_state::snapshot) {
      CAIRN_ASSERT_MSG(pr.inflight.count() == 0, "P3 entries in flight during snapshot");
    }
    CAIRN_ASSERT_MSG(!(pr.is_learner && tracker_.voters.contains(id)), "P4 voter and learner");
  }
}

}  // namespace cairn::raft
