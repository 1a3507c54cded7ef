// sim/sim_network.cpp — see sim_network.h.
#include "sim/sim_network.h"

namespace cairn::sim {

bool sim_network::chance(double p) {
  if (p <= 0) return false;
  return static_cast<double>(random_.next() >> 11) / static_cast<double>(1ULL << 53) < p;
}

void sim_network::send(raft::node_id from, raft::node_id to, raft::bytes frame) {
  ++sent;
  if (is_blocked(from, to) || chance(faults_.loss_rate) || in_flight >= in_flight_max) {
    ++lost;
    return;
  }
  const int copies = chance(faults_.duplicate_rate) ? 2 : 1;
  if (copies == 2) ++duplicated;
  for (int i = 0; i < copies; ++i) {
    const std::uint64_t delay = faults_.delay_base_us + random_.below(faults_.delay_jitter_us + 1);
    ++in_flight;
    schedule_(delay, from, to, i + 1 == copies ? std::move(frame) : frame);
  }
}

}  // namespace cairn::sim
