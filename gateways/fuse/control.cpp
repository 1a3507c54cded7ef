// gateways/fuse/control.cpp — see control.h.
#include "gateways/fuse/control.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/admin_cli.h"

namespace cairn::fuse {

using runtime::human_bytes;

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string socket_dir() {
  return ::getuid() == 0 ? "/run/cairn" : "/tmp/cairn-" + std::to_string(::getuid());
}

/// /proc/mounts escapes ' ', '\t', '\n' and '\\' as octal.
std::string unescape_mount_path(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const auto octal = s.substr(i + 1, 3);
      if (octal.size() == 3 && octal.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(octal, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool send_line(int fd, const json& j) {
  const auto text = j.dump() + "\n";
  std::size_t sent = 0;
  while (sent < text.size()) {
    const auto n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

/// Reads one line (without its '\n'), at most `max` bytes; false at EOF,
/// on an error or an overlong line.
bool read_line(int fd, std::string& buffer, std::string& line, std::size_t max) {
  for (;;) {
    if (const auto nl = buffer.find('\n'); nl != std::string::npos) {
      line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return true;
    }
    if (buffer.size() > max) return false;
    char chunk[4096];
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

json to_json(const stage_progress& p) {
  return {{"state", std::string(to_string(p.what))},
          {"path", p.path},
          {"files_total", p.files_total},
          {"files_done", p.files_done},
          {"bytes_total", p.bytes_total},
          {"bytes_done", p.bytes_done},
          {"chunks_fetched", p.chunks_fetched},
          {"seconds", p.seconds},
          {"error", p.error}};
}

stage_progress progress_of(const json& j) {
  stage_progress p;
  const auto s = j.value("state", std::string("failed"));
  for (const auto st : {stage_progress::state::idle, stage_progress::state::counting,
                        stage_progress::state::fetching, stage_progress::state::done,
                        stage_progress::state::failed})
    if (to_string(st) == s) p.what = st;
  p.path = j.value("path", "");
  p.files_total = j.value("files_total", 0ull);
  p.files_done = j.value("files_done", 0ull);
  p.bytes_total = j.value("bytes_total", 0ull);
  p.bytes_done = j.value("bytes_done", 0ull);
  p.chunks_fetched = j.value("chunks_fetched", 0ull);
  p.seconds = j.value("seconds", 0.0);
  p.error = j.value("error", "");
  return p;
}

json tier_json(const tier_stats& t) {
  return {{"entries", t.entries},
          {"bytes", t.bytes},
          {"bound", t.bound},
          {"pinned_entries", t.pinned_entries},
          {"pinned_bytes", t.pinned_bytes},
          {"hits", t.hits},
          {"misses", t.misses},
          {"evictions", t.evictions},
          {"admissions", t.admissions},
          {"refusals", t.refusals}};
}

json stats_json(const mount_stats& s) {
  return {{"l1", tier_json(s.cache.l1)},
          {"l2", tier_json(s.cache.l2)},
          {"l2_corrupt", s.cache.l2_corrupt},
          {"l2_write_failures", s.cache.l2_write_failures},
          {"l2_no_space", s.cache.l2_no_space},
          {"fetches", s.reader.fetches},
          {"fetch_failures", s.reader.fetch_failures},
          {"degraded_reads", s.reader.degraded},
          {"cache_hits", s.reader.cache_hits},
          {"read_ahead_hits", s.reader.ahead_hits},
          {"shared_fetches", s.reader.shared_fetches},
          {"read_ahead_dropped", s.reader.ahead_dropped},
          {"open_files", s.open_files},
          {"open_dirs", s.open_dirs},
          {"dirty_bytes", s.dirty_bytes},
          {"commits", s.commits},
          {"commit_failures", s.commit_failures},
          {"chunk_requests_direct", s.routes.direct},
          {"chunk_requests_relayed", s.routes.relayed},
          {"direct_connections", s.routes.direct_connections}};
}

/// Connects to the control socket of the mount holding `path`.
int connect_to(const std::string& path, std::string& inside) {
  const auto [mountpoint, relative] = locate_mount(path);
  inside = relative;
  const auto socket_path = control_socket_path(mountpoint);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    throw std::runtime_error(socket_path + ": path too long for a socket");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("the mount at " + mountpoint + " does not answer on " + socket_path +
                             ": " + std::strerror(e));
  }
  return fd;
}

}  // namespace

std::string control_socket_path(const std::string& mountpoint) {
  // FNV-1a of the mountpoint: a short, stable name.
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : mountpoint) h = (h ^ c) * 1099511628211ull;
  char name[40];
  std::snprintf(name, sizeof name, "/mount-%016llx.sock", static_cast<unsigned long long>(h));
  return socket_dir() + name;
}

std::pair<std::string, std::string> locate_mount(const std::string& path) {
  std::error_code ec;
  const auto real = fs::canonical(path, ec);
  if (ec) throw std::runtime_error(path + ": " + ec.message());
  std::ifstream mounts("/proc/mounts");
  std::string line, best;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, where, type;
    fields >> device >> where >> type;
    if (type != "fuse.cairn") continue;
    where = unescape_mount_path(where);
    const auto r = real.string();
    if ((r == where || r.rfind(where == "/" ? where : where + "/", 0) == 0) &&
        where.size() > best.size())
      best = where;
  }
  if (best.empty()) throw std::runtime_error(path + " is not inside a cairn mount");
  auto relative = real.string().substr(best.size());
  while (!relative.empty() && relative.front() == '/') relative.erase(0, 1);
  return {best, relative};
}

std::string progress_line(const stage_progress& p) {
  // By bytes; by files when there are no bytes (empty or inline files).
  const bool by_bytes = p.bytes_total != 0;
  const auto bar = runtime::progress_bar(by_bytes ? p.bytes_done : p.files_done,
                                         by_bytes ? p.bytes_total : p.files_total, 24);
  const double rate = p.seconds > 0 ? p.bytes_done / p.seconds : 0;
  std::string eta = "-";
  if (p.what == stage_progress::state::done) {
    eta = "done";
  } else if (rate > 0 && p.bytes_total >= p.bytes_done) {
    char e[32];
    std::snprintf(e, sizeof e, "%.0fs", (p.bytes_total - p.bytes_done) / rate);
    eta = e;
  }
  char text[256];
  std::snprintf(text, sizeof text, "%s  %s / %s  %llu/%llu files  %s/s  ETA %s", bar.c_str(),
                human_bytes(p.bytes_done).c_str(), human_bytes(p.bytes_total).c_str(),
                static_cast<unsigned long long>(p.files_done),
                static_cast<unsigned long long>(p.files_total),
                human_bytes(static_cast<std::uint64_t>(rate)).c_str(), eta.c_str());
  return text;
}

control_server::control_server(mount_fs& fs, stager& stage, std::string socket_path)
    : fs_(fs), stage_(stage), path_(std::move(socket_path)) {
  const auto dir = fs::path(path_).parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0)
    throw std::runtime_error("control socket directory " + dir.string() + ": cannot be made 0700");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path)
    throw std::runtime_error(path_ + ": path too long for a socket");
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  ::unlink(path_.c_str());  // a socket a killed mount left behind
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const auto old_mask = ::umask(0177);  // CT2: the socket is 0600 from the start
  const bool bound = listen_fd_ >= 0 &&
                     ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                     ::listen(listen_fd_, 16) == 0;
  ::umask(old_mask);
  if (!bound) {
    const int e = errno;
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("control socket " + path_ + ": " + std::strerror(e));
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

control_server::~control_server() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(threads_mutex_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  ::close(listen_fd_);
  ::unlink(path_.c_str());
}

void control_server::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // shut down
    }
    if (serving_ >= control_connections_max) {  // CT1
      send_line(fd, {{"error", "too many control connections"}});
      ::close(fd);
      continue;
    }
    ++serving_;
    std::lock_guard lock(threads_mutex_);
    threads_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
      --serving_;
    });
  }
}

void control_server::serve(int fd) {
  // A stage in progress ends when the client goes: a send fails, and the
  // stage's report stops sending; the stage itself runs to its end.
  timeval idle{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  std::string buffer, line;
  while (!stopping_ && read_line(fd, buffer, line, control_request_bytes_max)) {
    json request;
    try {
      request = json::parse(line);
    } catch (const std::exception& e) {
      send_line(fd, {{"error", std::string("not JSON: ") + e.what()}});
      return;
    }
    const auto op = request.value("op", "");
    if (op == "stats") {
      if (!send_line(fd, stats_json(fs_.stats()))) return;
    } else if (op == "stage") {
      bool connected = true;
      const auto done = stage_.run(request.value("path", ""), [&](const stage_progress& p) {
        if (connected) connected = send_line(fd, to_json(p));
      });
      (void)done;  // the last report carried it
      if (!connected) return;
    } else if (op == "stage_status") {
      if (!send_line(fd, to_json(stage_.status()))) return;
    } else if (op == "release") {
      stage_.release();
      if (!send_line(fd, {{"ok", true}, {"l2", tier_json(fs_.cache().stats().l2)}})) return;
    } else {
      send_line(fd, {{"error", "unknown op \"" + op + "\""}});
      return;
    }
  }
}

int run_stage_command(const std::string& path, bool status, bool release) {
  std::string inside;
  const int fd = connect_to(path, inside);
  const json request = release  ? json{{"op", "release"}}
                       : status ? json{{"op", "stage_status"}}
                                : json{{"op", "stage"}, {"path", inside}};
  if (!send_line(fd, request)) {
    ::close(fd);
    throw std::runtime_error("the mount closed the control connection");
  }
  const bool tty = ::isatty(STDERR_FILENO);
  std::string buffer, line;
  int rc = 1;
  while (read_line(fd, buffer, line, 1 << 20)) {
    const auto answer = json::parse(line, nullptr, false);
    if (answer.is_discarded()) break;
    if (answer.contains("error") && !answer.contains("state")) {  // the request was refused
      std::fprintf(stderr, "cairn stage: %s\n", answer["error"].get<std::string>().c_str());
      break;
    }
    if (release) {
      std::printf("released: pinned entries are organic now (L2: %s)\n",
                  human_bytes(answer["l2"].value("bytes", 0ull)).c_str());
      rc = 0;
      break;
    }
    const auto p = progress_of(answer);
    const bool final_line =
        p.what == stage_progress::state::done || p.what == stage_progress::state::failed || status;
    if (status) {
      std::printf("stage %s: %s  %s\n", p.path.empty() ? "(root)" : p.path.c_str(),
                  std::string(to_string(p.what)).c_str(), progress_line(p).c_str());
      rc = 0;
      break;
    }
    if (tty)
      std::fprintf(stderr, "\r%s", progress_line(p).c_str());
    else if (final_line || p.what == stage_progress::state::fetching)
      std::fprintf(stderr, "%s\n", progress_line(p).c_str());
    if (final_line) {
      if (tty) std::fprintf(stderr, "\n");
      if (p.what == stage_progress::state::done) {
        std::printf("staged: %s  %llu files  %s  %llu chunks fetched  %.1f s\n",
                    p.path.empty() ? "(root)" : p.path.c_str(),
                    static_cast<unsigned long long>(p.files_total),
                    human_bytes(p.bytes_total).c_str(),
                    static_cast<unsigned long long>(p.chunks_fetched), p.seconds);
        rc = 0;
      } else {
        std::fprintf(stderr, "cairn stage: %s\n", p.error.c_str());
      }
      break;
    }
  }
  ::close(fd);
  return rc;
}

int run_cache_stats_command(const std::string& path, bool as_json) {
  std::string inside;
  const int fd = connect_to(path, inside);
  std::string buffer, line;
  const bool ok = send_line(fd, {{"op", "stats"}}) && read_line(fd, buffer, line, 1 << 20);
  ::close(fd);
  if (!ok) throw std::runtime_error("the mount did not answer");
  const auto s = json::parse(line);
  if (as_json) {
    std::printf("%s\n", s.dump(2).c_str());
    return 0;
  }
  auto tier = [&](const char* name, const json& t) {
    const double bound = t.value("bound", 0.0);
    std::printf(
        "%-3s %8llu entries  %10s of %10s (%3.0f%%)  pinned %10s  hits %llu  misses %llu  "
        "evictions %llu\n",
        name, t.value("entries", 0ull), human_bytes(t.value("bytes", 0ull)).c_str(),
        human_bytes(static_cast<std::uint64_t>(bound)).c_str(),
        bound > 0 ? 100.0 * t.value("bytes", 0.0) / bound : 0.0,
        human_bytes(t.value("pinned_bytes", 0ull)).c_str(), t.value("hits", 0ull),
        t.value("misses", 0ull), t.value("evictions", 0ull));
  };
  tier("L1", s["l1"]);
  tier("L2", s["l2"]);
  std::printf(
      "chunks: %llu fetched from devices (%llu degraded, %llu failed), %llu from the cache, "
      "%llu from read-ahead\n",
      s.value("fetches", 0ull), s.value("degraded_reads", 0ull), s.value("fetch_failures", 0ull),
      s.value("cache_hits", 0ull), s.value("read_ahead_hits", 0ull));
  std::printf("files: %llu open, %s dirty, %llu commits (%llu failed)\n",
              s.value("open_files", 0ull), human_bytes(s.value("dirty_bytes", 0ull)).c_str(),
              s.value("commits", 0ull), s.value("commit_failures", 0ull));
  std::printf(
      "chunk requests: %llu to the device's node (%llu direct connections up), %llu "
      "relayed\n",
      s.value("chunk_requests_direct", 0ull), s.value("direct_connections", 0ull),
      s.value("chunk_requests_relayed", 0ull));
  return 0;
}

}  // namespace cairn::fuse
