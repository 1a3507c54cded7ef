// gateways/fuse/mount_fs.cpp — see mount_fs.h.
#include "gateways/fuse/mount_fs.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <vector>

#include "actors/shard/namespace_codec.h"
#include "gateways/common/file_data.h"
#include "gateways/common/write_back.h"

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

int errno_of(const shard::ns_result& r) {
  using S = shard::ns_status;
  switch (r.status) {
    case S::ok:
      return 0;
    case S::no_such_key:
    case S::no_such_inode:
    case S::no_such_bucket:
      return ENOENT;
    case S::invalid_key:
      return r.problem == shard::key_problem::component_too_long ? ENAMETOOLONG
             : r.problem == shard::key_problem::dot_component    ? EEXIST
                                                                 : EINVAL;
    case S::entry_exists:
    case S::path_conflict:
      return EEXIST;
    case S::not_a_directory:
      return ENOTDIR;
    case S::is_a_directory:
      return EISDIR;
    case S::directory_not_empty:
      return ENOTEMPTY;
    case S::invalid_argument:
      return EINVAL;
    case S::too_many_links:
      return EMLINK;
    default:
      return EIO;
  }
}

int errno_of(const gateway::write_outcome& w) {
  using kind = gateway::write_outcome::kind;
  switch (w.what) {
    case kind::ok:
      return 0;
    case kind::gone:
      return ENOENT;
    case kind::is_directory:
      return EISDIR;
    case kind::not_a_file:
      return EINVAL;
    case kind::too_big:
      return EFBIG;
    case kind::refused:
      return EACCES;
    case kind::rejected:
      return w.result ? errno_of(*w.result) : EIO;
    case kind::unavailable:
    case kind::io:
      return EIO;
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
  out.st_nlink = n.kind == shard::inode_kind::directory ? 2 : n.links;
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

/// What the mount knows of a file some handle has open: its committed
/// version (refreshed at open and after each commit, MF1) and its dirty
/// bytes (MF4-MF6). Shared by the file's handles.
struct mount_fs::file_state {
  std::uint64_t ino = 0;   // the mount's number
  std::uint32_t slot = 0;  // and where it points (MF8)
  std::uint64_t inode = 0;
  std::mutex mutex;
  std::shared_ptr<const shard::object_version> version =
      std::make_shared<const shard::object_version>();
  std::uint64_t generation = 0;  // +1 whenever a commit moved `version` on
  gateway::dirty_file dirty;
  std::int64_t dirty_mtime_ns = 0;  // when the last dirty byte was written
  unsigned handles = 0;             // guarded by the mount's mutex, not this one
};

struct mount_fs::open_file {
  std::shared_ptr<file_state> state;
  bool writable = false;
  std::mutex mutex;
  std::uint64_t last_end = 0;  // where the last read ended (sequential detection)
  chunk_reader::plaintext last_chunk;
  shard::chunk_hash last_id{};
};

/// The mount's bucket as gateway::file_store, for one operation: the
/// namespace through the cluster client, chunks through the chunk reader
/// and the device proxies.
class mount_fs::store final : public gateway::file_store {
 public:
  store(mount_fs& fs, std::uint32_t slot)
      : fs_(fs), slot_(slot), bucket_(fs.slot(slot)), self_(fs.sys_) {}
  lookup read_inode(std::uint64_t inode, shard::inode& out) override {
    const auto e = fs_.inode_at(slot_, inode, out);
    return e == 0 ? lookup::found : e == ENOENT ? lookup::gone : lookup::unavailable;
  }
  keys::key_grant_ptr grant(std::uint64_t epoch) override { return fs_.grant(epoch); }
  gateway::chunk_source source() override {
    gateway::chunk_source c;
    c.chunk = [this](const shard::chunk_ref& ref) { return fs_.reader_->get(ref); };
    c.grant = [this](std::uint64_t epoch) { return fs_.grant(epoch); };
    return c;
  }
  std::shared_ptr<const gateway::device_directory> devices() override { return fs_.devices(); }
  std::uint64_t shard() const override { return bucket_.shard; }
  std::uint64_t bucket() const override { return bucket_.bucket; }
  std::optional<shard::ns_result> propose(shard::ns_command c) override {
    shard::ns_result r;
    if (fs_.command(slot_, std::move(c), r) != 0) return std::nullopt;
    return r;
  }
  caf::blocking_actor* self() override { return self_.ptr(); }

 private:
  mount_fs& fs_;
  std::uint32_t slot_;
  bucket_slot bucket_;
  caf::scoped_actor self_;
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

mount_fs::~mount_fs() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  retry_wake_.notify_all();
  if (retrier_.joinable()) retrier_.join();
}

void mount_fs::retry_loop() {
  // MF7: dirty bytes of files no handle has open are left only when their
  // commit failed (release commits everything). They are tried again here
  // until they are committed, or the file is gone.
  std::unique_lock lock(mutex_);
  while (!retry_wake_.wait_for(lock, options_.retry_interval, [&] { return stopping_; })) {
    std::vector<std::shared_ptr<file_state>> idle;
    for (const auto& [ino, st] : states_)
      if (st->handles == 0) idle.push_back(st);
    lock.unlock();
    for (const auto& st : idle) {
      {
        std::lock_guard s_lock(st->mutex);
        if (commit(*st, true) != 0) continue;
      }
      forget_if_idle(st->ino);
    }
    lock.lock();
  }
}

void mount_fs::start() {
  started_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (all_buckets()) {
    const auto r = client_.call(buckets_query{});
    if (r.status != client_status::ok)
      throw std::runtime_error("listing the tenant's buckets: " + std::string(to_string(r.status)) +
                               (r.message.empty() ? "" : " (" + r.message + ")"));
  } else {
    const auto r = client_.call(bucket_query{options_.bucket});
    if (r.status != client_status::ok)
      throw std::runtime_error("bucket \"" + options_.bucket +
                               "\": " + std::string(to_string(r.status)) +
                               (r.message.empty() ? "" : " (" + r.message + ")"));
    const auto& b = std::get<bucket_answer>(r.body);
    std::lock_guard lock(mutex_);
    slots_.push_back({options_.bucket, b.shard, b.bucket});
  }
  if (!grant(0)) throw std::runtime_error("the node gave no key grant for the tenant");
  if (devices()->devices.empty()) throw std::runtime_error("the node lists no chunk devices");
  reader_ = std::make_unique<chunk_reader>(
      sys_, cache_, [this](std::uint64_t epoch) { return grant(epoch); },
      [this] { return devices(); }, options_.reader);
  retrier_ = std::thread([this] { retry_loop(); });
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

// --- inode numbers and buckets (MF8) ---------------------------------------------------

namespace {
constexpr unsigned slot_shift = 40;  // inode ids of a bucket stay below 2^40
constexpr std::uint64_t inode_mask = (std::uint64_t{1} << slot_shift) - 1;
constexpr std::uint64_t mount_root_number = 1;  // FUSE_ROOT_ID
}  // namespace

std::optional<mount_fs::place> mount_fs::locate(std::uint64_t ino) const {
  if (!all_buckets()) return place{1, ino};
  if (ino == mount_root_number) return place{0, shard::root_inode.value};
  const auto s = ino >> slot_shift;
  std::lock_guard lock(mutex_);
  if (s == 0 || s > slots_.size() || (ino & inode_mask) == 0) return std::nullopt;
  return place{static_cast<std::uint32_t>(s), ino & inode_mask};
}

std::uint64_t mount_fs::number_of(std::uint32_t slot, std::uint64_t inode) const {
  if (!all_buckets()) return inode;
  if (slot == 0) return mount_root_number;
  return (std::uint64_t{slot} << slot_shift) | (inode & inode_mask);
}

mount_fs::bucket_slot mount_fs::slot(std::uint32_t s) const {
  std::lock_guard lock(mutex_);
  return slots_.at(s - 1);
}

int mount_fs::slot_named(const std::string& name, std::uint32_t& out) {
  auto known = [&] {
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].name == name) {
        out = static_cast<std::uint32_t>(i + 1);
        return true;
      }
    return false;
  };
  {
    std::lock_guard lock(mutex_);
    if (known()) return 0;
  }
  if (name.empty() || name.size() > 63) return ENOENT;  // no bucket is named so
  const auto r = client_.call(bucket_query{name});
  if (r.status != client_status::ok) return errno_of(r.status);
  const auto& b = std::get<bucket_answer>(r.body);
  std::lock_guard lock(mutex_);
  if (known()) return 0;  // another thread resolved it meanwhile
  slots_.push_back({name, b.shard, b.bucket});
  out = static_cast<std::uint32_t>(slots_.size());
  return 0;
}

void mount_fs::renumber(std::uint32_t slot, shard::inode& n) const {
  if (!all_buckets()) return;
  const bool bucket_root = n.id == shard::root_inode;
  n.id.value = number_of(slot, n.id.value);
  n.parent.value = bucket_root ? mount_root_number : number_of(slot, n.parent.value);
}

shard::inode mount_fs::mount_root() const {
  shard::inode n;
  n.id = shard::inode_id{mount_root_number};
  n.parent = n.id;
  n.kind = shard::inode_kind::directory;
  n.explicit_dir = true;
  n.mode = 0755;  // others may list, nobody makes entries here (buckets come from S3)
  n.atime_ns = n.mtime_ns = n.ctime_ns = started_ns_;
  return n;
}

int mount_fs::bucket_names(std::vector<std::string>& out) {
  const auto r = client_.call(buckets_query{});
  if (r.status != client_status::ok) return errno_of(r.status);
  out = std::get<buckets_answer>(r.body).names;
  return 0;
}

int mount_fs::inode_at(std::uint32_t slot_number, std::uint64_t inode, shard::inode& out) {
  const auto b = slot(slot_number);
  const auto r = client_.call(inode_query{b.shard, b.bucket, inode});
  if (r.status != client_status::ok) return errno_of(r.status);
  auto n = shard::decode_inode(std::get<inode_answer>(r.body).inode);
  if (!n) return EIO;
  out = std::move(*n);
  return 0;
}

int mount_fs::inode_of(std::uint64_t ino, shard::inode& out) {
  const auto p = locate(ino);
  if (!p) return ENOENT;
  if (p->slot == 0) {
    out = mount_root();
    return 0;
  }
  if (const int e = inode_at(p->slot, p->inode, out)) return e;
  renumber(p->slot, out);
  return 0;
}

int mount_fs::bucket_dir(std::uint64_t ino, place& out) const {
  const auto p = locate(ino);
  if (!p) return ENOENT;
  if (p->slot == 0) return EPERM;  // buckets are made and removed through S3
  out = *p;
  return 0;
}

int mount_fs::child_of(std::uint64_t parent, std::string_view name, shard::inode& out) {
  if (name.size() > shard::name_bytes_max) return ENAMETOOLONG;
  const auto p = locate(parent);
  if (!p) return ENOENT;
  if (p->slot == 0) {  // a bucket of the tenant
    std::uint32_t s = 0;
    if (const int e = slot_named(std::string(name), s)) return e;
    if (const int e = inode_at(s, shard::root_inode.value, out)) return e;
    renumber(s, out);
    return 0;
  }
  const auto b = slot(p->slot);
  const auto r = client_.call(lookup_query{b.shard, b.bucket, p->inode, std::string(name)});
  if (r.status != client_status::ok) return errno_of(r.status);
  auto n = shard::decode_inode(std::get<inode_answer>(r.body).inode);
  if (!n) return EIO;
  out = std::move(*n);
  renumber(p->slot, out);
  return 0;
}

int mount_fs::lookup(std::uint64_t parent, std::string_view name, struct stat& out) {
  shard::inode n;
  if (const int e = child_of(parent, name, n)) return e;
  stat_of(n, out);
  return 0;
}

int mount_fs::getattr(std::uint64_t ino, struct stat& out) {
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  attributes(n, out);
  return 0;
}

void mount_fs::attributes(const shard::inode& n, struct stat& out) {
  const auto ino = n.id.value;
  stat_of(n, out);
  // This mount's dirty bytes count (MF6).
  if (const auto st = state_of(ino, false)) {
    std::lock_guard lock(st->mutex);
    if (!st->dirty.empty()) {
      out.st_size = std::max<off_t>(out.st_size, static_cast<off_t>(st->dirty.end()));
      out.st_blocks = (out.st_size + 511) / 512;
      if (st->dirty_mtime_ns > n.mtime_ns) {
        out.st_mtim.tv_sec = st->dirty_mtime_ns / 1'000'000'000;
        out.st_mtim.tv_nsec = st->dirty_mtime_ns % 1'000'000'000;
        out.st_ctim = out.st_mtim;
      }
    }
  }
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

namespace {
constexpr std::string_view user_namespace = "user.";
constexpr std::size_t xattr_value_bytes_max = 64 * 1024;  // XATTR_SIZE_MAX
bool in_user_namespace(std::string_view name) {
  return name.size() > user_namespace.size() &&
         name.substr(0, user_namespace.size()) == user_namespace;
}
}  // namespace

int mount_fs::getxattr(std::uint64_t ino, std::string_view name, std::string& value) {
  if (!in_user_namespace(name)) return ENODATA;
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  const auto it = n.xattrs.find(std::string(name));
  if (it == n.xattrs.end()) return ENODATA;
  value = it->second;
  return 0;
}

int mount_fs::listxattr(std::uint64_t ino, std::string& names) {
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  names.clear();
  for (const auto& [k, v] : n.xattrs) {
    names += k;
    names += '\0';
  }
  return 0;
}

int mount_fs::change_xattr(std::uint64_t ino, std::string_view name,
                           std::optional<std::string> value, shard::xattr_how how) {
  if (options_.read_only) return EROFS;
  place p;
  if (const int e = bucket_dir(ino, p)) return e;
  shard::set_attributes_command a;
  a.bucket = shard::bucket_id{slot(p.slot).bucket};
  a.inode = shard::inode_id{p.inode};
  a.xattr_name = std::string(name);
  a.xattr_value = std::move(value);
  a.xattr_mode = how;
  shard::ns_command c;
  c.body = std::move(a);
  shard::ns_result r;
  if (const int e = command(p.slot, std::move(c), r)) return e;
  switch (r.status) {
    case shard::ns_status::no_such_key:
      return ENODATA;
    case shard::ns_status::invalid_argument:
      return ENOSPC;  // the inode's xattrs would pass their bound (NS9)
    default:
      return errno_of(r);
  }
}

int mount_fs::setxattr(std::uint64_t ino, std::string_view name, std::string_view value,
                       int flags) {
  if (!in_user_namespace(name)) return ENOTSUP;
  if (name.size() > shard::xattr_name_bytes_max) return ERANGE;
  if (value.size() > xattr_value_bytes_max) return E2BIG;
  if ((flags & XATTR_CREATE) && (flags & XATTR_REPLACE)) return EINVAL;
  const auto how = (flags & XATTR_CREATE)    ? shard::xattr_how::create
                   : (flags & XATTR_REPLACE) ? shard::xattr_how::replace
                                             : shard::xattr_how::either;
  return change_xattr(ino, name, std::string(value), how);
}

int mount_fs::removexattr(std::uint64_t ino, std::string_view name) {
  if (!in_user_namespace(name)) return ENODATA;
  if (name.size() > shard::xattr_name_bytes_max) return ERANGE;
  return change_xattr(ino, name, std::nullopt, shard::xattr_how::either);
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
    const auto p = locate(d->ino);
    if (!p) return ENOENT;
    if (p->slot == 0 && !d->complete) {  // the tenant's buckets, each a directory
      std::vector<std::string> names;
      if (const int e = bucket_names(names)) return e;
      for (const auto& name : names) {
        shard::inode n;
        if (child_of(d->ino, name, n) != 0) continue;  // gone since it was listed
        n.name = name;
        d->entries.push_back(std::move(n));
      }
      d->complete = true;
    }
    while (index >= d->entries.size() && !d->complete) {
      const auto b = slot(p->slot);
      const auto r =
          client_.call(readdir_query{b.shard, b.bucket, p->inode, d->after, client_readdir_max});
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
        renumber(p->slot, *n);
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

namespace {

std::int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool valid_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

}  // namespace

int mount_fs::command(std::uint32_t slot_number, shard::ns_command c, shard::ns_result& out) {
  const auto r = client_.call(command_query{slot(slot_number).shard, shard::encode_ns_command(c)});
  if (r.status != client_status::ok) return errno_of(r.status);
  auto result = shard::decode_ns_result(std::get<command_answer>(r.body).result);
  if (!result) return EIO;
  out = std::move(*result);
  return 0;
}

int mount_fs::make(std::uint64_t parent, std::string_view name, shard::inode_kind kind,
                   std::uint32_t mode, std::string_view target, const caller& who,
                   shard::create_how how, struct stat& out, shard::inode* made) {
  if (options_.read_only) return EROFS;
  if (name.size() > shard::name_bytes_max) return ENAMETOOLONG;
  if (!valid_name(name)) return EINVAL;
  place p;
  if (const int e = bucket_dir(parent, p)) return e;
  shard::make_node_command m;
  m.bucket = shard::bucket_id{slot(p.slot).bucket};
  m.dir = shard::inode_id{p.inode};
  m.name = std::string(name);
  m.kind = kind;
  m.mode = mode & 07777;
  m.uid = who.uid;
  m.gid = who.gid;
  m.target = std::string(target);
  m.how = how;
  shard::ns_command c;
  c.body = std::move(m);
  shard::ns_result r;
  if (const int e = command(p.slot, std::move(c), r)) return e;
  if (const int e = errno_of(r)) return e;
  shard::inode n;
  if (const int e = inode_at(p.slot, r.inode.value, n)) return e;
  renumber(p.slot, n);
  attributes(n, out);
  if (made) *made = std::move(n);
  return 0;
}

int mount_fs::mkdir(std::uint64_t parent, std::string_view name, std::uint32_t mode,
                    const caller& who, struct stat& out) {
  return make(parent, name, shard::inode_kind::directory, mode, {}, who, shard::create_how::guarded,
              out);
}

int mount_fs::symlink(std::string_view target, std::uint64_t parent, std::string_view name,
                      const caller& who, struct stat& out) {
  if (target.empty() || target.size() > shard::key_bytes_max) return ENAMETOOLONG;
  return make(parent, name, shard::inode_kind::symlink, 0777, target, who,
              shard::create_how::guarded, out);
}

int mount_fs::unlink(std::uint64_t parent, std::string_view name) {
  if (options_.read_only) return EROFS;
  if (name.size() > shard::name_bytes_max) return ENAMETOOLONG;
  place p;
  if (const int e = bucket_dir(parent, p)) return e;
  shard::ns_command c;
  c.body = shard::remove_node_command{shard::bucket_id{slot(p.slot).bucket},
                                      shard::inode_id{p.inode}, std::string(name), false, 0};
  shard::ns_result r;
  if (const int e = command(p.slot, std::move(c), r)) return e;
  return errno_of(r);
}

int mount_fs::rmdir(std::uint64_t parent, std::string_view name) {
  if (options_.read_only) return EROFS;
  if (name.size() > shard::name_bytes_max) return ENAMETOOLONG;
  if (name == ".") return EINVAL;
  if (name == "..") return ENOTEMPTY;
  place p;
  if (const int e = bucket_dir(parent, p)) return e;
  shard::ns_command c;
  c.body = shard::remove_node_command{shard::bucket_id{slot(p.slot).bucket},
                                      shard::inode_id{p.inode}, std::string(name), true, 0};
  shard::ns_result r;
  if (const int e = command(p.slot, std::move(c), r)) return e;
  return errno_of(r);
}

int mount_fs::rename(std::uint64_t parent, std::string_view name, std::uint64_t new_parent,
                     std::string_view new_name, bool no_replace) {
  if (options_.read_only) return EROFS;
  if (name.size() > shard::name_bytes_max || new_name.size() > shard::name_bytes_max)
    return ENAMETOOLONG;
  if (!valid_name(new_name)) return EINVAL;
  place from, to;
  if (const int e = bucket_dir(parent, from)) return e;
  if (const int e = bucket_dir(new_parent, to)) return e;
  if (from.slot != to.slot) return EXDEV;  // a rename never moves data between buckets
  if (no_replace) {
    // Not atomic with the rename: another client may create the name in
    // between (docs/fuse.md).
    struct stat st {};
    const int e = lookup(new_parent, new_name, st);
    if (e == 0) return EEXIST;
    if (e != ENOENT) return e;
  }
  shard::ns_command c;
  c.body = shard::rename_node_command{shard::bucket_id{slot(from.slot).bucket},
                                      shard::inode_id{from.inode},
                                      std::string(name),
                                      shard::inode_id{to.inode},
                                      std::string(new_name),
                                      0};
  shard::ns_result r;
  if (const int e = command(from.slot, std::move(c), r)) return e;
  return errno_of(r);
}

int mount_fs::link(std::uint64_t ino, std::uint64_t new_parent, std::string_view new_name,
                   struct stat& out) {
  if (options_.read_only) return EROFS;
  if (new_name.size() > shard::name_bytes_max) return ENAMETOOLONG;
  if (!valid_name(new_name)) return EINVAL;
  place file, dir;
  if (const int e = bucket_dir(ino, file)) return e;  // the mount's root is a directory: EPERM
  if (const int e = bucket_dir(new_parent, dir)) return e;
  if (file.slot != dir.slot) return EXDEV;
  shard::ns_command c;
  c.body = shard::link_node_command{shard::bucket_id{slot(file.slot).bucket},
                                    shard::inode_id{file.inode}, shard::inode_id{dir.inode},
                                    std::string(new_name), 0};
  shard::ns_result r;
  if (const int e = command(file.slot, std::move(c), r)) return e;
  if (r.status == shard::ns_status::is_a_directory) return EPERM;  // link(2) of a directory
  if (const int e = errno_of(r)) return e;
  return getattr(ino, out);
}

std::shared_ptr<mount_fs::file_state> mount_fs::state_of(std::uint64_t ino, bool open) {
  // Found or made, and a handle counted, in one step under the mount's
  // mutex: forget_if_idle (under the same mutex) never drops a state an
  // open is about to use, so an inode never has two.
  const auto p = open ? locate(ino) : std::nullopt;  // before the mutex: locate takes it
  std::lock_guard lock(mutex_);
  auto it = states_.find(ino);
  if (it == states_.end()) {
    if (!open || !p || p->slot == 0) return nullptr;
    auto st = std::make_shared<file_state>();
    st->ino = ino;
    st->slot = p->slot;
    st->inode = p->inode;
    it = states_.emplace(ino, std::move(st)).first;
  }
  if (open) ++it->second->handles;
  return it->second;
}

void mount_fs::drop_handle(file_state& st) {
  std::lock_guard lock(mutex_);
  --st.handles;
}

void mount_fs::forget_if_idle(std::uint64_t ino) {
  // Called with the state's mutex not held: the state goes when no handle
  // has the file open and it holds no dirty bytes.
  const auto st = state_of(ino, false);
  if (!st) return;
  std::lock_guard s_lock(st->mutex);
  std::lock_guard lock(mutex_);
  if (st->handles == 0 && st->dirty.empty()) states_.erase(ino);
}

std::shared_ptr<mount_fs::open_file> mount_fs::file_of(std::uint64_t handle) {
  std::lock_guard lock(mutex_);
  const auto it = files_.find(handle);
  return it == files_.end() ? nullptr : it->second;
}

int mount_fs::commit(file_state& st, bool everything) {
  if (st.dirty.empty()) return 0;
  const auto held = st.dirty.bytes();
  store s(*this, st.slot);
  const auto w = gateway::commit_dirty(s, st.inode, st.dirty, everything);
  dirty_bytes_ -= held - st.dirty.bytes();
  using kind = gateway::write_outcome::kind;
  if (w.what == kind::gone) return 0;  // removed: its bytes went with it (FD3)
  if (held != st.dirty.bytes()) {
    // Something was committed: the version this mount reads from moves on.
    shard::inode n;
    ++st.generation;
    if (inode_at(st.slot, st.inode, n) == 0 && n.current)
      st.version = std::make_shared<const shard::object_version>(std::move(*n.current));
  }
  if (w.what == kind::ok) {
    if (held != st.dirty.bytes()) ++commits_;
    return 0;
  }
  ++commit_failures_;
  spdlog::warn("mount: committing inode {} failed ({} dirty bytes kept)", st.ino, st.dirty.bytes());
  return errno_of(w);
}

int mount_fs::create(std::uint64_t parent, std::string_view name, std::uint32_t mode, int flags,
                     const caller& who, struct stat& out, std::uint64_t& handle) {
  const auto how = (flags & O_EXCL) ? shard::create_how::guarded : shard::create_how::unchecked;
  shard::inode n;
  if (const int e = make(parent, name, shard::inode_kind::file, mode, {}, who, how, out, &n))
    return e;
  if (S_ISDIR(out.st_mode)) return EISDIR;
  if (!S_ISREG(out.st_mode)) return EEXIST;
  return open_inode(n, flags, handle);  // no second read of the inode just made
}

int mount_fs::open(std::uint64_t ino, int flags, std::uint64_t& handle) {
  if (((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) && options_.read_only) return EROFS;
  shard::inode n;
  if (const int e = inode_of(ino, n)) return e;
  return open_inode(n, flags, handle);
}

int mount_fs::open_inode(const shard::inode& n, int flags, std::uint64_t& handle) {
  const auto ino = n.id.value;
  const bool writable = (flags & O_ACCMODE) != O_RDONLY;
  if ((writable || (flags & O_TRUNC)) && options_.read_only) return EROFS;
  if (n.kind == shard::inode_kind::directory) return EISDIR;
  if (n.kind != shard::inode_kind::file) return EINVAL;
  auto f = std::make_shared<open_file>();
  f->writable = writable;
  f->state = state_of(ino, true);
  if (!f->state) return ENOENT;
  {
    std::lock_guard lock(f->state->mutex);
    f->state->version = std::make_shared<const shard::object_version>(
        n.current.value_or(shard::object_version{}));  // close-to-open (MF1)
  }
  if (flags & O_TRUNC) {
    attr_change to_zero;
    to_zero.size = 0;
    struct stat ignored {};
    if (const int e = setattr(ino, to_zero, ignored)) {
      drop_handle(*f->state);
      forget_if_idle(ino);
      return e;
    }
  }
  handle = remember(f, false);
  return 0;
}

int mount_fs::read(std::uint64_t handle, off_t offset, std::size_t size, std::string& out) {
  const auto f = file_of(handle);
  if (!f) return EBADF;
  if (offset < 0) return EINVAL;
  auto& st = *f->state;
  const std::uint64_t first = static_cast<std::uint64_t>(offset);
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
  // The committed bytes are read without the file's lock (chunks may come
  // from the devices), then the dirty bytes laid over them under it. A
  // commit in between moves bytes from the dirty set into a version this
  // read did not use: then it reads again (MF6).
  std::shared_ptr<const shard::object_version> v;
  std::uint64_t last = first;
  for (int attempt = 0;; ++attempt) {
    std::uint64_t generation = 0, size_now = 0;
    {
      std::lock_guard lock(st.mutex);
      v = st.version;
      generation = st.generation;
      size_now = std::max(v->size, st.dirty.end());
    }
    last = first >= size_now ? first : std::min<std::uint64_t>(size_now, first + size);
    const std::uint64_t committed_last = std::min(last, v->size);
    if (!gateway::copy_range(*v, first, std::max(first, committed_last), out, source)) return EIO;
    out.resize(last - first, '\0');  // past the committed end: dirty bytes or a hole
    std::lock_guard lock(st.mutex);
    if (st.generation != generation && attempt < 8) continue;
    if (st.generation != generation) return EIO;  // commits keep overtaking this read
    st.dirty.overlay(first, out);
    break;
  }
  bool sequential = false;
  {
    std::lock_guard lock(f->mutex);
    sequential = first == 0 || first == f->last_end;
    f->last_end = last;
  }
  if (sequential && last > 0) {
    // The next chunks after this read go on the wire now, in parallel.
    unsigned queued = 0;
    for (const auto& ref : v->chunks) {
      if (ref.offset < last) continue;
      if (queued++ == options_.read_ahead_chunks) break;
      reader_->prefetch(ref);
    }
  }
  return 0;
}

int mount_fs::write(std::uint64_t handle, off_t offset, std::string_view data) {
  const auto f = file_of(handle);
  if (!f) return EBADF;
  if (!f->writable) return EBADF;
  if (offset < 0) return EINVAL;
  const auto end = static_cast<std::uint64_t>(offset) + data.size();
  if (end > shard::chunks_per_version_max * gateway::file_slot_bytes) return EFBIG;
  auto& st = *f->state;
  std::lock_guard lock(st.mutex);
  // MF4: over a bound, commit this file first; a write that still does
  // not fit fails.
  if (st.dirty.bytes() + data.size() > options_.dirty_file_bytes_max ||
      dirty_bytes_ + data.size() > options_.dirty_bytes_max) {
    if (const int e = commit(st, true)) return e;
    if (dirty_bytes_ + data.size() > options_.dirty_bytes_max) return EIO;
  }
  const auto held = st.dirty.bytes();
  st.dirty.write(static_cast<std::uint64_t>(offset), data);
  dirty_bytes_ += st.dirty.bytes() - held;
  st.dirty_mtime_ns = wall_clock_ns();
  // Full slots go now (they need no read); a failure is reported by the
  // flush or fsync that follows, the bytes stay dirty (MF5).
  (void)commit(st, false);
  return 0;
}

int mount_fs::flush(std::uint64_t handle) {
  const auto f = file_of(handle);
  if (!f) return EBADF;
  std::lock_guard lock(f->state->mutex);
  return commit(*f->state, true);
}

int mount_fs::release(std::uint64_t handle) {
  std::shared_ptr<open_file> f;
  {
    std::lock_guard lock(mutex_);
    const auto it = files_.find(handle);
    if (it == files_.end()) return EBADF;
    f = it->second;
    files_.erase(it);
  }
  int e = 0;
  {
    std::lock_guard lock(f->state->mutex);
    e = commit(*f->state, true);
  }
  { drop_handle(*f->state); }
  forget_if_idle(f->state->ino);
  return e;
}

std::size_t mount_fs::flush_all() {
  std::vector<std::shared_ptr<file_state>> all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [ino, st] : states_) all.push_back(st);
  }
  std::size_t failed = 0;
  for (const auto& st : all) {
    std::lock_guard lock(st->mutex);
    if (commit(*st, true) != 0) ++failed;
  }
  return failed;
}

int mount_fs::setattr(std::uint64_t ino, const attr_change& change, struct stat& out) {
  if (options_.read_only) return EROFS;
  place p;
  if (const int e = bucket_dir(ino, p)) return e;
  if (change.size) {
    if (*change.size > shard::chunks_per_version_max * gateway::file_slot_bytes) return EFBIG;
    // The dirty bytes first, then the size: one order for every writer.
    const auto st = state_of(ino, false);
    std::unique_lock<std::mutex> lock;
    if (st) {
      lock = std::unique_lock(st->mutex);
      if (const int e = commit(*st, true)) return e;
    }
    store s(*this, p.slot);
    const auto w = gateway::write_patches(s, p.inode, {}, *change.size);
    if (const int e = errno_of(w)) return e;
    if (st) {
      shard::inode n;
      if (inode_at(p.slot, p.inode, n) == 0)
        st->version = std::make_shared<const shard::object_version>(
            n.current.value_or(shard::object_version{}));
      ++st->generation;
    }
  }
  if (change.mode || change.uid || change.gid || change.atime_ns || change.mtime_ns) {
    shard::set_attributes_command a;
    a.bucket = shard::bucket_id{slot(p.slot).bucket};
    a.inode = shard::inode_id{p.inode};
    if (change.mode) a.mode = *change.mode & 07777;
    a.uid = change.uid;
    a.gid = change.gid;
    a.atime_ns = change.atime_ns;
    a.mtime_ns = change.mtime_ns;
    shard::ns_command c;
    c.body = std::move(a);
    shard::ns_result r;
    if (const int e = command(p.slot, std::move(c), r)) return e;
    if (const int e = errno_of(r)) return e;
  }
  return getattr(ino, out);
}

int mount_fs::resolve(std::string_view path, shard::inode& out) {
  if (const int e = inode_of(mount_root_number, out)) return e;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto name = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (name.empty() || name == ".") continue;
    if (out.kind != shard::inode_kind::directory) return ENOTDIR;
    shard::inode child;
    if (const int e = child_of(out.id.value, name, child)) return e;
    out = std::move(child);
  }
  return 0;
}

int mount_fs::walk_files(const shard::inode& from,
                         const std::function<bool(const shard::inode&)>& each) {
  if (from.kind == shard::inode_kind::file) return each(from) ? 0 : ECANCELED;
  if (from.kind != shard::inode_kind::directory) return 0;
  const auto p = locate(from.id.value);
  if (!p) return ENOENT;
  if (p->slot == 0) {  // every bucket of the tenant, in name order
    std::vector<std::string> names;
    if (const int e = bucket_names(names)) return e;
    for (const auto& name : names) {
      shard::inode root;
      if (child_of(from.id.value, name, root) != 0) continue;
      if (const int e = walk_files(root, each)) return e;
    }
    return 0;
  }
  const auto b = slot(p->slot);
  std::vector<std::uint64_t> dirs{p->inode};  // a stack: depth first
  std::set<std::uint64_t> linked;             // files with hard links: each once
  while (!dirs.empty()) {
    const auto dir = dirs.back();
    dirs.pop_back();
    std::string after;
    for (;;) {
      const auto r = client_.call(readdir_query{b.shard, b.bucket, dir, after, client_readdir_max});
      if (r.status != client_status::ok) return errno_of(r.status);
      const auto& page = std::get<readdir_answer>(r.body);
      for (const auto& e : page.entries) {
        auto n = shard::decode_inode(e.inode);
        if (!n) return EIO;
        after = e.list_key;
        if (n->kind == shard::inode_kind::directory) {
          dirs.push_back(n->id.value);
        } else if (n->kind == shard::inode_kind::file) {
          if (n->links > 1 && !linked.insert(n->id.value).second) continue;
          renumber(p->slot, *n);
          if (!each(*n)) return ECANCELED;
        }
      }
      if (!page.more || page.entries.empty()) break;
    }
  }
  return 0;
}

mount_stats mount_fs::stats() const {
  mount_stats s;
  if (reader_) s.reader = reader_->stats();
  s.cache = cache_.stats();
  s.routes = client_.routes();
  std::lock_guard lock(mutex_);
  s.open_files = files_.size();
  s.open_dirs = dirs_.size();
  s.dirty_bytes = dirty_bytes_;
  s.commits = commits_;
  s.commit_failures = commit_failures_;
  return s;
}

}  // namespace cairn::fuse
