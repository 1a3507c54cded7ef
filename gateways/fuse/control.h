// gateways/fuse/control.h — a mount's control socket and the commands that
// use it (ADR 0009 §8): `cairn stage PATH`, `cairn stage --status PATH`,
// `cairn stage --release PATH`, `cairn cache --stats PATH`, where PATH is
// any path inside a cairn mount.
//
// The socket is a Unix stream socket, mode 0600 in a directory only its
// owner can enter (/run/cairn as root, /tmp/cairn-UID otherwise), named
// after the mountpoint, so the commands find it from /proc/mounts. Each
// request is one JSON line ({"op": "stats" | "stage" | "stage_status" |
// "release", "path": ...}); each answer is JSON lines, a stage's a stream
// of progress lines ending with state "done" or "failed".
//
// Owner: run_mount starts a control_server; runtime/main.cpp calls the
// command functions.
//
// Invariants:
//  CT1. Bounded: at most control_connections_max connections are served
//       at once (more are answered with an error and closed), a request
//       line is at most control_request_bytes_max.
//  CT2. Only the mount's owner (or root) can connect: the socket's
//       directory is 0700 and the socket 0600.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateways/fuse/mount_fs.h"
#include "gateways/fuse/stager.h"

namespace cairn::fuse {

inline constexpr std::size_t control_connections_max = 4;
inline constexpr std::size_t control_request_bytes_max = 64 * 1024;

/// Where the control socket of the mount at `mountpoint` (an absolute,
/// resolved path) is.
std::string control_socket_path(const std::string& mountpoint);

/// The cairn mount holding `path` (from /proc/mounts) and the path inside
/// it ("" for its root). Throws std::runtime_error if there is none.
std::pair<std::string, std::string> locate_mount(const std::string& path);

/// One line of a progress bar: bar, percent, bytes, files, rate, ETA.
std::string progress_line(const stage_progress& p);

class control_server {
 public:
  /// Binds and listens; throws std::runtime_error naming the path.
  control_server(mount_fs& fs, stager& stage, std::string socket_path);
  ~control_server();
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

 private:
  void accept_loop();
  void serve(int fd);

  mount_fs& fs_;
  stager& stage_;
  std::string path_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> serving_{0};
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

/// `cairn stage`: 0 when the stage is done (or the status/release asked
/// for answered), 1 otherwise; progress on stderr, a summary on stdout.
int run_stage_command(const std::string& path, bool status, bool release);
/// `cairn cache --stats`: the mount's cache and client counters.
int run_cache_stats_command(const std::string& path, bool json);

}  // namespace cairn::fuse
