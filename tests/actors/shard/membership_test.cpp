// tests/actors/shard/membership_test.cpp — the membership planner
// (actors/shard/membership.h) on real Raft cores (sim/core_cluster):
// learners first, promotion only when caught up, a joint swap that keeps
// the group's size, and one change at a time (M1-M3).
#include "actors/shard/membership.h"

#include <gtest/gtest.h>

#include "sim/core_cluster.h"

namespace cairn::shard {
namespace {

using namespace cairn::raft;
using sim::core_cluster;

membership_target target(std::initializer_list<std::uint64_t> voters,
                         std::initializer_list<std::uint64_t> learners = {}) {
  membership_target t;
  for (auto v : voters) t.voters.push_back(node_id{v});
  for (auto l : learners) t.learners.push_back(node_id{l});
  return t;
}

void settle(core_cluster& c) {
  for (int i = 0; i < 10; ++i) {
    c.process_ready();
    c.deliver_all();
  }
  c.process_ready();
}

/// Plans one step on the leader, proposes it, and lets it commit and apply.
std::optional<membership_step> step(core_cluster& c, std::uint64_t leader,
                                    const membership_target& t) {
  auto s = plan_membership_step(c.node(leader), t);
  if (s) {
    EXPECT_TRUE(c.node(leader).propose_conf_change(s->change).ok()) << s->why;
    // M1: nothing more is planned until this change is applied.
    EXPECT_FALSE(plan_membership_step(c.node(leader), t)) << "planned twice: " << s->why;
    settle(c);
    c.tick_all();  // heartbeats move probing learners to replicate
    settle(c);
  }
  return s;
}

std::vector<node_id> ids(std::initializer_list<std::uint64_t> v) {
  std::vector<node_id> out;
  for (auto x : v) out.push_back(node_id{x});
  return out;
}

TEST(MembershipPlanner, OnlyTheLeaderPlans) {
  core_cluster c(3, 7);
  c.elect(1);
  settle(c);
  EXPECT_FALSE(plan_membership_step(c.node(2), target({1, 2, 3, 4})));
  EXPECT_FALSE(plan_membership_step(c.node(1), target({1, 2, 3})));  // nothing to do
  EXPECT_FALSE(plan_membership_step(c.node(1), target({})));         // never empty
}

TEST(MembershipPlanner, ANewNodeLearnsFirstAndIsPromotedOnlyOnceCaughtUp) {
  core_cluster c(3, 11);
  c.elect(1);
  settle(c);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.node(1).propose("x" + std::to_string(i)).ok());
  settle(c);
  c.add_node(4, conf_state{});
  c.isolate(4, true);  // cannot catch up yet
  auto s = step(c, 1, target({1, 2, 3, 4}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->why, "add node 4 as a learner");
  EXPECT_EQ(c.node(1).get_status().conf.learners, ids({4}));
  // M2: an isolated learner is not caught up, so it is not promoted.
  EXPECT_FALSE(plan_membership_step(c.node(1), target({1, 2, 3, 4})));
  c.isolate(4, false);
  for (int i = 0; i < 3; ++i) {
    c.tick_all();
    settle(c);
  }
  s = step(c, 1, target({1, 2, 3, 4}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->why, "promote caught-up learner 4");
  EXPECT_EQ(c.node(1).get_status().conf.voters, ids({1, 2, 3, 4}));
  EXPECT_FALSE(plan_membership_step(c.node(1), target({1, 2, 3, 4})));
}

TEST(MembershipPlanner, AReplacementIsSwappedInOneJointChange) {
  core_cluster c(3, 13);
  c.elect(1);
  settle(c);
  c.add_node(4, conf_state{});
  const auto t = target({1, 2, 4});
  auto s = step(c, 1, t);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->why, "add node 4 as a learner");
  for (int i = 0; i < 3; ++i) {
    c.tick_all();
    settle(c);
  }
  s = step(c, 1, t);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->why, "promote caught-up learner 4 and remove voter 3");
  ASSERT_EQ(s->change.changes.size(), 2u);
  for (int i = 0; i < 3; ++i) {
    c.tick_all();
    settle(c);
  }
  const auto conf = c.node(1).get_status().conf;
  EXPECT_EQ(conf.voters, ids({1, 2, 4}));
  EXPECT_TRUE(conf.voters_outgoing.empty());
  EXPECT_FALSE(plan_membership_step(c.node(1), t));
}

TEST(MembershipPlanner, UnwantedVotersAndLearnersAreRemovedOneByOne) {
  core_cluster c(3, 17);
  c.elect(1);
  settle(c);
  auto s = step(c, 1, target({1, 2}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->why, "remove voter 3");
  EXPECT_EQ(c.node(1).get_status().conf.voters, ids({1, 2}));
  s = step(c, 1, target({1}, {2}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->why, "demote voter 2 to learner");
  s = step(c, 1, target({1}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->why, "remove learner 2");
  EXPECT_EQ(c.node(1).get_status().conf.voters, ids({1}));
  EXPECT_TRUE(c.node(1).get_status().conf.learners.empty());
}

}  // namespace
}  // namespace cairn::shard
