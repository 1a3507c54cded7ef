// runtime/lmdb_disk.cpp — see lmdb_disk.h.
#include "runtime/lmdb_disk.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "actors/raft/codec.h"

namespace cairn::runtime {

using namespace cairn::raft;

void fsync_histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < std::size(bounds) && seconds > bounds[i]) ++i;
  ++counts[i];
  sum += seconds;
  ++total;
}

namespace {

void check(int rc, const std::string& what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(what + ": " + mdb_strerror(rc));
}

MDB_val val(const void* p, std::size_t n) {
  return MDB_val{n, const_cast<void*>(p)};
}

struct txn_guard {
  MDB_txn* txn = nullptr;
  ~txn_guard() {
    if (txn) mdb_txn_abort(txn);
  }
  int commit() {
    int rc = mdb_txn_commit(txn);
    txn = nullptr;
    return rc;
  }
};

bytes get_meta(MDB_txn* txn, MDB_dbi dbi, const char* key) {
  MDB_val k = val(key, std::strlen(key));
  MDB_val v;
  if (mdb_get(txn, dbi, &k, &v) != MDB_SUCCESS) return {};
  return bytes(static_cast<const char*>(v.mv_data), v.mv_size);
}

int put_meta(MDB_txn* txn, MDB_dbi dbi, const char* key, const bytes& value) {
  MDB_val k = val(key, std::strlen(key));
  MDB_val v = val(value.data(), value.size());
  return mdb_put(txn, dbi, &k, &v, 0);
}

bytes pack_u64s(std::initializer_list<std::uint64_t> xs) {
  bytes b;
  for (auto x : xs) b.append(reinterpret_cast<const char*>(&x), sizeof x);
  return b;
}

std::uint64_t unpack_u64(const bytes& b, std::size_t i) {
  std::uint64_t x = 0;
  if (b.size() >= (i + 1) * 8) std::memcpy(&x, b.data() + i * 8, 8);
  return x;
}

/// Deletes log keys in [from, to] (inclusive).
int delete_range(MDB_txn* txn, MDB_dbi dbi, std::uint64_t from, std::uint64_t to) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != MDB_SUCCESS) return rc;
  for (;;) {
    MDB_val k = val(&from, sizeof from), v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc != MDB_SUCCESS) break;
    std::uint64_t idx = 0;
    std::memcpy(&idx, k.mv_data, sizeof idx);
    if (idx > to) break;
    rc = mdb_cursor_del(cur, 0);
    if (rc != MDB_SUCCESS) break;
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? MDB_SUCCESS : rc;
}

}  // namespace

lmdb_environment::lmdb_environment(const std::string& dir, std::uint64_t map_bytes) {
  std::filesystem::create_directories(dir);
  check(mdb_env_create(&env_), "lmdb: create environment");
  check(mdb_env_set_maxdbs(env_, 256), "lmdb: set max databases");
  check(mdb_env_set_mapsize(env_, map_bytes), "lmdb: set map size");
  int rc = mdb_env_open(env_, dir.c_str(), MDB_NOSYNC, 0640);
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw std::runtime_error("lmdb: cannot open " + dir + ": " + mdb_strerror(rc));
  }
}

lmdb_environment::~lmdb_environment() {
  if (env_) {
    mdb_env_sync(env_, 1);
    mdb_env_close(env_);
  }
}

lmdb_disk::lmdb_disk(lmdb_environment& env, std::uint64_t shard_id, conf_state initial)
    : env_(env), initial_(std::move(initial)) {
  txn_guard t;
  check(mdb_txn_begin(env_.get(), nullptr, 0, &t.txn), "lmdb: begin");
  const std::string prefix = "shard-" + std::to_string(shard_id);
  check(mdb_dbi_open(t.txn, (prefix + "/log").c_str(), MDB_CREATE | MDB_INTEGERKEY, &log_),
        "lmdb: open log database");
  check(mdb_dbi_open(t.txn, (prefix + "/meta").c_str(), MDB_CREATE, &meta_),
        "lmdb: open meta database");
  check(t.commit(), "lmdb: commit");
}

restored_state lmdb_disk::load() {
  restored_state st;
  st.initial_conf = initial_;
  txn_guard t;
  check(mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &t.txn), "lmdb: begin read");
  const bytes hard = get_meta(t.txn, meta_, "hard");
  st.hard.term = term_t{unpack_u64(hard, 0)};
  st.hard.vote = node_id{unpack_u64(hard, 1)};
  st.hard.commit = log_index{unpack_u64(hard, 2)};
  const bytes offset = get_meta(t.txn, meta_, "offset");
  st.log_offset = log_index{unpack_u64(offset, 0)};
  st.log_offset_term = term_t{unpack_u64(offset, 1)};
  const bytes snap = get_meta(t.txn, meta_, "snapshot");
  if (!snap.empty()) {
    auto s = decode_snapshot(snap);
    if (!s) throw std::runtime_error("lmdb: stored snapshot is corrupt");
    st.snap = std::move(*s);
  }
  MDB_cursor* cur = nullptr;
  check(mdb_cursor_open(t.txn, log_, &cur), "lmdb: cursor");
  std::uint64_t first = st.log_offset.value + 1;
  MDB_val k = val(&first, sizeof first), v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  std::uint64_t expect = first;
  while (rc == MDB_SUCCESS) {
    std::uint64_t idx = 0;
    std::memcpy(&idx, k.mv_data, sizeof idx);
    auto e = decode_entry(bytes(static_cast<const char*>(v.mv_data), v.mv_size));
    // A gap or an undecodable record ends the log: everything after it was
    // never acknowledged as durable as a whole.
    if (idx != expect || !e || e->index.value != idx) break;
    st.entries.push_back(std::move(*e));
    ++expect;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  return st;
}

shard::io_status lmdb_disk::write(const ready& rd) {
  if (!rd.hard && rd.entries.empty() && !rd.snap && !rd.compaction) return shard::io_status::ok;
  txn_guard t;
  if (mdb_txn_begin(env_.get(), nullptr, 0, &t.txn) != MDB_SUCCESS) return shard::io_status::failed;
  int rc = MDB_SUCCESS;
  std::uint64_t written = 0;
  auto put_snapshot = [&](const snapshot& s, log_index offset, term_t offset_term) {
    const bytes enc = encode_snapshot(s);
    written += enc.size();
    if (rc == MDB_SUCCESS) rc = put_meta(t.txn, meta_, "snapshot", enc);
    if (rc == MDB_SUCCESS)
      rc = put_meta(t.txn, meta_, "offset", pack_u64s({offset.value, offset_term.value}));
  };
  if (rd.snap) {
    put_snapshot(*rd.snap, rd.snap->metadata.index, rd.snap->metadata.term);
    if (rc == MDB_SUCCESS) rc = mdb_drop(t.txn, log_, 0);  // empty the log
  }
  if (rd.compaction) {
    put_snapshot(rd.compaction->snap, rd.compaction->compact_index, rd.compaction->compact_term);
    if (rc == MDB_SUCCESS) rc = delete_range(t.txn, log_, 0, rd.compaction->compact_index.value);
  }
  if (!rd.entries.empty()) {
    if (rc == MDB_SUCCESS) rc = delete_range(t.txn, log_, rd.entries.front().index.value, ~0ULL);
    for (const auto& e : rd.entries) {
      if (rc != MDB_SUCCESS) break;
      const std::uint64_t idx = e.index.value;
      const bytes enc = encode_entry(e);
      written += enc.size();
      MDB_val k = val(&idx, sizeof idx);
      MDB_val v = val(enc.data(), enc.size());
      rc = mdb_put(t.txn, log_, &k, &v, MDB_APPEND);
    }
  }
  if (rd.hard && rc == MDB_SUCCESS) {
    rc = put_meta(t.txn, meta_, "hard",
                  pack_u64s({rd.hard->term.value, rd.hard->vote.value, rd.hard->commit.value}));
  }
  if (rc != MDB_SUCCESS) return shard::io_status::failed;
  if (t.commit() != MDB_SUCCESS) return shard::io_status::failed;
  std::lock_guard<std::mutex> lock(mutex_);
  bytes_written_ += written;
  return shard::io_status::ok;
}

shard::io_status lmdb_disk::sync() {
  const auto start = std::chrono::steady_clock::now();
  const int rc = mdb_env_sync(env_.get(), 1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard<std::mutex> lock(mutex_);
  fsyncs_.observe(seconds);
  return rc == MDB_SUCCESS ? shard::io_status::ok : shard::io_status::failed;
}

}  // namespace cairn::runtime
