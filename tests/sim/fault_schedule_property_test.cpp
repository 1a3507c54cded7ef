// tests/sim/fault_schedule_property_test.cpp — property-based fault
// injection: rapidcheck generates schedules of crashes, partitions, one-way
// cuts and fsync failures at chosen ticks, runs them against the real shard
// actors in the simulator, and requires every checker to hold. A failing
// schedule shrinks to a minimal one, which rapidcheck prints with the seed.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <ostream>

#include "sim/simulator.h"

using namespace cairn::sim;

namespace cairn::sim {

void showValue(const scripted_fault& f, std::ostream& os) {
  static const char* names[] = {"crash",      "isolate",      "deafen",
                                "fsync_fail", "crash_leader", "isolate_leader"};
  os << names[static_cast<int>(f.kind)] << "(node " << f.node << " at tick " << f.at_tick << " for "
     << f.duration_ticks << " ticks)";
}

}  // namespace cairn::sim

namespace rc {

template <>
struct Arbitrary<scripted_fault> {
  static Gen<scripted_fault> arbitrary() {
    return gen::build<scripted_fault>(
        gen::set(
            &scripted_fault::kind,
            gen::element(scripted_fault_kind::crash, scripted_fault_kind::isolate,
                         scripted_fault_kind::deafen, scripted_fault_kind::fsync_fail,
                         scripted_fault_kind::crash_leader, scripted_fault_kind::isolate_leader)),
        gen::set(&scripted_fault::at_tick, gen::inRange<std::uint64_t>(0, 250)),
        gen::set(&scripted_fault::node, gen::inRange<std::uint64_t>(1, 4)),
        gen::set(&scripted_fault::duration_ticks, gen::inRange<std::uint64_t>(1, 150)));
  }
};

}  // namespace rc

RC_GTEST_PROP(FaultSchedules, ThreeReplicasKeepEveryInvariant, ()) {
  const auto schedule = *rc::gen::container<std::vector<scripted_fault>>(
      *rc::gen::inRange<std::size_t>(0, 8), rc::gen::arbitrary<scripted_fault>());
  sim_options o;
  o.seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
  o.replicas = 3;
  o.ticks = 300;
  o.faults = false;  // only the generated schedule
  o.schedule = schedule;
  const auto r = run_simulation(o);
  RC_LOG() << "seed " << o.seed << ": " << r.failure << "\n";
  RC_ASSERT(r.ok);
}
