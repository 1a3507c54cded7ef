// tests/actors/chunk/erasure_code_test.cpp — erasure coding of chunks with
// ISA-L: every scheme, every erasure pattern within tolerance, ranged and
// degraded reads (invariants EC1-EC4 in actors/chunk/erasure_code.h).
#include "actors/chunk/erasure_code.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

namespace cairn::chunk {
namespace {

std::vector<std::uint8_t> pattern_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint8_t> out(n);
  std::mt19937_64 rng(seed);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

struct encoded {
  std::vector<std::vector<std::uint8_t>> shards;
};

encoded encode_all(const erasure_coder& coder, std::span<const std::uint8_t> chunk) {
  encoded e;
  const auto s = coder.shard_bytes(chunk.size());
  e.shards.assign(coder.width(), std::vector<std::uint8_t>(s));
  std::vector<std::span<std::uint8_t>> outs;
  for (auto& sh : e.shards) outs.emplace_back(sh);
  coder.encode(chunk, outs);
  return e;
}

/// Reads [offset, offset + length) through a plan, from the encoded shards.
std::optional<std::vector<std::uint8_t>> read_range(const erasure_coder& coder, const encoded& e,
                                                    std::uint64_t chunk_bytes, std::uint64_t offset,
                                                    std::uint64_t length,
                                                    const std::vector<bool>& unavailable_bits,
                                                    read_plan* plan_out = nullptr) {
  std::unique_ptr<bool[]> unavailable(new bool[coder.width()]);
  for (std::uint32_t i = 0; i < coder.width(); ++i) unavailable[i] = unavailable_bits[i];
  auto plan = coder.plan_read(chunk_bytes, offset, length,
                              std::span<const bool>(unavailable.get(), coder.width()));
  if (!plan) return std::nullopt;
  fetched_ranges fetched;
  for (const auto& f : plan->fetches) {
    EXPECT_FALSE(unavailable_bits[f.shard]) << "plan reads an unavailable shard";
    fetched.push_back(std::span<const std::uint8_t>(e.shards[f.shard]).subspan(f.offset, f.length));
  }
  std::vector<std::uint8_t> out(length);
  coder.assemble(*plan, fetched, out);
  if (plan_out) *plan_out = *plan;
  return out;
}

TEST(ErasureCode, EverySchemeTheIssueNamesExists) {
  for (auto name : {"replicate-1", "replicate-3", "rs-4+2", "rs-5+2", "rs-8+3", "rs-9+2", "rs-18+3",
                    "rs-29+3"}) {
    auto s = scheme_by_name(name);
    ASSERT_TRUE(s) << name;
    EXPECT_EQ(scheme_by_id(static_cast<std::uint32_t>(s->id))->name, s->name);
  }
  EXPECT_FALSE(scheme_by_name("rs-4+9"));
  EXPECT_FALSE(scheme_by_id(0));
  EXPECT_EQ(scheme_by_name("rs-29+3")->width(), 32u);
}

// EC1: data shards are the chunk's bytes in order, zero-padded.
TEST(ErasureCode, DataShardsAreTheChunkCutInOrder) {
  const erasure_coder coder(*scheme_by_name("rs-4+2"));
  const auto chunk = pattern_bytes(1001, 7);
  const auto e = encode_all(coder, chunk);
  ASSERT_EQ(coder.shard_bytes(1001), 251u);
  std::vector<std::uint8_t> joined;
  for (std::uint32_t i = 0; i < 4; ++i)
    joined.insert(joined.end(), e.shards[i].begin(), e.shards[i].end());
  ASSERT_EQ(joined.size(), 1004u);
  EXPECT_TRUE(std::equal(chunk.begin(), chunk.end(), joined.begin()));
  EXPECT_EQ(joined[1001], 0);
  EXPECT_EQ(joined[1003], 0);
}

TEST(ErasureCode, ReplicationKeepsWholeCopies) {
  const erasure_coder coder(*scheme_by_name("replicate-3"));
  const auto chunk = pattern_bytes(4096, 1);
  const auto e = encode_all(coder, chunk);
  for (const auto& s : e.shards) EXPECT_EQ(s, chunk);
}

// EC2, exhaustively for RS 4+2: every pattern of up to 2 lost shards
// rebuilds every shard; 3 lost shards refuse.
TEST(ErasureCode, Rs42RebuildsEveryPatternOfTwoLossesAndRefusesThree) {
  const erasure_coder coder(*scheme_by_name("rs-4+2"));
  const auto chunk = pattern_bytes(64 * 1024 + 3, 42);
  const auto e = encode_all(coder, chunk);
  const std::uint32_t n = coder.width();
  for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
    std::vector<std::optional<std::span<const std::uint8_t>>> available(n);
    std::vector<std::uint32_t> lost;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (mask & (1u << i))
        lost.push_back(i);
      else
        available[i] = e.shards[i];
    }
    std::vector<std::uint32_t> wanted(n);
    std::iota(wanted.begin(), wanted.end(), 0);
    std::vector<std::vector<std::uint8_t>> rebuilt(n,
                                                   std::vector<std::uint8_t>(e.shards[0].size()));
    std::vector<std::span<std::uint8_t>> outs(rebuilt.begin(), rebuilt.end());
    const bool ok = coder.reconstruct(available, wanted, outs);
    if (lost.size() <= 2) {
      ASSERT_TRUE(ok) << "mask " << mask;
      for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(rebuilt[i], e.shards[i]) << "mask " << mask;
    } else {
      EXPECT_FALSE(ok) << "mask " << mask;
    }
  }
}

// EC2 for every scheme: m random losses rebuild; m + 1 refuse.
RC_GTEST_PROP(ErasureCodeProperty, AnyMLossesRebuildEveryShard, ()) {
  const auto schemes = all_schemes();
  const auto& scheme = schemes[*rc::gen::inRange<std::size_t>(0, schemes.size())];
  const erasure_coder coder(scheme);
  const auto size = *rc::gen::inRange<std::size_t>(0, 70'000);
  const auto chunk = pattern_bytes(size, *rc::gen::arbitrary<std::uint64_t>());
  const auto e = encode_all(coder, chunk);
  const std::uint32_t n = coder.width();
  auto order =
      *rc::gen::container<std::vector<std::uint32_t>>(n, rc::gen::arbitrary<std::uint32_t>());
  std::vector<std::uint32_t> indexes(n);
  std::iota(indexes.begin(), indexes.end(), 0);
  std::sort(indexes.begin(), indexes.end(), [&](std::uint32_t a, std::uint32_t b) {
    return order[a] < order[b] || (order[a] == order[b] && a < b);
  });
  const auto losses = *rc::gen::inRange<std::uint32_t>(0, scheme.parity_shards + 2);
  RC_PRE(losses <= n);
  std::vector<std::optional<std::span<const std::uint8_t>>> available(n);
  for (std::uint32_t i = 0; i < n; ++i) available[i] = e.shards[i];
  for (std::uint32_t i = 0; i < losses; ++i) available[indexes[i]].reset();
  std::vector<std::uint32_t> wanted(indexes.begin(), indexes.begin() + losses);
  std::vector<std::vector<std::uint8_t>> rebuilt(
      losses, std::vector<std::uint8_t>(e.shards[0].size(), 0xee));
  std::vector<std::span<std::uint8_t>> outs(rebuilt.begin(), rebuilt.end());
  const bool ok = coder.reconstruct(available, wanted, outs);
  if (losses <= scheme.parity_shards) {
    RC_ASSERT(ok);
    for (std::uint32_t i = 0; i < losses; ++i) RC_ASSERT(rebuilt[i] == e.shards[wanted[i]]);
  } else {
    RC_ASSERT(!ok);
    for (const auto& r : rebuilt)  // nothing written on refusal
      RC_ASSERT(std::all_of(r.begin(), r.end(), [](std::uint8_t b) { return b == 0xee; }));
  }
}

// EC3/EC4: ranged reads, healthy and degraded, return exactly the range.
RC_GTEST_PROP(ErasureCodeProperty, RangedReadsReturnTheRangeAndTouchOnlyWhatTheyNeed, ()) {
  const auto schemes = all_schemes();
  const auto& scheme = schemes[*rc::gen::inRange<std::size_t>(0, schemes.size())];
  const erasure_coder coder(scheme);
  const auto size = *rc::gen::inRange<std::size_t>(1, 50'000);
  const auto chunk = pattern_bytes(size, *rc::gen::arbitrary<std::uint64_t>());
  const auto e = encode_all(coder, chunk);
  const auto offset = *rc::gen::inRange<std::size_t>(0, size);
  const auto length = *rc::gen::inRange<std::size_t>(0, size - offset + 1);
  const std::uint32_t n = coder.width();
  std::vector<bool> unavailable(n, false);
  const auto losses = *rc::gen::inRange<std::uint32_t>(0, scheme.parity_shards + 1);
  for (std::uint32_t i = 0; i < losses; ++i)
    unavailable[*rc::gen::inRange<std::uint32_t>(0, n)] = true;
  read_plan plan;
  const auto got = read_range(coder, e, size, offset, length, unavailable, &plan);
  RC_ASSERT(got.has_value());
  RC_ASSERT(
      std::equal(got->begin(), got->end(), chunk.begin() + static_cast<std::ptrdiff_t>(offset)));
  if (std::none_of(unavailable.begin(), unavailable.end(), [](bool b) { return b; })) {
    // EC3: only overlapping data shards, only the overlapping bytes.
    RC_ASSERT(!plan.degraded());
    std::uint64_t fetched_bytes = 0;
    for (const auto& f : plan.fetches) {
      RC_ASSERT(f.shard < scheme.data_shards);
      fetched_bytes += f.length;
    }
    RC_ASSERT(fetched_bytes == length);
  }
}

TEST(ErasureCode, ASmallReadOfAHealthyChunkTouchesOneDataShard) {
  const erasure_coder coder(*scheme_by_name("rs-8+3"));
  const std::uint64_t chunk_bytes = 4 << 20;
  const bool none[11] = {};
  auto plan = coder.plan_read(chunk_bytes, 1'500'000, 4096, none);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->fetches.size(), 1u);
  EXPECT_EQ(plan->fetches[0].shard, 2u);  // 1.5 MB / 512 KiB per shard
  EXPECT_EQ(plan->fetches[0].length, 4096u);
  EXPECT_FALSE(plan->degraded());
}

TEST(ErasureCode, ADegradedReadFetchesTheSameRangeOfKOtherShards) {
  const erasure_coder coder(*scheme_by_name("rs-4+2"));
  const auto chunk = pattern_bytes(40'000, 3);
  const auto e = encode_all(coder, chunk);
  std::vector<bool> unavailable(6, false);
  unavailable[1] = true;  // holds bytes [10000, 20000)
  read_plan plan;
  auto got = read_range(coder, e, chunk.size(), 12'000, 100, unavailable, &plan);
  ASSERT_TRUE(got);
  EXPECT_TRUE(std::equal(got->begin(), got->end(), chunk.begin() + 12'000));
  EXPECT_TRUE(plan.degraded());
  ASSERT_EQ(plan.fetches.size(), 4u);
  for (const auto& f : plan.fetches) {
    EXPECT_NE(f.shard, 1u);
    EXPECT_EQ(f.offset, 2'000u);
    EXPECT_EQ(f.length, 100u);
  }
}

TEST(ErasureCode, TooManyLostShardsOrAnOutOfRangeReadHasNoPlan) {
  const erasure_coder coder(*scheme_by_name("rs-4+2"));
  bool three_lost[6] = {true, true, true, false, false, false};
  EXPECT_FALSE(coder.plan_read(1000, 0, 10, three_lost));
  bool none[6] = {};
  EXPECT_FALSE(coder.plan_read(1000, 990, 11, none));
  EXPECT_FALSE(coder.plan_read(1000, 1001, 0, none));
  EXPECT_TRUE(coder.plan_read(1000, 1000, 0, none));
  // Three lost shards but the read touches only a healthy one: still served.
  bool lost_but_unneeded[6] = {false, true, true, true, false, false};
  EXPECT_TRUE(coder.plan_read(1000, 0, 10, lost_but_unneeded));
}

}  // namespace
}  // namespace cairn::chunk
