// sim/linearizability.h — records the simulated clients' history of puts,
// compare-and-sets and reads, and checks it is linearizable against a
// single-register-per-key model (Wing & Gong search with memoisation, per
// key: linearizability is compositional, so keys are checked separately).
//
// Owner: the simulator's workload. Operations whose outcome is unknown
// (timeouts, replica crashes) may have taken effect at any point after
// their invocation, or never.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cairn::sim {

enum class op_kind : std::uint8_t { put, cas, get };
enum class op_outcome : std::uint8_t { ok, cas_failed, not_found, unknown };

struct history_op {
  std::uint64_t client = 0;
  op_kind kind = op_kind::put;
  std::string key;
  std::string value;                    // put/cas: new value; get: value read
  std::optional<std::string> expected;  // cas: nullopt = must be absent
  std::uint64_t invoke_us = 0;
  std::uint64_t complete_us = 0;  // ignored when outcome is unknown
  op_outcome outcome = op_outcome::unknown;
};

struct linearizability_result {
  bool linearizable = true;
  bool inconclusive = false;  // search bound hit
  std::string detail;
  std::size_t operations = 0;
};

linearizability_result check_linearizable(const std::vector<history_op>& history,
                                          std::size_t states_max = 2'000'000);

}  // namespace cairn::sim
