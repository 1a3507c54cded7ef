// tests/bench/sim_bench.cpp — simulator speed: simulated time over wall
// time, and events per second, for 3 and 5 replicas under the steady client
// load of the simulation workload (4 closed-loop clients), with and without
// swarm faults. Run from a Release build:
//   build/release/tests/sim_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "sim/simulator.h"

namespace {

void simulate(benchmark::State& state, bool faults) {
  cairn::sim::sim_options o;
  o.replicas = static_cast<std::size_t>(state.range(0));
  o.ticks = 3000;  // 30 simulated seconds at 10 ms ticks
  o.faults = faults;
  std::uint64_t seed = 1;
  double simulated_seconds = 0;
  std::uint64_t events = 0;
  for (auto _ : state) {
    o.seed = seed++;
    const auto r = cairn::sim::run_simulation(o);
    if (!r.ok) {
      state.SkipWithError(r.failure.c_str());
      break;
    }
    simulated_seconds += static_cast<double>(r.simulated_us) / 1e6;
    events += r.events;
  }
  // "rate" counters are divided by wall time: simulated seconds per wall
  // second is the speed-up over real time.
  state.counters["x_real_time"] =
      benchmark::Counter(simulated_seconds, benchmark::Counter::kIsRate);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void BM_SimulatorSteadyLoad(benchmark::State& state) {
  simulate(state, false);
}
void BM_SimulatorSwarmFaults(benchmark::State& state) {
  simulate(state, true);
}

BENCHMARK(BM_SimulatorSteadyLoad)->Arg(3)->Arg(5)->Unit(benchmark::kMillisecond)->MinTime(3);
BENCHMARK(BM_SimulatorSwarmFaults)->Arg(3)->Arg(5)->Unit(benchmark::kMillisecond)->MinTime(3);

}  // namespace

BENCHMARK_MAIN();
