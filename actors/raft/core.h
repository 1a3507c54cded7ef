// actors/raft/core.h — the pure Raft state machine of one replica.
//
// Owner: exactly one host (the shard-replica actor, the simulator's replica,
// or a test). Not thread-safe; the host serialises every call.
//
// Shape (after etcd's RawNode): inputs are tick(), step(message), propose(),
// propose_conf_change(), read_index(), transfer_leader(), campaign(),
// report_unreachable(), report_snapshot(); the output is a `ready` that the
// host carries out in order and then acknowledges with advance().
//
// No clock, randomness, I/O, threads or actor framework inside: time is a
// count of ticks, randomness a generator seeded by the host, and every
// effect leaves through `ready`. The same inputs give the same outputs.
//
// Invariants (checked by check_invariants() after every input; numbers
// match docs/raft.md):
//  R1. term never decreases; vote changes only together with a new term or
//      from none to a candidate.
//  R2. A leader's log only grows (LeaderAppendOnly).
//  R3. committed <= persisted on a leader; applied <= committed always.
//  R4. A leader commits an index only if its entry has the leader's term
//      and a quorum of voters (joint: both halves) persisted it.
//  R5. Uncommitted bytes on a leader never exceed uncommitted_bytes_max
//      (except for a single proposal into an empty budget).
//  R6. The progress tracker satisfies P1-P4 (progress.h).
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/raft/progress.h"
#include "actors/raft/raft_log.h"
#include "actors/raft/types.h"

namespace cairn::raft {

/// Small deterministic generator (splitmix64). The host seeds it; the core
/// draws election timeouts from it. Not for cryptography.
class seeded_random {
 public:
  explicit seeded_random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  /// Uniform in [0, n).
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t state_;
};

struct config {
  node_id id;
  /// A follower that hears nothing for a random time in
  /// [election_timeout_ticks, 2 * election_timeout_ticks) campaigns.
  std::uint64_t election_timeout_ticks = 10;
  std::uint64_t heartbeat_interval_ticks = 1;
  std::uint64_t random_seed = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  /// Append messages in flight per follower in the replicate state.
  std::size_t inflight_messages_max = 256;
  /// Bytes in flight per follower; 0 = unlimited.
  std::uint64_t inflight_bytes_max = 0;
  /// Payload bytes per append message (at least one entry is always sent).
  std::uint64_t append_bytes_max = 1 << 20;
  /// Payload bytes of committed entries handed out per Ready; 0 = unlimited.
  std::uint64_t apply_bytes_max = 0;
  /// Payload bytes appended by the leader but not yet committed; 0 = off.
  std::uint64_t uncommitted_bytes_max = 64 << 20;
  /// ReadIndex requests queued before the leader commits in its term.
  std::size_t pending_reads_max = 4096;
  /// Bytes of a ReadIndex context.
  std::size_t read_context_bytes_max = 256;
  bool forward_proposals = true;
  /// A follower in the snapshot state that has not answered within this
  /// many ticks is probed again (the snapshot was probably lost).
  std::uint64_t snapshot_timeout_ticks = 50;
  /// A leader removed from (or demoted out of) the voters steps down.
  bool step_down_on_removal = true;
};

/// What the host persisted, handed back at construction.
struct restored_state {
  hard_state hard;
  /// Latest snapshot (may be empty: index 0).
  snapshot snap;
  /// The compaction point: entries start at log_offset + 1.
  log_index log_offset;
  term_t log_offset_term;
  std::vector<entry> entries;
  /// Membership at log_offset when there is no snapshot (a new group).
  conf_state initial_conf;
  /// Membership changes applied after the snapshot are replayed by the
  /// host through apply_conf_change() as it re-applies entries.
};

struct log_compaction {
  /// The snapshot to persist (created by the host through compact()).
  snapshot snap;
  /// Entries <= compact_index may be dropped from storage.
  log_index compact_index;
  term_t compact_term;
};

/// Effects the core wants carried out, in this order:
///  1. send messages whose wait fields are zero/false (may overlap step 2);
///  2. persist `snap`/`compaction`, `entries` (replacing any stored
///     entries with index >= entries.front().index) and `hard`;
///     fsync if must_sync;
///  3. send the remaining messages;
///  4. restore the state machine from `snap` if set, then apply
///     `committed_entries` in order (conf changes through
///     apply_conf_change());
///  5. hand `read_states` to their waiters once applied >= their index;
///  6. call advance().
struct ready {
  std::optional<soft_state> soft;
  std::optional<hard_state> hard;
  std::vector<entry> entries;
  std::optional<snapshot> snap;
  std::optional<log_compaction> compaction;
  std::vector<entry> committed_entries;
  std::vector<outbound_message> messages;
  std::vector<read_state> read_states;
  bool must_sync = false;
};

enum class step_error : std::uint8_t {
  ok = 0,
  proposal_dropped,  // no leader, transfer in progress, budget exceeded...
  invalid_message,   // malformed input: rejected, state unchanged
  not_member,
  conf_change_refused,
  read_dropped,
};

const char* to_string(step_error e);

struct step_result {
  step_error error = step_error::ok;
  std::string reason;
  bool ok() const { return error == step_error::ok; }
  static step_result success() { return {}; }
};

struct status {
  node_id id;
  hard_state hard;
  soft_state soft;
  log_index applied;
  log_index persisted;
  log_index last_index;
  log_index first_index;
  node_id lead_transferee;
  conf_state conf;
  std::uint64_t uncommitted_bytes = 0;
};

class core {
 public:
  core(const config& cfg, restored_state state);

  // --- inputs ---------------------------------------------------------
  void tick();
  /// A message from another replica. Malformed or foreign messages are
  /// rejected without changing state.
  step_result step(const message& m);
  step_result propose(bytes data);
  step_result propose_conf_change(const conf_change& cc);
  /// Asks for a linearizable read point; answered by a read_state with the
  /// same context in a later Ready (or never, if leadership is lost: the
  /// host times the request out).
  step_result read_index(bytes context);
  step_result transfer_leader(node_id to);
  /// Starts an election now (tests, forced failover).
  void campaign();
  void report_unreachable(node_id id);
  enum class snapshot_status : std::uint8_t { finished, failed };
  void report_snapshot(node_id id, snapshot_status st);
  /// Applies a committed conf change; returns the new membership. A change
  /// that does not apply to the current membership is skipped (the same way
  /// on every replica) and last_conf_change_error() says why.
  conf_state apply_conf_change(const conf_change& cc);
  const std::string& last_conf_change_error() const { return last_conf_change_error_; }
  /// Takes a snapshot of the state machine at the applied index and
  /// compacts the log, keeping `retain_entries` entries before it for slow
  /// followers. The next Ready carries the compaction to persist.
  step_result compact(bytes state_machine_data, std::uint64_t retain_entries);

  // --- output ---------------------------------------------------------
  bool has_ready() const;
  ready get_ready();
  void advance(const ready& rd);

  // --- observation ----------------------------------------------------
  status get_status() const;
  node_id id() const { return cfg_.id; }
  term_t term() const { return term_; }
  role state() const { return state_; }
  node_id leader() const { return lead_; }
  const raft_log& log() const { return log_; }
  const progress_tracker& tracker() const { return tracker_; }
  const snapshot& latest_snapshot() const { return snapshot_; }
  /// Index of the latest conf change a leader appended; a leader proposes
  /// no other until this index is applied.
  log_index pending_conf_index() const { return pending_conf_index_; }

  /// Checks R1-R6; aborts on violation. Called after every input.
  void check_invariants() const;

 private:
  enum class campaign_kind : std::uint8_t { pre_election, election, transfer };

  void become_follower(term_t term, node_id lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(term_t term);
  void reset_randomized_election_timeout();

  void tick_election();
  void tick_heartbeat();
  bool promotable() const;
  bool past_election_timeout() const;
  void hup(campaign_kind kind);
  void run_campaign(campaign_kind kind);
  vote_result poll(node_id id, message_type t, bool granted);

  step_result step_checked(const message& m);
  step_result step_leader(const message& m);
  step_result step_candidate(const message& m);
  step_result step_follower(const message& m);
  void handle_vote_request(const message& m);
  void handle_append(const message& m);
  void handle_heartbeat(const message& m);
  void handle_snapshot(const message& m);
  step_result leader_propose(const message& m);
  /// A proposal made on this replica, as a message so that a follower can
  /// forward it unchanged.
  message local_proposal(entry_type type, shared_bytes data) const;
  step_result propose_local(const message& m);
  step_result leader_read_index(const message& m);
  void leader_append_response(const message& m);
  void leader_heartbeat_response(const message& m);
  void leader_transfer(node_id transferee);
  void release_pending_reads();
  void answer_read(const message& req, log_index index);

  bool append_entries(std::vector<entry>& ents);
  bool maybe_commit();
  bool maybe_send_append(node_id to, bool send_if_empty);
  void send_append(node_id to) { maybe_send_append(to, true); }
  void bcast_append();
  void bcast_heartbeat(const bytes& context);
  void send_heartbeat(node_id to, const bytes& context);
  void send_timeout_now(node_id to);
  void send(message m);
  bool restore(const snapshot& s);
  void switch_to_config(progress_tracker t);
  std::string plan_conf_change(const conf_change& cc, progress_tracker& next) const;
  void abort_leader_transfer() { lead_transferee_ = no_node; }
  bool committed_entry_in_current_term() const;
  void reduce_uncommitted(const std::vector<entry>& committed);
  void maybe_auto_leave();
  step_result validate(const message& m) const;

  config cfg_;
  seeded_random random_;
  raft_log log_;
  snapshot snapshot_;
  progress_tracker tracker_;

  term_t term_;
  node_id vote_;
  node_id lead_;
  role state_ = role::follower;
  bool is_learner_ = false;

  std::uint64_t election_elapsed_ = 0;
  std::uint64_t heartbeat_elapsed_ = 0;
  std::uint64_t randomized_election_timeout_ = 0;

  node_id lead_transferee_;
  log_index pending_conf_index_;
  std::uint64_t uncommitted_bytes_ = 0;
  /// Proposals were appended; broadcast them with the next Ready.
  bool append_pending_ = false;

  // ReadIndex (safe mode: confirmed by a heartbeat round).
  struct pending_read {
    message request;
    log_index index;
    std::vector<node_id> acks;
  };
  std::map<bytes, pending_read> reads_by_context_;
  std::deque<bytes> read_queue_;
  std::vector<message> reads_waiting_for_commit_;

  // Output accumulated until get_ready().
  std::vector<outbound_message> msgs_;
  std::vector<read_state> read_states_;
  std::optional<log_compaction> pending_compaction_;
  bool snapshot_unpersisted_ = false;

  std::string last_conf_change_error_;

  hard_state prev_hard_;
  soft_state prev_soft_;

  // For R1/R2 checks.
  mutable term_t checked_term_;
};

}  // namespace cairn::raft
