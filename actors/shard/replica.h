// actors/shard/replica.h — one replica of a shard: a Raft core, its
// key-value state machine and the client requests waiting on them.
//
// Owner: the shard-replica actor (shard_actor.h), which serialises every
// call; usable without CAF (benchmarks, tests). Carries out each Ready in
// the order documented in raft::ready through the environment (env.h).
//
// Invariants:
//  S1. A client hears "ok" for a write only after the command was applied
//      here, hence committed by a quorum whose logs were fsync'd.
//  S2. A read is answered from a state that has applied at least the
//      ReadIndex the leader confirmed after the read arrived.
//  S3. Pending requests are bounded (requests_max); beyond that new ones
//      are refused with `overloaded`.
//  S4. After a failed fsync the replica does nothing more (fail-stop).
//  S5. A replica that stops asking for ticks (wants_ticks) does so only in
//      states where a tick could do nothing but heartbeat an idle group or
//      count toward an election against a leader whose node is up.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "actors/raft/core.h"
#include "actors/shard/env.h"
#include "actors/shard/kv_state_machine.h"
#include "actors/shard/membership.h"
#include "actors/shard/namespace_codec.h"

namespace cairn::shard {

enum class reply_code : std::uint8_t {
  ok = 0,
  not_found = 1,     // get: no such key
  cas_failed = 2,    // compare-and-set: condition did not hold
  dropped = 3,       // not accepted (no leader, overloaded); did not happen
  timeout = 4,       // outcome unknown: may or may not have happened
  invalid = 5,       // malformed request
  failed = 6,        // the replica stopped (fsync failure)
  storage_full = 7,  // refused: the store is nearly full; did not happen
};

const char* to_string(reply_code c);

struct client_reply {
  reply_code code = reply_code::ok;
  std::string value;
};

using reply_fn = std::function<void(client_reply)>;

struct replica_metrics {
  std::uint64_t proposals = 0;
  std::uint64_t proposals_dropped = 0;
  std::uint64_t applied_entries = 0;
  std::uint64_t reads = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t messages_rejected = 0;
  std::uint64_t fsyncs = 0;
  std::uint64_t snapshots_taken = 0;
  std::uint64_t snapshots_installed = 0;
};

struct progress_summary {
  raft::node_id node;
  raft::log_index match;
  raft::log_index next;
  raft::progress_state state = raft::progress_state::probe;
  bool learner = false;
  bool active = false;
};

/// What a host shows about a replica (status_sink, describe).
struct replica_summary {
  raft::node_id id;
  raft::role role = raft::role::follower;
  raft::term_t term;
  raft::node_id leader;
  raft::log_index commit, applied, last_index, first_index, snapshot_index;
  raft::conf_state conf;
  std::vector<progress_summary> progress;  // on the leader
  std::size_t keys = 0;
  bool failed = false;
  bool wants_ticks = true;
  replica_metrics metrics;
};

struct replica_options {
  raft::config raft;
  /// Distinguishes incarnations of the same replica (request ids).
  std::uint64_t incarnation = 0;
  /// Take a snapshot and compact when this many entries were applied
  /// since the last snapshot.
  std::uint64_t snapshot_every_entries = 1000;
  /// ...and when the entries applied since it hold at least this share (in
  /// percent) of the last snapshot's bytes. A snapshot is the whole state,
  /// so a fixed entry count makes the bytes written grow with the square of
  /// the state (a 1M-object bucket rewrote hundreds of MiB every 10,000
  /// PUTs); with a share, snapshot bytes stay within 100/share times the
  /// log bytes. 0: entries alone decide.
  std::uint64_t snapshot_log_percent = 0;
  std::uint64_t retain_entries_after_snapshot = 100;
  std::uint64_t request_timeout_ticks = 100;
  std::size_t requests_max = 10'000;
  /// Host hint (shard_actor): turn auto_flush off and flush once per batch
  /// of mailbox messages.
  bool batch_inputs = false;
};

class replica {
 public:
  replica(replica_options opts, environment env);

  void tick();
  /// A frame from a peer; malformed frames are logged and dropped.
  void receive(const raft::bytes& frame);
  /// A frame that arrived from node `sender` (authenticated by the
  /// transport); a message claiming another origin is rejected.
  void receive_from(raft::node_id sender, const raft::bytes& frame);
  void put(std::string key, std::string value, reply_fn reply);
  void compare_and_set(std::string key, std::optional<std::string> expected, std::string value,
                       reply_fn reply);
  /// Writes applied together, in one log entry (at most
  /// kv_batch_writes_max; each key and value within the usual limits).
  void write_batch(std::vector<kv_write> writes, reply_fn reply);
  /// Linearizable read through ReadIndex.
  void get(std::string key, reply_fn reply);

  /// Proposes a namespace command (its request id, proposer and nothing
  /// else are filled in here); once applied, the reply's value is the
  /// encoded ns_result (encode_ns_result), whatever its status.
  void propose_namespace(ns_command cmd, reply_fn reply);
  /// A linearizable namespace read: `query` runs on this replica's state
  /// once it has applied everything committed when the read arrived
  /// (ReadIndex); its string is the reply's value.
  using namespace_query = std::function<std::string(const namespace_state&)>;
  void read_namespace(namespace_query query, reply_fn reply);
  void campaign();
  /// Proposes a membership change; the reply says whether it was accepted
  /// for replication (not whether it was applied).
  void change_membership(raft::conf_change cc, reply_fn reply);
  /// On the leader: proposes the next step toward `target` (membership.h)
  /// and returns what it proposed; nullopt when nothing is to be done here.
  std::optional<std::string> reconcile_membership(const membership_target& target);

  /// With auto_flush off, inputs only queue work in the core and the host
  /// calls flush() once per batch of inputs (one Ready, one fsync, for
  /// every request that arrived together). The simulator keeps it on.
  void set_auto_flush(bool on) { auto_flush_ = on; }
  void flush() { process_ready(); }

  bool failed() const { return failed_; }
  /// Whether this replica needs ticks now. Always with no liveness in the
  /// environment. Otherwise (invariant S5): a leader until it is idle (no
  /// requests, nothing uncommitted or unacknowledged, every peer caught up,
  /// and two heartbeats sent since the last change); a voter that follows
  /// until its leader's node is down; never a learner or a replica that is
  /// not a member. Skipping ticks only delays elections: it cannot break
  /// safety, which never depends on time.
  bool wants_ticks() const;
  /// The host saw a peer come or go: an idle leader ticks (heartbeats)
  /// again for a while, so a restarted follower learns who leads.
  void wake() { idle_ticks_ = 0; }
  replica_summary summary() const;
  const raft::core& core() const { return core_; }
  const kv_state_machine& state() const { return kv_; }
  const namespace_state& names() const { return ns_; }
  const replica_metrics& metrics() const { return metrics_; }

 private:
  struct pending_request {
    reply_fn reply;
    std::uint64_t age_ticks = 0;
  };
  struct pending_read {
    std::string key;
    namespace_query query;  // set for namespace reads
    reply_fn reply;
    std::uint64_t age_ticks = 0;
    bool has_index = false;
    raft::log_index index;
  };

  void receive_checked(std::optional<raft::node_id> sender, const raft::bytes& frame);
  void propose_command(kv_command cmd, reply_fn reply);
  /// Checks shared by every proposal; false (after replying) to refuse.
  bool admit_proposal(const reply_fn& reply);
  void propose_entry(std::uint64_t request_id, std::string data, reply_fn reply);
  void apply_namespace(const raft::entry& e);
  /// Both state machines in one snapshot (the key-value one alone while no
  /// bucket exists, as before namespaces).
  std::string snapshot_state() const;
  bool restore_state(const std::string& bytes);
  std::uint64_t fingerprint() const;
  void process_ready();
  void apply_entry(const raft::entry& e);
  void serve_reads();
  void expire_requests();
  void fail_stop(std::string_view why);
  void publish();
  void maybe_flush() {
    if (auto_flush_) process_ready();
  }
  void log(log_level level, std::string_view what) {
    if (env_.log) env_.log->log(level, what);
  }

  replica_options opts_;
  environment env_;
  raft::core core_;
  kv_state_machine kv_;
  namespace_state ns_;
  std::map<std::uint64_t, pending_request> writes_;
  std::map<std::uint64_t, pending_read> reads_;
  std::uint64_t next_request_ = 1;
  bool failed_ = false;
  bool auto_flush_ = true;
  std::uint64_t idle_ticks_ = 0;  // leader ticks with nothing changing
  raft::log_index idle_seen_last_, idle_seen_commit_;
  replica_metrics metrics_;
  /// Bytes of entries applied since the last snapshot (snapshot_log_percent).
  std::uint64_t log_bytes_since_snapshot_ = 0;
};

}  // namespace cairn::shard
