// gateways/fuse/mount_fs.h — the file system `cairn mount` serves: FUSE's
// low-level operations on one bucket's namespace, through the cluster
// client (namespace queries and commands, grants, the device directory)
// and the chunk reader (chunks, cached). Free of libfuse: fuse_mount.cpp
// decodes the kernel's requests and calls this, so tests can drive it
// without a mount. Every operation answers 0 or an errno.
//
// Owner: one per mount; its operations are called concurrently by the
// FUSE worker threads (thread-safe).
//
// Inode numbers: the namespace's inode ids, unchanged (the bucket root is
// inode 1, FUSE_ROOT_ID), so the mount keeps no inode table and a kernel
// FORGET needs no work.
//
// Invariants:
//  MF1. A read answers the bytes of the version the file had when it was
//       opened (close-to-open consistency), or EIO; never other bytes
//       (FD1, CR3).
//  MF2. Every operation returns: a node that does not answer within the
//       client's timeout makes it EIO (CC-1), never a hung caller.
//  MF3. A directory handle lists each entry of the directory once, in
//       name order, with stable offsets: offset n resumes after the n-th
//       entry it returned ("." and ".." are 1 and 2).
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "gateways/fuse/chunk_cache.h"
#include "gateways/fuse/chunk_reader.h"
#include "gateways/fuse/cluster_client.h"

namespace cairn::fuse {

struct mount_fs_options {
  std::string bucket = "cairn";
  /// Chunks read ahead of a sequential reader.
  unsigned read_ahead_chunks = 4;
  /// How long the device directory is used before it is asked again.
  std::chrono::milliseconds devices_refresh{5'000};
  chunk_reader_options reader;
};

struct mount_stats {
  chunk_reader_stats reader;
  chunk_cache_stats cache;
  std::uint64_t open_files = 0, open_dirs = 0;
};

class mount_fs {
 public:
  mount_fs(caf::actor_system& sys, cluster_client& client, chunk_cache& cache,
           mount_fs_options options);
  ~mount_fs();
  mount_fs(const mount_fs&) = delete;
  mount_fs& operator=(const mount_fs&) = delete;

  /// Resolves the bucket and fetches the current grant. Throws
  /// std::runtime_error saying what failed.
  void start();

  int lookup(std::uint64_t parent, std::string_view name, struct stat& out);
  int getattr(std::uint64_t ino, struct stat& out);
  int readlink(std::uint64_t ino, std::string& target);
  int statfs(struct statvfs& out);

  int opendir(std::uint64_t ino, std::uint64_t& handle);
  /// Entries after `offset`; `add` takes one (name, attributes, its
  /// offset) and answers false when the kernel's buffer is full.
  using entry_sink = std::function<bool(std::string_view name, const struct stat&, off_t next)>;
  int readdir(std::uint64_t handle, off_t offset, const entry_sink& add);
  void releasedir(std::uint64_t handle);

  int open(std::uint64_t ino, int flags, std::uint64_t& handle);
  int read(std::uint64_t handle, off_t offset, std::size_t size, std::string& out);
  void release(std::uint64_t handle);

  mount_stats stats() const;
  /// Reads a whole file's chunks into the cache, pinned (`cairn stage`).
  chunk_reader& reader() { return *reader_; }

  struct open_file;
  struct open_dir;

 private:
  int inode_of(std::uint64_t ino, shard::inode& out);
  keys::key_grant_ptr grant(std::uint64_t epoch);
  std::shared_ptr<const gateway::device_directory> devices();
  std::uint64_t remember(std::shared_ptr<void> handle, bool dir);

  caf::actor_system& sys_;
  cluster_client& client_;
  chunk_cache& cache_;
  mount_fs_options options_;
  std::uint64_t shard_ = 0, bucket_ = 0;
  std::unique_ptr<chunk_reader> reader_;

  mutable std::mutex mutex_;
  std::map<std::uint64_t, keys::key_grant_ptr> grants_;
  std::shared_ptr<const gateway::device_directory> devices_;
  std::chrono::steady_clock::time_point devices_at_;
  std::map<std::uint64_t, std::shared_ptr<open_file>> files_;
  std::map<std::uint64_t, std::shared_ptr<open_dir>> dirs_;
  std::uint64_t next_handle_ = 1;
};

/// An errno for a client status (ENOENT, EACCES, EIO, EINVAL).
int errno_of(runtime::client_status s);
/// A struct stat for an inode.
void stat_of(const shard::inode& n, struct stat& out);

}  // namespace cairn::fuse
