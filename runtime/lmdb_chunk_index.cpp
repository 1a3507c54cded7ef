// runtime/lmdb_chunk_index.cpp — see lmdb_chunk_index.h.
#include "runtime/lmdb_chunk_index.h"

#include <array>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "actors/chunk/record.h"

namespace cairn::runtime {
namespace {

using chunk::index_entry;
using chunk::shard_key;

constexpr std::size_t key_bytes = 40;    // chunk id, be32 scheme, be32 index
constexpr std::size_t value_bytes = 62;  // fields below + CRC32C

void put_be(std::uint8_t* out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * (bytes - 1 - i)));
}
std::uint64_t get_be(const std::uint8_t* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[i];
  return v;
}

// Big-endian keys sort like shard_key's operator<=> (chunk, scheme, index).
std::array<std::uint8_t, key_bytes> encode_key(const shard_key& k) {
  std::array<std::uint8_t, key_bytes> out{};
  std::memcpy(out.data(), k.chunk.data(), 32);
  put_be(out.data() + 32, k.scheme, 4);
  put_be(out.data() + 36, k.index, 4);
  return out;
}
shard_key decode_key(const MDB_val& v) {
  shard_key k;
  const auto* p = static_cast<const std::uint8_t*>(v.mv_data);
  std::memcpy(k.chunk.data(), p, 32);
  k.scheme = static_cast<std::uint32_t>(get_be(p + 32, 4));
  k.index = static_cast<std::uint32_t>(get_be(p + 36, 4));
  return k;
}

std::array<std::uint8_t, value_bytes> encode_value(const index_entry& e) {
  std::array<std::uint8_t, value_bytes> out{};
  std::uint8_t* p = out.data();
  p[0] = static_cast<std::uint8_t>(e.state);
  p[1] = 0;
  put_be(p + 2, e.data_offset, 8);
  put_be(p + 10, e.payload_bytes, 4);
  put_be(p + 14, e.data_sequence, 8);
  put_be(p + 22, e.epoch, 8);
  put_be(p + 30, e.state_sequence, 8);
  put_be(p + 38, e.state_offset, 8);
  put_be(p + 46, e.deleted_at_ms, 8);
  put_be(p + 54, 0, 4);  // reserved
  put_be(p + 58, chunk::crc32c(std::span<const std::uint8_t>(p, 58)), 4);
  return out;
}
std::optional<index_entry> decode_value(const MDB_val& v) {
  if (v.mv_size != value_bytes) return std::nullopt;
  const auto* p = static_cast<const std::uint8_t*>(v.mv_data);
  if (get_be(p + 58, 4) != chunk::crc32c(std::span<const std::uint8_t>(p, 58))) return std::nullopt;
  if (p[0] < 1 || p[0] > 4) return std::nullopt;
  index_entry e;
  e.state = static_cast<chunk::shard_state>(p[0]);
  e.data_offset = get_be(p + 2, 8);
  e.payload_bytes = static_cast<std::uint32_t>(get_be(p + 10, 4));
  e.data_sequence = get_be(p + 14, 8);
  e.epoch = get_be(p + 22, 8);
  e.state_sequence = get_be(p + 30, 8);
  e.state_offset = get_be(p + 38, 8);
  e.deleted_at_ms = get_be(p + 46, 8);
  return e;
}

MDB_val val(const void* data, std::size_t size) {
  return MDB_val{size, const_cast<void*>(data)};
}

void check(int rc, const std::string& what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(what + ": " + mdb_strerror(rc));
}

struct read_txn {
  explicit read_txn(MDB_env* env) {
    check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), "lmdb: begin read");
  }
  ~read_txn() { mdb_txn_abort(txn); }
  MDB_txn* txn = nullptr;
};

}  // namespace

lmdb_chunk_index::lmdb_chunk_index(std::string dir, std::uint64_t map_bytes)
    : dir_(std::move(dir)), map_bytes_(map_bytes) {
  open_environment();
}

lmdb_chunk_index::~lmdb_chunk_index() {
  close_environment();
}

void lmdb_chunk_index::open_environment() {
  std::filesystem::create_directories(dir_);
  check(mdb_env_create(&env_), "lmdb: create environment");
  mdb_env_set_maxdbs(env_, 2);
  mdb_env_set_mapsize(env_, map_bytes_);
  int rc = mdb_env_open(env_, dir_.c_str(), MDB_NOSYNC, 0640);
  if (rc == MDB_SUCCESS) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn, "shards", MDB_CREATE, &dbi_);
    if (rc == MDB_SUCCESS) {
      rc = mdb_txn_commit(txn);
    } else if (txn) {
      mdb_txn_abort(txn);
    }
  }
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw std::runtime_error("chunk index " + dir_ + ": cannot open: " + mdb_strerror(rc));
  }
}

void lmdb_chunk_index::close_environment() {
  if (write_) mdb_txn_abort(write_);  // never flushed: the device replays
  write_ = nullptr;
  writes_in_txn_ = 0;
  if (env_) mdb_env_close(env_);
  env_ = nullptr;
}

MDB_txn* lmdb_chunk_index::write_txn() {
  if (!write_) check(mdb_txn_begin(env_, nullptr, 0, &write_), "chunk index: begin");
  return write_;
}

bool lmdb_chunk_index::commit() {
  if (!write_) return true;
  const int rc = mdb_txn_commit(write_);
  write_ = nullptr;
  writes_in_txn_ = 0;
  return rc == MDB_SUCCESS;
}

std::optional<index_entry> lmdb_chunk_index::get(const shard_key& key) const {
  const auto k = encode_key(key);
  MDB_val kv = val(k.data(), k.size()), v;
  int rc;
  std::optional<read_txn> reader;
  if (write_) {
    rc = mdb_get(write_, dbi_, &kv, &v);  // sees this transaction's changes
  } else {
    reader.emplace(env_);
    rc = mdb_get(reader->txn, dbi_, &kv, &v);
  }
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check(rc, "chunk index: get");
  auto e = decode_value(v);
  if (!e) ++damaged_values_;
  return e;
}

void lmdb_chunk_index::put(const shard_key& key, const index_entry& entry) {
  const auto k = encode_key(key);
  const auto value = encode_value(entry);
  MDB_val kv = val(k.data(), k.size()), vv = val(value.data(), value.size());
  check(mdb_put(write_txn(), dbi_, &kv, &vv, 0), "chunk index: put");
  if (++writes_in_txn_ >= writes_per_commit_max && !commit())
    throw std::runtime_error("chunk index " + dir_ + ": commit failed");
}

void lmdb_chunk_index::erase(const shard_key& key) {
  const auto k = encode_key(key);
  MDB_val kv = val(k.data(), k.size());
  const int rc = mdb_del(write_txn(), dbi_, &kv, nullptr);
  if (rc != MDB_NOTFOUND) check(rc, "chunk index: erase");
  if (++writes_in_txn_ >= writes_per_commit_max && !commit())
    throw std::runtime_error("chunk index " + dir_ + ": commit failed");
}

void lmdb_chunk_index::clear() {
  close_environment();
  std::filesystem::remove(std::filesystem::path(dir_) / "data.mdb");
  std::filesystem::remove(std::filesystem::path(dir_) / "lock.mdb");
  open_environment();
}

std::vector<std::pair<shard_key, index_entry>> lmdb_chunk_index::scan(
    std::optional<shard_key> after, std::size_t max) const {
  std::vector<std::pair<shard_key, index_entry>> out;
  std::optional<read_txn> reader;
  MDB_txn* txn = write_;
  if (!txn) {
    reader.emplace(env_);
    txn = reader->txn;
  }
  MDB_cursor* cursor = nullptr;
  check(mdb_cursor_open(txn, dbi_, &cursor), "chunk index: cursor");
  MDB_val k, v;
  std::array<std::uint8_t, key_bytes> start{};
  int rc;
  if (after) {
    start = encode_key(*after);
    k = val(start.data(), start.size());
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS && k.mv_size == key_bytes &&
        std::memcmp(k.mv_data, start.data(), key_bytes) == 0)
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  } else {
    rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  }
  for (; rc == MDB_SUCCESS && out.size() < max; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    if (k.mv_size != key_bytes) continue;
    auto e = decode_value(v);
    if (!e) {
      ++damaged_values_;
      continue;
    }
    out.emplace_back(decode_key(k), *e);
  }
  mdb_cursor_close(cursor);
  return out;
}

std::uint64_t lmdb_chunk_index::size() const {
  std::optional<read_txn> reader;
  MDB_txn* txn = write_;
  if (!txn) {
    reader.emplace(env_);
    txn = reader->txn;
  }
  MDB_stat st{};
  check(mdb_stat(txn, dbi_, &st), "chunk index: stat");
  return st.ms_entries;
}

bool lmdb_chunk_index::flush() {
  if (!commit()) return false;
  return mdb_env_sync(env_, 1) == MDB_SUCCESS;
}

}  // namespace cairn::runtime
