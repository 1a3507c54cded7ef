// tests/gateways/common/write_back_test.cpp — the file gateways' per-file
// write-back buffer (gateways/common/write_back.h) against a byte-array model:
// random writes, takes and overlays keep WB1/WB2 and the model's bytes.
#include "gateways/common/write_back.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <optional>
#include <vector>

namespace cairn::gateway {
namespace {

constexpr std::uint64_t file_bytes = 64;
constexpr std::uint64_t slot = 8;

/// The model: each byte dirty (with its value) or not.
using model = std::vector<std::optional<char>>;

void expect_matches(const dirty_file& d, const model& m) {
  d.check();
  std::uint64_t dirty = 0, end = 0;
  for (std::uint64_t i = 0; i < m.size(); ++i)
    if (m[i]) ++dirty, end = i + 1;
  RC_ASSERT(d.bytes() == dirty);
  RC_ASSERT(d.end() == end);
  std::string out(file_bytes, '.');
  d.overlay(0, out);
  for (std::uint64_t i = 0; i < m.size(); ++i) RC_ASSERT(out[i] == (m[i] ? *m[i] : '.'));
  // Full slots and runs as the model has them.
  std::vector<std::uint64_t> full;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  for (std::uint64_t k = 0; k < file_bytes / slot; ++k) {
    bool all = true, any = false;
    for (std::uint64_t i = k * slot; i < (k + 1) * slot; ++i) all &= bool(m[i]), any |= bool(m[i]);
    if (all) full.push_back(k);
    if (any) {
      if (!runs.empty() && runs.back().second + 1 == k)
        runs.back().second = k;
      else
        runs.emplace_back(k, k);
    }
  }
  RC_ASSERT(d.full_slots(slot) == full);
  RC_ASSERT(d.slot_runs(slot) == runs);
}

RC_GTEST_PROP(DirtyFile, WritesTakesAndOverlaysMatchAByteModel, ()) {
  dirty_file d;
  model m(file_bytes);
  const auto steps = *rc::gen::inRange(1, 40);
  for (int s = 0; s < steps; ++s) {
    const auto a = *rc::gen::inRange<std::uint64_t>(0, file_bytes);
    const auto b = *rc::gen::inRange<std::uint64_t>(a, file_bytes + 1);
    if (*rc::gen::inRange(0, 4) != 0) {
      const char c = static_cast<char>('a' + s % 26);
      d.write(a, std::string(b - a, c));
      for (auto i = a; i < b; ++i) m[i] = c;
    } else {
      const auto taken = d.take(a, b);
      std::uint64_t previous = 0;
      for (const auto& [at, bytes] : taken) {
        RC_ASSERT(at >= a);
        RC_ASSERT(at >= previous);
        RC_ASSERT(at + bytes.size() <= b);
        for (std::uint64_t i = 0; i < bytes.size(); ++i) {
          RC_ASSERT(m[at + i].has_value());
          RC_ASSERT(*m[at + i] == bytes[i]);
          m[at + i].reset();
        }
        previous = at + bytes.size();
      }
      for (auto i = a; i < b; ++i) RC_ASSERT(!m[i].has_value());
    }
    expect_matches(d, m);
  }
}

TEST(DirtyFile, SequentialAppendsStayOneExtent) {
  dirty_file d;
  const std::string mib(1 << 20, 'x');
  for (int i = 0; i < 4; ++i) d.write(std::uint64_t(i) << 20, mib);
  EXPECT_EQ(d.extents().size(), 1u);
  EXPECT_EQ(d.bytes(), 4u << 20);
  EXPECT_EQ(d.full_slots(4u << 20), std::vector<std::uint64_t>{0});
  const auto taken = d.take(0, 4u << 20);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].second.size(), 4u << 20);
  EXPECT_TRUE(d.empty());
}

}  // namespace
}  // namespace cairn::gateway
