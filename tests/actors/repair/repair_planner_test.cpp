// tests/actors/repair/repair_planner_test.cpp — the repair planner
// (invariants RP1-RP4 in actors/repair/repair_planner.h).
#include "actors/repair/repair_planner.h"

#include <gtest/gtest.h>

#include <set>

namespace cairn::repair {
namespace {

using placement::device_id;
using placement::device_state;

/// 4 nodes x 2 devices; device d lives on node d / 2.
placement::cluster_view view_of(std::set<std::uint64_t> failed = {}) {
  placement::cluster_view v;
  for (std::uint64_t d = 0; d < 8; ++d)
    v.devices.push_back({device_id{d}, placement::node_id{d / 2}, 1 << 30, 1 << 29,
                         failed.count(d) ? device_state::failed : device_state::in});
  return v;
}

stripe_state stripe_42(std::vector<shard_health> health) {
  stripe_state s;
  s.key = placement::stripe_key::from_u64(42);
  s.data_shards = 4;
  s.devices = {device_id{0}, device_id{2}, device_id{4}, device_id{6}, device_id{1}, device_id{3}};
  s.health = std::move(health);
  return s;
}

constexpr auto good = shard_health::good;

TEST(RepairPlanner, AHealthyStripeNeedsNothing) {
  const auto plan = plan_stripe(view_of(), stripe_42({good, good, good, good, good, good}));
  EXPECT_EQ(plan.outcome, stripe_plan::verdict::healthy);
  EXPECT_TRUE(plan.rebuilds.empty());
}

TEST(RepairPlanner, RP4ACorruptShardOnAWorkingDeviceIsRewrittenInPlaceFromKGoodShards) {
  const auto plan =
      plan_stripe(view_of(), stripe_42({good, shard_health::corrupt, good, good, good, good}));
  ASSERT_EQ(plan.outcome, stripe_plan::verdict::repair);
  ASSERT_EQ(plan.rebuilds.size(), 1u);
  EXPECT_EQ(plan.rebuilds[0].index, 1u);
  EXPECT_TRUE(plan.rebuilds[0].in_place);
  EXPECT_EQ(plan.rebuilds[0].target, device_id{2});
  EXPECT_EQ(plan.rebuilds[0].sources, (std::vector<std::uint32_t>{0, 2, 3, 4}));  // RP1
}

TEST(RepairPlanner, RP1ShardsOfFailedDevicesMoveToDistinctDevicesTheStripeDoesNotUse) {
  const auto stripe =
      stripe_42({good, shard_health::device_failed, good, good, good, shard_health::device_failed});
  const auto plan = plan_stripe(view_of({2, 3}), stripe);
  ASSERT_EQ(plan.outcome, stripe_plan::verdict::repair);
  ASSERT_EQ(plan.rebuilds.size(), 2u);
  std::set<std::uint64_t> used = {0, 4, 6, 1};
  for (const auto& r : plan.rebuilds) {
    EXPECT_FALSE(r.in_place);
    EXPECT_TRUE(used.insert(r.target.value).second) << "target reused: " << r.target.value;
    EXPECT_NE(r.target.value, 2u);
    EXPECT_NE(r.target.value, 3u);
    for (auto s : r.sources) EXPECT_EQ(stripe.health[s], good);
  }
}

TEST(RepairPlanner, RP2FewerThanKGoodShardsIsUnrecoverableNotRepaired) {
  const auto plan =
      plan_stripe(view_of(), stripe_42({good, shard_health::corrupt, shard_health::missing,
                                        shard_health::corrupt, good, good}));
  EXPECT_EQ(plan.outcome, stripe_plan::verdict::unrecoverable);
  EXPECT_TRUE(plan.rebuilds.empty());
  EXPECT_NE(plan.reason.find("3 good shards of 6, 4 needed"), std::string::npos) << plan.reason;
}

TEST(RepairPlanner, NoDeviceLeftForAShardIsReportedWithTheReason) {
  // Every device but the stripe's own has failed: nowhere to move to.
  const auto plan = plan_stripe(
      view_of({2, 5, 7}), stripe_42({good, shard_health::device_failed, good, good, good, good}));
  EXPECT_EQ(plan.outcome, stripe_plan::verdict::no_target);
  EXPECT_FALSE(plan.reason.empty());
}

TEST(RepairPlanner, ProgressIsCountedAndRendered) {
  repair_progress p;
  p.count(plan_stripe(view_of(), stripe_42({good, good, good, good, good, good})));
  p.count(plan_stripe(view_of(), stripe_42({good, shard_health::missing, good, good, good, good})));
  p.shards_rebuilt = 1;
  EXPECT_EQ(p.render(), "repair: 2 stripes seen, 1 degraded, 0 unrecoverable, 1/1 shards rebuilt");
}

}  // namespace
}  // namespace cairn::repair
