// tests/sim/explorer_test.cpp — exhaustive bounded exploration of three
// pure Raft cores (sim/explorer.h) against the Raft paper's Figure 3
// properties, plus mutations showing that the checkers do fire.
//
// Owner: tests. Explorer.* run in the unit suite (bounds chosen to finish
// in a few seconds under Debug+ASan); ExplorerSoak.* carry the soak label.
#include "sim/explorer.h"

#include <chrono>
#include <iostream>

#include <gtest/gtest.h>

using cairn::raft::term_t;
using cairn::sim::explore;
using cairn::sim::explorer_mutation;
using cairn::sim::explorer_options;
using cairn::sim::explorer_report;

namespace {

explorer_report run(const explorer_options& opt, const char* name) {
  const auto start = std::chrono::steady_clock::now();
  explorer_report rep = explore(opt);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::cout << "[" << name << "] " << ms << " ms\n" << rep.summary();
  return rep;
}

}  // namespace

// Figure 3: ElectionSafety, LogMatching, LeaderCompleteness,
// StateMachineSafety and LeaderAppendOnly hold in every interleaving of
// deliveries, losses, timeouts, heartbeats and one client entry in terms 1-2.
TEST(Explorer, Figure3_ThreeReplicasTermTwoOneEntryKeepEverySafetyProperty) {
  explorer_options opt;
  opt.term_max = term_t{2};
  opt.client_entries_max = 1;
  opt.in_flight_messages_max = 4;
  opt.states_max = 400'000;
  const auto rep = run(opt, "term<=2, 1 entry, 4 in flight");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_GT(rep.distinct_states, 1000u);
  EXPECT_FALSE(rep.states_max_hit) << "raise states_max or lower the bounds";
}

// Crash-recovery with perfect storage must not break anything either.
TEST(Explorer, Figure3_ARestartFromDurableStateKeepsEverySafetyProperty) {
  explorer_options opt;
  opt.term_max = term_t{1};
  opt.client_entries_max = 1;
  opt.in_flight_messages_max = 4;
  opt.restarts_max = 1;
  const auto rep = run(opt, "term<=1, 1 entry, 1 restart");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_GT(rep.distinct_states, 1000u);
}

// Mutation: a node that forgets its vote on restart votes twice in a term;
// the explorer must find two leaders of one term.
TEST(Explorer, Mutation_AForgottenVoteIsReportedAsAnElectionSafetyViolation) {
  explorer_options opt;
  opt.term_max = term_t{1};
  opt.client_entries_max = 0;
  opt.in_flight_messages_max = 4;
  opt.restarts_max = 1;
  opt.mutation = explorer_mutation::forget_vote_on_restart;
  const auto rep = run(opt, "mutation: forget vote on restart");
  ASSERT_TRUE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_EQ(rep.first_violation->invariant, "ElectionSafety");
  EXPECT_FALSE(rep.first_violation->path.empty());
}

// Mutation: a forged acknowledgement lets a leader commit without a quorum;
// a later leader lacks the entry.
TEST(Explorer, Mutation_ACommitWithoutQuorumIsReported) {
  explorer_options opt;
  opt.term_max = term_t{2};
  opt.client_entries_max = 1;
  opt.in_flight_messages_max = 4;
  opt.mutation = explorer_mutation::forge_append_ack;
  const auto rep = run(opt, "mutation: forged append ack");
  ASSERT_TRUE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_FALSE(rep.first_violation->path.empty());
}

TEST(Explorer, ReportsWhenTheStateBoundIsHit) {
  explorer_options opt;
  opt.states_max = 500;
  const auto rep = explore(opt);
  EXPECT_TRUE(rep.states_max_hit);
  EXPECT_FALSE(rep.complete());
  EXPECT_EQ(rep.distinct_states, 500u);
}

// Soak: terms 1-3, two client entries, more messages in flight.
TEST(ExplorerSoak, Figure3_ThreeReplicasTermThreeTwoEntries) {
  explorer_options opt;
  opt.term_max = term_t{3};
  opt.client_entries_max = 2;
  opt.in_flight_messages_max = 6;
  opt.states_max = 2'000'000;
  const auto rep = run(opt, "soak: term<=3, 2 entries, 6 in flight");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_GT(rep.distinct_states, 100'000u);
}

TEST(ExplorerSoak, Figure3_ThreeReplicasTermTwoTwoEntriesOneRestart) {
  explorer_options opt;
  opt.term_max = term_t{2};
  opt.client_entries_max = 2;
  opt.in_flight_messages_max = 5;
  opt.restarts_max = 1;
  opt.states_max = 2'000'000;
  const auto rep = run(opt, "soak: term<=2, 2 entries, 5 in flight, 1 restart");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
}
