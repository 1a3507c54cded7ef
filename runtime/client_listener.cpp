// runtime/client_listener.cpp — see client_listener.h.
//
// Threading: the Asio thread owns the sockets and each connection's read
// and write state. A connection's session actor runs on CAF's scheduler
// and reaches its connection only through a `connection_handle`, which
// posts to the Asio thread.
#include "runtime/client_listener.h"

#include <utility>  // before Boost.Asio 1.74 (its awaitable.hpp needs std::exchange)

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <deque>
#include <set>
#include <thread>

#include "actors/chunk/device_actor.h"
#include "actors/shard/namespace_codec.h"
#include "actors/shard/shard_actor.h"
#include "runtime/catalog.h"
#include "runtime/remote_devices.h"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<cairn::runtime::client_frame>)

namespace cairn::runtime {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = ssl::stream<tcp::socket>;

namespace {

using frame_atom = caf::atom_constant<caf::atom("clframe")>;
using frame_ptr = std::shared_ptr<client_frame>;

struct connection;

/// What a session actor holds of its connection: sends and closes are
/// posted to the Asio thread; both are no-ops once the listener stopped.
struct connection_handle {
  std::weak_ptr<client_listener::impl> listener;
  std::weak_ptr<connection> conn;
  /// `answers` counts the frame as the answer to a request (CL2).
  void send(const client_frame& f, bool answers) const;
  /// `flush`: what is queued is written first (a refused welcome).
  void close(std::string why, bool flush = false) const;
};

}  // namespace

struct client_listener::impl : std::enable_shared_from_this<client_listener::impl> {
  asio::io_context io;  // first: destroyed last
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  caf::actor_system& sys;
  ssl::context& tls;
  gateway::node_backend backend;
  std::uint64_t node_id;
  client_listener_settings settings;
  client_listener_counters counters;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<bool> stopped{false};
  std::set<std::shared_ptr<connection>> connections;  // Asio thread only

  impl(caf::actor_system& s, ssl::context& t, gateway::node_backend b, std::uint64_t id,
       client_listener_settings st)
      : sys(s), tls(t), backend(std::move(b)), node_id(id), settings(st) {}

  void accept_next();
};

namespace {

/// One client connection (Asio thread only).
struct connection : std::enable_shared_from_this<connection> {
  connection(std::shared_ptr<client_listener::impl> owner, tcp::socket socket)
      : owner(std::move(owner)),
        stream(std::move(socket), this->owner->tls),
        timer(this->owner->io) {}

  std::shared_ptr<client_listener::impl> owner;
  tls_stream stream;
  asio::steady_timer timer;  // the handshake's deadline
  caf::actor session;
  bool closed = false;
  std::deque<std::string> writes;
  bool writing = false;
  std::size_t in_flight = 0;  // requests handed to the session, not yet answered
  bool reading = false;
  unsigned char prefix[frame_prefix_bytes] = {};
  std::string body;

  void start();
  void read_next();
  void on_frame(client_frame&& f);
  void write(std::string frame, bool answers);
  void write_next();
  void close(const std::string& why, bool flush = false);

  bool close_when_written = false;
  std::string close_reason;
};

void connection_handle::send(const client_frame& f, bool answers) const {
  auto l = listener.lock();
  if (!l || l->stopped) return;
  asio::post(l->io, [c = conn, bytes = encode_client_frame(f), answers]() mutable {
    if (auto s = c.lock()) s->write(std::move(bytes), answers);
  });
}

void connection_handle::close(std::string why, bool flush) const {
  auto l = listener.lock();
  if (!l || l->stopped) return;
  asio::post(l->io, [c = conn, why = std::move(why), flush] {
    if (auto s = c.lock()) s->close(why, flush);
  });
}

// --- the session actor ----------------------------------------------------------------

struct session_state {
  connection_handle conn;
  gateway::node_backend backend;
  std::uint64_t node_id = 0;
  std::string nonce, exporter;
  std::uint64_t tenant = 0;
  bool hello_seen = false, welcomed = false;
  std::set<std::pair<std::uint64_t, std::uint64_t>> buckets;  // (shard, bucket) resolved (CL3)
  std::chrono::milliseconds timeout{30'000};
  client_listener_counters* counters = nullptr;
  static const char* name;
};
const char* session_state::name = "client_session";
using session_ptr = caf::stateful_actor<session_state>*;

void answer(session_ptr self, client_reply r) {
  self->state.conn.send(client_frame{std::move(r)}, true);
}

client_reply status_reply(std::uint64_t id, client_status s, std::string message) {
  client_reply r;
  r.id = id;
  r.status = s;
  r.message = std::move(message);
  return r;
}

void refuse(session_ptr self, const std::string& why) {
  self->state.counters->refused++;
  client_welcome w;
  w.reason = why;
  w.node = self->state.node_id;
  self->state.conn.send(client_frame{w}, true);
  self->state.conn.close("handshake refused: " + why, true);
}

/// CL1: the access key's entry, its secret, the proof.
void check_hello(session_ptr self, client_hello hello) {
  auto& st = self->state;
  if (!well_formed_access_key_id(hello.key_id)) return refuse(self, "malformed access key id");
  auto system = st.backend.system_shard();
  if (!system) return refuse(self, "the cluster has no system shard yet; try again");
  const auto key = access_key_key(hello.key_id);
  self->request(system, st.timeout, shard::get_atom::value, key)
      .then(
          [=](std::uint8_t code, const std::string& value) {
            std::optional<access_key_entry> entry;
            if (code == 0) {
              auto cat = catalog::parse({{key, value}});
              if (!cat.access_keys.empty()) entry = cat.access_keys.begin()->second;
            }
            if (!entry || entry->state != entry_state::ready)
              return refuse(self, "unknown access key or wrong proof");
            self->request(self->state.backend.key_manager, self->state.timeout,
                          keys::secret_unwrap_atom::value, entry->tenant, entry->id,
                          std::string(entry->wrapped_secret.begin(), entry->wrapped_secret.end()))
                .then(
                    [=](std::uint8_t e, const keys::secret_ptr& secret) {
                      auto& s = self->state;
                      if (e != 0 || !secret ||
                          !client_proof_matches(client_proof(secret->bytes(), s.nonce, s.exporter),
                                                hello.proof))
                        return refuse(self, "unknown access key or wrong proof");
                      s.tenant = entry->tenant;
                      s.welcomed = true;
                      s.counters->welcomed++;
                      s.conn.send(client_frame{client_welcome{true, "", s.tenant, s.node_id}},
                                  true);
                    },
                    [=](caf::error&) { refuse(self, "the key manager did not answer"); });
          },
          [=](caf::error&) { refuse(self, "the catalog did not answer"); });
}

void resolve_bucket(session_ptr self, std::uint64_t id, const std::string& name) {
  auto system = self->state.backend.system_shard();
  if (!system) return answer(self, status_reply(id, client_status::unavailable, "no catalog"));
  const auto key = bucket_key(name);
  self->request(system, self->state.timeout, shard::get_atom::value, key)
      .then(
          [=](std::uint8_t code, const std::string& value) {
            std::optional<bucket_entry> b;
            if (code == 0) {
              auto cat = catalog::parse({{key, value}});
              if (auto it = cat.buckets.find(name);
                  it != cat.buckets.end() && it->second.state == entry_state::ready)
                b = it->second;
            }
            // Another tenant's bucket is as absent as a missing one.
            if (!b || b->tenant != self->state.tenant)
              return answer(self,
                            status_reply(id, client_status::not_found, "no bucket named " + name));
            self->state.buckets.insert({b->shard, b->bucket});
            client_reply r = status_reply(id, client_status::ok, "");
            r.body = bucket_answer{b->shard, b->bucket};
            answer(self, std::move(r));
          },
          [=](caf::error&) {
            answer(self,
                   status_reply(id, client_status::unavailable, "the catalog did not answer"));
          });
}

/// What a namespace query leaves for the session: the reply's body, or
/// why the thing asked for is absent. Written on the replica's thread
/// before the replica answers, read here after the answer arrives (the
/// message between them orders the two).
struct query_outcome {
  client_reply reply;
  std::optional<std::string> absent;
};
using namespace_lookup =
    std::function<void(const shard::namespace_state&, const shard::bucket_id&, query_outcome&)>;

void query_namespace(session_ptr self, std::uint64_t id, std::uint64_t shard_id,
                     std::uint64_t bucket, namespace_lookup lookup) {
  auto shard = self->state.backend.shard_actor(shard_id);
  if (!shard)
    return answer(self, status_reply(id, client_status::unavailable,
                                     "shard " + std::to_string(shard_id) + " is not here"));
  auto outcome = std::make_shared<query_outcome>();
  auto q = std::make_shared<const shard::replica::namespace_query>(
      [outcome, bucket, lookup = std::move(lookup)](const shard::namespace_state& ns) {
        lookup(ns, shard::bucket_id{bucket}, *outcome);
        return std::string();
      });
  self->request(shard, self->state.timeout, shard::ns_read_atom::value,
                shard::namespace_query_ptr{q})
      .then(
          [=](std::uint8_t code, std::string& value) {
            if (code != 0)
              return answer(self, status_reply(id, client_status::unavailable,
                                               "the shard did not answer: " + value));
            if (outcome->absent)
              return answer(self, status_reply(id, client_status::not_found, *outcome->absent));
            outcome->reply.id = id;
            answer(self, std::move(outcome->reply));
          },
          [=](caf::error& e) {
            answer(self, status_reply(id, client_status::unavailable, caf::to_string(e)));
          });
}

/// The directory `dir`, or null with the outcome marked absent.
const shard::inode* directory_of(const shard::namespace_state& ns, shard::bucket_id b,
                                 std::uint64_t dir, query_outcome& out) {
  const auto* d = ns.inode_of(b, shard::inode_id{dir});
  if (d && d->kind == shard::inode_kind::directory) return d;
  out.absent = "no directory " + std::to_string(dir);
  return nullptr;
}

void serve_inode(session_ptr self, std::uint64_t id, const inode_query& q) {
  query_namespace(self, id, q.shard, q.bucket, [q](const auto& ns, auto b, query_outcome& out) {
    if (const auto* n = ns.inode_of(b, shard::inode_id{q.inode}))
      out.reply.body = inode_answer{shard::encode_inode(*n)};
    else
      out.absent = "no inode " + std::to_string(q.inode);
  });
}

void serve_lookup(session_ptr self, std::uint64_t id, const lookup_query& q) {
  query_namespace(self, id, q.shard, q.bucket, [q](const auto& ns, auto b, query_outcome& out) {
    if (!directory_of(ns, b, q.dir, out)) return;
    if (const auto* n = ns.lookup(b, shard::inode_id{q.dir}, q.name))
      out.reply.body = inode_answer{shard::encode_inode(*n)};
    else
      out.absent = "no entry " + q.name;
  });
}

void serve_readdir(session_ptr self, std::uint64_t id, const readdir_query& q) {
  query_namespace(self, id, q.shard, q.bucket, [q](const auto& ns, auto b, query_outcome& out) {
    const auto* dir = directory_of(ns, b, q.dir, out);
    if (!dir) return;
    readdir_answer page;
    const auto max = std::clamp<std::uint32_t>(q.max, 1, client_readdir_max);
    auto it = dir->entries.upper_bound(q.after);
    for (; it != dir->entries.end() && page.entries.size() < max; ++it)
      if (const auto* child = ns.inode_of(b, it->second))
        page.entries.push_back({it->first, shard::encode_inode(*child)});
    page.more = it != dir->entries.end();
    out.reply.body = std::move(page);
  });
}

/// CL3: only the inode-addressed commands, for a bucket resolved here.
std::optional<std::string> command_problem(const session_state& st, std::uint64_t shard,
                                           const shard::ns_command& c) {
  std::optional<std::uint64_t> bucket;
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, shard::make_node_command> ||
                      std::is_same_v<T, shard::remove_node_command> ||
                      std::is_same_v<T, shard::rename_node_command> ||
                      std::is_same_v<T, shard::link_node_command> ||
                      std::is_same_v<T, shard::set_attributes_command> ||
                      std::is_same_v<T, shard::write_range_command>)
          bucket = body.bucket.value;
      },
      c.body);
  if (std::holds_alternative<shard::report_orphans_command>(c.body)) {
    // Orphans are the shard's (ADR 0007): any bucket resolved there will do.
    const auto it = st.buckets.lower_bound({shard, 0});
    if (it == st.buckets.end() || it->first != shard) return "resolve a bucket of the shard first";
    return std::nullopt;
  }
  if (!bucket) return "a client may not send this command";
  if (!st.buckets.count({shard, *bucket})) return "resolve the bucket by name first";
  return std::nullopt;
}

void serve_command(session_ptr self, std::uint64_t id, const command_query& q) {
  auto c = shard::decode_ns_command(q.command);
  if (!c) return answer(self, status_reply(id, client_status::invalid, "not a namespace command"));
  if (auto why = command_problem(self->state, q.shard, *c))
    return answer(self, status_reply(id, client_status::denied, *why));
  const auto now = self->state.backend.clock();
  c->now_ns = now;
  std::visit(
      [now](auto& body) {
        if constexpr (requires { body.now_ns; }) body.now_ns = now;
      },
      c->body);
  auto shard = self->state.backend.shard_actor(q.shard);
  if (!shard) return answer(self, status_reply(id, client_status::unavailable, "shard not here"));
  self->request(shard, self->state.timeout, shard::ns_atom::value, shard::encode_ns_command(*c))
      .then(
          [=](std::uint8_t code, std::string& value) {
            if (code != 0) return answer(self, status_reply(id, client_status::unavailable, value));
            client_reply r = status_reply(id, client_status::ok, "");
            r.body = command_answer{std::move(value)};
            answer(self, std::move(r));
          },
          [=](caf::error& e) {
            answer(self, status_reply(id, client_status::unavailable, caf::to_string(e)));
          });
}

/// The tenant's ready buckets, from the catalog in the system shard (as
/// S3 ListBuckets reads it). Resolving one by name is still needed before
/// its namespace may be read (CL3).
void list_buckets(session_ptr self, std::uint64_t id) {
  auto system = self->state.backend.system_shard();
  if (!system) return answer(self, status_reply(id, client_status::unavailable, "no catalog"));
  self->request(system, self->state.timeout, shard::scan_atom::value, std::string("bucket/"),
                std::uint64_t{client_buckets_max})
      .then(
          [=](const std::vector<std::string>& flat) {
            std::vector<std::pair<std::string, std::string>> kv;
            for (std::size_t i = 0; i + 1 < flat.size(); i += 2)
              kv.emplace_back(flat[i], flat[i + 1]);
            const auto cat = catalog::parse(kv);
            buckets_answer b;
            for (const auto* e : cat.buckets_of(self->state.tenant))
              if (e->state == entry_state::ready) b.names.push_back(e->name);
            std::sort(b.names.begin(), b.names.end());
            client_reply r = status_reply(id, client_status::ok, "");
            r.body = std::move(b);
            answer(self, std::move(r));
          },
          [=](caf::error&) {
            answer(self,
                   status_reply(id, client_status::unavailable, "the catalog did not answer"));
          });
}

void serve_nodes(session_ptr self, std::uint64_t id) {
  nodes_answer a;
  if (self->state.backend.client_endpoints)
    for (auto& [node, address] : self->state.backend.client_endpoints())
      if (a.nodes.size() < client_nodes_max) a.nodes.push_back({node, std::move(address)});
  client_reply r = status_reply(id, client_status::ok, "");
  r.body = std::move(a);
  answer(self, std::move(r));
}

void serve_devices(session_ptr self, std::uint64_t id) {
  devices_answer d;
  if (auto dir = self->state.backend.devices())
    for (const auto& e : dir->devices)
      d.devices.push_back(
          {e.device.id.value, e.device.node.value, e.device.capacity_bytes, e.device.free_bytes,
           static_cast<std::uint8_t>(e.actor ? e.device.state : placement::device_state::failed)});
  client_reply r = status_reply(id, client_status::ok, "");
  r.body = std::move(d);
  answer(self, std::move(r));
}

void serve_grant(session_ptr self, std::uint64_t id, std::uint64_t epoch) {
  self->request(self->state.backend.key_manager, self->state.timeout, keys::grant_atom::value,
                self->state.tenant, epoch)
      .then(
          [=](std::uint8_t e, const keys::key_grant_ptr& g) {
            if (e != 0 || !g)
              return answer(self, status_reply(id, client_status::denied,
                                               "the key manager refused a grant (error " +
                                                   std::to_string(e) + ")"));
            client_reply r = status_reply(id, client_status::ok, "");
            r.body = grant_answer{g};
            answer(self, std::move(r));
          },
          [=](caf::error& err) {
            answer(self, status_reply(id, client_status::unavailable, caf::to_string(err)));
          });
}

void serve_chunk(session_ptr self, chunk_request&& r) {
  self->state.counters->chunk_requests++;
  auto conn = self->state.conn;
  auto send_back = [conn](chunk_reply reply) { conn.send(client_frame{std::move(reply)}, true); };
  if (r.op != chunk_op::get && r.op != chunk_op::put && r.op != chunk_op::stat) {  // CL4
    chunk_reply refused;
    refused.id = r.id;
    refused.device = r.device;
    refused.status = static_cast<std::uint8_t>(chunk::device_status::io_error);
    return send_back(std::move(refused));
  }
  caf::actor device;
  if (auto dir = self->state.backend.devices())
    if (const auto* e = dir->find(placement::device_id{r.device})) {
      device = e->actor;
      if (e->device.node.value != self->state.node_id)
        self->state.counters->chunk_requests_relayed++;
    }
  serve_chunk_request(self, device, std::move(r), send_back, self->state.timeout);
}

caf::behavior client_session(session_ptr self, connection_handle conn,
                             gateway::node_backend backend, std::uint64_t node_id,
                             std::string nonce, std::string exporter,
                             std::chrono::milliseconds timeout,
                             client_listener_counters* counters) {
  auto& st = self->state;
  st.conn = std::move(conn);
  st.backend = std::move(backend);
  st.node_id = node_id;
  st.nonce = std::move(nonce);
  st.exporter = std::move(exporter);
  st.timeout = timeout;
  st.counters = counters;
  return {
      [self](frame_atom, const frame_ptr& f) {
        auto& s = self->state;
        auto protocol_error = [&](const char* why) {
          s.counters->frames_rejected++;
          s.conn.close(why);
        };
        if (auto* hello = std::get_if<client_hello>(&f->body)) {
          if (s.hello_seen) return protocol_error("a second hello");
          s.hello_seen = true;
          return check_hello(self, std::move(*hello));
        }
        if (!s.welcomed) return protocol_error("a request before the welcome");  // CL1
        if (auto* chunk = std::get_if<chunk_request>(&f->body))
          return serve_chunk(self, std::move(*chunk));
        auto* req = std::get_if<client_request>(&f->body);
        if (!req) return protocol_error("a frame only a node may send");  // CL5
        s.counters->requests++;
        const auto id = req->id;
        auto needs_bucket = [&](std::uint64_t shard, std::uint64_t bucket) {
          if (s.buckets.count({shard, bucket})) return true;
          answer(self, status_reply(id, client_status::denied, "resolve the bucket by name first"));
          return false;
        };
        std::visit(
            [&](auto& q) {
              using T = std::decay_t<decltype(q)>;
              if constexpr (std::is_same_v<T, bucket_query>) {
                resolve_bucket(self, id, q.name);
              } else if constexpr (std::is_same_v<T, inode_query>) {
                if (needs_bucket(q.shard, q.bucket)) serve_inode(self, id, q);
              } else if constexpr (std::is_same_v<T, lookup_query>) {
                if (needs_bucket(q.shard, q.bucket)) serve_lookup(self, id, q);
              } else if constexpr (std::is_same_v<T, readdir_query>) {
                if (needs_bucket(q.shard, q.bucket)) serve_readdir(self, id, q);
              } else if constexpr (std::is_same_v<T, command_query>) {
                serve_command(self, id, q);
              } else if constexpr (std::is_same_v<T, devices_query>) {
                serve_devices(self, id);
              } else if constexpr (std::is_same_v<T, buckets_query>) {
                list_buckets(self, id);
              } else if constexpr (std::is_same_v<T, nodes_query>) {
                serve_nodes(self, id);
              } else {
                static_assert(std::is_same_v<T, grant_query>);
                serve_grant(self, id, q.epoch);
              }
            },
            req->body);
      },
  };
}

// --- the connection (Asio thread) ------------------------------------------------------

void connection::start() {
  auto self = shared_from_this();
  timer.expires_after(owner->settings.handshake_timeout);
  timer.async_wait([self](boost::system::error_code ec) {
    if (!ec) self->close("TLS handshake timed out");
  });
  stream.async_handshake(ssl::stream_base::server, [self](boost::system::error_code ec) {
    if (self->closed) return;
    self->timer.cancel();
    if (ec) return self->close("TLS handshake: " + ec.message());
    std::string exporter(32, '\0'), nonce(client_nonce_bytes, '\0');
    if (SSL_export_keying_material(self->stream.native_handle(),
                                   reinterpret_cast<unsigned char*>(exporter.data()),
                                   exporter.size(), client_exporter_label.data(),
                                   client_exporter_label.size(), nullptr, 0, 0) != 1 ||
        RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()),
                   static_cast<int>(nonce.size())) != 1)
      return self->close("cannot derive the handshake's values");
    auto& o = *self->owner;
    connection_handle handle{o.weak_from_this(), self};
    self->session = o.sys.spawn(client_session, handle, o.backend, o.node_id, nonce,
                                std::move(exporter), o.settings.request_timeout, &o.counters);
    self->write(encode_client_frame(client_frame{client_challenge{std::move(nonce)}}), false);
    self->in_flight = 1;  // the hello to come: nothing more is read until it is answered
    self->read_next();
  });
}

void connection::read_next() {
  if (closed || close_when_written || reading || in_flight >= owner->settings.in_flight_max)
    return;  // CL2
  reading = true;
  auto self = shared_from_this();
  asio::async_read(stream, asio::buffer(prefix), [self](boost::system::error_code ec, std::size_t) {
    if (self->closed) return;
    if (ec) return self->close("read: " + ec.message());
    const std::uint32_t n = decode_frame_length(self->prefix);
    if (n == 0 || n > self->owner->settings.frame_bytes_max) {
      self->owner->counters.frames_rejected++;
      return self->close("a frame of " + std::to_string(n) + " bytes");
    }
    self->body.resize(n);
    asio::async_read(
        self->stream, asio::buffer(self->body), [self](boost::system::error_code ec2, std::size_t) {
          if (self->closed || self->close_when_written) return;
          self->reading = false;
          if (ec2) return self->close("read: " + ec2.message());
          auto decoded = decode_client_frame(self->body, self->owner->settings.frame_bytes_max);
          if (auto* err = std::get_if<frame_error>(&decoded)) {
            self->owner->counters.frames_rejected++;
            return self->close("a bad frame: " + err->reason);  // CL5
          }
          self->on_frame(std::move(std::get<client_frame>(decoded)));
          self->read_next();
        });
  });
}

void connection::on_frame(client_frame&& f) {
  // The hello was counted when the challenge went out.
  if (!std::holds_alternative<client_hello>(f.body)) ++in_flight;
  caf::anon_send(session, frame_atom::value, std::make_shared<client_frame>(std::move(f)));
}

void connection::write(std::string frame, bool answers) {
  if (closed) return;
  if (answers && in_flight > 0) --in_flight;
  writes.push_back(std::move(frame));
  if (!writing) write_next();
  if (answers) read_next();  // a slot is free again (CL2)
}

void connection::write_next() {
  if (writes.empty() || closed) {
    writing = false;
    if (close_when_written) close(close_reason);
    return;
  }
  writing = true;
  auto self = shared_from_this();
  asio::async_write(stream, asio::buffer(writes.front()),
                    [self](boost::system::error_code ec, std::size_t) {
                      if (self->closed) return;
                      if (ec) return self->close("write: " + ec.message());
                      self->writes.pop_front();
                      self->write_next();
                    });
}

void connection::close(const std::string& why, bool flush) {
  if (closed) return;
  if (flush && (writing || !writes.empty())) {
    close_when_written = true;
    close_reason = why;
    if (!writing) write_next();
    return;
  }
  closed = true;
  boost::system::error_code ec;
  timer.cancel();
  stream.lowest_layer().shutdown(tcp::socket::shutdown_both, ec);
  stream.lowest_layer().close(ec);
  writes.clear();
  if (session) caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  owner->counters.open--;
  owner->connections.erase(shared_from_this());
  spdlog::debug("client listener: connection closed: {}", why);
}

}  // namespace

void client_listener::impl::accept_next() {
  acceptor.async_accept(
      [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        if (self->stopped) return;
        if (!ec) {
          self->counters.connections++;
          if (self->connections.size() >= self->settings.connections_max) {  // CL2
            boost::system::error_code ignored;
            socket.close(ignored);
          } else {
            socket.set_option(tcp::no_delay(true), ec);
            auto c = std::make_shared<connection>(self, std::move(socket));
            self->connections.insert(c);
            self->counters.open++;
            c->start();
          }
        }
        self->accept_next();
      });
}

client_listener::client_listener(caf::actor_system& sys, ssl::context& tls,
                                 gateway::node_backend backend, std::uint64_t node_id,
                                 client_listener_settings settings)
    : impl_(std::make_shared<impl>(sys, tls, std::move(backend), node_id, settings)) {}

client_listener::~client_listener() {
  stop();
}

void client_listener::start(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  const std::string where = host + ":" + std::to_string(port);
  if (ec) throw std::runtime_error("client_listen: " + where + " is not an address");
  tcp::endpoint endpoint(address, port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("client_listen: cannot listen on " + where + ": " + ec.message());
  impl_->work.emplace(impl_->io.get_executor());
  impl_->accept_next();
  impl_->thread = std::thread([i = impl_] { i->io.run(); });
}

std::uint16_t client_listener::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void client_listener::stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->io, [i = impl_] {
    boost::system::error_code ec;
    i->acceptor.close(ec);
    for (auto c : std::vector(i->connections.begin(), i->connections.end()))
      c->close("the listener stops");
  });
  impl_->work.reset();
  if (impl_->thread.joinable()) {
    // Closing sockets finishes every pending operation; then run() returns.
    impl_->thread.join();
  }
}

const client_listener_counters& client_listener::counters() const {
  return impl_->counters;
}

}  // namespace cairn::runtime
