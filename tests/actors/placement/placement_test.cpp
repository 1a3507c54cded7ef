// tests/actors/placement/placement_test.cpp — the placement planner
// (actors/placement/placement.h): failure domains, weights, determinism and
// movement when devices join and leave. Tests are named after invariants
// PL1-PL8 (docs/placement.md). Properties run with a pinned rapidcheck seed
// (tests/CMakeLists.txt); examples use fixed keys, so every run is the same.
#include "actors/placement/placement.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace cairn::placement {

void showValue(device_id d, std::ostream& os) {
  os << "device " << d.value;
}
void PrintTo(device_id d, std::ostream* os) {
  *os << "device " << d.value;
}

void showValue(const device& d, std::ostream& os) {
  static const char* states[] = {"in", "draining", "out", "failed"};
  os << "{device " << d.id.value << " node " << d.node.value << " " << d.free_bytes << "/"
     << d.capacity_bytes << " " << states[static_cast<int>(d.state)] << "}";
}

namespace {

constexpr std::uint64_t gib = std::uint64_t{1} << 30;

device in_device(std::uint64_t id, std::uint64_t node, std::uint64_t free_bytes,
                 std::uint64_t capacity_bytes = 1024 * gib) {
  return device{device_id{id}, node_id{node}, capacity_bytes, free_bytes, device_state::in};
}

/// `nodes` nodes with `per_node` devices each, all `in`, same free bytes.
/// Device ids: node * 100 + slot.
cluster_view uniform_view(std::uint64_t nodes, std::uint64_t per_node,
                          std::uint64_t free_bytes = 512 * gib) {
  cluster_view v;
  for (std::uint64_t n = 1; n <= nodes; ++n) {
    for (std::uint64_t s = 0; s < per_node; ++s)
      v.devices.push_back(in_device(n * 100 + s, n, free_bytes));
  }
  return v;
}

const device* find_device(const cluster_view& v, device_id id) {
  for (const device& d : v.devices) {
    if (d.id == id) return &d;
  }
  return nullptr;
}

/// PL2 restated: `in`, and used bytes below 99% of capacity (rounded down).
/// Test capacities stay below 2^57, so the product cannot overflow.
bool eligible(const device& d) {
  const std::uint64_t used = d.capacity_bytes - d.free_bytes;
  return d.state == device_state::in && used < d.capacity_bytes * device_full_percent / 100;
}

std::map<node_id, std::uint32_t> eligible_devices_per_node(const cluster_view& v) {
  std::map<node_id, std::uint32_t> m;
  for (const device& d : v.devices) {
    if (eligible(d)) ++m[d.node];
  }
  return m;
}

std::size_t eligible_count(const cluster_view& v) {
  return static_cast<std::size_t>(std::count_if(v.devices.begin(), v.devices.end(),
                                                [](const device& d) { return eligible(d); }));
}

std::map<node_id, std::uint32_t> nodes_of(const cluster_view& v, const shard_devices& a) {
  std::map<node_id, std::uint32_t> m;
  for (device_id id : a) {
    if (const device* d = find_device(v, id)) ++m[d->node];
  }
  return m;
}

std::vector<device_id> sorted(std::vector<device_id> v) {
  std::sort(v.begin(), v.end());
  return v;
}

bool distinct(const shard_devices& a) {
  auto s = sorted(a);
  return std::adjacent_find(s.begin(), s.end()) == s.end();
}

void set_state(cluster_view& v, device_id id, device_state state) {
  for (device& d : v.devices) {
    if (d.id == id) d.state = state;
  }
}

// ---- generators (used inside properties) ----------------------------------------

stripe_key arbitrary_key() {
  stripe_key k;
  for (auto& b : k.bytes) b = *rc::gen::arbitrary<std::uint8_t>();
  return k;
}

/// A view of [nodes_min, nodes_max] nodes with 1-4 devices each, mixed
/// capacities, fullness and states. With `every_node_eligible`, each node's
/// first device is `in` and below the refusal threshold. Device ids are
/// random in their high bits and unique by their low 12 bits.
cluster_view arbitrary_view(int nodes_min, int nodes_max, bool every_node_eligible) {
  cluster_view v;
  const int nodes = *rc::gen::inRange(nodes_min, nodes_max + 1);
  std::uint64_t serial = 0;
  for (int n = 0; n < nodes; ++n) {
    const node_id node{*rc::gen::inRange<std::uint64_t>(1, 1u << 20) * 64 + n};
    const int per_node = *rc::gen::inRange(1, 5);
    for (int s = 0; s < per_node; ++s) {
      device d;
      d.id =
          device_id{(*rc::gen::inRange<std::uint64_t>(1, std::uint64_t{1} << 40) << 12) | serial++};
      d.node = node;
      d.capacity_bytes = *rc::gen::inRange<std::uint64_t>(gib, 4096 * gib);
      const auto free_percent = *rc::gen::weightedElement<std::uint64_t>(
          {{1, 0}, {1, 1}, {2, 2}, {16, 50}, {16, 90}, {8, 100}});
      d.free_bytes = d.capacity_bytes / 100 * free_percent;
      d.state = *rc::gen::weightedElement<device_state>({{34, device_state::in},
                                                         {2, device_state::draining},
                                                         {2, device_state::out},
                                                         {2, device_state::failed}});
      if (every_node_eligible && s == 0) {
        d.state = device_state::in;
        d.free_bytes = std::max(d.free_bytes, d.capacity_bytes / 2);
      }
      v.devices.push_back(d);
    }
  }
  return v;
}

device arbitrary_new_device(const cluster_view& v) {
  device d;
  d.id = device_id{(*rc::gen::inRange<std::uint64_t>(1, std::uint64_t{1} << 40) << 12) | 4095};
  const bool new_node = v.devices.empty() || *rc::gen::arbitrary<bool>();
  d.node = new_node ? node_id{(std::uint64_t{1} << 40) + 1}
                    : v.devices[*rc::gen::inRange<std::size_t>(0, v.devices.size())].node;
  d.capacity_bytes = *rc::gen::inRange<std::uint64_t>(gib, 4096 * gib);
  d.free_bytes = d.capacity_bytes / 100 * *rc::gen::inRange<std::uint64_t>(5, 101);
  d.state = device_state::in;
  return d;
}

// ---- PL1: determinism ------------------------------------------------------------------

RC_GTEST_PROP(Placement, PL1SameViewInAnyOrderGivesTheSameAnswer, ()) {
  const cluster_view view = arbitrary_view(1, 12, false);
  const stripe_key key = arbitrary_key();
  const auto width = *rc::gen::inRange<std::uint32_t>(1, 10);
  cluster_view shuffled = view;
  std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
  std::shuffle(shuffled.devices.begin(), shuffled.devices.end(), rng);

  const auto a = place(view, key, width);
  const auto b = place(shuffled, key, width);
  RC_ASSERT(a.error == b.error);
  RC_ASSERT(a.value == b.value);
  RC_ASSERT(target_devices(view, key, width).value == target_devices(shuffled, key, width).value);
  if (!a.ok()) return;
  // An existing stripe that lost its first device: same plan in any order.
  cluster_view lost = view;
  set_state(lost, a.value[0], device_state::failed);
  cluster_view lost_shuffled = lost;
  std::shuffle(lost_shuffled.devices.begin(), lost_shuffled.devices.end(), rng);
  const auto r1 = rebalance(lost, key, a.value);
  const auto r2 = rebalance(lost_shuffled, key, a.value);
  RC_ASSERT(r1.error == r2.error);
  RC_ASSERT(r1.value == r2.value);
  const auto p1 = replace(lost, key, a.value, 0);
  const auto p2 = replace(lost_shuffled, key, a.value, 0);
  RC_ASSERT(p1.error == p2.error);
  RC_ASSERT(p1.value == p2.value);
}

// A fixed view and key give a fixed answer on every machine and compiler:
// if this changes, data already written would be looked for in the wrong
// place. Only change the expectation with a migration plan.
TEST(Placement, PL1FixedViewAndKeyGiveAFixedAnswer) {
  cluster_view view = uniform_view(8, 3);
  for (std::size_t i = 0; i < view.devices.size(); ++i) {
    view.devices[i].free_bytes = (100 + 37 * i % 400) * gib;
  }
  const auto a = place(view, stripe_key::from_u64(20261122), 6);
  ASSERT_TRUE(a.ok()) << a.message;
  const shard_devices expected = {device_id{800}, device_id{502}, device_id{402},
                                  device_id{201}, device_id{701}, device_id{300}};
  EXPECT_EQ(a.value, expected);
  const auto t = target_devices(view, stripe_key::from_u64(7), 4);
  ASSERT_TRUE(t.ok()) << t.message;
  const std::vector<device_id> expected_target = {device_id{502}, device_id{102}, device_id{301},
                                                  device_id{202}};
  EXPECT_EQ(t.value, expected_target);
  stripe_key every_byte;  // all 32 bytes enter the digest
  for (std::size_t i = 0; i < every_byte.bytes.size(); ++i) {
    every_byte.bytes[i] = static_cast<std::uint8_t>(0xA0 + i);
  }
  const auto b = place(view, every_byte, 3);
  ASSERT_TRUE(b.ok()) << b.message;
  const shard_devices expected_b = {device_id{100}, device_id{400}, device_id{502}};
  EXPECT_EQ(b.value, expected_b);
}

// ---- PL2-PL4: eligibility, distinct devices, failure domains ----------------------

RC_GTEST_PROP(Placement, PL2PL3PL4EligibleDistinctDevicesWithinTheNodeLimit, ()) {
  const cluster_view view = arbitrary_view(1, 12, false);
  const stripe_key key = arbitrary_key();
  const auto width = *rc::gen::inRange<std::uint32_t>(1, 13);
  const auto r = place(view, key, width);
  const auto per_node = eligible_devices_per_node(view);
  if (eligible_count(view) < width) {
    RC_ASSERT(r.error == placement_error::not_enough_devices);
    RC_ASSERT(!r.message.empty());
    return;
  }
  RC_ASSERT(r.ok());
  RC_ASSERT(r.value.size() == width);
  RC_ASSERT(distinct(r.value));
  for (device_id id : r.value) {
    const device* d = find_device(view, id);
    RC_ASSERT(d != nullptr);
    RC_ASSERT(eligible(*d));
  }
  const auto limit = shards_per_node_max(view, width);
  RC_ASSERT(limit.ok());
  for (const auto& [node, count] : nodes_of(view, r.value)) RC_ASSERT(count <= limit.value);
  if (per_node.size() >= width) {
    RC_TAG("distinct nodes");
    RC_ASSERT(limit.value == 1u);
    RC_ASSERT(nodes_of(view, r.value).size() == width);
  } else {
    RC_TAG("shared nodes");
    // The limit is the smallest the devices allow.
    auto room = [&](std::uint32_t c) {
      std::uint64_t sum = 0;
      for (const auto& [node, count] : per_node) sum += std::min(count, c);
      return sum;
    };
    RC_ASSERT(room(limit.value) >= width);
    RC_ASSERT(limit.value == 1u || room(limit.value - 1) < width);
    const std::uint32_t even =
        static_cast<std::uint32_t>((width + per_node.size() - 1) / per_node.size());
    const bool every_node_has_room = std::all_of(per_node.begin(), per_node.end(),
                                                 [&](const auto& p) { return p.second >= even; });
    if (every_node_has_room) RC_ASSERT(limit.value == even);
  }
}

TEST(Placement, PL2NeverChoosesFullDrainingOutFailedOrEmptyDevices) {
  cluster_view view = uniform_view(8, 2);
  // Node 1: one device draining, one failed. Node 2: one out, one empty.
  // Node 3: one at exactly 99% used, one at 98% (eligible).
  view.devices[0].state = device_state::draining;
  view.devices[1].state = device_state::failed;
  view.devices[2].state = device_state::out;
  view.devices[3].free_bytes = 0;
  view.devices[4].capacity_bytes = 1000 * gib;
  view.devices[4].free_bytes = 10 * gib;  // 99.0% used
  view.devices[5].capacity_bytes = 1000 * gib;
  view.devices[5].free_bytes = 20 * gib;  // 98.0% used
  const std::set<device_id> never = {device_id{100}, device_id{101}, device_id{200}, device_id{201},
                                     device_id{300}};
  int chosen_98 = 0;
  for (std::uint64_t k = 0; k < 3000; ++k) {
    const auto r = place(view, stripe_key::from_u64(k), 6);
    ASSERT_TRUE(r.ok()) << r.message;
    for (device_id d : r.value) {
      EXPECT_EQ(never.count(d), 0u) << "device " << d.value;
      chosen_98 += d == device_id{301};
    }
  }
  EXPECT_GT(chosen_98, 0);
  EXPECT_EQ(shards_per_node_max(view, 6).value, 1u);  // 6 eligible nodes remain
}

TEST(Placement, PL4ThreeNodesOfFourDevicesTakeTwoShardsEach) {
  const cluster_view view = uniform_view(3, 4);
  EXPECT_EQ(shards_per_node_max(view, 6).value, 2u);
  for (std::uint64_t k = 0; k < 200; ++k) {
    const auto r = place(view, stripe_key::from_u64(k), 6);
    ASSERT_TRUE(r.ok()) << r.message;
    for (const auto& [node, count] : nodes_of(view, r.value)) EXPECT_EQ(count, 2u);
  }
}

TEST(Placement, PL4UnevenNodesStillPlaceWhenDevicesSuffice) {
  // Node 1 has five devices, node 2 one: width 6 needs five on node 1.
  cluster_view view;
  for (std::uint64_t s = 0; s < 5; ++s) view.devices.push_back(in_device(100 + s, 1, 100 * gib));
  view.devices.push_back(in_device(200, 2, 100 * gib));
  EXPECT_EQ(shards_per_node_max(view, 6).value, 5u);
  const auto r = place(view, stripe_key::from_u64(1), 6);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(sorted(r.value),
            (std::vector<device_id>{device_id{100}, device_id{101}, device_id{102}, device_id{103},
                                    device_id{104}, device_id{200}}));
  // Width 4 fits two per node... but node 2 has only one: limit 3.
  EXPECT_EQ(shards_per_node_max(view, 4).value, 3u);
}

TEST(Placement, RejectsBadInputWithAReason) {
  const cluster_view view = uniform_view(4, 1);
  EXPECT_EQ(place(view, stripe_key::from_u64(1), 0).error, placement_error::bad_width);
  EXPECT_EQ(place(view, stripe_key::from_u64(1), width_max + 1).error, placement_error::bad_width);

  const auto short_view = place(view, stripe_key::from_u64(1), 6);
  EXPECT_EQ(short_view.error, placement_error::not_enough_devices);
  EXPECT_NE(short_view.message.find("4 on 4 nodes"), std::string::npos) << short_view.message;

  cluster_view twice = view;
  twice.devices.push_back(twice.devices[0]);
  EXPECT_EQ(place(twice, stripe_key::from_u64(1), 2).error, placement_error::bad_view);
  cluster_view overfull = view;
  overfull.devices[0].free_bytes = overfull.devices[0].capacity_bytes + 1;
  EXPECT_EQ(place(overfull, stripe_key::from_u64(1), 2).error, placement_error::bad_view);

  const shard_devices dup = {device_id{100}, device_id{100}};
  EXPECT_EQ(rebalance(view, stripe_key::from_u64(1), dup).error, placement_error::bad_current);
  EXPECT_EQ(replace(view, stripe_key::from_u64(1), dup, 0).error, placement_error::bad_current);
  const shard_devices two = {device_id{100}, device_id{200}};
  EXPECT_EQ(replace(view, stripe_key::from_u64(1), two, 2).error, placement_error::bad_index);
  EXPECT_EQ(rebalance(view, stripe_key::from_u64(1), {}).error, placement_error::bad_width);
  EXPECT_EQ(to_string(placement_error::not_enough_devices), "not_enough_devices");
}

// ---- PL5: weights ---------------------------------------------------------------------

// With one shard, a device is chosen with probability weight / total weight.
TEST(Placement, PL5WidthOneFollowsWritableBytes) {
  cluster_view view;
  std::uint64_t total = 0;
  for (std::uint64_t n = 1; n <= 10; ++n) {
    // writable = free - 1% of capacity: n * 10 GiB.
    view.devices.push_back(in_device(n, n, n * 10 * gib + 10 * gib, 1000 * gib));
    total += n;
  }
  constexpr std::uint64_t keys = 60'000;
  std::map<device_id, std::uint64_t> count;
  for (std::uint64_t k = 0; k < keys; ++k)
    ++count[place(view, stripe_key::from_u64(k), 1).value[0]];
  for (std::uint64_t n = 1; n <= 10; ++n) {
    const double expected = static_cast<double>(keys) * n / total;
    EXPECT_NEAR(count[device_id{n}] / expected, 1.0, 0.07) << "device " << n;
  }
}

// Within a node, devices share the node's shards in proportion to weight.
TEST(Placement, PL5DevicesOfANodeShareItsShardsByWeight) {
  cluster_view view = uniform_view(10, 1, 300 * gib);
  view.devices.push_back(in_device(1001, 1, 100 * gib + 1024 * gib / 100, 1024 * gib));
  view.devices.push_back(in_device(1002, 1, 300 * gib + 1024 * gib / 100, 1024 * gib));
  view.devices.erase(view.devices.begin());  // node 1 keeps only the two above
  std::map<device_id, double> count;
  for (std::uint64_t k = 0; k < 25'000; ++k) {
    for (device_id d : place(view, stripe_key::from_u64(k), 4).value) ++count[d];
  }
  EXPECT_NEAR(count[device_id{1002}] / count[device_id{1001}], 3.0, 0.2);
}

// With several shards per stripe a device's share saturates (a node holds
// at most one shard of a stripe): heavier devices get more, a little less
// than in proportion. Measured here and reported in docs/placement.md.
TEST(Placement, PL5WidthSixOfTwentyNodesFollowsWeightsRoughly) {
  cluster_view view;
  for (std::uint64_t n = 1; n <= 20; ++n) {
    const std::uint64_t writable = (n <= 10 ? 100 : 200) * gib;
    view.devices.push_back(in_device(n, n, writable + 10 * gib, 1000 * gib));
  }
  constexpr std::uint64_t keys = 15'000;
  std::map<device_id, double> count;
  for (std::uint64_t k = 0; k < keys; ++k) {
    for (device_id d : place(view, stripe_key::from_u64(k), 6).value) ++count[d];
  }
  double light = 0;
  double heavy = 0;
  for (std::uint64_t n = 1; n <= 20; ++n) (n <= 10 ? light : heavy) += count[device_id{n}];
  const double ratio = heavy / light;
  std::cout << "width 6 of 20 nodes, weights 1:2 -> shard ratio " << ratio << "\n";
  EXPECT_GT(ratio, 1.6);
  EXPECT_LE(ratio, 2.05);
  for (std::uint64_t n = 1; n <= 20; ++n) {
    const double group_mean = (n <= 10 ? light : heavy) / 10;
    EXPECT_NEAR(count[device_id{n}] / group_mean, 1.0, 0.05) << "device " << n;
  }
}

// ---- PL6, PL7: movement ---------------------------------------------------------------

RC_GTEST_PROP(Placement, PL6PL7AJoinMovesAtMostOneShardOntoTheNewDevice, ()) {
  const cluster_view before = arbitrary_view(1, 12, true);
  const stripe_key key = arbitrary_key();
  const auto width = *rc::gen::inRange<std::uint32_t>(1, 10);
  const auto current = place(before, key, width);
  RC_PRE(current.ok());
  const device joining = arbitrary_new_device(before);
  cluster_view after = before;
  after.devices.push_back(joining);
  RC_PRE(shards_per_node_max(before, width).value == shards_per_node_max(after, width).value);
  RC_TAG(eligible_devices_per_node(before).size() >= width ? "distinct nodes" : "shared nodes");

  const auto next = rebalance(after, key, current.value);
  RC_ASSERT(next.ok());
  int moved = 0;
  for (std::uint32_t i = 0; i < width; ++i) {
    if (next.value[i] != current.value[i]) {
      ++moved;
      RC_ASSERT(next.value[i] == joining.id);
    }
  }
  RC_ASSERT(moved <= 1);
  RC_ASSERT(sorted(next.value) == sorted(target_devices(after, key, width).value));
}

RC_GTEST_PROP(Placement, PL6PL7ALeaveMovesOnlyTheShardOnTheLeavingDevice, ()) {
  const cluster_view before = arbitrary_view(1, 12, true);
  const stripe_key key = arbitrary_key();
  const auto width = *rc::gen::inRange<std::uint32_t>(1, 10);
  const auto current = place(before, key, width);
  RC_PRE(current.ok());
  // Half the time a device of the stripe leaves, else any device.
  const device_id leaving =
      *rc::gen::arbitrary<bool>()
          ? current.value[*rc::gen::inRange<std::uint32_t>(0, width)]
          : before.devices[*rc::gen::inRange<std::size_t>(0, before.devices.size())].id;
  cluster_view after = before;
  const auto how = *rc::gen::element(0, 1, 2, 3);
  if (how == 0) {
    after.devices.erase(std::find_if(after.devices.begin(), after.devices.end(),
                                     [&](const device& d) { return d.id == leaving; }));
  } else {
    set_state(after, leaving,
              how == 1   ? device_state::failed
              : how == 2 ? device_state::out
                         : device_state::draining);
  }
  const auto limit_after = shards_per_node_max(after, width);
  RC_PRE(limit_after.ok() && limit_after.value == shards_per_node_max(before, width).value);
  const bool held =
      std::find(current.value.begin(), current.value.end(), leaving) != current.value.end();
  RC_TAG(held ? "stripe held it" : "stripe did not hold it");

  const auto next = rebalance(after, key, current.value);
  RC_ASSERT(next.ok());
  for (std::uint32_t i = 0; i < width; ++i) {
    if (current.value[i] == leaving) {
      RC_ASSERT(next.value[i] != leaving);
    } else {
      RC_ASSERT(next.value[i] == current.value[i]);
    }
  }
  RC_ASSERT(sorted(next.value) == sorted(target_devices(after, key, width).value));
}

// rebalance() of a stripe already in place is the identity; after any
// change of view its devices are the target set, and kept shards stay.
RC_GTEST_PROP(Placement, PL7RebalanceKeepsShardsInTheTargetSet, ()) {
  const cluster_view view = arbitrary_view(1, 12, false);
  const stripe_key key = arbitrary_key();
  const auto width = *rc::gen::inRange<std::uint32_t>(1, 8);
  const auto a = place(view, key, width);
  RC_PRE(a.ok());
  RC_ASSERT(rebalance(view, key, a.value).value == a.value);
  const cluster_view other = arbitrary_view(1, 12, false);
  shard_devices mixed = a.value;  // some devices of another view
  for (std::uint32_t i = 0; i < width && i < other.devices.size(); i += 2) {
    if (std::find(mixed.begin(), mixed.end(), other.devices[i].id) == mixed.end()) {
      mixed[i] = other.devices[i].id;
    }
  }
  const auto next = rebalance(view, key, mixed);
  RC_ASSERT(next.ok());
  const auto target = sorted(target_devices(view, key, width).value);
  RC_ASSERT(sorted(next.value) == target);
  for (std::uint32_t i = 0; i < width; ++i) {
    if (std::binary_search(target.begin(), target.end(), mixed[i]))
      RC_ASSERT(next.value[i] == mixed[i]);
  }
}

// Two shards lost at once: each open index takes the new target device on
// its old device's node when there is one (a copy inside the node).
TEST(Placement, PL7RebalancePrefersACopyInsideTheNode) {
  const cluster_view view = uniform_view(8, 2);
  int checked = 0;
  for (std::uint64_t k = 0; k < 400; ++k) {
    const stripe_key key = stripe_key::from_u64(k);
    const shard_devices current = place(view, key, 6).value;
    cluster_view after = view;
    set_state(after, current[0], device_state::failed);
    set_state(after, current[1], device_state::failed);
    const auto target = sorted(target_devices(after, key, 6).value);
    auto sibling = [&](device_id d) { return device_id{d.value ^ 1}; };  // slot 0 <-> 1
    if (!std::binary_search(target.begin(), target.end(), sibling(current[0])) ||
        !std::binary_search(target.begin(), target.end(), sibling(current[1]))) {
      continue;
    }
    ++checked;
    const auto next = rebalance(after, key, current);
    ASSERT_TRUE(next.ok()) << next.message;
    EXPECT_EQ(next.value[0], sibling(current[0])) << "key " << k;
    EXPECT_EQ(next.value[1], sibling(current[1])) << "key " << k;
  }
  EXPECT_GT(checked, 20);
}

// ---- PL8: replace -----------------------------------------------------------------------

RC_GTEST_PROP(Placement, PL8ReplaceKeepsTheOtherShardsAndUsesAFreeNode, ()) {
  const cluster_view before = arbitrary_view(1, 12, true);
  const stripe_key key = arbitrary_key();
  const auto width = *rc::gen::inRange<std::uint32_t>(1, 10);
  const auto current = place(before, key, width);
  RC_PRE(current.ok());
  const auto index = *rc::gen::inRange<std::uint32_t>(0, width);
  cluster_view after = before;
  // The device failed, or it is still `in` and only its copy is bad.
  const bool failed = *rc::gen::arbitrary<bool>();
  if (failed) set_state(after, current.value[index], device_state::failed);

  const auto r = replace(after, key, current.value, index);
  std::vector<const device*> spares;
  for (const device& d : after.devices) {
    if (eligible(d) &&
        std::find(current.value.begin(), current.value.end(), d.id) == current.value.end()) {
      spares.push_back(&d);
    }
  }
  if (spares.empty()) {
    RC_ASSERT(r.error == placement_error::not_enough_devices);
    return;
  }
  RC_ASSERT(r.ok());
  RC_ASSERT(std::find(current.value.begin(), current.value.end(), r.value) == current.value.end());
  const device* chosen = find_device(after, r.value);
  RC_ASSERT(chosen != nullptr && eligible(*chosen));
  shard_devices others = current.value;
  others.erase(others.begin() + index);
  const auto used = nodes_of(after, others);
  const bool free_node_exists = std::any_of(
      spares.begin(), spares.end(), [&](const device* d) { return used.count(d->node) == 0; });
  const auto limit = shards_per_node_max(after, width);
  if (limit.ok() && limit.value == 1 && free_node_exists) {
    RC_TAG("distinct nodes");
    RC_ASSERT(used.count(chosen->node) == 0u);
  }
  // With the rest of the stripe in its target set and the limit unchanged,
  // replace() picks what rebalance() would.
  if (failed && limit.ok() && limit.value == shards_per_node_max(before, width).value) {
    RC_TAG("agrees with rebalance");
    const auto plan = rebalance(after, key, current.value);
    RC_ASSERT(plan.ok());
    RC_ASSERT(plan.value[index] == r.value);
  }
}

// ---- movement figures -------------------------------------------------------------------

struct movement {
  std::uint64_t stripes = 0;  // stripes with any shard moved
  std::uint64_t shards = 0;   // shards moved
  void add(const shard_devices& before, const shard_devices& after) {
    std::uint64_t moved = 0;
    for (std::size_t i = 0; i < before.size(); ++i) moved += before[i] != after[i];
    shards += moved;
    stripes += moved > 0;
  }
};

// 20 equal nodes, one device each, 4+2: a 21st node joins, or one leaves.
// The least any scheme can move is the new device's share of all shards
// (1/21) or the leaving device's (1/20). rebalance() moves exactly that in
// expectation; a fresh place() on the new view moves more, because which
// index sits where is history (docs/placement.md).
TEST(Placement, MovementWhenOneOfTwentyDevicesJoinsOrLeaves) {
  const cluster_view twenty = uniform_view(20, 1);
  cluster_view twenty_one = twenty;
  twenty_one.devices.push_back(in_device(2100, 21, 512 * gib));
  cluster_view nineteen = twenty;
  nineteen.devices.erase(nineteen.devices.begin() + 7);
  constexpr std::uint64_t keys = 6'000;
  constexpr std::uint32_t width = 6;

  movement join, join_fresh, leave, leave_fresh;
  for (std::uint64_t k = 0; k < keys; ++k) {
    const stripe_key key = stripe_key::from_u64(k * 0x9e3779b97f4a7c15ULL);
    const shard_devices old = place(twenty, key, width).value;
    join.add(old, rebalance(twenty_one, key, old).value);
    join_fresh.add(old, place(twenty_one, key, width).value);
    leave.add(old, rebalance(nineteen, key, old).value);
    leave_fresh.add(old, place(nineteen, key, width).value);
  }
  auto stripes = [&](const movement& m) { return static_cast<double>(m.stripes) / keys; };
  auto shards = [&](const movement& m) { return static_cast<double>(m.shards) / (keys * width); };
  std::cout << std::fixed << std::setprecision(4) << "join 20->21, rebalance: stripes "
            << stripes(join) << " shards " << shards(join) << " (least possible " << 1.0 / 21
            << ")\njoin 20->21, fresh place: stripes " << stripes(join_fresh) << " shards "
            << shards(join_fresh) << "\nleave 20->19, rebalance: stripes " << stripes(leave)
            << " shards " << shards(leave) << " (least possible " << 1.0 / 20
            << ")\nleave 20->19, fresh place: stripes " << stripes(leave_fresh) << " shards "
            << shards(leave_fresh) << "\n";
  EXPECT_NEAR(shards(join), 1.0 / 21, 0.005);
  EXPECT_NEAR(stripes(join), 6.0 / 21, 0.02);
  EXPECT_EQ(join.shards, join.stripes);  // one shard per changed stripe
  EXPECT_NEAR(shards(leave), 1.0 / 20, 0.005);
  EXPECT_EQ(leave.shards, leave.stripes);
  EXPECT_GE(join_fresh.shards, join.shards);
  EXPECT_EQ(join_fresh.stripes, join.stripes);  // same target sets
}

}  // namespace
}  // namespace cairn::placement
