// gateways/fuse/stager.h — `cairn stage` inside a mount (ADR 0009 §8):
// prefetches every chunk of the files under a path into the chunk cache,
// pinned when the cache is in pinned mode, with progress (files, bytes);
// `--release` unpins. One stage runs at a time per mount.
//
// Owner: the mount's control server (control.h) runs it on the control
// connection's thread; the fetches go through the chunk reader (parallel,
// shared with readers, CR1).
//
// Invariants:
//  ST1. A stage that reports done has every chunk of every file it counted
//       in the cache (pinned, in pinned mode) at that moment: each fetch
//       returned the chunk's authenticated bytes and L2 admitted it.
//  ST2. In pinned mode a stage never asks for more pinned bytes than L2's
//       bound: it is refused up front with the room it needs.
//  ST3. Bounded: at most `parallel` chunk fetches in flight.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "gateways/fuse/mount_fs.h"

namespace cairn::fuse {

struct stage_progress {
  enum class state : std::uint8_t { idle, counting, fetching, done, failed };
  state what = state::idle;
  std::string path;
  std::uint64_t files_total = 0, files_done = 0;
  std::uint64_t bytes_total = 0, bytes_done = 0;
  std::uint64_t chunks_fetched = 0;  // from the devices (the rest were cached)
  double seconds = 0;
  std::string error;
};
std::string_view to_string(stage_progress::state s);

class stager {
 public:
  explicit stager(mount_fs& fs, unsigned parallel = 4) : fs_(fs), parallel_(parallel) {}

  /// Stages `path` (relative to the mount's root). Calls `report` about
  /// four times a second and once at the end, from this thread.
  stage_progress run(const std::string& path,
                     const std::function<void(const stage_progress&)>& report);
  /// The running or last stage.
  stage_progress status() const;
  /// Unpins everything staged (the chunks stay, as organic entries).
  void release();

 private:
  mount_fs& fs_;
  unsigned parallel_;
  mutable std::mutex mutex_;
  std::mutex running_;  // one stage at a time
  stage_progress last_;
};

}  // namespace cairn::fuse
