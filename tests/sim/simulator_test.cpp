// tests/sim/simulator_test.cpp — the deterministic simulator: determinism
// (same seed, same trace hash), fault-free runs, and that the checkers can
// fail (a run that cannot converge is reported, not passed).
#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <set>

using namespace cairn::sim;

TEST(Simulator, SameSeedSameTraceHash) {
  sim_options o;
  o.seed = 7;
  o.ticks = 400;
  const auto a = run_simulation(o);
  const auto b = run_simulation(o);
  ASSERT_TRUE(a.ok) << a.failure;
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.committed_index, b.committed_index);
}

TEST(Simulator, DifferentSeedsExploreDifferentRuns) {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t s = 1; s <= 4; ++s) {
    sim_options o;
    o.seed = s;
    o.ticks = 300;
    const auto r = run_simulation(o);
    ASSERT_TRUE(r.ok) << "seed " << s << ": " << r.failure;
    hashes.insert(r.trace_hash);
  }
  EXPECT_EQ(hashes.size(), 4u);
}

TEST(Simulator, FiveReplicasWithoutFaultsCommitAndConverge) {
  sim_options o;
  o.seed = 3;
  o.replicas = 5;
  o.ticks = 400;
  o.faults = false;
  const auto r = run_simulation(o);
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.committed_index, 50u);
  EXPECT_GT(r.ops_ok, 50u);
  EXPECT_EQ(r.crashes, 0u);
}

TEST(Simulator, ALivenessBoundTooShortIsReportedAsAFailure) {
  // No time at all after the heal: the run must fail, naming liveness.
  sim_options o;
  o.seed = 5;
  o.ticks = 5;
  o.heal_ticks_max = 0;
  const auto r = run_simulation(o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("liveness"), std::string::npos) << r.failure;
}

TEST(Simulator, CheckerNamesMatchTheTlaInvariants) {
  const auto names = checker_names();
  for (const char* n : {"ElectionSafety", "LeaderAppendOnly", "LogMatching", "LeaderCompleteness",
                        "StateMachineSafety", "CommittedIsDurable", "MonotonicTerm",
                        "MonotonicCommit", "AppliedLeqCommittedLeqDurable"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
}

namespace {
sim_report run_with_lying_disks(std::vector<std::string> disabled) {
  // Mutation check: fsync is acknowledged but nothing becomes durable, and
  // then every replica crashes. Committed entries are lost.
  sim_options o;
  o.seed = 11;
  o.ticks = 400;
  o.faults = false;
  o.lying_disks = true;
  o.disabled_checkers = std::move(disabled);
  o.schedule = {{scripted_fault_kind::crash, 100, 1, 20},
                {scripted_fault_kind::crash, 100, 2, 20},
                {scripted_fault_kind::crash, 100, 3, 20}};
  return run_simulation(o);
}
}  // namespace

TEST(Simulator, DisksThatLieAboutFsyncAreCaughtByEveryLayerOfCheckers) {
  auto r = run_with_lying_disks({});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.rfind("AppliedLeqCommittedLeqDurable", 0), 0u) << r.failure;
  r = run_with_lying_disks({"AppliedLeqCommittedLeqDurable"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.rfind("CommittedIsDurable", 0), 0u) << r.failure;
  // Without the durability and term checkers, the lost state still shows
  // up in a safety checker (two leaders in a term, a different entry
  // applied, a non-linearizable history...), never as a pass.
  r = run_with_lying_disks(
      {"AppliedLeqCommittedLeqDurable", "CommittedIsDurable", "MonotonicTerm"});
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.failure.find("liveness"), std::string::npos) << r.failure;
  std::printf("third layer: %s\n", r.failure.c_str());
}

// Hand-written scenarios, named after topology and fault (STYLE.md 10).
namespace {
sim_report scenario(std::size_t replicas, std::vector<scripted_fault> schedule,
                    std::uint64_t seed = 21) {
  sim_options o;
  o.seed = seed;
  o.replicas = replicas;
  o.ticks = 500;
  o.faults = false;
  o.schedule = std::move(schedule);
  return run_simulation(o);
}
}  // namespace

TEST(Scenario, ThreeReplicas_LeaderCrashesUnderLoad) {
  auto r = scenario(3, {{scripted_fault_kind::crash_leader, 150, 0, 100}});
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.crashes, 1u);
}

TEST(Scenario, ThreeReplicas_LeaderIsolatedThenRejoins) {
  auto r = scenario(3, {{scripted_fault_kind::isolate_leader, 150, 0, 150}});
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.partitions, 1u);
}

TEST(Scenario, FiveReplicas_TwoLeadersInARowCrash) {
  auto r = scenario(5, {{scripted_fault_kind::crash_leader, 100, 0, 300},
                        {scripted_fault_kind::crash_leader, 200, 0, 200}});
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.crashes, 2u);
}

TEST(Scenario, ThreeReplicas_LeaderGoesDeafAndFollowerFsyncFails) {
  auto r = scenario(3, {{scripted_fault_kind::deafen, 120, 1, 100},
                        {scripted_fault_kind::deafen, 120, 2, 100},
                        {scripted_fault_kind::fsync_fail, 130, 3, 0}});
  ASSERT_TRUE(r.ok) << r.failure;
}

TEST(Scenario, FiveReplicas_MinorityCrashedForLongStaysAvailable) {
  auto r = scenario(
      5, {{scripted_fault_kind::crash, 50, 4, 400}, {scripted_fault_kind::crash, 50, 5, 400}});
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.committed_index, 50u);
}
