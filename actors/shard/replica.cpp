// actors/shard/replica.cpp — see replica.h.
#include "actors/shard/replica.h"

#include <cstring>

#include "actors/common/assert.h"
#include "actors/raft/codec.h"

namespace cairn::shard {

using namespace cairn::raft;

const char* to_string(reply_code c) {
  switch (c) {
    case reply_code::ok:
      return "ok";
    case reply_code::not_found:
      return "not_found";
    case reply_code::cas_failed:
      return "cas_failed";
    case reply_code::dropped:
      return "dropped";
    case reply_code::timeout:
      return "timeout";
    case reply_code::invalid:
      return "invalid";
    case reply_code::failed:
      return "failed";
    case reply_code::storage_full:
      return "storage_full";
  }
  return "?";
}

namespace {

bytes context_of(std::uint64_t request_id) {
  bytes b(sizeof request_id, '\0');
  std::memcpy(b.data(), &request_id, sizeof request_id);
  return b;
}

std::optional<std::uint64_t> request_of(const bytes& context) {
  if (context.size() != sizeof(std::uint64_t)) return std::nullopt;
  std::uint64_t id = 0;
  std::memcpy(&id, context.data(), sizeof id);
  return id;
}

raft::config seeded(raft::config cfg, environment& env) {
  if (env.random) cfg.random_seed = env.random->next();
  return cfg;
}

}  // namespace

replica::replica(replica_options opts, environment env)
    : opts_(std::move(opts)), env_(env), core_(seeded(opts_.raft, env_), env_.storage->load()) {
  // Restore the state machine from the snapshot the core starts from.
  const auto& snap = core_.latest_snapshot();
  if (!snap.empty()) {
    CAIRN_ASSERT_MSG(restore_state(snap.data), "persisted snapshot does not decode");
    if (env_.observer) env_.observer->on_restore(core_.id(), snap.metadata.index, fingerprint());
  }
  next_request_ = (opts_.incarnation << 32) | 1;
  process_ready();
}

void replica::tick() {
  if (failed_) return;
  core_.tick();
  expire_requests();
  // Idle tracking for wants_ticks (S5): ticks in a row in which a leader
  // saw nothing change.
  const auto last = core_.log().last_index();
  const auto commit = core_.log().committed();
  if (core_.state() == role::leader && writes_.empty() && reads_.empty() &&
      last == idle_seen_last_ && commit == idle_seen_commit_) {
    ++idle_ticks_;
  } else {
    idle_ticks_ = 0;
    idle_seen_last_ = last;
    idle_seen_commit_ = commit;
  }
  maybe_flush();
  publish();
}

bool replica::wants_ticks() const {
  if (!env_.liveness) return true;
  if (failed_) return false;
  if (!writes_.empty() || !reads_.empty()) return true;  // requests expire by ticks
  const node_id self = core_.id();
  switch (core_.state()) {
    case role::leader: {
      if (idle_ticks_ < 2 * opts_.raft.heartbeat_interval_ticks + 1) return true;
      const auto last = core_.log().last_index();
      if (core_.log().committed() != last || core_.pending_conf_index() > core_.log().applied())
        return true;
      for (const auto& [id, pr] : core_.tracker().nodes)
        if (id != self && (pr.state != progress_state::replicate || pr.match != last)) return true;
      return false;
    }
    case role::follower: {
      if (!core_.tracker().is_voter(self)) return false;  // learners never campaign
      const node_id lead = core_.leader();
      return lead == node_id{0} || !env_.liveness->alive(lead);
    }
    default:
      return true;  // campaigning
  }
}

replica_summary replica::summary() const {
  const auto st = core_.get_status();
  replica_summary s;
  s.id = st.id;
  s.role = st.soft.state;
  s.term = st.hard.term;
  s.leader = st.soft.leader;
  s.commit = st.hard.commit;
  s.applied = st.applied;
  s.last_index = st.last_index;
  s.first_index = st.first_index;
  s.snapshot_index = core_.latest_snapshot().metadata.index;
  s.conf = st.conf;
  if (st.soft.state == role::leader)
    for (const auto& [id, pr] : core_.tracker().nodes)
      s.progress.push_back(
          progress_summary{id, pr.match, pr.next, pr.state, pr.is_learner, pr.recent_active});
  s.keys = kv_.size();
  s.failed = failed_;
  s.wants_ticks = wants_ticks();
  s.metrics = metrics_;
  return s;
}

void replica::publish() {
  if (env_.status) env_.status->publish(summary());
}

void replica::receive(const bytes& frame) {
  receive_checked(std::nullopt, frame);
}

void replica::receive_from(node_id sender, const bytes& frame) {
  receive_checked(sender, frame);
}

void replica::receive_checked(std::optional<node_id> sender, const bytes& frame) {
  if (failed_) return;
  ++metrics_.messages_received;
  auto decoded = decode_message(frame);
  if (auto* err = std::get_if<decode_error>(&decoded)) {
    ++metrics_.messages_rejected;
    log(log_level::warn, "dropped malformed raft frame: " + err->reason);
    return;
  }
  const message& m = std::get<message>(decoded);
  if (sender && m.from != *sender) {
    ++metrics_.messages_rejected;
    log(log_level::warn, "rejected a raft message from node " + std::to_string(sender->value) +
                             " claiming to come from node " + std::to_string(m.from.value));
    return;
  }
  // A peer campaigning or refusing appends needs a leader that ticks.
  if (m.type == message_type::vote || m.type == message_type::pre_vote ||
      (m.type == message_type::append_response && m.reject))
    idle_ticks_ = 0;
  auto r = core_.step(m);
  if (r.error == step_error::invalid_message) {
    ++metrics_.messages_rejected;
    log(log_level::warn, std::string("rejected raft message: ") + r.reason);
  }
  maybe_flush();
}

bool replica::admit_proposal(const reply_fn& reply) {
  if (failed_) {
    reply({reply_code::failed, {}});
    return false;
  }
  if (writes_.size() + reads_.size() >= opts_.requests_max) {
    ++metrics_.proposals_dropped;
    reply({reply_code::dropped, "overloaded"});
    return false;
  }
  if (std::string why; !env_.storage->accepting_writes(why)) {
    ++metrics_.proposals_dropped;
    reply({reply_code::storage_full, why});
    return false;
  }
  return true;
}

void replica::propose_entry(std::uint64_t request_id, std::string data, reply_fn reply) {
  auto r = core_.propose(std::move(data));
  if (!r.ok()) {
    ++metrics_.proposals_dropped;
    reply({reply_code::dropped, r.reason});
    maybe_flush();
    return;
  }
  ++metrics_.proposals;
  writes_.emplace(request_id, pending_request{std::move(reply), 0});
  maybe_flush();
}

void replica::propose_command(kv_command cmd, reply_fn reply) {
  if (!admit_proposal(reply)) return;
  cmd.request_id = next_request_++;
  cmd.proposer = core_.id().value;
  propose_entry(cmd.request_id, encode_kv_command(cmd), std::move(reply));
}

void replica::propose_namespace(ns_command cmd, reply_fn reply) {
  if (!admit_proposal(reply)) return;
  cmd.request_id = next_request_++;
  cmd.proposer = core_.id().value;
  propose_entry(cmd.request_id, std::string(namespace_entry_tag) + encode_ns_command(cmd),
                std::move(reply));
}

void replica::read_namespace(namespace_query query, reply_fn reply) {
  if (failed_) return reply({reply_code::failed, {}});
  if (writes_.size() + reads_.size() >= opts_.requests_max)
    return reply({reply_code::dropped, "overloaded"});
  const std::uint64_t id = next_request_++;
  auto r = core_.read_index(context_of(id));
  if (!r.ok()) {
    reply({reply_code::dropped, r.reason});
    maybe_flush();
    return;
  }
  ++metrics_.reads;
  reads_.emplace(id, pending_read{{}, std::move(query), std::move(reply), 0, false, log_index{0}});
  maybe_flush();
}

void replica::apply_namespace(const entry& e) {
  auto cmd = decode_ns_command(e.data.str().substr(namespace_entry_tag.size()));
  if (!cmd) {
    // Proposers encode what they propose: an undecodable command is skipped
    // the same way by every replica, so their states stay identical.
    log(log_level::error, "skipping undecodable namespace command");
    return;
  }
  auto result = apply_ns_command(ns_, *cmd);
  if (cmd->proposer != core_.id().value) return;
  auto it = writes_.find(cmd->request_id);
  if (it == writes_.end()) return;
  it->second.reply({reply_code::ok, encode_ns_result(result)});
  writes_.erase(it);
}

std::string replica::snapshot_state() const {
  if (!ns_.bucket_count()) return kv_.snapshot();
  auto kv = kv_.snapshot();
  std::string out(combined_snapshot_tag);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(kv.size() >> (8 * i)));
  out += kv;
  out += snapshot_namespace(ns_);
  return out;
}

bool replica::restore_state(const std::string& bytes) {
  if (!bytes.starts_with(combined_snapshot_tag)) {
    ns_ = namespace_state{};
    return kv_.restore(bytes);
  }
  const auto header = combined_snapshot_tag.size() + 8;
  if (bytes.size() < header) return false;
  std::uint64_t kv_bytes = 0;
  for (int i = 0; i < 8; ++i)
    kv_bytes |= std::uint64_t{static_cast<unsigned char>(bytes[combined_snapshot_tag.size() + i])}
                << (8 * i);
  if (kv_bytes > bytes.size() - header) return false;
  return kv_.restore(bytes.substr(header, kv_bytes)) &&
         restore_namespace(ns_, bytes.substr(header + kv_bytes));
}

std::uint64_t replica::fingerprint() const {
  const auto kv = kv_.fingerprint();
  return ns_.bucket_count() ? kv ^ (namespace_fingerprint(ns_) * 0x9e3779b97f4a7c15ull) : kv;
}

void replica::put(std::string key, std::string value, reply_fn reply) {
  if (key.size() > kv_key_bytes_max || value.size() > kv_value_bytes_max)
    return reply({reply_code::invalid, "key or value too large"});
  kv_command c;
  c.op = kv_op::put;
  c.key = std::move(key);
  c.value = std::move(value);
  propose_command(std::move(c), std::move(reply));
}

void replica::compare_and_set(std::string key, std::optional<std::string> expected,
                              std::string value, reply_fn reply) {
  if (key.size() > kv_key_bytes_max || value.size() > kv_value_bytes_max)
    return reply({reply_code::invalid, "key or value too large"});
  kv_command c;
  c.op = kv_op::compare_and_set;
  c.key = std::move(key);
  c.value = std::move(value);
  c.expect_absent = !expected.has_value();
  if (expected) c.expected = std::move(*expected);
  propose_command(std::move(c), std::move(reply));
}

void replica::write_batch(std::vector<kv_write> writes, reply_fn reply) {
  if (writes.empty() || writes.size() > kv_batch_writes_max)
    return reply({reply_code::invalid,
                  "a batch has 1 to " + std::to_string(kv_batch_writes_max) + " writes"});
  for (const auto& w : writes)
    if (w.key.empty() || w.key.size() > kv_key_bytes_max ||
        (w.value && w.value->size() > kv_value_bytes_max))
      return reply({reply_code::invalid, "key or value too large"});
  kv_command c;
  c.op = kv_op::batch;
  c.batch = std::move(writes);
  propose_command(std::move(c), std::move(reply));
}

void replica::get(std::string key, reply_fn reply) {
  if (failed_) return reply({reply_code::failed, {}});
  if (writes_.size() + reads_.size() >= opts_.requests_max)
    return reply({reply_code::dropped, "overloaded"});
  const std::uint64_t id = next_request_++;
  auto r = core_.read_index(context_of(id));
  if (!r.ok()) {
    reply({reply_code::dropped, r.reason});
    maybe_flush();
    return;
  }
  ++metrics_.reads;
  reads_.emplace(id, pending_read{std::move(key), {}, std::move(reply), 0, false, log_index{0}});
  maybe_flush();
}

void replica::campaign() {
  if (failed_) return;
  core_.campaign();
  maybe_flush();
}

void replica::change_membership(conf_change cc, reply_fn reply) {
  if (failed_) return reply({reply_code::failed, {}});
  auto r = core_.propose_conf_change(cc);
  reply(r.ok() ? client_reply{reply_code::ok, {}} : client_reply{reply_code::dropped, r.reason});
  maybe_flush();
}

std::optional<std::string> replica::reconcile_membership(const membership_target& target) {
  if (failed_) return std::nullopt;
  auto step = plan_membership_step(core_, target);
  if (!step) return std::nullopt;
  auto r = core_.propose_conf_change(step->change);
  maybe_flush();
  if (!r.ok()) return "could not " + step->why + ": " + r.reason;
  log(log_level::info, "membership: " + step->why);
  return step->why;
}

void replica::expire_requests() {
  for (auto it = writes_.begin(); it != writes_.end();) {
    if (++it->second.age_ticks > opts_.request_timeout_ticks) {
      it->second.reply({reply_code::timeout, "no answer within the request timeout"});
      it = writes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (++it->second.age_ticks > opts_.request_timeout_ticks) {
      // A read changes nothing, so a timed-out read is simply dropped.
      it->second.reply({reply_code::dropped, "no read index within the request timeout"});
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void replica::fail_stop(std::string_view why) {
  failed_ = true;
  publish();
  log(log_level::error, std::string("replica stopping: ") + std::string(why));
  for (auto& [id, w] : writes_) w.reply({reply_code::timeout, "replica stopped"});
  for (auto& [id, r] : reads_) r.reply({reply_code::dropped, "replica stopped"});
  writes_.clear();
  reads_.clear();
}

void replica::apply_entry(const entry& e) {
  ++metrics_.applied_entries;
  log_bytes_since_snapshot_ += e.data.size();
  if (e.type == entry_type::conf_change) {
    if (auto cc = decode_conf_change(e.data)) {
      core_.apply_conf_change(*cc);
      if (!core_.last_conf_change_error().empty())
        log(log_level::warn,
            "skipped a conf change that does not apply: " + core_.last_conf_change_error());
    } else {
      // The leader validated it; an undecodable one was blanked. Every
      // replica skips it the same way, so state stays identical.
      log(log_level::error, "skipping undecodable conf change entry");
    }
  } else if (e.data.str().starts_with(namespace_entry_tag)) {
    apply_namespace(e);
  } else if (!e.data.empty()) {
    auto cmd = decode_kv_command(e.data);
    if (!cmd) {
      log(log_level::error, "skipping undecodable state machine command");
    } else {
      kv_result res = kv_.apply(*cmd);
      if (cmd->proposer == core_.id().value) {
        auto it = writes_.find(cmd->request_id);
        if (it != writes_.end()) {
          client_reply reply;
          if (cmd->op == kv_op::compare_and_set && !res.ok) {
            reply.code = reply_code::cas_failed;
            reply.value = res.previous.value_or("");
          }
          it->second.reply(std::move(reply));
          writes_.erase(it);
        }
      }
    }
  }
  if (env_.observer) env_.observer->on_apply(core_.id(), e.index, e.term, fingerprint());
}

void replica::serve_reads() {
  const log_index applied = core_.log().applied();
  for (auto it = reads_.begin(); it != reads_.end();) {
    if (it->second.has_index && it->second.index <= applied) {
      if (it->second.query) {
        it->second.reply({reply_code::ok, it->second.query(ns_)});
      } else {
        auto v = kv_.get(it->second.key);
        it->second.reply(v ? client_reply{reply_code::ok, *v}
                           : client_reply{reply_code::not_found, {}});
      }
      it = reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void replica::process_ready() {
  bool worked = false;
  while (!failed_ && core_.has_ready()) {
    worked = true;
    ready rd = core_.get_ready();
    // 1. Messages that depend on nothing local (a leader's appends) go out
    //    while we write, as etcd does.
    for (auto& om : rd.messages) {
      if (om.wait_for_persisted_index == log_index{0} && !om.wait_for_hard_state) {
        env_.net->send(om.msg.to, encode_message(om.msg));
        ++metrics_.messages_sent;
      }
    }
    // 2. Persist, and fsync when the Ready says so.
    if (env_.storage->write(rd) != io_status::ok) return fail_stop("disk write failed");
    if (rd.must_sync) {
      ++metrics_.fsyncs;
      if (env_.storage->sync() != io_status::ok) return fail_stop("fsync failed");
    }
    // 3. The rest of the messages, now that what they reveal is durable.
    for (auto& om : rd.messages) {
      if (om.wait_for_persisted_index != log_index{0} || om.wait_for_hard_state) {
        env_.net->send(om.msg.to, encode_message(om.msg));
        ++metrics_.messages_sent;
      }
    }
    // 4. Apply.
    if (rd.snap) {
      CAIRN_ASSERT_MSG(restore_state(rd.snap->data), "leader sent an undecodable snapshot");
      log_bytes_since_snapshot_ = 0;
      ++metrics_.snapshots_installed;
      if (env_.observer)
        env_.observer->on_restore(core_.id(), rd.snap->metadata.index, fingerprint());
    }
    for (const auto& e : rd.committed_entries) apply_entry(e);
    // 5. Read states.
    for (const auto& rs : rd.read_states) {
      auto id = request_of(rs.context);
      if (!id) continue;
      auto it = reads_.find(*id);
      if (it == reads_.end()) continue;
      it->second.has_index = true;
      it->second.index = rs.index;
    }
    if (env_.observer) env_.observer->on_ready(core_.id(), core_, rd);
    core_.advance(rd);
    serve_reads();
    // Snapshot policy: bound the log.
    const auto applied = core_.log().applied();
    const auto snap_index = core_.latest_snapshot().metadata.index;
    const auto snapshot_bytes = core_.latest_snapshot().data.size();
    if (applied.value - snap_index.value >= opts_.snapshot_every_entries &&
        log_bytes_since_snapshot_ * 100 >= snapshot_bytes * opts_.snapshot_log_percent) {
      if (core_.compact(snapshot_state(), opts_.retain_entries_after_snapshot).ok()) {
        ++metrics_.snapshots_taken;
        log_bytes_since_snapshot_ = 0;
      }
    }
  }
  if (worked) publish();
}

}  // namespace cairn::shard
