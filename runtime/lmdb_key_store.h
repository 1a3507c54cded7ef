// runtime/lmdb_key_store.h — the node's key_store (actors/keys/key_store.h):
// the key manager's wrapped tenant keys and shred marks in an LMDB
// environment of their own (`<data>/keys/records`), synced on every apply.
//
// Owner: the node's chunk service creates it and hands it to the key
// manager actor, which is its only caller. Not thread-safe.
//
// Layout: one unnamed database; key = encode_record_id() (17 bytes,
// key_record.h), value = the wrapped key as the provider returned it. A
// separate environment (not the node's Raft environment): keys are few,
// written rarely, and must survive a Raft store that is wiped and rebuilt
// from peers.
//
// Contract: KS1-KS3 (key_store.h); in addition an entry whose key does not
// decode (KR1) makes load_all() throw naming the database: a key store is
// never half-loaded.
#pragma once

#include <lmdb.h>

#include <string>

#include "actors/keys/key_store.h"

namespace cairn::runtime {

class lmdb_key_store final : public keys::key_store {
 public:
  /// Opens (creating) the environment in directory `dir`; throws
  /// keys::key_store_error naming the directory.
  explicit lmdb_key_store(const std::string& dir);
  ~lmdb_key_store() override;
  lmdb_key_store(const lmdb_key_store&) = delete;
  lmdb_key_store& operator=(const lmdb_key_store&) = delete;

  std::vector<keys::key_record> load_all() override;
  void apply(const keys::key_ready& ready) override;

 private:
  std::string dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

}  // namespace cairn::runtime
