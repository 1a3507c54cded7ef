// runtime/lmdb_key_store.cpp — see lmdb_key_store.h.
#include "runtime/lmdb_key_store.h"

#include <filesystem>

namespace cairn::runtime {
namespace {

// Keys are a few hundred bytes per tenant: 64 MiB holds ~10^5 tenants
// with several epochs each (tenants_max in key_manager.h is the bound).
constexpr std::size_t map_bytes = std::size_t{64} << 20;

[[noreturn]] void fail(const std::string& dir, const char* what, int rc) {
  throw keys::key_store_error("key store " + dir + ": " + what + ": " + mdb_strerror(rc));
}

MDB_val val(const void* data, std::size_t size) {
  return MDB_val{size, const_cast<void*>(data)};
}

/// Aborts the transaction unless committed.
struct txn_guard {
  MDB_txn* txn = nullptr;
  ~txn_guard() {
    if (txn) mdb_txn_abort(txn);
  }
};

}  // namespace

lmdb_key_store::lmdb_key_store(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw keys::key_store_error("key store " + dir + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  int rc = mdb_env_create(&env_);
  if (rc != 0) fail(dir_, "mdb_env_create", rc);
  if ((rc = mdb_env_set_mapsize(env_, map_bytes)) != 0 ||
      (rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0600)) != 0) {
    mdb_env_close(env_);
    env_ = nullptr;
    fail(dir_, "open", rc);
  }
  txn_guard t;
  if ((rc = mdb_txn_begin(env_, nullptr, 0, &t.txn)) != 0 ||
      (rc = mdb_dbi_open(t.txn, nullptr, 0, &dbi_)) != 0 || (rc = mdb_txn_commit(t.txn)) != 0) {
    t.txn = nullptr;  // committed or failed: either way no longer ours
    mdb_env_close(env_);
    env_ = nullptr;
    fail(dir_, "open database", rc);
  }
  t.txn = nullptr;
}

lmdb_key_store::~lmdb_key_store() {
  if (env_) mdb_env_close(env_);
}

std::vector<keys::key_record> lmdb_key_store::load_all() {
  txn_guard t;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t.txn);
  if (rc != 0) fail(dir_, "read transaction", rc);
  MDB_cursor* cursor = nullptr;
  if ((rc = mdb_cursor_open(t.txn, dbi_, &cursor)) != 0) fail(dir_, "cursor", rc);
  std::vector<keys::key_record> out;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const auto id = keys::decode_record_id(
        std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(k.mv_data), k.mv_size));
    if (!id || v.mv_size > keys::wrapped_key_bytes_max) {
      mdb_cursor_close(cursor);
      throw keys::key_store_error("key store " + dir_ + ": malformed record (" +
                                  std::to_string(k.mv_size) + "-byte key, " +
                                  std::to_string(v.mv_size) + "-byte value)");
    }
    const auto* p = static_cast<const std::uint8_t*>(v.mv_data);
    out.push_back(keys::key_record{*id, std::vector<std::uint8_t>(p, p + v.mv_size)});
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) fail(dir_, "scan", rc);
  return out;
}

void lmdb_key_store::apply(const keys::key_ready& ready) {
  txn_guard t;
  int rc = mdb_txn_begin(env_, nullptr, 0, &t.txn);
  if (rc != 0) fail(dir_, "write transaction", rc);
  for (const auto& id : ready.deletes) {
    const auto key = keys::encode_record_id(id);
    auto k = val(key.data(), key.size());
    rc = mdb_del(t.txn, dbi_, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) fail(dir_, "delete", rc);
  }
  for (const auto& r : ready.puts) {
    const auto key = keys::encode_record_id(r.id);
    auto k = val(key.data(), key.size());
    auto v = val(r.wrapped.data(), r.wrapped.size());
    if ((rc = mdb_put(t.txn, dbi_, &k, &v, 0)) != 0) fail(dir_, "put", rc);
  }
  // The environment is opened without MDB_NOSYNC: commit is durable (KS1).
  rc = mdb_txn_commit(t.txn);
  t.txn = nullptr;
  if (rc != 0) fail(dir_, "commit", rc);
}

}  // namespace cairn::runtime
