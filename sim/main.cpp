// sim/main.cpp — cairn-sim: one deterministic simulation run.
//
//   cairn-sim --seed N [--replicas 3|5] [--ticks T] [--no-faults] [--verbose]
//   cairn-sim --list-checkers
//   cairn-sim --stripes --seed N [--seeds S] [--steps T] [--no-faults]   (the chunk layer)
//
// Exits 0 when every check held; prints trace-hash, simulated-ticks and
// events, and on failure the command that replays the run.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "sim/simulator.h"
#include "sim/stripe_sim.h"

namespace {

/// cairn-sim --stripes: the chunk layer (sim/stripe_sim.h).
int run_stripe_seeds(std::uint64_t first, std::uint64_t seeds, std::uint64_t steps, bool faults) {
  int failures = 0;
  for (std::uint64_t s = first; s < first + seeds; ++s) {
    cairn::sim::stripe_sim_options o;
    o.seed = s;
    o.steps = steps;
    o.faults = faults;
    const auto r = cairn::sim::run_stripe_sim(o);
    std::printf("seed: %" PRIu64 " scheme: %s trace-hash: %016" PRIx64 "\n", s, r.scheme.c_str(),
                r.trace_hash);
    std::printf("stripes: %" PRIu64 " written, %" PRIu64 " purged; reads: %" PRIu64 " ok (%" PRIu64
                " degraded); faults: %" PRIu64 " flipped shards, %" PRIu64 " read errors, %" PRIu64
                " crashes, %" PRIu64 " devices lost, %" PRIu64 " misdirected writes, %" PRIu64
                " slow periods (%" PRIu64 " reads waited); repair: %" PRIu64
                " shards rebuilt; compaction: %" PRIu64 " segments freed\n",
                r.stripes_written, r.stripes_purged, r.reads_ok, r.reads_degraded,
                r.shards_corrupted, r.read_errors_injected, r.crashes, r.devices_lost,
                r.writes_misdirected, r.slow_periods, r.reads_waited_on_slow, r.shards_rebuilt,
                r.segments_compacted);
    if (r.ok) {
      std::printf("result: ok\n");
    } else {
      ++failures;
      std::printf("result: FAILED: %s\n", r.failure.c_str());
      std::printf("replay: cairn-sim --stripes --seed %" PRIu64 " --steps %" PRIu64 "%s\n", s,
                  steps, faults ? "" : " --no-faults");
    }
    std::fflush(stdout);
  }
  if (seeds > 1)
    std::printf("%d passed, %d failed\n", static_cast<int>(seeds) - failures, failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-sim: deterministic simulation of a cairn shard"};
  cairn::sim::sim_options o;
  bool list = false;
  bool no_faults = false;
  bool stripes = false;
  std::uint64_t steps = 600;
  std::uint64_t seeds = 1;
  app.add_option("--seed", o.seed, "seed of the run (first seed with --seeds)");
  app.add_option("--seeds", seeds, "run this many consecutive seeds");
  app.add_option("--replicas", o.replicas, "replicas of the shard")->check(CLI::IsMember({3, 5}));
  app.add_option("--ticks", o.ticks, "simulated ticks with faults (10 ms each)");
  app.add_option("--heal-ticks", o.heal_ticks_max, "liveness bound after faults heal");
  app.add_option("--clients", o.clients, "concurrent clients");
  app.add_flag("--no-faults", no_faults, "run without fault injection");
  app.add_flag("--verbose", o.verbose, "print replica log lines");
  app.add_flag("--list-checkers", list, "print the invariant checkers, one per line");
  app.add_flag("--stripes", stripes, "simulate the chunk layer (stripes on devices) instead");
  app.add_option("--steps", steps, "workload steps of a --stripes run");
  CLI11_PARSE(app, argc, argv);
  if (list) {
    for (const auto& n : cairn::sim::checker_names()) std::printf("%s\n", n.c_str());
    for (const auto& n : cairn::sim::stripe_checker_names()) std::printf("%s\n", n.c_str());
    return 0;
  }
  if (stripes) return run_stripe_seeds(o.seed, seeds, steps, !no_faults);
  o.faults = !no_faults;
  int failures = 0;
  const std::uint64_t first = o.seed;
  for (std::uint64_t s = first; s < first + seeds; ++s) {
    o.seed = s;
    const auto start = std::chrono::steady_clock::now();
    const auto r = cairn::sim::run_simulation(o);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("seed: %" PRIu64 "\n", s);
    std::printf("faults: %s\n", r.fault_profile.c_str());
    std::printf("trace-hash: %016" PRIx64 "\n", r.trace_hash);
    std::printf("simulated-ticks: %" PRIu64 "\n", r.simulated_ticks);
    std::printf("events: %" PRIu64 "\n", r.events);
    std::printf("committed-index: %" PRIu64 "\n", r.committed_index);
    std::printf("ops: %" PRIu64 " answered, %" PRIu64 " unknown\n", r.ops_ok, r.ops_unknown);
    std::printf("faults-injected: %" PRIu64 " crashes, %" PRIu64 " partitions, %" PRIu64
                " fsync failures, %" PRIu64 " membership changes, %" PRIu64 "/%" PRIu64
                " frames lost\n",
                r.crashes, r.partitions, r.fsync_failures, r.membership_changes, r.frames_lost,
                r.frames_sent);
    std::printf("converged-after-heal-ticks: %" PRIu64 "\n", r.heal_ticks);
    std::printf("final-membership: %s\n", r.final_membership.c_str());
    std::printf("speed: %.0fx real time, %.0f events/s\n",
                wall > 0 ? static_cast<double>(r.simulated_us) / 1e6 / wall : 0.0,
                wall > 0 ? static_cast<double>(r.events) / wall : 0.0);
    if (r.ok) {
      std::printf("result: ok\n");
    } else {
      ++failures;
      std::printf("result: FAILED: %s\n", r.failure.c_str());
      std::printf("replay: cairn-sim --seed %" PRIu64 " --replicas %zu --ticks %" PRIu64 "%s\n", s,
                  o.replicas, o.ticks, o.faults ? "" : " --no-faults");
    }
    std::fflush(stdout);
  }
  if (seeds > 1)
    std::printf("%d passed, %d failed\n", static_cast<int>(seeds) - failures, failures);
  return failures == 0 ? 0 : 1;
}
