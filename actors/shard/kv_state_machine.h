// actors/shard/kv_state_machine.h — the replicated state machine of a shard
// for now: a key-value map with put and compare-and-set, enough to check
// linearizability. The namespace state machine replaces it later.
//
// Owner: one shard-replica actor. Pure and deterministic: applying the same
// commands in the same order gives byte-identical state (fingerprint()).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/raft/types.h"

namespace cairn::shard {

enum class kv_op : std::uint8_t { put = 0, compare_and_set = 1, noop = 2, batch = 3 };

/// One write of a batch: a put, or (no value) a delete.
struct kv_write {
  std::string key;
  std::optional<std::string> value;
  friend bool operator==(const kv_write&, const kv_write&) = default;
};

struct kv_command {
  kv_op op = kv_op::put;
  std::string key;
  std::string value;
  std::string expected;
  bool expect_absent = false;
  std::uint64_t request_id = 0;
  std::uint64_t proposer = 0;
  /// kv_op::batch: applied together (one log entry), in order.
  std::vector<kv_write> batch;
};

/// What applying a command did: for compare-and-set, whether it swapped,
/// and the value found.
struct kv_result {
  bool ok = true;
  std::optional<std::string> previous;
};

inline constexpr std::size_t kv_key_bytes_max = 1024;
inline constexpr std::size_t kv_value_bytes_max = 64 * 1024;
inline constexpr std::size_t kv_batch_writes_max = 4096;

raft::bytes encode_kv_command(const kv_command& c);
/// nullopt for malformed input (wrong version, oversize, bad op).
std::optional<kv_command> decode_kv_command(const raft::bytes& data);

class kv_state_machine {
 public:
  kv_result apply(const kv_command& c);
  std::optional<std::string> get(const std::string& key) const;
  std::size_t size() const { return map_.size(); }
  /// Up to `limit` entries whose key starts with `prefix`, in key order.
  std::vector<std::pair<std::string, std::string>> scan(const std::string& prefix,
                                                        std::size_t limit) const;

  raft::bytes snapshot() const;
  bool restore(const raft::bytes& data);
  /// 64-bit FNV-1a over the serialised state: equal state, equal value.
  std::uint64_t fingerprint() const;

 private:
  std::map<std::string, std::string> map_;  // ordered: deterministic output
};

}  // namespace cairn::shard
