// gateways/fuse/cluster_client.cpp — see cluster_client.h.
//
// Threading: connect() runs the TCP connect, the TLS handshake and the
// access-key handshake synchronously on the caller's thread; after that one
// Asio thread owns the stream (reads, and writes posted to it). Callers
// wait on a future per request.
#include "gateways/fuse/cluster_client.h"

#include <utility>  // before Boost.Asio 1.74 (its awaitable.hpp needs std::exchange)

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "runtime/certs.h"
#include "runtime/remote_devices.h"

namespace cairn::fuse {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = ssl::stream<tcp::socket>;
using namespace cairn::runtime;

std::string_view to_string(client_status s) {
  switch (s) {
    case client_status::ok:
      return "ok";
    case client_status::not_found:
      return "not found";
    case client_status::denied:
      return "denied";
    case client_status::unavailable:
      return "unavailable";
    case client_status::invalid:
      return "invalid";
  }
  return "unknown";
}

namespace {

constexpr const char* closed_by_client = "closed by the client";

client_reply unavailable(std::uint64_t id, std::string why) {
  client_reply r;
  r.id = id;
  r.status = client_status::unavailable;
  r.message = std::move(why);
  return r;
}

std::string frame_bytes_of(tls_stream& stream, std::size_t bytes_max) {
  unsigned char prefix[frame_prefix_bytes];
  asio::read(stream, asio::buffer(prefix));
  const auto n = decode_frame_length(prefix);
  if (n == 0 || n > bytes_max)
    throw std::runtime_error("the node sent a frame of " + std::to_string(n) + " bytes");
  std::string body(n, '\0');
  asio::read(stream, asio::buffer(body));
  return body;
}

client_frame read_frame_now(tls_stream& stream) {
  auto decoded =
      decode_client_frame(frame_bytes_of(stream, client_frame_bytes_max), client_frame_bytes_max);
  if (auto* err = std::get_if<frame_error>(&decoded))
    throw std::runtime_error("the node sent a bad frame: " + err->reason);
  return std::move(std::get<client_frame>(decoded));
}

}  // namespace

struct cluster_client::impl : std::enable_shared_from_this<cluster_client::impl> {
  caf::actor_system& sys;
  cluster_client_options options;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::unique_ptr<ssl::context> tls;

  std::mutex connect_mutex;  // one connect at a time
  std::chrono::steady_clock::time_point last_attempt{};

  // --- under mutex
  mutable std::mutex mutex;
  std::condition_variable slot_free;
  std::shared_ptr<tls_stream> stream;  // null: not connected
  std::uint64_t generation = 0;        // bumped per connection
  std::uint64_t tenant = 0, node = 0;
  std::uint64_t next_id = 1;
  /// Buckets resolved on this client: resolved again on every new
  /// connection before it carries calls (the node serves only buckets
  /// resolved on the connection, CL3).
  std::set<std::string> resolved_buckets;
  std::map<std::uint64_t, std::promise<client_reply>> pending;
  std::map<std::uint64_t, caf::actor> proxies;  // by device id

  // --- direct connections (CC-4); on the first node's impl, under mutex
  std::map<std::uint64_t, std::shared_ptr<impl>> direct;  // by node
  std::map<std::uint64_t, std::string> node_addresses;    // the nodes answer
  std::map<std::uint64_t, std::uint64_t> node_of_device;  // devices answer
  std::atomic<std::uint64_t> chunks_direct{0}, chunks_relayed{0};
  std::thread dialer;
  std::condition_variable dial_wake;
  bool dial_stop = false;
  /// Set on a direct connection: where its chunk replies go, and what its
  /// loss fails (the first node's proxies).
  std::function<void(chunk_reply&&)> chunk_sink;
  std::function<void()> on_lost;
  /// A direct connection's node: a connection answered by another node
  /// is refused before it carries anything (it would only relay).
  std::uint64_t expected_node = 0;

  // --- Asio thread
  std::deque<std::string> writes;
  bool writing = false;

  impl(caf::actor_system& s, cluster_client_options o) : sys(s), options(std::move(o)) {
    tls = std::make_unique<ssl::context>(make_client_tls_context(options.ca_cert));
    work.emplace(io.get_executor());
    thread = std::thread([this] { io.run(); });
  }

  /// Stops the Asio thread; from the owner's thread (never from a handler).
  /// The stream is closed by then, so every pending operation completes
  /// (aborted) and run() returns once its handlers ran: none is leaked.
  void shutdown() {
    work.reset();
    if (thread.joinable()) thread.join();
  }

  /// A link dropped without shutdown() (never the first node's) stops its
  /// thread here: a joinable std::thread must not be destroyed.
  ~impl() {
    work.reset();
    if (!thread.joinable()) return;
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // the last reference went in one of its own handlers
    } else {
      io.stop();
      thread.join();
    }
  }

  void connect_now() {
    const auto colon = options.endpoint.rfind(':');
    if (colon == std::string::npos)
      throw std::runtime_error("endpoint " + options.endpoint + " is not host:port");
    const auto host = options.endpoint.substr(0, colon);
    const auto port = options.endpoint.substr(colon + 1);
    auto s = std::make_shared<tls_stream>(io, *tls);
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto endpoints = resolver.resolve(host, port, ec);
    if (ec) throw std::runtime_error("endpoint " + options.endpoint + ": " + ec.message());
    asio::connect(s->lowest_layer(), endpoints, ec);
    if (ec) throw std::runtime_error("cannot connect to " + options.endpoint + ": " + ec.message());
    s->lowest_layer().set_option(tcp::no_delay(true), ec);
    s->handshake(ssl::stream_base::client, ec);
    if (ec)
      throw std::runtime_error("TLS with " + options.endpoint + " failed: " + ec.message() +
                               " (is --ca the cluster's CA?)");
    const auto node_id = peer_node_id(*s);
    if (!node_id)
      throw std::runtime_error(options.endpoint + " presented no cairn node certificate");
    std::string exporter(32, '\0');
    if (SSL_export_keying_material(
            s->native_handle(), reinterpret_cast<unsigned char*>(exporter.data()), exporter.size(),
            client_exporter_label.data(), client_exporter_label.size(), nullptr, 0, 0) != 1)
      throw std::runtime_error("cannot derive the TLS exporter value");
    try {
      auto challenge = read_frame_now(*s);
      auto* c = std::get_if<client_challenge>(&challenge.body);
      if (!c || c->nonce.size() != client_nonce_bytes)
        throw std::runtime_error("the node did not start with a challenge");
      client_hello hello;
      hello.key_id = options.access_key_id;
      hello.proof = client_proof(options.secret.bytes(), c->nonce, exporter);
      asio::write(*s, asio::buffer(encode_client_frame(client_frame{hello})));
      auto answer = read_frame_now(*s);
      auto* w = std::get_if<client_welcome>(&answer.body);
      if (!w) throw std::runtime_error("the node did not answer the hello");
      if (!w->accepted) throw std::runtime_error("the node refused the access key: " + w->reason);
      std::set<std::string> buckets;
      {
        std::lock_guard lock(mutex);
        buckets = resolved_buckets;
      }
      for (const auto& name : buckets) {
        client_request again;
        {
          std::lock_guard lock(mutex);
          again.id = next_id++;
        }
        again.body = bucket_query{name};
        asio::write(*s, asio::buffer(encode_client_frame(client_frame{again})));
        auto reply = read_frame_now(*s);
        auto* r = std::get_if<client_reply>(&reply.body);
        if (r && r->id == again.id && r->status == client_status::not_found) {
          // Deleted meanwhile: its calls will answer ENOENT; the others
          // must not lose their connection over it.
          spdlog::warn("cairn client: bucket {} is gone", name);
          std::lock_guard lock(mutex);
          resolved_buckets.erase(name);
          continue;
        }
        if (!r || r->id != again.id || r->status != client_status::ok)
          throw std::runtime_error("bucket " + name + " cannot be resolved again" +
                                   (r ? ": " + r->message : std::string()));
      }
      if (expected_node != 0 && w->node != expected_node)
        throw std::runtime_error("node " + std::to_string(w->node) + " answered, not node " +
                                 std::to_string(expected_node));
      std::lock_guard lock(mutex);
      stream = s;
      ++generation;
      tenant = w->tenant;
      node = w->node;
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("handshake with " + options.endpoint + ": " + e.what());
    }
    asio::post(io, [self = shared_from_this(), s, gen = generation] { self->read_next(s, gen); });
  }

  /// Reads frames until the stream fails (Asio thread).
  void read_next(std::shared_ptr<tls_stream> s, std::uint64_t gen) {
    auto prefix = std::make_shared<std::array<unsigned char, frame_prefix_bytes>>();
    asio::async_read(
        *s, asio::buffer(*prefix),
        [self = shared_from_this(), s, gen, prefix](boost::system::error_code ec, std::size_t) {
          if (ec) return self->lost(gen, "read: " + ec.message());
          const auto n = decode_frame_length(prefix->data());
          if (n == 0 || n > client_frame_bytes_max)
            return self->lost(gen, "a frame of " + std::to_string(n) + " bytes");
          auto body = std::make_shared<std::string>(n, '\0');
          asio::async_read(*s, asio::buffer(*body),
                           [self, s, gen, body](boost::system::error_code ec2, std::size_t) {
                             if (ec2) return self->lost(gen, "read: " + ec2.message());
                             auto decoded = decode_client_frame(*body, client_frame_bytes_max);
                             if (auto* err = std::get_if<frame_error>(&decoded))
                               return self->lost(gen, "a bad frame: " + err->reason);
                             self->dispatch(std::move(std::get<client_frame>(decoded)));
                             self->read_next(s, gen);
                           });
        });
  }

  void dispatch(client_frame&& f) {
    if (auto* r = std::get_if<client_reply>(&f.body)) {
      std::lock_guard lock(mutex);
      auto it = pending.find(r->id);
      if (it == pending.end()) return;  // timed out already
      it->second.set_value(std::move(*r));
      pending.erase(it);
      slot_free.notify_one();
    } else if (auto* c = std::get_if<chunk_reply>(&f.body)) {
      if (chunk_sink) return chunk_sink(std::move(*c));
      caf::actor proxy;
      {
        std::lock_guard lock(mutex);
        if (auto it = proxies.find(c->device); it != proxies.end()) proxy = it->second;
      }
      if (proxy) deliver_chunk_reply(proxy, std::move(*c));
    }
  }

  /// CC-2: the connection of generation `gen` is gone.
  void lost(std::uint64_t gen, const std::string& why) {
    std::vector<caf::actor> to_fail;
    {
      std::lock_guard lock(mutex);
      if (gen != generation || !stream) return;
      if (why == closed_by_client)
        spdlog::debug("cairn client: connection to {} closed", options.endpoint);
      else
        spdlog::warn("cairn client: connection to {} lost: {}", options.endpoint, why);
      boost::system::error_code ec;
      stream->lowest_layer().close(ec);
      stream.reset();
      for (auto& [id, p] : pending) p.set_value(unavailable(id, "connection lost: " + why));
      pending.clear();
      slot_free.notify_all();
      for (auto& [device, proxy] : proxies) to_fail.push_back(proxy);
    }
    writes.clear();
    writing = false;
    for (auto& p : to_fail) fail_pending_chunk_requests(p);
    if (on_lost) on_lost();
  }

  bool up() const {
    std::lock_guard lock(mutex);
    return stream != nullptr;
  }

  /// Closes the connection from any thread but the Asio one; pending calls
  /// and chunk requests fail (CC-2).
  void close() {
    std::uint64_t gen = 0;
    {
      std::lock_guard lock(mutex);
      gen = generation;
    }
    std::promise<void> done;
    asio::post(io, [self = shared_from_this(), gen, &done] {
      self->lost(gen, closed_by_client);
      done.set_value();
    });
    done.get_future().wait();
  }

  /// A device's chunk request: to its node over a direct connection when
  /// one is up, else through this (the first) node (CC-4).
  bool send_chunk(std::uint64_t device_node, chunk_request r) {
    std::shared_ptr<impl> link;
    bool mine = false;
    {
      std::lock_guard lock(mutex);
      mine = device_node == node;
      if (!mine)
        if (const auto it = direct.find(device_node); it != direct.end()) link = it->second;
    }
    const client_frame frame{std::move(r)};
    if (link && link->up() && link->send(encode_client_frame(frame))) {
      ++chunks_direct;
      return true;
    }
    if (!send(encode_client_frame(frame))) return false;
    ++(mine ? chunks_direct : chunks_relayed);
    return true;
  }

  /// The dialler (CC-4): connects to every node the map lists that has
  /// devices and no live direct connection, at most once per
  /// reconnect_interval each, off the callers' threads (a connect to a
  /// node that is down may take long).
  void dial_loop() {
    std::map<std::uint64_t, std::chrono::steady_clock::time_point> tried;
    std::unique_lock lock(mutex);
    while (!dial_stop) {
      std::map<std::uint64_t, std::string> wanted;
      std::set<std::uint64_t> with_devices;
      for (const auto& [device, n] : node_of_device) with_devices.insert(n);
      for (const auto& [n, address] : node_addresses)
        if (n != node && with_devices.count(n)) wanted.emplace(n, address);
      std::map<std::uint64_t, std::shared_ptr<impl>> links = direct;
      lock.unlock();
      const auto now = std::chrono::steady_clock::now();
      for (const auto& [n, address] : wanted) {
        auto& link = links[n];
        if (link && link->up()) continue;
        if (auto t = tried.find(n);
            t != tried.end() && now - t->second < options.reconnect_interval)
          continue;
        tried[n] = now;
        std::shared_ptr<impl> replaced;
        if (link && link->options.endpoint != address) replaced = std::move(link);
        if (!link) link = make_direct(n, address);
        try {
          std::lock_guard connecting(link->connect_mutex);
          link->connect_now();  // refuses another node than n (expected_node)
          spdlog::info("cairn client: direct connection to node {} at {}", n, address);
        } catch (const std::exception& e) {
          spdlog::warn("cairn client: direct connection to node {} at {}: {}", n, address,
                       e.what());
        }
        {
          std::lock_guard l2(mutex);
          direct[n] = link;
        }
        if (replaced) {  // the node moved: its old link goes, off the mutex
          replaced->close();
          replaced->shutdown();
        }
      }
      lock.lock();
      dial_wake.wait_for(lock, options.reconnect_interval, [&] { return dial_stop; });
    }
  }

  std::shared_ptr<impl> make_direct(std::uint64_t n, const std::string& address) {
    cluster_client_options o;
    o.endpoint = address;
    o.ca_cert = options.ca_cert;
    o.access_key_id = options.access_key_id;
    o.secret = keys::secret_bytes::copy_of(options.secret.bytes());
    o.timeout = options.timeout;
    o.reconnect_interval = options.reconnect_interval;
    o.in_flight_max = options.in_flight_max;
    auto link = std::make_shared<impl>(sys, std::move(o));
    link->expected_node = n;
    std::weak_ptr<impl> first = shared_from_this();
    link->chunk_sink = [first](chunk_reply&& reply) {
      auto f = first.lock();
      if (!f) return;
      caf::actor proxy;
      {
        std::lock_guard lock(f->mutex);
        if (auto it = f->proxies.find(reply.device); it != f->proxies.end()) proxy = it->second;
      }
      if (proxy) deliver_chunk_reply(proxy, std::move(reply));
    };
    link->on_lost = [first, n] {
      auto f = first.lock();
      if (!f) return;
      std::vector<caf::actor> to_fail;
      {
        std::lock_guard lock(f->mutex);
        for (const auto& [device, owner] : f->node_of_device)
          if (owner == n)
            if (auto it = f->proxies.find(device); it != f->proxies.end())
              to_fail.push_back(it->second);
      }
      for (auto& p : to_fail) fail_pending_chunk_requests(p);
    };
    return link;
  }

  /// Stops the dialler and closes every direct connection.
  void stop_direct() {
    {
      std::lock_guard lock(mutex);
      dial_stop = true;
    }
    dial_wake.notify_all();
    if (dialer.joinable()) dialer.join();
    std::map<std::uint64_t, std::shared_ptr<impl>> links;
    {
      std::lock_guard lock(mutex);
      links.swap(direct);
    }
    for (auto& [n, link] : links) {
      link->close();
      link->shutdown();
    }
  }

  /// Queues an encoded frame for the current connection; false if there
  /// is none.
  bool send(std::string bytes) {
    std::shared_ptr<tls_stream> s;
    std::uint64_t gen = 0;
    {
      std::lock_guard lock(mutex);
      s = stream;
      gen = generation;
    }
    if (!s) return false;
    asio::post(io, [self = shared_from_this(), s, gen, bytes = std::move(bytes)]() mutable {
      {
        std::lock_guard lock(self->mutex);
        if (gen != self->generation || !self->stream) return;
      }
      self->writes.push_back(std::move(bytes));
      if (!self->writing) self->write_next(s, gen);
    });
    return true;
  }

  void write_next(std::shared_ptr<tls_stream> s, std::uint64_t gen) {
    if (writes.empty()) {
      writing = false;
      return;
    }
    writing = true;
    asio::async_write(
        *s, asio::buffer(writes.front()),
        [self = shared_from_this(), s, gen](boost::system::error_code ec, std::size_t) {
          if (ec) return self->lost(gen, "write: " + ec.message());
          if (self->writes.empty()) return;
          self->writes.pop_front();
          self->write_next(s, gen);
        });
  }

  void ensure_connected() {
    {
      std::lock_guard lock(mutex);
      if (stream) return;
    }
    std::lock_guard lock(connect_mutex);
    {
      std::lock_guard l2(mutex);
      if (stream) return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_attempt < options.reconnect_interval) return;
    last_attempt = now;
    try {
      connect_now();
      spdlog::info("cairn client: connected to {} (node {})", options.endpoint, node);
    } catch (const std::exception& e) {
      spdlog::warn("cairn client: reconnecting to {}: {}", options.endpoint, e.what());
    }
  }
};

cluster_client::cluster_client(caf::actor_system& sys, cluster_client_options options)
    : impl_(std::make_shared<impl>(sys, std::move(options))) {}

cluster_client::~cluster_client() {
  impl_->stop_direct();
  disconnect();
  impl_->shutdown();
  std::lock_guard lock(impl_->mutex);
  for (auto& [device, proxy] : impl_->proxies)
    caf::anon_send_exit(proxy, caf::exit_reason::user_shutdown);
  impl_->proxies.clear();
}

void cluster_client::connect() {
  std::lock_guard lock(impl_->connect_mutex);
  impl_->last_attempt = std::chrono::steady_clock::now();
  impl_->connect_now();
}

bool cluster_client::connected() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stream != nullptr;
}

std::uint64_t cluster_client::tenant() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->tenant;
}

std::uint64_t cluster_client::node() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->node;
}

void cluster_client::disconnect() {
  impl_->close();
}

cluster_client::chunk_routes cluster_client::routes() const {
  chunk_routes r;
  r.direct = impl_->chunks_direct;
  r.relayed = impl_->chunks_relayed;
  std::lock_guard lock(impl_->mutex);
  for (const auto& [n, link] : impl_->direct)
    if (link->up()) ++r.direct_connections;
  return r;
}

client_reply cluster_client::call(request_body body) {
  auto& i = *impl_;
  std::optional<std::string> resolving;
  if (const auto* b = std::get_if<bucket_query>(&body)) resolving = b->name;
  i.ensure_connected();
  const auto deadline = std::chrono::steady_clock::now() + i.options.timeout;
  std::uint64_t id = 0;
  std::future<client_reply> answer;
  {
    std::unique_lock lock(i.mutex);
    // CC-3: wait for a slot.
    if (!i.slot_free.wait_until(lock, deadline, [&] {
          return !i.stream || i.pending.size() < i.options.in_flight_max;
        }))
      return unavailable(0, "too many requests in flight");
    if (!i.stream) return unavailable(0, "not connected to " + i.options.endpoint);
    id = i.next_id++;
    answer = i.pending[id].get_future();
  }
  if (!i.send(encode_client_frame(client_frame{client_request{id, std::move(body)}}))) {
    std::lock_guard lock(i.mutex);
    i.pending.erase(id);
    return unavailable(id, "not connected to " + i.options.endpoint);
  }
  if (answer.wait_until(deadline) == std::future_status::ready) {
    auto reply = answer.get();
    if (reply.status == client_status::ok && std::holds_alternative<bucket_answer>(reply.body) &&
        resolving) {
      std::lock_guard lock(i.mutex);
      i.resolved_buckets.insert(*resolving);
    }
    return reply;
  }
  std::lock_guard lock(i.mutex);
  if (auto it = i.pending.find(id); it != i.pending.end()) {
    i.pending.erase(it);
    i.slot_free.notify_one();
    return unavailable(id, "no reply within the timeout");
  }
  return answer.get();  // answered just now
}

std::shared_ptr<const gateway::device_directory> cluster_client::devices() {
  auto reply = call(devices_query{});
  auto out = std::make_shared<gateway::device_directory>();
  if (reply.status != client_status::ok) return out;
  const auto& listed = std::get<devices_answer>(reply.body).devices;
  // CC-4: where the other nodes listen, for direct connections.
  std::optional<std::map<std::uint64_t, std::string>> addresses;
  const auto first = node();
  if (std::any_of(listed.begin(), listed.end(), [&](const auto& d) { return d.node != first; })) {
    auto nodes = call(nodes_query{});
    if (nodes.status == client_status::ok) {
      addresses.emplace();
      for (const auto& n : std::get<nodes_answer>(nodes.body).nodes)
        addresses->emplace(n.node, n.address);
    }
  }
  std::lock_guard lock(impl_->mutex);
  if (addresses) {
    impl_->node_addresses = std::move(*addresses);
    if (!impl_->dialer.joinable())
      impl_->dialer = std::thread([i = impl_.get()] { i->dial_loop(); });
    impl_->dial_wake.notify_all();
  }
  for (const auto& d : listed) {
    impl_->node_of_device[d.id] = d.node;
    auto& proxy = impl_->proxies[d.id];
    if (!proxy) {
      std::weak_ptr<impl> weak = impl_;
      remote_devices_options o;
      o.timeout = impl_->options.timeout;
      proxy = spawn_device_proxy(
          impl_->sys, d.id,
          [weak, owner = d.node](chunk_request r) {
            auto i = weak.lock();
            return i && i->send_chunk(owner, std::move(r));
          },
          o);
    }
    const auto state = static_cast<placement::device_state>(d.state);
    out->devices.push_back(
        {placement::device{placement::device_id{d.id}, placement::node_id{d.node}, d.capacity_bytes,
                           d.free_bytes, state},
         state == placement::device_state::failed ? caf::actor{} : proxy});
  }
  return out;
}

}  // namespace cairn::fuse
