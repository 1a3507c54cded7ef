// tests/bench/seal_bench.cpp — throughput of the data path's cryptography
// (actors/keys): HMAC-SHA256 (chunk ids) and AES-256-GCM seal and open, on
// 1 MiB buffers, and the whole per-chunk cost of a 4 MiB chunk under RS 4+2
// (chunk id, chunk key derivation, six 1 MiB shards sealed).
//
// Owner: tests (benchmarks); single-threaded. Run from a Release build:
//   build/release/tests/seal_bench --benchmark_min_time=0.5
// bytes_per_second is plaintext bytes per CPU second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "actors/keys/crypto.h"
#include "actors/keys/random_source.h"
#include "actors/keys/seal.h"

namespace {

using namespace cairn::keys;

constexpr std::size_t buffer_bytes = 1 << 20;

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint8_t> out(n);
  deterministic_random_source(seed).fill(out);
  return out;
}

secret_bytes random_key(std::uint64_t seed) {
  secret_bytes k(tenant_key_bytes);
  deterministic_random_source(seed).fill(k.writable());
  return k;
}

void hmac_sha256_1mib(benchmark::State& state) {
  const auto key = random_bytes(32, 1);
  const auto data = random_bytes(buffer_bytes, 2);
  for (auto _ : state) benchmark::DoNotOptimize(hmac_sha256(key, data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buffer_bytes));
}
BENCHMARK(hmac_sha256_1mib);

void aes256gcm_seal_1mib(benchmark::State& state) {
  const auto key = random_bytes(32, 1);
  const auto nonce = random_bytes(12, 3);
  const auto ad = random_bytes(62, 4);
  const auto data = random_bytes(buffer_bytes, 2);
  std::vector<std::uint8_t> sealed(gcm_sealed_bytes(buffer_bytes));
  for (auto _ : state) {
    aes256gcm_seal(key, nonce, ad, data, sealed);
    benchmark::DoNotOptimize(sealed.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buffer_bytes));
}
BENCHMARK(aes256gcm_seal_1mib);

void aes256gcm_open_1mib(benchmark::State& state) {
  const auto key = random_bytes(32, 1);
  const auto nonce = random_bytes(12, 3);
  const auto ad = random_bytes(62, 4);
  const auto data = random_bytes(buffer_bytes, 2);
  const auto sealed = aes256gcm_seal(key, nonce, ad, data);
  std::vector<std::uint8_t> out(buffer_bytes);
  for (auto _ : state) {
    if (aes256gcm_open(key, nonce, ad, sealed, out) != open_status::ok)
      state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buffer_bytes));
}
BENCHMARK(aes256gcm_open_1mib);

// Everything the key side costs for one 4 MiB chunk under RS 4+2, without
// the erasure coding itself: the parity shards are stand-ins of the right
// size.
void chunk_4mib_rs_4_2(benchmark::State& state) {
  constexpr std::uint32_t scheme = 0x0402;
  constexpr std::uint32_t width = 6;
  constexpr std::size_t shard_bytes = (4 << 20) / 4;
  const secret_bytes dedup = random_key(1);
  const secret_bytes data = random_key(2);
  const auto chunk = random_bytes(4 << 20, 3);
  std::vector<std::vector<std::uint8_t>> sealed(
      width, std::vector<std::uint8_t>(gcm_sealed_bytes(shard_bytes)));
  for (auto _ : state) {
    const chunk_id id = chunk_id_of(dedup, chunk);
    const secret_bytes key = derive_chunk_key(data, id, scheme);
    for (std::uint32_t i = 0; i < width; ++i) {
      const std::size_t offset = (i % 4) * shard_bytes;
      seal_shard(key, {id, scheme, i, first_epoch}, std::span(chunk).subspan(offset, shard_bytes),
                 sealed[i]);
    }
    benchmark::DoNotOptimize(sealed.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(chunk_4mib_rs_4_2);

}  // namespace

BENCHMARK_MAIN();
