// tests/bench/nfs_load.cpp — one NFS v3 client workload, timed: the load
// tool behind tests/bench/nfs_compare.sh, which runs it against cairn's
// NFS gateway and nfs-ganesha in the same run. The client is libnfs
// (Debian's libnfs-dev), synchronous, one connection: what every server in
// the comparison gets is the same stream of calls.
//
// Owner: tests (benchmarks). Usage:
//   nfs_load URL write   --file PATH --bytes N   sequential 1 MiB WRITEs, then COMMIT
//   nfs_load URL read    --file PATH             sequential 1 MiB READs, bytes verified
//   nfs_load URL meta    --dir PATH --files N    create (+ a small write), stat, remove
//   nfs_load URL readdir --dir PATH --files N    READDIRPLUS of an N-entry directory
// URL: nfs://host/export?version=3&nfsport=P&mountport=Q (libnfs's form).
// Prints a line per phase: "phase=NAME ops=N bytes=B seconds=S rate=R unit=U".
#include <fcntl.h>
#include <nfsc/libnfs.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct client {
  nfs_context* nfs = nullptr;
  explicit client(const std::string& url) {
    nfs = nfs_init_context();
    if (!nfs) throw std::runtime_error("nfs_init_context failed");
    nfs_set_dircache(nfs, 0);  // every listing goes to the server
    nfs_url* u = nfs_parse_url_dir(nfs, url.c_str());
    if (!u) throw std::runtime_error(std::string("bad URL: ") + nfs_get_error(nfs));
    const int r = nfs_mount(nfs, u->server, u->path);
    nfs_destroy_url(u);
    if (r != 0) throw std::runtime_error(std::string("mount: ") + nfs_get_error(nfs));
  }
  ~client() { nfs_destroy_context(nfs); }
  void check(int r, const std::string& what) const {
    if (r < 0) throw std::runtime_error(what + ": " + nfs_get_error(nfs));
  }
};

/// The bytes at `offset` of every file this tool writes: a deterministic
/// pattern, so a read checks what it got.
void fill(std::vector<char>& block, std::uint64_t offset) {
  for (std::size_t i = 0; i < block.size(); i += 8) {
    std::uint64_t x = (offset + i) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    std::memcpy(block.data() + i, &x, std::min<std::size_t>(8, block.size() - i));
  }
}

void report(const char* phase, std::uint64_t ops, std::uint64_t bytes, clock_type::time_point t0) {
  const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  if (bytes)
    std::printf("phase=%s ops=%llu bytes=%llu seconds=%.3f rate=%.1f unit=MiB/s\n", phase,
                static_cast<unsigned long long>(ops), static_cast<unsigned long long>(bytes), s,
                static_cast<double>(bytes) / (1 << 20) / s);
  else
    std::printf("phase=%s ops=%llu bytes=0 seconds=%.3f rate=%.1f unit=ops/s\n", phase,
                static_cast<unsigned long long>(ops), s, static_cast<double>(ops) / s);
  std::fflush(stdout);
}

constexpr std::size_t block_bytes = 1 << 20;

void write_file(client& c, const std::string& path, std::uint64_t bytes) {
  nfsfh* fh = nullptr;
  c.check(nfs_open2(c.nfs, path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644, &fh), "open " + path);
  std::vector<char> block(block_bytes);
  const auto t0 = clock_type::now();
  std::uint64_t ops = 0;
  for (std::uint64_t at = 0; at < bytes; at += block.size(), ++ops) {
    const auto n = std::min<std::uint64_t>(block.size(), bytes - at);
    fill(block, at);
    const auto w = nfs_pwrite(c.nfs, fh, at, n, block.data());
    if (w != static_cast<int>(n)) c.check(w < 0 ? w : -1, "write at " + std::to_string(at));
  }
  c.check(nfs_fsync(c.nfs, fh), "fsync (COMMIT)");
  c.check(nfs_close(c.nfs, fh), "close");
  report("seq_write", ops, bytes, t0);
}

void read_file(client& c, const std::string& path) {
  nfsfh* fh = nullptr;
  c.check(nfs_open(c.nfs, path.c_str(), O_RDONLY, &fh), "open " + path);
  nfs_stat_64 st{};
  c.check(nfs_fstat64(c.nfs, fh, &st), "fstat");
  std::vector<char> block(block_bytes), want(block_bytes);
  const auto t0 = clock_type::now();
  std::uint64_t ops = 0;
  for (std::uint64_t at = 0; at < st.nfs_size; at += block.size(), ++ops) {
    const auto n = std::min<std::uint64_t>(block.size(), st.nfs_size - at);
    const auto r = nfs_pread(c.nfs, fh, at, n, block.data());
    if (r != static_cast<int>(n)) c.check(r < 0 ? r : -1, "short read at " + std::to_string(at));
    fill(want, at);
    if (std::memcmp(block.data(), want.data(), n) != 0)
      throw std::runtime_error("read back different bytes at " + std::to_string(at));
  }
  nfs_close(c.nfs, fh);
  report("seq_read", ops, st.nfs_size, t0);
}

void meta(client& c, const std::string& dir, std::uint64_t files, std::size_t size) {
  c.check(nfs_mkdir2(c.nfs, dir.c_str(), 0755), "mkdir " + dir);
  std::vector<char> body(size);
  fill(body, 0);
  auto name = [&](std::uint64_t i) { return dir + "/f" + std::to_string(i); };
  auto t0 = clock_type::now();
  for (std::uint64_t i = 0; i < files; ++i) {
    nfsfh* fh = nullptr;
    c.check(nfs_creat(c.nfs, name(i).c_str(), 0644, &fh), "create " + name(i));
    if (size) c.check(nfs_write(c.nfs, fh, size, body.data()), "write " + name(i));
    if (size) c.check(nfs_fsync(c.nfs, fh), "fsync " + name(i));
    nfs_close(c.nfs, fh);
  }
  report("create", files, 0, t0);
  t0 = clock_type::now();
  for (std::uint64_t i = 0; i < files; ++i) {
    nfs_stat_64 st{};
    c.check(nfs_stat64(c.nfs, name(i).c_str(), &st), "stat " + name(i));
    if (st.nfs_size != size) throw std::runtime_error(name(i) + ": wrong size");
  }
  report("stat", files, 0, t0);
  t0 = clock_type::now();
  for (std::uint64_t i = 0; i < files; ++i) c.check(nfs_unlink(c.nfs, name(i).c_str()), "unlink");
  report("remove", files, 0, t0);
  c.check(nfs_rmdir(c.nfs, dir.c_str()), "rmdir " + dir);
}

void readdir(client& c, const std::string& dir, std::uint64_t files, int rounds) {
  c.check(nfs_mkdir2(c.nfs, dir.c_str(), 0755), "mkdir " + dir);
  for (std::uint64_t i = 0; i < files; ++i) {
    nfsfh* fh = nullptr;
    const auto n = dir + "/entry-" + std::to_string(i);
    c.check(nfs_creat(c.nfs, n.c_str(), 0644, &fh), "create " + n);
    nfs_close(c.nfs, fh);
  }
  const auto t0 = clock_type::now();
  std::uint64_t seen = 0;
  for (int r = 0; r < rounds; ++r) {
    nfsdir* d = nullptr;
    c.check(nfs_opendir(c.nfs, dir.c_str(), &d), "opendir");  // READDIRPLUS, every page
    std::uint64_t n = 0;
    while (nfs_readdir(c.nfs, d)) ++n;
    nfs_closedir(c.nfs, d);
    if (n != files + 2) throw std::runtime_error("listed " + std::to_string(n) + " entries");
    seen += n;
  }
  report("readdirplus_entries", seen, 0, t0);
  for (std::uint64_t i = 0; i < files; ++i)
    c.check(nfs_unlink(c.nfs, (dir + "/entry-" + std::to_string(i)).c_str()), "unlink");
  c.check(nfs_rmdir(c.nfs, dir.c_str()), "rmdir " + dir);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"one timed NFS v3 workload through libnfs"};
  std::string url, mode, file = "/nfs_load.bin", dir = "/nfs_load.d";
  std::uint64_t bytes = 1ull << 30, files = 10000;
  std::size_t size = 1024;
  int rounds = 3;
  app.add_option("url", url, "nfs://host/export?version=3&nfsport=P&mountport=Q")->required();
  app.add_option("mode", mode, "write | read | meta | readdir")
      ->required()
      ->check(CLI::IsMember({"write", "read", "meta", "readdir"}));
  app.add_option("--file", file, "file for write and read");
  app.add_option("--bytes", bytes, "bytes to write");
  app.add_option("--dir", dir, "directory for meta and readdir (created, then removed)");
  app.add_option("--files", files, "files for meta and readdir");
  app.add_option("--size", size, "bytes written into each file by meta (0: none)");
  app.add_option("--rounds", rounds, "READDIRPLUS listings of the directory");
  CLI11_PARSE(app, argc, argv);
  try {
    client c(url);
    if (mode == "write") write_file(c, file, bytes);
    if (mode == "read") read_file(c, file);
    if (mode == "meta") meta(c, dir, files, size);
    if (mode == "readdir") readdir(c, dir, files, rounds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nfs_load: %s\n", e.what());
    return 1;
  }
  return 0;
}
