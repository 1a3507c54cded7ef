// tests/bench/placement_bench.cpp — cost of one placement decision.
//
// Owner: tests (benchmarks). Run from a Release build:
//   build/release/tests/placement_bench
// place/6: a new 4+2 stripe on 100 nodes x 10 devices (1000 draws, one per
// eligible device, then a heap pass). rebalance/6: the same view and an
// existing assignment that lost one device. target_devices/32: the widest
// stripe on the same view.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "actors/placement/placement.h"

namespace {

using namespace cairn::placement;

cluster_view hundred_nodes_of_ten_devices() {
  cluster_view view;
  for (std::uint64_t node = 1; node <= 100; ++node) {
    for (std::uint64_t slot = 0; slot < 10; ++slot) {
      const std::uint64_t capacity = std::uint64_t{4} << 40;
      const std::uint64_t free = capacity / 2 + (node * 7919 + slot * 104729) % (capacity / 4);
      view.devices.push_back(
          device{device_id{node * 100 + slot}, node_id{node}, capacity, free, device_state::in});
    }
  }
  return view;
}

void place_width(benchmark::State& state) {
  const cluster_view view = hundred_nodes_of_ten_devices();
  const auto width = static_cast<std::uint32_t>(state.range(0));
  std::uint64_t key = 0;
  for (auto _ : state) {
    auto r = place(view, stripe_key::from_u64(++key), width);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(place_width)->Name("place")->Arg(6);

void rebalance_after_loss(benchmark::State& state) {
  cluster_view view = hundred_nodes_of_ten_devices();
  const auto width = static_cast<std::uint32_t>(state.range(0));
  const stripe_key key = stripe_key::from_u64(42);
  const shard_devices current = place(view, key, width).value;
  for (device& d : view.devices) {
    if (d.id == current[0]) d.state = device_state::failed;
  }
  for (auto _ : state) {
    auto r = rebalance(view, key, current);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(rebalance_after_loss)->Name("rebalance")->Arg(6);

void target_width(benchmark::State& state) {
  const cluster_view view = hundred_nodes_of_ten_devices();
  const auto width = static_cast<std::uint32_t>(state.range(0));
  std::uint64_t key = 0;
  for (auto _ : state) {
    auto r = target_devices(view, stripe_key::from_u64(++key), width);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(target_width)->Name("target_devices")->Arg(32);

}  // namespace

BENCHMARK_MAIN();
