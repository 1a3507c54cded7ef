// gateways/common/chunk_pipeline.h — the gateway side of the data path
// (ARCHITECTURE §5): one chunk of plaintext to sealed, erasure-coded shards
// on the chunk devices placement picks, and back. Shared by the S3, NFS and
// FUSE gateways.
//
// Owner: a gateway session (or a test) calls it from a blocking CAF actor
// (a detached session actor, a scoped_actor): every call waits for the
// devices' replies, with all of a stripe's requests in flight at once. A
// chunk_pipeline holds no mutable state: one per session is fine.
//
// Write: chunk id = HMAC-SHA256(tenant dedup key, plaintext); chunk key =
// HKDF(data key of the grant's epoch, id, scheme); encode_stripe (seal the
// k data pieces, parity over the sealed shards, ADR 0004); place() over
// the current device view; one put per shard, all in flight together; the
// chunk is written when every shard's device answered ok (each answer
// means synced: device_actor.h).
// Read: the same placement gives the preferred devices; data shards first,
// parity only when one is missing or fails its tag (decode_stripe); a
// shard not where placement says (moved by repair, or the view changed)
// is looked for on the other live devices, only when fewer than k were
// found.
//
// Invariants:
//  CP1. No plaintext leaves the pipeline toward a device: only sealed data
//       shards and parity over them.
//  CP2. write() reports success only after width acknowledgements, each
//       from a distinct device (placement: distinct failure domains).
//  CP3. read() returns the written bytes or an error, never other bytes
//       (every data shard is authenticated, SC1).
//  CP4. Memory per call: the chunk, its shards and the shards read, so
//       about (k + m) / k times the chunk, twice; the caller bounds the
//       chunk size (chunk_bytes_max).
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "actors/chunk/erasure_code.h"
#include "actors/keys/key_manager_actor.h"
#include "actors/placement/placement.h"
#include "actors/shard/namespace_state.h"

namespace cairn::gateway {

inline constexpr std::uint64_t chunk_bytes_default = 4ull << 20;
inline constexpr std::uint64_t chunk_bytes_max = 64ull << 20;

/// A chunk device a gateway can reach: its placement entry and its actor
/// (null while failed or gone).
struct device_endpoint {
  placement::device device;
  caf::actor actor;
};

/// The devices as the gateway sees them now (a snapshot; shared read-only).
struct device_directory {
  std::vector<device_endpoint> devices;
  placement::cluster_view view() const;
  const device_endpoint* find(placement::device_id id) const;
};

struct pipeline_options {
  chunk::scheme_id scheme = chunk::scheme_id::rs_4_2;
  /// Chunk ids are deduplicated within this scope only: the namespace
  /// shard that will reference them (ADR 0007). 0: unscoped.
  std::uint64_t dedup_scope = 0;
  std::chrono::milliseconds device_timeout{30'000};
};

struct pipeline_error {
  enum class kind : std::uint8_t {
    no_placement,    // fewer usable devices than the scheme is wide
    device_refused,  // a device said full, invalid or failed
    timeout,         // a device did not answer
    unreadable,      // fewer than k good shards could be found
    too_large,       // over chunk_bytes_max
  };
  kind what;
  std::string detail;
};

class chunk_pipeline {
 public:
  chunk_pipeline(std::shared_ptr<const device_directory> devices, pipeline_options options);

  /// Writes one chunk; on success, its reference (offset as given).
  std::variant<shard::chunk_ref, pipeline_error> write(caf::blocking_actor* self,
                                                       const keys::key_grant& grant,
                                                       std::span<const std::uint8_t> plaintext,
                                                       std::uint64_t offset) const;

  /// Reads one chunk back (all of it).
  std::variant<std::vector<std::uint8_t>, pipeline_error> read(caf::blocking_actor* self,
                                                               const keys::key_grant& grant,
                                                               const shard::chunk_ref& ref) const;

  /// A read in two steps, so a reader can fetch chunk n + 1 while it sends
  /// chunk n: start_read() sends the requests for the data shards and
  /// returns at once; finish_read() collects them (asking parity or other
  /// devices when needed) and decodes. read() is both in a row.
  struct pending_read;
  struct pending_read_deleter {
    void operator()(pending_read* p) const;
  };
  using pending_read_ptr = std::unique_ptr<pending_read, pending_read_deleter>;
  pending_read_ptr start_read(caf::blocking_actor* self, const keys::key_grant& grant,
                              const shard::chunk_ref& ref) const;
  std::variant<std::vector<std::uint8_t>, pipeline_error> finish_read(caf::blocking_actor* self,
                                                                      pending_read& read) const;

  /// What the last read had to do (tests, metrics): degraded, searched.
  struct read_stats {
    std::uint64_t reads = 0;
    std::uint64_t degraded = 0;  // needed parity
    std::uint64_t searched = 0;  // looked beyond the placement targets
  };
  const read_stats& stats() const { return stats_; }

 private:
  std::shared_ptr<const device_directory> devices_;
  pipeline_options options_;
  mutable read_stats stats_;
};

std::string_view to_string(pipeline_error::kind k);

/// Small objects go inline in the Raft entry (ARCHITECTURE §5), sealed
/// exactly as a chunk shard is: chunk id = HMAC(dedup key, plaintext), the
/// chunk key derived for the replicate-1 scheme, one shard sealed with the
/// chunk id, index 0, scheme and epoch as associated data (CP1 holds for
/// the Raft log too). Stored form: the 32-byte chunk id, the 8-byte epoch
/// (big-endian), then the sealed shard.
inline constexpr std::uint64_t inline_bytes_max = 64 * 1024;
std::vector<std::uint8_t> seal_inline(const keys::key_grant& grant,
                                      std::span<const std::uint8_t> plaintext);
/// The plaintext, or nullopt if the stored bytes were altered, are for
/// another tenant, or the grant is for another epoch than the one sealed.
std::optional<std::vector<std::uint8_t>> open_inline(const keys::key_grant& grant,
                                                     std::span<const std::uint8_t> stored);
/// The key epoch an inline object was sealed under (to ask for its grant).
std::optional<std::uint64_t> inline_epoch(std::span<const std::uint8_t> stored);

}  // namespace cairn::gateway
