// gateways/nfs/server.cpp — see server.h. The server and its exports, the
// session loop (records in, replies out), MOUNT v3, and the NFS v3
// procedures, with the write-back of UNSTABLE WRITEs (docs/nfs.md
// "Write-back") and its background flusher.
#include "gateways/nfs/server.h"

#include <mount3_prot.h>
#include <nfs3_prot.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include "actors/keys/crypto.h"
#include "actors/shard/shard_actor.h"
#include "gateways/common/file_data.h"
#include "gateways/common/listener.h"
#include "gateways/common/write_back.h"
#include "gateways/nfs/handles.h"
#include "gateways/nfs/rpc.h"
#include "runtime/catalog.h"

namespace cairn::nfs {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint32_t mount_program = 100005;
constexpr std::uint32_t nfs_program = 100003;
constexpr std::uint32_t protocol_version = 3;
constexpr auto reply_timeout = std::chrono::seconds(30);
constexpr std::int64_t bucket_cache_ttl_ns = 2'000'000'000;
constexpr std::int64_t export_cache_ttl_ns = 2'000'000'000;  // catalog exports, read again
constexpr std::uint64_t catalog_exports_max = 4096;
constexpr std::size_t mounts_max = 4096;    // DUMP's list, bounded
constexpr std::size_t dir_page_max = 4096;  // entries read per READDIR call
/// A READDIR cookie: inode + 2 in the low bits (inode ids stay below
/// 2^40), which of its names in the directory above (hard links).
constexpr unsigned cookie_ordinal_shift = 40;
constexpr std::uint64_t cookie_inode_mask = (std::uint64_t{1} << cookie_ordinal_shift) - 1;
constexpr std::size_t read_cache_chunks = 2;  // decoded chunks a session keeps
constexpr int read_ahead_actor_uses = 16;     // chunks read ahead through one actor
// Write-back bounds (docs/nfs.md "Write-back", NFS5): dirty bytes held per
// file and in all; a file idle this long is committed by the flusher.
constexpr std::uint64_t dirty_file_bytes_max = 16u << 20;
constexpr std::uint64_t dirty_bytes_max = 256u << 20;
constexpr auto dirty_idle = std::chrono::seconds(2);
constexpr auto flusher_tick = std::chrono::milliseconds(250);
static_assert(NFS3_DATA_MAX == nfs_transfer_bytes_max,
              "schema/nfs3_prot.x bounds READ and WRITE data");

/// One client address rule of an export: an address and a prefix length.
struct client_rule {
  asio::ip::address net;
  unsigned prefix = 0;

  bool matches(const asio::ip::address& a) const {
    asio::ip::address addr = a;
    if (addr.is_v6() && addr.to_v6().is_v4_mapped() && net.is_v4())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    if (addr.is_v4() != net.is_v4()) return false;
    const auto want = net.is_v4() ? net.to_v4().to_bytes() : std::array<unsigned char, 4>{};
    if (net.is_v4()) {
      const auto have = addr.to_v4().to_bytes();
      return same_prefix(have.data(), want.data(), prefix);
    }
    const auto n6 = net.to_v6().to_bytes();
    const auto a6 = addr.to_v6().to_bytes();
    return same_prefix(a6.data(), n6.data(), prefix);
  }
  static bool same_prefix(const unsigned char* a, const unsigned char* b, unsigned bits) {
    for (unsigned i = 0; i < bits / 8; ++i)
      if (a[i] != b[i]) return false;
    if (bits % 8 == 0) return true;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits % 8));
    return (a[bits / 8] & mask) == (b[bits / 8] & mask);
  }
};

client_rule parse_rule(const std::string& text, const std::string& where) {
  client_rule r;
  const auto slash = text.find('/');
  boost::system::error_code ec;
  r.net = asio::ip::make_address(text.substr(0, slash), ec);
  if (ec) throw std::runtime_error(where + ": '" + text + "' is not an address or network");
  const unsigned width = r.net.is_v4() ? 32 : 128;
  r.prefix = width;
  if (slash != std::string::npos) {
    try {
      r.prefix = static_cast<unsigned>(std::stoul(text.substr(slash + 1)));
    } catch (const std::exception&) {
      r.prefix = width + 1;
    }
    if (r.prefix > width) throw std::runtime_error(where + ": '" + text + "' has a bad prefix");
  }
  return r;
}

struct served_export {
  export_config cfg;
  bool from_catalog = false;  // made by `cairn admin export`, not cairn.toml
  std::vector<client_rule> rules;
  std::uint32_t tag = 0;  // in every handle minted for it (handles.h)
  bool allows(const asio::ip::address& a) const {
    if (rules.empty()) return true;
    for (const auto& r : rules)
      if (r.matches(a)) return true;
    return false;
  }
};

using export_ptr = std::shared_ptr<const served_export>;
using export_list = std::shared_ptr<const std::vector<export_ptr>>;

/// The attributes of an inode, copied out of the replica's state.
struct node_attrs {
  std::uint64_t id = 0;
  shard::inode_kind kind = shard::inode_kind::file;
  std::uint64_t parent = 0;
  std::uint32_t links = 1;  // a file's names (hard links)
  std::uint32_t mode = 0, uid = 0, gid = 0;
  std::uint64_t size = 0;
  std::int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
};

node_attrs attrs_of(const shard::inode& n) {
  node_attrs a;
  a.id = n.id.value;
  a.kind = n.kind;
  a.parent = n.parent.value;
  a.links = n.links;
  a.mode = n.mode;
  a.uid = n.uid;
  a.gid = n.gid;
  a.size = n.kind == shard::inode_kind::symlink ? n.target.size() : n.current ? n.current->size : 0;
  a.atime_ns = n.atime_ns;
  a.mtime_ns = n.mtime_ns;
  a.ctime_ns = n.ctime_ns;
  return a;
}

nfstime3 time_of(std::int64_t ns) {
  if (ns < 0) ns = 0;
  return {static_cast<nfs_uint32>(ns / 1'000'000'000), static_cast<nfs_uint32>(ns % 1'000'000'000)};
}

fattr3 fattr_of(const node_attrs& a, std::uint64_t bucket) {
  fattr3 f{};
  f.type = a.kind == shard::inode_kind::directory ? NF3DIR
           : a.kind == shard::inode_kind::symlink ? NF3LNK
                                                  : NF3REG;
  f.mode = a.mode & 07777;
  f.nlink = a.kind == shard::inode_kind::directory ? 2 : a.links;
  f.uid = a.uid;
  f.gid = a.gid;
  f.size = a.size;
  f.used = (a.size + 4095) / 4096 * 4096;
  f.fsid = bucket;
  f.fileid = a.id;
  f.atime = time_of(a.atime_ns);
  f.mtime = time_of(a.mtime_ns);
  f.ctime = time_of(a.ctime_ns);
  return f;
}

post_op_attr post_op(const std::optional<node_attrs>& a, std::uint64_t bucket) {
  post_op_attr p{};
  if (a) {
    p.attributes_follow = TRUE;
    p.post_op_attr_u.attributes = fattr_of(*a, bucket);
  }
  return p;
}

/// Borrowed XDR view of a handle string (valid while the string lives).
nfs_fh3 fh_of(const std::string& h) {
  nfs_fh3 fh{};
  fh.data.data_len = static_cast<u_int>(h.size());
  fh.data.data_val = const_cast<char*>(h.data());
  return fh;
}

std::string_view fh_view(const nfs_fh3& fh) {
  return {fh.data.data_val, fh.data.data_len};
}

}  // namespace

struct nfs_server::impl {
  caf::actor_system& sys;
  nfs_config config;
  gateway::node_backend backend;
  handle_codec handles;
  /// cairn.toml's exports; with the catalog's (`cairn admin export`),
  /// read again every export_cache_ttl_ns, they make `exports`.
  std::vector<export_ptr> configured;
  export_list exports;                    // under mutex
  std::int64_t exports_expire_ns = 0;     // under mutex
  std::set<std::string> export_warnings;  // under mutex: each logged once
  std::unique_ptr<gateway::tcp_listener> listener;
  std::atomic<std::size_t> sessions{0};
  std::mutex mutex;
  std::map<std::string, std::pair<runtime::bucket_entry, std::int64_t>> buckets;  // by name
  std::set<std::pair<std::string, std::string>> mounts;  // (client, path): DUMP
  /// WRITE and COMMIT's verifier: new at every start, so a client resends
  /// what it had not seen committed before a restart.
  std::array<char, NFS3_WRITEVERFSIZE> write_verifier{};

  /// One file's UNSTABLE WRITEs not yet committed (NFS5). Its mutex
  /// orders the file's writes, flushes and reads; a retired entry has left
  /// the map and is not written to again.
  struct pending_file {
    std::mutex mutex;
    gateway::dirty_file dirty;
    export_ptr exp;
    runtime::bucket_entry bucket;
    std::chrono::steady_clock::time_point last_write;
    std::int64_t last_write_ns = 0;
    bool retired = false;
  };
  std::mutex pending_mutex;  // taken after a pending_file's mutex, never before
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::shared_ptr<pending_file>> pending;
  std::atomic<std::uint64_t> pending_bytes{0};
  std::atomic<bool> flusher_running{false};
  std::atomic<bool> flusher_stop{false};

  impl(caf::actor_system& s, nfs_config c, gateway::node_backend b,
       std::span<const std::uint8_t> cluster_key)
      : sys(s),
        config(std::move(c)),
        backend(std::move(b)),
        handles(handle_codec::from_cluster_key(cluster_key)) {
    RAND_bytes(reinterpret_cast<unsigned char*>(write_verifier.data()),
               static_cast<int>(write_verifier.size()));
    for (std::size_t i = 0; i < config.exports.size(); ++i) {
      const auto& e = config.exports[i];
      const std::string where = "nfs_exports[" + std::to_string(i) + "]";
      if (e.path.empty() || e.path[0] != '/' || e.path.size() > MNTPATHLEN)
        throw std::runtime_error(where + ".path: '" + e.path +
                                 "' must start with '/' (at most 1024 bytes)");
      if (e.bucket.empty()) throw std::runtime_error(where + ".bucket: missing");
      served_export s{e, false, {}, export_tag(e.path)};
      for (const auto& other : configured)
        if (other->tag == s.tag)
          throw std::runtime_error(where + ".path: '" + e.path + "' has the handle tag of '" +
                                   other->cfg.path + "': rename one of them");
      for (const auto& c : e.clients) s.rules.push_back(parse_rule(c, where + ".clients"));
      configured.push_back(std::make_shared<const served_export>(std::move(s)));
    }
    exports = std::make_shared<const std::vector<export_ptr>>(configured);
  }
};

namespace {

/// One connection: records in, one reply per call out (NFS1), in order.
class session {
 public:
  session(caf::blocking_actor* self, nfs_server::impl& server, gateway::tcp_listener::socket_ptr s)
      : self_(self),
        server_(server),
        socket_(std::move(s)),
        reader_(server.config.record_bytes_max) {
    if (!socket_) return;  // the flusher: no connection, no calls
    boost::system::error_code ec;
    peer_ = socket_->remote_endpoint(ec).address();
    peer_text_ = peer_.to_string();
  }

  void run() {
    std::vector<char> buffer(64 * 1024);
    std::string record;
    while (!server_.listener->stopping()) {
      boost::system::error_code ec;
      const auto n = socket_->read_some(asio::buffer(buffer), ec);
      if (ec) return;
      reader_.append(std::string_view(buffer.data(), n));
      for (;;) {
        const auto st = reader_.next(record);
        if (st == record_reader::state::too_big) {
          spdlog::warn("nfs: {} sent a record over {} bytes; closing the connection", peer_text_,
                       server_.config.record_bytes_max);
          return;
        }
        if (st == record_reader::state::need_more) break;
        // S3-8's lesson: this call's actor requests go through an actor
        // that lives for this call only, made when the call first needs
        // one (self()): NULL, and calls refused early, spawn none.
        self_ = nullptr;
        const std::string reply = handle(record);
        per_call_.reset();
        self_ = nullptr;
        if (reply.empty()) continue;
        asio::write(*socket_, asio::buffer(reply), ec);
        if (ec) return;
      }
    }
  }

 private:
  // --- dispatch -------------------------------------------------------------------------

  std::string handle(std::string_view record) {
    rpc_call call;
    std::string reply;
    switch (parse_call(record, call, reply)) {
      case call_outcome::drop:
        return {};
      case call_outcome::answer:
        return reply;
      case call_outcome::call:
        break;
    }
    if (call.program != mount_program && call.program != nfs_program)
      return reply_error(call.xid, accept_status::prog_unavail);
    if (call.version != protocol_version)
      return reply_prog_mismatch(call.xid, protocol_version, protocol_version);
    return call.program == mount_program ? mount(call) : nfs(call);
  }

  /// Decodes the call's arguments; nullopt means GARBAGE_ARGS (nothing done).
  template <class T>
  bool args(const rpc_call& call, decoded<T>& out) {
    return out.decode(call.args);
  }

  // --- who is calling ---------------------------------------------------------------

  struct caller {
    std::uint32_t uid = 0, gid = 0;
    std::vector<std::uint32_t> gids;
  };

  caller caller_of(const rpc_call& call, const served_export& e) const {
    caller c;
    if (call.flavor != auth_flavor_sys) return {e.cfg.anon_uid, e.cfg.anon_gid, {}};
    c.uid = call.sys.uid;
    c.gid = call.sys.gid;
    c.gids = call.sys.gids;
    if (c.uid == 0 && e.cfg.root_squash) return {e.cfg.anon_uid, e.cfg.anon_gid, {}};
    return c;
  }

  // --- the catalog ------------------------------------------------------------------

  std::optional<runtime::bucket_entry> bucket_named(const std::string& name) {
    const auto now = server_.backend.clock();
    {
      std::lock_guard lock(server_.mutex);
      const auto it = server_.buckets.find(name);
      if (it != server_.buckets.end() && it->second.second > now) return it->second.first;
    }
    auto system = server_.backend.system_shard();
    if (!system) return std::nullopt;
    std::optional<runtime::bucket_entry> out;
    const auto key = runtime::bucket_key(name);
    self()
        ->request(system, reply_timeout, shard::get_atom::value, key)
        .receive(
            [&](std::uint8_t code, const std::string& value) {
              if (code != 0) return;
              auto cat = runtime::catalog::parse({{key, value}});
              if (auto it = cat.buckets.find(name);
                  it != cat.buckets.end() && it->second.state == runtime::entry_state::ready)
                out = it->second;
            },
            [](caf::error&) {});
    if (out) {
      std::lock_guard lock(server_.mutex);
      server_.buckets[name] = {*out, now + bucket_cache_ttl_ns};
    }
    return out;
  }

  /// The exports served now: cairn.toml's, then the catalog's (read again
  /// when older than export_cache_ttl_ns; kept as they were if the
  /// catalog cannot be read). A catalog export whose path or handle tag
  /// another export has is skipped, with one warning.
  export_list exports() {
    const auto now = server_.backend.clock();
    {
      std::lock_guard lock(server_.mutex);
      if (now < server_.exports_expire_ns) return server_.exports;
      server_.exports_expire_ns = now + export_cache_ttl_ns;  // one session reads; others go on
    }
    std::optional<runtime::catalog> cat;
    if (auto system = server_.backend.system_shard())
      self()
          ->request(system, reply_timeout, shard::scan_atom::value,
                    std::string(runtime::nfs_export_prefix), catalog_exports_max)
          .receive(
              [&](std::vector<std::string>& flat) {
                std::vector<std::pair<std::string, std::string>> kv;
                for (std::size_t i = 0; i + 1 < flat.size(); i += 2)
                  kv.emplace_back(std::move(flat[i]), std::move(flat[i + 1]));
                cat = runtime::catalog::parse(kv);
              },
              [](caf::error&) {});
    std::lock_guard lock(server_.mutex);
    if (!cat) return server_.exports;
    auto next = std::make_shared<std::vector<export_ptr>>(server_.configured);
    auto warn = [&](const std::string& what) {
      if (server_.export_warnings.insert(what).second) spdlog::warn("nfs: {}", what);
    };
    for (const auto& [path, entry] : cat->nfs_exports) {
      if (entry.state != runtime::entry_state::ready) continue;
      // The served export of the last read if unchanged: handles and
      // write-back entries keep pointing at it.
      export_ptr same;
      for (const auto& e : *server_.exports)
        if (e->from_catalog && e->cfg.path == path) same = e;
      export_config c{entry.path,     entry.bucket,   entry.read_only, entry.root_squash,
                      entry.anon_uid, entry.anon_gid, entry.clients,   entry.allow_auth_none};
      if (!same || same->cfg.bucket != c.bucket || same->cfg.read_only != c.read_only ||
          same->cfg.root_squash != c.root_squash || same->cfg.anon_uid != c.anon_uid ||
          same->cfg.anon_gid != c.anon_gid || same->cfg.clients != c.clients ||
          same->cfg.allow_auth_none != c.allow_auth_none) {
        served_export s{c, true, {}, export_tag(path)};
        try {
          for (const auto& rule : c.clients) s.rules.push_back(parse_rule(rule, "clients"));
        } catch (const std::exception& e) {
          warn("catalog export " + path + " skipped: " + e.what());
          continue;
        }
        same = std::make_shared<const served_export>(std::move(s));
      }
      const auto clash = std::find_if(next->begin(), next->end(), [&](const export_ptr& e) {
        return e->cfg.path == path || e->tag == same->tag;
      });
      if (clash != next->end()) {
        warn("catalog export " + path + " skipped: export " + (*clash)->cfg.path +
             " has its path or handle tag");
        continue;
      }
      next->push_back(std::move(same));
    }
    server_.exports = std::move(next);
    return server_.exports;
  }

  // --- handles ------------------------------------------------------------------------

  struct target {
    export_ptr exp;
    runtime::bucket_entry bucket;
    std::uint64_t inode = 0;
    caller who;
  };

  /// NFS2 and NFS3: the export and inode a handle names, for this client.
  nfsstat3 resolve(const rpc_call& call, const nfs_fh3& fh, target& out) {
    const auto t = server_.handles.verify(fh_view(fh));
    if (!t) return NFS3ERR_BADHANDLE;
    for (const auto& e : *exports()) {
      if (e->tag != t->export_tag) continue;
      const auto b = bucket_named(e->cfg.bucket);
      if (!b || b->bucket != t->bucket) continue;
      if (!e->allows(peer_)) return NFS3ERR_STALE;
      if (call.flavor != auth_flavor_sys && !e->cfg.allow_auth_none) return NFS3ERR_ACCES;
      out.exp = e;
      out.bucket = *b;
      out.inode = t->inode;
      out.who = caller_of(call, *e);
      return NFS3_OK;
    }
    return NFS3ERR_STALE;
  }

  std::string handle_of(const target& t, std::uint64_t inode) const {
    return server_.handles.mint({t.bucket.bucket, inode, t.exp->tag});
  }

  // --- reading the namespace -----------------------------------------------------------

  /// Runs `query` on the bucket's shard after a linearizable read; false
  /// if the shard did not answer.
  bool read(const target& t, std::function<void(const shard::namespace_state&)> query) {
    return gateway::read_namespace(self(), server_.backend.shard_actor(t.bucket.shard),
                                   std::move(query), reply_timeout);
  }

  /// The attributes of the target's inode; status STALE if it is gone,
  /// JUKEBOX if the shard did not answer (the client retries).
  nfsstat3 attrs(const target& t, std::uint64_t inode, node_attrs& out) {
    bool found = false;
    if (!read(t, [&](const shard::namespace_state& ns) {
          if (const auto* n =
                  ns.inode_of(shard::bucket_id{t.bucket.bucket}, shard::inode_id{inode}))
            out = attrs_of(*n), found = true;
        }))
      return NFS3ERR_JUKEBOX;
    if (found) overlay_attrs(t, out);
    return found ? NFS3_OK : NFS3ERR_STALE;
  }

  /// What a file's attributes are with its dirty bytes (NFS5): they are
  /// served as written although not yet committed.
  void overlay_attrs(const target& t, node_attrs& a) {
    if (a.kind != shard::inode_kind::file) return;
    const auto p = pending_of(t, a.id, false);
    if (!p) return;
    std::lock_guard lock(p->mutex);
    if (p->retired) return;
    a.size = std::max(a.size, p->dirty.end());
    a.mtime_ns = std::max(a.mtime_ns, p->last_write_ns);
    a.ctime_ns = std::max(a.ctime_ns, p->last_write_ns);
  }

  // --- access --------------------------------------------------------------------------

  /// The ACCESS3 bits `who` has on `a` (mode bits, as a local file system
  /// decides them; root is squashed by caller_of unless the export says not).
  static std::uint32_t access_bits(const node_attrs& a, const caller& who, bool read_only) {
    std::uint32_t perm = 0;  // rwx of the class the caller falls in
    if (who.uid == 0) {
      perm = 07;
    } else if (who.uid == a.uid) {
      perm = (a.mode >> 6) & 7;
    } else if (who.gid == a.gid ||
               std::find(who.gids.begin(), who.gids.end(), a.gid) != who.gids.end()) {
      perm = (a.mode >> 3) & 7;
    } else {
      perm = a.mode & 7;
    }
    std::uint32_t bits = 0;
    const bool dir = a.kind == shard::inode_kind::directory;
    if (perm & 4) bits |= ACCESS3_READ;
    if (perm & 2 && !read_only)
      bits |= ACCESS3_MODIFY | ACCESS3_EXTEND | (dir ? ACCESS3_DELETE : 0);
    if (perm & 1) bits |= dir ? ACCESS3_LOOKUP : ACCESS3_EXECUTE;
    return bits;
  }

  // --- MOUNT v3 -----------------------------------------------------------------------

  /// The export `path` is in, and the directories below the export's root
  /// it names ("/cairn/a/b": export /cairn, {"a", "b"}), as knfsd and
  /// ganesha let clients mount a subdirectory of an export.
  export_ptr export_at(std::string_view path, std::vector<std::string>& below) {
    export_ptr best;
    for (const auto& e : *exports()) {
      const std::string_view p = e->cfg.path;
      if (!path.starts_with(p) || (path.size() > p.size() && path[p.size()] != '/' && p != "/"))
        continue;
      if (!best || p.size() > best->cfg.path.size()) best = e;
    }
    below.clear();
    if (!best) return nullptr;
    std::string_view rest = path.substr(best->cfg.path.size());
    while (!rest.empty()) {
      const auto slash = rest.find('/');
      const auto part = rest.substr(0, slash);
      if (!part.empty()) below.emplace_back(part);
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    return best;
  }

  /// The handle of the directory `below` names under the bucket's root.
  mountstat3 mount_point(const served_export& e, const runtime::bucket_entry& b,
                         const std::vector<std::string>& below, std::string& handle) {
    target t;
    t.bucket = b;
    std::optional<std::uint64_t> id;
    bool is_dir = false;
    if (!read(t, [&](const shard::namespace_state& ns) {
          const shard::bucket_id bucket{b.bucket};
          const shard::inode* n = ns.inode_of(bucket, shard::root_inode);
          for (const auto& name : below) {
            if (!n || n->kind != shard::inode_kind::directory) return;
            n = name == "." ? n : name == ".." ? nullptr : ns.lookup(bucket, n->id, name);
          }
          if (n) id = n->id.value, is_dir = n->kind == shard::inode_kind::directory;
        }))
      return MNT3ERR_SERVERFAULT;
    if (!id) return MNT3ERR_NOENT;
    if (!is_dir) return MNT3ERR_NOTDIR;
    handle = server_.handles.mint({b.bucket, *id, e.tag});
    return MNT3_OK;
  }

  std::string mount(const rpc_call& call) {
    switch (call.procedure) {
      case 0:
        return reply_void(call.xid);
      case 1: {  // MNT
        decoded<dirpath> path(xdr_dirpath);
        if (!args(call, path)) return reply_error(call.xid, accept_status::garbage_args);
        mountres3 res{};
        std::vector<std::string> below;
        const auto e = export_at(path.value(), below);
        int flavors[2] = {AUTH_SYS, AUTH_NONE};
        std::string root;
        std::optional<runtime::bucket_entry> b;
        if (!e) {
          res.fhs_status = MNT3ERR_NOENT;
        } else if (!e->allows(peer_) ||
                   (call.flavor != auth_flavor_sys && !e->cfg.allow_auth_none)) {
          res.fhs_status = MNT3ERR_ACCES;
        } else if (b = bucket_named(e->cfg.bucket); !b) {
          res.fhs_status = MNT3ERR_NOENT;  // the bucket does not exist (yet)
        } else {
          res.fhs_status = mount_point(*e, *b, below, root);
        }
        if (res.fhs_status == MNT3_OK) {
          res.mountres3_u.mountinfo.fhandle.fhandle3_len = static_cast<u_int>(root.size());
          res.mountres3_u.mountinfo.fhandle.fhandle3_val = root.data();
          res.mountres3_u.mountinfo.auth_flavors.auth_flavors_len = e->cfg.allow_auth_none ? 2 : 1;
          res.mountres3_u.mountinfo.auth_flavors.auth_flavors_val = flavors;
          std::lock_guard lock(server_.mutex);
          if (server_.mounts.size() < mounts_max)
            server_.mounts.insert({peer_text_, std::string(path.value())});
        }
        return reply_success(call.xid, xdr_mountres3, res);
      }
      case 2: {  // DUMP
        std::vector<std::pair<std::string, std::string>> copy;
        {
          std::lock_guard lock(server_.mutex);
          copy.assign(server_.mounts.begin(), server_.mounts.end());
        }
        std::vector<mountbody> bodies(copy.size());
        for (std::size_t i = 0; i < copy.size(); ++i) {
          bodies[i].ml_hostname = copy[i].first.data();
          bodies[i].ml_directory = copy[i].second.data();
          bodies[i].ml_next = i + 1 < copy.size() ? &bodies[i + 1] : nullptr;
        }
        mountlist list = bodies.empty() ? nullptr : &bodies[0];
        return reply_success(call.xid, xdr_mountlist, list);
      }
      case 3: {  // UMNT
        decoded<dirpath> path(xdr_dirpath);
        if (!args(call, path)) return reply_error(call.xid, accept_status::garbage_args);
        std::lock_guard lock(server_.mutex);
        server_.mounts.erase({peer_text_, std::string(path.value())});
        return reply_void(call.xid);
      }
      case 4: {  // UMNTALL
        std::lock_guard lock(server_.mutex);
        std::erase_if(server_.mounts, [&](const auto& m) { return m.first == peer_text_; });
        return reply_void(call.xid);
      }
      case 5: {  // EXPORT
        const auto list_now = exports();
        std::vector<exportnode> nodes(list_now->size());
        std::vector<std::vector<groupnode>> groups(list_now->size());
        for (std::size_t i = 0; i < nodes.size(); ++i) {
          const auto& e = (*list_now)[i]->cfg;
          groups[i].resize(e.clients.size());
          for (std::size_t g = 0; g < e.clients.size(); ++g) {
            groups[i][g].gr_name = const_cast<char*>(e.clients[g].c_str());
            groups[i][g].gr_next = g + 1 < e.clients.size() ? &groups[i][g + 1] : nullptr;
          }
          nodes[i].ex_dir = const_cast<char*>(e.path.c_str());
          nodes[i].ex_groups = groups[i].empty() ? nullptr : &groups[i][0];
          nodes[i].ex_next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
        }
        ::exports list = nodes.empty() ? nullptr : &nodes[0];
        return reply_success(call.xid, xdr_exports, list);
      }
      default:
        return reply_error(call.xid, accept_status::proc_unavail);
    }
  }

  // --- NFS v3 -------------------------------------------------------------------------

  std::string nfs(const rpc_call& call) {
    if (call.procedure == 0) return reply_void(call.xid);
    if (call.procedure > 21) return reply_error(call.xid, accept_status::proc_unavail);
    const auto list_now = call.flavor != auth_flavor_sys ? exports() : nullptr;
    if (list_now && std::none_of(list_now->begin(), list_now->end(),
                                 [](const export_ptr& e) { return e->cfg.allow_auth_none; }))
      return reply_auth_error(call.xid, auth_status::tooweak);
    switch (call.procedure) {
      case 1:
        return getattr(call);
      case 3:
        return lookup(call);
      case 4:
        return access(call);
      case 5:
        return readlink(call);
      case 6:
        return read_file(call);
      case 16:
        return readdir(call, false);
      case 17:
        return readdir(call, true);
      case 18:
        return fsstat(call);
      case 19:
        return fsinfo(call);
      case 20:
        return pathconf(call);
      case 2:
        return setattr(call);
      case 7:
        return write_file(call);
      case 8:
        return create(call);
      case 9:
        return mkdir(call);
      case 10:
        return symlink(call);
      case 11:
        return refuse<MKNOD3args, MKNOD3res>(call, xdr_MKNOD3args, xdr_MKNOD3res,
                                             [](auto& a) -> nfs_fh3& { return a.where.dir; });
      case 12:
        return remove(call, false);
      case 13:
        return remove(call, true);
      case 14:
        return rename(call);
      case 15:
        return link(call);
      case 21:
        return commit(call);
      default:
        return reply_error(call.xid, accept_status::proc_unavail);
    }
  }

  /// A procedure that changes the namespace, before the write path exists:
  /// its arguments are checked (GARBAGE_ARGS, BADHANDLE, STALE) and it is
  /// refused with ROFS on a read-only export (and for MKNOD of devices:
  /// ADR 0008 §7), else NOTSUPP. Nothing changes.
  template <class A, class R, class F>
  std::string refuse(const rpc_call& call, xdr_routine<A> decode, xdr_routine<R> encode,
                     F handle_of_args) {
    decoded<A> a(decode);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    target t;
    R res{};
    res.status = resolve(call, handle_of_args(a.value()), t);
    if (res.status == NFS3_OK)
      res.status = t.exp->cfg.read_only && call.procedure != 21 ? NFS3ERR_ROFS : NFS3ERR_NOTSUPP;
    return reply_success(call.xid, encode, res);
  }

  // --- changes to the namespace ----------------------------------------------------------

  std::optional<shard::ns_result> propose(const target& t, shard::ns_command c) {
    c.now_ns = server_.backend.clock();
    return gateway::propose_namespace(self(), server_.backend.shard_actor(t.bucket.shard), c,
                                      reply_timeout);
  }

  template <class Command>
  std::optional<shard::ns_result> propose(const target& t, Command body) {
    shard::ns_command c;
    body.bucket = shard::bucket_id{t.bucket.bucket};
    c.body = std::move(body);
    return propose(t, std::move(c));
  }

  static nfsstat3 status_of(const std::optional<shard::ns_result>& r) {
    if (!r) return NFS3ERR_JUKEBOX;  // the shard did not answer: the client retries
    using S = shard::ns_status;
    switch (r->status) {
      case S::ok:
        return NFS3_OK;
      case S::no_such_key:
        return NFS3ERR_NOENT;
      case S::invalid_key:
        return r->problem == shard::key_problem::component_too_long ? NFS3ERR_NAMETOOLONG
               : r->problem == shard::key_problem::dot_component    ? NFS3ERR_EXIST
                                                                    : NFS3ERR_INVAL;
      case S::entry_exists:
        return NFS3ERR_EXIST;
      case S::not_a_directory:
        return NFS3ERR_NOTDIR;
      case S::is_a_directory:
        return NFS3ERR_ISDIR;
      case S::directory_not_empty:
        return NFS3ERR_NOTEMPTY;
      case S::no_such_bucket:
      case S::no_such_inode:
        return NFS3ERR_STALE;
      case S::not_synchronized:
        return NFS3ERR_NOT_SYNC;
      case S::invalid_argument:
        return NFS3ERR_INVAL;
      case S::too_many_links:
        return NFS3ERR_MLINK;
      default:
        return NFS3ERR_SERVERFAULT;
    }
  }

  static pre_op_attr pre_op(const std::optional<node_attrs>& a) {
    pre_op_attr p{};
    if (a) {
      p.attributes_follow = TRUE;
      p.pre_op_attr_u.attributes.size = a->size;
      p.pre_op_attr_u.attributes.mtime = time_of(a->mtime_ns);
      p.pre_op_attr_u.attributes.ctime = time_of(a->ctime_ns);
    }
    return p;
  }

  wcc_data wcc(const std::optional<node_attrs>& before, const std::optional<node_attrs>& after,
               const target& t) const {
    return {pre_op(before), post_op(after, t.bucket.bucket)};
  }

  /// Attributes now, or nothing (for the "after" half of wcc data).
  std::optional<node_attrs> attrs_now(const target& t, std::uint64_t inode) {
    node_attrs a;
    if (attrs(t, inode, a) != NFS3_OK) return std::nullopt;
    return a;
  }

  /// Two inodes' attributes now, in one read of the namespace (a change's
  /// directory and object, or a rename's two directories).
  void attrs_now(const target& t, std::uint64_t a, std::uint64_t b, std::optional<node_attrs>& of_a,
                 std::optional<node_attrs>& of_b) {
    of_a.reset();
    of_b.reset();
    read(t, [&](const shard::namespace_state& ns) {
      const shard::bucket_id bucket{t.bucket.bucket};
      if (const auto* n = ns.inode_of(bucket, shard::inode_id{a})) of_a = attrs_of(*n);
      if (const auto* n = ns.inode_of(bucket, shard::inode_id{b})) of_b = attrs_of(*n);
    });
    if (of_a) overlay_attrs(t, *of_a);
    if (of_b) overlay_attrs(t, *of_b);
  }

  /// The checks before changing directory `dir`: it exists and is one,
  /// the export is writable, and the caller may write it (MODIFY).
  nfsstat3 writable_dir(const target& t, std::uint64_t dir, std::optional<node_attrs>& before) {
    node_attrs a;
    const auto s = attrs(t, dir, a);
    if (s != NFS3_OK) return s;
    before = a;
    if (a.kind != shard::inode_kind::directory) return NFS3ERR_NOTDIR;
    if (t.exp->cfg.read_only) return NFS3ERR_ROFS;
    if (!(access_bits(a, t.who, false) & ACCESS3_MODIFY)) return NFS3ERR_ACCES;
    return NFS3_OK;
  }

  static nfsstat3 name_status(const char* name) {
    const auto p = shard::check_name(name ? name : "");
    return p == shard::key_problem::none                 ? NFS3_OK
           : p == shard::key_problem::component_too_long ? NFS3ERR_NAMETOOLONG
           : p == shard::key_problem::dot_component      ? NFS3ERR_EXIST
                                                         : NFS3ERR_INVAL;
  }

  /// The mode a new node gets: the client's, else the default.
  static std::uint32_t mode_of(const sattr3& s, std::uint32_t fallback) {
    return s.mode.set_it ? s.mode.set_mode3_u.mode & 07777 : fallback;
  }

  /// Creates one node; fills what CREATE, MKDIR and SYMLINK answer.
  nfsstat3 make(const rpc_call& call, const diropargs3& where, shard::make_node_command m,
                std::string& handle, std::optional<node_attrs>& obj,
                std::optional<node_attrs>& before, std::optional<node_attrs>& after, target& t) {
    auto s = resolve(call, where.dir, t);
    if (s == NFS3_OK) s = writable_dir(t, t.inode, before);
    if (s == NFS3_OK) s = name_status(where.name);
    if (s != NFS3_OK) return s;
    m.dir = shard::inode_id{t.inode};
    m.name = where.name;
    m.uid = t.who.uid;
    m.gid = t.who.gid;
    const auto r = propose(t, std::move(m));
    s = status_of(r);
    if (s != NFS3_OK) {
      after = attrs_now(t, t.inode);
      return s;
    }
    attrs_now(t, t.inode, r->inode.value, after, obj);
    handle = handle_of(t, r->inode.value);
    return NFS3_OK;
  }

  /// Fills what CREATE, MKDIR and SYMLINK answer (their results differ in
  /// name only).
  template <class Res, class Ok, class Fail>
  void created(Res& res, Ok& ok, Fail& fail, nfsstat3 s, const std::string& handle,
               const std::optional<node_attrs>& obj, const std::optional<node_attrs>& before,
               const std::optional<node_attrs>& after, const target& t) const {
    res.status = s;
    if (s == NFS3_OK) {
      ok.obj.handle_follows = TRUE;
      ok.obj.post_op_fh3_u.handle = fh_of(handle);
      ok.obj_attributes = post_op(obj, t.bucket.bucket);
      ok.dir_wcc = wcc(before, after, t);
    } else {
      fail.dir_wcc = wcc(before, after, t);
    }
  }

  std::string create(const rpc_call& call) {
    decoded<CREATE3args> a(xdr_CREATE3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    const auto& how = a.value().how;
    shard::make_node_command m;
    m.kind = shard::inode_kind::file;
    m.how = how.mode == UNCHECKED ? shard::create_how::unchecked
            : how.mode == GUARDED ? shard::create_how::guarded
                                  : shard::create_how::exclusive;
    m.mode = how.mode == EXCLUSIVE ? 0644 : mode_of(how.createhow3_u.obj_attributes, 0644);
    if (how.mode == EXCLUSIVE)
      for (int i = 0; i < NFS3_CREATEVERFSIZE; ++i)
        m.verifier = (m.verifier << 8) | static_cast<unsigned char>(how.createhow3_u.verf[i]);
    target t;
    std::string h;
    std::optional<node_attrs> obj, before, after;
    const auto s = make(call, a.value().where, std::move(m), h, obj, before, after, t);
    CREATE3res res{};
    created(res, res.CREATE3res_u.resok, res.CREATE3res_u.resfail, s, h, obj, before, after, t);
    return reply_success(call.xid, xdr_CREATE3res, res);
  }

  std::string mkdir(const rpc_call& call) {
    decoded<MKDIR3args> a(xdr_MKDIR3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    shard::make_node_command m;
    m.kind = shard::inode_kind::directory;
    m.mode = mode_of(a.value().attributes, 0755);
    target t;
    std::string h;
    std::optional<node_attrs> obj, before, after;
    const auto s = make(call, a.value().where, std::move(m), h, obj, before, after, t);
    MKDIR3res res{};
    created(res, res.MKDIR3res_u.resok, res.MKDIR3res_u.resfail, s, h, obj, before, after, t);
    return reply_success(call.xid, xdr_MKDIR3res, res);
  }

  std::string symlink(const rpc_call& call) {
    decoded<SYMLINK3args> a(xdr_SYMLINK3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    shard::make_node_command m;
    m.kind = shard::inode_kind::symlink;
    m.mode = 0777;
    m.target = a.value().symlink.symlink_data ? a.value().symlink.symlink_data : "";
    target t;
    std::string h;
    std::optional<node_attrs> obj, before, after;
    const auto s = make(call, a.value().where, std::move(m), h, obj, before, after, t);
    SYMLINK3res res{};
    created(res, res.SYMLINK3res_u.resok, res.SYMLINK3res_u.resfail, s, h, obj, before, after, t);
    return reply_success(call.xid, xdr_SYMLINK3res, res);
  }

  /// REMOVE (directory = false) and RMDIR: the same answer shape.
  std::string remove(const rpc_call& call, bool directory) {
    decoded<REMOVE3args> a(xdr_REMOVE3args);  // RMDIR3args is the same on the wire
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    const auto& what = a.value().object;
    target t;
    std::optional<node_attrs> before, after;
    auto s = resolve(call, what.dir, t);
    if (s == NFS3_OK) s = writable_dir(t, t.inode, before);
    if (s == NFS3_OK) {
      const std::string_view name = what.name ? what.name : "";
      if (name == "." || name == "..")
        s = directory ? NFS3ERR_INVAL : NFS3ERR_ISDIR;
      else
        s = name_status(what.name);
    }
    if (s == NFS3_OK) {
      s = status_of(propose(
          t, shard::remove_node_command{{}, shard::inode_id{t.inode}, what.name, directory, 0}));
      after = attrs_now(t, t.inode);
    }
    REMOVE3res res{};
    res.status = s;
    // REMOVE3resok and REMOVE3resfail are both one wcc_data, as RMDIR's.
    if (s == NFS3_OK)
      res.REMOVE3res_u.resok.dir_wcc = wcc(before, after, t);
    else
      res.REMOVE3res_u.resfail.dir_wcc = wcc(before, after, t);
    return reply_success(call.xid, xdr_REMOVE3res, res);
  }

  std::string rename(const rpc_call& call) {
    decoded<RENAME3args> a(xdr_RENAME3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    const auto& from = a.value().from;
    const auto& to = a.value().to;
    target t, t_to;
    std::optional<node_attrs> from_before, from_after, to_before, to_after;
    auto s = resolve(call, from.dir, t);
    if (s == NFS3_OK) s = resolve(call, to.dir, t_to);
    if (s == NFS3_OK && t_to.bucket.bucket != t.bucket.bucket) s = NFS3ERR_XDEV;
    if (s == NFS3_OK) s = writable_dir(t, t.inode, from_before);
    if (s == NFS3_OK) s = writable_dir(t, t_to.inode, to_before);
    if (s == NFS3_OK) {
      const std::string_view a_name = from.name ? from.name : "", b_name = to.name ? to.name : "";
      if (a_name == "." || a_name == ".." || b_name == "." || b_name == "..")
        s = NFS3ERR_INVAL;
      else
        s = name_status(from.name);
      if (s == NFS3_OK) s = name_status(to.name);
    }
    if (s == NFS3_OK) {
      s = status_of(propose(
          t,
          shard::rename_node_command{
              {}, shard::inode_id{t.inode}, from.name, shard::inode_id{t_to.inode}, to.name, 0}));
      attrs_now(t, t.inode, t_to.inode, from_after, to_after);
    }
    RENAME3res res{};
    res.status = s;
    if (s == NFS3_OK) {
      res.RENAME3res_u.resok.fromdir_wcc = wcc(from_before, from_after, t);
      res.RENAME3res_u.resok.todir_wcc = wcc(to_before, to_after, t);
    } else {
      res.RENAME3res_u.resfail.fromdir_wcc = wcc(from_before, from_after, t);
      res.RENAME3res_u.resfail.todir_wcc = wcc(to_before, to_after, t);
    }
    return reply_success(call.xid, xdr_RENAME3res, res);
  }

  /// LINK: a new name for a file or symlink (NS1). A directory answers
  /// INVAL (RFC 1813 lists no ISDIR for LINK), a handle of another
  /// bucket XDEV, past links_max MLINK.
  std::string link(const rpc_call& call) {
    decoded<LINK3args> a(xdr_LINK3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    const auto& where = a.value().link;
    target t, t_dir;
    std::optional<node_attrs> dir_before, file_after, dir_after;
    auto s = resolve(call, a.value().file, t);
    if (s == NFS3_OK) s = resolve(call, where.dir, t_dir);
    if (s == NFS3_OK && t_dir.bucket.bucket != t.bucket.bucket) s = NFS3ERR_XDEV;
    const bool resolved = s == NFS3_OK;
    if (s == NFS3_OK) s = writable_dir(t, t_dir.inode, dir_before);
    if (s == NFS3_OK) s = name_status(where.name);
    if (s == NFS3_OK) {
      const auto r = propose(
          t, shard::link_node_command{
                 {}, shard::inode_id{t.inode}, shard::inode_id{t_dir.inode}, where.name, 0});
      s = r && r->status == shard::ns_status::is_a_directory ? NFS3ERR_INVAL : status_of(r);
    }
    if (resolved) attrs_now(t, t.inode, t_dir.inode, file_after, dir_after);
    LINK3res res{};
    res.status = s;
    if (s == NFS3_OK) {
      res.LINK3res_u.resok.file_attributes = post_op(file_after, t.bucket.bucket);
      res.LINK3res_u.resok.linkdir_wcc = wcc(dir_before, dir_after, t);
    } else {
      res.LINK3res_u.resfail.file_attributes = post_op(file_after, t.bucket.bucket);
      res.LINK3res_u.resfail.linkdir_wcc = wcc(dir_before, dir_after, t);
    }
    return reply_success(call.xid, xdr_LINK3res, res);
  }

  std::string setattr(const rpc_call& call) {
    decoded<SETATTR3args> a(xdr_SETATTR3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    const auto& attrs_in = a.value().new_attributes;
    target t;
    std::optional<node_attrs> before, after;
    node_attrs now_attrs;
    auto s = resolve(call, a.value().object, t);
    if (s == NFS3_OK) s = attrs(t, t.inode, now_attrs);
    if (s == NFS3_OK) {
      before = now_attrs;
      const bool owner = t.who.uid == 0 || t.who.uid == now_attrs.uid;
      if (t.exp->cfg.read_only)
        s = NFS3ERR_ROFS;
      else if (attrs_in.uid.set_it && attrs_in.uid.set_uid3_u.uid != now_attrs.uid &&
               t.who.uid != 0)
        s = NFS3ERR_PERM;  // chown is root's (chown_restricted)
      else if ((attrs_in.mode.set_it || attrs_in.gid.set_it) && !owner)
        s = NFS3ERR_PERM;
      else if ((attrs_in.atime.set_it || attrs_in.mtime.set_it) && !owner &&
               !(access_bits(now_attrs, t.who, false) & ACCESS3_MODIFY))
        s = NFS3ERR_ACCES;
      else if (attrs_in.size.set_it && now_attrs.kind == shard::inode_kind::directory)
        s = NFS3ERR_ISDIR;
      else if (attrs_in.size.set_it && now_attrs.kind != shard::inode_kind::file)
        s = NFS3ERR_INVAL;
      else if (attrs_in.size.set_it && !(access_bits(now_attrs, t.who, false) & ACCESS3_MODIFY))
        s = NFS3ERR_ACCES;
      else if (a.value().guard.check) {
        const auto& g = a.value().guard.sattrguard3_u.obj_ctime;
        if (time_of(now_attrs.ctime_ns).seconds != g.seconds ||
            time_of(now_attrs.ctime_ns).nseconds != g.nseconds)
          s = NFS3ERR_NOT_SYNC;
      }
    }
    // The size first (a write of its own), then the other attributes.
    if (s == NFS3_OK && attrs_in.size.set_it && attrs_in.size.set_size3_u.size != now_attrs.size) {
      std::optional<node_attrs> ignored;
      s = flush_file(t);  // the dirty bytes first: the size cuts them too
      if (s == NFS3_OK) s = write_patches(t, {}, attrs_in.size.set_size3_u.size, ignored, true);
      if (s == NFS3_OK && a.value().guard.check) {
        // The guard held before the size changed: the rest goes unguarded.
        a.value().guard.check = FALSE;
      }
    }
    if (s == NFS3_OK) {
      shard::set_attributes_command c;
      c.inode = shard::inode_id{t.inode};
      if (attrs_in.mode.set_it) c.mode = attrs_in.mode.set_mode3_u.mode;
      if (attrs_in.uid.set_it) c.uid = attrs_in.uid.set_uid3_u.uid;
      if (attrs_in.gid.set_it) c.gid = attrs_in.gid.set_gid3_u.gid;
      const auto now = server_.backend.clock();
      auto time_in = [&](auto& how, const nfstime3& at) -> std::optional<std::int64_t> {
        if (how == SET_TO_SERVER_TIME) return now;
        if (how == SET_TO_CLIENT_TIME)
          return std::int64_t{at.seconds} * 1'000'000'000 + std::int64_t{at.nseconds};
        return std::nullopt;
      };
      c.atime_ns = time_in(attrs_in.atime.set_it, attrs_in.atime.set_atime_u.atime);
      c.mtime_ns = time_in(attrs_in.mtime.set_it, attrs_in.mtime.set_mtime_u.mtime);
      if (a.value().guard.check) {
        const auto& g = a.value().guard.sattrguard3_u.obj_ctime;
        // The client's ctime is what we sent, to the nanosecond.
        c.guard_ctime_ns = std::int64_t{g.seconds} * 1'000'000'000 + std::int64_t{g.nseconds};
      }
      s = status_of(propose(t, std::move(c)));
      after = attrs_now(t, t.inode);
    }
    SETATTR3res res{};
    res.status = s;
    if (s == NFS3_OK)
      res.SETATTR3res_u.resok.obj_wcc = wcc(before, after, t);
    else
      res.SETATTR3res_u.resfail.obj_wcc = wcc(before, after, t);
    return reply_success(call.xid, xdr_SETATTR3res, res);
  }

  std::string getattr(const rpc_call& call) {
    decoded<GETATTR3args> a(xdr_GETATTR3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    GETATTR3res res{};
    target t;
    node_attrs at;
    res.status = resolve(call, a.value().object, t);
    if (res.status == NFS3_OK) res.status = attrs(t, t.inode, at);
    if (res.status == NFS3_OK)
      res.GETATTR3res_u.resok.obj_attributes = fattr_of(at, t.bucket.bucket);
    return reply_success(call.xid, xdr_GETATTR3res, res);
  }

  /// Checks a name a client sends for a directory entry.
  static nfsstat3 check_name(const char* name) {
    const std::string_view n = name ? name : "";
    if (n.empty()) return NFS3ERR_NOENT;
    if (n.size() > shard::name_bytes_max) return NFS3ERR_NAMETOOLONG;
    if (n.find('/') != std::string_view::npos || n.find('\0') != std::string_view::npos)
      return NFS3ERR_INVAL;
    return NFS3_OK;
  }

  std::string lookup(const rpc_call& call) {
    decoded<LOOKUP3args> a(xdr_LOOKUP3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    LOOKUP3res res{};
    target t;
    res.status = resolve(call, a.value().what.dir, t);
    std::optional<node_attrs> dir, child;
    const std::string name = a.value().what.name ? a.value().what.name : "";
    if (res.status == NFS3_OK) res.status = check_name(name.c_str());
    if (res.status == NFS3_OK) {
      bool served = read(t, [&](const shard::namespace_state& ns) {
        const shard::bucket_id b{t.bucket.bucket};
        const auto* d = ns.inode_of(b, shard::inode_id{t.inode});
        if (!d) return;
        dir = attrs_of(*d);
        if (d->kind != shard::inode_kind::directory) return;
        const shard::inode* c = name == "."    ? d
                                : name == ".." ? ns.inode_of(b, d->parent)
                                               : ns.lookup(b, d->id, name);
        if (c) child = attrs_of(*c);
      });
      if (child) overlay_attrs(t, *child);
      if (!served)
        res.status = NFS3ERR_JUKEBOX;
      else if (!dir)
        res.status = NFS3ERR_STALE;
      else if (dir->kind != shard::inode_kind::directory)
        res.status = NFS3ERR_NOTDIR;
      else if (!(access_bits(*dir, t.who, false) & ACCESS3_LOOKUP))
        res.status = NFS3ERR_ACCES;
      else if (!child)
        res.status = NFS3ERR_NOENT;
    }
    std::string h;
    if (res.status == NFS3_OK) {
      h = handle_of(t, child->id);
      res.LOOKUP3res_u.resok.object = fh_of(h);
      res.LOOKUP3res_u.resok.obj_attributes = post_op(child, t.bucket.bucket);
      res.LOOKUP3res_u.resok.dir_attributes = post_op(dir, t.bucket.bucket);
    } else {
      res.LOOKUP3res_u.resfail.dir_attributes = post_op(dir, t.bucket.bucket);
    }
    return reply_success(call.xid, xdr_LOOKUP3res, res);
  }

  std::string access(const rpc_call& call) {
    decoded<ACCESS3args> a(xdr_ACCESS3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    ACCESS3res res{};
    target t;
    node_attrs at;
    res.status = resolve(call, a.value().object, t);
    if (res.status == NFS3_OK) res.status = attrs(t, t.inode, at);
    if (res.status == NFS3_OK) {
      res.ACCESS3res_u.resok.obj_attributes = post_op(at, t.bucket.bucket);
      res.ACCESS3res_u.resok.access =
          a.value().access & access_bits(at, t.who, t.exp->cfg.read_only);
    }
    return reply_success(call.xid, xdr_ACCESS3res, res);
  }

  std::string readlink(const rpc_call& call) {
    decoded<READLINK3args> a(xdr_READLINK3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    READLINK3res res{};
    target t;
    std::optional<node_attrs> at;
    std::string link;
    res.status = resolve(call, a.value().symlink, t);
    if (res.status == NFS3_OK) {
      if (!read(t, [&](const shard::namespace_state& ns) {
            if (const auto* n =
                    ns.inode_of(shard::bucket_id{t.bucket.bucket}, shard::inode_id{t.inode})) {
              at = attrs_of(*n);
              link = n->target;
            }
          }))
        res.status = NFS3ERR_JUKEBOX;
      else if (!at)
        res.status = NFS3ERR_STALE;
      else if (at->kind != shard::inode_kind::symlink)
        res.status = NFS3ERR_INVAL;
    }
    if (res.status == NFS3_OK) {
      res.READLINK3res_u.resok.symlink_attributes = post_op(at, t.bucket.bucket);
      res.READLINK3res_u.resok.data = link.data();
    } else {
      res.READLINK3res_u.resfail.symlink_attributes = post_op(at, t.bucket.bucket);
    }
    return reply_success(call.xid, xdr_READLINK3res, res);
  }

  // --- READ --------------------------------------------------------------------------

  keys::key_grant_ptr grant(std::uint64_t tenant, std::uint64_t epoch) {
    auto& cached = grants_[{tenant, epoch}];
    if (cached) return cached;
    self()
        ->request(server_.backend.key_manager, reply_timeout, keys::grant_atom::value, tenant,
                  epoch)
        .receive(
            [&](std::uint8_t e, keys::key_grant_ptr g) {
              if (e == 0) cached = g;
            },
            [](caf::error&) {});
    return cached;
  }

  /// The plaintext of one chunk: from the session's small cache of decoded
  /// chunks (sequential READs of rsize < chunk size hit it), else read.
  const std::vector<std::uint8_t>* chunk(const target& t, const shard::chunk_ref& ref) {
    for (auto& c : read_cache_)
      if (c.first == ref.id) return &c.second;
    const auto g = grant(t.bucket.tenant, ref.key_epoch);
    if (!g) return nullptr;
    gateway::chunk_pipeline pipeline(server_.backend.devices(), gateway::pipeline_options{});
    std::variant<std::vector<std::uint8_t>, gateway::pipeline_error> r;
    if (ahead_.pending && ahead_.id == ref.id) {  // read ahead: its shards are (being) read
      const auto pending = std::move(ahead_.pending);
      r = pipeline.finish_read(ahead_.actor->ptr(), *pending);
    } else {
      r = pipeline.read(self(), *g, ref);
    }
    auto* plain = std::get_if<std::vector<std::uint8_t>>(&r);
    if (!plain) {
      spdlog::error("nfs: chunk at offset {} unreadable: {}", ref.offset,
                    std::get<gateway::pipeline_error>(r).detail);
      return nullptr;
    }
    if (read_cache_.size() >= read_cache_chunks) read_cache_.erase(read_cache_.begin());
    read_cache_.emplace_back(ref.id, std::move(*plain));
    return &read_cache_.back().second;
  }

  /// After a sequential READ ending at `end` of `v`: starts reading the
  /// next chunk not yet read from its devices, so its shards are on their
  /// way while the client takes this reply and asks for the next bytes.
  void read_ahead(const target& t, const shard::object_version& v, std::uint64_t first,
                  std::uint64_t end) {
    const bool sequential = first == 0 || (t.inode == last_read_inode_ && first == last_read_end_);
    last_read_inode_ = t.inode;
    last_read_end_ = end;
    if (!sequential || end == 0) return;
    const shard::chunk_ref* next = nullptr;
    for (const auto& ref : v.chunks)
      if (ref.offset >= end && (!next || ref.offset < next->offset)) next = &ref;
    if (!next) return;
    for (const auto& c : read_cache_)
      if (c.first == next->id) return;
    if (ahead_.pending && ahead_.id == next->id) return;
    const auto g = grant(t.bucket.tenant, next->key_epoch);
    if (!g) return;
    if (!ahead_.actor || ahead_.uses >= read_ahead_actor_uses) {
      ahead_.pending.reset();  // its late replies go with the old actor (S3-8)
      ahead_.actor = std::make_unique<caf::scoped_actor>(server_.sys);
      ahead_.uses = 0;
    }
    gateway::chunk_pipeline pipeline(server_.backend.devices(), gateway::pipeline_options{});
    ahead_.pending = pipeline.start_read(ahead_.actor->ptr(), *g, *next);
    ahead_.id = next->id;
    ++ahead_.uses;
  }

  std::string read_file(const rpc_call& call) {
    decoded<READ3args> a(xdr_READ3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    READ3res res{};
    target t;
    std::optional<node_attrs> at;
    std::optional<shard::object_version> version;
    res.status = resolve(call, a.value().file, t);
    if (res.status == NFS3_OK) {
      if (!read(t, [&](const shard::namespace_state& ns) {
            if (const auto* n =
                    ns.inode_of(shard::bucket_id{t.bucket.bucket}, shard::inode_id{t.inode})) {
              at = attrs_of(*n);
              if (n->kind == shard::inode_kind::file && n->current) version = *n->current;
            }
          }))
        res.status = NFS3ERR_JUKEBOX;
      else if (!at)
        res.status = NFS3ERR_STALE;
      else if (at->kind == shard::inode_kind::directory)
        res.status = NFS3ERR_ISDIR;
      else if (at->kind != shard::inode_kind::file)
        res.status = NFS3ERR_INVAL;
      else if (!(access_bits(*at, t.who, false) & (ACCESS3_READ | ACCESS3_EXECUTE)))
        res.status = NFS3ERR_ACCES;
    }
    std::string data;
    // The file's dirty bytes are read over the committed ones (NFS5), under
    // its lock, so no commit falls between the two.
    std::shared_ptr<pending_file> pending;
    std::unique_lock<std::mutex> pending_lock;
    if (res.status == NFS3_OK && (pending = pending_of(t, t.inode, false))) {
      pending_lock = std::unique_lock(pending->mutex);
      if (pending->retired) {
        pending_lock.unlock();
        pending.reset();
      } else if (!read(t, [&](const shard::namespace_state& ns) {  // again, under the lock
                   version.reset();
                   if (const auto* n =
                           ns.inode_of(shard::bucket_id{t.bucket.bucket}, shard::inode_id{t.inode});
                       n && n->current)
                     version = *n->current;
                 })) {
        res.status = NFS3ERR_JUKEBOX;
      }
    }
    if (res.status == NFS3_OK) {
      std::uint64_t size = version ? version->size : 0;
      if (pending) {
        size = std::max(size, pending->dirty.end());
        at->size = size;
      }
      const std::uint64_t first = a.value().offset;
      const std::uint64_t count = std::min<std::uint64_t>(a.value().count, nfs_transfer_bytes_max);
      const std::uint64_t last = first >= size ? first : std::min(size, first + count);
      if (!copy_range(t, version.value_or(shard::object_version{}), first, last, data))
        res.status = NFS3ERR_IO;
      else {
        if (pending) pending->dirty.overlay(first, data);
        if (version) read_ahead(t, *version, first, last);
        res.READ3res_u.resok.count = static_cast<count3>(data.size());
        res.READ3res_u.resok.eof = last >= size;
        res.READ3res_u.resok.data.data_len = static_cast<u_int>(data.size());
        res.READ3res_u.resok.data.data_val = data.data();
      }
    }
    if (res.status == NFS3_OK)
      res.READ3res_u.resok.file_attributes = post_op(at, t.bucket.bucket);
    else
      res.READ3res_u.resfail.file_attributes = post_op(at, t.bucket.bucket);
    return reply_success(call.xid, xdr_READ3res, res);
  }

  /// The bytes [first, last) of a version into `out`; where no chunk is
  /// (a sparse file's holes, past the end) they are zeros.
  bool copy_range(const target& t, const shard::object_version& v, std::uint64_t first,
                  std::uint64_t last, std::string& out) {
    gateway::chunk_source source;
    source.chunk = [&](const shard::chunk_ref& ref) {
      // The session's cache owns the bytes; they stay while this call runs.
      const auto* plain = chunk(t, ref);
      return std::shared_ptr<const std::vector<std::uint8_t>>(
          std::shared_ptr<const std::vector<std::uint8_t>>{}, plain);
    };
    source.grant = [&](std::uint64_t epoch) { return grant(t.bucket.tenant, epoch); };
    return gateway::copy_range(v, first, last, out, source);
  }

  // --- WRITE, COMMIT, and SETATTR of the size ---------------------------------------------

  static constexpr std::uint64_t slot_bytes = gateway::file_slot_bytes;

  /// One target's bucket as gateway::file_store: namespace reads and
  /// proposals through the shard actor, chunks through this session.
  class target_store final : public gateway::file_store {
   public:
    target_store(session& s, const target& t) : s_(s), t_(t) {}
    lookup read_inode(std::uint64_t inode, shard::inode& out) override {
      bool found = false;
      if (!s_.read(t_, [&](const shard::namespace_state& ns) {
            if (const auto* n =
                    ns.inode_of(shard::bucket_id{t_.bucket.bucket}, shard::inode_id{inode})) {
              found = true;
              if (n->kind == shard::inode_kind::directory) {  // its entries are not needed
                out.id = n->id;
                out.kind = n->kind;
              } else {
                out = *n;
              }
            }
          }))
        return lookup::unavailable;
      return found ? lookup::found : lookup::gone;
    }
    keys::key_grant_ptr grant(std::uint64_t epoch) override {
      return s_.grant(t_.bucket.tenant, epoch);
    }
    gateway::chunk_source source() override {
      gateway::chunk_source c;
      c.chunk = [this](const shard::chunk_ref& ref) {
        // The session's cache owns the bytes; they stay while the call runs.
        return std::shared_ptr<const std::vector<std::uint8_t>>(
            std::shared_ptr<const std::vector<std::uint8_t>>{}, s_.chunk(t_, ref));
      };
      c.grant = [this](std::uint64_t epoch) { return grant(epoch); };
      return c;
    }
    std::shared_ptr<const gateway::device_directory> devices() override {
      return s_.server_.backend.devices();
    }
    std::uint64_t shard() const override { return t_.bucket.shard; }
    std::uint64_t bucket() const override { return t_.bucket.bucket; }
    std::optional<shard::ns_result> propose(shard::ns_command c) override {
      return s_.propose(t_, std::move(c));
    }
    caf::blocking_actor* self() override { return s_.self(); }

   private:
    session& s_;
    const target& t_;
  };

  /// An NFS status for what a write did.
  static nfsstat3 status_of(const gateway::write_outcome& w, nfsstat3 refusal) {
    using kind = gateway::write_outcome::kind;
    switch (w.what) {
      case kind::ok:
        return NFS3_OK;
      case kind::gone:
        return NFS3ERR_STALE;
      case kind::is_directory:
        return NFS3ERR_ISDIR;
      case kind::not_a_file:
        return NFS3ERR_INVAL;
      case kind::too_big:
        return NFS3ERR_FBIG;
      case kind::refused:
        return refusal;
      case kind::unavailable:
        return NFS3ERR_JUKEBOX;
      case kind::io:
        return NFS3ERR_IO;
      case kind::rejected:
        return status_of(w.result);
    }
    return NFS3ERR_SERVERFAULT;
  }

  /// Writes `patches` (sorted, disjoint) into file `t.inode`, or, with
  /// `new_size` and no patches, sets its size, durably
  /// (gateway::write_patches). `check_access`: the export's read-only flag
  /// and the caller's rights are checked on the inode the write patches (a
  /// flush of accepted WRITEs skips it, as a chmod after write() does not
  /// fail the write-back).
  nfsstat3 write_patches(const target& t, std::span<const gateway::file_patch> patches,
                         std::optional<std::uint64_t> new_size, std::optional<node_attrs>& before,
                         bool check_access) {
    nfsstat3 refusal = NFS3_OK;
    std::function<bool(const shard::inode&)> allowed;
    if (check_access)
      allowed = [&](const shard::inode& n) {
        if (t.exp->cfg.read_only)
          refusal = NFS3ERR_ROFS;
        else if (!(access_bits(attrs_of(n), t.who, false) & ACCESS3_MODIFY))
          refusal = NFS3ERR_ACCES;
        return refusal == NFS3_OK;
      };
    target_store store(*this, t);
    const auto w = gateway::write_patches(store, t.inode, patches, new_size, allowed);
    if (w.before) before = attrs_of(*w.before);
    return status_of(w, refusal);
  }

  // --- write-back (NFS5) -------------------------------------------------------------

  using pending_file = nfs_server::impl::pending_file;

  /// The file's write-back entry; with `create`, made if there is none.
  std::shared_ptr<pending_file> pending_of(const target& t, std::uint64_t inode, bool create) {
    std::lock_guard lock(server_.pending_mutex);
    const std::pair key{t.bucket.bucket, inode};
    if (const auto it = server_.pending.find(key); it != server_.pending.end()) return it->second;
    if (!create) return nullptr;
    auto p = std::make_shared<pending_file>();
    p->exp = t.exp;
    p->bucket = t.bucket;
    server_.pending.emplace(key, p);
    return p;
  }

  /// Takes a file's entry out of the map once it holds nothing; its mutex
  /// is held.
  void retire_if_clean(const target& t, const std::shared_ptr<pending_file>& p) {
    if (!p->dirty.empty() || p->retired) return;
    std::lock_guard lock(server_.pending_mutex);
    const auto it = server_.pending.find({t.bucket.bucket, t.inode});
    if (it != server_.pending.end() && it->second == p) server_.pending.erase(it);
    p->retired = true;
  }

  /// Commits a file's dirty bytes: every slot (`everything`) or only the
  /// slots wholly dirty, which need no read. Its mutex is held. What fails
  /// to commit stays dirty, except for a file that is gone (STALE).
  /// `first_before`: set to the file's committed attributes as the first
  /// commit read them.
  nfsstat3 flush(const target& t, pending_file& p, bool everything,
                 std::optional<node_attrs>* first_before = nullptr) {
    const auto held = p.dirty.bytes();
    target_store store(*this, t);
    const auto w = gateway::commit_dirty(store, t.inode, p.dirty, everything);
    server_.pending_bytes -= held - p.dirty.bytes();
    if (first_before && !*first_before && w.before) *first_before = attrs_of(*w.before);
    if (w.what == gateway::write_outcome::kind::gone) return NFS3_OK;  // removed: dropped
    return status_of(w, NFS3_OK);
  }

  /// Commits everything `t`'s file holds (COMMIT, SETATTR of the size, a
  /// stable WRITE).
  /// `before`: set to the attributes a client saw before (the committed
  /// ones as the commit read them, with the dirty bytes' size and time).
  nfsstat3 flush_file(const target& t, std::optional<node_attrs>* before = nullptr) {
    const auto p = pending_of(t, t.inode, false);
    if (!p) return NFS3_OK;
    std::lock_guard lock(p->mutex);
    if (p->retired) return NFS3_OK;
    const auto dirty_end = p->dirty.end();
    const auto written_ns = p->last_write_ns;
    const auto s = flush(t, *p, true, before);
    if (before && *before) {
      (*before)->size = std::max((*before)->size, dirty_end);
      (*before)->mtime_ns = std::max((*before)->mtime_ns, written_ns);
      (*before)->ctime_ns = std::max((*before)->ctime_ns, written_ns);
    }
    retire_if_clean(t, p);
    return s;
  }

 public:
  /// The flusher's round: commits every file idle for dirty_idle, or
  /// every file (`all`, when the server stops).
  void flush_idle(bool all) {
    std::vector<std::pair<std::pair<std::uint64_t, std::uint64_t>, std::shared_ptr<pending_file>>>
        files;
    {
      std::lock_guard lock(server_.pending_mutex);
      files.assign(server_.pending.begin(), server_.pending.end());
    }
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [key, p] : files) {
      std::lock_guard lock(p->mutex);
      if (p->retired || (!all && now - p->last_write < dirty_idle)) continue;
      target t;
      t.exp = p->exp;
      t.bucket = p->bucket;
      t.inode = key.second;
      if (flush(t, *p, true) != NFS3_OK)
        spdlog::warn("nfs: committing {} dirty bytes of inode {} failed; retrying",
                     p->dirty.bytes(), t.inode);
      retire_if_clean(t, p);
    }
  }

 private:
  /// An UNSTABLE WRITE (or the first half of a stable one): the bytes join
  /// the file's dirty bytes; slots they complete are committed at once.
  /// Bounded (NFS5): over a file's or the server's bound, the file is
  /// committed first, and JUKEBOX answers if the server stays over it.
  nfsstat3 write_back(const target& t, std::uint64_t offset, std::string_view data, bool stable,
                      bool& committed_some) {
    for (;;) {
      const auto p = pending_of(t, t.inode, true);
      std::lock_guard lock(p->mutex);
      if (p->retired) continue;  // retired between the lookup and the lock
      if (p->dirty.bytes() + data.size() > dirty_file_bytes_max ||
          server_.pending_bytes + data.size() > dirty_bytes_max) {
        committed_some = true;
        if (const auto s = flush(t, *p, true); s != NFS3_OK) return s;
        if (server_.pending_bytes + data.size() > dirty_bytes_max) return NFS3ERR_JUKEBOX;
      }
      const auto held = p->dirty.bytes();
      p->dirty.write(offset, data);
      server_.pending_bytes += p->dirty.bytes() - held;
      p->last_write = std::chrono::steady_clock::now();
      p->last_write_ns = last_write_ns_ = server_.backend.clock();
      // A stable WRITE commits all; an unstable one what fills a slot
      // (a failure there is reported by COMMIT, which retries it).
      const auto held_before = p->dirty.bytes();
      const auto s = flush(t, *p, stable);
      committed_some = stable || p->dirty.bytes() != held_before;
      retire_if_clean(t, p);
      return stable ? s : NFS3_OK;
    }
  }

  std::string write_file(const rpc_call& call) {
    decoded<WRITE3args> a(xdr_WRITE3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    const auto& w = a.value();
    target t;
    std::optional<node_attrs> before, after;
    auto s = resolve(call, w.file, t);
    if (s == NFS3_OK && w.count > w.data.data_len)
      s = NFS3ERR_INVAL;  // count names more than was sent
    const std::string_view data(w.data.data_val, s == NFS3_OK ? w.count : 0);
    node_attrs at;
    if (s == NFS3_OK) s = attrs(t, t.inode, at);
    if (s == NFS3_OK) {
      before = at;
      if (at.kind == shard::inode_kind::directory)
        s = NFS3ERR_ISDIR;
      else if (at.kind != shard::inode_kind::file)
        s = NFS3ERR_INVAL;
      else if (t.exp->cfg.read_only)
        s = NFS3ERR_ROFS;
      else if (!(access_bits(at, t.who, false) & ACCESS3_MODIFY))
        s = NFS3ERR_ACCES;
      else if (w.offset + data.size() > shard::chunks_per_version_max * slot_bytes)
        s = NFS3ERR_FBIG;
    }
    const bool stable = w.stable != UNSTABLE;
    bool committed_some = false;
    if (s == NFS3_OK) s = write_back(t, w.offset, data, stable, committed_some);
    if (s == NFS3_OK && !committed_some) {
      // Nothing reached the namespace: the file is as read, with this
      // write's bytes (no second read).
      after = before;
      after->size = std::max(after->size, w.offset + data.size());
      after->mtime_ns = after->ctime_ns = std::max(after->mtime_ns, last_write_ns_);
    } else if (s == NFS3_OK || before) {
      after = attrs_now(t, t.inode);
    }
    WRITE3res res{};
    res.status = s;
    if (s == NFS3_OK) {
      auto& ok = res.WRITE3res_u.resok;
      ok.file_wcc = wcc(before, after, t);
      ok.count = static_cast<count3>(data.size());
      ok.committed = stable ? FILE_SYNC : UNSTABLE;
      std::memcpy(ok.verf, server_.write_verifier.data(), NFS3_WRITEVERFSIZE);
    } else {
      res.WRITE3res_u.resfail.file_wcc = wcc(before, after, t);
    }
    return reply_success(call.xid, xdr_WRITE3res, res);
  }

  std::string commit(const rpc_call& call) {
    decoded<COMMIT3args> a(xdr_COMMIT3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    target t;
    std::optional<node_attrs> before, after;
    auto s = resolve(call, a.value().file, t);
    // The whole file is committed, whatever range was asked (RFC 1813
    // allows more): after this its bytes are the object S3 reads.
    if (s == NFS3_OK && pending_of(t, t.inode, false)) {
      s = flush_file(t, &before);  // its first read gives the attributes before
      if (s == NFS3_OK || before) after = attrs_now(t, t.inode);
    } else if (s == NFS3_OK) {
      node_attrs at;
      s = attrs(t, t.inode, at);  // nothing to commit: one read, before = after
      if (s == NFS3_OK) before = after = at;
    }
    COMMIT3res res{};
    res.status = s;
    if (s == NFS3_OK) {
      res.COMMIT3res_u.resok.file_wcc = wcc(before, after, t);
      std::memcpy(res.COMMIT3res_u.resok.verf, server_.write_verifier.data(), NFS3_WRITEVERFSIZE);
    } else {
      res.COMMIT3res_u.resfail.file_wcc = wcc(before, after, t);
    }
    return reply_success(call.xid, xdr_COMMIT3res, res);
  }

  // --- READDIR / READDIRPLUS ------------------------------------------------------------

  struct dir_entry {
    std::string name;
    std::uint64_t cookie = 0;
    node_attrs attrs;
  };

  static void verifier_of(const target& t, char (&out)[NFS3_COOKIEVERFSIZE]) {
    std::uint64_t v = t.bucket.bucket;
    for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v);
  }

  std::string readdir(const rpc_call& call, bool plus) {
    decoded<READDIR3args> a(xdr_READDIR3args);
    decoded<READDIRPLUS3args> ap(xdr_READDIRPLUS3args);
    if (!(plus ? args(call, ap) : args(call, a)))
      return reply_error(call.xid, accept_status::garbage_args);
    const nfs_fh3& fh = plus ? ap.value().dir : a.value().dir;
    const std::uint64_t cookie = plus ? ap.value().cookie : a.value().cookie;
    const char* verf = plus ? ap.value().cookieverf : a.value().cookieverf;
    // The reply's budget: count (READDIR), or dircount for names and
    // maxcount for everything (READDIRPLUS).
    const std::size_t budget = plus ? ap.value().maxcount : a.value().count;
    const std::size_t name_budget = plus ? ap.value().dircount : a.value().count;

    nfsstat3 status = NFS3_OK;
    target t;
    status = resolve(call, fh, t);
    char ours[NFS3_COOKIEVERFSIZE] = {};
    if (status == NFS3_OK) {
      verifier_of(t, ours);
      static const char zero[NFS3_COOKIEVERFSIZE] = {};
      if (cookie != 0 && std::memcmp(verf, ours, sizeof ours) != 0 &&
          std::memcmp(verf, zero, sizeof zero) != 0)
        status = NFS3ERR_BAD_COOKIE;
    }
    std::optional<node_attrs> dir;
    std::vector<dir_entry> entries;
    bool end = false;
    if (status == NFS3_OK) {
      const std::size_t want = std::clamp<std::size_t>(budget / 24, 1, dir_page_max);
      shard::namespace_state::page_status page = shard::namespace_state::page_status::ok;
      const bool served = read(t, [&](const shard::namespace_state& ns) {
        const shard::bucket_id b{t.bucket.bucket};
        const auto* d = ns.inode_of(b, shard::inode_id{t.inode});
        if (!d) return;
        dir = attrs_of(*d);
        if (d->kind != shard::inode_kind::directory) return;
        // Cookies (ADR 0008 §4): 1 after ".", 2 after "..", inode + 2,
        // with which of the inode's names in the directory it is in the
        // bits above cookie_ordinal_shift (0 but for hard links).
        if (cookie == 0) entries.push_back({".", 1, attrs_of(*d)});
        if (cookie <= 1)
          if (const auto* p = ns.inode_of(b, d->parent)) entries.push_back({"..", 2, attrs_of(*p)});
        const auto low = cookie & cookie_inode_mask;
        const shard::inode_id after{low <= 2 ? shard::root_inode.value : low - 2};
        const auto after_ordinal = static_cast<std::uint32_t>(cookie >> cookie_ordinal_shift);
        std::vector<shard::namespace_state::named_inode> page_of;
        page = ns.read_directory(b, d->id, after, after_ordinal, want, page_of, end);
        for (const auto& e : page_of)
          entries.push_back(
              {std::string(e.name),
               (e.node->id.value + 2) | (std::uint64_t{e.ordinal} << cookie_ordinal_shift),
               attrs_of(*e.node)});
      });
      if (plus)
        for (auto& e : entries) overlay_attrs(t, e.attrs);
      if (!served)
        status = NFS3ERR_JUKEBOX;
      else if (!dir)
        status = NFS3ERR_STALE;
      else if (dir->kind != shard::inode_kind::directory)
        status = NFS3ERR_NOTDIR;
      else if (page == shard::namespace_state::page_status::entry_gone)
        status = NFS3ERR_BAD_COOKIE;
      else if (!(access_bits(*dir, t.who, false) & ACCESS3_READ))
        status = NFS3ERR_ACCES;
    }
    // Pack entries while they fit the client's budget.
    std::size_t used = 128, names = 0, packed = 0;  // header, attributes, verifier
    std::vector<std::string> handles;
    handles.reserve(entries.size());
    for (const auto& e : entries) {
      const std::size_t name_bytes = 8 + 4 + (e.name.size() + 3) / 4 * 4 + 8 + 4;
      const std::size_t bytes = name_bytes + (plus ? 4 + 84 + 4 + 4 + handle_bytes : 0);
      if (used + bytes > budget || (plus && names + name_bytes > name_budget)) break;
      used += bytes;
      names += name_bytes;
      ++packed;
    }
    if (status == NFS3_OK && packed == 0 && !entries.empty()) status = NFS3ERR_TOOSMALL;
    const bool eof = status == NFS3_OK && end && packed == entries.size();
    if (!plus) {
      READDIR3res res{};
      res.status = status;
      std::vector<entry3> list(packed);
      for (std::size_t i = 0; i < packed; ++i) {
        list[i].fileid = entries[i].attrs.id;
        list[i].name = entries[i].name.data();
        list[i].cookie = entries[i].cookie;
        list[i].nextentry = i + 1 < packed ? &list[i + 1] : nullptr;
      }
      if (status == NFS3_OK) {
        auto& ok = res.READDIR3res_u.resok;
        ok.dir_attributes = post_op(dir, t.bucket.bucket);
        std::memcpy(ok.cookieverf, ours, sizeof ours);
        ok.reply.entries = packed ? &list[0] : nullptr;
        ok.reply.eof = eof;
      } else {
        res.READDIR3res_u.resfail.dir_attributes = post_op(dir, t.bucket.bucket);
      }
      return reply_success(call.xid, xdr_READDIR3res, res);
    }
    READDIRPLUS3res res{};
    res.status = status;
    std::vector<entryplus3> list(packed);
    for (std::size_t i = 0; i < packed; ++i) {
      handles.push_back(handle_of(t, entries[i].attrs.id));
      list[i].fileid = entries[i].attrs.id;
      list[i].name = entries[i].name.data();
      list[i].cookie = entries[i].cookie;
      list[i].name_attributes = post_op(entries[i].attrs, t.bucket.bucket);
      list[i].name_handle.handle_follows = TRUE;
      list[i].name_handle.post_op_fh3_u.handle = fh_of(handles.back());
      list[i].nextentry = i + 1 < packed ? &list[i + 1] : nullptr;
    }
    if (status == NFS3_OK) {
      auto& ok = res.READDIRPLUS3res_u.resok;
      ok.dir_attributes = post_op(dir, t.bucket.bucket);
      std::memcpy(ok.cookieverf, ours, sizeof ours);
      ok.reply.entries = packed ? &list[0] : nullptr;
      ok.reply.eof = eof;
    } else {
      res.READDIRPLUS3res_u.resfail.dir_attributes = post_op(dir, t.bucket.bucket);
    }
    return reply_success(call.xid, xdr_READDIRPLUS3res, res);
  }

  // --- FSSTAT / FSINFO / PATHCONF ----------------------------------------------------------

  std::string fsstat(const rpc_call& call) {
    decoded<FSSTAT3args> a(xdr_FSSTAT3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    FSSTAT3res res{};
    target t;
    node_attrs at;
    res.status = resolve(call, a.value().fsroot, t);
    if (res.status == NFS3_OK) res.status = attrs(t, t.inode, at);
    if (res.status == NFS3_OK) {
      // Raw device bytes scaled by the default scheme's efficiency (RS 4+2:
      // 4 of every 6 bytes are data).
      std::uint64_t capacity = 0, free = 0;
      if (const auto devices = server_.backend.devices())
        for (const auto& d : devices->devices) {
          capacity += d.device.capacity_bytes;
          free += d.device.free_bytes;
        }
      auto& ok = res.FSSTAT3res_u.resok;
      ok.obj_attributes = post_op(at, t.bucket.bucket);
      ok.tbytes = capacity / 6 * 4;
      ok.fbytes = ok.abytes = free / 6 * 4;
      ok.tfiles = 1ull << 32;
      ok.ffiles = ok.afiles = 1ull << 32;
      ok.invarsec = 0;
    }
    return reply_success(call.xid, xdr_FSSTAT3res, res);
  }

  std::string fsinfo(const rpc_call& call) {
    decoded<FSINFO3args> a(xdr_FSINFO3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    FSINFO3res res{};
    target t;
    node_attrs at;
    res.status = resolve(call, a.value().fsroot, t);
    if (res.status == NFS3_OK) res.status = attrs(t, t.inode, at);
    if (res.status == NFS3_OK) {
      auto& ok = res.FSINFO3res_u.resok;
      ok.obj_attributes = post_op(at, t.bucket.bucket);
      ok.rtmax = ok.rtpref = ok.wtmax = ok.wtpref = nfs_transfer_bytes_max;
      ok.rtmult = ok.wtmult = 4096;
      ok.dtpref = 64 * 1024;
      ok.maxfilesize = shard::chunks_per_version_max * gateway::chunk_bytes_default;
      ok.time_delta = {0, 1};
      ok.properties = FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME;
    }
    return reply_success(call.xid, xdr_FSINFO3res, res);
  }

  std::string pathconf(const rpc_call& call) {
    decoded<PATHCONF3args> a(xdr_PATHCONF3args);
    if (!args(call, a)) return reply_error(call.xid, accept_status::garbage_args);
    PATHCONF3res res{};
    target t;
    node_attrs at;
    res.status = resolve(call, a.value().object, t);
    if (res.status == NFS3_OK) res.status = attrs(t, t.inode, at);
    if (res.status == NFS3_OK) {
      auto& ok = res.PATHCONF3res_u.resok;
      ok.obj_attributes = post_op(at, t.bucket.bucket);
      ok.linkmax = shard::links_max;  // per file (NS1)
      ok.name_max = shard::name_bytes_max;
      ok.no_trunc = TRUE;
      ok.chown_restricted = TRUE;
      ok.case_insensitive = FALSE;
      ok.case_preserving = TRUE;
    }
    return reply_success(call.xid, xdr_PATHCONF3res, res);
  }

  /// The actor this call's requests go through: the one given (the
  /// flusher's round), else one made for the call.
  caf::blocking_actor* self() {
    if (!self_) self_ = per_call_.emplace(server_.sys).ptr();
    return self_;
  }
  caf::blocking_actor* self_;
  std::optional<caf::scoped_actor> per_call_;
  nfs_server::impl& server_;
  gateway::tcp_listener::socket_ptr socket_;
  asio::ip::address peer_;
  std::string peer_text_;
  record_reader reader_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, keys::key_grant_ptr> grants_;
  std::vector<std::pair<shard::chunk_hash, std::vector<std::uint8_t>>> read_cache_;
  std::int64_t last_write_ns_ = 0;  // the clock of this session's last WRITE
  /// Read-ahead (read_ahead()): the next chunk's device reads in flight.
  /// Its requests go through an actor of their own, replaced every
  /// read_ahead_actor_uses chunks, so late replies of a read-ahead nobody
  /// collected do not pile up in one mailbox (S3-8).
  struct {
    std::unique_ptr<caf::scoped_actor> actor;
    int uses = 0;
    shard::chunk_hash id{};
    gateway::chunk_pipeline::pending_read_ptr pending;
  } ahead_;
  std::uint64_t last_read_inode_ = 0, last_read_end_ = 0;
};

void session_actor(caf::blocking_actor* self, nfs_server::impl* server,
                   gateway::tcp_listener::socket_ptr socket) {
  session(self, *server, socket).run();
  server->listener->done(socket);
  --server->sessions;
}

/// Commits files whose dirty bytes have been idle for dirty_idle; at stop,
/// every file (NFS5).
void flusher_actor(caf::blocking_actor*, nfs_server::impl* server) {
  while (!server->flusher_stop) {
    std::this_thread::sleep_for(flusher_tick);
    caf::scoped_actor round{server->sys};  // a round's requests die with it (S3-8)
    session(round.ptr(), *server, nullptr).flush_idle(false);
  }
  caf::scoped_actor last{server->sys};
  session(last.ptr(), *server, nullptr).flush_idle(true);
  server->flusher_running = false;
}

}  // namespace

std::string client_rule_problem(const std::string& rule) {
  try {
    parse_rule(rule, "clients");
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

nfs_server::nfs_server(caf::actor_system& sys, nfs_config config, gateway::node_backend backend,
                       std::span<const std::uint8_t> cluster_key)
    : impl_(std::make_unique<impl>(sys, std::move(config), std::move(backend), cluster_key)) {}

nfs_server::~nfs_server() {
  stop();
}

void nfs_server::start() {
  auto& d = *impl_;
  d.listener = std::make_unique<gateway::tcp_listener>(
      "nfs.listen", d.config.listen,
      [&d](gateway::tcp_listener::socket_ptr socket, std::size_t open) {
        if (open > d.config.connections_max) {
          // NFS has no "busy" answer before a call: refuse the connection.
          d.listener->done(socket);
          return;
        }
        ++d.sessions;
        d.sys.spawn<caf::detached>(session_actor, &d, socket);
      });
  d.listener->start();
  d.flusher_running = true;
  d.sys.spawn<caf::detached>(flusher_actor, &d);
}

void nfs_server::stop() {
  auto& d = *impl_;
  if (!d.listener) return;
  d.listener->stop();
  // Sessions see their sockets shut down and return.
  for (int i = 0; i < 500 && d.sessions > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // Then what clients wrote and did not commit is committed.
  d.flusher_stop = true;
  for (int i = 0; i < 6000 && d.flusher_running; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (d.flusher_running) spdlog::error("nfs: the write-back flusher did not finish");
}

std::uint16_t nfs_server::port() const {
  return impl_->listener ? impl_->listener->port() : 0;
}

}  // namespace cairn::nfs
