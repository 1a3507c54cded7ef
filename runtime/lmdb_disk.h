// runtime/lmdb_disk.h — every shard replica's Raft storage on a node, in one
// LMDB environment: two sub-databases shared by all shards, keyed by shard
// id first (ADR 0003): `raft_log` (shard, index) -> entry and `raft_meta`
// (shard, name) -> hard state, compaction point, snapshot, tombstone.
//
// Owner: the node runtime. One lmdb_environment per node; one lmdb_disk per
// local replica, used only from that replica's actor. Every write() is one
// LMDB transaction; the environment runs with MDB_NOSYNC and sync() forces
// the file to disk, coalescing concurrent callers (group commit: replicas
// that ask while an fsync is running share the next one).
//
// Invariants:
//  D1. load() returns exactly what the last successful sync() covered, or
//      more (writes after it that happened to reach the disk); a gap or an
//      undecodable record ends the log.
//  D2. sync() returns ok only after every write() that returned before the
//      call is durable.
//  D3. A shard with a tombstone is never bootstrapped again on this node.
//  D4. Corruption is detected, never served: every value carries a CRC32C
//      over its key and payload (ISA-L), checked on every read; verify()
//      also checks that the file is not shorter than the last commit needs.
//      A failed check throws (load) or is reported (verify), and the node
//      refuses to start.
//  D5. A snapshot is stored as pieces of at most 4 MiB under one header
//      ("snapshot_pieces": count, total bytes), replaced in one transaction;
//      a missing or corrupt piece is corruption (D4). LMDB keeps each value
//      in one run of contiguous pages, and rewriting a whole-namespace
//      snapshot of hundreds of MiB as one value fragments the free list
//      until the map is full.
#pragma once

#include <lmdb.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "actors/shard/env.h"

namespace cairn::runtime {

/// Latency histogram of fsyncs (seconds), Prometheus-style cumulative.
struct fsync_histogram {
  static constexpr double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                      0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  std::uint64_t counts[std::size(bounds) + 1] = {};
  double sum = 0;
  std::uint64_t total = 0;
  void observe(double seconds);
};

class lmdb_environment {
 public:
  /// Opens (creating) the environment in `dir`. Throws std::runtime_error
  /// naming the directory and LMDB's reason on failure (including a file
  /// that is not an LMDB environment or is corrupt).
  /// `read_only` opens an existing environment without changing it.
  explicit lmdb_environment(const std::string& dir, std::uint64_t map_bytes = 1ULL << 30,
                            bool read_only = false);
  ~lmdb_environment();
  lmdb_environment(const lmdb_environment&) = delete;
  lmdb_environment& operator=(const lmdb_environment&) = delete;
  MDB_env* get() const { return env_; }
  MDB_dbi log_dbi() const { return log_; }
  MDB_dbi meta_dbi() const { return meta_; }

  /// Walks every record (D4). Returns "" if all is well, else what is wrong.
  /// Run it in a child process first (runtime/node.cpp): reading a
  /// damaged LMDB file can fault.
  std::string verify() const;

  /// Shards with any stored state (tombstoned ones excluded).
  std::vector<std::uint64_t> stored_shards() const;

  /// Group commit (D2). Thread-safe.
  shard::io_status sync();
  /// Called by writers after each committed transaction.
  void note_write(std::uint64_t bytes);

  /// Space, refreshed by refresh_space() (the node's controller, every
  /// 100 ms): new client writes are refused while the LMDB map is at least
  /// `full_percent` used or the file system has less than `reserve_bytes`
  /// free, and accepted again as soon as that is no longer so.
  struct space_report {
    std::uint64_t map_used_bytes = 0, map_bytes = 0, fs_free_bytes = 0;
    bool full = false;
    std::string why;
  };
  void set_space_limits(unsigned full_percent, std::uint64_t reserve_bytes);
  space_report refresh_space();
  space_report space() const;
  bool accepting_writes(std::string& why) const;

  fsync_histogram fsyncs() const;
  std::uint64_t bytes_written() const;
  std::uint64_t syncs_requested() const;

 private:
  MDB_env* env_ = nullptr;
  MDB_dbi log_ = 0;
  MDB_dbi meta_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable synced_;
  std::uint64_t writes_ = 0;         // committed write transactions
  std::uint64_t synced_writes_ = 0;  // covered by a finished fsync
  bool syncing_ = false;
  std::uint64_t syncs_requested_ = 0;
  fsync_histogram fsyncs_;
  std::uint64_t bytes_written_ = 0;
  std::string dir_;
  unsigned full_percent_ = 95;
  std::uint64_t reserve_bytes_ = 256ull << 20;
  space_report space_;
};

/// Checks the environment in `dir` (if there is one) in a child process,
/// so that a fault while reading a damaged file cannot take this process
/// down. Throws std::runtime_error naming the problem; returns if all is
/// well or there is nothing yet. Call before starting threads.
void verify_in_child(const std::string& dir, std::uint64_t map_bytes);

class lmdb_disk final : public shard::disk {
 public:
  /// `initial` is the membership of a group with nothing stored and no
  /// bootstrap snapshot (empty for a replica that waits for a snapshot).
  lmdb_disk(lmdb_environment& env, std::uint64_t shard_id, raft::conf_state initial = {});

  /// True if anything (hard state or snapshot) is stored for this shard.
  bool has_state() const;
  /// True if this shard was destroyed here (D3).
  bool tombstoned() const;
  /// Creates a new group's first state, durably: a snapshot at index 1,
  /// term 1 with `conf` and `state_machine_data`. Every member bootstraps
  /// the same; a replica added later gets it as a snapshot (the log starts
  /// at 2), so it always learns the full membership. No-op if has_state().
  void bootstrap(const raft::conf_state& conf, const raft::bytes& state_machine_data);
  /// Deletes the shard's state and leaves a tombstone.
  void destroy();

  raft::restored_state load() override;
  shard::io_status write(const raft::ready& rd) override;
  shard::io_status sync() override;
  bool accepting_writes(std::string& why) const override { return env_.accepting_writes(why); }

 private:
  lmdb_environment& env_;
  std::uint64_t shard_;
  raft::conf_state initial_;
};

}  // namespace cairn::runtime
