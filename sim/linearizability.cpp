// sim/linearizability.cpp — see linearizability.h.
#include "sim/linearizability.h"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_set>

namespace cairn::sim {
namespace {

constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

struct key_search {
  std::vector<const history_op*> ops;
  std::unordered_set<std::string> seen;
  std::size_t states_max;
  bool bound_hit = false;

  static bool step(const history_op& op, const std::optional<std::string>& state,
                   std::optional<std::string>& next) {
    next = state;
    switch (op.kind) {
      case op_kind::put:
        next = op.value;
        return true;
      case op_kind::cas: {
        const bool holds = op.expected ? (state && *state == *op.expected) : !state.has_value();
        if (op.outcome == op_outcome::cas_failed) return !holds;
        if (!holds) return false;  // ok or unknown-that-took-effect
        next = op.value;
        return true;
      }
      case op_kind::get:
        if (op.outcome == op_outcome::not_found) return !state.has_value();
        return state && *state == op.value;
    }
    return false;
  }

  std::string memo_key(const std::vector<bool>& done, const std::optional<std::string>& state) {
    std::string k;
    k.reserve(done.size() / 8 + 2 + (state ? state->size() : 0));
    unsigned char acc = 0;
    for (std::size_t i = 0; i < done.size(); ++i) {
      acc = static_cast<unsigned char>(acc | (done[i] ? 1u << (i % 8) : 0u));
      if (i % 8 == 7) {
        k.push_back(static_cast<char>(acc));
        acc = 0;
      }
    }
    k.push_back(static_cast<char>(acc));
    k.push_back(state ? '+' : '-');
    if (state) k += *state;
    return k;
  }

  bool search(std::vector<bool>& done, std::size_t remaining_known,
              const std::optional<std::string>& state) {
    if (remaining_known == 0) return true;
    if (seen.size() >= states_max) {
      bound_hit = true;
      return true;  // give up without a verdict
    }
    if (!seen.insert(memo_key(done, state)).second) return false;
    std::uint64_t min_complete = never;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (!done[i] && ops[i]->outcome != op_outcome::unknown)
        min_complete = std::min(min_complete, ops[i]->complete_us);
    }
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (done[i] || ops[i]->invoke_us > min_complete) continue;
      std::optional<std::string> next;
      if (!step(*ops[i], state, next)) continue;
      done[i] = true;
      const bool known = ops[i]->outcome != op_outcome::unknown;
      if (search(done, remaining_known - (known ? 1 : 0), next)) return true;
      done[i] = false;
    }
    return false;
  }
};

}  // namespace

linearizability_result check_linearizable(const std::vector<history_op>& history,
                                          std::size_t states_max) {
  linearizability_result res;
  std::map<std::string, std::vector<const history_op*>> by_key;
  for (const auto& op : history) {
    // Reads that never answered changed nothing and constrain nothing.
    if (op.kind == op_kind::get && op.outcome == op_outcome::unknown) continue;
    by_key[op.key].push_back(&op);
    ++res.operations;
  }
  for (auto& [key, ops] : by_key) {
    key_search s;
    s.ops = ops;
    s.states_max = states_max;
    std::vector<bool> done(ops.size(), false);
    std::size_t known = 0;
    for (auto* op : ops) known += op->outcome != op_outcome::unknown ? 1 : 0;
    if (!s.search(done, known, std::nullopt)) {
      res.linearizable = false;
      res.detail = "history of key '" + key + "' (" + std::to_string(ops.size()) +
                   " operations) is not linearizable";
      return res;
    }
    if (s.bound_hit) {
      res.inconclusive = true;
      res.detail = "search bound hit on key '" + key + "'";
    }
  }
  return res;
}

}  // namespace cairn::sim
