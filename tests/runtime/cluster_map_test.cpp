// tests/runtime/cluster_map_test.cpp — the cluster map: parsing what the
// system shard stores, placement, routing, the system shard's target.
#include "runtime/cluster_map.h"

#include <gtest/gtest.h>

namespace cairn::runtime {
namespace {

node_entry nd(std::uint64_t id, bool removed = false) {
  return node_entry{id, "", "", removed, ""};
}

cluster_map map_of(std::initializer_list<node_entry> nodes,
                   std::initializer_list<shard_entry> shards = {}) {
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& n : nodes) kv.emplace_back(node_key(n.id), encode(n));
  for (const auto& s : shards) kv.emplace_back(shard_key(s.id), encode(s));
  return cluster_map::parse(kv);
}

TEST(ClusterMap, RoundTripsThroughTheSystemShard) {
  auto m = map_of({{1, "a:1", "a:2", false, "a:9400"}, {2, "b:1", "b:2", true, ""}},
                  {{7, {1, 2, 3}, {1, 2, 3}}});
  ASSERT_EQ(m.nodes.size(), 2u);
  EXPECT_EQ(m.nodes[1].transport, "a:1");
  EXPECT_EQ(m.nodes[1].client, "a:9400");  // where cairn mount clients connect
  EXPECT_EQ(m.nodes[2].client, "");
  EXPECT_TRUE(m.nodes[2].removed);
  ASSERT_EQ(m.shards.size(), 1u);
  EXPECT_EQ(m.shards[7].replicas, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(m.active_nodes(), (std::vector<std::uint64_t>{1}));
}

TEST(ClusterMap, DeviceListsRoundTripAndMalformedOnesAreReported) {
  const std::vector<device_entry> devices{{65536, 1 << 30, 1 << 29, false},
                                          {65537, 1 << 30, 0, true}};
  std::vector<std::string> problems;
  auto m = cluster_map::parse({{devices_key(1), encode(devices)},
                               {devices_key(2), "{\"devices\": [{\"capacity\": 5}]}"},
                               {"devices/x", encode(devices)}},
                              &problems);
  ASSERT_EQ(m.devices.size(), 1u);
  EXPECT_EQ(m.devices[1], devices);
  EXPECT_EQ(problems.size(), 2u);  // a device without an id; a bad node id
}

TEST(ClusterMap, MalformedEntriesAreSkippedAndReported) {
  std::vector<std::string> problems;
  auto m = cluster_map::parse({{"node/x", "{}"},
                               {"node/3", "not json"},
                               {"shard/0", R"({"replicas":[1]})"},
                               {"shard/4", R"({"replicas":"oops"})"},
                               {"other", "ignored"},
                               {"node/5", R"({"transport":"e:1"})"}},
                              &problems);
  EXPECT_EQ(problems.size(), 4u);
  EXPECT_EQ(m.nodes.size(), 1u);
  EXPECT_TRUE(m.shards.empty());
}

TEST(ClusterMap, SystemTargetHasAtMostFiveVoters) {
  auto m = map_of({nd(1), nd(2), nd(3), nd(4), nd(5), nd(6), nd(7, true), nd(8)});
  auto t = m.system_target();
  ASSERT_EQ(t.voters.size(), 5u);
  EXPECT_EQ(t.voters.back().value, 5u);
  ASSERT_EQ(t.learners.size(), 2u);
  EXPECT_EQ(t.learners[0].value, 6u);
  EXPECT_EQ(t.learners[1].value, 8u);
}

TEST(ClusterMap, PlacementPrefersTheLeastLoadedActiveNodes) {
  auto m = map_of({nd(1), nd(2), nd(3), nd(4), nd(5, true)},
                  {{1, {1, 2, 3}, {1, 2, 3}}, {2, {1, 2, 4}, {1, 2, 4}}});
  EXPECT_EQ(m.place(3), (std::vector<std::uint64_t>{1, 3, 4}));
  EXPECT_EQ(m.place(2, {3, 4}), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(m.place(9).size(), 4u);  // only four active nodes
  EXPECT_EQ(m.next_shard_id(), 3u);
  EXPECT_EQ(m.shards_of(4), (std::vector<std::uint64_t>{2}));
}

TEST(ClusterMap, KeysRouteDeterministicallyAndMoveLittleWhenAShardIsAdded) {
  auto two = map_of({nd(1)}, {{1, {1}, {1}}, {2, {1}, {1}}});
  auto three = map_of({nd(1)}, {{1, {1}, {1}}, {2, {1}, {1}}, {3, {1}, {1}}});
  EXPECT_FALSE(map_of({nd(1)}).shard_for_key("k"));
  int moved = 0, to_new = 0, per_shard[4] = {};
  for (int i = 0; i < 3000; ++i) {
    const std::string key = "key" + std::to_string(i);
    auto a = *two.shard_for_key(key);
    auto b = *three.shard_for_key(key);
    EXPECT_EQ(a, *two.shard_for_key(key));
    ++per_shard[b];
    if (a != b) {
      ++moved;
      if (b == 3) ++to_new;
    }
  }
  EXPECT_EQ(moved, to_new);  // keys only move to the new shard
  for (int s = 1; s <= 3; ++s) EXPECT_GT(per_shard[s], 700) << s;
}

}  // namespace
}  // namespace cairn::runtime
