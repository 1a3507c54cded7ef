// actors/keys/key_store.h — where the key manager actor keeps its records:
// the interface, and an in-memory store for tests and the simulator. The
// node's store is LMDB (runtime/lmdb_key_store.h).
//
// Owner: the key manager actor (key_manager_actor.h) is the only caller; a
// store has one owner and is not thread-safe.
//
// Contract (every implementation):
//  KS1. apply(r) is atomic and durable when it returns: after a crash,
//       load_all() returns either every put and delete of r applied, or
//       none of them (the key manager core's ready/advance contract).
//  KS2. load_all() returns every record put and not deleted, each once.
//  KS3. A failure throws key_store_error; the store's state is then as
//       before the failing apply (KS1), and the caller treats the process
//       as unable to persist keys (fail-stop).
#pragma once

#include <map>
#include <stdexcept>
#include <vector>

#include "actors/keys/key_manager.h"
#include "actors/keys/key_record.h"

namespace cairn::keys {

class key_store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class key_store {
 public:
  virtual ~key_store() = default;
  virtual std::vector<key_record> load_all() = 0;
  virtual void apply(const key_ready& ready) = 0;
};

/// Records in a map. crash() is a no-op (every apply is "durable"); tests
/// use fail_next_apply to exercise KS3.
class memory_key_store final : public key_store {
 public:
  std::vector<key_record> load_all() override {
    std::vector<key_record> out;
    for (const auto& [id, wrapped] : records_) out.push_back(key_record{id, wrapped});
    return out;
  }
  void apply(const key_ready& ready) override {
    if (fail_next_apply) {
      fail_next_apply = false;
      throw key_store_error("memory_key_store: injected failure");
    }
    for (const auto& id : ready.deletes) records_.erase(id);
    for (const auto& r : ready.puts) records_[r.id] = r.wrapped;
    ++applies;
  }
  std::size_t size() const { return records_.size(); }
  /// Every wrapped byte held (tests scan it for key material).
  const std::map<key_record_id, std::vector<std::uint8_t>>& records() const { return records_; }

  bool fail_next_apply = false;
  std::uint64_t applies = 0;

 private:
  std::map<key_record_id, std::vector<std::uint8_t>> records_;
};

}  // namespace cairn::keys
