// gateways/fuse/fuse_mount.cpp — see fuse_mount.h. The libfuse side of the
// mount: each low-level operation decodes its arguments, calls mount_fs on
// the FUSE worker thread it arrived on, and replies. mount_fs's calls
// block on the node's reply (bounded by the client's timeout, MF2), so
// the worker pool (threads_max) bounds how many operations are in flight.
#define FUSE_USE_VERSION 312
#include "gateways/fuse/fuse_mount.h"

#include <fuse_lowlevel.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <linux/fs.h>  // RENAME_NOREPLACE

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "gateways/fuse/chunk_cache.h"
#include "gateways/fuse/cluster_client.h"
#include "gateways/fuse/control.h"
#include "gateways/fuse/credentials.h"
#include "gateways/fuse/mount_fs.h"

namespace cairn::fuse {
namespace {

constexpr double attr_seconds = 1.0;  // how long the kernel may use an answer

mount_fs& fs_of(fuse_req_t req) {
  return *static_cast<mount_fs*>(fuse_req_userdata(req));
}

void op_init(void*, fuse_conn_info* conn) {
  // Reads and writes of up to 1 MiB per request; read-ahead of 1 MiB.
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e{};
  if (const int err = fs_of(req).lookup(parent, name, e.attr)) {
    fuse_reply_err(req, err);
    return;
  }
  e.ino = e.attr.st_ino;
  e.attr_timeout = e.entry_timeout = attr_seconds;
  fuse_reply_entry(req, &e);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st {};
  if (const int err = fs_of(req).getattr(ino, st))
    fuse_reply_err(req, err);
  else
    fuse_reply_attr(req, &st, attr_seconds);
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  std::string target;
  if (const int err = fs_of(req).readlink(ino, target))
    fuse_reply_err(req, err);
  else
    fuse_reply_readlink(req, target.c_str());
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  std::uint64_t h = 0;
  if (const int err = fs_of(req).opendir(ino, h)) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = h;
  fuse_reply_open(req, fi);
}

void read_directory(fuse_req_t req, std::size_t size, off_t off, fuse_file_info* fi, bool plus) {
  std::vector<char> buffer(size);
  std::size_t used = 0;
  const int err = fs_of(req).readdir(
      fi->fh, off, [&](std::string_view name, const struct stat& st, off_t next) {
        const std::string n(name);
        std::size_t need = 0;
        if (plus) {
          fuse_entry_param e{};
          e.attr = st;
          // "." and ".." are not looked up: no lookup count for them.
          const bool dots = n == "." || n == "..";
          e.ino = dots ? 0 : st.st_ino;
          e.attr_timeout = e.entry_timeout = dots ? 0 : attr_seconds;
          need =
              fuse_add_direntry_plus(req, buffer.data() + used, size - used, n.c_str(), &e, next);
        } else {
          need = fuse_add_direntry(req, buffer.data() + used, size - used, n.c_str(), &st, next);
        }
        if (need > size - used) return false;  // did not fit: not added
        used += need;
        return true;
      });
  if (err && used == 0)
    fuse_reply_err(req, err);
  else
    fuse_reply_buf(req, buffer.data(), used);
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  read_directory(req, size, off, fi, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  read_directory(req, size, off, fi, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fs_of(req).releasedir(fi->fh);
  fuse_reply_err(req, 0);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  std::uint64_t h = 0;
  if (const int err = fs_of(req).open(ino, fi->flags, h)) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = h;
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  std::string out;
  if (const int err = fs_of(req).read(fi->fh, off, size, out))
    fuse_reply_err(req, err);
  else
    fuse_reply_buf(req, out.data(), out.size());
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  // The kernel does not pass this answer on (close has had flush's).
  fuse_reply_err(req, fs_of(req).release(fi->fh));
}

caller caller_of(fuse_req_t req) {
  const auto* ctx = fuse_req_ctx(req);
  return {static_cast<std::uint32_t>(ctx->uid), static_cast<std::uint32_t>(ctx->gid)};
}

void reply_entry(fuse_req_t req, int err, const struct stat& st) {
  if (err) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_entry_param e{};
  e.attr = st;
  e.ino = st.st_ino;
  e.attr_timeout = e.entry_timeout = attr_seconds;
  fuse_reply_entry(req, &e);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  struct stat st {};
  reply_entry(req, fs_of(req).mkdir(parent, name, mode, caller_of(req), st), st);
}

void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  struct stat st {};
  reply_entry(req, fs_of(req).symlink(link, parent, name, caller_of(req), st), st);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_reply_err(req, fs_of(req).unlink(parent, name));
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_reply_err(req, fs_of(req).rmdir(parent, name));
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
               const char* new_name, unsigned int flags) {
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) {
    fuse_reply_err(req, EINVAL);  // RENAME_EXCHANGE, RENAME_WHITEOUT
    return;
  }
  fuse_reply_err(
      req, fs_of(req).rename(parent, name, new_parent, new_name, (flags & RENAME_NOREPLACE) != 0));
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  struct stat st {};
  reply_entry(req, fs_of(req).link(ino, new_parent, new_name, st), st);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  attr_change c;
  if (to_set & FUSE_SET_ATTR_MODE) c.mode = attr->st_mode;
  if (to_set & FUSE_SET_ATTR_UID) c.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) c.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) c.size = static_cast<std::uint64_t>(attr->st_size);
  const auto ns = [](const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
  };
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  if (to_set & FUSE_SET_ATTR_ATIME_NOW)
    c.atime_ns = ns(now);
  else if (to_set & FUSE_SET_ATTR_ATIME)
    c.atime_ns = ns(attr->st_atim);
  if (to_set & FUSE_SET_ATTR_MTIME_NOW)
    c.mtime_ns = ns(now);
  else if (to_set & FUSE_SET_ATTR_MTIME)
    c.mtime_ns = ns(attr->st_mtim);
  struct stat st {};
  if (const int err = fs_of(req).setattr(ino, c, st))
    fuse_reply_err(req, err);
  else
    fuse_reply_attr(req, &st, attr_seconds);
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi) {
  struct stat st {};
  std::uint64_t h = 0;
  if (const int err = fs_of(req).create(parent, name, mode, fi->flags, caller_of(req), st, h)) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = h;
  fuse_entry_param e{};
  e.attr = st;
  e.ino = st.st_ino;
  e.attr_timeout = e.entry_timeout = attr_seconds;
  if (fuse_reply_create(req, &e, fi) != 0) fs_of(req).release(h);  // the caller is gone
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
              fuse_file_info* fi) {
  if (const int err = fs_of(req).write(fi->fh, off, {buf, size}))
    fuse_reply_err(req, err);
  else
    fuse_reply_write(req, size);
}

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fuse_reply_err(req, fs_of(req).flush(fi->fh));
}

void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  fuse_reply_err(req, fs_of(req).flush(fi->fh));
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st {};
  if (const int err = fs_of(req).statfs(st))
    fuse_reply_err(req, err);
  else
    fuse_reply_statfs(req, &st);
}

/// Answers getxattr and listxattr: the size when asked for it (size 0),
/// ERANGE when the caller's buffer is too small.
void reply_xattr(fuse_req_t req, int err, const std::string& bytes, size_t size) {
  if (err)
    fuse_reply_err(req, err);
  else if (size == 0)
    fuse_reply_xattr(req, bytes.size());
  else if (bytes.size() > size)
    fuse_reply_err(req, ERANGE);
  else
    fuse_reply_buf(req, bytes.data(), bytes.size());
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  std::string value;
  reply_xattr(req, fs_of(req).getxattr(ino, name, value), value, size);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::string names;
  reply_xattr(req, fs_of(req).listxattr(ino, names), names, size);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                 int flags) {
  fuse_reply_err(req, fs_of(req).setxattr(ino, name, {value, size}, flags));
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  fuse_reply_err(req, fs_of(req).removexattr(ino, name));
}

fuse_lowlevel_ops operations() {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.getattr = op_getattr;
  ops.readlink = op_readlink;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.open = op_open;
  ops.read = op_read;
  ops.release = op_release;
  ops.statfs = op_statfs;
  ops.mkdir = op_mkdir;
  ops.symlink = op_symlink;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.link = op_link;
  ops.setattr = op_setattr;
  ops.create = op_create;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.fsync = op_fsync;
  ops.getxattr = op_getxattr;
  ops.listxattr = op_listxattr;
  ops.setxattr = op_setxattr;
  ops.removexattr = op_removexattr;
  return ops;
}

cache_mode parse_mode(const std::string& s) {
  if (s == "organic") return cache_mode::organic;
  if (s == "pinned") return cache_mode::pinned;
  if (s == "bypass") return cache_mode::bypass;
  throw std::runtime_error("--cache-mode: \"" + s + "\" is none of organic, pinned, bypass");
}

}  // namespace

int run_mount(const mount_config& config) {
  // The signals that unmount reach this thread only: every thread started
  // below inherits the blocked mask, and the FUSE loop unblocks them here.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Logs go to stderr; stdout carries only the lines scripts read.
  spdlog::set_default_logger(spdlog::stderr_color_mt("cairn-mount"));
  try {
    if (config.mountpoint.empty() || !std::filesystem::is_directory(config.mountpoint))
      throw std::runtime_error("mountpoint: \"" + config.mountpoint + "\" is not a directory");
    if (config.endpoint.empty()) throw std::runtime_error("--endpoint: needed (host:port)");
    if (config.ca.empty()) throw std::runtime_error("--ca: needed (the cluster CA's PEM file)");
    const auto mode = parse_mode(config.cache_mode);
    auto credentials = load_credentials(config.credentials, config.profile);
    const auto cache_dir = !config.cache_dir.empty()
                               ? config.cache_dir
                               : "/var/tmp/cairn-cache-" + std::to_string(::getuid()) + "/" +
                                     (config.bucket.empty() ? std::string("all") : config.bucket);
    const auto what =
        config.bucket.empty() ? std::string("all buckets") : "bucket " + config.bucket;

    caf::actor_system_config sys_config;
    sys_config.set("logger.verbosity", caf::atom("quiet"));
    // Work sharing, as on a node (runtime/node.cpp): CAF's default work
    // stealing polls with 50 us sleeps after every wake-up, which took 14%
    // of the mount's samples during a cold read on a 2-core machine.
    sys_config.set("scheduler.policy", caf::atom("sharing"));
    caf::actor_system sys{sys_config};
    cluster_client_options o;
    o.endpoint = config.endpoint;
    o.ca_cert = config.ca;
    o.access_key_id = credentials.key_id;
    o.secret = std::move(credentials.secret);
    cluster_client client(sys, std::move(o));
    client.connect();
    chunk_cache cache(mode, cache_bounds{config.cache_l1_max, config.cache_l2_max},
                      directory_cache_files(cache_dir));
    mount_fs_options fo;
    fo.bucket = config.bucket;
    fo.read_only = config.read_only;
    mount_fs fs(sys, client, cache, fo);
    fs.start();
    stager stage(fs);
    const auto real_mountpoint = std::filesystem::canonical(config.mountpoint).string();
    control_server control(fs, stage, control_socket_path(real_mountpoint));

    std::vector<std::string> argv_text{
        "cairn-mount", "-o",
        std::string(config.read_only ? "ro," : "") + "default_permissions,fsname=cairn:" +
            (config.bucket.empty() ? std::string("*") : config.bucket) + ",subtype=cairn" +
            (config.allow_other ? ",allow_other" : "")};
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
    const auto ops = operations();
    fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, &fs);
    fuse_opt_free_args(&args);
    if (!se) throw std::runtime_error("libfuse refused the mount options");
    if (fuse_set_signal_handlers(se) != 0) {
      fuse_session_destroy(se);
      throw std::runtime_error("cannot install the signal handlers");
    }
    if (fuse_session_mount(se, config.mountpoint.c_str()) != 0) {
      fuse_remove_signal_handlers(se);
      fuse_session_destroy(se);
      throw std::runtime_error("mounting " + config.mountpoint +
                               " failed (is /dev/fuse there, and are you root or in group fuse?)");
    }
    std::printf("mounted: %s (%s, node %llu, cache %s %s, control %s)\n", config.mountpoint.c_str(),
                what.c_str(), static_cast<unsigned long long>(client.node()),
                config.cache_mode.c_str(), cache_dir.c_str(),
                control_socket_path(real_mountpoint).c_str());
    std::fflush(stdout);
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    fuse_loop_config* loop = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(loop, config.threads_max);
    const int rc = fuse_session_loop_mt(se, loop);
    fuse_loop_cfg_destroy(loop);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    // Files still open at the unmount (a signal) keep dirty bytes: commit.
    if (const auto failed = fs.flush_all())
      spdlog::error("mount: {} files could not be committed at the unmount", failed);
    spdlog::info("mount: {} unmounted", config.mountpoint);
    std::printf("unmounted: %s\n", config.mountpoint.c_str());
    std::fflush(stdout);
    return rc < 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn mount: %s\n", e.what());
    return 1;
  }
}

}  // namespace cairn::fuse
