// actors/chunk/erasure_code.cpp — see erasure_code.h.
#include "actors/chunk/erasure_code.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "actors/common/assert.h"

namespace cairn::chunk {
namespace {

constexpr std::array<ec_scheme, 8> schemes{{
    {scheme_id::replicate_1, scheme_kind::replication, 1, 0, "replicate-1"},
    {scheme_id::replicate_3, scheme_kind::replication, 1, 2, "replicate-3"},
    {scheme_id::rs_4_2, scheme_kind::reed_solomon, 4, 2, "rs-4+2"},
    {scheme_id::rs_5_2, scheme_kind::reed_solomon, 5, 2, "rs-5+2"},
    {scheme_id::rs_8_3, scheme_kind::reed_solomon, 8, 3, "rs-8+3"},
    {scheme_id::rs_9_2, scheme_kind::reed_solomon, 9, 2, "rs-9+2"},
    {scheme_id::rs_18_3, scheme_kind::reed_solomon, 18, 3, "rs-18+3"},
    {scheme_id::rs_29_3, scheme_kind::reed_solomon, 29, 3, "rs-29+3"},
}};
static_assert(29 + 3 <= shards_per_stripe_max);

const std::span<const std::uint8_t>* find_fetched(const read_plan& plan,
                                                  const fetched_ranges& fetched,
                                                  std::uint32_t shard, std::uint64_t offset,
                                                  std::uint64_t length,
                                                  std::span<const std::uint8_t>& slice) {
  for (std::size_t i = 0; i < plan.fetches.size(); ++i) {
    const auto& f = plan.fetches[i];
    if (f.shard == shard && f.offset <= offset && offset + length <= f.offset + f.length) {
      slice = fetched[i].subspan(offset - f.offset, length);
      return &fetched[i];
    }
  }
  return nullptr;
}

}  // namespace

std::span<const ec_scheme> all_schemes() {
  return schemes;
}

std::optional<ec_scheme> scheme_by_id(std::uint32_t id) {
  for (const auto& s : schemes)
    if (static_cast<std::uint32_t>(s.id) == id) return s;
  return std::nullopt;
}

std::optional<ec_scheme> scheme_by_name(std::string_view name) {
  for (const auto& s : schemes)
    if (s.name == name) return s;
  return std::nullopt;
}

bool read_plan::degraded() const {
  return std::any_of(segments.begin(), segments.end(), [](const segment& s) { return s.rebuild; });
}

erasure_coder::erasure_coder(const ec_scheme& scheme) : scheme_(scheme) {
  const int k = static_cast<int>(scheme.data_shards);
  const int m = static_cast<int>(scheme.parity_shards);
  CAIRN_ASSERT(k >= 1 && m >= 0 && k + m <= static_cast<int>(shards_per_stripe_max));
  generator_.assign(static_cast<std::size_t>((k + m) * k), 0);
  if (scheme.kind == scheme_kind::replication) {
    CAIRN_ASSERT(k == 1);
    std::fill(generator_.begin(), generator_.end(), 1);  // every row copies shard 0
    return;
  }
  gf_gen_cauchy1_matrix(generator_.data(), k + m, k);
  parity_tables_.assign(static_cast<std::size_t>(32 * k * m), 0);
  ec_init_tables(k, m, &generator_[static_cast<std::size_t>(k * k)], parity_tables_.data());
}

std::uint64_t erasure_coder::shard_bytes(std::uint64_t chunk_bytes) const {
  return (chunk_bytes + scheme_.data_shards - 1) / scheme_.data_shards;
}

void erasure_coder::encode(std::span<const std::uint8_t> chunk,
                           std::span<const std::span<std::uint8_t>> shards) const {
  const std::uint64_t s = shard_bytes(chunk.size());
  CAIRN_ASSERT_MSG(shards.size() == width(), "encode needs one buffer per shard");
  for (const auto& out : shards) CAIRN_ASSERT_MSG(out.size() == s, "shard buffer of wrong size");
  const std::uint32_t k = scheme_.data_shards;
  for (std::uint32_t i = 0; i < k; ++i) {
    const std::uint64_t begin = std::min<std::uint64_t>(chunk.size(), i * s);
    const std::uint64_t end = std::min<std::uint64_t>(chunk.size(), begin + s);
    if (end > begin) std::memcpy(shards[i].data(), chunk.data() + begin, end - begin);
    if (s > end - begin) std::memset(shards[i].data() + (end - begin), 0, s - (end - begin));
  }
  std::array<std::span<const std::uint8_t>, shards_per_stripe_max> data{};
  for (std::uint32_t i = 0; i < k; ++i) data[i] = shards[i];
  encode_parity(std::span(data.data(), k), shards.subspan(k));
}

void erasure_coder::encode_parity(std::span<const std::span<const std::uint8_t>> data,
                                  std::span<const std::span<std::uint8_t>> parity) const {
  const std::uint32_t k = scheme_.data_shards;
  CAIRN_ASSERT(data.size() == k && parity.size() == scheme_.parity_shards);
  const std::uint64_t s = data[0].size();
  for (const auto& d : data) CAIRN_ASSERT_MSG(d.size() == s, "data shards differ in length");
  for (const auto& p : parity) CAIRN_ASSERT_MSG(p.size() == s, "parity buffer of wrong size");
  if (s == 0 || scheme_.parity_shards == 0) return;
  if (scheme_.kind == scheme_kind::replication) {
    for (const auto& p : parity) std::memcpy(p.data(), data[0].data(), s);
    return;
  }
  std::array<std::uint8_t*, shards_per_stripe_max> sources{};
  std::array<std::uint8_t*, shards_per_stripe_max> outputs{};
  for (std::uint32_t i = 0; i < k; ++i) sources[i] = const_cast<std::uint8_t*>(data[i].data());
  for (std::uint32_t j = 0; j < scheme_.parity_shards; ++j) outputs[j] = parity[j].data();
  // ISA-L takes non-const pointers but only reads the sources and tables.
  ec_encode_data(static_cast<int>(s), static_cast<int>(k), static_cast<int>(scheme_.parity_shards),
                 const_cast<std::uint8_t*>(parity_tables_.data()), sources.data(), outputs.data());
}

std::vector<std::uint8_t> erasure_coder::decode_matrix(
    std::span<const std::uint32_t> sources, std::span<const std::uint32_t> wanted) const {
  const std::size_t k = scheme_.data_shards;
  CAIRN_ASSERT(sources.size() == k);
  std::vector<std::uint8_t> square(k * k);
  for (std::size_t r = 0; r < k; ++r) std::memcpy(&square[r * k], &generator_[sources[r] * k], k);
  std::vector<std::uint8_t> inverse(k * k);
  // Any k rows of a Cauchy generator (with the identity on top) are
  // independent, so this cannot fail for distinct sources.
  CAIRN_ASSERT_MSG(gf_invert_matrix(square.data(), inverse.data(), static_cast<int>(k)) == 0,
                   "singular decode matrix");
  // Row w of the result = generator row w x inverse: shard w as a
  // combination of the source shards.
  std::vector<std::uint8_t> out(wanted.size() * k, 0);
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    const std::uint8_t* g = &generator_[wanted[w] * k];
    for (std::size_t c = 0; c < k; ++c) {
      std::uint8_t acc = 0;
      for (std::size_t j = 0; j < k; ++j) acc ^= gf_mul(g[j], inverse[j * k + c]);
      out[w * k + c] = acc;
    }
  }
  return out;
}

std::shared_ptr<const std::vector<std::uint8_t>> erasure_coder::decode_tables(
    std::span<const std::uint32_t> sources, std::span<const std::uint32_t> wanted) const {
  std::vector<std::uint8_t> key;
  key.reserve(sources.size() + wanted.size() + 1);
  for (auto s : sources) key.push_back(static_cast<std::uint8_t>(s));
  key.push_back(0xff);
  for (auto w : wanted) key.push_back(static_cast<std::uint8_t>(w));
  {
    std::lock_guard lock(decode_cache_mutex_);
    if (auto it = decode_cache_.find(key); it != decode_cache_.end()) return it->second;
  }
  const auto matrix = decode_matrix(sources, wanted);
  auto tables = std::make_shared<std::vector<std::uint8_t>>(32 * sources.size() * wanted.size());
  ec_init_tables(static_cast<int>(sources.size()), static_cast<int>(wanted.size()),
                 const_cast<std::uint8_t*>(matrix.data()), tables->data());
  std::lock_guard lock(decode_cache_mutex_);
  if (decode_cache_.size() >= decode_cache_entries_max) decode_cache_.clear();  // bounded
  decode_cache_.emplace(std::move(key), tables);
  return tables;
}

bool erasure_coder::reconstruct(
    std::span<const std::optional<std::span<const std::uint8_t>>> available,
    std::span<const std::uint32_t> wanted, std::span<const std::span<std::uint8_t>> out) const {
  CAIRN_ASSERT(available.size() == width());
  CAIRN_ASSERT(wanted.size() == out.size());
  const std::uint32_t k = scheme_.data_shards;
  std::array<std::uint32_t, shards_per_stripe_max> sources{};
  std::uint32_t found = 0;
  std::optional<std::uint64_t> length;
  for (std::uint32_t i = 0; i < width(); ++i) {
    if (!available[i]) continue;
    CAIRN_ASSERT_MSG(!length || *length == available[i]->size(), "source ranges differ in length");
    length = available[i]->size();
    if (found < k) sources[found++] = i;
  }
  if (found < k) return false;
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    CAIRN_ASSERT(wanted[w] < width());
    CAIRN_ASSERT_MSG(out[w].size() == *length, "rebuild buffer of wrong size");
  }
  if (*length == 0) return true;

  // Wanted shards that are themselves available, and replication, are copies.
  std::array<std::uint32_t, shards_per_stripe_max> missing{};
  std::array<std::uint8_t*, shards_per_stripe_max> missing_out{};
  std::uint32_t missing_count = 0;
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    const auto& have = available[wanted[w]];
    if (have) {
      std::memcpy(out[w].data(), have->data(), *length);
    } else if (scheme_.kind == scheme_kind::replication) {
      std::memcpy(out[w].data(), available[sources[0]]->data(), *length);
    } else {
      missing[missing_count] = wanted[w];
      missing_out[missing_count++] = out[w].data();
    }
  }
  if (missing_count == 0) return true;
  const auto tables =
      decode_tables(std::span(sources.data(), k), std::span(missing.data(), missing_count));
  std::array<std::uint8_t*, shards_per_stripe_max> source_ptrs{};
  for (std::uint32_t i = 0; i < k; ++i)
    source_ptrs[i] = const_cast<std::uint8_t*>(available[sources[i]]->data());
  ec_encode_data(static_cast<int>(*length), static_cast<int>(k), static_cast<int>(missing_count),
                 const_cast<std::uint8_t*>(tables->data()), source_ptrs.data(), missing_out.data());
  return true;
}

std::optional<read_plan> erasure_coder::plan_read(std::uint64_t chunk_bytes, std::uint64_t offset,
                                                  std::uint64_t length,
                                                  std::span<const bool> unavailable) const {
  if (unavailable.size() != width()) return std::nullopt;
  if (offset > chunk_bytes || length > chunk_bytes - offset) return std::nullopt;
  read_plan plan;
  const std::uint64_t s = shard_bytes(chunk_bytes);
  const std::uint32_t k = scheme_.data_shards;
  std::vector<std::uint32_t> helpers;
  for (std::uint64_t pos = offset; pos < offset + length;) {
    const auto shard = static_cast<std::uint32_t>(pos / s);
    const std::uint64_t local = pos % s;
    const std::uint64_t take = std::min(s - local, offset + length - pos);
    read_plan::segment seg;
    seg.source = {shard, local, take};
    if (unavailable[shard]) {
      seg.rebuild = true;
      for (std::uint32_t i = 0; i < width() && seg.helpers.size() < k; ++i)
        if (!unavailable[i]) seg.helpers.push_back(i);
      if (seg.helpers.size() < k) return std::nullopt;
      for (auto h : seg.helpers) plan.fetches.push_back({h, local, take});
    } else {
      plan.fetches.push_back(seg.source);
    }
    plan.segments.push_back(std::move(seg));
    pos += take;
  }
  // Merge overlapping or adjacent ranges of the same shard.
  std::sort(plan.fetches.begin(), plan.fetches.end(), [](const auto& a, const auto& b) {
    return a.shard != b.shard ? a.shard < b.shard : a.offset < b.offset;
  });
  std::vector<shard_range> merged;
  for (const auto& f : plan.fetches) {
    if (!merged.empty() && merged.back().shard == f.shard &&
        f.offset <= merged.back().offset + merged.back().length) {
      auto& last = merged.back();
      last.length = std::max(last.offset + last.length, f.offset + f.length) - last.offset;
    } else {
      merged.push_back(f);
    }
  }
  plan.fetches = std::move(merged);
  for (const auto& f : plan.fetches) CAIRN_ASSERT(!unavailable[f.shard]);  // EC4
  return plan;
}

void erasure_coder::assemble(const read_plan& plan, const fetched_ranges& fetched,
                             std::span<std::uint8_t> out) const {
  CAIRN_ASSERT_MSG(fetched.size() == plan.fetches.size(), "one buffer per fetch");
  for (std::size_t i = 0; i < fetched.size(); ++i)
    CAIRN_ASSERT_MSG(fetched[i].size() == plan.fetches[i].length, "fetched range of wrong size");
  std::uint64_t written = 0;
  std::vector<std::optional<std::span<const std::uint8_t>>> available(width());
  for (const auto& seg : plan.segments) {
    const auto& src = seg.source;
    CAIRN_ASSERT(written + src.length <= out.size());
    auto target = out.subspan(written, src.length);
    if (!seg.rebuild) {
      std::span<const std::uint8_t> slice;
      CAIRN_ASSERT(find_fetched(plan, fetched, src.shard, src.offset, src.length, slice));
      std::memcpy(target.data(), slice.data(), src.length);
    } else {
      std::fill(available.begin(), available.end(), std::nullopt);
      for (auto h : seg.helpers) {
        std::span<const std::uint8_t> slice;
        CAIRN_ASSERT(find_fetched(plan, fetched, h, src.offset, src.length, slice));
        available[h] = slice;
      }
      const std::uint32_t wanted[] = {src.shard};
      const std::span<std::uint8_t> outs[] = {target};
      CAIRN_ASSERT(reconstruct(available, wanted, outs));
    }
    written += src.length;
  }
  CAIRN_ASSERT_MSG(written == out.size(), "output size differs from the planned range");
}

}  // namespace cairn::chunk
