// sim/simulator.cpp — see simulator.h and docs/sim.md.
#include "sim/simulator.h"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>

#include "actors/shard/shard_actor.h"
#include "sim/checkers.h"
#include "sim/linearizability.h"
#include "sim/sim_disk.h"
#include "sim/sim_network.h"

namespace cairn::sim {

using namespace cairn::raft;
using shard::reply_code;

namespace {

using invoke_atom = caf::atom_constant<caf::atom("invoke")>;

constexpr std::uint64_t fnv_offset = 1469598103934665603ULL;
constexpr std::uint64_t fnv_prime = 1099511628211ULL;

void mix(std::uint64_t& h, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= fnv_prime;
  }
}

std::uint64_t hash_bytes(const bytes& b) {
  std::uint64_t h = fnv_offset;
  for (unsigned char c : b) {
    h ^= c;
    h *= fnv_prime;
  }
  return h;
}

/// Everything the client actors and observers share with the driver.
struct shared_context {
  std::uint64_t now_us = 0;
  std::vector<history_op> history;
  std::vector<bool> op_done;
  std::vector<std::size_t> completed;  // op indexes completed since last poll
};

caf::behavior client_actor(caf::event_based_actor* self, shared_context* ctx,
                           std::uint64_t timeout_us) {
  return {
      [=](invoke_atom, std::uint64_t op_index, caf::actor target) {
        const history_op& op = ctx->history[op_index];
        auto on_reply = [=](std::uint8_t code, const std::string& value) {
          history_op& h = ctx->history[op_index];
          if (ctx->op_done[op_index]) return;
          ctx->op_done[op_index] = true;
          h.complete_us = ctx->now_us;
          switch (static_cast<reply_code>(code)) {
            case reply_code::ok:
              h.outcome = op_outcome::ok;
              if (h.kind == op_kind::get) h.value = value;
              break;
            case reply_code::not_found:
              h.outcome = op_outcome::not_found;
              break;
            case reply_code::cas_failed:
              h.outcome = op_outcome::cas_failed;
              break;
            case reply_code::dropped:
            case reply_code::invalid:
              // Refused before it was proposed: it did not happen. Mark it
              // as a failed read/put that the checker ignores.
              h.outcome = op_outcome::unknown;
              h.kind = op_kind::get;  // unknown gets are dropped by the checker
              break;
            default:
              h.outcome = op_outcome::unknown;
              break;
          }
          ctx->completed.push_back(op_index);
        };
        auto on_error = [=](caf::error&) {
          if (ctx->op_done[op_index]) return;
          ctx->op_done[op_index] = true;
          ctx->history[op_index].outcome = op_outcome::unknown;
          ctx->completed.push_back(op_index);
        };
        const auto timeout = std::chrono::microseconds(timeout_us);
        switch (op.kind) {
          case op_kind::put:
            self->request(target, timeout, shard::put_atom::value, op.key, op.value)
                .then(on_reply, on_error);
            break;
          case op_kind::cas:
            self->request(target, timeout, shard::cas_atom::value, op.key, !op.expected.has_value(),
                          op.expected.value_or(""), op.value)
                .then(on_reply, on_error);
            break;
          case op_kind::get:
            self->request(target, timeout, shard::get_atom::value, op.key).then(on_reply, on_error);
            break;
        }
      },
  };
}

class replica_random final : public shard::random_source {
 public:
  explicit replica_random(std::uint64_t seed) : r_(seed) {}
  std::uint64_t next() override { return r_.next(); }

 private:
  seeded_random r_;
};

class sim_log final : public shard::log_sink {
 public:
  explicit sim_log(bool verbose) : verbose_(verbose) {}
  void log(shard::log_level level, std::string_view what) override {
    if (level >= shard::log_level::warn) ++warnings;
    if (verbose_) std::fprintf(stderr, "sim: %.*s\n", static_cast<int>(what.size()), what.data());
  }
  std::uint64_t warnings = 0;

 private:
  bool verbose_;
};

class observer_fanout final : public shard::replica_observer {
 public:
  explicit observer_fanout(std::vector<std::unique_ptr<checker>>& c) : checkers_(c) {}
  void on_ready(node_id id, const core& c, const ready& rd) override {
    for (auto& k : checkers_) k->on_ready(id, c, rd);
  }
  void on_apply(node_id id, log_index index, term_t term, std::uint64_t fp) override {
    for (auto& k : checkers_) k->on_apply(id, index, term, fp);
  }
  void on_restore(node_id id, log_index index, std::uint64_t fp) override {
    for (auto& k : checkers_) k->on_restore(id, index, fp);
  }

 private:
  std::vector<std::unique_ptr<checker>>& checkers_;
};

std::vector<std::unique_ptr<checker>> make_enabled_checkers(
    const std::vector<std::string>& disabled) {
  auto all = make_checkers();
  std::vector<std::unique_ptr<checker>> out;
  for (auto& c : all) {
    if (std::find(disabled.begin(), disabled.end(), std::string(c->name())) == disabled.end())
      out.push_back(std::move(c));
  }
  return out;
}

enum class event_kind : std::uint8_t {
  tick,
  deliver,
  client_op,
  chaos,
  restart,
  heal,
  scripted,
  unblock,
  membership
};

struct event {
  event_kind kind;
  std::uint64_t node = 0;  // tick, deliver (destination), restart
  std::uint64_t from = 0;
  bytes frame;
  std::uint64_t client = 0;
};

struct fault_profile {
  network_faults net;
  disk_faults disk;
  double crash_rate = 0;       // per chaos round
  double partition_rate = 0;   // per chaos round
  double clock_drift = 0;      // max relative drift of a node's tick rate
  double clock_jump_rate = 0;  // per tick: a burst of extra ticks
  double membership_rate = 0;  // per membership round: propose a change
  std::string describe() const {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "loss=%.3f dup=%.3f delay=%" PRIu64 "+%" PRIu64
                  "us crash=%.3f partition=%.3f "
                  "fsync_err=%.4f write_err=%.4f torn=%.2f drift=%.3f jump=%.4f membership=%.2f",
                  net.loss_rate, net.duplicate_rate, net.delay_base_us, net.delay_jitter_us,
                  crash_rate, partition_rate, disk.fsync_error_rate, disk.write_error_rate,
                  disk.torn_write_rate, clock_drift, clock_jump_rate, membership_rate);
    return buf;
  }
};

double unit(seeded_random& r) {
  return static_cast<double>(r.next() >> 11) / static_cast<double>(1ULL << 53);
}

/// Swarm testing: each seed enables a random subset of faults at random rates.
fault_profile draw_profile(seeded_random& r, bool faults) {
  fault_profile p;
  p.net.delay_base_us = 200 + r.below(1000);
  p.net.delay_jitter_us = r.below(4000);
  if (!faults) return p;
  if (r.below(2)) p.net.loss_rate = unit(r) * 0.2;
  if (r.below(2)) p.net.duplicate_rate = unit(r) * 0.05;
  if (r.below(2)) p.crash_rate = unit(r) * 0.2;
  if (r.below(2)) p.partition_rate = unit(r) * 0.3;
  if (r.below(3) == 0) p.disk.fsync_error_rate = unit(r) * 0.002;
  if (r.below(3) == 0) p.disk.write_error_rate = unit(r) * 0.001;
  p.disk.torn_write_rate = unit(r);
  if (r.below(2)) p.clock_drift = unit(r) * 0.1;
  if (r.below(3) == 0) p.clock_jump_rate = unit(r) * 0.002;
  if (r.below(2)) p.membership_rate = 0.2 + unit(r) * 0.6;
  return p;
}

class simulation {
 public:
  explicit simulation(const sim_options& o)
      : opts_(o),
        random_(o.seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL),
        checkers_(make_enabled_checkers(o.disabled_checkers)),
        fanout_(checkers_),
        log_(o.verbose),
        net_(random_.next(), [this](std::uint64_t delay, node_id from, node_id to, bytes frame) {
          event e{event_kind::deliver, to.value, from.value, std::move(frame), 0};
          schedule(delay, std::move(e));
        }) {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.verbosity", caf::atom("quiet"));
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    cfg_.set("logger.console-verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    profile_ = draw_profile(random_, o.faults);
    net_.set_faults(profile_.net);
  }

  ~simulation() {
    for (auto& n : nodes_) {
      if (n.actor) caf::anon_send_exit(n.actor, caf::exit_reason::kill);
    }
    for (auto& c : clients_) caf::anon_send_exit(c.actor, caf::exit_reason::kill);
    run_jobs();
    nodes_.clear();
    clients_.clear();
  }

  sim_report run();

 private:
  struct node_slot {
    node_id id;
    std::unique_ptr<sim_disk> disk;
    std::unique_ptr<sim_network::endpoint> endpoint;
    std::unique_ptr<replica_random> random;
    caf::actor actor;
    bool up = false;
    std::uint64_t incarnation = 0;
    double drift = 0;
  };
  struct client_slot {
    caf::actor actor;
    std::uint64_t ops = 0;
  };

  void schedule(std::uint64_t delay_us, event e) {
    queue_.emplace(std::make_pair(ctx_.now_us + delay_us, seq_++), std::move(e));
  }
  void run_jobs();
  void start_node(node_slot& n);
  void crash_node(node_slot& n);
  shard::replica* replica_of(const node_slot& n);
  const cluster_view& view();
  void issue_op(std::uint64_t client);
  void chaos();
  void heal_all();
  void change_membership();
  bool converged(std::string& why);
  std::uint64_t tick_interval(const node_slot& n) const {
    return static_cast<std::uint64_t>(static_cast<double>(opts_.tick_us) * (1.0 + n.drift));
  }

  sim_options opts_;
  seeded_random random_;
  std::vector<std::unique_ptr<checker>> checkers_;
  observer_fanout fanout_;
  sim_log log_;
  sim_network net_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  fault_profile profile_;
  shared_context ctx_;
  std::vector<node_slot> nodes_;
  std::vector<client_slot> clients_;
  std::multimap<std::pair<std::uint64_t, std::uint64_t>, event> queue_;
  std::uint64_t seq_ = 0;
  std::uint64_t trace_ = fnv_offset;
  std::uint64_t last_caf_time_us_ = 0;
  bool healed_ = false;
  bool fresh_write_ = false;
  cluster_view view_;
  std::uint64_t heal_at_us_ = 0;
  bool clients_stopped_ = false;
  sim_report report_;
};

void simulation::run_jobs() {
  // Seeded choice of the next job: actor interleavings vary with the seed
  // and replay exactly with it.
  while (sched_->has_job()) {
    const std::size_t n = sched_->jobs.size();
    const std::size_t pick = n == 1 ? 0 : random_.below(n);
    if (pick != 0)
      std::rotate(sched_->jobs.begin(), sched_->jobs.begin() + static_cast<long>(pick),
                  sched_->jobs.begin() + static_cast<long>(pick) + 1);
    sched_->run_once();
  }
}

shard::replica* simulation::replica_of(const node_slot& n) {
  if (!n.up || !n.actor) return nullptr;
  auto* ptr = caf::actor_cast<caf::abstract_actor*>(n.actor);
  auto* sa = dynamic_cast<caf::stateful_actor<shard::shard_actor_state>*>(ptr);
  if (!sa || !sa->state.rep) return nullptr;
  return sa->state.rep.get();
}

void simulation::start_node(node_slot& n) {
  shard::replica_options o;
  o.raft.id = n.id;
  o.raft.election_timeout_ticks = 10;
  o.raft.heartbeat_interval_ticks = 2;
  o.raft.snapshot_timeout_ticks = 40;
  o.incarnation = ++n.incarnation;
  o.snapshot_every_entries = 200;
  o.snapshot_log_percent = 50;  // as the node runs
  o.retain_entries_after_snapshot = 20;
  o.request_timeout_ticks = 200;
  shard::environment env;
  env.storage = n.disk.get();
  env.net = n.endpoint.get();
  env.random = n.random.get();
  env.log = &log_;
  env.observer = &fanout_;
  n.actor = sys_->spawn(shard::shard_actor, o, env);
  n.up = true;
  run_jobs();
}

void simulation::crash_node(node_slot& n) {
  if (!n.up) return;
  if (n.actor) caf::anon_send_exit(n.actor, caf::exit_reason::kill);
  run_jobs();
  n.actor = caf::actor{};
  n.up = false;
  n.disk->crash();
  n.disk->clear_failed();
  for (auto& c : checkers_) c->on_crash(n.id);
  ++report_.crashes;
}

const cluster_view& simulation::view() {
  view_.replicas.resize(nodes_.size());
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto& n = nodes_[i];
    replica_probe& p = view_.replicas[i];
    p.id = n.id;
    p.disk = n.disk.get();
    p.incarnation = n.incarnation;
    auto* r = replica_of(n);
    p.core = r ? &r->core() : nullptr;
  }
  // Membership as the most recent leader sees it (or, without one, the
  // replica with the highest term).
  const core* best = nullptr;
  for (const auto& p : view_.replicas) {
    if (!p.core) continue;
    const bool lead = p.core->state() == role::leader;
    if (!best || p.core->term() > best->term() ||
        (p.core->term() == best->term() && lead && best->state() != role::leader))
      best = p.core;
  }
  if (best) {
    view_.voters_incoming = best->tracker().voters.incoming.ids();
    view_.voters_outgoing = best->tracker().voters.outgoing.ids();
  } else if (view_.voters_incoming.empty()) {
    for (auto& n : nodes_) view_.voters_incoming.push_back(n.id);
  }
  return view_;
}

void simulation::issue_op(std::uint64_t client) {
  if (clients_stopped_) return;
  auto& c = clients_[client];
  history_op op;
  op.client = client;
  op.key = "k" + std::to_string(random_.below(4));
  const auto roll = random_.below(100);
  op.value = "c" + std::to_string(client) + "-" + std::to_string(c.ops++);
  if (roll < 45) {
    op.kind = op_kind::put;
  } else if (roll < 60) {
    op.kind = op_kind::cas;
    // Expect a recent value of this client, or absence: some succeed.
    if (random_.below(3) == 0 || c.ops < 2) {
      op.expected.reset();
    } else {
      op.expected = "c" + std::to_string(random_.below(opts_.clients)) + "-" +
                    std::to_string(c.ops >= 2 ? c.ops - 2 : 0);
    }
  } else {
    op.kind = op_kind::get;
    op.value.clear();
  }
  op.invoke_us = ctx_.now_us;
  const std::uint64_t index = ctx_.history.size();
  ctx_.history.push_back(op);
  ctx_.op_done.push_back(false);
  // Clients do not know the leader: any live replica (forwarding does the
  // rest); a dead one makes the request fail, which is an outcome too.
  auto& target = nodes_[random_.below(nodes_.size())];
  if (!target.up) {
    ctx_.op_done[index] = true;
    ctx_.history[index].kind = op_kind::get;  // never sent: no effect
    ctx_.history[index].outcome = op_outcome::unknown;
    schedule(1000 + random_.below(20'000), event{event_kind::client_op, 0, 0, {}, client});
    return;
  }
  caf::anon_send(c.actor, invoke_atom::value, index, target.actor);
}

void simulation::chaos() {
  if (healed_) return;
  if (unit(random_) < profile_.crash_rate) {
    auto& n = nodes_[random_.below(nodes_.size())];
    if (n.up) {
      crash_node(n);
      schedule(50'000 + random_.below(2'000'000), event{event_kind::restart, n.id.value, 0, {}, 0});
    }
  }
  if (unit(random_) < profile_.partition_rate) {
    ++report_.partitions;
    net_.heal();
    const auto kind = random_.below(3);
    if (kind == 0) {
      // Isolate one node, both directions.
      const auto a = nodes_[random_.below(nodes_.size())].id;
      for (auto& n : nodes_) {
        if (n.id == a) continue;
        net_.block(a, n.id);
        net_.block(n.id, a);
      }
    } else if (kind == 1) {
      // Split into two random groups.
      std::vector<bool> side(nodes_.size());
      for (std::size_t i = 0; i < side.size(); ++i) side[i] = random_.below(2);
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        for (std::size_t j = 0; j < nodes_.size(); ++j) {
          if (side[i] != side[j]) net_.block(nodes_[i].id, nodes_[j].id);
        }
      }
    } else {
      // Asymmetric: one node can send but not receive (or the reverse).
      const auto a = nodes_[random_.below(nodes_.size())].id;
      const bool deaf = random_.below(2);
      for (auto& n : nodes_) {
        if (n.id == a) continue;
        if (deaf) {
          net_.block(n.id, a);
        } else {
          net_.block(a, n.id);
        }
      }
    }
  } else if (unit(random_) < 0.3) {
    net_.heal();
  }
  schedule(200'000 + random_.below(800'000), event{event_kind::chaos, 0, 0, {}, 0});
}

void simulation::change_membership() {
  if (healed_) return;
  if (unit(random_) < profile_.membership_rate) {
    // An operator's change, sent to a random live replica (forwarded to the
    // leader). Changes that do not apply are refused by the leader.
    using mk = shard::membership_kind;
    const auto a = 1 + random_.below(nodes_.size());
    const auto b = 1 + random_.below(nodes_.size());
    mk k1 = mk::none, k2 = mk::none;
    switch (random_.below(4)) {
      case 0:
        k1 = mk::remove;
        break;
      case 1:
        k1 = mk::add_learner;
        break;
      case 2:
        k1 = mk::add_voter;
        break;
      default:  // replace a by b in one joint change
        k1 = mk::remove;
        k2 = mk::add_voter;
        break;
    }
    auto& target = nodes_[random_.below(nodes_.size())];
    if (target.up) {
      ++report_.membership_changes;
      caf::anon_send(target.actor, shard::conf_atom::value, static_cast<std::uint8_t>(k1), a,
                     static_cast<std::uint8_t>(k2), b);
    }
  }
  schedule(500'000 + random_.below(1'500'000), event{event_kind::membership, 0, 0, {}, 0});
}

void simulation::heal_all() {
  healed_ = true;
  net_.heal();
  network_faults calm;
  calm.delay_base_us = profile_.net.delay_base_us;
  calm.delay_jitter_us = profile_.net.delay_jitter_us;
  net_.set_faults(calm);
  for (auto& n : nodes_) {
    n.disk->set_faults(disk_faults{});
    n.drift = 0;
    if (!n.up) start_node(n);
  }
}

bool simulation::converged(std::string& why) {
  why.clear();
  // 1. A write issued after the heal was acknowledged.
  if (!fresh_write_) {
    why = "no write committed since the faults healed";
    return false;
  }
  // 2. Every replica applied everything committed and holds the same bytes.
  clients_stopped_ = true;
  // The members of the current configuration (voters and learners, as the
  // leader sees it) must converge; replicas removed by a membership change
  // are left out.
  const core* leader = nullptr;
  for (auto& n : nodes_) {
    auto* r = replica_of(n);
    if (r && r->core().state() == role::leader && (!leader || r->core().term() > leader->term()))
      leader = &r->core();
  }
  if (!leader) {
    why = "no leader";
    return false;
  }
  std::vector<node_slot*> members;
  for (auto& n : nodes_) {
    if (leader->tracker().is_member(n.id)) members.push_back(&n);
  }
  log_index commit{0};
  for (auto* n : members) {
    auto* r = replica_of(*n);
    if (!r) {
      why = "a member replica is down";
      return false;
    }
    commit = std::max(commit, r->core().log().committed());
  }
  bytes reference;
  bool first = true;
  for (auto* np : members) {
    auto& n = *np;
    auto* r = replica_of(n);
    if (r->core().log().applied() != commit) {
      const auto& c = r->core();
      why = "replica " + std::to_string(n.id.value) +
            " has not applied everything committed: term " + std::to_string(c.term().value) + " " +
            to_string(c.state()) + " leader " + std::to_string(c.leader().value) + " applied " +
            std::to_string(c.log().applied().value) + " commit " +
            std::to_string(c.log().committed().value) + " last " +
            std::to_string(c.log().last_index().value) + "; leader (term " +
            std::to_string(leader->term().value) + ") commit " + std::to_string(commit.value);
      auto it = leader->tracker().nodes.find(n.id);
      if (it != leader->tracker().nodes.end()) {
        const auto& pr = it->second;
        why += " sees it in " + std::string(to_string(pr.state)) + " match " +
               std::to_string(pr.match.value) + " next " + std::to_string(pr.next.value) +
               (pr.msg_app_flow_paused ? " paused" : "") + " inflight " +
               std::to_string(pr.inflight.count()) + (pr.recent_active ? " active" : " inactive");
      }
      return false;
    }
    bytes state = r->state().snapshot();
    if (first) {
      reference = std::move(state);
      first = false;
    } else if (state != reference) {
      why = "replica " + std::to_string(n.id.value) + " diverged";
      return false;
    }
  }
  report_.committed_index = commit.value;
  const auto cs = leader->tracker().to_conf_state();
  std::string m = "voters";
  for (auto id : cs.voters) m += " " + std::to_string(id.value);
  if (!cs.learners.empty()) {
    m += ", learners";
    for (auto id : cs.learners) m += " " + std::to_string(id.value);
  }
  report_.final_membership = m;
  return true;
}

sim_report simulation::run() {
  conf_state initial;
  for (std::size_t i = 1; i <= opts_.replicas; ++i) initial.voters.push_back(node_id{i});
  nodes_.resize(opts_.replicas);
  for (std::size_t i = 0; i < opts_.replicas; ++i) {
    auto& n = nodes_[i];
    n.id = node_id{i + 1};
    n.disk = std::make_unique<sim_disk>(initial, random_.next());
    disk_faults df = profile_.disk;
    df.lying_fsync = opts_.lying_disks;
    n.disk->set_faults(df);
    n.endpoint = std::make_unique<sim_network::endpoint>(net_, n.id);
    n.random = std::make_unique<replica_random>(random_.next());
    n.drift = (unit(random_) * 2 - 1) * profile_.clock_drift;
  }
  report_.fault_profile = profile_.describe();
  for (auto& n : nodes_) {
    start_node(n);
    schedule(random_.below(opts_.tick_us), event{event_kind::tick, n.id.value, 0, {}, 0});
  }
  const std::uint64_t request_timeout_us = 3'000'000;
  for (std::size_t c = 0; c < opts_.clients; ++c) {
    clients_.push_back(client_slot{sys_->spawn(client_actor, &ctx_, request_timeout_us), 0});
    schedule(random_.below(100'000), event{event_kind::client_op, 0, 0, {}, c});
  }
  if (opts_.faults) schedule(500'000, event{event_kind::chaos, 0, 0, {}, 0});
  if (opts_.faults) schedule(700'000, event{event_kind::membership, 0, 0, {}, 0});
  for (std::size_t i = 0; i < opts_.schedule.size(); ++i) {
    const auto& f = opts_.schedule[i];
    const bool targets_leader = f.kind == scripted_fault_kind::crash_leader ||
                                f.kind == scripted_fault_kind::isolate_leader;
    if (!targets_leader && (f.node < 1 || f.node > nodes_.size())) continue;
    schedule(f.at_tick * opts_.tick_us, event{event_kind::scripted, f.node, 0, {}, i});
  }
  const std::uint64_t heal_at = opts_.ticks * opts_.tick_us;
  schedule(heal_at, event{event_kind::heal, 0, 0, {}, 0});
  const std::uint64_t deadline = heal_at + opts_.heal_ticks_max * opts_.tick_us;
  std::string why_not;

  while (!queue_.empty()) {
    auto it = queue_.begin();
    const std::uint64_t t = it->first.first;
    if (t > deadline) break;
    event e = std::move(it->second);
    queue_.erase(it);
    ctx_.now_us = t;
    // Keep CAF's virtual clock in step so request timeouts fire.
    if (t > last_caf_time_us_) {
      sched_->advance_time(std::chrono::microseconds(t - last_caf_time_us_));
      last_caf_time_us_ = t;
    }
    ++report_.events;
    mix(trace_, t);
    mix(trace_, static_cast<std::uint64_t>(e.kind));
    mix(trace_, e.node);
    switch (e.kind) {
      case event_kind::tick: {
        auto& n = nodes_[e.node - 1];
        if (n.up) caf::anon_send(n.actor, shard::tick_atom::value);
        if (!healed_ && unit(random_) < profile_.clock_jump_rate) {
          // The node's clock jumps: a burst of ticks at once.
          for (std::uint64_t k = 0, burst = 1 + random_.below(20); k < burst && n.up; ++k)
            caf::anon_send(n.actor, shard::tick_atom::value);
        }
        schedule(tick_interval(n), event{event_kind::tick, n.id.value, 0, {}, 0});
        break;
      }
      case event_kind::deliver: {
        --net_.in_flight;
        mix(trace_, hash_bytes(e.frame));
        auto& n = nodes_[e.node - 1];
        if (n.up && !net_.is_blocked(node_id{e.from}, n.id)) {
          caf::anon_send(n.actor, shard::raft_atom::value, std::move(e.frame));
        }
        break;
      }
      case event_kind::client_op:
        issue_op(e.client);
        break;
      case event_kind::chaos:
        chaos();
        break;
      case event_kind::membership:
        change_membership();
        break;
      case event_kind::restart: {
        auto& n = nodes_[e.node - 1];
        if (!n.up) start_node(n);
        break;
      }
      case event_kind::scripted: {
        if (healed_) break;
        scripted_fault f = opts_.schedule[e.client];
        if (f.kind == scripted_fault_kind::crash_leader ||
            f.kind == scripted_fault_kind::isolate_leader) {
          std::uint64_t leader = 0;
          for (auto& cand : nodes_) {
            auto* r = replica_of(cand);
            if (r && r->core().state() == role::leader) leader = cand.id.value;
          }
          if (leader == 0) break;  // no leader right now: nothing to hit
          f.node = leader;
          f.kind = f.kind == scripted_fault_kind::crash_leader ? scripted_fault_kind::crash
                                                               : scripted_fault_kind::isolate;
        }
        auto& n = nodes_[f.node - 1];
        const std::uint64_t until = std::max<std::uint64_t>(1, f.duration_ticks) * opts_.tick_us;
        switch (f.kind) {
          case scripted_fault_kind::crash:
            if (n.up) {
              crash_node(n);
              schedule(until, event{event_kind::restart, n.id.value, 0, {}, 0});
            }
            break;
          case scripted_fault_kind::isolate:
          case scripted_fault_kind::deafen:
            ++report_.partitions;
            for (auto& other : nodes_) {
              if (other.id == n.id) continue;
              net_.block(other.id, n.id);
              if (f.kind == scripted_fault_kind::isolate) net_.block(n.id, other.id);
            }
            schedule(until, event{event_kind::unblock, n.id.value, 0, {}, 0});
            break;
          case scripted_fault_kind::fsync_fail:
            n.disk->fail_next_sync();
            break;
          default:
            break;
        }
        break;
      }
      case event_kind::unblock:
        for (auto& other : nodes_) {
          net_.unblock(other.id, node_id{e.node});
          net_.unblock(node_id{e.node}, other.id);
        }
        break;
      case event_kind::heal:
        heal_at_us_ = ctx_.now_us;
        heal_all();
        break;
    }
    run_jobs();
    // Replicas that stopped on a failed fsync are crashed and restarted.
    for (auto& n : nodes_) {
      if (n.up && n.disk->failed()) {
        ++report_.fsync_failures;
        crash_node(n);
        schedule(100'000 + random_.below(1'000'000),
                 event{event_kind::restart, n.id.value, 0, {}, 0});
      }
    }
    // Clients whose operation finished issue the next one after a pause.
    for (auto index : ctx_.completed) {
      const auto& op = ctx_.history[index];
      if (healed_ && op.invoke_us >= heal_at_us_ && op.outcome == op_outcome::ok &&
          op.kind != op_kind::get)
        fresh_write_ = true;
      mix(trace_, index);
      mix(trace_, static_cast<std::uint64_t>(op.outcome));
      mix(trace_, hash_bytes(op.value));
      schedule(1000 + random_.below(50'000), event{event_kind::client_op, 0, 0, {}, op.client});
    }
    ctx_.completed.clear();
    const auto& v = view();
    for (auto& c : checkers_) {
      c->on_step(v);
      if (c->violation()) {
        report_.ok = false;
        report_.failure = std::string(c->name()) + ": " + *c->violation();
        break;
      }
    }
    if (!report_.ok) break;
    if (healed_ && converged(why_not)) {
      report_.heal_ticks = (ctx_.now_us - heal_at) / opts_.tick_us;
      break;
    }
  }
  report_.simulated_us = ctx_.now_us;
  report_.simulated_ticks = ctx_.now_us / opts_.tick_us;
  if (report_.ok && !(healed_ && why_not.empty() && report_.committed_index > 0)) {
    if (why_not.empty()) why_not = healed_ ? "no commit" : "run ended before the heal";
    report_.ok = false;
    report_.failure = "liveness: did not converge within " + std::to_string(opts_.heal_ticks_max) +
                      " ticks after the faults healed (" + why_not + ")";
  }
  for (std::size_t i = 0; i < ctx_.history.size(); ++i) {
    const auto& op = ctx_.history[i];
    if (!ctx_.op_done[i] || op.outcome == op_outcome::unknown) {
      ++report_.ops_unknown;
    } else {
      ++report_.ops_ok;
    }
  }
  const auto& off = opts_.disabled_checkers;
  if (report_.ok && std::find(off.begin(), off.end(), "Linearizability") == off.end()) {
    auto lin = check_linearizable(ctx_.history);
    if (!lin.linearizable) {
      report_.ok = false;
      report_.failure = "Linearizability: " + lin.detail;
    }
  }
  for (auto& n : nodes_) {
    if (auto* r = replica_of(n)) {
      report_.messages_rejected += r->metrics().messages_rejected;
      mix(trace_, r->state().fingerprint());
    }
  }
  report_.frames_sent = net_.sent;
  report_.frames_lost = net_.lost;
  report_.trace_hash = trace_;
  return report_;
}

}  // namespace

sim_report run_simulation(const sim_options& opts) {
  simulation s(opts);
  return s.run();
}

std::vector<std::string> checker_names() {
  std::vector<std::string> out;
  for (const auto& c : make_checkers()) out.emplace_back(c->name());
  out.emplace_back("Linearizability");
  return out;
}

}  // namespace cairn::sim
