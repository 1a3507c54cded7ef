// actors/raft/quorum.h — majority and joint quorum arithmetic.
//
// Owner: the Raft core. Pure functions over small sorted vectors of ids;
// no allocation beyond the answer.
//
// Invariants:
//  Q1. A majority config of n voters needs floor(n/2)+1 acks; an empty one
//      is satisfied by anything (so a joint config with an empty outgoing
//      half behaves like its incoming half).
//  Q2. A joint config's committed index is the minimum of its halves'.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "actors/raft/types.h"

namespace cairn::raft {

enum class vote_result : std::uint8_t { pending, lost, won };

/// Looks up a voter's acknowledged index; returns false if unknown.
using ack_lookup = std::function<bool(node_id, log_index&)>;

class majority_config {
 public:
  majority_config() = default;
  explicit majority_config(std::vector<node_id> ids);

  const std::vector<node_id>& ids() const { return ids_; }
  bool contains(node_id id) const;
  bool empty() const { return ids_.empty(); }
  std::size_t size() const { return ids_.size(); }
  void insert(node_id id);
  void erase(node_id id);

  /// Largest index acknowledged by a majority (Q1). Empty config: max index.
  log_index committed_index(const ack_lookup& acked) const;

  /// votes: true = granted, false = rejected, absent = not yet answered.
  vote_result vote(const std::function<std::optional<bool>(node_id)>& votes) const;

  friend bool operator==(const majority_config&, const majority_config&) = default;

 private:
  std::vector<node_id> ids_;  // sorted, unique
};

class joint_config {
 public:
  majority_config incoming;
  majority_config outgoing;

  bool contains(node_id id) const { return incoming.contains(id) || outgoing.contains(id); }
  bool is_joint() const { return !outgoing.empty(); }
  /// Union of both halves, sorted.
  std::vector<node_id> ids() const;
  log_index committed_index(const ack_lookup& acked) const;
  vote_result vote(const std::function<std::optional<bool>(node_id)>& votes) const;

  friend bool operator==(const joint_config&, const joint_config&) = default;
};

}  // namespace cairn::raft
