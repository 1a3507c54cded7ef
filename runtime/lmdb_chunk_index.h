// runtime/lmdb_chunk_index.h — a chunk device's index in LMDB: shard key ->
// record location and state (actors/chunk/chunk_index.h).
//
// Owner: runtime; one environment per chunk device (a directory next to
// the device), used only from the device actor's thread.
// The environment runs with MDB_NOSYNC: changes are committed in batches
// and made durable only by flush() (the device calls it at a clean close).
// After an unclean shutdown the device replays its log and calls clear(),
// which deletes and recreates the files rather than reading pages a crash
// may have left half-written. Every value carries a CRC32C; a value that
// fails it reads as absent and is counted (the device then finds the shard
// by replay at the next unclean open, or reports it missing to repair).
#pragma once

#include <lmdb.h>

#include <string>

#include "actors/chunk/chunk_index.h"

namespace cairn::runtime {

class lmdb_chunk_index final : public chunk::chunk_index {
 public:
  /// Throws std::runtime_error naming the directory when it cannot be opened.
  lmdb_chunk_index(std::string dir, std::uint64_t map_bytes);
  ~lmdb_chunk_index() override;
  lmdb_chunk_index(const lmdb_chunk_index&) = delete;
  lmdb_chunk_index& operator=(const lmdb_chunk_index&) = delete;

  std::optional<chunk::index_entry> get(const chunk::shard_key& key) const override;
  void put(const chunk::shard_key& key, const chunk::index_entry& entry) override;
  void erase(const chunk::shard_key& key) override;
  void clear() override;
  std::vector<std::pair<chunk::shard_key, chunk::index_entry>> scan(
      std::optional<chunk::shard_key> after, std::size_t max) const override;
  std::uint64_t size() const override;
  bool flush() override;

  std::uint64_t damaged_values() const { return damaged_values_; }

 private:
  /// Mutations between commits; bounds the write transaction's dirty pages.
  static constexpr unsigned writes_per_commit_max = 1024;

  void open_environment();
  void close_environment();
  MDB_txn* write_txn();
  bool commit();

  std::string dir_;
  std::uint64_t map_bytes_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  MDB_txn* write_ = nullptr;  // open between the first change and the next commit
  unsigned writes_in_txn_ = 0;
  mutable std::uint64_t damaged_values_ = 0;
};

}  // namespace cairn::runtime
