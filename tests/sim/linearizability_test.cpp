// tests/sim/linearizability_test.cpp — the linearizability checker accepts
// linearizable histories and rejects ones that are not.
#include "sim/linearizability.h"

#include <gtest/gtest.h>

using namespace cairn::sim;

namespace {
history_op put(std::string v, std::uint64_t a, std::uint64_t b) {
  history_op o;
  o.kind = op_kind::put;
  o.key = "k";
  o.value = std::move(v);
  o.invoke_us = a;
  o.complete_us = b;
  o.outcome = op_outcome::ok;
  return o;
}
history_op get(std::optional<std::string> v, std::uint64_t a, std::uint64_t b) {
  history_op o;
  o.kind = op_kind::get;
  o.key = "k";
  o.invoke_us = a;
  o.complete_us = b;
  if (v) {
    o.value = *v;
    o.outcome = op_outcome::ok;
  } else {
    o.outcome = op_outcome::not_found;
  }
  return o;
}
}  // namespace

TEST(Linearizability, SequentialHistoryPasses) {
  EXPECT_TRUE(
      check_linearizable({get(std::nullopt, 0, 1), put("a", 2, 3), get("a", 4, 5)}).linearizable);
}

TEST(Linearizability, StaleReadAfterACompletedWriteFails) {
  auto r = check_linearizable({put("a", 0, 1), put("b", 2, 3), get("a", 4, 5)});
  EXPECT_FALSE(r.linearizable);
}

TEST(Linearizability, ConcurrentWriteMayBeSeenEitherWay) {
  EXPECT_TRUE(check_linearizable({put("a", 0, 1), put("b", 2, 10), get("a", 3, 4)}).linearizable);
  EXPECT_TRUE(check_linearizable({put("a", 0, 1), put("b", 2, 10), get("b", 3, 4)}).linearizable);
}

TEST(Linearizability, UnknownWriteMayOrMayNotHaveHappened) {
  auto maybe = put("x", 0, 0);
  maybe.outcome = op_outcome::unknown;
  EXPECT_TRUE(check_linearizable({maybe, get("x", 5, 6)}).linearizable);
  EXPECT_TRUE(check_linearizable({maybe, get(std::nullopt, 5, 6)}).linearizable);
  // But not both: once seen, it cannot vanish.
  EXPECT_FALSE(check_linearizable({maybe, get("x", 5, 6), get(std::nullopt, 7, 8)}).linearizable);
}

TEST(Linearizability, CompareAndSetOutcomesMustMatchTheState) {
  history_op cas;
  cas.kind = op_kind::cas;
  cas.key = "k";
  cas.value = "b";
  cas.expected = "a";
  cas.invoke_us = 2;
  cas.complete_us = 3;
  cas.outcome = op_outcome::cas_failed;
  // The value is "a" when the CAS runs, so failing is impossible.
  EXPECT_FALSE(check_linearizable({put("a", 0, 1), cas}).linearizable);
  cas.outcome = op_outcome::ok;
  EXPECT_TRUE(check_linearizable({put("a", 0, 1), cas, get("b", 4, 5)}).linearizable);
}
