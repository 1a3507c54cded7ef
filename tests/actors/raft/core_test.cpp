// tests/actors/raft/core_test.cpp — the pure Raft core through its public
// inputs, in an in-memory cluster (sim/core_cluster.h). Test names cite the
// Raft paper (§) or thesis section whose rule they check.
#include "actors/raft/core.h"

#include <gtest/gtest.h>

#include "actors/raft/codec.h"
#include "sim/core_cluster.h"

using namespace cairn::raft;
using cairn::sim::core_cluster;

namespace {

void tick_until_leader(core_cluster& c, int ticks_max = 200) {
  for (int i = 0; i < ticks_max && c.leader().is_none(); ++i) {
    c.tick_all();
    c.deliver_all();
  }
}

std::vector<std::string> applied_data(core_cluster& c, std::uint64_t id) {
  std::vector<std::string> out;
  for (const auto& e : c.applied(id)) {
    if (!e.data.empty()) out.push_back(e.data);
  }
  return out;
}

}  // namespace

TEST(RaftCore, Section5_2_AFollowerThatHearsNothingCampaignsAndWins) {
  core_cluster c(3, 7);
  tick_until_leader(c);
  ASSERT_FALSE(c.leader().is_none());
  const auto lead = c.leader();
  for (auto id : c.ids()) {
    EXPECT_EQ(c.node(id.value).leader(), lead) << "node " << id.value;
    EXPECT_EQ(c.node(id.value).term(), c.node(lead.value).term());
  }
}

TEST(RaftCore, Section5_2_AtMostOneVotePerTerm) {
  core_cluster c(3, 1);
  c.node(1).campaign();
  c.node(2).campaign();
  c.deliver_all();
  // 1 and 2 both campaigned in term 1; 3 voted for at most one of them.
  int leaders = 0;
  for (auto id : c.ids()) leaders += c.node(id.value).state() == role::leader ? 1 : 0;
  EXPECT_LE(leaders, 1);
}

TEST(RaftCore, Section5_3_ProposalsCommitAndApplyOnEveryReplica) {
  core_cluster c(3, 2);
  c.elect(1);
  ASSERT_EQ(c.leader(), node_id{1});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.node(1).propose("v" + std::to_string(i)).ok());
  c.deliver_all();
  for (auto id : c.ids()) {
    auto data = applied_data(c, id.value);
    ASSERT_EQ(data.size(), 10u) << "node " << id.value;
    EXPECT_EQ(data.front(), "v0");
    EXPECT_EQ(data.back(), "v9");
  }
}

TEST(RaftCore, Section5_3_FollowerProposalsAreForwardedToTheLeader) {
  core_cluster c(3, 3);
  c.elect(1);
  ASSERT_TRUE(c.node(2).propose("from-2").ok());
  c.deliver_all();
  EXPECT_EQ(applied_data(c, 3), std::vector<std::string>{"from-2"});
}

TEST(RaftCore, Section5_4_2_OldTermEntriesCommitOnlyWithACurrentTermEntry) {
  core_cluster c(3, 4);
  c.elect(1);
  // Node 1 appends an entry that only it holds, then loses leadership.
  c.isolate(1, true);
  ASSERT_TRUE(c.node(1).propose("stale").ok());
  c.deliver_all();
  // 2 and 3 elect a new leader while 1 is away.
  for (int i = 0; i < 100 && (c.leader().is_none() || c.leader() == node_id{1}); ++i) {
    c.tick_all();
    c.deliver_all();
  }
  c.isolate(1, false);
  const auto lead = c.leader();
  ASSERT_TRUE(lead == node_id{2} || lead == node_id{3});
  c.deliver_all();
  // The stale entry was never committed and is gone everywhere.
  for (auto id : c.ids()) EXPECT_TRUE(applied_data(c, id.value).empty());
  ASSERT_TRUE(c.node(lead.value).propose("fresh").ok());
  c.deliver_all();
  c.tick_all();
  c.deliver_all();
  for (auto id : c.ids()) EXPECT_EQ(applied_data(c, id.value), std::vector<std::string>{"fresh"});
}

TEST(RaftCore, Thesis9_6_PreVoteKeepsAPartitionedNodeFromBumpingTerms) {
  core_cluster c(3, 5);
  c.elect(1);
  const term_t t = c.node(1).term();
  c.isolate(3, true);
  for (int i = 0; i < 100; ++i) {
    c.tick_all();
    c.deliver_all();
  }
  EXPECT_EQ(c.node(3).term(), t) << "pre-vote must not raise the term";
  c.isolate(3, false);
  for (int i = 0; i < 5; ++i) {
    c.tick_all();
    c.deliver_all();
  }
  EXPECT_EQ(c.leader(), node_id{1}) << "rejoining node must not depose the leader";
  EXPECT_EQ(c.node(1).term(), t);
}

TEST(RaftCore, Thesis6_2_CheckQuorumDeposesAnIsolatedLeader) {
  core_cluster c(3, 6);
  c.elect(1);
  c.isolate(1, true);
  for (int i = 0; i < 40; ++i) {
    c.tick_all();
    c.deliver_all();
  }
  EXPECT_NE(c.node(1).state(), role::leader);
  c.isolate(1, false);
  tick_until_leader(c);
  EXPECT_FALSE(c.leader().is_none());
}

TEST(RaftCore, Thesis3_10_LeadershipTransferHandsOverToACaughtUpFollower) {
  core_cluster c(3, 8);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("a").ok());
  c.deliver_all();
  ASSERT_TRUE(c.node(1).transfer_leader(node_id{3}).ok());
  c.deliver_all();
  EXPECT_EQ(c.leader(), node_id{3});
  EXPECT_GT(c.node(3).term(), term_t{1});
}

TEST(RaftCore, Thesis3_10_ProposalsAreRefusedDuringATransfer) {
  core_cluster c(3, 9);
  c.elect(1);
  c.isolate(3, true);
  ASSERT_TRUE(c.node(1).propose("a").ok());
  c.deliver_all();
  ASSERT_TRUE(c.node(1).transfer_leader(node_id{3}).ok());
  auto r = c.node(1).propose("b");
  EXPECT_EQ(r.error, step_error::proposal_dropped);
}

TEST(RaftCore, Thesis6_4_ReadIndexAnswersWithTheCommitIndexAfterAHeartbeatRound) {
  core_cluster c(3, 10);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("x").ok());
  c.deliver_all();
  ASSERT_TRUE(c.node(1).read_index("r1").ok());
  c.deliver_all();
  ASSERT_EQ(c.reads(1).size(), 1u);
  EXPECT_EQ(c.reads(1)[0].context, "r1");
  EXPECT_EQ(c.reads(1)[0].index, c.node(1).log().committed());
  // A follower's read is forwarded and answered through the leader.
  ASSERT_TRUE(c.node(2).read_index("r2").ok());
  c.deliver_all();
  ASSERT_EQ(c.reads(2).size(), 1u);
  EXPECT_EQ(c.reads(2)[0].context, "r2");
}

TEST(RaftCore, Thesis6_4_AnIsolatedLeaderCannotServeReads) {
  core_cluster c(3, 11);
  c.elect(1);
  c.isolate(1, true);
  ASSERT_TRUE(c.node(1).read_index("r").ok());
  c.deliver_all();
  EXPECT_TRUE(c.reads(1).empty());
}

TEST(RaftCore, Section7_ALaggingFollowerCatchesUpThroughInstallSnapshot) {
  core_cluster c(3, 12);
  c.elect(1);
  c.isolate(3, true);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.node(1).propose("e" + std::to_string(i)).ok());
  c.deliver_all();
  ASSERT_TRUE(c.node(1).compact("state-at-20", 0).ok());
  c.process_ready();
  EXPECT_GT(c.node(1).log().first_index(), log_index{5});
  c.isolate(3, false);
  for (int i = 0; i < 5; ++i) {
    c.tick_all();
    c.deliver_all();
  }
  EXPECT_EQ(c.node(3).latest_snapshot().data, "state-at-20");
  EXPECT_EQ(c.node(3).log().committed(), c.node(1).log().committed());
  ASSERT_TRUE(c.node(1).propose("after").ok());
  c.deliver_all();
  EXPECT_EQ(applied_data(c, 3), std::vector<std::string>{"after"});
}

TEST(RaftCore, Section6_AddALearnerPromoteItAndRemoveAVoter) {
  core_cluster c(3, 13);
  c.elect(1);
  ASSERT_TRUE(c.node(1).propose("before").ok());
  c.deliver_all();
  conf_state cs4;
  cs4.voters = {node_id{1}, node_id{2}, node_id{3}};
  c.add_node(4, cs4);
  conf_change add;
  add.changes = {{conf_change_kind::add_learner, node_id{4}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(add).ok());
  c.deliver_all();
  EXPECT_TRUE(c.node(1).tracker().is_learner(node_id{4}));
  EXPECT_EQ(applied_data(c, 4), std::vector<std::string>{"before"});
  conf_change promote;
  promote.changes = {{conf_change_kind::add_voter, node_id{4}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(promote).ok());
  c.deliver_all();
  EXPECT_TRUE(c.node(1).tracker().is_voter(node_id{4}));
  conf_change remove;
  remove.changes = {{conf_change_kind::remove_node, node_id{2}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(remove).ok());
  c.deliver_all();
  EXPECT_FALSE(c.node(1).tracker().is_member(node_id{2}));
  ASSERT_TRUE(c.node(1).propose("after").ok());
  c.deliver_all();
  EXPECT_EQ(applied_data(c, 4).back(), "after");
}

TEST(RaftCore, Thesis4_3_JointConsensusReplacesTwoVotersAndLeavesAutomatically) {
  core_cluster c(3, 14);
  c.elect(1);
  conf_state cs;
  cs.voters = {node_id{1}, node_id{2}, node_id{3}};
  c.add_node(4, cs);
  c.add_node(5, cs);
  conf_change cc;
  cc.changes = {{conf_change_kind::add_voter, node_id{4}},
                {conf_change_kind::add_voter, node_id{5}},
                {conf_change_kind::remove_node, node_id{2}},
                {conf_change_kind::remove_node, node_id{3}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(cc).ok());
  c.deliver_all();
  auto conf = c.node(1).get_status().conf;
  EXPECT_TRUE(conf.voters_outgoing.empty()) << "joint config left automatically";
  EXPECT_EQ(conf.voters, (std::vector<node_id>{node_id{1}, node_id{4}, node_id{5}}));
  ASSERT_TRUE(c.node(1).propose("new-config").ok());
  c.deliver_all();
  EXPECT_EQ(applied_data(c, 5).back(), "new-config");
}

TEST(RaftCore, Thesis4_3_ASecondConfChangeWaitsForTheFirstToApply) {
  core_cluster c(3, 15);
  c.elect(1);
  c.isolate(2, true);
  c.isolate(3, true);
  conf_change a;
  a.changes = {{conf_change_kind::add_learner, node_id{4}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(a).ok());
  conf_change b;
  b.changes = {{conf_change_kind::add_learner, node_id{5}}};
  EXPECT_EQ(c.node(1).propose_conf_change(b).error, step_error::conf_change_refused);
}

TEST(RaftCore, UncommittedBytesAreCapped) {
  core_cluster c(3, 16, [](config& cfg) { cfg.uncommitted_bytes_max = 1000; });
  c.elect(1);
  c.isolate(2, true);
  c.isolate(3, true);
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += c.node(1).propose(std::string(100, 'x')).ok() ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  EXPECT_LE(c.node(1).get_status().uncommitted_bytes, 1000u);
}

TEST(RaftCore, MalformedMessagesAreRejectedWithoutChangingState) {
  core_cluster c(3, 17);
  c.elect(1);
  auto before = c.node(2).get_status();
  message m;
  m.type = message_type::append;
  m.from = node_id{1};
  m.to = node_id{2};
  m.term = c.node(1).term();
  m.index = c.node(2).log().last_index();
  m.log_term = c.node(2).log().last_term();
  m.entries = {entry{m.term, m.index + 2, entry_type::normal, "gap"}};  // not contiguous
  EXPECT_EQ(c.node(2).step(m).error, step_error::invalid_message);
  m.entries = {entry{m.term + 5, m.index + 1, entry_type::normal, "future"}};
  EXPECT_EQ(c.node(2).step(m).error, step_error::invalid_message);
  message wrong_to = m;
  wrong_to.entries.clear();
  wrong_to.to = node_id{9};
  EXPECT_EQ(c.node(2).step(wrong_to).error, step_error::invalid_message);
  message bad_type = wrong_to;
  bad_type.to = node_id{2};
  bad_type.type = static_cast<message_type>(200);
  EXPECT_EQ(c.node(2).step(bad_type).error, step_error::invalid_message);
  auto after = c.node(2).get_status();
  EXPECT_EQ(before.hard, after.hard);
  EXPECT_EQ(before.last_index, after.last_index);
  EXPECT_FALSE(c.node(2).has_ready() && !c.node(2).get_ready().messages.empty());
}

TEST(RaftCore, ResponsesWaitForPersistence) {
  core_cluster c(3, 18);
  c.node(1).campaign();
  ready rd = c.node(1).get_ready();
  ASSERT_TRUE(rd.hard);
  EXPECT_TRUE(rd.must_sync);
  for (const auto& om : rd.messages) {
    EXPECT_EQ(om.msg.type, message_type::vote);
    EXPECT_TRUE(om.wait_for_hard_state) << "vote requests reveal a new term";
  }
  c.node(1).advance(rd);
}

TEST(RaftCore, SameSeedSameElectionTimeouts) {
  auto run = [](std::uint64_t seed) {
    core_cluster c(5, seed);
    std::vector<std::uint64_t> trace;
    for (int i = 0; i < 100; ++i) {
      c.tick_all();
      c.deliver_all();
      trace.push_back(c.leader().value * 1000 + c.node(1).term().value);
    }
    return trace;
  };
  EXPECT_EQ(run(42), run(42));
}

TEST(RaftCore, ARestartedReplicaRecoversItsLogAndTerm) {
  core_cluster c(3, 19);
  c.elect(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.node(1).propose("p" + std::to_string(i)).ok());
  c.deliver_all();
  const auto before = c.node(2).get_status();
  c.restart(2);
  const auto after = c.node(2).get_status();
  EXPECT_EQ(after.hard.term, before.hard.term);
  EXPECT_EQ(after.last_index, before.last_index);
  c.process_ready();
  EXPECT_EQ(applied_data(c, 2).size(), 5u);
}

TEST(RaftCore, Thesis4_1_ALeaderRefusesAChangeThatWouldNotApply) {
  core_cluster c(3, 20);
  c.elect(1);
  conf_change two;  // two voters at once without joint consensus
  two.transition = conf_change_transition::automatic;
  two.changes = {{conf_change_kind::remove_node, node_id{2}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(two).ok());
  c.deliver_all();
  conf_change all;  // removing every voter
  all.changes = {{conf_change_kind::remove_node, node_id{1}},
                 {conf_change_kind::remove_node, node_id{3}}};
  EXPECT_EQ(c.node(1).propose_conf_change(all).error, step_error::conf_change_refused);
  conf_change leave;  // leaving a joint config that does not exist
  EXPECT_EQ(c.node(1).propose_conf_change(leave).error, step_error::conf_change_refused);
}

TEST(RaftCore, Section7_ANodeRemovedAndReAddedAfterTheSnapshotStillInstallsIt) {
  // The leader's snapshot was taken while node 3 was not a member; node 3
  // must install it anyway and catch up through the entries that re-add it.
  core_cluster c(3, 21);
  c.elect(1);
  conf_change remove;
  remove.changes = {{conf_change_kind::remove_node, node_id{3}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(remove).ok());
  c.deliver_all();
  ASSERT_FALSE(c.node(1).tracker().is_member(node_id{3}));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(c.node(1).propose("while-away-" + std::to_string(i)).ok());
  c.deliver_all();
  ASSERT_TRUE(c.node(1).compact("image-without-3", 0).ok());
  c.process_ready();
  conf_change add;
  add.changes = {{conf_change_kind::add_learner, node_id{3}}};
  ASSERT_TRUE(c.node(1).propose_conf_change(add).ok());
  c.deliver_all();
  for (int i = 0; i < 5; ++i) {
    c.tick_all();
    c.deliver_all();
  }
  EXPECT_EQ(c.node(3).latest_snapshot().data, "image-without-3");
  EXPECT_EQ(c.node(3).log().applied(), c.node(1).log().applied());
  EXPECT_TRUE(c.node(3).tracker().is_learner(node_id{3}));
}

TEST(RaftCore, ASnapshotWithAnImpossibleMembershipIsRejected) {
  // Found by the message fuzzer: a snapshot naming node 2 both voter and
  // learner tripped invariant P4 instead of being rejected as input.
  core_cluster c(3, 22);
  c.elect(1);
  const auto before = c.node(3).get_status();
  message m;
  m.type = message_type::install_snapshot;
  m.from = node_id{1};
  m.to = node_id{3};
  m.term = c.node(1).term();
  snapshot s;
  s.metadata.index = log_index{100};
  s.metadata.term = m.term;
  s.metadata.conf.voters = {node_id{1}, node_id{2}, node_id{3}};
  s.metadata.conf.learners = {node_id{2}};
  m.snap = s;
  EXPECT_EQ(c.node(3).step(m).error, step_error::invalid_message);
  m.snap->metadata.conf.learners.clear();
  m.snap->metadata.conf.voters = {node_id{1}, node_id{1}, node_id{3}};
  EXPECT_EQ(c.node(3).step(m).error, step_error::invalid_message);
  m.snap->metadata.conf.voters = {node_id{1}, node_id{3}};
  m.snap->metadata.conf.learners_next = {node_id{3}};
  EXPECT_EQ(c.node(3).step(m).error, step_error::invalid_message);
  m.snap->metadata.conf.learners_next.clear();
  m.snap->metadata.conf.auto_leave = true;
  EXPECT_EQ(c.node(3).step(m).error, step_error::invalid_message);
  EXPECT_EQ(c.node(3).get_status().last_index, before.last_index);
  EXPECT_EQ(c.node(3).get_status().hard, before.hard);
}

TEST(RaftCore, IndexesAndTermsThatWouldOverflowAreRejected) {
  // Found by the message fuzzer: a snapshot at index 2^64-1 overflowed
  // `last_index + 1` and tripped invariant P1.
  core_cluster c(3, 23);
  c.elect(1);
  message m;
  m.type = message_type::install_snapshot;
  m.from = node_id{1};
  m.to = node_id{3};
  m.term = c.node(1).term();
  snapshot s;
  s.metadata.index = log_index{~0ULL};
  s.metadata.term = m.term;
  s.metadata.conf.voters = {node_id{1}, node_id{2}, node_id{3}};
  m.snap = s;
  EXPECT_EQ(c.node(3).step(m).error, step_error::invalid_message);
  message a;
  a.type = message_type::append;
  a.from = node_id{1};
  a.to = node_id{2};
  a.term = term_t{~0ULL};
  EXPECT_EQ(c.node(2).step(a).error, step_error::invalid_message);
  a.term = c.node(1).term();
  a.index = log_index{~0ULL - 1};
  a.entries = {entry{a.term, log_index{~0ULL}, entry_type::normal, "x"}};
  EXPECT_EQ(c.node(2).step(a).error, step_error::invalid_message);
}
