// gateways/fuse/mount_fs.h — the file system `cairn mount` serves: FUSE's
// low-level operations on a tenant's buckets (all of them, one directory
// each, or one at the mount's root), through the cluster
// client (namespace queries and commands, grants, the device directory)
// and the chunk reader (chunks, cached). Free of libfuse: fuse_mount.cpp
// decodes the kernel's requests and calls this, so tests can drive it
// without a mount. Every operation answers 0 or an errno.
//
// Owner: one per mount; its operations are called concurrently by the
// FUSE worker threads (thread-safe).
//
// Inode numbers (MF8): computed from the namespace's, so the mount keeps
// no inode table and a kernel FORGET needs no work.
//
// Invariants:
//  MF1. A read answers the bytes of the version the file had when it was
//       opened or when this mount last committed to it (close-to-open
//       consistency), or EIO; never other bytes (FD1, CR3).
//  MF2. Every operation returns: a node that does not answer within the
//       client's timeout makes it EIO (CC-1), never a hung caller.
//  MF3. A directory handle lists each entry of the directory once, in
//       name order, with stable offsets: offset n resumes after the n-th
//       entry it returned ("." and ".." are 1 and 2).
//  MF4. Bounded write-back: a file holds at most dirty_file_bytes_max
//       dirty bytes and the mount dirty_bytes_max; a write that would pass
//       either commits first, and fails with EIO if that commit fails.
//       Full 4 MiB slots are committed as they fill.
//  MF5. flush (close) and fsync answer 0 only when every byte written
//       through the file before them is committed: its chunks acknowledged
//       by their devices (CP2) and write_range applied (FD2). Otherwise
//       they answer EIO and the bytes stay dirty (FD3).
//  MF6. Reads and getattr see this mount's dirty bytes over the committed
//       ones (a file's size is the larger of the two).
//  MF7. Dirty bytes never wait for a handle that will not come: those of a
//       file no handle has open (its last commit failed) are committed
//       again every retry_interval until they are, or the file is gone.
//  MF8. An inode number names one inode for the mount's life. A mount of
//       one bucket uses the namespace's ids unchanged (its root is 1,
//       FUSE_ROOT_ID). A mount of all the tenant's buckets has a root of
//       its own (1: one directory per bucket, read-only), and inode i of
//       the bucket in slot s is s * 2^40 + i; a bucket gets the next slot
//       when it is first looked up and keeps it. An operation on two
//       inodes of different buckets (rename, link) answers EXDEV.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "actors/shard/namespace_codec.h"
#include "gateways/common/file_data.h"
#include "gateways/fuse/chunk_cache.h"
#include "gateways/fuse/chunk_reader.h"
#include "gateways/fuse/cluster_client.h"

namespace cairn::fuse {

struct mount_fs_options {
  /// The bucket at the mount's root; "": every bucket of the tenant, one
  /// directory each (MF8).
  std::string bucket;
  bool read_only = false;
  /// Chunks read ahead of a sequential reader.
  unsigned read_ahead_chunks = 4;
  /// How long the device directory is used before it is asked again.
  std::chrono::milliseconds devices_refresh{5'000};
  /// Write-back bounds (MF4): dirty bytes held for one file, and for the
  /// whole mount; past them a write commits first.
  std::uint64_t dirty_file_bytes_max = 16ull << 20;
  std::uint64_t dirty_bytes_max = 256ull << 20;
  /// How often the dirty bytes of closed files whose commit failed are
  /// tried again (MF7).
  std::chrono::milliseconds retry_interval{2'000};
  chunk_reader_options reader;
};

struct mount_stats {
  chunk_reader_stats reader;
  chunk_cache_stats cache;
  std::uint64_t open_files = 0, open_dirs = 0;
  std::uint64_t dirty_bytes = 0, commits = 0, commit_failures = 0;
  cluster_client::chunk_routes routes;  // chunk requests direct or relayed (CC-4)
};

/// Who asks (FUSE's request context): new inodes are theirs.
struct caller {
  std::uint32_t uid = 0, gid = 0;
};

/// What setattr changes (FUSE_SET_ATTR_*).
struct attr_change {
  std::optional<std::uint32_t> mode, uid, gid;
  std::optional<std::uint64_t> size;
  std::optional<std::int64_t> atime_ns, mtime_ns;
};

class mount_fs {
 public:
  mount_fs(caf::actor_system& sys, cluster_client& client, chunk_cache& cache,
           mount_fs_options options);
  ~mount_fs();
  mount_fs(const mount_fs&) = delete;
  mount_fs& operator=(const mount_fs&) = delete;

  /// Resolves the bucket (or lists the tenant's) and fetches the current
  /// grant. Throws std::runtime_error saying what failed.
  void start();

  int lookup(std::uint64_t parent, std::string_view name, struct stat& out);
  int getattr(std::uint64_t ino, struct stat& out);
  int setattr(std::uint64_t ino, const attr_change& change, struct stat& out);
  int readlink(std::uint64_t ino, std::string& target);
  int statfs(struct statvfs& out);

  int mkdir(std::uint64_t parent, std::string_view name, std::uint32_t mode, const caller& who,
            struct stat& out);
  int symlink(std::string_view target, std::uint64_t parent, std::string_view name,
              const caller& who, struct stat& out);
  int unlink(std::uint64_t parent, std::string_view name);
  int rmdir(std::uint64_t parent, std::string_view name);
  /// A hard link: `new_name` in `new_parent` for file or symlink `ino`
  /// (NS1); EPERM for a directory, EMLINK past links_max.
  int link(std::uint64_t ino, std::uint64_t new_parent, std::string_view new_name,
           struct stat& out);
  /// `no_replace`: RENAME_NOREPLACE.
  int rename(std::uint64_t parent, std::string_view name, std::uint64_t new_parent,
             std::string_view new_name, bool no_replace);

  /// Extended attributes: names in the user namespace ("user.x") are
  /// stored with the inode (NS9); others are not kept (get: ENODATA, set:
  /// ENOTSUP), so the kernel's security.capability probe before each
  /// write costs no round trip to a node.
  int getxattr(std::uint64_t ino, std::string_view name, std::string& value);
  /// The names, each followed by a NUL byte.
  int listxattr(std::uint64_t ino, std::string& names);
  /// `flags`: XATTR_CREATE, XATTR_REPLACE.
  int setxattr(std::uint64_t ino, std::string_view name, std::string_view value, int flags);
  int removexattr(std::uint64_t ino, std::string_view name);

  int opendir(std::uint64_t ino, std::uint64_t& handle);
  /// Entries after `offset`; `add` takes one (name, attributes, its
  /// offset) and answers false when the kernel's buffer is full.
  using entry_sink = std::function<bool(std::string_view name, const struct stat&, off_t next)>;
  int readdir(std::uint64_t handle, off_t offset, const entry_sink& add);
  void releasedir(std::uint64_t handle);

  /// Creates (O_EXCL: only if new) and opens a file.
  int create(std::uint64_t parent, std::string_view name, std::uint32_t mode, int flags,
             const caller& who, struct stat& out, std::uint64_t& handle);
  int open(std::uint64_t ino, int flags, std::uint64_t& handle);
  int read(std::uint64_t handle, off_t offset, std::size_t size, std::string& out);
  int write(std::uint64_t handle, off_t offset, std::string_view data);
  /// close(2) (flush) and fsync(2): everything the file holds is committed
  /// and durable when this answers 0 (MF5).
  int flush(std::uint64_t handle);
  int release(std::uint64_t handle);
  /// Commits every file's dirty bytes (at unmount); the files that failed.
  std::size_t flush_all();

  mount_stats stats() const;
  chunk_reader& reader() { return *reader_; }
  const chunk_cache& cache() const { return cache_; }
  chunk_cache& cache() { return cache_; }

  /// The inode at `path` ("a/b/c", relative to the mount's root; "" is the
  /// root), following no symlinks. Its numbers are the mount's (MF8).
  int resolve(std::string_view path, shard::inode& out);
  /// Every file under `from` (itself if it is a file; every bucket's
  /// under the root of an all-buckets mount), with its current version,
  /// depth first; `each` answers false to stop.
  int walk_files(const shard::inode& from, const std::function<bool(const shard::inode&)>& each);

  struct open_file;
  struct open_dir;
  struct file_state;
  class store;

 private:
  /// A bucket the mount reaches: slot s is slots_[s - 1] (MF8).
  struct bucket_slot {
    std::string name;
    std::uint64_t shard = 0, bucket = 0;
  };
  /// Where an inode number points: slot 0 is an all-buckets mount's root.
  struct place {
    std::uint32_t slot = 0;
    std::uint64_t inode = 0;
  };
  bool all_buckets() const { return options_.bucket.empty(); }
  /// The place of inode number `ino`, or nullopt for a number no inode of
  /// this mount can have.
  std::optional<place> locate(std::uint64_t ino) const;
  std::uint64_t number_of(std::uint32_t slot, std::uint64_t inode) const;
  bucket_slot slot(std::uint32_t s) const;
  /// The slot of the tenant's bucket `name`, resolved on first use.
  int slot_named(const std::string& name, std::uint32_t& out);
  /// The inode with the mount's numbers for its id and parent (MF8).
  void renumber(std::uint32_t slot, shard::inode& n) const;
  /// An all-buckets mount's root, and its entries (the tenant's buckets).
  shard::inode mount_root() const;
  int bucket_names(std::vector<std::string>& out);
  /// Inode `inode` of the bucket in `slot`, with the namespace's numbers.
  int inode_at(std::uint32_t slot, std::uint64_t inode, shard::inode& out);
  /// Inode number `ino`, with the mount's numbers.
  int inode_of(std::uint64_t ino, shard::inode& out);
  /// Entry `name` of directory `parent`, with the mount's numbers.
  int child_of(std::uint64_t parent, std::string_view name, shard::inode& out);
  /// The place of `ino`, a directory of a bucket where entries may change
  /// (EPERM for an all-buckets mount's root, ENOENT for a bad number).
  int bucket_dir(std::uint64_t ino, place& out) const;
  int command(std::uint32_t slot, shard::ns_command c, shard::ns_result& out);
  int change_xattr(std::uint64_t ino, std::string_view name, std::optional<std::string> value,
                   shard::xattr_how how);
  int make(std::uint64_t parent, std::string_view name, shard::inode_kind kind, std::uint32_t mode,
           std::string_view target, const caller& who, shard::create_how how, struct stat& out,
           shard::inode* made = nullptr);
  /// A file's handle from its inode as just read (open, create).
  int open_inode(const shard::inode& n, int flags, std::uint64_t& handle);
  /// stat_of with this mount's dirty bytes (MF6).
  void attributes(const shard::inode& n, struct stat& out);
  keys::key_grant_ptr grant(std::uint64_t epoch);
  std::shared_ptr<const gateway::device_directory> devices();
  std::uint64_t remember(std::shared_ptr<void> handle, bool dir);
  std::shared_ptr<open_file> file_of(std::uint64_t handle);
  /// The inode's state; `open`: made if missing, and a handle counted.
  std::shared_ptr<file_state> state_of(std::uint64_t ino, bool open);
  void drop_handle(file_state& st);
  /// Commits a file's dirty bytes (its mutex held): all, or full slots.
  int commit(file_state& st, bool everything);
  void forget_if_idle(std::uint64_t ino);
  void retry_loop();

  caf::actor_system& sys_;
  cluster_client& client_;
  chunk_cache& cache_;
  mount_fs_options options_;
  std::vector<bucket_slot> slots_;  // guarded by mutex_; never shrinks (MF8)
  std::int64_t started_ns_ = 0;     // the times of an all-buckets mount's root
  std::unique_ptr<chunk_reader> reader_;

  mutable std::mutex mutex_;  // a file_state's mutex is taken before this, never after
  std::map<std::uint64_t, keys::key_grant_ptr> grants_;
  std::shared_ptr<const gateway::device_directory> devices_;
  std::chrono::steady_clock::time_point devices_at_;
  std::map<std::uint64_t, std::shared_ptr<open_file>> files_;
  std::map<std::uint64_t, std::shared_ptr<open_dir>> dirs_;
  std::map<std::uint64_t, std::shared_ptr<file_state>> states_;  // by inode
  std::uint64_t next_handle_ = 1;
  std::atomic<std::uint64_t> dirty_bytes_{0};
  std::atomic<std::uint64_t> commits_{0}, commit_failures_{0};
  bool stopping_ = false;  // under mutex_
  std::condition_variable retry_wake_;
  std::thread retrier_;  // MF7
};

/// An errno for a namespace status (ENOENT, EEXIST, ENOTEMPTY, ...).
int errno_of(const shard::ns_result& r);
/// An errno for what a write did (EIO, EFBIG, ...).
int errno_of(const gateway::write_outcome& w);
/// An errno for a client status (ENOENT, EACCES, EIO, EINVAL).
int errno_of(runtime::client_status s);
/// A struct stat for an inode.
void stat_of(const shard::inode& n, struct stat& out);

}  // namespace cairn::fuse
