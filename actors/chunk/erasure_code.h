// actors/chunk/erasure_code.h — erasure coding of one chunk into k data and
// m parity shards with ISA-L, and read plans for ranged and degraded reads.
//
// Owner: pure library (no I/O, no threads, no CAF); used by the gateways'
// write pipeline, the read path and repair. An `erasure_coder` is immutable
// after construction and may be shared between threads.
//
// Layout. A chunk of `chunk_bytes` is cut into k contiguous pieces of
// shard_bytes = ceil(chunk_bytes / k) (the last one zero-padded): data shard
// i holds chunk bytes [i*S, (i+1)*S). Parity shard j is, byte for byte, a
// GF(2^8) combination of the data shards at the same offset. So any byte
// range of one shard can be rebuilt from the same range of any k other
// shards, which is what makes ranged degraded reads cheap: a small read
// touches one data shard, and only when that shard is missing or bad the
// same range of k others.
//
// Decode tables depend only on which shards are read and which are rebuilt;
// the coder caches them (bounded, under a mutex) because one lost device
// gives the same pattern for every stripe it held, and inverting a 29 x 29
// matrix costs about as much as decoding a megabyte.
//
// Reed-Solomon uses a Cauchy generator matrix (gf_gen_cauchy1_matrix): every
// k x k sub-matrix is invertible, for all schemes below (k + m <= 32).
// Replication (1x, 3x) keeps whole copies: k = 1, each "parity" shard is a
// copy of shard 0.
//
// Invariants:
//  EC1. encode() output shard i (i < k) is exactly chunk bytes [i*S, (i+1)*S),
//       zero-padded past chunk_bytes.
//  EC2. reconstruct() succeeds if and only if at least k distinct shards are
//       available, and then every rebuilt byte equals what encode() produced.
//  EC3. plan_read() with nothing unavailable fetches only the data shards
//       overlapping the range, and only the overlapping bytes of each.
//  EC4. A plan never fetches from an unavailable shard and needs at most k
//       fetches per rebuilt segment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::chunk {

/// How a chunk is protected. The numeric ids are persisted (record headers,
/// object metadata) and enter key derivation: never renumber.
enum class scheme_id : std::uint32_t {
  replicate_1 = 0x0101,
  replicate_3 = 0x0103,
  rs_4_2 = 0x0402,
  rs_5_2 = 0x0502,
  rs_8_3 = 0x0803,
  rs_9_2 = 0x0902,
  rs_18_3 = 0x1203,
  rs_29_3 = 0x1d03,
};

enum class scheme_kind : std::uint8_t { replication, reed_solomon };

struct ec_scheme {
  scheme_id id;
  scheme_kind kind;
  std::uint32_t data_shards;    // k
  std::uint32_t parity_shards;  // m
  std::string_view name;        // "rs-4+2", "replicate-3"

  std::uint32_t width() const { return data_shards + parity_shards; }
};

/// Every supported scheme, in a fixed order.
std::span<const ec_scheme> all_schemes();
std::optional<ec_scheme> scheme_by_id(std::uint32_t id);
/// Accepts the names above ("rs-4+2", "replicate-3", ...).
std::optional<ec_scheme> scheme_by_name(std::string_view name);

inline constexpr std::uint32_t shards_per_stripe_max = 32;

/// One contiguous byte range of one shard.
struct shard_range {
  std::uint32_t shard = 0;
  std::uint64_t offset = 0;  // within the shard
  std::uint64_t length = 0;
  friend bool operator==(const shard_range&, const shard_range&) = default;
};

/// How to serve [offset, offset + length) of a chunk.
struct read_plan {
  /// One piece of the requested range, in order: `source` is the range of
  /// the data shard that holds it; `rebuild` says that shard is unavailable
  /// and the piece is computed from `helpers` (k ranges of other shards at
  /// the same shard offsets).
  struct segment {
    shard_range source;
    bool rebuild = false;
    std::vector<std::uint32_t> helpers;
  };
  std::vector<segment> segments;
  /// What to read from devices: each needed shard range once (segments of
  /// one shard merged), sorted by shard then offset.
  std::vector<shard_range> fetches;
  bool degraded() const;
};

/// Bytes read for one fetch of a plan (same order and lengths as `fetches`).
using fetched_ranges = std::vector<std::span<const std::uint8_t>>;

class erasure_coder {
 public:
  explicit erasure_coder(const ec_scheme& scheme);

  const ec_scheme& scheme() const { return scheme_; }
  std::uint32_t data_shards() const { return scheme_.data_shards; }
  std::uint32_t width() const { return scheme_.width(); }

  /// Bytes in each shard of a chunk of `chunk_bytes`.
  std::uint64_t shard_bytes(std::uint64_t chunk_bytes) const;

  /// Cuts `chunk` into width() shards. `shards` must hold width() spans of
  /// exactly shard_bytes(chunk.size()) bytes each (caller-owned buffers: no
  /// allocation here).
  void encode(std::span<const std::uint8_t> chunk,
              std::span<const std::span<std::uint8_t>> shards) const;

  /// Computes the m parity shards from k data shards given in place (no
  /// copy: the write pipeline points `data` into its chunk buffer, padded to
  /// k * shard_bytes). All spans have the same length.
  void encode_parity(std::span<const std::span<const std::uint8_t>> data,
                     std::span<const std::span<std::uint8_t>> parity) const;

  /// Rebuilds shards from others. `available` maps shard index -> bytes (a
  /// null/empty optional = unavailable); all present spans have the same
  /// length L (any same range of their shards). `wanted` lists shard indexes
  /// to rebuild into `out` (same order, each L bytes). Returns false, writing
  /// nothing, when fewer than k shards are available (EC2).
  bool reconstruct(std::span<const std::optional<std::span<const std::uint8_t>>> available,
                   std::span<const std::uint32_t> wanted,
                   std::span<const std::span<std::uint8_t>> out) const;

  /// Plans a read of [offset, offset + length) of a chunk of `chunk_bytes`
  /// when the shards marked in `unavailable` (size width()) cannot be read.
  /// Returns nullopt when the range is outside the chunk or a needed piece
  /// cannot be rebuilt (more than m shards unavailable).
  std::optional<read_plan> plan_read(std::uint64_t chunk_bytes, std::uint64_t offset,
                                     std::uint64_t length, std::span<const bool> unavailable) const;

  /// Assembles the requested bytes from the fetched ranges of `plan` into
  /// `out` (exactly the plan's total length), rebuilding where the plan says.
  void assemble(const read_plan& plan, const fetched_ranges& fetched,
                std::span<std::uint8_t> out) const;

 private:
  /// Coefficients of rebuilt rows `wanted` from source shards `sources`
  /// (k of them): wanted.size() x k, row-major.
  std::vector<std::uint8_t> decode_matrix(std::span<const std::uint32_t> sources,
                                          std::span<const std::uint32_t> wanted) const;

  /// ISA-L tables rebuilding `wanted` from `sources`, from the cache or
  /// computed and cached.
  std::shared_ptr<const std::vector<std::uint8_t>> decode_tables(
      std::span<const std::uint32_t> sources, std::span<const std::uint32_t> wanted) const;

  static constexpr std::size_t decode_cache_entries_max = 256;

  ec_scheme scheme_;
  mutable std::mutex decode_cache_mutex_;
  mutable std::map<std::vector<std::uint8_t>, std::shared_ptr<const std::vector<std::uint8_t>>>
      decode_cache_;                         // key: sources then 0xff then wanted
  std::vector<std::uint8_t> generator_;      // width() x k, row-major; top k rows = identity
  std::vector<std::uint8_t> parity_tables_;  // ISA-L tables for the m parity rows
};

}  // namespace cairn::chunk
