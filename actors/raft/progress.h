// actors/raft/progress.h — the leader's view of each follower, and the
// membership configuration it is tracked under.
//
// Owner: the Raft core (only a leader uses progress for replication; every
// role uses the configuration and vote tally).
//
// Invariants:
//  P1. match < next for every progress.
//  P2. In state `replicate`, the in-flight window holds at most
//      `inflight_messages_max` messages and `inflight_bytes_max` bytes
//      (bytes may be exceeded by a single message, never by two).
//  P3. In state `snapshot`, nothing but the snapshot is in flight.
//  P4. A node is never both a voter (either half) and a learner.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "actors/raft/quorum.h"
#include "actors/raft/types.h"

namespace cairn::raft {

/// Bounded ring of (last index, bytes) per in-flight append message.
class inflights {
 public:
  inflights(std::size_t messages_max, std::uint64_t bytes_max);

  void add(log_index last_index, std::uint64_t bytes);
  /// Frees every in-flight message whose last index is <= `to`.
  void free_le(log_index to);
  void reset();
  void free_first_one();
  bool full() const;
  std::size_t count() const { return count_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  struct slot {
    log_index last;
    std::uint64_t bytes = 0;
  };
  std::vector<slot> ring_;
  std::size_t start_ = 0;
  std::size_t count_ = 0;
  std::uint64_t bytes_ = 0;
  std::size_t messages_max_;
  std::uint64_t bytes_max_;
};

enum class progress_state : std::uint8_t { probe, replicate, snapshot };

const char* to_string(progress_state s);

struct progress {
  progress(log_index next, std::size_t inflight_messages_max, std::uint64_t inflight_bytes_max,
           bool learner)
      : next(next), inflight(inflight_messages_max, inflight_bytes_max), is_learner(learner) {}

  log_index match{0};
  log_index next{1};
  progress_state state = progress_state::probe;
  /// In state snapshot: the index of the snapshot being sent.
  log_index pending_snapshot{0};
  /// In state snapshot: ticks since the snapshot was sent.
  std::uint64_t snapshot_elapsed_ticks = 0;
  /// Heard from since the last check-quorum round.
  bool recent_active = false;
  /// In state probe: one append was sent and no answer or heartbeat came
  /// back yet. In state replicate: the in-flight window is full.
  bool msg_app_flow_paused = false;
  inflights inflight;
  bool is_learner = false;

  void become_probe();
  void become_replicate();
  void become_snapshot(log_index snapshot_index);
  /// Records that entries up to `last` (with `bytes` payload) were sent.
  void sent_entries(std::size_t count, std::uint64_t bytes, log_index last);
  /// The follower acknowledged `n`; returns true if match advanced.
  bool maybe_update(log_index n);
  /// The follower rejected an append at `rejected`; `hint` is the highest
  /// index it may have in common. Returns true if the rejection was not
  /// stale and `next` moved back.
  bool maybe_decrease_to(log_index rejected, log_index hint);
  bool is_paused() const;
};

/// Membership plus per-node progress and the current election's votes.
class progress_tracker {
 public:
  progress_tracker(std::size_t inflight_messages_max, std::uint64_t inflight_bytes_max);

  joint_config voters;
  std::vector<node_id> learners;       // sorted
  std::vector<node_id> learners_next;  // sorted; see conf_state
  bool auto_leave = false;
  std::map<node_id, progress> nodes;  // every voter and learner

  conf_state to_conf_state() const;
  bool is_learner(node_id id) const;
  bool is_voter(node_id id) const { return voters.contains(id); }
  /// True if `id` is a voter or learner of this configuration.
  bool is_member(node_id id) const { return nodes.count(id) != 0; }
  /// A group of one voter: the leader commits alone.
  bool is_singleton() const;

  /// Largest index durable on a quorum of voters (uses progress.match).
  log_index committed() const;
  /// Check-quorum: the voters heard from since the last reset form a quorum.
  bool quorum_active() const;

  void reset_votes() { votes_.clear(); }
  void record_vote(node_id id, bool granted);
  vote_result tally(std::size_t* granted, std::size_t* rejected) const;

  /// Calls f(id, progress&) for each member in id order.
  template <class F>
  void visit(F&& f) {
    for (auto& [id, pr] : nodes) f(id, pr);
  }

  std::size_t inflight_messages_max() const { return inflight_messages_max_; }
  std::uint64_t inflight_bytes_max() const { return inflight_bytes_max_; }

 private:
  std::map<node_id, bool> votes_;
  std::size_t inflight_messages_max_;
  std::uint64_t inflight_bytes_max_;
};

}  // namespace cairn::raft
