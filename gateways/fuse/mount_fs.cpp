// gateways/fuse/mount_fs.cpp — see mount_fs.h.
#include "gateways/fuse/mount_fs.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "actors/shard/namespace_codec.h"
#include "gateways/common/file_data.h"

namespace cairn::fuse {

using namespace cairn::runtime;

int errno_of(client_status s) {
  switch (s) {
    case client_status::ok:
      return 0;
    case client_status::not_found:
      return ENOENT;
    case client_status::denied:
      return EACCES;
    case client_status::unavailable:
      return EIO;
    case client_status::invalid:
      return EINVAL;
  }
  return EIO;
}

void stat_of(const shard::inode& n, struct stat& out) {
  out = {};
  out.st_ino = n.id.value;
  const auto type = n.kind == shard::inode_kind::directory ? S_IFDIR
                    : n.kind == shard::inode_kind::symlink ? S_IFLNK
                                                           : S_IFREG;
  out.st_mode = type | (n.mode & 07777);
  out.st_nlink = n.kind == shard::inode_kind::directory ? 2 : 1;
  out.st_uid = n.uid;
  out.st_gid = n.gid;
  out.st_size = static_cast<off_t>(n.kind == shard::inode_kind::symlink ? n.target.size()
                                   : n.current                          ? n.current->size
                                                                        : 0);
  out.st_blocks = (out.st_size + 511) / 512;
  out.st_blksize = 1 << 20;  // what cp and cat size their buffers by
  auto ts = [](std::int64_t ns) {
    timespec t{};
    if (ns < 0) ns = 0;
    t.tv_sec = ns / 1'000'000'000;
    t.tv_nsec = ns % 1'000'000'000;
    return t;
  };
  out.st_atim = ts(n.atime_ns);
  out.st_mtim = ts(n.mtime_ns);
  out.st_ctim = ts(n.ctime_ns);
}

struct mount_fs::open_file {
  std::uint64_t ino = 0;
  shard::object_version version;  // as opened (MF1)
  std::mutex mutex;
  std::uint64_t last_end = 0;  // where the last read ended (sequential detection)
  chunk_reader::plaintext last_chunk;
  shard::chunk_hash last_id{};
};

struct mount_fs::open_dir {
  std::uint64_t ino = 0, parent = 0;
  std::mutex mutex;
  std::vector<shard::inode> entries;  // as listed so far, in name order
  std::string after;                  // the last list key fetched
  bool complete = false;
};

mount_fs::mount_fs(caf::actor_system& sys, cluster_client& client, chunk_cache& cache,
                   mount_fs_options options)
    : sys_(sys), client_(client), cache_(cache), options_(std::move(options)) {}

mount_fs::~mount_fs() = default;

void mount_fs::start() {
  const auto r = client_.call(bucket_query{options_.bucket});
  if (r.status != client_status::ok)
    throw std::runtime_error("bucket \"" + options_.bucket +
                             "\": " + std::string(to_string(r.status)) +
                             (r.message.empty() ? "" : " (" + r.message + ")"));
  const auto& b = std::get<bucket_answer>(r.body);
  shard_ = b.shard;
  bucket_ = b.bucket;
  if (!grant(0)) throw std::runtime_error("the node gave no key grant for the tenant");
  if (devices()->devices.empty()) throw std::runtime_error("the node lists no chunk devices");
  reader_ = std::make_unique<chunk_reader>(
      sys_, cache_, [this](std::uint64_t epoch) { return grant(epoch); },
      [this] { return devices(); }, options_.reader);
}

keys::key_grant_ptr mount_fs::grant(std::uint64_t epoch) {
  {
    std::lock_guard lock(mutex_);
    if (const auto it = grants_.find(epoch); it != grants_.end()) return it->second;
  }
  const auto r = client_.call(grant_query{epoch});
  if (r.status != client_status::ok) return nullptr;
  auto g = std::get<grant_answer>(r.body).grant;
  std::lock_guard lock(mutex_);
  grants_[epoch] = g;
  return g;
}

std::shared_ptr<const gateway::device_directory> mount_fs::devices() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (devices_ && now - devices_at_ < options_.devices_refresh) return devices_;
  }
  auto fresh = client_.devices();
  std::lock_guard lock(mutex_);
  if (!fresh->devices.empty() || !devices_) {  // a failed refresh keeps the last list
    devices_ = std::move(fresh);
    devices_at_ = now;
  }
  return devices_;
}

int mount_fs::inode_of(std::uint64_t ino, shard::inode& out) {
  const auto r = client_.call(inode_query{shard_, bucket_, ino});
  if (r.status != client_status::ok) return errno_of(r.status);
  auto n = shard::decode_inode(std::get<inode_answer>(r.body).inode);
  if (!n) return EIO;
  out = std::move(*n);
  return 0;
}

int mount_fs::lookup(std::uint64_t parent, std::string_view name, struct stat& out) {
  if (name.size() > shard::name_bytes_max) return ENAMETOOLONG;
  const auto r = client_.call(lookup_query{shard_, bucket_, parent, std::string(name)});
  if (r.status != client_status::ok) return errno_of(r.status);
  const auto n = shard::decode_inode(std::get<inode_answer>(r.body).inode);
  if (!n) return EIO;
  stat_of(*n, out);
  return 0;
}

int mount_fs::getattr(std::uint64_t ino, struct stat& out) {
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  stat_of(n, out);
  return 0;
}

int mount_fs::readlink(std::uint64_t ino, std::string& target) {
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  if (n.kind != shard::inode_kind::symlink) return EINVAL;
  target = n.target;
  return 0;
}

int mount_fs::statfs(struct statvfs& out) {
  out = {};
  const auto d = devices();
  std::uint64_t capacity = 0, free = 0;
  for (const auto& e : d->devices) {
    if (e.device.state == placement::device_state::failed) continue;
    capacity += e.device.capacity_bytes;
    free += e.device.free_bytes;
  }
  // What files can hold: RS 4+2 stores 6 bytes for every 4.
  constexpr std::uint64_t block = 4096;
  out.f_bsize = out.f_frsize = block;
  out.f_blocks = capacity / 6 * 4 / block;
  out.f_bfree = out.f_bavail = free / 6 * 4 / block;
  out.f_files = out.f_ffree = out.f_favail = 1ull << 32;  // inodes are not a bounded resource
  out.f_namemax = shard::name_bytes_max;
  return 0;
}

std::uint64_t mount_fs::remember(std::shared_ptr<void> handle, bool dir) {
  std::lock_guard lock(mutex_);
  const auto h = next_handle_++;
  if (dir)
    dirs_.emplace(h, std::static_pointer_cast<open_dir>(handle));
  else
    files_.emplace(h, std::static_pointer_cast<open_file>(handle));
  return h;
}

int mount_fs::opendir(std::uint64_t ino, std::uint64_t& handle) {
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  if (n.kind != shard::inode_kind::directory) return ENOTDIR;
  auto d = std::make_shared<open_dir>();
  d->ino = ino;
  d->parent = n.parent.value == 0 ? ino : n.parent.value;
  handle = remember(d, true);
  return 0;
}

int mount_fs::readdir(std::uint64_t handle, off_t offset, const entry_sink& add) {
  std::shared_ptr<open_dir> d;
  {
    std::lock_guard lock(mutex_);
    const auto it = dirs_.find(handle);
    if (it == dirs_.end()) return EBADF;
    d = it->second;
  }
  std::lock_guard lock(d->mutex);
  for (auto at = static_cast<std::uint64_t>(std::max<off_t>(offset, 0));; ++at) {
    struct stat st {};
    if (at < 2) {  // "." and ".." (MF3)
      st.st_ino = at == 0 ? d->ino : d->parent;
      st.st_mode = S_IFDIR;
      if (!add(at == 0 ? "." : "..", st, static_cast<off_t>(at + 1))) return 0;
      continue;
    }
    const auto index = at - 2;
    while (index >= d->entries.size() && !d->complete) {
      const auto r =
          client_.call(readdir_query{shard_, bucket_, d->ino, d->after, client_readdir_max});
      if (r.status != client_status::ok) {
        spdlog::warn("mount: listing inode {}: {} {}", d->ino, to_string(r.status), r.message);
        return errno_of(r.status);
      }
      const auto& page = std::get<readdir_answer>(r.body);
      for (const auto& e : page.entries) {
        auto n = shard::decode_inode(e.inode);
        if (!n) {
          spdlog::warn("mount: listing inode {}: an undecodable entry {}", d->ino, e.list_key);
          return EIO;
        }
        // Its name is its list key, without a directory's '/' (NS2).
        n->name = e.list_key;
        if (n->kind == shard::inode_kind::directory && !n->name.empty() && n->name.back() == '/')
          n->name.pop_back();
        d->entries.push_back(std::move(*n));
        d->after = e.list_key;
      }
      d->complete = !page.more || page.entries.empty();
    }
    if (index >= d->entries.size()) return 0;
    const auto& n = d->entries[index];
    stat_of(n, st);
    if (!add(n.name, st, static_cast<off_t>(at + 1))) return 0;
  }
}

void mount_fs::releasedir(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  dirs_.erase(handle);
}

int mount_fs::open(std::uint64_t ino, int flags, std::uint64_t& handle) {
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  if (n.kind == shard::inode_kind::directory) return EISDIR;
  if (n.kind != shard::inode_kind::file) return EINVAL;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return EROFS;
  auto f = std::make_shared<open_file>();
  f->ino = ino;
  if (n.current) f->version = std::move(*n.current);
  handle = remember(f, false);
  return 0;
}

int mount_fs::read(std::uint64_t handle, off_t offset, std::size_t size, std::string& out) {
  std::shared_ptr<open_file> f;
  {
    std::lock_guard lock(mutex_);
    const auto it = files_.find(handle);
    if (it == files_.end()) return EBADF;
    f = it->second;
  }
  if (offset < 0) return EINVAL;
  const auto& v = f->version;
  const std::uint64_t first = static_cast<std::uint64_t>(offset);
  const std::uint64_t last =
      first >= v.size ? first : std::min<std::uint64_t>(v.size, first + size);
  bool sequential = false;
  {
    std::lock_guard lock(f->mutex);
    sequential = first == 0 || first == f->last_end;
    f->last_end = last;
  }
  gateway::chunk_source source;
  source.chunk = [&](const shard::chunk_ref& ref) -> chunk_reader::plaintext {
    {
      std::lock_guard lock(f->mutex);
      if (f->last_chunk && f->last_id == ref.id) return f->last_chunk;
    }
    auto plain = reader_->get(ref);
    std::lock_guard lock(f->mutex);
    f->last_chunk = plain;
    f->last_id = ref.id;
    return plain;
  };
  source.grant = [this](std::uint64_t epoch) { return grant(epoch); };
  if (!gateway::copy_range(v, first, last, out, source)) return EIO;
  if (sequential && last > 0) {
    // The next chunks after this read go on the wire now, in parallel.
    unsigned queued = 0;
    for (const auto& ref : v.chunks) {
      if (ref.offset < last) continue;
      if (queued++ == options_.read_ahead_chunks) break;
      reader_->prefetch(ref);
    }
  }
  return 0;
}

void mount_fs::release(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  files_.erase(handle);
}

mount_stats mount_fs::stats() const {
  mount_stats s;
  if (reader_) s.reader = reader_->stats();
  s.cache = cache_.stats();
  std::lock_guard lock(mutex_);
  s.open_files = files_.size();
  s.open_dirs = dirs_.size();
  return s;
}

}  // namespace cairn::fuse
