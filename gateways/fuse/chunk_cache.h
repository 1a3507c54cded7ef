// gateways/fuse/chunk_cache.h — the FUSE client's two-tier chunk cache
// (ADR 0009 §5): L1 holds plaintext chunks in memory, L2 holds a chunk's k
// sealed data shards, exactly as the devices store them, in one file per
// chunk under a local directory. Both are keyed by chunk id (the HMAC of
// the plaintext), so an entry never goes stale: a file whose version
// changes names other chunks. Which entries stay is decided by the pure
// cache_policy; this class moves the bytes.
//
// Owner: one per mount, shared by the mount's actors (thread-safe). File
// I/O goes through `cache_files`, so tests inject a full or corrupting
// directory.
//
// Invariants (on top of the policy's CC1-CC4):
//  CH1. L2 files hold only sealed shards (no plaintext at rest): a file is
//       the stripe's k data shards as encode_stripe makes them.
//  CH2. get() returns the chunk's plaintext or nothing: an L2 file is
//       opened and authenticated (SC1) against the chunk reference the
//       caller got from the namespace, never against the file's own
//       header. A file that fails is deleted and counted, and the read is
//       a miss.
//  CH3. A full directory never fails a read: put() answers whether the
//       chunk was kept; on ENOSPC it evicts unpinned entries (make_room)
//       and tries once more, then gives up on L2 for that chunk.
//  CH4. A file is written under a temporary name, synced, then renamed, so
//       a reader or a restart sees a whole file or none. Every file the
//       directory holds is counted by the policy: files are created and
//       removed under the cache's mutex, after the policy's decision.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "actors/keys/key_manager_actor.h"
#include "actors/shard/namespace_state.h"
#include "gateways/fuse/cache_policy.h"

namespace cairn::fuse {

/// The L2 directory's files, by name (a chunk id in hex).
class cache_files {
 public:
  virtual ~cache_files() = default;
  /// Writes `bytes` as `name` atomically (CH4): 0 or an errno (ENOSPC).
  virtual int write(const std::string& name, std::span<const std::uint8_t> bytes) = 0;
  /// The file's bytes, or nullopt if it is missing or unreadable.
  virtual std::optional<std::vector<std::uint8_t>> read(const std::string& name) const = 0;
  virtual void remove(const std::string& name) = 0;
  struct listed {
    std::string name;
    std::uint64_t bytes = 0;
    std::int64_t mtime_ns = 0;
  };
  /// The complete files there (leftover temporary files are deleted).
  virtual std::vector<listed> list() = 0;
};

/// cache_files over a real directory (created if missing, mode 0700).
/// Throws std::runtime_error naming the directory if it cannot be used.
std::unique_ptr<cache_files> directory_cache_files(const std::string& path);

struct chunk_cache_stats {
  tier_stats l1, l2;
  std::uint64_t l2_corrupt = 0;         // files that failed to open (CH2)
  std::uint64_t l2_write_failures = 0;  // puts that gave up on L2 (CH3)
  std::uint64_t l2_no_space = 0;        // ENOSPC answers seen
};

class chunk_cache {
 public:
  /// Files already in the directory are kept as organic entries, oldest
  /// first, as far as the bound allows (pins do not survive a restart).
  chunk_cache(cache_mode mode, cache_bounds bounds, std::unique_ptr<cache_files> files);

  cache_mode mode() const { return policy_.mode(); }

  /// The chunk's plaintext from L1, else from L2 (then kept in L1 too),
  /// else null. `grant` must be for the chunk's key epoch.
  std::shared_ptr<const std::vector<std::uint8_t>> get(const keys::key_grant& grant,
                                                       const shard::chunk_ref& ref);

  /// Keeps a chunk read from the devices (or just written): in L1, and
  /// sealed in L2. `pin` (pinned mode, `cairn stage`) pins the L2 copy.
  /// The answer says whether L2 kept it, and why not.
  admission put(const keys::key_grant& grant, const shard::chunk_ref& ref,
                std::shared_ptr<const std::vector<std::uint8_t>> plaintext, bool pin = false);

  /// Whether L2 holds the chunk pinned (a stage already done needs no fetch).
  bool pinned(const shard::chunk_ref& ref) const;
  /// `cairn stage --release`: pinned entries become organic.
  void release_pins();

  chunk_cache_stats stats() const;

  static std::string file_name(const shard::chunk_hash& id);

 private:
  std::optional<std::vector<std::uint8_t>> open_l2(const keys::key_grant& grant,
                                                   const shard::chunk_ref& ref);
  void forget_l2_locked(const shard::chunk_hash& id);

  mutable std::mutex mutex_;
  cache_policy policy_;
  std::map<chunk_id, std::shared_ptr<const std::vector<std::uint8_t>>> l1_;
  std::unique_ptr<cache_files> files_;
  std::uint64_t l2_corrupt_ = 0, l2_write_failures_ = 0, l2_no_space_ = 0;
};

}  // namespace cairn::fuse
