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

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "gateways/fuse/chunk_cache.h"
#include "gateways/fuse/cluster_client.h"
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
  fs_of(req).release(fi->fh);
  fuse_reply_err(req, 0);
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st {};
  if (const int err = fs_of(req).statfs(st))
    fuse_reply_err(req, err);
  else
    fuse_reply_statfs(req, &st);
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
    const auto cache_dir =
        !config.cache_dir.empty()
            ? config.cache_dir
            : "/var/tmp/cairn-cache-" + std::to_string(::getuid()) + "/" + config.bucket;

    caf::actor_system_config sys_config;
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
    mount_fs fs(sys, client, cache, fo);
    fs.start();

    std::vector<std::string> argv_text{"cairn-mount", "-o",
                                       "ro,default_permissions,fsname=cairn:" + config.bucket +
                                           ",subtype=cairn" +
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
    std::printf("mounted: %s (bucket %s, node %llu, cache %s)\n", config.mountpoint.c_str(),
                config.bucket.c_str(), static_cast<unsigned long long>(client.node()),
                cache_dir.c_str());
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
