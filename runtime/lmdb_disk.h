// runtime/lmdb_disk.h — a replica's Raft storage in LMDB: one environment
// per node, named sub-databases per shard ("<shard>/log", "<shard>/meta").
//
// Owner: the node runtime; one instance per local replica, used only from
// that replica's actor. Every write() is one LMDB transaction; the
// environment is opened with MDB_NOSYNC and sync() calls mdb_env_sync, so
// an fsync happens exactly when a Ready asks for one. LMDB's copy-on-write
// B-tree keeps the file consistent across a crash; what was not synced
// may be lost, which the Ready contract allows.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <mutex>
#include <string>

#include "actors/shard/env.h"

namespace cairn::runtime {

/// Latency histogram of fsyncs (seconds), Prometheus-style cumulative.
struct fsync_histogram {
  static constexpr double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025,  0.05,  0.1,    0.25,  1.0};
  std::uint64_t counts[std::size(bounds) + 1] = {};
  double sum = 0;
  std::uint64_t total = 0;
  void observe(double seconds);
};

class lmdb_environment {
 public:
  /// Opens (creating) the environment in `dir`. Throws std::runtime_error
  /// naming the directory and LMDB's reason on failure.
  explicit lmdb_environment(const std::string& dir, std::uint64_t map_bytes = 1ULL << 30);
  ~lmdb_environment();
  lmdb_environment(const lmdb_environment&) = delete;
  lmdb_environment& operator=(const lmdb_environment&) = delete;
  MDB_env* get() const { return env_; }

 private:
  MDB_env* env_ = nullptr;
};

class lmdb_disk final : public shard::disk {
 public:
  /// `initial` is the membership of a new group (used when nothing is stored).
  lmdb_disk(lmdb_environment& env, std::uint64_t shard_id, raft::conf_state initial);

  raft::restored_state load() override;
  shard::io_status write(const raft::ready& rd) override;
  shard::io_status sync() override;

  /// Safe to call from any thread (the admin endpoint reads it).
  fsync_histogram fsyncs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return fsyncs_;
  }
  std::uint64_t bytes_written() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_written_;
  }

 private:
  lmdb_environment& env_;
  MDB_dbi log_ = 0;
  MDB_dbi meta_ = 0;
  raft::conf_state initial_;
  mutable std::mutex mutex_;  // guards the two counters below
  fsync_histogram fsyncs_;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace cairn::runtime
