// gateways/fuse/fuse_mount.h — `cairn mount`: connects to a node's client
// listener, opens the chunk cache and serves mount_fs through libfuse3's
// low-level API until SIGTERM, SIGINT or SIGHUP (or `fusermount3 -u`), then
// unmounts cleanly (ADR 0009 §1, docs/fuse.md).
//
// Owner: runtime/main.cpp calls run_mount; it runs in the foreground.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::fuse {

struct mount_config {
  std::string mountpoint;
  std::string endpoint;     // host:port of a node's client listener
  std::string ca;           // the cluster CA (PEM) the node's certificate chains to
  std::string credentials;  // AWS-style credentials file; empty: AWS_* variables
  std::string profile = "default";
  std::string bucket;     // empty: every bucket of the tenant, one directory each
  std::string cache_dir;  // empty: /var/tmp/cairn-cache-<uid>/<bucket, or "all">
  std::string cache_mode = "organic";
  std::uint64_t cache_l1_max = 512ull << 20;
  std::uint64_t cache_l2_max = 8ull << 30;
  bool allow_other = false;
  bool read_only = false;
  unsigned threads_max = 16;  // FUSE worker threads
};

/// Mounts and serves until a signal or an unmount. 0 after a clean
/// unmount; otherwise prints what failed (naming the option) and
/// answers 1.
int run_mount(const mount_config& config);

}  // namespace cairn::fuse
