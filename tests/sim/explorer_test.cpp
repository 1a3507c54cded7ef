// tests/sim/explorer_test.cpp — exhaustive bounded exploration of three
// pure Raft cores (sim/explorer.h) against the Raft paper's Figure 3
// properties, plus mutations showing that the checkers do fire.
//
// Owner: tests. Explorer.* run in the unit suite with bounds chosen to
// finish in seconds under Debug+ASan (~35 s for all five; the explorer runs
// ~50x slower there than in Release, where they take < 1 s). ExplorerSoak.*
// carry the soak label: ~3.5 min in Release, hours under ASan.
#include "sim/explorer.h"

#include <chrono>
#include <iostream>

#include <gtest/gtest.h>

#include "actors/raft/raft_log.h"

using cairn::raft::term_t;
using cairn::sim::explore;
using cairn::sim::explorer_mutation;
using cairn::sim::explorer_options;
using cairn::sim::explorer_order;
using cairn::sim::explorer_report;

namespace {

// Logs in the explorer hold a handful of entries: the O(log) tier is cheap.
const bool expensive_checks_on = [] {
  cairn::raft::raft_log::set_expensive_checks(true);
  return true;
}();

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
// deliveries, losses, timeouts, heartbeats and one client entry in terms
// 1-2, up to the depth a bounded breadth-first run reaches.
TEST(Explorer, Figure3_ThreeReplicasTermTwoOneEntryKeepEverySafetyProperty) {
  explorer_options opt;
  opt.term_max = term_t{2};
  opt.client_entries_max = 1;
  opt.in_flight_messages_max = 3;
  opt.states_max = 12'000;
  const auto rep = run(opt, "term<=2, 1 entry, 3 in flight");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_GT(rep.distinct_states, 1000u);
  // Deep enough to elect a leader and replicate (an election alone is 7).
  EXPECT_GE(rep.exhaustive_depth, 9u);
}

// Crash-recovery from durable state (hard state and log persisted before
// messages leave) must not break anything either.
TEST(Explorer, Figure3_ARestartFromDurableStateKeepsEverySafetyProperty) {
  explorer_options opt;
  opt.term_max = term_t{1};
  opt.client_entries_max = 1;
  opt.in_flight_messages_max = 3;
  opt.restarts_max = 1;
  opt.states_max = 6'000;
  const auto rep = run(opt, "term<=1, 1 entry, 3 in flight, 1 restart");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_GT(rep.distinct_states, 1000u);
}

// Mutation: a node that forgets its vote on restart votes twice in a term;
// the explorer must find two leaders of one term.
TEST(Explorer, Mutation_AForgottenVoteIsReportedAsAnElectionSafetyViolation) {
  explorer_options opt;
  opt.term_max = term_t{1};
  opt.client_entries_max = 0;
  opt.in_flight_messages_max = 2;
  opt.model_lease_expiry = false;
  opt.restarts_max = 1;
  opt.mutation = explorer_mutation::forget_vote_on_restart;
  const auto rep = run(opt, "mutation: forget vote on restart");
  ASSERT_TRUE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_EQ(rep.first_violation->invariant, "ElectionSafety");
  EXPECT_FALSE(rep.first_violation->path.empty());
}

// Mutation: a forged acknowledgement lets a leader commit without a quorum;
// a leader of a later term then lacks the committed entry.
TEST(Explorer, Mutation_ACommitWithoutQuorumIsReportedAsALeaderCompletenessViolation) {
  explorer_options opt;
  opt.term_max = term_t{2};
  opt.client_entries_max = 0;
  opt.in_flight_messages_max = 2;
  opt.model_lease_expiry = false;
  opt.mutation = explorer_mutation::forge_append_ack;
  const auto rep = run(opt, "mutation: forged append ack");
  ASSERT_TRUE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_EQ(rep.first_violation->invariant, "LeaderCompleteness");
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

// --- soak (Release; minutes) -------------------------------------------------

// The whole space of terms 1-2 with no client entry and two messages in
// flight (about 1.5 million states), depth-first to keep memory small.
TEST(ExplorerSoak, Figure3_CompleteSpaceTermTwoTwoInFlight) {
  explorer_options opt;
  opt.term_max = term_t{2};
  opt.client_entries_max = 0;
  opt.in_flight_messages_max = 2;
  opt.states_max = 4'000'000;
  opt.order = explorer_order::depth_first;
  const auto rep = run(opt, "soak: complete, term<=2, 0 entries, 2 in flight");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_TRUE(rep.complete());
}

// The whole space of term 1 with one client entry and a restart.
TEST(ExplorerSoak, Figure3_CompleteSpaceTermOneOneEntryOneRestart) {
  explorer_options opt;
  opt.term_max = term_t{1};
  opt.client_entries_max = 1;
  opt.in_flight_messages_max = 2;
  opt.restarts_max = 1;
  opt.states_max = 4'000'000;
  opt.order = explorer_order::depth_first;
  const auto rep = run(opt, "soak: complete, term<=1, 1 entry, 2 in flight, 1 restart");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_TRUE(rep.complete());
}

// Terms 1-3, two client entries, four messages in flight: every
// interleaving up to the depth 150 thousand states reach. Breadth-first
// keeps the frontier in memory: ~3.5 KiB per state in Release, ~15 KiB
// under ASan, hence the modest bound.
TEST(ExplorerSoak, Figure3_TermThreeTwoEntriesFourInFlightBreadthFirst) {
  explorer_options opt;
  opt.term_max = term_t{3};
  opt.client_entries_max = 2;
  opt.in_flight_messages_max = 4;
  opt.states_max = 150'000;
  const auto rep = run(opt, "soak: term<=3, 2 entries, 4 in flight, bfs");
  EXPECT_FALSE(rep.first_violation.has_value()) << rep.summary();
  EXPECT_GE(rep.exhaustive_depth, 12u);
}
