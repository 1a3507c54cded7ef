// tests/bench/device_bench.cpp — chunk device throughput (issue 4): a
// device_store over file_block_device (O_DIRECT through io_uring) and an
// LMDB index, appending batches of shards and reading them all back by
// key, against a raw O_DIRECT sequential write and read of a file on the
// same filesystem with the same request size and the same sync interval.
//
// Owner: tests (benchmarks); single-threaded. Run from a Release build,
// pinned to one core (tests/bench/chunk_compare.sh does both):
//   taskset -c 1 build/h-bench/tests/device_bench > device.json
// Progress goes to stderr, one JSON summary to stdout.
//
// Environment (all optional):
//   BENCH_TMPDIR      directory for the files (default /var/tmp; must not be
//                     tmpfs, or O_DIRECT is refused and everything is cached)
//   BENCH_DEVICE_MIB  payload per contender, MiB (default 1024; halved while
//                     the filesystem has less than twice a round's files free)
//   BENCH_SHARD_KIB   shard = raw request size, KiB (default 1024)
//   BENCH_BATCH       shards per append batch = raw requests per fdatasync
//                     (default 16)
//   BENCH_ROUNDS      rounds (default 3); the summary gives medians
//
// Contenders, each on its own new file (all three exist during a round and
// are deleted after it), in the same directory:
//   raw        pwrite of one aligned request at a time, fdatasync after each
//              batch; pread of one request at a time (queue depth 1)
//   raw_batch  the same writes, each batch submitted at once through
//              io_uring (the I/O file_block_device issues for an append
//              batch), then fdatasync; no reads
//   cairn      device_store::append of batches (one write submission of
//              all records, one sync, then the index); device_store::read of
//              every shard by key (one read each; header, key, sequence and
//              CRC32C checked, payload copied out)
// Paired like tests/bench/ec_bench.cpp: writes go batch by batch, each
// batch written by all three contenders in an order that rotates every
// batch; reads go shard by shard, raw and cairn alternating. Rates are
// payload bytes per wall second (MB = 10^6 bytes) inside the timed calls;
// the ratios cairn/raw are the figures (target >= 0.9), cairn/
// raw_batch is given too since cairn writes a batch with up to 64 requests
// in flight. *_cpu_share is the thread's CPU time over wall time in the
// timed calls: the part that is not waiting for the device.
#include <fcntl.h>
#include <liburing.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "actors/chunk/block_device.h"
#include "actors/chunk/device_store.h"
#include "runtime/file_block_device.h"
#include "runtime/lmdb_chunk_index.h"

namespace {

using namespace cairn;
using clock_type = std::chrono::steady_clock;

struct config {
  std::filesystem::path base;
  std::uint64_t shard_bytes = 1 << 20;
  std::uint64_t shards = 1024;
  unsigned batch = 16;
  unsigned rounds = 3;
  std::uint64_t total() const { return shard_bytes * shards; }
};

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strtoull(v, nullptr, 10);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "device_bench: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) {
  die(what + ": " + std::strerror(errno));
}

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::string filesystem_name(long type) {
  switch (type) {
    case EXT4_SUPER_MAGIC:
      return "ext2/3/4";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case TMPFS_MAGIC:
      return "tmpfs";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlayfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(type));
      return hex;
    }
  }
}

void fill_random(std::span<std::uint8_t> bytes, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    const std::uint64_t w = rng();
    std::memcpy(&bytes[i], &w, 8);
  }
}

// --- raw reference ---------------------------------------------------------------

struct raw_file {
  raw_file(const std::filesystem::path& path, std::uint64_t bytes) : path(path) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EINVAL) {  // no O_DIRECT on this filesystem
      direct = false;
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) die_errno("open " + path.string());
    // As file_block_device does: reserve the space before the first write.
    if (const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)); rc != 0) {
      errno = rc;
      die_errno("posix_fallocate " + path.string());
    }
  }
  ~raw_file() {
    ::close(fd);
    std::filesystem::remove(path);
  }
  std::filesystem::path path;
  int fd = -1;
  bool direct = true;
};

void write_full(int fd, const std::uint8_t* data, std::uint64_t n, std::uint64_t offset) {
  for (std::uint64_t done = 0; done < n;) {
    const ssize_t w = ::pwrite(fd, data + done, n - done, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die_errno("pwrite");
    done += static_cast<std::uint64_t>(w);
  }
}

void read_full(int fd, std::uint8_t* data, std::uint64_t n, std::uint64_t offset) {
  for (std::uint64_t done = 0; done < n;) {
    const ssize_t r = ::pread(fd, data + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) die_errno("pread");
    done += static_cast<std::uint64_t>(r);
  }
}

void sync_file(int fd) {
  if (::fdatasync(fd) != 0) die_errno("fdatasync");
}

// Thread CPU time, to tell the CPU a phase spends from its I/O waits.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Time spent by one contender: wall and CPU, accumulated over its steps.
struct stopwatch {
  template <typename F>
  void time(F&& f) {
    const auto start = clock_type::now();
    const double cpu_start = cpu_seconds();
    f();
    cpu += cpu_seconds() - cpu_start;
    wall += seconds_since(start);
  }
  double wall = 0, cpu = 0;
};

// pwrite of one request at a time, fdatasync after each batch; pread of one
// request at a time.
struct raw_contender {
  raw_contender(const config& c, const std::filesystem::path& path)
      : c(c), file(path, c.total()), buffer(c.shard_bytes), read_buffer(c.shard_bytes) {
    fill_random(buffer.span(), 7);
  }
  std::string mode() const {
    return file.direct ? "pwrite/pread+O_DIRECT" : "buffered (no O_DIRECT)";
  }
  void write_batch(std::uint64_t first, std::uint64_t n) {
    for (std::uint64_t i = first; i < first + n; ++i)
      write_full(file.fd, buffer.data(), c.shard_bytes, i * c.shard_bytes);
    sync_file(file.fd);
  }
  void read(std::uint64_t i) {
    read_full(file.fd, read_buffer.data(), c.shard_bytes, i * c.shard_bytes);
  }
  bool read_back_ok() const {
    return std::memcmp(read_buffer.data(), buffer.data(), c.shard_bytes) == 0;
  }
  const config& c;
  raw_file file;
  chunk::aligned_buffer buffer, read_buffer;
};

// Each batch submitted at once through io_uring, then one fdatasync: the
// I/O file_block_device issues for an append batch, without the records.
struct raw_batch_contender {
  raw_batch_contender(const config& c, const std::filesystem::path& path)
      : c(c), file(path, c.total()), buffer(c.shard_bytes) {
    fill_random(buffer.span(), 7);
    if (const int rc = io_uring_queue_init(c.batch, &ring, 0); rc < 0) {
      errno = -rc;
      die_errno("io_uring_queue_init (raw_batch)");
    }
  }
  ~raw_batch_contender() { io_uring_queue_exit(&ring); }
  std::string mode() const { return file.direct ? "io_uring+O_DIRECT" : "io_uring, buffered"; }
  void write_batch(std::uint64_t first, std::uint64_t n) {
    for (std::uint64_t i = first; i < first + n; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_write(sqe, file.fd, buffer.data(), static_cast<unsigned>(c.shard_bytes),
                          i * c.shard_bytes);
    }
    int rc;
    do rc = io_uring_submit_and_wait(&ring, static_cast<unsigned>(n));
    while (rc == -EINTR);
    if (rc < 0) {
      errno = -rc;
      die_errno("io_uring_submit_and_wait");
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      io_uring_cqe* cqe = nullptr;
      do rc = io_uring_wait_cqe(&ring, &cqe);
      while (rc == -EINTR);
      if (rc < 0 || cqe->res != static_cast<int>(c.shard_bytes)) die("raw_batch: a write failed");
      io_uring_cqe_seen(&ring, cqe);
    }
    sync_file(file.fd);
  }
  const config& c;
  raw_file file;
  chunk::aligned_buffer buffer;
  io_uring ring{};
};

// --- cairn -------------------------------------------------------------------------

// A device file large enough for every shard: whole records per segment,
// plus spare segments so that the 99% refuse threshold is never reached.
std::uint64_t device_bytes(const config& c, std::uint64_t segment_bytes) {
  const std::uint64_t record = chunk::record_blocks(c.shard_bytes) * chunk::block_bytes;
  const std::uint64_t per_segment = (segment_bytes - chunk::block_bytes) / record;
  const std::uint64_t segments = (c.shards + per_segment - 1) / per_segment + 3;
  return 2 * chunk::block_bytes + segments * segment_bytes;
}

constexpr std::uint64_t segment_bytes = 64ull << 20;

chunk::shard_key key_of(std::uint64_t n) {
  chunk::shard_key k;
  const std::uint64_t chunk_number = n / 6;
  std::memcpy(k.chunk.data(), &chunk_number, sizeof chunk_number);
  k.chunk[31] = 0xcb;
  k.scheme = 0x0402;
  k.index = static_cast<std::uint32_t>(n % 6);
  return k;
}

// A device_store on its own file and LMDB index.
struct cairn_contender {
  cairn_contender(const config& c, const std::filesystem::path& dir)
      : c(c),
        dir(dir),
        device((std::filesystem::create_directories(dir), dir / "device").string(),
               device_options(c)),
        index((dir / "index").string(), 256ull << 20),
        payload(c.shard_bytes) {
    chunk::format_options format;
    format.segment_bytes = segment_bytes;
    format.device_id = 1;
    format.node_id = 1;
    format.device_uuid = {0xca, 0x1e, 0xb3, 0x4c};
    auto opened = chunk::device_store::open(device, index, {}, format);
    if (auto* error = std::get_if<std::string>(&opened)) die("device_store::open: " + *error);
    store = std::move(std::get<std::unique_ptr<chunk::device_store>>(opened));
    fill_random(payload, 7);
    batch.reserve(c.batch);
  }
  ~cairn_contender() {
    store.reset();
    std::filesystem::remove_all(dir);  // the index goes after its environment closed
  }
  static runtime::file_block_device_options device_options(const config& c) {
    runtime::file_block_device_options o;
    o.create_bytes = device_bytes(c, segment_bytes);
    return o;
  }
  std::string mode() const { return std::string(runtime::to_string(device.mode())); }
  void write_batch(std::uint64_t first, std::uint64_t n) {
    batch.clear();
    for (std::uint64_t i = first; i < first + n; ++i) batch.push_back({key_of(i), 1, payload});
    for (const auto s : store->append(batch))
      if (s != chunk::device_status::ok) die("append: " + std::string(chunk::to_string(s)));
  }
  void read(std::uint64_t i) {
    if (const auto s = store->read(key_of(i), out); s != chunk::device_status::ok)
      die("read: " + std::string(chunk::to_string(s)));
  }
  bool read_back_ok() const { return out == payload; }
  void close() {
    if (store->close() != chunk::device_status::ok) die("device_store::close failed");
  }
  const config& c;
  std::filesystem::path dir;
  runtime::file_block_device device;
  runtime::lmdb_chunk_index index;
  std::unique_ptr<chunk::device_store> store;
  std::vector<std::uint8_t> payload, out;
  std::vector<chunk::append_request> batch;
};

struct round_result {
  std::map<std::string, double> figures;
  std::string raw_mode, raw_batch_mode, cairn_mode;
  chunk::device_counters counters;
};

// One round: the three contenders' files exist side by side; writes go
// batch by batch, each batch written by all three in an order that rotates
// every batch; then reads shard by shard, raw and cairn alternating. Noise
// (other jobs, the host's own caching and writeback) so hits all of them.
round_result run_round(const config& c, const std::filesystem::path& dir, unsigned round) {
  raw_contender raw(c, dir / "raw");
  raw_batch_contender raw_batch(c, dir / "raw-batch");
  cairn_contender cairn(c, dir / "cairn");
  stopwatch raw_write, raw_batch_write, cairn_write, raw_read, cairn_read;
  for (std::uint64_t first = 0, step = round; first < c.shards; first += c.batch, ++step) {
    const std::uint64_t n = std::min<std::uint64_t>(c.batch, c.shards - first);
    for (unsigned p = 0; p < 3; ++p) {
      switch ((step + p) % 3) {
        case 0:
          raw_write.time([&] { raw.write_batch(first, n); });
          break;
        case 1:
          raw_batch_write.time([&] { raw_batch.write_batch(first, n); });
          break;
        default:
          cairn_write.time([&] { cairn.write_batch(first, n); });
          break;
      }
    }
  }
  for (std::uint64_t i = 0; i < c.shards; ++i) {
    const bool raw_first = (i + round) % 2 == 0;
    for (unsigned p = 0; p < 2; ++p) {
      if ((p == 0) == raw_first)
        raw_read.time([&] { raw.read(i); });
      else
        cairn_read.time([&] { cairn.read(i); });
    }
    if (i == 0 || i + 1 == c.shards) {  // a sample, outside the timed calls
      if (!raw.read_back_ok()) die("raw read returned other bytes than were written");
      if (!cairn.read_back_ok()) die("cairn read returned other bytes than were appended");
    }
  }
  round_result r;
  r.raw_mode = raw.mode();
  r.raw_batch_mode = raw_batch.mode();
  r.cairn_mode = cairn.mode();
  r.counters = cairn.store->counters();
  cairn.close();
  const double mb = static_cast<double>(c.total()) / 1e6;
  r.figures = {
      {"raw_write_MBps", mb / raw_write.wall},
      {"raw_batch_write_MBps", mb / raw_batch_write.wall},
      {"cairn_write_MBps", mb / cairn_write.wall},
      {"raw_read_MBps", mb / raw_read.wall},
      {"cairn_read_MBps", mb / cairn_read.wall},
      {"write_ratio", raw_write.wall / cairn_write.wall},
      {"write_ratio_vs_batch", raw_batch_write.wall / cairn_write.wall},
      {"read_ratio", raw_read.wall / cairn_read.wall},
      // CPU seconds per wall second inside the timed calls: what is not I/O wait.
      {"raw_write_cpu_share", raw_write.cpu / raw_write.wall},
      {"raw_batch_write_cpu_share", raw_batch_write.cpu / raw_batch_write.wall},
      {"cairn_write_cpu_share", cairn_write.cpu / cairn_write.wall},
      {"raw_read_cpu_share", raw_read.cpu / raw_read.wall},
      {"cairn_read_cpu_share", cairn_read.cpu / cairn_read.wall},
  };
  return r;
}

// --- driver --------------------------------------------------------------------------

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::localtime(&t));
  return buf;
}

}  // namespace

int main() {
  config c;
  const char* tmp = std::getenv("BENCH_TMPDIR");
  c.base = tmp && *tmp ? tmp : "/var/tmp";
  c.shard_bytes = env_u64("BENCH_SHARD_KIB", 1024) << 10;
  c.batch = static_cast<unsigned>(std::max<std::uint64_t>(1, env_u64("BENCH_BATCH", 16)));
  c.rounds = static_cast<unsigned>(std::max<std::uint64_t>(1, env_u64("BENCH_ROUNDS", 3)));
  if (c.shard_bytes == 0 || c.shard_bytes % chunk::block_bytes != 0)
    die("BENCH_SHARD_KIB must be a positive multiple of 4");
  std::uint64_t wanted = env_u64("BENCH_DEVICE_MIB", 1024) << 20;

  struct statfs fs {};
  if (::statfs(c.base.c_str(), &fs) != 0) die_errno("statfs " + c.base.string());
  const std::string fs_name = filesystem_name(static_cast<long>(fs.f_type));
  if (fs.f_type == TMPFS_MAGIC)
    std::fprintf(stderr, "device_bench: WARNING: %s is tmpfs: no O_DIRECT, the figures are RAM\n",
                 c.base.c_str());
  struct statvfs vfs {};
  if (::statvfs(c.base.c_str(), &vfs) != 0) die_errno("statvfs " + c.base.string());
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  // A round holds the three files at once (two raw files, the device file
  // and its index); keep at least as much free again.
  for (;;) {
    c.shards = std::max<std::uint64_t>(1, wanted / c.shard_bytes);
    if (2 * (2 * c.total() + device_bytes(c, segment_bytes) + (256ull << 20)) <= free_bytes ||
        wanted <= (64ull << 20))
      break;
    wanted /= 2;
    std::fprintf(stderr, "device_bench: little free space, down to %llu MiB\n",
                 static_cast<unsigned long long>(wanted >> 20));
  }

  const auto dir = c.base / ("cairn-device-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::fprintf(stderr,
               "device_bench: %s (%s, %llu MiB free), %llu x %llu KiB shards, batch %u, "
               "%u rounds\n",
               dir.c_str(), fs_name.c_str(), static_cast<unsigned long long>(free_bytes >> 20),
               static_cast<unsigned long long>(c.shards),
               static_cast<unsigned long long>(c.shard_bytes >> 10), c.batch, c.rounds);

  std::map<std::string, std::vector<double>> series;
  round_result last;
  std::string rounds_json;
  try {
    for (unsigned round = 0; round < c.rounds; ++round) {
      last = run_round(c, dir, round);
      std::string json = "{";
      for (const auto& [name, value] : last.figures) {
        series[name].push_back(value);
        char field[96];
        std::snprintf(field, sizeof field, "%s\"%s\": %.3f", json.size() > 1 ? ", " : "",
                      name.c_str(), value);
        json += field;
      }
      rounds_json += (round ? ",\n    " : "") + json + "}";
      const auto& f = last.figures;
      std::fprintf(stderr,
                   "round %u: raw write %.0f read %.0f | raw_batch write %.0f | cairn write %.0f "
                   "read %.0f MB/s | write %.2f (%.2f vs batch), read %.2f\n",
                   round + 1, f.at("raw_write_MBps"), f.at("raw_read_MBps"),
                   f.at("raw_batch_write_MBps"), f.at("cairn_write_MBps"), f.at("cairn_read_MBps"),
                   f.at("write_ratio"), f.at("write_ratio_vs_batch"), f.at("read_ratio"));
    }
  } catch (const std::exception& e) {
    std::filesystem::remove_all(dir);
    die(e.what());
  }
  std::filesystem::remove_all(dir);
  const std::string raw_mode = last.raw_mode, raw_batch_mode = last.raw_batch_mode,
                    cairn_mode = last.cairn_mode;
  const chunk::device_counters counters = last.counters;

  std::printf("{\n  \"date\": \"%s\",\n  \"dir\": \"%s\",\n  \"filesystem\": \"%s\",\n",
              today().c_str(), c.base.c_str(), fs_name.c_str());
  std::printf("  \"raw_mode\": \"%s\",\n  \"raw_batch_mode\": \"%s\",\n  \"cairn_mode\": \"%s\",\n",
              raw_mode.c_str(), raw_batch_mode.c_str(), cairn_mode.c_str());
  std::printf(
      "  \"payload_bytes\": %llu,\n  \"shard_bytes\": %llu,\n  \"batch\": %u,\n"
      "  \"record_bytes\": %llu,\n  \"segment_bytes\": %llu,\n  \"cairn_append_batches\": %llu,\n",
      static_cast<unsigned long long>(c.total()), static_cast<unsigned long long>(c.shard_bytes),
      c.batch,
      static_cast<unsigned long long>(chunk::record_blocks(c.shard_bytes) * chunk::block_bytes),
      static_cast<unsigned long long>(segment_bytes),
      static_cast<unsigned long long>(counters.append_batches));
  std::printf("  \"rounds\": [\n    %s\n  ],\n  \"median\": {", rounds_json.c_str());
  bool first = true;
  for (const auto& [name, values] : series) {
    std::printf("%s\n    \"%s\": %.3f", first ? "" : ",", name.c_str(), median(values));
    first = false;
  }
  std::printf("\n  }\n}\n");
  return 0;
}
