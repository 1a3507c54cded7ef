// runtime/node.cpp — see node.h.
#include "runtime/node.h"

#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <random>
#include <sstream>
#include <thread>

#include "actors/shard/shard_actor.h"
#include "runtime/lmdb_disk.h"

namespace cairn::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class spdlog_sink final : public shard::log_sink {
 public:
  void log(shard::log_level level, std::string_view what) override {
    switch (level) {
      case shard::log_level::debug:
        spdlog::debug("shard: {}", what);
        break;
      case shard::log_level::info:
        spdlog::info("shard: {}", what);
        break;
      case shard::log_level::warn:
        spdlog::warn("shard: {}", what);
        break;
      case shard::log_level::error:
        spdlog::error("shard: {}", what);
        break;
    }
  }
};

/// Randomness for election timeouts: seeded once from the OS. (The core
/// only ever sees the seed; the simulator passes its own.)
class os_random final : public shard::random_source {
 public:
  os_random() : gen_(std::random_device{}()) {}
  std::uint64_t next() override { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

/// No peers yet: a single-replica shard sends nothing. Frames addressed to
/// unknown peers are counted and dropped.
class peerless_network final : public shard::network {
 public:
  void send(raft::node_id to, raft::bytes) override {
    dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("no transport to node {} yet; frame dropped", to.value);
  }
  std::atomic<std::uint64_t> dropped{0};
};

using ticker_atom = caf::atom_constant<caf::atom("ticker")>;

/// Drives every local replica with one timer (ticks batched per node).
caf::behavior ticker(caf::event_based_actor* self, std::vector<caf::actor> replicas,
                     std::chrono::milliseconds period) {
  self->send(self, ticker_atom::value);
  return {
      [=](ticker_atom) {
        for (const auto& r : replicas) self->send(r, shard::tick_atom::value);
        self->delayed_send(self, period, ticker_atom::value);
      },
  };
}

struct shard_status {
  bool ok = false;
  std::uint64_t term = 0, commit = 0, applied = 0, last_index = 0, leader = 0, role = 0,
                proposals = 0, fsyncs = 0, rejected = 0;
};

const char* role_name(std::uint64_t r) {
  return raft::to_string(static_cast<raft::role>(r));
}

}  // namespace

struct node::impl {
  node_options opts;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<lmdb_environment> lmdb;
  std::unique_ptr<lmdb_disk> disk;
  spdlog_sink log;
  os_random random;
  peerless_network net;
  caf::actor shard;
  caf::actor tick;
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread http_thread;
  std::atomic<bool> stopping{false};

  shard_status status() {
    shard_status s;
    caf::scoped_actor self{*sys};
    self->request(shard, std::chrono::seconds(2), shard::status_atom::value)
        .receive(
            [&](std::uint64_t term, std::uint64_t commit, std::uint64_t applied, std::uint64_t last,
                std::uint64_t leader, std::uint64_t role, std::uint64_t proposals,
                std::uint64_t fsyncs, std::uint64_t rejected) {
              s = shard_status{true,   term, commit,    applied, last,
                               leader, role, proposals, fsyncs,  rejected};
            },
            [&](caf::error&) { s.ok = false; });
    return s;
  }

  std::pair<std::uint8_t, std::string> kv_request(bool put, const std::string& key,
                                                  const std::string& value) {
    std::pair<std::uint8_t, std::string> out{static_cast<std::uint8_t>(shard::reply_code::timeout),
                                             ""};
    caf::scoped_actor self{*sys};
    auto handle = [&](std::uint8_t code, std::string v) { out = {code, std::move(v)}; };
    auto fail = [&](caf::error&) {};
    if (put) {
      self->request(shard, std::chrono::seconds(5), shard::put_atom::value, key, value)
          .receive(handle, fail);
    } else {
      self->request(shard, std::chrono::seconds(5), shard::get_atom::value, key)
          .receive(handle, fail);
    }
    return out;
  }

  std::string metrics_text() {
    const auto s = status();
    const auto h = disk->fsyncs();
    std::ostringstream o;
    auto gauge = [&](const char* name, const char* help, std::uint64_t v,
                     const char* type = "gauge") {
      o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << "{shard=\"0\"} " << v << '\n';
    };
    gauge("cairn_raft_term", "Current Raft term of the shard replica.", s.term);
    gauge("cairn_raft_commit_index", "Highest log index known committed.", s.commit);
    gauge("cairn_raft_applied_index", "Highest log index applied to the state machine.", s.applied);
    gauge("cairn_raft_last_index", "Last index in the replica's log.", s.last_index);
    gauge("cairn_raft_leader", "Node id of the known leader (0 = none).", s.leader);
    gauge("cairn_raft_is_leader", "1 if this replica is the leader.", s.role == 3 ? 1 : 0);
    gauge("cairn_raft_proposals_total", "Client proposals accepted by this replica.", s.proposals,
          "counter");
    gauge("cairn_raft_messages_rejected_total", "Malformed or invalid Raft messages rejected.",
          s.rejected, "counter");
    gauge("cairn_storage_bytes_written_total", "Bytes written to the Raft log store.",
          disk->bytes_written(), "counter");
    o << "# HELP cairn_storage_fsync_seconds Latency of fsyncs of the Raft log store.\n"
      << "# TYPE cairn_storage_fsync_seconds histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < std::size(fsync_histogram::bounds); ++i) {
      cumulative += h.counts[i];
      o << "cairn_storage_fsync_seconds_bucket{le=\"" << fsync_histogram::bounds[i] << "\"} "
        << cumulative << '\n';
    }
    cumulative += h.counts[std::size(fsync_histogram::bounds)];
    o << "cairn_storage_fsync_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n'
      << "cairn_storage_fsync_seconds_sum " << h.sum << '\n'
      << "cairn_storage_fsync_seconds_count " << h.total << '\n';
    return o.str();
  }

  http::response<http::string_body> handle(const http::request<http::string_body>& req) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "cairn");
    res.keep_alive(req.keep_alive());
    const std::string target(req.target());
    auto reply = [&](http::status st, std::string body,
                     const char* type = "text/plain; charset=utf-8") {
      res.result(st);
      res.set(http::field::content_type, type);
      res.body() = std::move(body);
      res.prepare_payload();
      return res;
    };
    if (target == "/health") {
      const auto s = status();
      if (s.ok && s.leader != 0) return reply(http::status::ok, "ok\n");
      return reply(http::status::service_unavailable, "not ready: no leader yet\n");
    }
    if (target == "/metrics")
      return reply(http::status::ok, metrics_text(), "text/plain; version=0.0.4");
    if (target == "/status") {
      const auto s = status();
      nlohmann::json j = {{"node", opts.node_id},       {"term", s.term},
                          {"commit_index", s.commit},   {"applied_index", s.applied},
                          {"last_index", s.last_index}, {"leader", s.leader},
                          {"role", role_name(s.role)},  {"proposals", s.proposals}};
      return reply(http::status::ok, j.dump(2) + "\n", "application/json");
    }
    if (target.rfind("/kv/", 0) == 0) {
      const std::string key = target.substr(4);
      if (key.empty() || key.size() > shard::kv_key_bytes_max)
        return reply(http::status::bad_request,
                     "key must be 1.." + std::to_string(shard::kv_key_bytes_max) + " bytes\n");
      if (req.method() == http::verb::put) {
        auto [code, v] = kv_request(true, key, req.body());
        if (code == static_cast<std::uint8_t>(shard::reply_code::ok))
          return reply(http::status::ok, "stored\n");
        return reply(http::status::service_unavailable,
                     std::string("not stored: ") +
                         shard::to_string(static_cast<shard::reply_code>(code)) + "\n");
      }
      if (req.method() == http::verb::get) {
        auto [code, v] = kv_request(false, key, "");
        if (code == static_cast<std::uint8_t>(shard::reply_code::ok))
          return reply(http::status::ok, v);
        if (code == static_cast<std::uint8_t>(shard::reply_code::not_found))
          return reply(http::status::not_found, "no such key\n");
        return reply(http::status::service_unavailable,
                     std::string("read failed: ") +
                         shard::to_string(static_cast<shard::reply_code>(code)) + "\n");
      }
      return reply(http::status::method_not_allowed, "use GET or PUT\n");
    }
    return reply(http::status::not_found, "endpoints: /health /metrics /status /kv/<key>\n");
  }

  void serve_connection(tcp::socket socket) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(shard::kv_value_bytes_max);  // bounded memory per request
      http::read(socket, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        http::response<http::string_body> res{http::status::payload_too_large, 11};
        res.body() = "body too large\n";
        res.prepare_payload();
        http::write(socket, res, ec);
        break;
      }
      if (ec) break;
      auto res = handle(parser.get());
      http::write(socket, res, ec);
      if (ec || !res.keep_alive()) break;
    }
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }

  void http_loop() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket socket(io);
      acceptor->accept(socket, ec);
      if (ec) {
        if (stopping) break;
        continue;
      }
      // One connection at a time: the admin endpoint is for operators and
      // scrapers, not for data traffic.
      serve_connection(std::move(socket));
    }
  }
};

node::node(node_options opts) : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
}

node::~node() {
  stop();
}

void node::start() {
  auto& d = *impl_;
  d.cfg.set("logger.verbosity", caf::atom("quiet"));
  d.sys = std::make_unique<caf::actor_system>(d.cfg);
  d.lmdb = std::make_unique<lmdb_environment>(d.opts.data_dir + "/raft");
  raft::conf_state single;
  single.voters = {raft::node_id{d.opts.node_id}};
  d.disk = std::make_unique<lmdb_disk>(*d.lmdb, 0, single);
  shard::replica_options ro;
  ro.raft.id = raft::node_id{d.opts.node_id};
  ro.incarnation = d.random.next() & 0xffffff;
  shard::environment env;
  env.storage = d.disk.get();
  env.net = &d.net;
  env.random = &d.random;
  env.log = &d.log;
  d.shard = d.sys->spawn(shard::shard_actor, ro, env);
  d.tick = d.sys->spawn(ticker, std::vector<caf::actor>{d.shard},
                        std::chrono::milliseconds(d.opts.tick_ms));
  beast::error_code ec;
  auto address = asio::ip::make_address(d.opts.admin_address, ec);
  if (ec)
    throw std::runtime_error("admin address '" + d.opts.admin_address + "' is not an IP address");
  d.acceptor = std::make_unique<tcp::acceptor>(d.io);
  tcp::endpoint ep(address, d.opts.admin_port);
  d.acceptor->open(ep.protocol(), ec);
  if (!ec) d.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor->bind(ep, ec);
  if (!ec) d.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + d.opts.admin_address + ":" +
                             std::to_string(d.opts.admin_port) + ": " + ec.message());
  }
  d.opts.admin_port = d.acceptor->local_endpoint().port();
  d.http_thread = std::thread([&d] { d.http_loop(); });
}

std::string node::admin_endpoint() const {
  return "http://" + impl_->opts.admin_address + ":" + std::to_string(impl_->opts.admin_port);
}

void node::stop() {
  auto& d = *impl_;
  if (!d.sys || d.stopping.exchange(true)) return;
  beast::error_code ec;
  if (d.acceptor) {
    d.acceptor->cancel(ec);
    d.acceptor->close(ec);
    ::shutdown(d.acceptor->native_handle(), SHUT_RDWR);
  }
  // Unblock accept() by connecting once.
  try {
    tcp::socket s(d.io);
    s.connect(tcp::endpoint(asio::ip::make_address(d.opts.admin_address), d.opts.admin_port), ec);
  } catch (...) {
  }
  if (d.http_thread.joinable()) d.http_thread.join();
  caf::anon_send_exit(d.tick, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(d.shard, caf::exit_reason::user_shutdown);
  d.sys->await_all_actors_done();
  d.sys.reset();
  d.disk.reset();
  d.lmdb.reset();
}

}  // namespace cairn::runtime
