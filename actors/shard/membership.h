// actors/shard/membership.h — plans the next membership change that moves
// a shard's Raft configuration toward the replica set the cluster map asks
// for: add missing replicas as learners, promote them once caught up,
// then remove replicas that are no longer wanted. Pure: reads a core,
// returns at most one change.
//
// Owner: the shard replica (replica.cpp) on its leader, asked by the
// node's controller (runtime/node.cpp) with the target from the map.
//
// Invariants:
//  M1. At most one change at a time: nothing is planned while the core is
//      not the leader, is in a joint configuration, or has a conf change
//      appended but not applied.
//  M2. A node becomes a voter only as a learner that has caught up
//      (progress in the replicate state, match within `lag_entries` of
//      the leader's last index), so a promotion never stalls commits.
//  M3. A voter is removed only when the voters left still include every
//      target voter already caught up, and never when it would leave no
//      voter.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actors/raft/core.h"

namespace cairn::shard {

struct membership_target {
  std::vector<raft::node_id> voters;
  std::vector<raft::node_id> learners;
};

struct membership_step {
  raft::conf_change change;
  std::string why;
};

std::optional<membership_step> plan_membership_step(const raft::core& core,
                                                    const membership_target& target,
                                                    std::uint64_t lag_entries = 16);

}  // namespace cairn::shard
