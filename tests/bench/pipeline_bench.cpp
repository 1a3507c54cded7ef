// tests/bench/pipeline_bench.cpp — the write pipeline's CPU cost per 4 MiB
// chunk on one thread (issue 4): chunk id (HMAC-SHA256), erasure coding
// (encode_parity, data shards in place) and sealing (HKDF chunk key +
// AES-256-GCM per shard), each stage alone and the three in the data path's
// order, against the bound computed from the stages: 1 / sum(1 / stage
// rate). Also reports the memory one stripe in flight needs.
//
// Owner: tests (benchmarks); single-threaded. Run from a Release build,
// pinned to one core (tests/bench/chunk_compare.sh does both):
//   taskset -c 1 build/h-bench/tests/pipeline_bench --benchmark_filter=paired
//
// Two orders (second argument): 0 = seal-then-parity, the data path of
// ADR 0004 (seal the k data pieces, parity over the sealed shards, as
// actors/chunk/stripe_codec does); 1 = parity-then-seal, the order the
// issue's text names (parity over the plaintext, then all k + m sealed).
//
// `paired_pipeline/<scheme>/<order>` is the result: every iteration runs
// the three stages alone and the whole pipeline on the same preallocated
// buffers, in an order that rotates each iteration, each timed with the
// thread's CPU clock, so that machine noise hits the stages and the
// pipeline alike. Counters (GB/s of chunk plaintext per CPU second, i.e.
// per core):
//   hmac_GBps, ec_GBps, seal_GBps  each stage alone
//   bound_GBps                      1 / (1/hmac + 1/ec + 1/seal)
//   pipeline_GBps, ratio            the pipeline and pipeline / bound
//   stripe_bytes                    buffers of one stripe in flight
//   allocs_per_chunk                heap allocations (C++ and OpenSSL) per
//                                   pipeline run in the steady state;
//   hmac_allocs, ec_allocs,         the same per stage (no buffer is ever
//   seal_allocs                     allocated: these are OpenSSL contexts
//                                   and the 32-byte chunk key)
// `paired_stripe_codec/<scheme>` alternates the preallocated
// seal-then-parity pipeline with stripe_codec's encode_stripe (plus chunk
// id and chunk key), checks they give the same bytes, and reports
// ratio = encode_stripe rate / preallocated rate.
// The unpaired benchmarks (stage_*, pipeline) are the same operations under
// Google Benchmark's own loop, for a second opinion.
#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "actors/chunk/erasure_code.h"
#include "actors/chunk/stripe_codec.h"
#include "actors/keys/crypto.h"
#include "actors/keys/random_source.h"
#include "actors/keys/seal.h"
#include "actors/keys/secret_bytes.h"

// --- allocation counting -------------------------------------------------------
// Every C++ allocation (operator new) and every OpenSSL allocation
// (CRYPTO_set_mem_functions, installed first thing in main) is counted, so
// that the benchmark can say how many allocations one chunk costs. Not
// inlined: GCC would otherwise see malloc/free through every new/delete pair
// and warn (-Wmismatched-new-delete).
namespace {
std::atomic<std::uint64_t> allocations{0};
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t bytes) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

bool count_openssl_allocations() {
  return CRYPTO_set_mem_functions(
             [](std::size_t n, const char*, int) -> void* {
               allocations.fetch_add(1, std::memory_order_relaxed);
               return std::malloc(n);
             },
             [](void* p, std::size_t n, const char*, int) -> void* {
               allocations.fetch_add(1, std::memory_order_relaxed);
               return std::realloc(p, n);
             },
             [](void* p, const char*, int) { std::free(p); }) == 1;
}
bool openssl_allocations_counted = false;

using namespace cairn::chunk;
using namespace cairn::keys;

constexpr std::uint64_t chunk_bytes = 4 << 20;

std::uint64_t cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

secret_bytes random_key(std::uint64_t seed) {
  secret_bytes k(tenant_key_bytes);
  deterministic_random_source(seed).fill(k.writable());
  return k;
}

// Which comes first. ADR 0004 (docs/adr/0004-seal-data-shards-then-parity.md,
// actors/chunk/stripe_codec): the k data pieces are sealed, then parity is
// computed over the sealed shards (S + 16 bytes each); this is the data
// path. The text (and ADR 0004's rejected option B): parity over
// the plaintext pieces, then all k + m shards sealed.
enum class order : std::int64_t { seal_then_parity = 0, parity_then_seal = 1 };

std::string_view to_string(order o) {
  return o == order::seal_then_parity ? "seal-then-parity" : "parity-then-seal";
}

// One stripe in flight, as the write pipeline would hold it, allocated once:
// the chunk in a buffer padded to k * S (the data pieces point into it), one
// sealed output (ciphertext || tag, or parity over sealed shards) per shard,
// and for parity_then_seal the m plaintext parity pieces.
struct stripe {
  stripe(const ec_scheme& s, order o)
      : scheme(s),
        how(o),
        coder(s),
        k(s.data_shards),
        m(s.parity_shards),
        piece(coder.shard_bytes(chunk_bytes)),
        sealed_piece(gcm_sealed_bytes(piece)),
        chunk(k * piece, 0),
        parity(o == order::parity_then_seal ? m * piece : 0),
        sealed((k + m) * sealed_piece),
        dedup_key(random_key(1)),
        data_key(random_key(2)) {
    deterministic_random_source(3).fill(std::span(chunk).first(chunk_bytes));  // padding stays 0
    for (std::size_t i = 0; i < k; ++i) plain.emplace_back(&chunk[i * piece], piece);
    for (std::size_t j = 0; j < parity.size() / piece; ++j) {
      parity_plain.emplace_back(&parity[j * piece], piece);
      plain.emplace_back(parity_plain.back());
    }
    for (std::size_t i = 0; i < k + m; ++i)
      out.emplace_back(&sealed[i * sealed_piece], sealed_piece);
    for (std::size_t i = 0; i < k; ++i) sealed_data.emplace_back(out[i]);
    sealed_parity.assign(out.begin() + static_cast<std::ptrdiff_t>(k), out.end());
  }

  std::uint32_t scheme_number() const { return static_cast<std::uint32_t>(scheme.id); }
  std::uint32_t shards_sealed() const {
    return static_cast<std::uint32_t>(how == order::seal_then_parity ? k : k + m);
  }

  // The chunk id over the plaintext (not the padding).
  void hmac() {
    id = chunk_id_of(dedup_key, std::span<const std::uint8_t>(chunk).first(chunk_bytes));
  }
  // The chunk key, then the data pieces (and for parity_then_seal the
  // parity pieces) sealed into their outputs.
  void seal() {
    const secret_bytes key = derive_chunk_key(data_key, id, scheme_number());
    for (std::uint32_t i = 0; i < shards_sealed(); ++i)
      seal_shard(key, {id, scheme_number(), i, first_epoch}, plain[i], out[i]);
  }
  // Parity from the data shards in place: the sealed ones or the plaintext.
  void ec() {
    if (how == order::seal_then_parity)
      coder.encode_parity(sealed_data, sealed_parity);
    else
      coder.encode_parity(std::span(plain).first(k), parity_plain);
  }
  void pipeline() {
    hmac();
    if (how == order::seal_then_parity) {
      seal();
      ec();
    } else {
      ec();
      seal();
    }
  }

  // The bytes one stripe in flight holds: the chunk buffer (k * S), the
  // plaintext parity (m * S, parity_then_seal only), the outputs
  // ((k + m) * (S + 16), tags included), the chunk id and the chunk key.
  std::uint64_t bytes_in_flight() const {
    return chunk.size() + parity.size() + sealed.size() + id.size() + chunk_key_bytes;
  }

  // Every sealed shard opens to its plaintext piece; parity over sealed
  // shards equals a fresh encoding; the chunk id is the HMAC.
  bool verify() const {
    const secret_bytes key = derive_chunk_key(data_key, id, scheme_number());
    std::vector<std::uint8_t> opened(piece);
    for (std::uint32_t i = 0; i < shards_sealed(); ++i) {
      if (open_shard(key, {id, scheme_number(), i, first_epoch}, out[i], opened) != open_status::ok)
        return false;
      if (std::memcmp(opened.data(), plain[i].data(), piece) != 0) return false;
    }
    if (how == order::seal_then_parity) {
      std::vector<std::uint8_t> again(m * sealed_piece);
      std::vector<std::span<std::uint8_t>> again_spans;
      for (std::size_t j = 0; j < m; ++j)
        again_spans.emplace_back(&again[j * sealed_piece], sealed_piece);
      coder.encode_parity(sealed_data, again_spans);
      if (!std::equal(again.begin(), again.end(), sealed.begin() + k * sealed_piece)) return false;
    }
    return id == hmac_sha256(dedup_key.bytes(), std::span(chunk).first(chunk_bytes));
  }

  std::string label() const { return std::string(scheme.name) + " " + std::string(to_string(how)); }

  ec_scheme scheme;
  order how;
  erasure_coder coder;
  std::size_t k, m, piece, sealed_piece;
  std::vector<std::uint8_t> chunk, parity, sealed;
  std::vector<std::span<const std::uint8_t>> plain, sealed_data;
  std::vector<std::span<std::uint8_t>> parity_plain, out, sealed_parity;
  secret_bytes dedup_key, data_key;
  chunk_id id{};
};

stripe make_stripe(const benchmark::State& state) {
  return stripe(all_schemes()[static_cast<std::size_t>(state.range(0))],
                static_cast<order>(state.range(1)));
}

void set_common(benchmark::State& state, const stripe& st) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk_bytes));
  state.SetLabel(st.label());
  state.counters["stripe_bytes"] = static_cast<double>(st.bytes_in_flight());
}

void stage_hmac(benchmark::State& state) {
  stripe st = make_stripe(state);
  for (auto _ : state) {
    st.hmac();
    benchmark::DoNotOptimize(st.id);
  }
  set_common(state, st);
}

void stage_ec(benchmark::State& state) {
  stripe st = make_stripe(state);
  st.pipeline();
  for (auto _ : state) {
    st.ec();
    benchmark::ClobberMemory();
  }
  set_common(state, st);
}

void stage_seal(benchmark::State& state) {
  stripe st = make_stripe(state);
  st.pipeline();
  for (auto _ : state) {
    st.seal();
    benchmark::ClobberMemory();
  }
  set_common(state, st);
}

void pipeline(benchmark::State& state) {
  stripe st = make_stripe(state);
  for (auto _ : state) {
    st.pipeline();
    benchmark::ClobberMemory();
  }
  if (!st.verify()) state.SkipWithError("the stripe does not check out");
  set_common(state, st);
}

// Runs the operations in `ops` once per iteration each, starting one
// further every iteration, timing each with this thread's CPU clock and
// counting its allocations.
template <std::size_t N>
struct paired_times {
  std::uint64_t ns[N] = {};
  std::uint64_t allocated[N] = {};
};

template <std::size_t N, typename Op>
paired_times<N> run_paired(benchmark::State& state, Op&& op) {
  paired_times<N> t;
  std::size_t first = 0;
  for (auto _ : state) {
    for (std::size_t n = 0; n < N; ++n) {
      const std::size_t which = (first + n) % N;
      const std::uint64_t allocated_before = allocations.load(std::memory_order_relaxed);
      const std::uint64_t start = cpu_ns();
      op(which);
      benchmark::ClobberMemory();
      t.ns[which] += cpu_ns() - start;
      t.allocated[which] += allocations.load(std::memory_order_relaxed) - allocated_before;
    }
    first = (first + 1) % N;
  }
  return t;
}

// The result. Four timed operations per iteration (hmac, ec, seal alone,
// then the pipeline) on the same buffers.
void paired_pipeline(benchmark::State& state) {
  stripe st = make_stripe(state);
  st.pipeline();  // warm: the OpenSSL algorithm objects are fetched once
  const auto t = run_paired<4>(state, [&](std::size_t op) {
    switch (op) {
      case 0:
        st.hmac();
        break;
      case 1:
        st.ec();
        break;
      case 2:
        st.seal();
        break;
      default:
        st.pipeline();
        break;
    }
  });
  if (!st.verify()) state.SkipWithError("the stripe does not check out");
  const double bytes = static_cast<double>(state.iterations()) * chunk_bytes;
  auto gbps = [&](std::uint64_t ns) { return bytes / static_cast<double>(ns); };  // bytes/ns
  const double bound = bytes / static_cast<double>(t.ns[0] + t.ns[1] + t.ns[2]);
  state.counters["hmac_GBps"] = gbps(t.ns[0]);
  state.counters["ec_GBps"] = gbps(t.ns[1]);
  state.counters["seal_GBps"] = gbps(t.ns[2]);
  state.counters["bound_GBps"] = bound;
  state.counters["pipeline_GBps"] = gbps(t.ns[3]);
  state.counters["ratio"] = gbps(t.ns[3]) / bound;
  state.counters["stripe_bytes"] = static_cast<double>(st.bytes_in_flight());
  auto per_chunk = [&](std::uint64_t n) {
    return static_cast<double>(n) / static_cast<double>(state.iterations());
  };
  state.counters["allocs_per_chunk"] = per_chunk(t.allocated[3]);
  state.counters["hmac_allocs"] = per_chunk(t.allocated[0]);
  state.counters["ec_allocs"] = per_chunk(t.allocated[1]);
  state.counters["seal_allocs"] = per_chunk(t.allocated[2]);
  state.counters["openssl_allocs_counted"] = openssl_allocations_counted ? 1 : 0;
  state.SetLabel(st.label());
}

// The preallocated seal-then-parity pipeline against the data path's own
// codec (chunk id + chunk key + stripe_codec's encode_stripe, which
// allocates its shards per call), alternating on the same chunk; checks
// that both produce the same bytes. ratio = codec / preallocated.
void paired_stripe_codec(benchmark::State& state) {
  stripe st(all_schemes()[static_cast<std::size_t>(state.range(0))], order::seal_then_parity);
  st.pipeline();
  stored_shards shards;
  const auto plaintext = std::span<const std::uint8_t>(st.chunk).first(chunk_bytes);
  const auto t = run_paired<2>(state, [&](std::size_t op) {
    if (op == 0) {
      st.pipeline();
    } else {
      const chunk_id id = chunk_id_of(st.dedup_key, plaintext);
      const secret_bytes key = derive_chunk_key(st.data_key, id, st.scheme_number());
      shards = encode_stripe(st.coder, key, {id, first_epoch.value}, plaintext);
    }
  });
  for (std::size_t i = 0; i < st.k + st.m; ++i)
    if (shards.size() != st.k + st.m ||
        !std::equal(shards[i].begin(), shards[i].end(), st.out[i].begin(), st.out[i].end()))
      state.SkipWithError("encode_stripe and the pipeline disagree");
  const double bytes = static_cast<double>(state.iterations()) * chunk_bytes;
  state.counters["pipeline_GBps"] = bytes / static_cast<double>(t.ns[0]);
  state.counters["codec_GBps"] = bytes / static_cast<double>(t.ns[1]);
  state.counters["ratio"] = static_cast<double>(t.ns[0]) / static_cast<double>(t.ns[1]);
  state.counters["codec_allocs_per_chunk"] =
      static_cast<double>(t.allocated[1]) / static_cast<double>(state.iterations());
  state.SetLabel(std::string(st.scheme.name));
}

std::int64_t index_of(scheme_id id) {
  const auto schemes = all_schemes();
  for (std::size_t i = 0; i < schemes.size(); ++i)
    if (schemes[i].id == id) return static_cast<std::int64_t>(i);
  return 0;
}

// RS 4+2 is the case; the other Reed-Solomon schemes come along.
void reed_solomon_schemes_both_orders(benchmark::internal::Benchmark* b) {
  const auto schemes = all_schemes();
  for (const auto o : {order::seal_then_parity, order::parity_then_seal})
    for (std::size_t i = 0; i < schemes.size(); ++i)
      if (schemes[i].kind == scheme_kind::reed_solomon)
        b->Args({static_cast<std::int64_t>(i), static_cast<std::int64_t>(o)});
}

void rs_4_2_both_orders(benchmark::internal::Benchmark* b) {
  for (const auto o : {order::seal_then_parity, order::parity_then_seal})
    b->Args({index_of(scheme_id::rs_4_2), static_cast<std::int64_t>(o)});
}

BENCHMARK(paired_pipeline)->Apply(reed_solomon_schemes_both_orders);
BENCHMARK(paired_stripe_codec)->Arg(index_of(scheme_id::rs_4_2));
BENCHMARK(stage_hmac)->Apply(rs_4_2_both_orders);
BENCHMARK(stage_ec)->Apply(rs_4_2_both_orders);
BENCHMARK(stage_seal)->Apply(rs_4_2_both_orders);
BENCHMARK(pipeline)->Apply(rs_4_2_both_orders);

}  // namespace

int main(int argc, char** argv) {
  openssl_allocations_counted = count_openssl_allocations();  // before OpenSSL allocates
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
