// sim/explorer.cpp — see explorer.h.
//
// Owner: tests. Breadth- or depth-first search over copies of a whole
// cluster ("world"); worlds share unchanged replicas and messages (copy on
// write). Every state waiting to be expanded is a real world reached by a
// recorded path, so a violation is always reported with the exact path that
// produced it.
#include "sim/explorer.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "actors/common/assert.h"
#include "actors/raft/core.h"
#include "sim/core_cluster.h"

namespace cairn::sim {

using namespace cairn::raft;

const char* to_string(explorer_mutation m) {
  switch (m) {
    case explorer_mutation::none:
      return "none";
    case explorer_mutation::forget_vote_on_restart:
      return "forget_vote_on_restart";
    case explorer_mutation::forge_append_ack:
      return "forge_append_ack";
  }
  return "?";
}

namespace {

// ---------------------------------------------------------------------------
// Core assertions become exceptions while exploring (I8), so that a broken
// core invariant is reported with its path instead of aborting the process.

struct core_assertion : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_core_assertion(const char* expr, const char* msg, const char* file,
                                       int line) {
  std::ostringstream os;
  os << expr << " (" << msg << ") at " << file << ":" << line;
  throw core_assertion(os.str());
}

class scoped_throwing_assertions {
 public:
  scoped_throwing_assertions() : previous_(set_assertion_handler(&throw_core_assertion)) {}
  ~scoped_throwing_assertions() { set_assertion_handler(previous_); }
  scoped_throwing_assertions(const scoped_throwing_assertions&) = delete;
  scoped_throwing_assertions& operator=(const scoped_throwing_assertions&) = delete;

 private:
  assertion_handler previous_;
};

// ---------------------------------------------------------------------------
// Canonical serialisation and hashing.

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Writes canonical bytes (the in-flight multiset's sort key).
class serializer {
 public:
  void u64(std::uint64_t v) {
    char b[8];
    std::memcpy(b, &v, sizeof b);
    out_.append(b, sizeof b);
  }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void blob(const bytes& b) {
    u64(b.size());
    out_.append(b);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

/// Hashes the same stream of fields to 64 bits without building it: each
/// field is folded in through the splitmix64 finaliser, so the result
/// depends on order and on every bit. Lengths precede variable fields, so
/// the stream is unambiguous.
class hasher {
 public:
  void u64(std::uint64_t v) { h_ = mix64(h_ ^ v) + 0x9e3779b97f4a7c15ULL; }
  void u8(std::uint8_t v) { u64(v); }
  void blob(const bytes& b) {
    u64(b.size());
    std::size_t i = 0;
    for (; i + 8 <= b.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, b.data() + i, 8);
      u64(w);
    }
    if (i < b.size()) {
      std::uint64_t w = 0;
      std::memcpy(&w, b.data() + i, b.size() - i);
      u64(w);
    }
  }
  std::uint64_t digest() const { return mix64(h_); }

 private:
  std::uint64_t h_ = 0x243f6a8885a308d3ULL;
};

template <class Sink>
void write_entry(Sink& s, const entry& e) {
  s.u64(e.index.value);
  s.u64(e.term.value);
  s.u8(static_cast<std::uint8_t>(e.type));
  s.blob(e.data);
}

/// Renamings of node ids under which the model is symmetric: every
/// permutation of the replicas (symmetry reduction), or the identity only.
/// Renaming 0 is always the identity.
class symmetry {
 public:
  symmetry(std::uint64_t replicas, bool reduce) {
    std::vector<std::size_t> p(replicas);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = i;
    do {
      std::vector<std::size_t> inverse(p.size());
      for (std::size_t i = 0; i < p.size(); ++i) inverse[p[i]] = i;
      forward_.push_back(p);
      inverse_.push_back(std::move(inverse));
    } while (reduce && std::next_permutation(p.begin(), p.end()));
  }
  std::size_t size() const { return forward_.size(); }
  /// The name of `id` under renaming r (0, "none", stays 0).
  node_id rename(std::size_t r, node_id id) const {
    if (id.is_none() || id.value > forward_[r].size()) return id;
    return node_id{forward_[r][id.value - 1] + 1};
  }
  /// The slot whose replica lands in slot j under renaming r.
  std::size_t source_slot(std::size_t r, std::size_t j) const { return inverse_[r][j]; }

 private:
  std::vector<std::vector<std::size_t>> forward_;
  std::vector<std::vector<std::size_t>> inverse_;
};

/// Canonical fields of a message with its node ids renamed by r.
template <class Sink>
void write_message(Sink& s, const message& m, const symmetry& sym, std::size_t r) {
  s.u8(static_cast<std::uint8_t>(m.type));
  s.u64(sym.rename(r, m.from).value);
  s.u64(sym.rename(r, m.to).value);
  s.u64(m.term.value);
  s.u64(m.log_term.value);
  s.u64(m.index.value);
  s.u64(m.commit.value);
  s.u8(m.reject ? 1 : 0);
  s.u64(m.reject_hint.value);
  s.u64(m.hint_term.value);
  s.blob(m.context);
  s.u64(m.entries.size());
  for (const auto& e : m.entries) write_entry(s, e);
  s.u8(m.snap ? 1 : 0);
  if (m.snap) {
    s.u64(m.snap->metadata.index.value);
    s.u64(m.snap->metadata.term.value);
    s.blob(m.snap->data);
  }
}

// ---------------------------------------------------------------------------
// The world: a cluster plus the network and the checkers' history.

struct replica {
  config cfg;
  memory_storage storage;
  std::optional<core> node;  // core has no default constructor
  /// Entries handed out as committed_entries, in order (noops included).
  std::vector<entry> applied;
  /// Leader: ticks since it became leader, modulo election_timeout_ticks
  /// (the core's hidden check-quorum counter).
  std::uint64_t leader_ticks = 0;
  /// Follower: its election timer has passed election_timeout_ticks, so
  /// leader stickiness no longer makes it ignore candidates.
  bool lease_expired = false;
  /// Hash of this replica's part of the canonical state under each
  /// renaming of the symmetry (see seal()).
  std::vector<std::uint64_t> digests;
};

struct in_flight_message {
  /// Canonical bytes (the multiset's sort key).
  std::string key;
  /// Hash of the canonical bytes under each renaming of the symmetry.
  std::vector<std::uint64_t> digests;
  message msg;
};

struct committed_record {
  entry value;
  /// Smallest term of a node that was seen holding the entry committed.
  term_t observed_in_term;
};

/// Worlds share unchanged replicas and messages (copy on write): a
/// transition changes one replica, so copying a world copies pointers.
using replica_ptr = std::shared_ptr<replica>;
using message_ptr = std::shared_ptr<const in_flight_message>;

struct world {
  std::vector<replica_ptr> replicas;
  /// Sorted by key: a multiset with a canonical order.
  std::vector<message_ptr> in_flight;
  /// I1 history: the leader of each term ever seen.
  std::map<term_t, node_id> leaders;
  /// I3/I4 history: every entry ever seen committed, by index.
  std::map<log_index, committed_record> committed;
  std::uint64_t proposals = 0;
  std::uint64_t restarts = 0;
  std::uint64_t forgeries = 0;

  const core& node(std::size_t i) const { return *replicas[i]->node; }
};

/// The replica in slot i, made private to `w` first.
replica& touch(world& w, std::size_t i) {
  if (w.replicas[i].use_count() > 1) w.replicas[i] = std::make_shared<replica>(*w.replicas[i]);
  return *w.replicas[i];
}

void add_in_flight(world& w, message m, const symmetry& sym) {
  serializer key;
  write_message(key, m, sym, 0);
  std::vector<std::uint64_t> digests(sym.size());
  for (std::size_t r = 0; r < sym.size(); ++r) {
    hasher h;
    write_message(h, m, sym, r);
    digests[r] = h.digest();
  }
  auto f = std::make_shared<const in_flight_message>(
      in_flight_message{std::move(key.out()), std::move(digests), std::move(m)});
  auto pos =
      std::upper_bound(w.in_flight.begin(), w.in_flight.end(), f->key,
                       [](const std::string& k, const message_ptr& x) { return k < x->key; });
  w.in_flight.insert(pos, std::move(f));
}

void carry_out_ready(world& w, replica& r, const symmetry& sym) {
  while (r.node->has_ready()) {
    ready rd = r.node->get_ready();
    r.storage.persist(rd);
    for (auto& om : rd.messages) add_in_flight(w, std::move(om.msg), sym);
    if (rd.snap) r.applied.clear();  // not reachable: the model never compacts
    for (const auto& e : rd.committed_entries) r.applied.push_back(e);
    r.node->advance(rd);
  }
}

/// Recomputes the replica's digests after a change.
void seal(replica& r, const symmetry& sym) {
  const core& c = *r.node;
  const status st = c.get_status();
  r.digests.resize(sym.size());
  for (std::size_t n = 0; n < sym.size(); ++n) {
    hasher s;
    s.u64(st.hard.term.value);
    s.u64(sym.rename(n, st.hard.vote).value);
    s.u64(st.hard.commit.value);
    s.u8(static_cast<std::uint8_t>(c.state()));
    s.u64(sym.rename(n, c.leader()).value);
    s.u64(st.applied.value);
    s.u64(r.applied.size());
    s.u64(r.leader_ticks);
    s.u8(r.lease_expired ? 1 : 0);
    const raft_log& log = c.log();
    s.u64(log.last_index().value);
    for (log_index i = log.first_index(); i <= log.last_index(); ++i) write_entry(s, log.at(i));
    if (c.state() == role::leader) {
      // Per-peer progress in the order of the renamed ids.
      std::vector<std::pair<node_id, const progress*>> peers;
      for (const auto& [id, pr] : c.tracker().nodes) peers.emplace_back(sym.rename(n, id), &pr);
      std::sort(peers.begin(), peers.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [id, pr] : peers) {
        s.u64(id.value);
        s.u64(pr->match.value);
        s.u64(pr->next.value);
        s.u8(static_cast<std::uint8_t>(pr->state));
        s.u8(pr->msg_app_flow_paused ? 1 : 0);
        s.u64(pr->inflight.count());
        s.u8(pr->recent_active ? 1 : 0);
      }
    } else if (c.state() == role::candidate || c.state() == role::pre_candidate) {
      std::size_t granted = 0, rejected = 0;
      c.tracker().tally(&granted, &rejected);
      s.u64(granted);
      s.u64(rejected);
    }
    r.digests[n] = s.digest();
  }
}

/// The smallest hash of the world over the renamings: symmetric worlds
/// (the same up to node names) get the same hash.
std::uint64_t state_hash(const world& w, const symmetry& sym) {
  std::uint64_t best = ~std::uint64_t{0};
  std::vector<std::uint64_t> messages(w.in_flight.size());
  for (std::size_t n = 0; n < sym.size(); ++n) {
    hasher s;
    for (std::size_t j = 0; j < w.replicas.size(); ++j) {
      s.u64(w.replicas[sym.source_slot(n, j)]->digests[n]);
    }
    for (std::size_t k = 0; k < w.in_flight.size(); ++k) messages[k] = w.in_flight[k]->digests[n];
    std::sort(messages.begin(), messages.end());
    s.u64(messages.size());
    for (auto d : messages) s.u64(d);
    s.u64(w.leaders.size());
    for (const auto& [t, id] : w.leaders) {
      s.u64(t.value);
      s.u64(sym.rename(n, id).value);
    }
    s.u64(w.committed.size());
    for (const auto& [i, rec] : w.committed) {
      write_entry(s, rec.value);
      s.u64(rec.observed_in_term.value);
    }
    s.u64(w.proposals);
    s.u64(w.restarts);
    s.u64(w.forgeries);
    best = std::min(best, s.digest());
  }
  return best;
}

// ---------------------------------------------------------------------------
// Describing states and actions (only when a violation is reported).

std::string describe_entry(const entry& e) {
  std::ostringstream os;
  os << "(" << e.index.value << "," << e.term.value;
  if (!e.data.empty()) os << ",\"" << e.data << "\"";
  os << ")";
  return os.str();
}

std::string describe(const message& m) {
  std::ostringstream os;
  os << to_string(m.type) << " " << m.from.value << "->" << m.to.value << " term=" << m.term.value;
  switch (m.type) {
    case message_type::append:
      os << " prev=(" << m.index.value << "," << m.log_term.value << ") commit=" << m.commit.value
         << " entries=[";
      for (std::size_t i = 0; i < m.entries.size(); ++i) {
        os << (i ? " " : "") << describe_entry(m.entries[i]);
      }
      os << "]";
      break;
    case message_type::append_response:
      os << " index=" << m.index.value;
      if (m.reject)
        os << " reject hint=(" << m.reject_hint.value << "," << m.hint_term.value << ")";
      break;
    case message_type::vote:
    case message_type::pre_vote:
      os << " last=(" << m.index.value << "," << m.log_term.value << ")";
      break;
    case message_type::vote_response:
    case message_type::pre_vote_response:
      os << (m.reject ? " reject" : " grant");
      break;
    case message_type::heartbeat:
      os << " commit=" << m.commit.value;
      break;
    default:
      break;
  }
  return os.str();
}

std::string describe_world(const world& w) {
  std::ostringstream os;
  for (const auto& r : w.replicas) {
    const core& c = *r->node;
    const status st = c.get_status();
    os << "  node " << c.id().value << ": " << to_string(c.state())
       << " term=" << st.hard.term.value << " vote=" << st.hard.vote.value
       << " leader=" << c.leader().value << " commit=" << st.hard.commit.value
       << " applied=" << st.applied.value << " log=[";
    for (log_index i = c.log().first_index(); i <= c.log().last_index(); ++i) {
      os << (i == c.log().first_index() ? "" : " ") << describe_entry(c.log().at(i));
    }
    os << "]\n";
  }
  os << "  in flight (" << w.in_flight.size() << "):\n";
  for (const auto& f : w.in_flight) os << "    " << describe(f->msg) << "\n";
  return os.str();
}

// ---------------------------------------------------------------------------
// Actions.

enum class action_kind : std::uint8_t {
  deliver,
  drop,
  timeout,
  expire_lease,
  heartbeat,
  propose,
  restart,
  forge_ack,
};

struct action {
  action_kind kind = action_kind::deliver;
  /// Replica slot (node id - 1) the action happens at.
  std::size_t node = 0;
  /// forge_ack: slot of the follower whose acknowledgement is forged.
  std::size_t peer = 0;
  /// deliver/drop: position of the message in the parent's in_flight.
  std::size_t message = 0;
};

/// `m`: for deliver/drop, the message delivered or dropped.
std::string describe(const action& a, const message* m) {
  std::ostringstream os;
  const std::uint64_t id = a.node + 1;
  switch (a.kind) {
    case action_kind::deliver:
      os << "deliver " << describe(*m);
      break;
    case action_kind::drop:
      os << "drop " << describe(*m);
      break;
    case action_kind::timeout:
      os << "timeout (election timer fires) on " << id;
      break;
    case action_kind::expire_lease:
      os << "lease expires (no campaign) on " << id;
      break;
    case action_kind::heartbeat:
      os << "leader tick on " << id;
      break;
    case action_kind::propose:
      os << "client proposal at leader " << id;
      break;
    case action_kind::restart:
      os << "crash and restart " << id;
      break;
    case action_kind::forge_ack:
      os << "MUTATION: forged append_response " << a.peer + 1 << "->" << id
         << " acknowledging the leader's whole log";
      break;
  }
  return os.str();
}

std::vector<action> enabled_actions(const world& w, const explorer_options& opt) {
  std::vector<action> out;
  for (std::size_t k = 0; k < w.in_flight.size(); ++k) {
    if (k > 0 && w.in_flight[k]->key == w.in_flight[k - 1]->key) continue;  // another copy
    out.push_back(action{action_kind::deliver, 0, 0, k});
    out.push_back(action{action_kind::drop, 0, 0, k});
  }
  for (std::size_t i = 0; i < w.replicas.size(); ++i) {
    const replica& r = *w.replicas[i];
    const core& c = *r.node;
    if (c.state() == role::leader) {
      out.push_back(action{action_kind::heartbeat, i});
      if (w.proposals < opt.client_entries_max) out.push_back(action{action_kind::propose, i});
      if (opt.mutation == explorer_mutation::forge_append_ack && w.forgeries == 0 &&
          c.log().committed() < c.log().last_index()) {
        for (std::size_t j = 0; j < w.replicas.size(); ++j) {
          if (j != i) out.push_back(action{action_kind::forge_ack, i, j});
        }
      }
    } else {
      out.push_back(action{action_kind::timeout, i});
      if (opt.model_lease_expiry && c.state() == role::follower && !c.leader().is_none() &&
          !r.lease_expired) {
        out.push_back(action{action_kind::expire_lease, i});
      }
    }
    if (w.restarts < opt.restarts_max) out.push_back(action{action_kind::restart, i});
  }
  return out;
}

enum class outcome : std::uint8_t { applied, not_applicable };

/// The set of visited state hashes: open addressing with linear probing,
/// 8 bytes a slot, at most half full. Only looked up, never iterated, so
/// its layout cannot influence what the explorer reports.
class fingerprint_set {
 public:
  fingerprint_set() : slots_(1u << 16, 0) {}

  /// Inserts `h`; returns false if it was already present.
  bool insert(std::uint64_t h) {
    if (h == 0) h = 1;  // 0 marks an empty slot
    if (2 * (size_ + 1) > slots_.size()) grow();
    if (!place(slots_, h)) return false;
    ++size_;
    return true;
  }

 private:
  static bool place(std::vector<std::uint64_t>& table, std::uint64_t h) {
    const std::size_t mask = table.size() - 1;
    for (std::size_t i = mix64(h) & mask;; i = (i + 1) & mask) {
      if (table[i] == h) return false;
      if (table[i] == 0) {
        table[i] = h;
        return true;
      }
    }
  }
  void grow() {
    std::vector<std::uint64_t> bigger(slots_.size() * 2, 0);
    for (auto h : slots_) {
      if (h != 0) place(bigger, h);
    }
    slots_ = std::move(bigger);
  }

  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;
};

/// A message whose delivery can never change anything: core::step_checked
/// ignores these types without answering once their term is below the
/// receiver's, and terms never decrease (a restart keeps the term).
/// Append, heartbeat and pre-vote are answered even when stale, so they
/// are never dead.
bool is_dead(const message& m, term_t receiver_term) {
  if (m.term >= receiver_term) return false;
  switch (m.type) {
    case message_type::append_response:
    case message_type::heartbeat_response:
    case message_type::vote:
    case message_type::vote_response:
    case message_type::pre_vote_response:
    case message_type::timeout_now:
      return true;
    default:
      return false;
  }
}

/// Applies `a` to `w` (a copy of the parent) and carries out every Ready.
/// Throws core_assertion if a core assertion fails.
outcome apply(world& w, const action& a, const explorer_options& opt, const symmetry& sym) {
  const std::uint64_t et = opt.election_timeout_ticks;
  // Every action changes exactly one replica (the one stepped, ticked,
  // proposed to or restarted); the others stay shared with the parent.
  std::size_t slot = a.node;
  if (a.kind == action_kind::deliver || a.kind == action_kind::drop) {
    slot = w.in_flight[a.message]->msg.to.value - 1;
  }
  const role role_before = w.node(slot).state();
  const term_t term_before = w.node(slot).term();
  switch (a.kind) {
    case action_kind::deliver:
    case action_kind::drop: {
      const message_ptr f = w.in_flight[a.message];
      w.in_flight.erase(w.in_flight.begin() + static_cast<std::ptrdiff_t>(a.message));
      if (a.kind == action_kind::drop) return outcome::applied;  // no replica changes
      const message& m = f->msg;
      replica& r = touch(w, slot);
      r.node->step(m);
      // The core resets a follower's election timer on these (step_follower,
      // handle_vote_request); clearing too often only merges fewer states.
      if (m.term >= term_before &&
          (m.type == message_type::append || m.type == message_type::heartbeat ||
           m.type == message_type::install_snapshot || m.type == message_type::vote)) {
        r.lease_expired = false;
      }
      break;
    }
    case action_kind::timeout: {
      core& c = *touch(w, slot).node;
      bool fired = false;
      for (std::uint64_t k = 0; k < 2 * et + 1 && !fired; ++k) {
        c.tick();
        fired = c.state() != role_before || c.term() != term_before || c.has_ready();
      }
      if (!fired) return outcome::not_applicable;
      break;
    }
    case action_kind::expire_lease: {
      replica& r = touch(w, slot);
      for (std::uint64_t k = 0; k < et; ++k) {
        r.node->tick();
        if (r.node->state() != role::follower || r.node->has_ready())
          return outcome::not_applicable;
      }
      r.lease_expired = true;
      break;
    }
    case action_kind::heartbeat: {
      replica& r = touch(w, slot);
      r.node->tick();
      r.leader_ticks = (r.leader_ticks + 1) % et;
      break;
    }
    case action_kind::propose: {
      const bytes data = "c" + std::to_string(w.proposals + 1);
      if (!touch(w, slot).node->propose(data).ok()) return outcome::not_applicable;
      ++w.proposals;
      break;
    }
    case action_kind::restart: {
      replica& r = touch(w, slot);
      if (opt.mutation == explorer_mutation::forget_vote_on_restart) r.storage.hard.vote = no_node;
      r.node.emplace(r.cfg, r.storage.restore());
      r.applied.clear();
      r.leader_ticks = 0;
      r.lease_expired = false;
      ++w.restarts;
      break;
    }
    case action_kind::forge_ack: {
      core& leader = *touch(w, slot).node;
      message m;
      m.type = message_type::append_response;
      m.from = node_id{a.peer + 1};
      m.to = leader.id();
      m.term = leader.term();
      m.index = leader.log().last_index();
      leader.step(m);
      ++w.forgeries;
      break;
    }
  }
  replica& r = *w.replicas[slot];
  carry_out_ready(w, r, sym);
  // Keep the harness's timer bits in step with the core's hidden counters.
  const bool changed = r.node->state() != role_before || r.node->term() != term_before;
  if (changed || r.node->state() != role::leader) r.leader_ticks = 0;
  if (changed || r.node->state() != role::follower) r.lease_expired = false;
  seal(r, sym);
  if (opt.discard_dead_messages) {
    std::erase_if(w.in_flight, [&](const message_ptr& f) {
      return is_dead(f->msg, w.node(f->msg.to.value - 1).term());
    });
  }
  return outcome::applied;
}

// ---------------------------------------------------------------------------
// Invariants.

struct finding {
  std::string invariant;
  std::string detail;
};

bool same_entry(const entry& a, const entry& b) {
  return a.index == b.index && a.term == b.term && a.type == b.type && a.data == b.data;
}

/// I5, I6: checks of one transition.
std::optional<finding> check_transition(const world& before, const world& after) {
  for (std::size_t i = 0; i < after.replicas.size(); ++i) {
    if (before.replicas[i] == after.replicas[i]) continue;  // shared: unchanged
    const core& p = before.node(i);
    const core& c = after.node(i);
    const auto who = [&] { return "node " + std::to_string(i + 1); };
    if (c.term() < p.term()) {
      return finding{"MonotonicTerm", who() + " went from term " + std::to_string(p.term().value) +
                                          " to " + std::to_string(c.term().value)};
    }
    if (c.log().committed() < p.log().committed()) {
      return finding{"MonotonicCommit", who() + " commit went from " +
                                            std::to_string(p.log().committed().value) + " to " +
                                            std::to_string(c.log().committed().value)};
    }
    if (p.state() == role::leader && c.state() == role::leader && p.term() == c.term()) {
      bool prefix = p.log().last_index() <= c.log().last_index();
      for (log_index k{1}; prefix && k <= p.log().last_index(); ++k) {
        prefix = same_entry(p.log().at(k), c.log().at(k));
      }
      if (!prefix) return finding{"LeaderAppendOnly", who() + " rewrote its log as leader"};
    }
  }
  return std::nullopt;
}

/// I1-I4, I7 on one state; records history in `w`. `changed` names the
/// replicas whose per-replica checks (I7) must run again.
std::optional<finding> check_state(world& w, const std::vector<bool>& changed) {
  const std::size_t n = w.replicas.size();
  // I1 ElectionSafety.
  for (const auto& r : w.replicas) {
    const core& c = *r->node;
    if (c.state() != role::leader) continue;
    auto [it, inserted] = w.leaders.emplace(c.term(), c.id());
    if (!inserted && it->second != c.id()) {
      return finding{"ElectionSafety", "nodes " + std::to_string(it->second.value) + " and " +
                                           std::to_string(c.id().value) +
                                           " were both leader in term " +
                                           std::to_string(c.term().value)};
    }
  }
  // I2 LogMatching.
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) {
      const raft_log& la = w.node(a).log();
      const raft_log& lb = w.node(b).log();
      log_index i = std::min(la.last_index(), lb.last_index());
      while (i > log_index{0} && la.at(i).term != lb.at(i).term) i = i - 1;
      for (log_index k{1}; k <= i; ++k) {
        if (!same_entry(la.at(k), lb.at(k))) {
          return finding{"LogMatching", "nodes " + std::to_string(a + 1) + " and " +
                                            std::to_string(b + 1) + " agree on entry " +
                                            std::to_string(i.value) + " but differ at " +
                                            std::to_string(k.value)};
        }
      }
    }
  }
  // I4 (commit form) and the history I3 needs.
  for (const auto& r : w.replicas) {
    const core& c = *r->node;
    for (log_index k{1}; k <= c.log().committed(); ++k) {
      const entry& e = c.log().at(k);
      auto [it, inserted] = w.committed.emplace(k, committed_record{e, c.term()});
      if (inserted) continue;
      if (!same_entry(it->second.value, e)) {
        return finding{"StateMachineSafety", "index " + std::to_string(k.value) + " committed as " +
                                                 describe_entry(it->second.value) + " and as " +
                                                 describe_entry(e) + " (node " +
                                                 std::to_string(c.id().value) + ")"};
      }
      it->second.observed_in_term = std::min(it->second.observed_in_term, c.term());
    }
  }
  // I3 LeaderCompleteness.
  for (const auto& r : w.replicas) {
    const core& c = *r->node;
    if (c.state() != role::leader) continue;
    for (const auto& [k, rec] : w.committed) {
      if (rec.observed_in_term >= c.term()) continue;
      if (!c.log().match_term(k, rec.value.term)) {
        return finding{"LeaderCompleteness",
                       "leader " + std::to_string(c.id().value) + " of term " +
                           std::to_string(c.term().value) + " lacks committed entry " +
                           describe_entry(rec.value) + " (seen committed in term " +
                           std::to_string(rec.observed_in_term.value) + ")"};
      }
    }
  }
  // I4 applied sequences are prefixes of each other.
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) {
      const auto& xa = w.replicas[a]->applied;
      const auto& xb = w.replicas[b]->applied;
      for (std::size_t k = 0; k < std::min(xa.size(), xb.size()); ++k) {
        if (!same_entry(xa[k], xb[k])) {
          return finding{"StateMachineSafety",
                         "nodes " + std::to_string(a + 1) + " and " + std::to_string(b + 1) +
                             " applied " + describe_entry(xa[k]) + " and " + describe_entry(xb[k]) +
                             " at position " + std::to_string(k + 1)};
        }
      }
    }
  }
  // I7 applied <= committed; applied and storage agree with the log.
  for (std::size_t i = 0; i < n; ++i) {
    if (!changed[i]) continue;
    const replica& r = *w.replicas[i];
    const core& c = *r.node;
    const auto who = [&] { return "node " + std::to_string(c.id().value); };
    if (c.log().applied() > c.log().committed()) {
      return finding{"AppliedNotCommitted", who() + " applied beyond its commit index"};
    }
    if (r.applied.size() != c.log().applied().value) {
      return finding{"AppliedNotCommitted",
                     who() + " reports applied=" + std::to_string(c.log().applied().value) +
                         " but handed out " + std::to_string(r.applied.size()) + " entries"};
    }
    for (std::size_t k = 0; k < r.applied.size(); ++k) {
      if (!same_entry(r.applied[k], c.log().at(log_index{k + 1}))) {
        return finding{"AppliedNotCommitted", who() + " applied an entry no longer in its log at " +
                                                  std::to_string(k + 1)};
      }
    }
    const status st = c.get_status();
    if (st.hard != r.storage.hard) {
      return finding{"Durability", who() + " hard state differs from what it persisted"};
    }
    bool stored = r.storage.entries.size() == c.log().last_index().value;
    for (std::size_t k = 0; stored && k < r.storage.entries.size(); ++k) {
      stored = same_entry(r.storage.entries[k], c.log().at(log_index{k + 1}));
    }
    if (!stored) return finding{"Durability", who() + " log differs from what it persisted"};
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Search.

world initial_world(const explorer_options& opt, const symmetry& sym) {
  world w;
  conf_state cs;
  for (std::uint64_t i = 1; i <= opt.replicas; ++i) cs.voters.push_back(node_id{i});
  for (std::uint64_t i = 1; i <= opt.replicas; ++i) {
    replica r;
    r.cfg.id = node_id{i};
    r.cfg.random_seed = i;
    r.cfg.election_timeout_ticks = opt.election_timeout_ticks;
    r.cfg.heartbeat_interval_ticks = 1;
    r.cfg.pre_vote = opt.pre_vote;
    r.cfg.check_quorum = opt.check_quorum;
    r.cfg.inflight_messages_max = opt.inflight_append_messages_max;
    r.storage.initial_conf = cs;
    r.node.emplace(r.cfg, r.storage.restore());
    seal(r, sym);
    w.replicas.push_back(std::make_shared<replica>(std::move(r)));
  }
  return w;
}

/// One step of a path from the initial state; shared by every state
/// reached through it, so a violation's path costs nothing until reported.
struct path_step {
  std::shared_ptr<const path_step> parent;
  action act;
  /// deliver/drop: the message (the parent world's copy, shared).
  message_ptr msg;
};
using path_ptr = std::shared_ptr<const path_step>;

explorer_violation make_violation(const path_ptr& path, const finding& f, const world* after) {
  explorer_violation v;
  v.invariant = f.invariant;
  v.detail = f.detail;
  for (const path_step* p = path.get(); p != nullptr; p = p->parent.get()) {
    v.path.push_back(describe(p->act, p->msg ? &p->msg->msg : nullptr));
  }
  std::reverse(v.path.begin(), v.path.end());
  v.final_state =
      after ? describe_world(*after) : "  (state unavailable: a core assertion failed)\n";
  return v;
}

/// A state waiting to be expanded.
struct pending_state {
  world state;
  path_ptr path;
  std::size_t depth = 0;
};

/// The search shared by both orders: computes one successor, checks it,
/// applies the bounds and the visited set.
class explorer {
 public:
  explicit explorer(const explorer_options& opt)
      : opt_(opt), symmetry_(opt.replicas, opt.symmetry_reduction) {}

  enum class verdict : std::uint8_t { skip, expand, stop };

  /// Records the initial state; returns it (to expand) unless it fails.
  std::optional<pending_state> root() {
    world w = initial_world(opt_, symmetry_);
    if (auto f = check_state(w, std::vector<bool>(w.replicas.size(), true))) {
      report(make_violation(nullptr, *f, &w));
      return std::nullopt;
    }
    visited_.insert(state_hash(w, symmetry_));
    rep_.distinct_states = 1;
    return pending_state{std::move(w), nullptr, 0};
  }

  /// Computes the successor of `parent` by `a` into `out`.
  verdict successor(const pending_state& parent, const action& a, pending_state& out) {
    out.state = parent.state;
    out.depth = parent.depth + 1;
    message_ptr msg;
    if (a.kind == action_kind::deliver || a.kind == action_kind::drop) {
      msg = parent.state.in_flight[a.message];
    }
    std::optional<finding> found;
    try {
      if (apply(out.state, a, opt_, symmetry_) == outcome::not_applicable) return verdict::skip;
      ++rep_.transitions;
      out.path = std::make_shared<const path_step>(path_step{parent.path, a, msg});
      std::vector<bool> changed(out.state.replicas.size());
      for (std::size_t i = 0; i < changed.size(); ++i) {
        changed[i] = out.state.replicas[i] != parent.state.replicas[i];
      }
      found = check_transition(parent.state, out.state);
      if (!found) found = check_state(out.state, changed);
      if (found) {
        report(make_violation(out.path, *found, &out.state));
        return stop_or_skip();
      }
    } catch (const core_assertion& e) {
      ++rep_.transitions;
      out.path = std::make_shared<const path_step>(path_step{parent.path, a, msg});
      report(make_violation(out.path, finding{"CoreAssertion", e.what()}, nullptr));
      return stop_or_skip();
    }
    bool out_of_bounds = false;
    for (const auto& r : out.state.replicas) out_of_bounds |= r->node->term() > opt_.term_max;
    if (out_of_bounds) {
      ++rep_.pruned_by_term;
      return verdict::skip;
    }
    if (out.state.in_flight.size() > opt_.in_flight_messages_max) {
      ++rep_.pruned_by_in_flight;
      return verdict::skip;
    }
    if (!visited_.insert(state_hash(out.state, symmetry_))) return verdict::skip;
    ++rep_.distinct_states;
    rep_.deepest_path = std::max(rep_.deepest_path, out.depth);
    if (rep_.distinct_states >= opt_.states_max) {
      rep_.states_max_hit = true;
      return verdict::stop;
    }
    if (out.depth >= opt_.depth_max) {
      ++rep_.pruned_by_depth;
      rep_.depth_max_hit = true;
      return verdict::skip;
    }
    return verdict::expand;
  }

  explorer_report& result() { return rep_; }

 private:
  void report(explorer_violation v) {
    ++rep_.violations;
    if (!rep_.first_violation) rep_.first_violation = std::move(v);
  }
  verdict stop_or_skip() const {
    return opt_.search == explorer_search::stop_at_first_violation ? verdict::stop : verdict::skip;
  }

  const explorer_options& opt_;
  const symmetry symmetry_;
  explorer_report rep_;
  fingerprint_set visited_;
};

void breadth_first(explorer& ex, pending_state root, const explorer_options& opt) {
  std::deque<pending_state> queue;
  queue.push_back(std::move(root));
  while (!queue.empty()) {
    pending_state parent = std::move(queue.front());
    queue.pop_front();
    // Every state within parent.depth transitions has been generated and
    // checked: all states at smaller depths were expanded before this one.
    ex.result().exhaustive_depth = std::min(parent.depth, opt.depth_max);
    for (const action& a : enabled_actions(parent.state, opt)) {
      pending_state child;
      switch (ex.successor(parent, a, child)) {
        case explorer::verdict::skip:
          break;
        case explorer::verdict::expand:
          queue.push_back(std::move(child));
          break;
        case explorer::verdict::stop:
          return;
      }
    }
  }
  if (!ex.result().depth_max_hit) ex.result().exhaustive_depth = ex.result().deepest_path;
}

void depth_first(explorer& ex, pending_state root, const explorer_options& opt) {
  ex.result().exhaustive_depth = 0;
  struct frame {
    pending_state state;
    std::vector<action> actions;
    std::size_t next = 0;
  };
  std::vector<frame> stack;
  auto actions = enabled_actions(root.state, opt);
  stack.push_back(frame{std::move(root), std::move(actions), 0});
  while (!stack.empty()) {
    frame& top = stack.back();
    if (top.next == top.actions.size()) {
      stack.pop_back();
      continue;
    }
    const action a = top.actions[top.next++];
    pending_state child;
    switch (ex.successor(top.state, a, child)) {
      case explorer::verdict::skip:
        break;
      case explorer::verdict::expand: {
        auto child_actions = enabled_actions(child.state, opt);
        stack.push_back(frame{std::move(child), std::move(child_actions), 0});
        break;
      }
      case explorer::verdict::stop:
        return;
    }
  }
  if (ex.result().complete()) ex.result().exhaustive_depth = ex.result().deepest_path;
}

}  // namespace

std::string explorer_report::summary() const {
  std::ostringstream os;
  os << "explorer: " << distinct_states << " distinct states, " << transitions
     << " transitions, deepest path " << deepest_path << ", every state within " << exhaustive_depth
     << " transitions checked\n";
  os << "  pruned: term " << pruned_by_term << ", in-flight " << pruned_by_in_flight << ", depth "
     << pruned_by_depth << "\n";
  os << "  bounds hit: states_max " << (states_max_hit ? "YES" : "no") << ", depth_max "
     << (depth_max_hit ? "YES" : "no") << "\n";
  os << "  violations: " << violations << "\n";
  if (first_violation) {
    const auto& v = *first_violation;
    os << "VIOLATION of " << v.invariant << ": " << v.detail << "\n  path (" << v.path.size()
       << " actions):\n";
    for (std::size_t i = 0; i < v.path.size(); ++i)
      os << "    " << i + 1 << ". " << v.path[i] << "\n";
    os << "  final state:\n" << v.final_state;
  }
  return os.str();
}

explorer_report explore(const explorer_options& opt) {
  CAIRN_ASSERT_MSG(opt.replicas >= 1, "explorer needs at least one replica");
  CAIRN_ASSERT_MSG(opt.election_timeout_ticks >= 2, "election timeout must exceed the heartbeat");
  CAIRN_ASSERT_MSG(
      opt.mutation != explorer_mutation::forget_vote_on_restart || opt.restarts_max > 0,
      "forget_vote_on_restart needs restarts_max > 0");
  scoped_throwing_assertions throwing;
  explorer ex(opt);
  if (auto root = ex.root()) {
    if (opt.order == explorer_order::breadth_first) {
      breadth_first(ex, std::move(*root), opt);
    } else {
      depth_first(ex, std::move(*root), opt);
    }
  }
  return std::move(ex.result());
}

}  // namespace cairn::sim
