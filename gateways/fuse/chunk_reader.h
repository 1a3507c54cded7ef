// gateways/fuse/chunk_reader.h — the FUSE client's chunk reads: the chunk
// cache first (chunk_cache.h), else the chunk devices through the gateways'
// chunk pipeline over the cluster client's device proxies; read-ahead
// workers fetch the next chunks of a sequential reader in parallel, so a
// stream has several chunks on the wire at once (ADR 0009 §5).
//
// Owner: one per mount, shared by the FUSE worker threads (thread-safe).
//
// Invariants:
//  CR1. One fetch per chunk at a time: a reader asking for a chunk that
//       is being fetched (by another reader or by read-ahead) waits for
//       that fetch's result instead of fetching it again.
//  CR2. Bounded: at most `ahead_queue_max` chunks wait for a read-ahead
//       worker (more are dropped, not queued), and at most `ready_max`
//       fetched chunks are held outside the cache for their reader (a
//       bypass cache or a refusing L1 still gets read-ahead).
//  CR3. A chunk is returned only as the pipeline or the cache returned it
//       (CP3, CH2): authenticated bytes of that chunk id, or null.
#pragma once

#include <caf/all.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gateways/common/chunk_pipeline.h"
#include "gateways/fuse/chunk_cache.h"

namespace cairn::fuse {

struct chunk_reader_options {
  unsigned workers = 4;
  std::size_t ahead_queue_max = 16;
  std::size_t ready_max = 8;
  std::chrono::milliseconds device_timeout{30'000};
};

struct chunk_reader_stats {
  std::uint64_t fetches = 0;         // chunks read from the devices
  std::uint64_t fetch_failures = 0;  // fetches that returned no bytes
  std::uint64_t degraded = 0;        // fetches that needed parity
  std::uint64_t cache_hits = 0;      // served by L1 or L2
  std::uint64_t ahead_hits = 0;      // served by a read-ahead result
  std::uint64_t shared_fetches = 0;  // waited for another reader's fetch (CR1)
  std::uint64_t ahead_dropped = 0;   // read-ahead requests over the bound (CR2)
};

class chunk_reader {
 public:
  using plaintext = std::shared_ptr<const std::vector<std::uint8_t>>;
  using grant_source = std::function<keys::key_grant_ptr(std::uint64_t epoch)>;
  using device_source = std::function<std::shared_ptr<const gateway::device_directory>()>;

  chunk_reader(caf::actor_system& sys, chunk_cache& cache, grant_source grants,
               device_source devices, chunk_reader_options options = {});
  ~chunk_reader();
  chunk_reader(const chunk_reader&) = delete;
  chunk_reader& operator=(const chunk_reader&) = delete;

  /// The chunk's plaintext, or null if it cannot be read (CR3). `pin`
  /// keeps it pinned in L2 (staging).
  plaintext get(const shard::chunk_ref& ref, bool pin = false);
  /// Starts fetching the chunk in the background unless it is cached or
  /// on its way (CR2: dropped when the queue is full).
  void prefetch(const shard::chunk_ref& ref);

  chunk_reader_stats stats() const;

 private:
  struct flight {
    bool done = false;
    plaintext result;
  };
  plaintext fetch(caf::blocking_actor* self, const shard::chunk_ref& ref, bool pin,
                  bool keep_ready);
  void worker();

  caf::actor_system& sys_;
  chunk_cache& cache_;
  grant_source grants_;
  device_source devices_;
  chunk_reader_options options_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<shard::chunk_hash, std::shared_ptr<flight>> flights_;
  std::deque<std::pair<shard::chunk_hash, plaintext>> ready_;  // read-ahead results, oldest first
  std::deque<shard::chunk_ref> queue_;
  bool stopping_ = false;
  chunk_reader_stats stats_;
  std::vector<std::thread> workers_;
};

}  // namespace cairn::fuse
