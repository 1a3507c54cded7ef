// runtime/transport.cpp — see transport.h.
//
// Threading: one Asio thread owns every socket, timer and the io-side state
// of each peer. Other threads (shard actors, the node's controller) only
// touch a peer's send queue under its mutex and post a flush.
#include "runtime/transport.h"

#include <utility>  // before Boost.Asio 1.74 (its awaitable.hpp needs std::exchange)

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "runtime/certs.h"

namespace cairn::runtime {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using tls_stream = ssl::stream<tcp::socket>;

namespace {
constexpr std::size_t control_frames_max = 16;
}

/// One TLS connection, either direction: reads frames, writes a queue.
struct session : std::enable_shared_from_this<session> {
  session(asio::io_context& io, ssl::context& tls, bool outbound)
      : stream(io, tls), outbound(outbound), timer(io) {}

  tls_stream stream;
  bool outbound;
  asio::steady_timer timer;  // handshake deadline, then liveness checks
  std::uint64_t peer_id = 0;
  bool closed = false;
  clock_type::time_point last_heard = clock_type::now();
  std::deque<std::string> writes;
  bool writing = false;
  std::uint64_t queued_bytes = 0;
  unsigned char prefix[frame_prefix_bytes] = {};
  std::string body;
  std::function<void(const std::shared_ptr<session>&, transport_frame&&)> on_frame;
  std::function<void(const std::shared_ptr<session>&, const std::string&)> on_closed;
  std::function<void(std::uint64_t)> on_written;  // bytes written
  std::size_t frame_bytes_max = 0;
  transport_counters* counters = nullptr;

  void close(const std::string& why) {
    if (closed) return;
    closed = true;
    boost::system::error_code ec;
    timer.cancel();
    stream.lowest_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream.lowest_layer().close(ec);
    writes.clear();
    queued_bytes = 0;
    if (on_closed) on_closed(shared_from_this(), why);
  }

  void read_next() {
    auto self = shared_from_this();
    asio::async_read(
        stream, asio::buffer(prefix), [self](boost::system::error_code ec, std::size_t) {
          if (self->closed) return;
          if (ec) return self->close("read: " + ec.message());
          const std::uint32_t n = decode_frame_length(self->prefix);
          if (n == 0 || n > self->frame_bytes_max) {
            self->counters->frames_rejected++;
            return self->close("peer sent a frame of " + std::to_string(n) + " bytes (limit " +
                               std::to_string(self->frame_bytes_max) + ")");
          }
          self->body.resize(n);
          asio::async_read(self->stream, asio::buffer(self->body),
                           [self](boost::system::error_code ec2, std::size_t) {
                             if (self->closed) return;
                             if (ec2) return self->close("read: " + ec2.message());
                             self->counters->bytes_received +=
                                 self->body.size() + frame_prefix_bytes;
                             self->counters->frames_received++;
                             auto decoded = decode_frame(self->body, self->frame_bytes_max);
                             if (auto* err = std::get_if<frame_error>(&decoded)) {
                               self->counters->frames_rejected++;
                               return self->close("peer sent a bad frame: " + err->reason);
                             }
                             auto& f = std::get<transport_frame>(decoded);
                             if (f.from != self->peer_id) {
                               self->counters->frames_rejected++;
                               return self->close("frame claims node " + std::to_string(f.from) +
                                                  " but the certificate says node " +
                                                  std::to_string(self->peer_id));
                             }
                             self->last_heard = clock_type::now();
                             self->on_frame(self, std::move(f));
                             if (!self->closed) self->read_next();
                           });
        });
  }

  void write(std::string frame) {
    if (closed) return;
    queued_bytes += frame.size();
    writes.push_back(std::move(frame));
    if (!writing) write_next();
  }

  void write_next() {
    if (writes.empty() || closed) {
      writing = false;
      return;
    }
    writing = true;
    auto self = shared_from_this();
    asio::async_write(stream, asio::buffer(writes.front()),
                      [self](boost::system::error_code ec, std::size_t n) {
                        if (self->closed) return;
                        if (ec) return self->close("write: " + ec.message());
                        self->counters->bytes_sent += n;
                        self->counters->frames_sent++;
                        self->queued_bytes -= self->writes.front().size();
                        self->writes.pop_front();
                        if (self->on_written) self->on_written(n);
                        self->write_next();
                      });
  }
};

/// A node we dial. The queue is shared with sending threads (under
/// `mutex`); the rest belongs to the transport thread.
struct peer_state {
  explicit peer_state(asio::io_context& io) : reconnect_timer(io), ping_timer(io) {}

  std::string address;
  // --- shared, under mutex
  std::mutex mutex;
  std::uint64_t expected_id = 0;
  std::vector<shard_message> pending;
  std::uint64_t pending_bytes = 0;
  std::deque<std::string> control;  // encoded join frames, kept until connected
  std::deque<std::string> data;     // encoded chunk frames (N5)
  std::uint64_t data_bytes = 0;
  bool flush_posted = false;
  std::atomic<bool> connected{false};
  std::atomic<bool> dial_requested{false};
  std::atomic<std::uint64_t> in_flight_bytes{0};  // encoded, in the session's queue
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::int64_t> last_heard_ms{-1};  // steady clock ms
  bool forgotten = false;
  // --- transport thread only
  enum class phase { idle, connecting, connected, backoff } state = phase::idle;
  std::shared_ptr<session> current;
  asio::steady_timer reconnect_timer;
  asio::steady_timer ping_timer;
  std::uint64_t backoff_ms = 0;
  std::uint64_t ping_sequence = 0;
  bool drop_logged = false;
};

struct transport::impl : std::enable_shared_from_this<transport::impl> {
  asio::io_context io;  // first: destroyed last
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::uint64_t self_id;
  transport_settings settings;
  ssl::context& tls;
  handlers h;
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<bool> stopped{false};
  transport_counters counters;
  std::mt19937_64 jitter{std::random_device{}()};

  mutable std::mutex mutex;  // guards the two maps
  std::map<std::string, std::shared_ptr<peer_state>> peers_by_address;
  std::map<std::uint64_t, std::string> address_of;
  std::set<std::shared_ptr<session>> inbound;  // transport thread only

  impl(std::uint64_t self, transport_settings s, ssl::context& t, handlers hh)
      : self_id(self), settings(s), tls(t), h(std::move(hh)) {}

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock_type::now().time_since_epoch())
        .count();
  }

  std::shared_ptr<peer_state> peer_for_address(const std::string& address) {
    std::lock_guard lock(mutex);
    auto& p = peers_by_address[address];
    if (!p) {
      p = std::make_shared<peer_state>(io);
      p->address = address;
    }
    return p;
  }

  std::shared_ptr<peer_state> peer_for_id(std::uint64_t id) {
    std::lock_guard lock(mutex);
    auto a = address_of.find(id);
    if (a == address_of.end()) return nullptr;
    auto p = peers_by_address.find(a->second);
    return p == peers_by_address.end() ? nullptr : p->second;
  }

  // --- sessions ---------------------------------------------------------

  std::shared_ptr<session> make_session(bool outbound) {
    auto s = std::make_shared<session>(io, tls, outbound);
    s->frame_bytes_max = settings.frame_bytes_max;
    s->counters = &counters;
    s->on_frame = [this](const std::shared_ptr<session>& from, transport_frame&& f) {
      dispatch(from, std::move(f));
    };
    return s;
  }

  void dispatch(const std::shared_ptr<session>& s, transport_frame&& f) {
    if (auto* b = std::get_if<raft_batch>(&f.body)) {
      counters.messages_received += b->messages.size();
      if (h.on_raft) h.on_raft(f.from, std::move(b->messages));
    } else if (auto* p = std::get_if<ping>(&f.body)) {
      s->write(encode_frame(transport_frame{self_id, pong{p->sequence}}));
    } else if (std::holds_alternative<pong>(f.body)) {
      // last_heard was updated by the session.
    } else if (auto* j = std::get_if<join_request>(&f.body)) {
      if (j->node.id != f.from) {
        spdlog::warn("transport: node {} asked to join as node {}; ignored", f.from, j->node.id);
        return;
      }
      if (h.on_join) h.on_join(f.from, *j);
    } else if (auto* r = std::get_if<join_reply>(&f.body)) {
      if (h.on_join_reply) h.on_join_reply(f.from, *r);
    } else if (auto* c = std::get_if<chunk_request>(&f.body)) {
      if (h.on_chunk_request) h.on_chunk_request(f.from, std::move(*c));
    } else if (auto* c = std::get_if<chunk_reply>(&f.body)) {
      if (h.on_chunk_reply) h.on_chunk_reply(f.from, std::move(*c));
    }
  }

  // --- accepting ---------------------------------------------------------

  void accept_next() {
    auto s = make_session(false);
    acceptor.async_accept(s->stream.lowest_layer(), [this, s](boost::system::error_code ec) {
      if (stopped) return;
      if (!ec) start_inbound(s);
      accept_next();
    });
  }

  void start_inbound(const std::shared_ptr<session>& s) {
    boost::system::error_code ec;
    s->stream.lowest_layer().set_option(tcp::no_delay(true), ec);
    inbound.insert(s);
    s->on_closed = [this](const std::shared_ptr<session>& closed, const std::string& why) {
      counters.disconnects++;
      spdlog::info("transport: inbound connection from node {} closed: {}", closed->peer_id, why);
      inbound.erase(closed);
    };
    arm_deadline(s, settings.dead_after_ms, "TLS handshake timed out");
    s->stream.async_handshake(ssl::stream_base::server, [this, s](boost::system::error_code hec) {
      if (s->closed) return;
      if (hec) {
        counters.handshakes_rejected++;
        spdlog::warn("transport: rejected an inbound connection: TLS handshake failed: {}",
                     hec.message());
        s->on_closed = [this](const std::shared_ptr<session>& c, const std::string&) {
          inbound.erase(c);
        };
        return s->close("handshake failed");
      }
      auto id = peer_node_id(s->stream);
      if (!id) {
        counters.handshakes_rejected++;
        spdlog::warn("transport: rejected an inbound connection: certificate names no node id");
        return s->close("no node id in certificate");
      }
      s->peer_id = *id;
      s->last_heard = clock_type::now();
      watch_liveness(s);
      s->read_next();
    });
  }

  void arm_deadline(const std::shared_ptr<session>& s, std::uint64_t ms, std::string why) {
    s->timer.expires_after(std::chrono::milliseconds(ms));
    s->timer.async_wait([s, why](boost::system::error_code ec) {
      if (!ec && !s->closed) s->close(why);
    });
  }

  void watch_liveness(const std::shared_ptr<session>& s) {
    s->timer.expires_after(std::chrono::milliseconds(settings.heartbeat_ms));
    s->timer.async_wait([this, s](boost::system::error_code ec) {
      if (ec || s->closed) return;
      const auto silent =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - s->last_heard)
              .count();
      if (static_cast<std::uint64_t>(silent) > settings.dead_after_ms)
        return s->close("peer silent for " + std::to_string(silent) + " ms");
      watch_liveness(s);
    });
  }

  // --- dialling ------------------------------------------------------------

  void dial(const std::shared_ptr<peer_state>& p) {
    if (stopped || p->state == peer_state::phase::connecting ||
        p->state == peer_state::phase::connected)
      return;
    {
      std::lock_guard lock(p->mutex);
      if (p->forgotten) return;
    }
    p->state = peer_state::phase::connecting;
    auto hp = parse_host_port(p->address);
    if (!hp) {
      spdlog::error("transport: peer address '{}' is not host:port", p->address);
      p->state = peer_state::phase::idle;
      return;
    }
    auto s = make_session(true);
    auto resolver = std::make_shared<tcp::resolver>(io);
    arm_deadline(s, settings.dead_after_ms, "connect timed out");
    s->on_closed = [this, p](const std::shared_ptr<session>& c, const std::string& why) {
      on_outbound_closed(p, c, why);
    };
    resolver->async_resolve(
        hp->host, std::to_string(hp->port),
        [this, p, s, resolver](boost::system::error_code ec, tcp::resolver::results_type results) {
          if (s->closed) return;
          if (ec) return s->close("resolve: " + ec.message());
          asio::async_connect(s->stream.lowest_layer(), results,
                              [this, p, s](boost::system::error_code cec, const tcp::endpoint&) {
                                if (s->closed) return;
                                if (cec) return s->close("connect: " + cec.message());
                                boost::system::error_code oec;
                                s->stream.lowest_layer().set_option(tcp::no_delay(true), oec);
                                s->stream.async_handshake(
                                    ssl::stream_base::client,
                                    [this, p, s](boost::system::error_code hec) {
                                      if (s->closed) return;
                                      if (hec) return s->close("TLS: " + hec.message());
                                      on_outbound_handshake(p, s);
                                    });
                              });
        });
  }

  void on_outbound_handshake(const std::shared_ptr<peer_state>& p,
                             const std::shared_ptr<session>& s) {
    auto id = peer_node_id(s->stream);
    std::uint64_t expected = 0;
    {
      std::lock_guard lock(p->mutex);
      expected = p->expected_id;
    }
    if (!id || (expected != 0 && *id != expected)) {
      counters.handshakes_rejected++;
      return s->close("peer at " + p->address + " presented node id " +
                      (id ? std::to_string(*id) : std::string("none")) + ", expected " +
                      std::to_string(expected));
    }
    s->peer_id = *id;
    s->timer.cancel();
    s->last_heard = clock_type::now();
    // Only the transport thread changes in_flight_bytes; every write on
    // this session (batches, control frames, pings) was added first.
    s->on_written = [p](std::uint64_t n) {
      const std::uint64_t cur = p->in_flight_bytes.load();
      p->in_flight_bytes = cur > n ? cur - n : 0;
    };
    p->current = s;
    p->state = peer_state::phase::connected;
    p->backoff_ms = 0;
    p->drop_logged = false;
    p->connected = true;
    p->last_heard_ms = now_ms();
    counters.connects++;
    spdlog::info("transport: connected to node {} at {}", *id, p->address);
    if (h.on_peer_up) h.on_peer_up(*id);
    s->read_next();
    ping_loop(p, s);
    flush(p);
  }

  void on_outbound_closed(const std::shared_ptr<peer_state>& p, const std::shared_ptr<session>& s,
                          const std::string& why) {
    const bool was_connected = p->current == s;
    if (was_connected) {
      counters.disconnects++;
      spdlog::warn("transport: connection to {} lost: {}", p->address, why);
      p->current.reset();
      p->connected = false;
      p->in_flight_bytes = 0;
      if (h.on_peer_down && s->peer_id) h.on_peer_down(s->peer_id);
    } else {
      counters.connect_failures++;
      if (p->backoff_ms == 0 || p->backoff_ms >= settings.reconnect_max_ms)
        spdlog::info("transport: cannot reach {}: {}", p->address, why);
    }
    {
      std::lock_guard lock(p->mutex);
      counters.messages_dropped += p->pending.size();
      p->dropped += p->pending.size();
      p->pending.clear();
      p->pending_bytes = 0;
      p->data.clear();
      p->data_bytes = 0;
    }
    p->ping_timer.cancel();
    schedule_redial(p);
  }

  void schedule_redial(const std::shared_ptr<peer_state>& p) {
    if (stopped) return;
    p->backoff_ms = p->backoff_ms == 0 ? settings.reconnect_min_ms
                                       : std::min(settings.reconnect_max_ms, p->backoff_ms * 2);
    // Jitter: 50..100% of the backoff, so peers do not redial in lockstep.
    const std::uint64_t wait = p->backoff_ms / 2 + jitter() % (p->backoff_ms / 2 + 1);
    p->state = peer_state::phase::backoff;
    p->reconnects++;
    p->reconnect_timer.expires_after(std::chrono::milliseconds(wait));
    p->reconnect_timer.async_wait([this, p](boost::system::error_code ec) {
      if (ec || stopped) return;
      p->state = peer_state::phase::idle;
      // Redial only if someone still wants to talk to this peer.
      bool wanted = false;
      {
        std::lock_guard lock(p->mutex);
        wanted = !p->forgotten && (p->expected_id != 0 || !p->control.empty());
      }
      if (wanted) dial(p);
    });
  }

  void ping_loop(const std::shared_ptr<peer_state>& p, const std::shared_ptr<session>& s) {
    p->ping_timer.expires_after(std::chrono::milliseconds(settings.heartbeat_ms));
    p->ping_timer.async_wait([this, p, s](boost::system::error_code ec) {
      if (ec || s->closed || p->current != s) return;
      const auto silent =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - s->last_heard)
              .count();
      p->last_heard_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(s->last_heard.time_since_epoch())
              .count();
      if (static_cast<std::uint64_t>(silent) > settings.dead_after_ms)
        return s->close("no pong for " + std::to_string(silent) + " ms");
      std::string frame = encode_frame(transport_frame{self_id, ping{++p->ping_sequence}});
      p->in_flight_bytes += frame.size();
      s->write(std::move(frame));
      ping_loop(p, s);
    });
  }

  // --- sending -------------------------------------------------------------

  void post_flush(const std::shared_ptr<peer_state>& p) {
    // Caller holds p->mutex.
    if (p->flush_posted) return;
    p->flush_posted = true;
    asio::post(io, [this, p] { flush(p); });
  }

  void flush(const std::shared_ptr<peer_state>& p) {
    std::vector<shard_message> batch;
    std::deque<std::string> control;
    std::deque<std::string> data;
    {
      std::lock_guard lock(p->mutex);
      p->flush_posted = false;
      if (p->state != peer_state::phase::connected) {
        if (p->state == peer_state::phase::idle) {
          // Dial outside the lock below.
        }
      } else {
        batch.swap(p->pending);
        p->pending_bytes = 0;
        control.swap(p->control);
        data.swap(p->data);
        p->data_bytes = 0;
      }
    }
    if (p->state == peer_state::phase::idle) return dial(p);
    if (p->state != peer_state::phase::connected) return;
    auto& s = p->current;
    for (auto& c : control) {
      p->in_flight_bytes += c.size();
      s->write(std::move(c));
    }
    // Split the batch into frames under the size limit (N1), in order (N4).
    raft_batch frame;
    std::size_t frame_bytes = 64;
    auto emit = [&] {
      if (frame.messages.empty()) return;
      counters.messages_sent += frame.messages.size();
      std::string bytes = encode_frame(transport_frame{self_id, std::move(frame)});
      p->in_flight_bytes += bytes.size();
      s->write(std::move(bytes));
      frame = raft_batch{};
      frame_bytes = 64;
    };
    for (auto& m : batch) {
      const std::size_t cost = shard_message_wire_bytes(m);
      if (cost + 64 > settings.frame_bytes_max) {
        counters.messages_dropped++;
        p->dropped++;
        spdlog::error("transport: dropped a {}-byte message for shard {}: over the frame limit",
                      m.frame.size(), m.shard);
        continue;
      }
      if (frame_bytes + cost > settings.frame_bytes_max) emit();
      frame_bytes += cost;
      frame.messages.push_back(std::move(m));
    }
    emit();
    // Chunk frames after Raft: a heartbeat never waits behind a megabyte.
    for (auto& d : data) {
      p->in_flight_bytes += d.size();
      s->write(std::move(d));
    }
  }

  /// Queues an encoded chunk frame (N5): false, and nothing queued, when
  /// the peer is not connected or its queue is full.
  bool enqueue_data(const std::shared_ptr<peer_state>& p, std::string bytes) {
    std::lock_guard lock(p->mutex);
    if (!p->connected) {
      if (!p->dial_requested.exchange(true))
        asio::post(io, [this, p] {
          p->dial_requested = false;
          if (p->state == peer_state::phase::idle) dial(p);
        });
      return false;
    }
    if (bytes.size() > settings.frame_bytes_max ||
        p->pending_bytes + p->data_bytes + p->in_flight_bytes + bytes.size() >
            settings.send_queue_bytes_max)
      return false;
    p->data_bytes += bytes.size();
    p->data.push_back(std::move(bytes));
    post_flush(p);
    return true;
  }

  void enqueue(const std::shared_ptr<peer_state>& p, shard_message m) {
    const std::uint64_t bytes = m.frame.size();
    std::lock_guard lock(p->mutex);
    if (!p->connected) {
      p->dropped++;
      counters.messages_dropped++;
      if (!p->dial_requested.exchange(true))
        asio::post(io, [this, p] {
          p->dial_requested = false;
          if (p->state == peer_state::phase::idle) dial(p);
        });
      return;
    }
    if (p->pending_bytes + p->in_flight_bytes + bytes > settings.send_queue_bytes_max) {
      p->dropped++;
      counters.messages_dropped++;
      return;
    }
    p->pending_bytes += bytes;
    p->pending.push_back(std::move(m));
    post_flush(p);
  }

  void enqueue_control(const std::shared_ptr<peer_state>& p, std::string frame) {
    std::lock_guard lock(p->mutex);
    if (p->control.size() >= control_frames_max) p->control.pop_front();
    p->control.push_back(std::move(frame));
    post_flush(p);
  }
};

transport::transport(std::uint64_t self, transport_settings settings, ssl::context& tls, handlers h)
    : impl_(std::make_shared<impl>(self, settings, tls, std::move(h))) {}

transport::~transport() {
  stop();
}

void transport::start(const host_port& listen) {
  auto& d = *impl_;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(listen.host, ec);
  if (ec) throw std::runtime_error("listen: '" + listen.host + "' is not an IP address");
  tcp::endpoint ep(address, listen.port);
  d.acceptor.open(ep.protocol(), ec);
  if (!ec) d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(ep, ec);
  if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("listen: cannot listen on " + listen.to_string() + ": " +
                             ec.message());
  d.work.emplace(d.io.get_executor());
  d.accept_next();
  d.thread = std::thread([&d] {
    for (;;) {
      try {
        d.io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("transport: handler threw: {}", e.what());
      }
    }
  });
}

void transport::stop() {
  auto& d = *impl_;
  if (d.stopped.exchange(true)) return;
  asio::post(d.io, [&d] {
    boost::system::error_code ec;
    d.acceptor.close(ec);
    std::vector<std::shared_ptr<session>> all(d.inbound.begin(), d.inbound.end());
    for (auto& s : all) s->close("stopping");
    std::lock_guard lock(d.mutex);
    for (auto& [a, p] : d.peers_by_address) {
      p->reconnect_timer.cancel();
      p->ping_timer.cancel();
      if (p->current) {
        // Break the peer <-> session reference cycle (on_written captures
        // the peer) so both are freed.
        auto s = p->current;
        s->on_closed = nullptr;
        s->on_written = nullptr;
        s->close("stopping");
        p->current.reset();
      }
    }
    d.work.reset();
    d.io.stop();
  });
  if (d.thread.joinable()) d.thread.join();
}

std::uint16_t transport::listen_port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void transport::set_peer_address(std::uint64_t id, const std::string& address) {
  auto& d = *impl_;
  if (id == d.self_id) return;
  std::shared_ptr<peer_state> old_peer;
  {
    std::lock_guard lock(d.mutex);
    auto it = d.address_of.find(id);
    if (it != d.address_of.end() && it->second == address) return;
    if (it != d.address_of.end()) {
      auto op = d.peers_by_address.find(it->second);
      if (op != d.peers_by_address.end()) old_peer = op->second;
    }
    d.address_of[id] = address;
  }
  auto p = d.peer_for_address(address);
  {
    std::lock_guard lock(p->mutex);
    p->expected_id = id;
    p->forgotten = false;
  }
  if (old_peer && old_peer != p) {
    {
      std::lock_guard lock(old_peer->mutex);
      old_peer->forgotten = true;
    }
    asio::post(d.io, [old_peer] {
      if (old_peer->current) old_peer->current->close("address changed");
    });
  }
  spdlog::info("transport: node {} is at {}", id, address);
  // Dial now, so the admin API can tell a down peer from an idle one.
  asio::post(d.io, [&d, p] {
    if (p->state == peer_state::phase::idle) d.dial(p);
  });
}

void transport::forget_peer(std::uint64_t id) {
  auto& d = *impl_;
  std::shared_ptr<peer_state> p;
  {
    std::lock_guard lock(d.mutex);
    auto it = d.address_of.find(id);
    if (it == d.address_of.end()) return;
    auto pit = d.peers_by_address.find(it->second);
    if (pit != d.peers_by_address.end()) p = pit->second;
    d.address_of.erase(it);
  }
  if (!p) return;
  {
    std::lock_guard lock(p->mutex);
    p->forgotten = true;
    p->expected_id = 0;
  }
  asio::post(d.io, [p] {
    p->reconnect_timer.cancel();
    if (p->current) p->current->close("peer forgotten");
  });
}

void transport::send_raft(std::uint64_t to, std::uint64_t shard, std::string frame) {
  auto p = impl_->peer_for_id(to);
  if (!p) {
    impl_->counters.messages_dropped++;
    return;
  }
  impl_->enqueue(p, shard_message{shard, std::move(frame)});
}

bool transport::send_chunk_request(std::uint64_t to, chunk_request request) {
  auto p = impl_->peer_for_id(to);
  if (!p) return false;
  return impl_->enqueue_data(p, encode_frame(transport_frame{impl_->self_id, std::move(request)}));
}

bool transport::send_chunk_reply(std::uint64_t to, chunk_reply reply) {
  auto p = impl_->peer_for_id(to);
  if (!p) return false;
  return impl_->enqueue_data(p, encode_frame(transport_frame{impl_->self_id, std::move(reply)}));
}

void transport::send_join(const std::string& address, const join_request& request) {
  auto p = impl_->peer_for_address(address);
  impl_->enqueue_control(p, encode_frame(transport_frame{impl_->self_id, request}));
}

void transport::send_join_reply(std::uint64_t to, const join_reply& reply) {
  auto p = impl_->peer_for_id(to);
  if (!p) {
    spdlog::warn("transport: no address for node {}; join reply dropped", to);
    return;
  }
  impl_->enqueue_control(p, encode_frame(transport_frame{impl_->self_id, reply}));
}

std::vector<peer_status> transport::peers() const {
  auto& d = *impl_;
  std::vector<peer_status> out;
  const auto now = impl::now_ms();
  std::lock_guard lock(d.mutex);
  for (const auto& [address, p] : d.peers_by_address) {
    peer_status s;
    s.address = address;
    {
      std::lock_guard plock(p->mutex);
      if (p->forgotten) continue;
      s.id = p->expected_id;
      s.queued_bytes = p->pending_bytes + p->in_flight_bytes;
    }
    s.connected = p->connected;
    s.messages_dropped = p->dropped;
    s.reconnects = p->reconnects;
    const auto heard = p->last_heard_ms.load();
    s.last_heard_seconds_ago = heard < 0 ? -1 : static_cast<double>(now - heard) / 1000.0;
    out.push_back(std::move(s));
  }
  return out;
}

bool transport::peer_alive(std::uint64_t id) const {
  auto p = impl_->peer_for_id(id);
  if (!p || !p->connected) return false;
  const auto heard = p->last_heard_ms.load();
  return heard >= 0 && static_cast<std::uint64_t>(impl::now_ms() - heard) <=
                           impl_->settings.dead_after_ms + impl_->settings.heartbeat_ms;
}

const transport_counters& transport::counters() const {
  return impl_->counters;
}

}  // namespace cairn::runtime
