// runtime/lmdb_disk.cpp — see lmdb_disk.h.
#include "runtime/lmdb_disk.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <isa-l/crc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

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

std::string be64(std::uint64_t x) {
  std::string b(8, '\0');
  for (int i = 7; i >= 0; --i, x >>= 8)
    b[static_cast<std::size_t>(i)] = static_cast<char>(x & 0xff);
  return b;
}

std::uint64_t from_be64(const void* p) {
  const auto* c = static_cast<const unsigned char*>(p);
  std::uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x = (x << 8) | c[i];
  return x;
}

std::string log_key(std::uint64_t shard, std::uint64_t index) {
  return be64(shard) + be64(index);
}

std::string meta_key(std::uint64_t shard, const char* name) {
  return be64(shard) + name;
}

/// Every stored value is framed as CRC32C (4 bytes, little-endian, over
/// key and payload) + payload (D4): LMDB has no checksums of its own.
std::uint32_t checksum(std::string_view key, std::string_view payload) {
  std::uint32_t crc = crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<char*>(key.data())),
                                  static_cast<int>(key.size()), 0xffffffffu);
  return crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<char*>(payload.data())),
                     static_cast<int>(payload.size()), crc);
}

std::string frame_value(std::string_view key, std::string_view payload) {
  const std::uint32_t crc = checksum(key, payload);
  std::string out(4, '\0');
  std::memcpy(out.data(), &crc, 4);
  out.append(payload);
  return out;
}

/// The payload of a stored value, or nullopt if its checksum fails.
std::optional<std::string_view> unframe_value(const MDB_val& k, const MDB_val& v) {
  if (v.mv_size < 4) return std::nullopt;
  const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
  const std::string_view payload(static_cast<const char*>(v.mv_data) + 4, v.mv_size - 4);
  std::uint32_t stored = 0;
  std::memcpy(&stored, v.mv_data, 4);
  if (stored != checksum(key, payload)) return std::nullopt;
  return payload;
}

std::string hex_key(const MDB_val& k) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  const auto* p = static_cast<const unsigned char*>(k.mv_data);
  for (std::size_t i = 0; i < k.mv_size && i < 24; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

[[noreturn]] void corrupt(const std::string& what) {
  throw std::runtime_error("lmdb: " + what +
                           " fails its checksum: the data directory is corrupt; refusing to "
                           "serve from it (restore the node from its peers: remove the "
                           "directory and let it rejoin)");
}

bytes get_meta(MDB_txn* txn, MDB_dbi dbi, std::uint64_t shard, const char* name) {
  const std::string key = meta_key(shard, name);
  MDB_val k = val(key.data(), key.size());
  MDB_val v;
  if (mdb_get(txn, dbi, &k, &v) != MDB_SUCCESS) return {};
  auto payload = unframe_value(k, v);
  if (!payload) corrupt("the '" + std::string(name) + "' record of shard " + std::to_string(shard));
  return bytes(*payload);
}

int put_meta(MDB_txn* txn, MDB_dbi dbi, std::uint64_t shard, const char* name, const bytes& value) {
  const std::string key = meta_key(shard, name);
  const std::string framed = frame_value(key, value);
  MDB_val k = val(key.data(), key.size());
  MDB_val v = val(framed.data(), framed.size());
  return mdb_put(txn, dbi, &k, &v, 0);
}

/// Deletes every key in [from, to) (byte order).
int delete_keys(MDB_txn* txn, MDB_dbi dbi, const std::string& from, const std::string& to) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != MDB_SUCCESS) return rc;
  MDB_val k = val(from.data(), from.size()), v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == MDB_SUCCESS) {
    const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    if (key >= to) break;
    rc = mdb_cursor_del(cur, 0);
    if (rc != MDB_SUCCESS) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    if (rc != MDB_SUCCESS) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? MDB_SUCCESS : rc;
}

/// Deletes a shard's log entries with index in [from, to] (inclusive).
int delete_log_range(MDB_txn* txn, MDB_dbi dbi, std::uint64_t shard, std::uint64_t from,
                     std::uint64_t to) {
  const std::string end = to == ~0ULL ? be64(shard + 1) : log_key(shard, to + 1);
  return delete_keys(txn, dbi, log_key(shard, from), end);
}

/// A snapshot is stored in pieces of at most this many bytes (D5): LMDB
/// keeps a big value in one run of contiguous overflow pages, and a
/// whole-namespace snapshot of hundreds of MiB rewritten again and again
/// fragments the free list until no run is long enough and the map fills.
constexpr std::size_t snapshot_piece_bytes = 4u << 20;

std::string snapshot_piece_key(std::uint64_t shard, std::uint32_t piece) {
  std::string k = meta_key(shard, "snapshot#");
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((piece >> (8 * i)) & 0xff));
  return k;
}

/// Replaces the shard's stored snapshot by `encoded`: the pieces, then the
/// "snapshot_pieces" header (count, total bytes) that load() reads first.
int put_snapshot_pieces(MDB_txn* txn, MDB_dbi dbi, std::uint64_t shard, std::string_view encoded) {
  int rc = delete_keys(txn, dbi, meta_key(shard, "snapshot#"), meta_key(shard, "snapshot$"));
  if (rc == MDB_SUCCESS) {
    // The single-value form earlier versions wrote.
    const std::string legacy = meta_key(shard, "snapshot");
    MDB_val k = val(legacy.data(), legacy.size());
    rc = mdb_del(txn, dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) rc = MDB_SUCCESS;
  }
  std::uint32_t pieces = 0;
  for (std::size_t at = 0; rc == MDB_SUCCESS && at < encoded.size();
       at += snapshot_piece_bytes, ++pieces) {
    const std::string key = snapshot_piece_key(shard, pieces);
    const std::string framed = frame_value(key, encoded.substr(at, snapshot_piece_bytes));
    MDB_val k = val(key.data(), key.size());
    MDB_val v = val(framed.data(), framed.size());
    rc = mdb_put(txn, dbi, &k, &v, 0);
  }
  if (rc == MDB_SUCCESS)
    rc = put_meta(txn, dbi, shard, "snapshot_pieces", pack_u64s({pieces, encoded.size()}));
  return rc;
}

/// The shard's stored snapshot, encoded; empty if it has none.
bytes get_snapshot_pieces(MDB_txn* txn, MDB_dbi dbi, std::uint64_t shard) {
  const bytes header = get_meta(txn, dbi, shard, "snapshot_pieces");
  if (header.empty()) return get_meta(txn, dbi, shard, "snapshot");  // the single-value form
  const std::uint64_t pieces = unpack_u64(header, 0), total = unpack_u64(header, 1);
  std::string out;
  out.reserve(total);
  for (std::uint64_t i = 0; i < pieces; ++i) {
    const std::string key = snapshot_piece_key(shard, static_cast<std::uint32_t>(i));
    MDB_val k = val(key.data(), key.size()), v;
    if (mdb_get(txn, dbi, &k, &v) != MDB_SUCCESS)
      corrupt("piece " + std::to_string(i) + " of the snapshot of shard " + std::to_string(shard) +
              " is missing and");
    auto payload = unframe_value(k, v);
    if (!payload)
      corrupt("piece " + std::to_string(i) + " of the snapshot of shard " + std::to_string(shard));
    out.append(*payload);
  }
  if (out.size() != total)
    corrupt("the snapshot of shard " + std::to_string(shard) + " has the wrong length and");
  return out;
}

}  // namespace

lmdb_environment::lmdb_environment(const std::string& dir, std::uint64_t map_bytes, bool read_only)
    : dir_(dir) {
  if (!read_only) std::filesystem::create_directories(dir);
  check(mdb_env_create(&env_), "lmdb: create environment");
  check(mdb_env_set_maxdbs(env_, 4), "lmdb: set max databases");
  check(mdb_env_set_mapsize(env_, map_bytes), "lmdb: set map size");
  int rc = mdb_env_open(env_, dir.c_str(), read_only ? MDB_RDONLY : MDB_NOSYNC, 0640);
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw std::runtime_error("lmdb: cannot open " + dir + ": " + mdb_strerror(rc));
  }
  try {
    txn_guard t;
    const unsigned create = read_only ? 0 : MDB_CREATE;
    check(mdb_txn_begin(env_, nullptr, read_only ? MDB_RDONLY : 0, &t.txn), "lmdb: begin");
    check(mdb_dbi_open(t.txn, "raft_log", create, &log_), "lmdb: open raft_log");
    check(mdb_dbi_open(t.txn, "raft_meta", create, &meta_), "lmdb: open raft_meta");
    check(t.commit(), "lmdb: commit");
    if (!read_only) check(mdb_env_sync(env_, 1), "lmdb: sync");
  } catch (const std::exception& e) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw std::runtime_error(std::string(e.what()) + " (in " + dir + ")");
  }
}

void lmdb_environment::set_space_limits(unsigned full_percent, std::uint64_t reserve_bytes) {
  std::lock_guard lock(mutex_);
  full_percent_ = full_percent;
  reserve_bytes_ = reserve_bytes;
}

lmdb_environment::space_report lmdb_environment::refresh_space() {
  space_report r;
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  r.map_bytes = info.me_mapsize;
  r.map_used_bytes = static_cast<std::uint64_t>(info.me_last_pgno + 1) * st.ms_psize;
  struct statvfs fs;
  if (::statvfs(dir_.c_str(), &fs) == 0)
    r.fs_free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  std::lock_guard lock(mutex_);
  // LMDB reuses freed pages, so last_pgno overstates use after compaction;
  // it never understates it.
  if (r.map_used_bytes * 100 >= r.map_bytes * full_percent_) {
    r.full = true;
    r.why = "the Raft store is " + std::to_string(r.map_used_bytes * 100 / r.map_bytes) +
            "% of storage.map_mb (refusing new writes from " + std::to_string(full_percent_) + "%)";
  } else if (r.fs_free_bytes < reserve_bytes_) {
    r.full = true;
    r.why = "the file system of " + dir_ + " has " + std::to_string(r.fs_free_bytes >> 20) +
            " MiB free, below the " + std::to_string(reserve_bytes_ >> 20) +
            " MiB reserve (storage.reserve_mb)";
  }
  space_ = r;
  return r;
}

lmdb_environment::space_report lmdb_environment::space() const {
  std::lock_guard lock(mutex_);
  return space_;
}

bool lmdb_environment::accepting_writes(std::string& why) const {
  std::lock_guard lock(mutex_);
  if (!space_.full) return true;
  why = space_.why;
  return false;
}

lmdb_environment::~lmdb_environment() {
  if (env_) {
    unsigned flags = 0;
    mdb_env_get_flags(env_, &flags);
    if (!(flags & MDB_RDONLY)) mdb_env_sync(env_, 1);
    mdb_env_close(env_);
  }
}

std::string lmdb_environment::verify() const {
  // D4, part 1: the file holds every page the last committed meta page
  // names (a truncated file would fault when read).
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  const char* path = nullptr;
  mdb_env_get_path(env_, &path);
  struct stat file;
  const std::string data = std::string(path ? path : ".") + "/data.mdb";
  if (::stat(data.c_str(), &file) != 0) return data + ": cannot stat";
  const auto needed = static_cast<std::uint64_t>(info.me_last_pgno + 1) * st.ms_psize;
  if (static_cast<std::uint64_t>(file.st_size) < needed)
    return data + " is truncated: " + std::to_string(file.st_size) +
           " bytes, the last commit needs " + std::to_string(needed);
  // Part 2: every record in both databases passes its checksum.
  txn_guard t;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t.txn) != MDB_SUCCESS) return "cannot begin a read";
  std::uint64_t records = 0;
  for (MDB_dbi dbi : {log_, meta_}) {
    MDB_cursor* cur = nullptr;
    if (mdb_cursor_open(t.txn, dbi, &cur) != MDB_SUCCESS) return "cannot open a cursor";
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
      ++records;
      if (!unframe_value(k, v)) {
        mdb_cursor_close(cur);
        return std::string(dbi == log_ ? "raft_log" : "raft_meta") + " record " + hex_key(k) +
               " fails its checksum";
      }
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return std::string("reading the database failed: ") + mdb_strerror(rc);
  }
  return "";
}

void verify_in_child(const std::string& dir, std::uint64_t map_bytes) {
  if (!std::filesystem::exists(dir + "/data.mdb")) return;
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("verify: pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("verify: fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    std::string problem;
    try {
      lmdb_environment env(dir, map_bytes, /*read_only=*/true);
      problem = env.verify();
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (!problem.empty()) [[maybe_unused]]
      auto n = ::write(fds[1], problem.data(), problem.size());
    ::_exit(problem.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    message.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string where = "the Raft store in " + dir + " is damaged: ";
  if (WIFSIGNALED(status))
    throw std::runtime_error(where + "reading it crashed (signal " +
                             std::to_string(WTERMSIG(status)) +
                             "); refusing to start (remove the directory and let the node rejoin "
                             "to restore it from its peers)");
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    throw std::runtime_error(where + message + "; refusing to start");
}

std::vector<std::uint64_t> lmdb_environment::stored_shards() const {
  std::vector<std::uint64_t> out;
  txn_guard t;
  check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t.txn), "lmdb: begin read");
  MDB_cursor* cur = nullptr;
  check(mdb_cursor_open(t.txn, meta_, &cur), "lmdb: cursor");
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  std::uint64_t tombstoned = ~0ULL;
  while (rc == MDB_SUCCESS) {
    if (k.mv_size > 8) {
      const std::uint64_t shard = from_be64(k.mv_data);
      const std::string_view name(static_cast<const char*>(k.mv_data) + 8, k.mv_size - 8);
      if (name == "tombstone") tombstoned = shard;
      if ((out.empty() || out.back() != shard) && shard != tombstoned) out.push_back(shard);
      if (shard == tombstoned && !out.empty() && out.back() == shard) out.pop_back();
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cur);
  return out;
}

void lmdb_environment::note_write(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  ++writes_;
  bytes_written_ += bytes;
}

shard::io_status lmdb_environment::sync() {
  std::unique_lock lock(mutex_);
  ++syncs_requested_;
  const std::uint64_t target = writes_;
  while (synced_writes_ < target) {
    if (syncing_) {
      synced_.wait(lock);
      continue;
    }
    syncing_ = true;
    const std::uint64_t covering = writes_;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    const int rc = mdb_env_sync(env_, 1);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    lock.lock();
    syncing_ = false;
    fsyncs_.observe(seconds);
    synced_.notify_all();
    if (rc != MDB_SUCCESS) {
      spdlog::critical("lmdb: fsync failed: {}", mdb_strerror(rc));
      return shard::io_status::failed;
    }
    synced_writes_ = std::max(synced_writes_, covering);
  }
  return shard::io_status::ok;
}

fsync_histogram lmdb_environment::fsyncs() const {
  std::lock_guard lock(mutex_);
  return fsyncs_;
}

std::uint64_t lmdb_environment::bytes_written() const {
  std::lock_guard lock(mutex_);
  return bytes_written_;
}

std::uint64_t lmdb_environment::syncs_requested() const {
  std::lock_guard lock(mutex_);
  return syncs_requested_;
}

lmdb_disk::lmdb_disk(lmdb_environment& env, std::uint64_t shard_id, conf_state initial)
    : env_(env), shard_(shard_id), initial_(std::move(initial)) {}

bool lmdb_disk::has_state() const {
  txn_guard t;
  check(mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &t.txn), "lmdb: begin read");
  return !get_meta(t.txn, env_.meta_dbi(), shard_, "hard").empty() ||
         !get_meta(t.txn, env_.meta_dbi(), shard_, "snapshot_pieces").empty() ||
         !get_meta(t.txn, env_.meta_dbi(), shard_, "snapshot").empty();
}

bool lmdb_disk::tombstoned() const {
  txn_guard t;
  check(mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &t.txn), "lmdb: begin read");
  return !get_meta(t.txn, env_.meta_dbi(), shard_, "tombstone").empty();
}

void lmdb_disk::bootstrap(const conf_state& conf, const bytes& state_machine_data) {
  if (has_state()) return;
  ready rd;
  snapshot snap;
  snap.metadata.index = log_index{1};
  snap.metadata.term = term_t{1};
  snap.metadata.conf = conf;
  snap.data = state_machine_data;
  rd.snap = std::move(snap);
  rd.hard = hard_state{term_t{1}, node_id{0}, log_index{1}};
  if (write(rd) != shard::io_status::ok || sync() != shard::io_status::ok)
    throw std::runtime_error("lmdb: cannot write the bootstrap state of shard " +
                             std::to_string(shard_));
}

void lmdb_disk::destroy() {
  txn_guard t;
  check(mdb_txn_begin(env_.get(), nullptr, 0, &t.txn), "lmdb: begin");
  check(delete_log_range(t.txn, env_.log_dbi(), shard_, 0, ~0ULL), "lmdb: delete log");
  check(delete_keys(t.txn, env_.meta_dbi(), be64(shard_), be64(shard_ + 1)), "lmdb: delete meta");
  check(put_meta(t.txn, env_.meta_dbi(), shard_, "tombstone", "1"), "lmdb: tombstone");
  check(t.commit(), "lmdb: commit");
  env_.note_write(0);
  if (env_.sync() != shard::io_status::ok)
    throw std::runtime_error("lmdb: cannot sync the removal of shard " + std::to_string(shard_));
}

restored_state lmdb_disk::load() {
  restored_state st;
  st.initial_conf = initial_;
  txn_guard t;
  check(mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &t.txn), "lmdb: begin read");
  const MDB_dbi meta = env_.meta_dbi();
  const bytes hard = get_meta(t.txn, meta, shard_, "hard");
  st.hard.term = term_t{unpack_u64(hard, 0)};
  st.hard.vote = node_id{unpack_u64(hard, 1)};
  st.hard.commit = log_index{unpack_u64(hard, 2)};
  const bytes offset = get_meta(t.txn, meta, shard_, "offset");
  st.log_offset = log_index{unpack_u64(offset, 0)};
  st.log_offset_term = term_t{unpack_u64(offset, 1)};
  const bytes snap = get_snapshot_pieces(t.txn, meta, shard_);
  if (!snap.empty()) {
    auto s = decode_snapshot(snap);
    if (!s)
      throw std::runtime_error("lmdb: the stored snapshot of shard " + std::to_string(shard_) +
                               " is corrupt");
    st.snap = std::move(*s);
  }
  MDB_cursor* cur = nullptr;
  check(mdb_cursor_open(t.txn, env_.log_dbi(), &cur), "lmdb: cursor");
  // Closed on every path, including a checksum failure (which throws).
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> cursor_guard(cur, &mdb_cursor_close);
  std::uint64_t expect = st.log_offset.value + 1;
  const std::string first = log_key(shard_, expect);
  MDB_val k = val(first.data(), first.size()), v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == MDB_SUCCESS && k.mv_size == 16 && from_be64(k.mv_data) == shard_) {
    const std::uint64_t idx = from_be64(static_cast<const char*>(k.mv_data) + 8);
    auto payload = unframe_value(k, v);
    if (!payload)
      corrupt("log entry " + std::to_string(idx) + " of shard " + std::to_string(shard_));
    auto e = decode_entry(bytes(*payload));
    // D1: a gap or an undecodable record ends the log.
    if (idx != expect || !e || e->index.value != idx) break;
    st.entries.push_back(std::move(*e));
    ++expect;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  return st;
}

shard::io_status lmdb_disk::write(const ready& rd) {
  if (!rd.hard && rd.entries.empty() && !rd.snap && !rd.compaction) return shard::io_status::ok;
  txn_guard t;
  if (mdb_txn_begin(env_.get(), nullptr, 0, &t.txn) != MDB_SUCCESS) return shard::io_status::failed;
  const MDB_dbi meta = env_.meta_dbi();
  const MDB_dbi log = env_.log_dbi();
  int rc = MDB_SUCCESS;
  std::uint64_t written = 0;
  auto put_snapshot = [&](const snapshot& s, log_index offset, term_t offset_term) {
    const bytes enc = encode_snapshot(s);
    written += enc.size();
    if (rc == MDB_SUCCESS) rc = put_snapshot_pieces(t.txn, meta, shard_, enc);
    if (rc == MDB_SUCCESS)
      rc = put_meta(t.txn, meta, shard_, "offset", pack_u64s({offset.value, offset_term.value}));
  };
  if (rd.snap) {
    put_snapshot(*rd.snap, rd.snap->metadata.index, rd.snap->metadata.term);
    if (rc == MDB_SUCCESS) rc = delete_log_range(t.txn, log, shard_, 0, ~0ULL);  // empty the log
  }
  if (rd.compaction) {
    put_snapshot(rd.compaction->snap, rd.compaction->compact_index, rd.compaction->compact_term);
    if (rc == MDB_SUCCESS)
      rc = delete_log_range(t.txn, log, shard_, 0, rd.compaction->compact_index.value);
  }
  if (!rd.entries.empty()) {
    if (rc == MDB_SUCCESS)
      rc = delete_log_range(t.txn, log, shard_, rd.entries.front().index.value, ~0ULL);
    for (const auto& e : rd.entries) {
      if (rc != MDB_SUCCESS) break;
      const std::string key = log_key(shard_, e.index.value);
      const std::string enc = frame_value(key, encode_entry(e));
      written += enc.size();
      MDB_val k = val(key.data(), key.size());
      MDB_val v = val(enc.data(), enc.size());
      rc = mdb_put(t.txn, log, &k, &v, 0);
    }
  }
  if (rd.hard && rc == MDB_SUCCESS) {
    rc = put_meta(t.txn, meta, shard_, "hard",
                  pack_u64s({rd.hard->term.value, rd.hard->vote.value, rd.hard->commit.value}));
  }
  if (rc == MDB_SUCCESS) rc = t.commit();
  if (rc != MDB_SUCCESS) {
    // The replica fail-stops on this (S4); say why first.
    spdlog::critical("lmdb: writing {} bytes for shard {} failed: {}", written, shard_,
                     mdb_strerror(rc));
    return shard::io_status::failed;
  }
  env_.note_write(written);
  return shard::io_status::ok;
}

shard::io_status lmdb_disk::sync() {
  return env_.sync();
}

}  // namespace cairn::runtime
