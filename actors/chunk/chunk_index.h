// actors/chunk/chunk_index.h — the index of a chunk device: shard key ->
// where its record is and what state it is in.
//
// Owner: interface, used only by device_store on the device actor's thread.
// Implementations: memory_chunk_index (below: tests and the simulator) and
// an LMDB one in runtime/ (production). The index is a cache of the record
// log: after an unclean shutdown the device rebuilds it by replaying the
// records (docs/chunk.md, recovery L2), so it is flushed only at a clean
// close. Changes between two flush() calls may be lost at a crash.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "actors/chunk/record.h"

namespace cairn::chunk {

enum class shard_state : std::uint8_t {
  live = 1,     // readable
  in_bin = 2,   // deleted, restorable until the retention window ends
  purged = 3,   // gone; the entry stays only while its delete mark is needed
  corrupt = 4,  // the record failed its checks; never returned, to be repaired
};

struct index_entry {
  shard_state state = shard_state::live;
  std::uint64_t data_offset = 0;  // device offset of the shard record
  std::uint32_t payload_bytes = 0;
  std::uint64_t data_sequence = 0;  // sequence of the shard record
  std::uint64_t epoch = 0;
  /// Sequence and offset of the record that set `state` (the shard record
  /// itself, a delete mark or a restore).
  std::uint64_t state_sequence = 0;
  std::uint64_t state_offset = 0;
  std::uint64_t deleted_at_ms = 0;
  friend bool operator==(const index_entry&, const index_entry&) = default;
};

class chunk_index {
 public:
  virtual ~chunk_index() = default;
  virtual std::optional<index_entry> get(const shard_key& key) const = 0;
  virtual void put(const shard_key& key, const index_entry& entry) = 0;
  virtual void erase(const shard_key& key) = 0;
  virtual void clear() = 0;
  /// Up to `max` entries in key order, strictly after `after` if given.
  virtual std::vector<std::pair<shard_key, index_entry>> scan(std::optional<shard_key> after,
                                                              std::size_t max) const = 0;
  virtual std::uint64_t size() const = 0;
  /// Makes every change so far durable. False on failure (the device then
  /// treats its index as lost: the next open replays the log).
  virtual bool flush() = 0;
};

/// In memory. flush() takes a durable copy; crash() (simulator) drops
/// everything since the last flush, as a real crash would.
class memory_chunk_index final : public chunk_index {
 public:
  std::optional<index_entry> get(const shard_key& key) const override {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void put(const shard_key& key, const index_entry& entry) override { entries_[key] = entry; }
  void erase(const shard_key& key) override { entries_.erase(key); }
  void clear() override { entries_.clear(); }
  std::vector<std::pair<shard_key, index_entry>> scan(std::optional<shard_key> after,
                                                      std::size_t max) const override {
    std::vector<std::pair<shard_key, index_entry>> out;
    auto it = after ? entries_.upper_bound(*after) : entries_.begin();
    for (; it != entries_.end() && out.size() < max; ++it) out.emplace_back(*it);
    return out;
  }
  std::uint64_t size() const override { return entries_.size(); }
  bool flush() override {
    durable_ = entries_;
    return true;
  }
  void crash() { entries_ = durable_; }

 private:
  std::map<shard_key, index_entry> entries_;
  std::map<shard_key, index_entry> durable_;
};

}  // namespace cairn::chunk
