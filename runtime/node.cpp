// runtime/node.cpp — see node.h and docs/runtime.md.
//
// Threads: CAF's scheduler runs the shard actors; the transport has its
// own Asio thread; the admin HTTP server has one Asio thread; the
// controller is a plain thread that runs once per `controller_period` and
// runs queued admin jobs (join, create shard, remove node), blocking on
// the system shard's replies. The registry of hosted shards is shared and
// guarded by `mutex`.
#include "runtime/node.h"

#include <utility>  // before Boost.Asio 1.74 (its awaitable.hpp needs std::exchange)

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "actors/keys/openssl_random_source.h"
#include "actors/shard/shard_actor.h"
#include "gateways/nfs/server.h"
#include "gateways/s3/server.h"
#include "runtime/catalog.h"
#include "runtime/certs.h"
#include "runtime/chunk_collector.h"
#include "runtime/chunk_service.h"
#include "runtime/client_listener.h"
#include "runtime/cluster_map.h"
#include "runtime/event_log.h"
#include "runtime/lmdb_disk.h"
#include "runtime/master_key_file.h"
#include "runtime/remote_devices.h"
#include "runtime/tenant_admin.h"
#include "runtime/transport.h"

namespace cairn::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

std::int64_t wall_clock_ns() {
  return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
}

/// "a=1&b=2" -> {(a, 1), (b, 2)}; no percent-decoding (admin parameters
/// are numbers).
std::vector<std::pair<std::string, std::string>> parse_query(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t at = 0;
  while (at < query.size()) {
    auto end = query.find('&', at);
    if (end == std::string::npos) end = query.size();
    const auto item = query.substr(at, end - at);
    const auto eq = item.find('=');
    if (!item.empty())
      out.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
    at = end + 1;
  }
  return out;
}

/// The node id in a PEM certificate file (see certs.h), if any.
std::optional<std::uint64_t> certificate_file_node_id(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "r"), &std::fclose);
  if (!f) return std::nullopt;
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr),
                                              &X509_free);
  if (!cert) return std::nullopt;
  return node_id_of_certificate(cert.get());
}

constexpr auto controller_period = std::chrono::milliseconds(100);
constexpr auto request_timeout = std::chrono::seconds(10);
constexpr auto join_retry = std::chrono::seconds(1);

class shard_log final : public shard::log_sink {
 public:
  explicit shard_log(std::uint64_t shard) : shard_(shard) {}
  void log(shard::log_level level, std::string_view what) override {
    switch (level) {
      case shard::log_level::debug:
        spdlog::debug("shard {}: {}", shard_, what);
        break;
      case shard::log_level::info:
        spdlog::info("shard {}: {}", shard_, what);
        break;
      case shard::log_level::warn:
        spdlog::warn("shard {}: {}", shard_, what);
        break;
      case shard::log_level::error:
        spdlog::error("shard {}: {}", shard_, what);
        break;
    }
  }

 private:
  std::uint64_t shard_;
};

/// Election randomness for one replica, seeded from the OS (the core only
/// sees the seed; the simulator passes its own).
class os_random final : public shard::random_source {
 public:
  os_random() : gen_(std::random_device{}()) {}
  std::uint64_t next() override { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

/// A replica's view of the network: its shard's frames over the node
/// transport (or nowhere, for a node without peers).
class shard_network final : public shard::network {
 public:
  shard_network(std::uint64_t shard, transport* t) : shard_(shard), transport_(t) {}
  void send(raft::node_id to, raft::bytes frame) override {
    if (transport_) transport_->send_raft(to.value, shard_, std::move(frame));
  }

 private:
  std::uint64_t shard_;
  transport* transport_;
};

using ticker_atom = caf::atom_constant<caf::atom("ticker")>;
using add_atom = caf::atom_constant<caf::atom("add")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;

struct ticker_state {
  std::vector<caf::actor> replicas;
  static inline const char* name = "cairn.ticker";
};

/// Drives every local replica with one timer: ticks are batched per node.
caf::behavior ticker(caf::stateful_actor<ticker_state>* self, std::chrono::milliseconds period) {
  self->send(self, ticker_atom::value);
  return {
      [=](ticker_atom) {
        for (const auto& r : self->state.replicas) self->send(r, shard::tick_atom::value);
        self->delayed_send(self, period, ticker_atom::value);
      },
      [=](add_atom, caf::actor a) {
        if (std::find(self->state.replicas.begin(), self->state.replicas.end(), a) ==
            self->state.replicas.end())
          self->state.replicas.push_back(a);
      },
      [=](remove_atom, caf::actor a) { std::erase(self->state.replicas, a); },
  };
}

/// The latest summary a replica published (after each batch of work).
class status_slot final : public shard::status_sink {
 public:
  void publish(const shard::replica_summary& s) override {
    std::lock_guard lock(mutex_);
    summary_ = s;
  }
  std::optional<shard::replica_summary> get() const {
    std::lock_guard lock(mutex_);
    return summary_;
  }
  /// The known leader (0 = none) without copying the summary.
  std::uint64_t leader() const {
    std::lock_guard lock(mutex_);
    return summary_ ? summary_->leader.value : 0;
  }
  bool is_leader() const {
    std::lock_guard lock(mutex_);
    return summary_ && summary_->role == raft::role::leader;
  }
  json describe() const {
    auto s = get();
    return s ? shard::describe_replica_json(*s) : json();
  }

 private:
  mutable std::mutex mutex_;
  std::optional<shard::replica_summary> summary_;
};

/// Node-level liveness of peers, from the transport (one ping per node
/// pair stands in for every shard's heartbeats, see replica::wants_ticks).
class transport_liveness final : public shard::peer_liveness {
 public:
  explicit transport_liveness(const transport* t) : transport_(t) {}
  bool alive(raft::node_id node) const override {
    return transport_ && transport_->peer_alive(node.value);
  }

 private:
  const transport* transport_;
};

struct hosted_shard {
  std::uint64_t id = 0;
  std::unique_ptr<lmdb_disk> disk;
  std::unique_ptr<shard_network> net;
  std::unique_ptr<shard_log> log;
  std::unique_ptr<os_random> random;
  status_slot status;
  caf::actor actor;
  std::atomic<bool> leaving{false};  // set before the node stops it on purpose
  json last_describe() const { return status.describe(); }
};

bool conf_matches(const shard::replica_summary& s, const shard::membership_target& t) {
  auto sorted = [](std::vector<raft::node_id> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  return s.conf.voters_outgoing.empty() && sorted(s.conf.voters) == sorted(t.voters) &&
         sorted(s.conf.learners) == sorted(t.learners);
}

bool in_conf(const shard::replica_summary& s, std::uint64_t node) {
  for (const auto* v : {&s.conf.voters, &s.conf.learners, &s.conf.voters_outgoing})
    for (auto id : *v)
      if (id.value == node) return true;
  return false;
}

using response = http::response<http::string_body>;
using respond_fn = std::function<void(response)>;

response make_response(unsigned version, bool keep_alive, http::status st, std::string body,
                       const char* type = "text/plain; charset=utf-8") {
  response res{st, version};
  res.set(http::field::server, "cairn");
  res.set(http::field::content_type, type);
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

struct node::impl {
  node_config cfg;
  node_mode mode;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  caf::actor_system_config caf_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<lmdb_environment> lmdb;
  std::unique_ptr<event_log> events;
  std::unique_ptr<chunk_service> chunks;
  std::unique_ptr<s3::s3_server> s3;
  std::unique_ptr<nfs::nfs_server> nfs;
  std::unique_ptr<asio::ssl::context> client_tls;
  std::unique_ptr<client_listener> clients;
  std::string client_address;  // set before the controller starts, then read only
  std::unique_ptr<tenant_admin> tenants;
  caf::actor collector;
  std::shared_ptr<collector_stats> gc_stats = std::make_shared<collector_stats>();
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<transport> net;
  std::unique_ptr<remote_devices> remote;
  transport_liveness liveness{nullptr};
  caf::actor tick;
  // The cluster key a joining node waits for (ADR 0006), from a join reply.
  std::mutex key_mutex;
  std::condition_variable key_arrived;
  std::string received_cluster_key;
  bool awaiting_cluster_key = false;

  // --- shared state, under `mutex`
  mutable std::mutex mutex;
  std::map<std::uint64_t, std::shared_ptr<hosted_shard>> shards;
  std::set<std::uint64_t> wanted;  // shards a peer sent messages for
  cluster_map map;
  bool joined = false;
  bool registered = false;  // the map lists this node as it is now
  bool removed = false;
  std::deque<std::function<void()>> jobs;
  std::condition_variable wake;

  std::atomic<bool> stopping{false};
  std::thread controller;
  std::chrono::steady_clock::time_point last_join_attempt{};
  std::chrono::steady_clock::time_point last_registration{};
  std::chrono::steady_clock::time_point last_device_publish{};
  std::uint64_t map_applied = 0;
  bool storage_full =
      false;  // controller thread only  // system shard index the cached map reflects

  // requests from the HTTP thread to shard actors (ask_shard)
  caf::actor bridge;
  std::mutex tickets_mutex;
  std::map<std::uint64_t, std::function<void(std::uint8_t, std::string)>> tickets;
  std::uint64_t next_ticket = 1;

  // admin HTTP
  asio::io_context http_io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread http_thread;
  std::string admin_address;  // host:port actually bound

  std::uint64_t self() const { return cfg.node_id; }

  std::string advertised_transport() const {
    if (!cfg.advertise.empty()) return cfg.advertise;
    if (cfg.listen.empty()) return "";
    auto hp = parse_host_port(cfg.listen);
    hp->port = net ? net->listen_port() : hp->port;
    return hp->to_string();
  }

  node_entry self_entry() const {
    return node_entry{self(), advertised_transport(), admin_address, false, client_address};
  }

  // --- hosting replicas ---------------------------------------------------

  std::shared_ptr<hosted_shard> host(std::uint64_t id) {
    std::lock_guard lock(mutex);
    auto it = shards.find(id);
    return it == shards.end() ? nullptr : it->second;
  }

  /// Creates the local replica of shard `id`: bootstrapped with `initial`
  /// when given and nothing is stored; otherwise from what is stored (or
  /// empty, waiting for a snapshot from the leader).
  std::shared_ptr<hosted_shard> create_replica(std::uint64_t id,
                                               const std::vector<std::uint64_t>* initial) {
    if (auto h = host(id)) return h;
    auto h = std::make_shared<hosted_shard>();
    h->id = id;
    h->disk = std::make_unique<lmdb_disk>(*lmdb, id);
    if (h->disk->tombstoned()) return nullptr;
    if (initial && !h->disk->has_state()) {
      raft::conf_state conf;
      for (auto n : *initial) conf.voters.push_back(raft::node_id{n});
      h->disk->bootstrap(conf, shard::kv_state_machine{}.snapshot());
      spdlog::info("shard {}: bootstrapped with {} voter(s)", id, initial->size());
    }
    h->net = std::make_unique<shard_network>(id, net.get());
    h->log = std::make_unique<shard_log>(id);
    h->random = std::make_unique<os_random>();
    shard::replica_options ro;
    ro.raft.id = raft::node_id{self()};
    ro.raft.election_timeout_ticks = cfg.raft.election_ticks;
    ro.raft.heartbeat_interval_ticks = cfg.raft.heartbeat_ticks;
    ro.incarnation = h->random->next() & 0xffffff;
    ro.snapshot_every_entries = cfg.raft.snapshot_entries;
    ro.snapshot_log_percent = cfg.raft.snapshot_log_percent;
    ro.retain_entries_after_snapshot = std::min<std::uint64_t>(1000, cfg.raft.snapshot_entries);
    ro.request_timeout_ticks = std::max<std::uint64_t>(
        20, 10'000 / std::max<std::uint64_t>(1, cfg.raft.tick_ms));  // ~10 s
    ro.batch_inputs = true;
    shard::environment env;
    env.storage = h->disk.get();
    env.net = h->net.get();
    env.random = h->random.get();
    env.log = h->log.get();
    env.liveness = &liveness;
    env.status = &h->status;
    h->actor = sys->spawn(shard::ticked_shard_actor, ro, env, tick);
    // A replica that stops on its own failed its storage (fail-stop, S4):
    // the node stops too, and its supervisor restarts it from what is
    // durable. Followers elsewhere see the node go and elect.
    h->actor->attach_functor([h = h.get(), this](const caf::error& reason) {
      if (h->leaving || stopping) return;
      spdlog::critical("shard {}: replica stopped ({}); stopping the node", h->id,
                       sys->render(reason));
      std::_Exit(3);
    });
    std::lock_guard lock(mutex);
    shards[id] = h;
    wanted.erase(id);
    return h;
  }

  void destroy_replica(const std::shared_ptr<hosted_shard>& h) {
    {
      std::lock_guard lock(mutex);
      shards.erase(h->id);
    }
    h->leaving = true;
    caf::anon_send(tick, remove_atom::value, h->actor);
    caf::scoped_actor self_actor{*sys};
    self_actor->send_exit(h->actor, caf::exit_reason::user_shutdown);
    self_actor->wait_for(h->actor);
    h->disk->destroy();
    spdlog::info("shard {}: replica removed from this node", h->id);
  }

  // --- talking to local replicas (controller thread; blocking) -----------

  template <class... Ts>
  std::pair<std::uint8_t, std::string> call(const caf::actor& a, Ts&&... xs) {
    std::pair<std::uint8_t, std::string> out{static_cast<std::uint8_t>(shard::reply_code::timeout),
                                             "no reply"};
    caf::scoped_actor self_actor{*sys};
    self_actor->request(a, request_timeout, std::forward<Ts>(xs)...)
        .receive(
            [&](std::uint8_t code, std::string v) {
              out = {code, std::move(v)};
            },
            [&](caf::error& e) { out.second = sys->render(e); });
    return out;
  }

  std::optional<cluster_map> read_map(const caf::actor& system_actor) {
    std::optional<cluster_map> out;
    caf::scoped_actor self_actor{*sys};
    self_actor
        ->request(system_actor, std::chrono::seconds(2), shard::scan_atom::value, std::string(),
                  std::uint64_t{1'000'000})
        .receive(
            [&](const std::vector<std::string>& flat) {
              std::vector<std::pair<std::string, std::string>> kv;
              for (std::size_t i = 0; i + 1 < flat.size(); i += 2)
                kv.emplace_back(flat[i], flat[i + 1]);
              std::vector<std::string> problems;
              out = cluster_map::parse(kv, &problems);
              for (const auto& p : problems) spdlog::warn("cluster map: {}", p);
            },
            [&](caf::error&) {});
    return out;
  }

  /// Proposes a change to the cluster map through the local system replica.
  std::pair<std::uint8_t, std::string> propose_map(const std::string& key,
                                                   const std::optional<std::string>& expected,
                                                   bool expect_absent, const std::string& value) {
    auto sys_host = host(system_shard);
    if (!sys_host)
      return {static_cast<std::uint8_t>(shard::reply_code::dropped), "not a cluster member yet"};
    return call(sys_host->actor, shard::cas_atom::value, key, expect_absent, expected.value_or(""),
                value);
  }

  // --- the controller ---------------------------------------------------------

  void run_controller() {
    while (!stopping) {
      std::deque<std::function<void()>> todo;
      {
        std::unique_lock lock(mutex);
        wake.wait_for(lock, controller_period, [&] { return stopping || !jobs.empty(); });
        if (stopping) break;
        todo.swap(jobs);
      }
      for (auto& job : todo) {
        try {
          job();
        } catch (const std::exception& e) {
          spdlog::error("controller: job failed: {}", e.what());
        }
      }
      try {
        reconcile_once();
      } catch (const std::exception& e) {
        spdlog::error("controller: {}", e.what());
      }
    }
  }

  void post_job(std::function<void()> job) {
    {
      std::lock_guard lock(mutex);
      jobs.push_back(std::move(job));
    }
    wake.notify_one();
  }

  void reconcile_once() {
    const auto space = lmdb->refresh_space();
    if (space.full != storage_full) {
      storage_full = space.full;
      if (space.full)
        spdlog::error("storage: refusing new writes: {}", space.why);
      else
        spdlog::info("storage: space is back; accepting writes again");
    }
    auto sys_host = host(system_shard);
    if (!sys_host) {
      bool is_joined = false;
      {
        std::lock_guard lock(mutex);
        is_joined = joined;
      }
      if (cfg.bootstrap || mode.dev) {
        const std::vector<std::uint64_t> initial{self()};
        create_replica(system_shard, &initial);
      } else if (is_joined) {
        create_replica(system_shard, nullptr);
      } else {
        try_join();
      }
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto sys_sum = sys_host->status.get();
    // The map changes only when the system shard applies something.
    std::optional<cluster_map> m;
    const std::uint64_t applied = sys_sum ? sys_sum->applied.value : 0;
    if (applied != 0 && applied == map_applied) {
      std::lock_guard lock(mutex);
      m = map;
    } else {
      m = read_map(sys_host->actor);
      if (!m) return;
      std::lock_guard lock(mutex);
      map = *m;
      map_applied = applied;
    }
    // Where the peers are.
    if (net) {
      for (const auto& [id, n] : m->nodes) {
        if (id == self()) continue;
        if (n.removed)
          net->forget_peer(id);
        else if (!n.transport.empty())
          net->set_peer_address(id, n.transport);
      }
    }
    const bool sys_member =
        sys_sum && (!sys_sum->conf.voters.empty() || !sys_sum->conf.learners.empty());
    const bool sys_leader = sys_sum && sys_sum->role == raft::role::leader;
    // Register (or re-register a changed address of) this node.
    auto me = m->nodes.find(self());
    if (sys_member &&
        (me == m->nodes.end() || (!me->second.removed && me->second != self_entry())) &&
        now - last_registration > std::chrono::milliseconds(500)) {
      last_registration = now;
      auto [code, why] = propose_map(node_key(self()), std::nullopt, false, encode(self_entry()));
      // A cas with expect_absent=false and an empty expected value fails
      // on an existing entry; overwrite that with a put.
      if (code == static_cast<std::uint8_t>(shard::reply_code::cas_failed))
        std::tie(code, why) =
            call(sys_host->actor, shard::put_atom::value, node_key(self()), encode(self_entry()));
      if (code != 0) spdlog::info("controller: registering this node: {}", why);
    }
    {
      std::lock_guard lock(mutex);
      registered = me != m->nodes.end() && me->second == self_entry();
    }
    if (sys_member && registered && chunks) publish_devices(*m, sys_host->actor);
    if (me != m->nodes.end() && me->second.removed) {
      std::lock_guard lock(mutex);
      if (!removed) spdlog::warn("controller: this node was removed from the cluster");
      removed = true;
    }
    // `cairn dev` serves key-value requests from its first data shard.
    if (mode.dev && sys_leader && m->shards.empty()) create_shard(1);
    // Host every shard the map gives this node, and the ones peers asked for.
    std::set<std::uint64_t> asked;
    {
      std::lock_guard lock(mutex);
      asked = wanted;
      wanted.clear();
    }
    for (const auto& [id, s] : m->shards) {
      const bool in_initial =
          std::find(s.initial.begin(), s.initial.end(), self()) != s.initial.end();
      const bool in_target =
          std::find(s.replicas.begin(), s.replicas.end(), self()) != s.replicas.end();
      if (host(id) || (!in_initial && !in_target && !asked.count(id))) continue;
      create_replica(id, in_initial ? &s.initial : nullptr);
    }
    if (asked.count(system_shard) && !host(system_shard)) create_replica(system_shard, nullptr);
    // Every local leader moves its membership toward the map's target;
    // replicas this node should no longer hold are removed once their
    // group has let go of them.
    std::vector<std::shared_ptr<hosted_shard>> local;
    {
      std::lock_guard lock(mutex);
      for (auto& [id, h] : shards) local.push_back(h);
    }
    for (auto& h : local) {
      const auto sum = h->status.get();
      if (!sum) continue;
      auto target = m->target_of(h->id);
      if (h->id == system_shard) {
        // A member the map does not list yet (a join or a registration in
        // flight) is not unwanted: only a node marked removed is.
        for (auto n : sum->conf.voters)
          if (!m->nodes.count(n.value)) target.voters.push_back(n);
        for (auto n : sum->conf.learners)
          if (!m->nodes.count(n.value)) target.learners.push_back(n);
      }
      if (sum->role == raft::role::leader && !target.voters.empty() &&
          !conf_matches(*sum, target)) {
        std::vector<std::uint64_t> voters, learners;
        for (auto v : target.voters) voters.push_back(v.value);
        for (auto l : target.learners) learners.push_back(l.value);
        caf::scoped_actor self_actor{*sys};
        self_actor
            ->request(h->actor, std::chrono::seconds(2), shard::reconcile_atom::value, voters,
                      learners)
            .receive(
                [&](const std::string& what) {
                  if (!what.empty()) spdlog::info("shard {}: membership: {}", h->id, what);
                },
                [&](caf::error&) {});
      }
      const bool wanted_here = std::any_of(target.voters.begin(), target.voters.end(),
                                           [&](raft::node_id n) { return n.value == self(); }) ||
                               std::any_of(target.learners.begin(), target.learners.end(),
                                           [&](raft::node_id n) { return n.value == self(); });
      // The system replica goes only with this node (marked removed); a
      // data replica once the map and its group both let go of it.
      const bool let_go = h->id == system_shard ? (me != m->nodes.end() && me->second.removed)
                                                : m->shards.count(h->id) != 0;
      if (let_go && !wanted_here && !in_conf(*sum, self()) && sum->applied.value > 1)
        destroy_replica(h);
    }
  }

  void try_join() {
    const auto now = std::chrono::steady_clock::now();
    if (!net || now - last_join_attempt < join_retry) return;
    last_join_attempt = now;
    for (const auto& peer : cfg.peers) {
      spdlog::info("controller: asking {} to let node {} join", peer, self());
      net->send_join(peer,
                     join_request{node_address{self(), advertised_transport(), admin_address}});
    }
  }

  /// Runs on the controller thread (a job): adds a node to the map.
  void handle_join(std::uint64_t from, join_request req) {
    join_reply reply;
    cluster_map m;
    {
      std::lock_guard lock(mutex);
      m = map;
    }
    auto existing = m.nodes.find(from);
    if (existing != m.nodes.end() && existing->second.removed) {
      reply.reason = "node " + std::to_string(from) + " was removed from this cluster";
    } else if (!host(system_shard)) {
      reply.reason = "node " + std::to_string(self()) + " is not a cluster member yet";
    } else {
      node_entry entry{from, req.node.transport, req.node.admin, false,
                       ""};  // its client address: when it registers itself
      auto [code, why] =
          existing == m.nodes.end()
              ? propose_map(node_key(from), std::nullopt, true, encode(entry))
              : propose_map(node_key(from), encode(existing->second), false, encode(entry));
      if (code == 0 || (existing != m.nodes.end() && existing->second == entry)) {
        reply.accepted = true;
        // ADR 0006: the joiner's certificate names `from` (checked by the
        // transport); it gets the cluster key to unwrap tenant keys.
        const auto key = chunks->cluster_key();
        reply.cluster_key.assign(key.bytes().begin(), key.bytes().end());
        // This node first: the map may not list it yet, and the joiner
        // needs a way back to the cluster until it has a copy of the map.
        const node_entry me = self_entry();
        reply.nodes.push_back(node_address{me.id, me.transport, me.admin});
        for (const auto& [id, n] : m.nodes)
          if (!n.removed && id != self())
            reply.nodes.push_back(node_address{id, n.transport, n.admin});
        spdlog::info("controller: node {} at {} joins the cluster", from, req.node.transport);
      } else {
        reply.reason = std::string("could not record the node: ") +
                       shard::to_string(static_cast<shard::reply_code>(code)) + " " + why;
      }
    }
    net->set_peer_address(from, req.node.transport);
    net->send_join_reply(from, reply);
    OPENSSL_cleanse(reply.cluster_key.data(), reply.cluster_key.size());
  }

  /// A node joining with no master key file: asks its peers until one
  /// accepts it and sends the cluster key, and stores it (MK1) before the
  /// key manager starts. Throws when no peer answers within two minutes.
  void receive_cluster_key(const std::string& path) {
    spdlog::info("keys: {} does not exist; asking the cluster for its key", path);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    std::unique_lock lock(key_mutex);
    awaiting_cluster_key = true;
    while (received_cluster_key.empty()) {
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error(
            "join: no peer accepted this node and sent the cluster key within 120 s (peers: " +
            [&] {
              std::string all;
              for (const auto& p : cfg.peers) all += (all.empty() ? "" : ", ") + p;
              return all;
            }() +
            ")");
      lock.unlock();
      for (const auto& peer : cfg.peers)
        net->send_join(peer,
                       join_request{node_address{self(), advertised_transport(), admin_address}});
      lock.lock();
      key_arrived.wait_for(lock, join_retry, [&] { return !received_cluster_key.empty(); });
    }
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(received_cluster_key.data());
    store_master_key(path, std::span<const std::uint8_t>(bytes, received_cluster_key.size()));
    OPENSSL_cleanse(received_cluster_key.data(), received_cluster_key.size());
    received_cluster_key.clear();
    awaiting_cluster_key = false;
    spdlog::info("keys: stored the cluster key at {}", path);
  }

  /// Controller thread: creates a data shard; returns its entry or an error.
  std::variant<shard_entry, std::string> create_shard(std::size_t replicas) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      cluster_map m;
      if (auto sys_host = host(system_shard)) {
        auto fresh = read_map(sys_host->actor);
        if (!fresh) return std::string("cannot read the cluster map");
        m = *fresh;
      } else {
        return std::string("this node is not a cluster member yet");
      }
      shard_entry s;
      s.id = m.next_shard_id();
      s.replicas = m.place(replicas);
      s.initial = s.replicas;
      if (s.replicas.size() < replicas)
        return "asked for " + std::to_string(replicas) + " replicas but the cluster has " +
               std::to_string(s.replicas.size()) + " active node(s)";
      auto [code, why] = propose_map(shard_key(s.id), std::nullopt, true, encode(s));
      if (code == 0) {
        spdlog::info("controller: created shard {} on {} node(s)", s.id, s.replicas.size());
        return s;
      }
      if (code != static_cast<std::uint8_t>(shard::reply_code::cas_failed))
        return std::string("cannot record the shard: ") + why;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // map not applied here yet
    }
    return std::string("could not allocate a shard id; try again");
  }

  /// Controller thread: marks a node removed and moves its replicas.
  std::variant<json, std::string> remove_node(std::uint64_t id) {
    auto sys_host = host(system_shard);
    if (!sys_host) return std::string("this node is not a cluster member yet");
    auto m = read_map(sys_host->actor);
    if (!m) return std::string("cannot read the cluster map");
    auto it = m->nodes.find(id);
    if (it == m->nodes.end()) return std::string("no node ") + std::to_string(id);
    json out{{"node", id}, {"moved", json::array()}};
    if (!it->second.removed) {
      if (m->active_nodes().size() <= 1) return std::string("cannot remove the last active node");
      node_entry updated = it->second;
      updated.removed = true;
      auto [code, why] = propose_map(node_key(id), encode(it->second), false, encode(updated));
      if (code != 0) return std::string("cannot mark the node removed: ") + why;
      m->nodes[id] = updated;
    }
    for (auto& [sid, s] : m->shards) {
      if (std::find(s.replicas.begin(), s.replicas.end(), id) == s.replicas.end()) continue;
      shard_entry updated = s;
      std::erase(updated.replicas, id);
      std::vector<std::uint64_t> exclude = s.replicas;
      auto replacement = m->place(1, exclude);
      if (!replacement.empty()) updated.replicas.push_back(replacement.front());
      std::sort(updated.replicas.begin(), updated.replicas.end());
      if (updated.replicas.empty()) continue;  // keep the last copy where it is
      auto [code, why] = propose_map(shard_key(sid), encode(s), false, encode(updated));
      if (code != 0) return std::string("cannot move shard ") + std::to_string(sid) + ": " + why;
      out["moved"].push_back(
          {{"shard", sid}, {"to", replacement.empty() ? json() : json(replacement.front())}});
      s = updated;
    }
    return out;
  }

  // --- transport callbacks (transport thread) -------------------------------

  void on_raft(std::uint64_t from, std::vector<shard_message>&& batch) {
    std::lock_guard lock(mutex);
    for (auto& m : batch) {
      auto it = shards.find(m.shard);
      if (it == shards.end()) {
        // Created by the controller if the map (or, for the system shard,
        // a join) says so; the sender retransmits.
        wanted.insert(m.shard);
        continue;
      }
      caf::anon_send(it->second->actor, shard::raft_atom::value, from, std::move(m.frame));
    }
  }

  void on_join_reply(std::uint64_t from, const join_reply& reply) {
    if (!reply.accepted) {
      spdlog::error("join refused by node {}: {}", from, reply.reason);
      return;
    }
    for (const auto& n : reply.nodes)
      if (n.id != self()) net->set_peer_address(n.id, n.transport);
    if (!reply.cluster_key.empty()) {
      std::lock_guard lock(key_mutex);
      if (awaiting_cluster_key && received_cluster_key.empty()) {
        received_cluster_key = reply.cluster_key;
        key_arrived.notify_all();
      }
    }
    std::lock_guard lock(mutex);
    if (!joined) spdlog::info("joined the cluster through node {}", from);
    joined = true;
  }

  // --- admin HTTP -------------------------------------------------------------

  /// Asks a shard actor from a short-lived actor and answers on the HTTP
  /// thread; no thread blocks while Raft commits.
  /// Asks a shard actor through the node's long-lived bridge actor and
  /// answers on the HTTP thread; no thread blocks while Raft commits, and
  /// no actor is spawned per request.
  template <class Atom, class... Ts>
  void ask_shard(caf::actor shard_actor, std::function<void(std::uint8_t, std::string)> done,
                 Atom atom, Ts... xs) {
    std::uint64_t ticket;
    {
      std::lock_guard lock(tickets_mutex);
      ticket = next_ticket++;
      tickets.emplace(ticket, std::move(done));
    }
    caf::anon_send(bridge, atom, std::move(shard_actor), std::move(xs)..., ticket);
  }

  /// Called by the bridge actor with a shard's answer.
  void complete(std::uint64_t ticket, std::uint8_t code, std::string value) {
    std::function<void(std::uint8_t, std::string)> done;
    {
      std::lock_guard lock(tickets_mutex);
      auto it = tickets.find(ticket);
      if (it == tickets.end()) return;
      done = std::move(it->second);
      tickets.erase(it);
    }
    done(code, std::move(value));
  }

  bool ready(std::string& why) const {
    std::lock_guard lock(mutex);
    if (removed) {
      why = "this node was removed from the cluster";
      return false;
    }
    auto it = shards.find(system_shard);
    if (it == shards.end()) {
      why = "not a cluster member yet (joining)";
      return false;
    }
    if (it->second->status.leader() == 0) {
      why = "the system shard has no leader yet";
      return false;
    }
    if (!registered) {
      why = "this node is not in the cluster map yet";
      return false;
    }
    for (const auto& [id, h] : shards) {
      if (id == system_shard) continue;
      if (h->status.leader() == 0) {
        why = "shard " + std::to_string(id) + " has no leader yet";
        return false;
      }
    }
    if (mode.dev && shards.size() < 2) {
      why = "the first data shard is being created";
      return false;
    }
    return true;
  }

  std::string metrics_text() const;

  /// The S3 gateway over this node's shards, devices and key manager;
  /// access keys come from the catalog (tenant_admin).
  /// What a gateway needs from this node (gateways/common/backend.h).
  gateway::node_backend gateway_backend() {
    gateway::node_backend b;
    b.system_shard = [this] {
      auto h = host(system_shard);
      return h ? h->actor : caf::actor{};
    };
    b.data_shards = [this] {
      std::lock_guard lock(mutex);
      std::vector<std::uint64_t> out;
      for (const auto& [id, s] : map.shards) out.push_back(id);
      return out;
    };
    b.shard_actor = [this](std::uint64_t id) {
      auto h = host(id);
      return h ? h->actor : caf::actor{};
    };
    b.devices = [this] { return device_directory(); };
    b.client_endpoints = [this] {
      std::vector<std::pair<std::uint64_t, std::string>> out;
      std::lock_guard lock(mutex);
      for (const auto& [id, n] : map.nodes)
        if (!n.removed && !n.client.empty()) out.emplace_back(id, n.client);
      return out;
    };
    b.key_manager = chunks->key_manager();
    b.clock = wall_clock_ns;
    return b;
  }

  void start_s3() {
    s3::s3_config sc;
    sc.listen = cfg.s3_listen;
    sc.domain = cfg.s3_domain;
    s3 = std::make_unique<s3::s3_server>(*sys, std::move(sc), gateway_backend());
    s3->start();
  }

  /// The NFS gateway; `cairn dev` exports its default bucket at /cairn to
  /// this host, without root squashing (the dev user is the admin).
  void start_nfs() {
    nfs::nfs_config nc;
    nc.listen = cfg.nfs_listen;
    for (const auto& s : cfg.nfs_exports) {
      nfs::export_config e;
      e.path = s.path;
      e.bucket = s.bucket;
      e.read_only = s.read_only;
      e.root_squash = s.root_squash;
      e.anon_uid = static_cast<std::uint32_t>(s.anon_uid);
      e.anon_gid = static_cast<std::uint32_t>(s.anon_gid);
      e.clients = s.clients;
      e.allow_auth_none = s.allow_auth_none;
      nc.exports.push_back(std::move(e));
    }
    if (mode.dev && nc.exports.empty()) {
      nfs::export_config e;
      e.path = "/cairn";
      e.bucket = "cairn";
      e.root_squash = false;
      e.clients = {"127.0.0.1", "::1"};
      nc.exports.push_back(e);
    }
    const auto key = chunks->cluster_key();
    nfs = std::make_unique<nfs::nfs_server>(*sys, std::move(nc), gateway_backend(), key.bytes());
    nfs->start();
  }

  /// The listener for `cairn mount` clients (ADR 0009). `cairn dev` makes
  /// a CA and a certificate for itself under <data>/tls the first time.
  void start_client_listener() {
    if (mode.dev && cfg.tls.ca_cert.empty()) {
      const auto dir = std::filesystem::path(cfg.data_dir) / "tls";
      if (!std::filesystem::exists(dir / "ca.pem")) {
        generate_cluster_ca(dir, "cairn-dev");
        generate_node_certificate(dir, dir, cfg.node_id, {"127.0.0.1", "localhost"});
      }
      cfg.tls.ca_cert = (dir / "ca.pem").string();
      cfg.tls.cert = (dir / "node.pem").string();
      cfg.tls.key = (dir / "node.key").string();
    }
    for (const auto& [field, value] : {std::pair{"tls.ca_cert", &cfg.tls.ca_cert},
                                       {"tls.cert", &cfg.tls.cert},
                                       {"tls.key", &cfg.tls.key}})
      if (value->empty())
        throw config_error(field, "is required when the node listens for clients (client_listen)");
    client_tls = std::make_unique<asio::ssl::context>(
        make_client_listener_tls_context(tls_paths{cfg.tls.ca_cert, cfg.tls.cert, cfg.tls.key}));
    const auto at = parse_host_port(cfg.client_listen);
    if (!at) throw std::runtime_error("client_listen: " + cfg.client_listen + " is not host:port");
    clients = std::make_unique<client_listener>(*sys, *client_tls, gateway_backend(), cfg.node_id);
    clients->start(at->host, at->port);
    // What the cluster map tells clients (they connect to every node for
    // chunk I/O): the bound port, on the transport's host when the
    // listener takes every address.
    auto advertised = *at;
    advertised.port = clients->port();
    if (advertised.host.empty() || advertised.host == "0.0.0.0" || advertised.host == "::")
      if (const auto t = parse_host_port(advertised_transport())) advertised.host = t->host;
    client_address = advertised.to_string();
  }

  /// This node's chunk devices as the gateway and the collector address them.
  /// Devices of other nodes come from the cluster map (`devices/<node>`,
  /// published by each node) and are reached through remote_devices;
  /// those of a node the transport cannot reach now are `out`, so new
  /// chunks go elsewhere while reads of old ones fail over to parity.
  std::shared_ptr<const gateway::device_directory> device_directory() const {
    auto d = std::make_shared<gateway::device_directory>();
    for (auto& [device, actor] : chunks->device_endpoints()) d->devices.push_back({device, actor});
    if (!remote) return d;
    std::map<std::uint64_t, std::vector<device_entry>> published;
    {
      std::lock_guard lock(mutex);
      for (const auto& [node, list] : map.devices) {
        auto n = map.nodes.find(node);
        if (node != self() && n != map.nodes.end() && !n->second.removed)
          published.emplace(node, list);
      }
    }
    for (const auto& [node, list] : published) {
      const bool reachable = net->peer_alive(node);
      for (const auto& e : list) {
        const auto state = e.failed    ? placement::device_state::failed
                           : reachable ? placement::device_state::in
                                       : placement::device_state::out;
        d->devices.push_back(
            {placement::device{placement::device_id{e.id}, placement::node_id{node},
                               e.capacity_bytes, e.free_bytes, state},
             e.failed ? caf::actor{} : remote->proxy(node, e.id)});
      }
    }
    return d;
  }

  /// This node's devices as the cluster map should list them; republished
  /// when the set, a capacity or a failure changes (free space is a
  /// snapshot taken then: placement weights must not move all the time).
  void publish_devices(const cluster_map& m, const caf::actor& system_actor) {
    std::vector<device_entry> mine;
    for (const auto& [dev, actor] : chunks->device_endpoints())
      mine.push_back(device_entry{dev.id.value, dev.capacity_bytes, dev.free_bytes,
                                  dev.state == placement::device_state::failed});
    auto same_shape = [](const std::vector<device_entry>& a, const std::vector<device_entry>& b) {
      return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.id == y.id && x.capacity_bytes == y.capacity_bytes && x.failed == y.failed;
      });
    };
    auto it = m.devices.find(self());
    if (it != m.devices.end() ? same_shape(it->second, mine) : mine.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_device_publish < std::chrono::seconds(1)) return;
    last_device_publish = now;
    auto [code, why] =
        call(system_actor, shard::put_atom::value, devices_key(self()), encode(mine));
    if (code != 0) spdlog::info("controller: publishing this node's devices: {}", why);
  }

  /// The chunk collector over the data shards this node leads (ADR 0007).
  void start_collector() {
    collector_backend b;
    b.led_data_shards = [this] {
      std::vector<std::pair<std::uint64_t, caf::actor>> out;
      std::lock_guard lock(mutex);
      for (const auto& [id, h] : shards)
        if (id != system_shard && h->status.leader() == cfg.node_id) out.emplace_back(id, h->actor);
      return out;
    };
    b.devices = [this] { return device_directory(); };
    b.clock = wall_clock_ns;
    collector_options o;
    o.grace = std::chrono::milliseconds(cfg.gc_grace_ms);
    collector = spawn_chunk_collector(*sys, std::move(b), o, gc_stats);
  }

  json status_json() const;
  json nodes_json() const;
  json shards_json() const;
  void handle(http::request<http::string_body>&& req, respond_fn respond);
  void handle_kv(http::request<http::string_body>&& req, const std::string& key,
                 respond_fn respond);
  void start_http();
};

/// Forwards key-value requests from the HTTP thread to shard actors and
/// hands each answer to node::impl::complete (one actor for the node).
caf::behavior kv_bridge(caf::event_based_actor* self, node::impl* n) {
  auto fail = [n](std::uint64_t ticket) {
    return [n, ticket](caf::error& e) {
      n->complete(ticket, static_cast<std::uint8_t>(shard::reply_code::timeout), n->sys->render(e));
    };
  };
  return {
      [=](shard::put_atom, const caf::actor& target, std::string& key, std::string& value,
          std::uint64_t ticket) {
        self->request(target, request_timeout, shard::put_atom::value, std::move(key),
                      std::move(value))
            .then(
                [=](std::uint8_t code, std::string& v) { n->complete(ticket, code, std::move(v)); },
                fail(ticket));
      },
      [=](shard::get_atom, const caf::actor& target, std::string& key, std::uint64_t ticket) {
        self->request(target, request_timeout, shard::get_atom::value, std::move(key))
            .then(
                [=](std::uint8_t code, std::string& v) { n->complete(ticket, code, std::move(v)); },
                fail(ticket));
      },
  };
}

// --- metrics and JSON views -------------------------------------------------------

std::string node::impl::metrics_text() const {
  std::ostringstream o;
  auto family = [&](const char* name, const char* help, const char* type) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  std::vector<std::pair<std::uint64_t, json>> descs;
  {
    std::lock_guard lock(mutex);
    for (const auto& [id, h] : shards) descs.emplace_back(id, h->last_describe());
  }
  auto per_shard = [&](const char* name, const char* help, const char* type, auto get) {
    family(name, help, type);
    for (const auto& [id, d] : descs) {
      if (d.is_null()) continue;
      o << name << "{shard=\"" << id << "\"} " << get(d) << '\n';
    }
  };
  auto u = [](const char* key) {
    return [key](const json& d) { return d.value(key, std::uint64_t{0}); };
  };
  auto metric = [](const char* key) {
    return [key](const json& d) { return d["metrics"].value(key, std::uint64_t{0}); };
  };
  family("cairn_node_info", "This node's id.", "gauge");
  o << "cairn_node_info{node=\"" << cfg.node_id << "\"} 1\n";
  family("cairn_shards_hosted", "Shard replicas hosted by this node.", "gauge");
  o << "cairn_shards_hosted " << descs.size() << '\n';
  per_shard("cairn_raft_term", "Current Raft term of the local replica.", "gauge", u("term"));
  per_shard("cairn_raft_commit_index", "Highest log index known committed.", "gauge",
            u("commit_index"));
  per_shard("cairn_raft_applied_index", "Highest log index applied to the state machine.", "gauge",
            u("applied_index"));
  per_shard("cairn_raft_last_index", "Last index in the replica's log.", "gauge", u("last_index"));
  per_shard("cairn_raft_leader", "Node id of the known leader (0 = none).", "gauge", u("leader"));
  per_shard("cairn_raft_is_leader", "1 if the local replica is the leader.", "gauge",
            [](const json& d) { return d.value("role", "") == std::string("leader") ? 1 : 0; });
  per_shard("cairn_raft_proposals_total", "Client proposals accepted by the local replica.",
            "counter", metric("proposals"));
  per_shard("cairn_raft_proposals_dropped_total", "Client proposals refused (no leader, overload).",
            "counter", metric("proposals_dropped"));
  per_shard("cairn_raft_messages_rejected_total", "Malformed or invalid Raft messages rejected.",
            "counter", metric("messages_rejected"));
  per_shard("cairn_raft_snapshots_installed_total", "Snapshots installed from a leader.", "counter",
            metric("snapshots_installed"));
  const auto space = lmdb->space();
  family("cairn_storage_map_used_bytes", "Bytes of the LMDB map in use (high-water mark).",
         "gauge");
  o << "cairn_storage_map_used_bytes " << space.map_used_bytes << '\n';
  family("cairn_storage_map_bytes", "Size of the LMDB map (storage.map_mb).", "gauge");
  o << "cairn_storage_map_bytes " << space.map_bytes << '\n';
  family("cairn_storage_fs_free_bytes", "Free bytes on the data directory's file system.", "gauge");
  o << "cairn_storage_fs_free_bytes " << space.fs_free_bytes << '\n';
  family("cairn_storage_full", "1 while new client writes are refused for lack of space.", "gauge");
  o << "cairn_storage_full " << (space.full ? 1 : 0) << '\n';
  family("cairn_storage_bytes_written_total", "Bytes written to the Raft log store.", "counter");
  o << "cairn_storage_bytes_written_total " << lmdb->bytes_written() << '\n';
  family("cairn_storage_sync_requests_total",
         "Syncs asked for by replicas (many share one fsync: group commit).", "counter");
  o << "cairn_storage_sync_requests_total " << lmdb->syncs_requested() << '\n';
  const auto h = lmdb->fsyncs();
  family("cairn_storage_fsync_seconds", "Latency of fsyncs of the Raft log store.", "histogram");
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
  if (net) {
    const auto& c = net->counters();
    auto counter = [&](const char* name, const char* help, std::uint64_t v) {
      family(name, help, "counter");
      o << name << ' ' << v << '\n';
    };
    counter("cairn_transport_sent_bytes_total", "Bytes sent to peers.", c.bytes_sent);
    counter("cairn_transport_received_bytes_total", "Bytes received from peers.", c.bytes_received);
    counter("cairn_transport_messages_sent_total", "Raft messages sent to peers.", c.messages_sent);
    counter("cairn_transport_messages_received_total", "Raft messages received from peers.",
            c.messages_received);
    counter("cairn_transport_messages_dropped_total",
            "Raft messages dropped (peer unreachable or send queue full).", c.messages_dropped);
    counter("cairn_transport_connects_total", "Outbound connections established.", c.connects);
    counter("cairn_transport_connect_failures_total", "Outbound connection attempts that failed.",
            c.connect_failures);
    counter("cairn_transport_disconnects_total", "Connections lost or closed.", c.disconnects);
    counter("cairn_transport_frames_rejected_total",
            "Malformed, oversized or misattributed frames (the connection was closed).",
            c.frames_rejected);
    counter("cairn_transport_handshakes_rejected_total",
            "Inbound TLS handshakes refused (untrusted or missing certificate).",
            c.handshakes_rejected);
    family("cairn_transport_peer_connected", "1 if the outbound connection to a peer is up.",
           "gauge");
    for (const auto& p : net->peers())
      if (p.id)
        o << "cairn_transport_peer_connected{peer=\"" << p.id << "\"} " << p.connected << '\n';
  }
  if (chunks) o << chunks->metrics_text();
  if (clients) {
    const auto& c = clients->counters();
    family("cairn_client_connections_open", "Open connections of cairn clients (cairn mount).",
           "gauge");
    o << "cairn_client_connections_open " << c.open << '\n';
    family("cairn_client_requests_total", "Namespace, grant and device requests of clients.",
           "counter");
    o << "cairn_client_requests_total " << c.requests << '\n';
    family("cairn_client_chunk_requests_total",
           "Chunk requests of clients, by where the device is: this node's, or another's "
           "(relayed over the node transport).",
           "counter");
    const std::uint64_t relayed = c.chunk_requests_relayed;  // first: never more than all
    const std::uint64_t all = c.chunk_requests;
    o << "cairn_client_chunk_requests_total{device=\"local\"} " << all - relayed << '\n';
    o << "cairn_client_chunk_requests_total{device=\"relayed\"} " << relayed << '\n';
  }
  if (collector) {
    family("cairn_gc_chunks_collected_total",
           "Chunks the collector deleted from the devices (no version named them).", "counter");
    o << "cairn_gc_chunks_collected_total " << gc_stats->chunks_collected << '\n';
    family("cairn_gc_shard_deletes_total",
           "Shard deletes the devices carried out for the collector.", "counter");
    o << "cairn_gc_shard_deletes_total " << gc_stats->shard_deletes << '\n';
    family("cairn_gc_chunks_retried_total",
           "Chunks whose collection was aborted (a device did not answer) and is retried.",
           "counter");
    o << "cairn_gc_chunks_retried_total " << gc_stats->chunks_retried << '\n';
    family("cairn_gc_pending_chunks", "Chunks in the garbage queues of the shards led here.",
           "gauge");
    o << "cairn_gc_pending_chunks " << gc_stats->pending << '\n';
    family("cairn_gc_passes_total", "Collector passes.", "counter");
    o << "cairn_gc_passes_total " << gc_stats->passes << '\n';
  }
  return o.str();
}

json node::impl::status_json() const {
  std::string why;
  const bool is_ready = ready(why);
  json j;
  j["node"] = cfg.node_id;
  j["ready"] = is_ready;
  if (!is_ready) j["not_ready_because"] = why;
  j["transport"] = advertised_transport();
  j["admin"] = admin_address;
  j["uptime_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard lock(mutex);
  j["shards_hosted"] = shards.size();
  std::size_t leaders = 0;
  for (const auto& [id, h] : shards)
    if (h->status.is_leader()) ++leaders;
  j["shards_led"] = leaders;
  auto it = shards.find(system_shard);
  if (it != shards.end() && it->second->last_describe().is_object()) {
    const auto& d = it->second->last_describe();
    j["system_shard"] = {{"leader", d.value("leader", 0)},
                         {"term", d.value("term", 0)},
                         {"commit_index", d.value("commit_index", 0)},
                         {"voters", d["voters"]},
                         {"learners", d["learners"]}};
  }
  j["cluster"] = {{"nodes", map.active_nodes().size()}, {"data_shards", map.shards.size()}};
  const auto space = lmdb->space();
  j["storage"] = {{"map_used_bytes", space.map_used_bytes},
                  {"map_bytes", space.map_bytes},
                  {"fs_free_bytes", space.fs_free_bytes},
                  {"accepting_writes", !space.full}};
  if (space.full) j["storage"]["refusing_because"] = space.why;
  return j;
}

json node::impl::nodes_json() const {
  std::map<std::uint64_t, peer_status> peers;
  if (net)
    for (auto& p : net->peers())
      if (p.id) peers[p.id] = p;
  json arr = json::array();
  std::lock_guard lock(mutex);
  json sys_voters = json::array(), sys_learners = json::array();
  auto it = shards.find(system_shard);
  if (it != shards.end() && it->second->last_describe().is_object()) {
    sys_voters = it->second->last_describe()["voters"];
    sys_learners = it->second->last_describe()["learners"];
  }
  auto contains = [](const json& a, std::uint64_t id) {
    for (const auto& x : a)
      if (x.is_number_unsigned() && x.get<std::uint64_t>() == id) return true;
    return false;
  };
  for (const auto& [id, n] : map.nodes) {
    json e{{"id", id},
           {"transport", n.transport},
           {"admin", n.admin},
           {"state", n.removed ? "removed" : "active"},
           {"system_role", contains(sys_voters, id)     ? "voter"
                           : contains(sys_learners, id) ? "learner"
                                                        : "none"},
           {"shards", std::count_if(map.shards.begin(), map.shards.end(), [&](const auto& kv) {
              const auto& r = kv.second.replicas;
              return std::find(r.begin(), r.end(), id) != r.end();
            })}};
    if (id == cfg.node_id) {
      e["reachable"] = "self";
    } else if (auto p = peers.find(id); p != peers.end()) {
      e["reachable"] = p->second.connected ? "yes" : "no";
      e["last_heard_seconds_ago"] = p->second.last_heard_seconds_ago;
    } else {
      e["reachable"] = "unknown";
    }
    arr.push_back(std::move(e));
  }
  return json{{"nodes", arr}};
}

json node::impl::shards_json() const {
  json arr = json::array();
  std::lock_guard lock(mutex);
  auto add = [&](std::uint64_t id, const json& replicas) {
    json e{{"id", id}, {"replicas", replicas}};
    auto it = shards.find(id);
    if (it != shards.end() && it->second->last_describe().is_object()) {
      const auto& d = it->second->last_describe();
      e["local"] = {{"role", d["role"]},
                    {"term", d["term"]},
                    {"leader", d["leader"]},
                    {"commit_index", d["commit_index"]},
                    {"applied_index", d["applied_index"]},
                    {"voters", d["voters"]},
                    {"learners", d["learners"]},
                    {"keys", d["keys"]}};
      if (d.contains("progress")) e["local"]["progress"] = d["progress"];
    }
    arr.push_back(std::move(e));
  };
  json sys_replicas = json::array();
  for (auto v : map.system_target().voters) sys_replicas.push_back(v.value);
  for (auto l : map.system_target().learners) sys_replicas.push_back(l.value);
  add(system_shard, sys_replicas);
  for (const auto& [id, s] : map.shards) add(id, s.replicas);
  return json{{"shards", arr}};
}

// --- request handling ---------------------------------------------------------

void node::impl::handle_kv(http::request<http::string_body>&& req, const std::string& key,
                           respond_fn respond) {
  const unsigned version = req.version();
  const bool keep = req.keep_alive();
  auto reply = [=](http::status st, std::string body) {
    respond(make_response(version, keep, st, std::move(body)));
  };
  if (key.empty() || key.size() > shard::kv_key_bytes_max)
    return reply(http::status::bad_request,
                 "key must be 1.." + std::to_string(shard::kv_key_bytes_max) + " bytes\n");
  std::optional<std::uint64_t> sid;
  std::shared_ptr<hosted_shard> h;
  std::vector<std::string> elsewhere;
  {
    std::lock_guard lock(mutex);
    sid = map.shard_for_key(key);
    if (sid) {
      auto it = shards.find(*sid);
      if (it != shards.end())
        h = it->second;
      else
        for (auto r : map.shards.at(*sid).replicas)
          if (auto n = map.nodes.find(r); n != map.nodes.end())
            elsewhere.push_back(n->second.admin);
    }
  }
  if (!sid)
    return reply(http::status::service_unavailable,
                 "no data shard exists yet; create one with: cairn admin shards create\n");
  if (!h) {
    json j{{"error", "shard " + std::to_string(*sid) + " is not hosted on this node"},
           {"shard", *sid},
           {"try", elsewhere}};
    return respond(make_response(version, keep, http::status::misdirected_request, j.dump() + "\n",
                                 "application/json"));
  }
  if (req.method() == http::verb::put) {
    ask_shard(
        h->actor,
        [=](std::uint8_t code, std::string v) {
          if (code == 0) return reply(http::status::ok, "stored\n");
          if (code == static_cast<std::uint8_t>(shard::reply_code::storage_full))
            return reply(http::status::insufficient_storage,
                         "not stored: storage full: " + v + "\n");
          reply(http::status::service_unavailable,
                std::string("not stored: ") +
                    shard::to_string(static_cast<shard::reply_code>(code)) + " " + v + "\n");
        },
        shard::put_atom::value, key, std::move(req.body()));
    return;
  }
  if (req.method() == http::verb::get) {
    ask_shard(
        h->actor,
        [=](std::uint8_t code, std::string v) {
          if (code == 0) return reply(http::status::ok, std::move(v));
          if (code == static_cast<std::uint8_t>(shard::reply_code::not_found))
            return reply(http::status::not_found, "no such key\n");
          reply(http::status::service_unavailable,
                std::string("read failed: ") +
                    shard::to_string(static_cast<shard::reply_code>(code)) + " " + v + "\n");
        },
        shard::get_atom::value, key);
    return;
  }
  reply(http::status::method_not_allowed, "use GET or PUT\n");
}

void node::impl::handle(http::request<http::string_body>&& req, respond_fn respond) {
  const unsigned version = req.version();
  const bool keep = req.keep_alive();
  auto reply = [&](http::status st, std::string body,
                   const char* type = "text/plain; charset=utf-8") {
    respond(make_response(version, keep, st, std::move(body), type));
  };
  auto reply_json = [&](http::status st, const json& j) {
    reply(st, j.dump(2) + "\n", "application/json");
  };
  std::string target(req.target());
  std::string query;
  if (auto q = target.find('?'); q != std::string::npos) {
    query = target.substr(q + 1);
    target.resize(q);
  }
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  if (target == "/health") {
    std::string why;
    if (ready(why)) return reply(http::status::ok, "ok\n");
    return reply(http::status::service_unavailable, "not ready: " + why + "\n");
  }
  if (target == "/metrics" && get)
    return reply(http::status::ok, metrics_text(), "text/plain; version=0.0.4");
  if (target == "/v1/status" && get) return reply_json(http::status::ok, status_json());
  if (target == "/v1/nodes" && get) return reply_json(http::status::ok, nodes_json());
  if (target == "/v1/shards" && get) return reply_json(http::status::ok, shards_json());
  if (target.rfind("/v1/kv/", 0) == 0) return handle_kv(std::move(req), target.substr(7), respond);
  if (target == "/v1/shards" && post) {
    std::size_t replicas = 3;
    if (!req.body().empty()) {
      auto j = json::parse(req.body(), nullptr, false);
      if (j.is_discarded() || !j.is_object() ||
          (j.contains("replicas") && !j["replicas"].is_number_unsigned()))
        return reply_json(http::status::bad_request,
                          {{"error", "body must be a JSON object like {\"replicas\": 3}"}});
      replicas = j.value("replicas", std::size_t{3});
      if (replicas < 1 || replicas > 7)
        return reply_json(http::status::bad_request, {{"error", "replicas must be 1..7"}});
    }
    post_job([this, replicas, version, keep, respond] {
      auto r = create_shard(replicas);
      json j;
      http::status st = http::status::created;
      if (auto* s = std::get_if<shard_entry>(&r)) {
        j = {{"id", s->id}, {"replicas", s->replicas}};
      } else {
        j = {{"error", std::get<std::string>(r)}};
        st = http::status::service_unavailable;
      }
      respond(make_response(version, keep, st, j.dump(2) + "\n", "application/json"));
    });
    return;
  }
  if (target.rfind("/v1/nodes/", 0) == 0 && post && target.size() > 17 &&
      target.compare(target.size() - 7, 7, "/remove") == 0) {
    const std::string id_text = target.substr(10, target.size() - 17);
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || id == 0)
      return reply_json(http::status::bad_request, {{"error", "bad node id '" + id_text + "'"}});
    post_job([this, id, version, keep, respond] {
      auto r = remove_node(id);
      if (auto* j = std::get_if<json>(&r))
        return respond(
            make_response(version, keep, http::status::ok, j->dump(2) + "\n", "application/json"));
      respond(make_response(version, keep, http::status::conflict,
                            json{{"error", std::get<std::string>(r)}}.dump(2) + "\n",
                            "application/json"));
    });
    return;
  }
  if (tenants &&
      (target == "/v1/tenants" || target == "/v1/keys" || target.rfind("/v1/keys/", 0) == 0 ||
       target == "/v1/exports" || target.rfind("/v1/exports/", 0) == 0)) {
    const std::string method(req.method_string());
    post_job([this, method, target, query, body = req.body(), version, keep, respond] {
      auto [status, j] = tenants->handle_http(method, target, query, body);
      respond(make_response(version, keep, static_cast<http::status>(status), j.dump(2) + "\n",
                            "application/json"));
    });
    return;
  }
  if (target == "/v1/devices" && get && chunks)
    return reply_json(http::status::ok, chunks->devices_json());
  if (target == "/v1/repair" && get && chunks)
    return reply_json(http::status::ok, chunks->repair_json());
  if (target == "/v1/repair" && post && chunks) {
    chunks->start_repair();
    return reply_json(http::status::accepted, chunks->repair_json());
  }
  if (target == "/v1/events" && get && events) {
    std::uint64_t after = 0, limit = 100;
    for (const auto& [name, value] : parse_query(query)) {
      std::uint64_t* field = name == "after" ? &after : name == "limit" ? &limit : nullptr;
      if (!field) continue;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), *field);
      if (ec != std::errc() || end != value.data() + value.size())
        return reply(http::status::bad_request, name + ": not a number: " + value + "\n");
    }
    return reply_json(http::status::ok,
                      json{{"last_seq", events->last_seq()},
                           {"events", events->since(after, std::min<std::uint64_t>(limit, 1000))}});
  }
  reply(http::status::not_found,
        "endpoints: /health /metrics /v1/status /v1/nodes /v1/shards (GET, POST) "
        "/v1/nodes/<id>/remove (POST) /v1/kv/<key> (GET, PUT) /v1/devices /v1/events?after=N "
        "/v1/repair (GET, POST) /v1/tenants (GET, POST) /v1/keys (GET, POST) /v1/keys/<id> "
        "(DELETE) /v1/exports (GET, POST) /v1/exports/<path> (DELETE)\n");
}

/// One admin HTTP connection: reads requests, answers them in order.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket s, node::impl& n) : socket_(std::move(s)), node_(n) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(shard::kv_value_bytes_max);  // bounded memory per request
    parser_->header_limit(16 * 1024);
    auto self = shared_from_this();
    http::async_read(socket_, buffer_, *parser_,
                     [self](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return write(make_response(
          11, false, http::status::payload_too_large,
          "body too large (limit " + std::to_string(shard::kv_value_bytes_max) + " bytes)\n"));
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return close();
    if (ec) {
      if (ec.category() == make_error_code(http::error::bad_target).category())
        return write(make_response(11, false, http::status::bad_request, "malformed request\n"));
      return close();
    }
    auto self = shared_from_this();
    node_.handle(parser_->release(), [self](response res) {
      asio::post(self->socket_.get_executor(),
                 [self, r = std::move(res)]() mutable { self->write(std::move(r)); });
    });
  }

  void write(response res) {
    auto sp = std::make_shared<response>(std::move(res));
    auto self = shared_from_this();
    http::async_write(socket_, *sp, [self, sp](beast::error_code ec, std::size_t) {
      if (ec || !sp->keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  node::impl& node_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

void node::impl::start_http() {
  auto hp = parse_host_port(cfg.admin_listen);
  beast::error_code ec;
  auto address = asio::ip::make_address(hp->host, ec);
  if (ec) throw std::runtime_error("admin_listen: '" + hp->host + "' is not an IP address");
  acceptor = std::make_unique<tcp::acceptor>(http_io);
  tcp::endpoint ep(address, hp->port);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("admin_listen: cannot listen on " + cfg.admin_listen + ": " +
                             ec.message());
  hp->port = acceptor->local_endpoint().port();
  admin_address = hp->to_string();
  struct acceptor_loop {
    static void run(node::impl* self) {
      self->acceptor->async_accept([self](beast::error_code aec, tcp::socket s) {
        if (self->stopping) return;
        if (!aec) {
          beast::error_code oec;
          s.set_option(tcp::no_delay(true), oec);
          std::make_shared<http_session>(std::move(s), *self)->read();
        }
        run(self);
      });
    }
  };
  acceptor_loop::run(this);
  http_thread = std::thread([this] {
    for (;;) {
      try {
        http_io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("admin http: handler threw: {}", e.what());
      }
    }
  });
}

// --- lifecycle ----------------------------------------------------------------------

node::node(node_config cfg, node_mode mode) : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->mode = mode;
}

node::~node() {
  stop();
}

void node::start() {
  auto& d = *impl_;
  validate(d.cfg);
  // Before any thread starts: a damaged store is refused, never served (D4).
  verify_in_child(d.cfg.data_dir + "/raft", d.cfg.storage_map_mb << 20);
  d.caf_cfg.set("logger.verbosity", caf::atom("quiet"));
  // Work sharing: idle workers wait on a condition variable. CAF's default
  // work stealing polls (spins, then sleeps 50 us at a time for ~25 ms
  // after every wake-up), which cost an idle node 11% of a core per 100
  // shards on a 2-core machine against 1.3% with sharing, at the same
  // write throughput (docs/benchmarks.md).
  d.caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  d.sys = std::make_unique<caf::actor_system>(d.caf_cfg);
  std::filesystem::create_directories(d.cfg.data_dir);
  d.events = std::make_unique<event_log>(d.cfg.data_dir + "/events.log");
  {
    chunk_service_options co;
    co.data_dir = d.cfg.data_dir;
    co.node_id = d.cfg.node_id;
    co.devices = d.cfg.chunk.devices;
    co.device_mb = d.cfg.chunk.device_mb;
    co.dev_devices = d.mode.dev ? d.cfg.chunk.dev_devices : 0;
    co.system_shard = [&d] {
      auto h = d.host(system_shard);
      return h ? h->actor : caf::actor{};
    };
    d.chunks = std::make_unique<chunk_service>(*d.sys, std::move(co), *d.events);
  }
  // A node that joins gets the cluster key from the cluster (ADR 0006);
  // only the bootstrap node (and `cairn dev`) makes one.
  const auto key_path = (std::filesystem::path(d.cfg.data_dir) / "keys" / "master.key").string();
  const bool needs_cluster_key =
      !d.mode.dev && !d.cfg.bootstrap && !std::filesystem::exists(key_path);
  if (needs_cluster_key && (d.cfg.peers.empty() || d.cfg.listen.empty()))
    throw std::runtime_error(
        "peers: " + key_path +
        " does not exist and this node is not --bootstrap, so it must join a cluster through "
        "at least one peer to receive the cluster key (set listen and peers or CAIRN_PEERS)");
  d.lmdb = std::make_unique<lmdb_environment>(d.cfg.data_dir + "/raft", d.cfg.storage_map_mb << 20);
  d.lmdb->set_space_limits(static_cast<unsigned>(d.cfg.storage_full_percent),
                           d.cfg.storage_reserve_mb << 20);
  d.lmdb->refresh_space();
  if (!d.cfg.listen.empty()) {
    d.tls = std::make_unique<asio::ssl::context>(
        make_node_tls_context(tls_paths{d.cfg.tls.ca_cert, d.cfg.tls.cert, d.cfg.tls.key}));
    const auto cert_id = certificate_file_node_id(d.cfg.tls.cert);
    if (cert_id != d.cfg.node_id)
      throw std::runtime_error("tls.cert: the certificate is for node " +
                               (cert_id ? std::to_string(*cert_id) : std::string("<none>")) +
                               " but node_id is " + std::to_string(d.cfg.node_id));
    transport::handlers h;
    h.on_raft = [&d](std::uint64_t from, std::vector<shard_message>&& b) {
      d.on_raft(from, std::move(b));
    };
    h.on_join = [&d](std::uint64_t from, const join_request& r) {
      d.post_job([&d, from, r] { d.handle_join(from, r); });
    };
    h.on_join_reply = [&d](std::uint64_t from, const join_reply& r) { d.on_join_reply(from, r); };
    h.on_chunk_request = [&d](std::uint64_t from, chunk_request&& r) {
      d.remote->on_request(from, std::move(r));
    };
    h.on_chunk_reply = [&d](std::uint64_t from, chunk_reply&& r) {
      d.remote->on_reply(from, std::move(r));
    };
    // Followers of a leader on a lost node tick again (and elect); idle
    // leaders heartbeat again when a peer (re)connects, so a restarted
    // follower learns who leads.
    auto wake_all = [&d](std::uint64_t) {
      std::lock_guard lock(d.mutex);
      for (auto& [id, hs] : d.shards) caf::anon_send(hs->actor, shard::wake_atom::value);
    };
    h.on_peer_down = [&d, wake_all](std::uint64_t peer) {
      d.remote->on_peer_down(peer);
      wake_all(peer);
    };
    h.on_peer_up = wake_all;
    d.net = std::make_unique<transport>(d.cfg.node_id, d.cfg.transport, *d.tls, std::move(h));
    d.remote = std::make_unique<remote_devices>(*d.sys, *d.net, [&d](std::uint64_t device) {
      for (auto& [id, actor] : d.chunks->devices())
        if (id == device) return actor;
      return caf::actor{};
    });
    d.net->start(*parse_host_port(d.cfg.listen));
    d.liveness = transport_liveness(d.net.get());
  }
  if (needs_cluster_key) d.receive_cluster_key(key_path);
  d.chunks->start();
  d.tenants = std::make_unique<tenant_admin>(
      *d.sys,
      [&d] {
        auto h = d.host(system_shard);
        return h ? h->actor : caf::actor{};
      },
      d.chunks->key_manager(), wall_clock_ns);
  d.tick = d.sys->spawn(ticker, std::chrono::milliseconds(d.cfg.raft.tick_ms));
  d.bridge = d.sys->spawn(kv_bridge, &d);
  d.start_http();
  // Replicas stored here come back first, exactly as they were.
  for (auto id : d.lmdb->stored_shards()) d.create_replica(id, nullptr);
  {
    std::lock_guard lock(d.mutex);
    d.joined = d.shards.count(system_shard) != 0;
  }
  if (d.shards.empty() && !d.cfg.bootstrap && !d.mode.dev && d.cfg.peers.empty())
    throw std::runtime_error(
        "peers: this node has no data yet and is not --bootstrap, so it must join through "
        "at least one peer (set peers or CAIRN_PEERS)");
  // The client listener first: its address is in the node's cluster-map
  // entry, which the controller registers.
  if (!d.cfg.client_listen.empty()) d.start_client_listener();
  d.controller = std::thread([&d] { d.run_controller(); });
  if (!d.cfg.s3_listen.empty()) d.start_s3();
  if (!d.cfg.nfs_listen.empty()) d.start_nfs();
  if (d.chunks) d.start_collector();
}

std::string node::admin_endpoint() const {
  return "http://" + impl_->admin_address;
}

std::string node::s3_endpoint() const {
  return impl_->s3 ? "http://127.0.0.1:" + std::to_string(impl_->s3->port()) : std::string();
}

std::uint16_t node::client_port() const {
  return impl_->clients ? impl_->clients->port() : 0;
}

std::string node::client_ca() const {
  return impl_->clients ? impl_->cfg.tls.ca_cert : std::string();
}

std::uint16_t node::nfs_port() const {
  return impl_->nfs ? impl_->nfs->port() : 0;
}

std::pair<std::string, std::string> node::s3_credentials() const {
  auto& d = *impl_;
  if (!d.s3 || !d.tenants) return {};
  // The catalog lives in the system shard: wait until the node serves.
  std::string why;
  for (int i = 0; i < 600 && !d.ready(why); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!d.ready(why)) throw std::runtime_error("s3: no credentials: " + why);
  auto made = d.tenants->dev_credentials();
  if (auto* e = std::get_if<std::string>(&made)) throw std::runtime_error("s3: " + *e);
  const auto& key = std::get<created_access_key>(made);
  if (const auto e = d.s3->create_bucket("cairn", key.entry.tenant); !e.empty())
    throw std::runtime_error("s3: the default bucket 'cairn' could not be created: " + e);
  return {key.entry.id, key.secret};
}

std::uint16_t node::transport_port() const {
  return impl_->net ? impl_->net->listen_port() : 0;
}

void node::stop() {
  auto& d = *impl_;
  if (!d.sys || d.stopping.exchange(true)) return;
  d.wake.notify_all();
  if (d.controller.joinable()) d.controller.join();
  asio::post(d.http_io, [&d] {
    beast::error_code ec;
    if (d.acceptor) d.acceptor->close(ec);
    d.http_io.stop();
  });
  if (d.http_thread.joinable()) d.http_thread.join();
  if (d.net) d.net->stop();
  if (d.remote) d.remote->stop();
  if (d.clients) d.clients->stop();
  if (d.nfs) d.nfs->stop();
  if (d.s3) d.s3->stop();
  if (d.collector) {
    caf::scoped_actor self{*d.sys};
    self->send(d.collector, collector_stop_atom::value);
    self->wait_for(d.collector);
    d.collector = caf::actor{};
  }
  if (d.chunks) d.chunks->stop();
  caf::anon_send_exit(d.tick, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(d.bridge, caf::exit_reason::user_shutdown);
  {
    std::lock_guard lock(d.mutex);
    for (auto& [id, h] : d.shards) {
      h->leaving = true;
      caf::anon_send_exit(h->actor, caf::exit_reason::user_shutdown);
    }
  }
  d.sys->await_all_actors_done();
  // Everything holding actor handles goes before the actor system: a
  // detached actor's thread waits until its last handle is released.
  d.clients.reset();
  d.nfs.reset();
  d.s3.reset();
  d.remote.reset();
  d.tenants.reset();
  d.chunks.reset();
  d.sys.reset();
  d.shards.clear();
  d.net.reset();
  d.lmdb.reset();
}

}  // namespace cairn::runtime
