// tests/actors/raft/quorum_test.cpp — majority and joint quorum arithmetic.
#include "actors/raft/quorum.h"

#include <gtest/gtest.h>

#include <map>

using namespace cairn::raft;

namespace {
ack_lookup acks(std::map<std::uint64_t, std::uint64_t> m) {
  return [m](node_id id, log_index& out) {
    auto it = m.find(id.value);
    if (it == m.end()) return false;
    out = log_index{it->second};
    return true;
  };
}
majority_config cfg(std::vector<std::uint64_t> v) {
  std::vector<node_id> ids;
  for (auto x : v) ids.push_back(node_id{x});
  return majority_config(ids);
}
}  // namespace

TEST(Quorum, MajorityCommittedIndexIsTheMedianOfAcks) {
  auto c = cfg({1, 2, 3});
  EXPECT_EQ(c.committed_index(acks({{1, 5}, {2, 3}, {3, 9}})), log_index{5});
  EXPECT_EQ(c.committed_index(acks({{1, 5}})), log_index{0});
  EXPECT_EQ(c.committed_index(acks({{1, 5}, {2, 5}})), log_index{5});
  auto five = cfg({1, 2, 3, 4, 5});
  EXPECT_EQ(five.committed_index(acks({{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}})), log_index{3});
}

TEST(Quorum, JointCommittedIndexIsTheMinimumOfBothHalves) {
  joint_config j;
  j.incoming = cfg({1, 2, 3});
  j.outgoing = cfg({3, 4, 5});
  // incoming majority has 7 (1,2), outgoing majority only 2 (4,5 at 2).
  EXPECT_EQ(j.committed_index(acks({{1, 7}, {2, 7}, {3, 1}, {4, 2}, {5, 2}})), log_index{2});
}

TEST(Quorum, VoteNeedsAMajorityAndReportsLossEarly) {
  auto c = cfg({1, 2, 3});
  std::map<std::uint64_t, bool> v{{1, true}};
  auto lookup = [&](node_id id) -> std::optional<bool> {
    auto it = v.find(id.value);
    if (it == v.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(c.vote(lookup), vote_result::pending);
  v[2] = false;
  EXPECT_EQ(c.vote(lookup), vote_result::pending);
  v[3] = false;
  EXPECT_EQ(c.vote(lookup), vote_result::lost);
  v[3] = true;
  EXPECT_EQ(c.vote(lookup), vote_result::won);
}

TEST(Quorum, JointVoteNeedsBothHalves) {
  joint_config j;
  j.incoming = cfg({1, 2, 3});
  j.outgoing = cfg({1, 4, 5});
  std::map<std::uint64_t, bool> v{{1, true}, {2, true}, {3, true}};
  auto lookup = [&](node_id id) -> std::optional<bool> {
    auto it = v.find(id.value);
    if (it == v.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(j.vote(lookup), vote_result::pending);
  v[4] = false;
  v[5] = false;
  EXPECT_EQ(j.vote(lookup), vote_result::lost);
  v[5] = true;
  EXPECT_EQ(j.vote(lookup), vote_result::won);
}
