// tests/bench/ec_bench.cpp — cairn's erasure coder against raw ISA-L on the
// same buffers, for every Reed-Solomon scheme (issue 4: target >= 0.95).
//
// Owner: tests (benchmarks). Run from a Release build:
//   build/release/tests/ec_bench --benchmark_min_time=0.5
// Pairs to compare (same scheme, same 4 MiB chunk, bytes_per_second):
//   raw_encode/<scheme>   ec_encode_data with tables built once
//   cairn_encode/<scheme> erasure_coder::encode_parity (data shards in place)
//   cairn_encode_copy/<scheme> erasure_coder::encode (copies the chunk into
//                         k shard buffers first; for information)
//   raw_decode/<scheme>   rebuild m lost data shards: decode tables built once
//   cairn_decode/<scheme> erasure_coder::reconstruct (decode tables from the
//                         coder's cache after the first call)
//   cairn_decode_uncached/<scheme> a new coder per call: the first stripe
//                         read after a failure pays the matrix inversion
//   paired_encode/<scheme>, paired_decode/<scheme>: raw and cairn alternating
//                         call by call; counters raw_GBps, cairn_GBps, ratio
// tests/bench/ec_compare.sh prints the paired ratios.
#include <benchmark/benchmark.h>
#include <isa-l/erasure_code.h>

#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "actors/chunk/erasure_code.h"

namespace {

using cairn::chunk::all_schemes;
using cairn::chunk::ec_scheme;
using cairn::chunk::erasure_coder;
using cairn::chunk::scheme_kind;

constexpr std::size_t chunk_bytes = 4 << 20;

struct stripe {
  explicit stripe(const ec_scheme& s) : scheme(s), coder(s) {
    k = s.data_shards;
    m = s.parity_shards;
    shard = coder.shard_bytes(chunk_bytes);
    buffer.resize(shard * (k + m));
    std::mt19937_64 rng(1);
    for (std::size_t i = 0; i < shard * k; ++i) buffer[i] = static_cast<std::uint8_t>(rng());
    for (std::size_t i = 0; i < k + m; ++i) ptrs.push_back(&buffer[i * shard]);
  }
  ec_scheme scheme;
  erasure_coder coder;
  std::size_t k, m, shard;
  std::vector<std::uint8_t> buffer;
  std::vector<std::uint8_t*> ptrs;
};

const ec_scheme& scheme_at(std::int64_t i) {
  return all_schemes()[static_cast<std::size_t>(i)];
}

void raw_encode(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  std::vector<std::uint8_t> matrix((st.k + st.m) * st.k), tables(32 * st.k * st.m);
  gf_gen_cauchy1_matrix(matrix.data(), static_cast<int>(st.k + st.m), static_cast<int>(st.k));
  ec_init_tables(static_cast<int>(st.k), static_cast<int>(st.m), &matrix[st.k * st.k],
                 tables.data());
  for (auto _ : state) {
    ec_encode_data(static_cast<int>(st.shard), static_cast<int>(st.k), static_cast<int>(st.m),
                   tables.data(), st.ptrs.data(), st.ptrs.data() + st.k);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  state.SetLabel(std::string(st.scheme.name));
}

void cairn_encode(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  std::vector<std::span<const std::uint8_t>> data;
  std::vector<std::span<std::uint8_t>> parity;
  for (std::size_t i = 0; i < st.k; ++i) data.emplace_back(st.ptrs[i], st.shard);
  for (std::size_t j = 0; j < st.m; ++j) parity.emplace_back(st.ptrs[st.k + j], st.shard);
  for (auto _ : state) {
    st.coder.encode_parity(data, parity);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  state.SetLabel(std::string(st.scheme.name));
}

void cairn_encode_copy(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  std::vector<std::uint8_t> chunk(st.buffer.begin(), st.buffer.begin() + chunk_bytes);
  std::vector<std::span<std::uint8_t>> shards;
  for (std::size_t i = 0; i < st.k + st.m; ++i) shards.emplace_back(st.ptrs[i], st.shard);
  for (auto _ : state) {
    st.coder.encode(chunk, shards);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  state.SetLabel(std::string(st.scheme.name));
}

// Decode: the first m data shards are lost and rebuilt from the rest.
void raw_decode(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  const int k = static_cast<int>(st.k), m = static_cast<int>(st.m);
  std::vector<std::uint8_t> matrix((st.k + st.m) * st.k);
  gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
  std::vector<std::uint8_t> square(st.k * st.k), inverse(st.k * st.k), decode(st.m * st.k);
  std::vector<std::uint8_t*> sources;
  for (int r = 0; r < k; ++r) {
    std::memcpy(&square[r * k], &matrix[(m + r) * k], st.k);  // survivors: shards m..m+k-1
    sources.push_back(st.ptrs[m + r]);
  }
  gf_invert_matrix(square.data(), inverse.data(), k);
  for (int w = 0; w < m; ++w)  // lost data shard w = identity row w x inverse
    for (int c = 0; c < k; ++c) decode[w * k + c] = inverse[w * k + c];
  std::vector<std::uint8_t> tables(32 * st.k * st.m);
  ec_init_tables(k, m, decode.data(), tables.data());
  std::vector<std::vector<std::uint8_t>> outs(st.m, std::vector<std::uint8_t>(st.shard));
  std::vector<std::uint8_t*> out_ptrs;
  for (auto& o : outs) out_ptrs.push_back(o.data());
  for (auto _ : state) {
    ec_encode_data(static_cast<int>(st.shard), k, m, tables.data(), sources.data(),
                   out_ptrs.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  state.SetLabel(std::string(st.scheme.name));
}

void cairn_decode(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  std::vector<std::uint8_t> chunk(st.buffer.begin(), st.buffer.begin() + chunk_bytes);
  std::vector<std::span<std::uint8_t>> shards;
  for (std::size_t i = 0; i < st.k + st.m; ++i) shards.emplace_back(st.ptrs[i], st.shard);
  st.coder.encode(chunk, shards);
  std::vector<std::optional<std::span<const std::uint8_t>>> available(st.k + st.m);
  for (std::size_t i = st.m; i < st.k + st.m; ++i) available[i] = shards[i];
  std::vector<std::uint32_t> wanted;
  std::vector<std::vector<std::uint8_t>> outs(st.m, std::vector<std::uint8_t>(st.shard));
  std::vector<std::span<std::uint8_t>> out_spans;
  for (std::size_t w = 0; w < st.m; ++w) {
    wanted.push_back(static_cast<std::uint32_t>(w));
    out_spans.emplace_back(outs[w]);
  }
  for (auto _ : state) {
    if (!st.coder.reconstruct(available, wanted, out_spans)) state.SkipWithError("reconstruct");
    benchmark::ClobberMemory();
  }
  if (std::memcmp(outs[0].data(), st.ptrs[0], st.shard) != 0) state.SkipWithError("wrong bytes");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  state.SetLabel(std::string(st.scheme.name));
}

void cairn_decode_uncached(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  std::vector<std::uint8_t> chunk(st.buffer.begin(), st.buffer.begin() + chunk_bytes);
  std::vector<std::span<std::uint8_t>> shards;
  for (std::size_t i = 0; i < st.k + st.m; ++i) shards.emplace_back(st.ptrs[i], st.shard);
  st.coder.encode(chunk, shards);
  std::vector<std::optional<std::span<const std::uint8_t>>> available(st.k + st.m);
  for (std::size_t i = st.m; i < st.k + st.m; ++i) available[i] = shards[i];
  std::vector<std::uint32_t> wanted;
  std::vector<std::vector<std::uint8_t>> outs(st.m, std::vector<std::uint8_t>(st.shard));
  std::vector<std::span<std::uint8_t>> out_spans;
  for (std::size_t w = 0; w < st.m; ++w) {
    wanted.push_back(static_cast<std::uint32_t>(w));
    out_spans.emplace_back(outs[w]);
  }
  for (auto _ : state) {
    const erasure_coder fresh(st.scheme);
    if (!fresh.reconstruct(available, wanted, out_spans)) state.SkipWithError("reconstruct");
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  state.SetLabel(std::string(st.scheme.name));
}

// Paired runs: raw ISA-L and cairn alternate call by call on the same
// buffers (order swapped every iteration), so machine noise hits both alike;
// counters raw_GBps, cairn_GBps and ratio = cairn / raw.
template <typename Raw, typename Cairn>
void run_paired(benchmark::State& state, Raw&& raw, Cairn&& cairn) {
  using clock = std::chrono::steady_clock;
  clock::duration raw_time{}, cairn_time{};
  bool raw_first = true;
  for (auto _ : state) {
    for (int pass = 0; pass < 2; ++pass) {
      const bool run_raw = (pass == 0) == raw_first;
      const auto start = clock::now();
      if (run_raw)
        raw();
      else
        cairn();
      benchmark::ClobberMemory();
      (run_raw ? raw_time : cairn_time) += clock::now() - start;
    }
    raw_first = !raw_first;
  }
  const double bytes = static_cast<double>(state.iterations()) * chunk_bytes;
  const double raw_gbps = bytes / std::chrono::duration<double>(raw_time).count() / 1e9;
  const double cairn_gbps = bytes / std::chrono::duration<double>(cairn_time).count() / 1e9;
  state.counters["raw_GBps"] = raw_gbps;
  state.counters["cairn_GBps"] = cairn_gbps;
  state.counters["ratio"] = cairn_gbps / raw_gbps;
}

void paired_encode(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  std::vector<std::uint8_t> matrix((st.k + st.m) * st.k), tables(32 * st.k * st.m);
  gf_gen_cauchy1_matrix(matrix.data(), static_cast<int>(st.k + st.m), static_cast<int>(st.k));
  ec_init_tables(static_cast<int>(st.k), static_cast<int>(st.m), &matrix[st.k * st.k],
                 tables.data());
  std::vector<std::span<const std::uint8_t>> data;
  std::vector<std::span<std::uint8_t>> parity;
  for (std::size_t i = 0; i < st.k; ++i) data.emplace_back(st.ptrs[i], st.shard);
  for (std::size_t j = 0; j < st.m; ++j) parity.emplace_back(st.ptrs[st.k + j], st.shard);
  run_paired(
      state,
      [&] {
        ec_encode_data(static_cast<int>(st.shard), static_cast<int>(st.k), static_cast<int>(st.m),
                       tables.data(), st.ptrs.data(), st.ptrs.data() + st.k);
      },
      [&] { st.coder.encode_parity(data, parity); });
  state.SetLabel(std::string(st.scheme.name));
}

void paired_decode(benchmark::State& state) {
  stripe st(scheme_at(state.range(0)));
  const int k = static_cast<int>(st.k), m = static_cast<int>(st.m);
  std::vector<std::uint8_t> chunk(st.buffer.begin(), st.buffer.begin() + chunk_bytes);
  std::vector<std::span<std::uint8_t>> shards;
  for (std::size_t i = 0; i < st.k + st.m; ++i) shards.emplace_back(st.ptrs[i], st.shard);
  st.coder.encode(chunk, shards);
  // Raw: decode tables for "data shards 0..m-1 lost", built once.
  std::vector<std::uint8_t> matrix((st.k + st.m) * st.k);
  gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
  std::vector<std::uint8_t> square(st.k * st.k), inverse(st.k * st.k);
  std::vector<std::uint8_t*> sources;
  for (int r = 0; r < k; ++r) {
    std::memcpy(&square[r * k], &matrix[(m + r) * k], st.k);
    sources.push_back(st.ptrs[m + r]);
  }
  gf_invert_matrix(square.data(), inverse.data(), k);
  std::vector<std::uint8_t> tables(32 * st.k * st.m);
  ec_init_tables(k, m, inverse.data(), tables.data());  // rows 0..m-1 of the inverse
  std::vector<std::vector<std::uint8_t>> raw_outs(st.m, std::vector<std::uint8_t>(st.shard));
  std::vector<std::uint8_t*> raw_ptrs;
  for (auto& o : raw_outs) raw_ptrs.push_back(o.data());
  // cairn: the same survivors, the same shards wanted.
  std::vector<std::optional<std::span<const std::uint8_t>>> available(st.k + st.m);
  for (std::size_t i = st.m; i < st.k + st.m; ++i) available[i] = shards[i];
  std::vector<std::uint32_t> wanted;
  std::vector<std::vector<std::uint8_t>> outs(st.m, std::vector<std::uint8_t>(st.shard));
  std::vector<std::span<std::uint8_t>> out_spans;
  for (std::size_t w = 0; w < st.m; ++w) {
    wanted.push_back(static_cast<std::uint32_t>(w));
    out_spans.emplace_back(outs[w]);
  }
  run_paired(
      state,
      [&] {
        ec_encode_data(static_cast<int>(st.shard), k, m, tables.data(), sources.data(),
                       raw_ptrs.data());
      },
      [&] {
        if (!st.coder.reconstruct(available, wanted, out_spans)) state.SkipWithError("decode");
      });
  if (outs != raw_outs || std::memcmp(outs[0].data(), st.ptrs[0], st.shard) != 0)
    state.SkipWithError("cairn and raw decodes differ");
  state.SetLabel(std::string(st.scheme.name));
}

void reed_solomon_schemes(benchmark::internal::Benchmark* b) {
  const auto schemes = all_schemes();
  for (std::size_t i = 0; i < schemes.size(); ++i)
    if (schemes[i].kind == scheme_kind::reed_solomon) b->Arg(static_cast<std::int64_t>(i));
}

BENCHMARK(paired_encode)->Apply(reed_solomon_schemes);
BENCHMARK(paired_decode)->Apply(reed_solomon_schemes);
BENCHMARK(raw_encode)->Apply(reed_solomon_schemes);
BENCHMARK(cairn_encode)->Apply(reed_solomon_schemes);
BENCHMARK(cairn_encode_copy)->Apply(reed_solomon_schemes);
BENCHMARK(raw_decode)->Apply(reed_solomon_schemes);
BENCHMARK(cairn_decode)->Apply(reed_solomon_schemes);
BENCHMARK(cairn_decode_uncached)->Apply(reed_solomon_schemes);

}  // namespace

BENCHMARK_MAIN();
