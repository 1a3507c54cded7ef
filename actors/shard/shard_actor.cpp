// actors/shard/shard_actor.cpp — see shard_actor.h.
#include "actors/shard/shard_actor.h"

#include <nlohmann/json.hpp>

namespace cairn::shard {

namespace {

using self_ptr = caf::stateful_actor<shard_actor_state>*;

/// Replies through a CAF response promise.
reply_fn promise_reply(caf::response_promise rp) {
  return [rp](client_reply r) mutable {
    rp.deliver(static_cast<std::uint8_t>(r.code), std::move(r.value));
  };
}

/// Registers with (or leaves) the ticker when the replica's need changes.
void update_ticking(self_ptr self) {
  auto& st = self->state;
  if (!st.ticker) return;
  const bool want = st.rep->wants_ticks();
  if (want == st.ticking) return;
  st.ticking = want;
  if (want)
    self->send(st.ticker, ticker_add_atom::value, caf::actor{self});
  else
    self->send(st.ticker, ticker_remove_atom::value, caf::actor{self});
}

/// Fail-stop: the replica stopped after a storage failure.
void quit_failed(self_ptr self) {
  if (self->state.ticker)
    self->send(self->state.ticker, ticker_remove_atom::value, caf::actor{self});
  self->quit(caf::sec::runtime_error);
}

/// After each input: fail-stop, or schedule the batch's flush.
void after_input(self_ptr self) {
  if (self->state.rep->failed()) return quit_failed(self);
  if (!self->state.flush_pending) {
    self->state.flush_pending = true;
    self->send(self, flush_atom::value);
  } else {
    update_ticking(self);
  }
}

std::vector<raft::node_id> to_ids(const std::vector<std::uint64_t>& v) {
  std::vector<raft::node_id> out;
  for (auto id : v) out.push_back(raft::node_id{id});
  return out;
}

nlohmann::json ids_json(const std::vector<raft::node_id>& v) {
  auto a = nlohmann::json::array();
  for (auto id : v) a.push_back(id.value);
  return a;
}

}  // namespace

nlohmann::json describe_replica_json(const replica_summary& s) {
  const auto& m = s.metrics;
  nlohmann::json j;
  j["node"] = s.id.value;
  j["role"] = raft::to_string(s.role);
  j["term"] = s.term.value;
  j["leader"] = s.leader.value;
  j["commit_index"] = s.commit.value;
  j["applied_index"] = s.applied.value;
  j["last_index"] = s.last_index.value;
  j["first_index"] = s.first_index.value;
  j["snapshot_index"] = s.snapshot_index.value;
  j["voters"] = ids_json(s.conf.voters);
  j["voters_outgoing"] = ids_json(s.conf.voters_outgoing);
  j["learners"] = ids_json(s.conf.learners);
  j["keys"] = s.keys;
  j["failed"] = s.failed;
  j["ticking"] = s.wants_ticks;
  if (s.role == raft::role::leader) {
    auto progress = nlohmann::json::array();
    for (const auto& p : s.progress)
      progress.push_back({{"node", p.node.value},
                          {"match", p.match.value},
                          {"next", p.next.value},
                          {"state", raft::to_string(p.state)},
                          {"learner", p.learner},
                          {"active", p.active}});
    j["progress"] = std::move(progress);
  }
  j["metrics"] = {{"proposals", m.proposals},
                  {"proposals_dropped", m.proposals_dropped},
                  {"applied_entries", m.applied_entries},
                  {"reads", m.reads},
                  {"messages_sent", m.messages_sent},
                  {"messages_received", m.messages_received},
                  {"messages_rejected", m.messages_rejected},
                  {"fsyncs", m.fsyncs},
                  {"snapshots_taken", m.snapshots_taken},
                  {"snapshots_installed", m.snapshots_installed}};
  return j;
}

std::string describe_replica(const replica_summary& s) {
  return describe_replica_json(s).dump();
}

caf::behavior shard_actor(self_ptr self, replica_options opts, environment env) {
  return ticked_shard_actor(self, std::move(opts), env, caf::actor{});
}

caf::behavior ticked_shard_actor(self_ptr self, replica_options opts, environment env,
                                 caf::actor ticker) {
  const bool batch = opts.batch_inputs;
  self->state.rep = std::make_unique<replica>(std::move(opts), env);
  self->state.rep->set_auto_flush(!batch);
  self->state.ticker = ticker;
  update_ticking(self);
  // Without batching the flush message is never sent: after_input only
  // schedules one when auto flush is off.
  if (!batch) self->state.flush_pending = true;
  return {
      [=](flush_atom) {
        self->state.flush_pending = false;
        self->state.rep->flush();
        if (self->state.rep->failed()) return quit_failed(self);
        update_ticking(self);
      },
      [=](wake_atom) {
        self->state.rep->wake();
        update_ticking(self);
      },
      [=](tick_atom) {
        self->state.rep->tick();
        after_input(self);
      },
      [=](raft_atom, const std::string& frame) {
        self->state.rep->receive(frame);
        after_input(self);
      },
      [=](raft_atom, std::uint64_t sender, const std::string& frame) {
        self->state.rep->receive_from(raft::node_id{sender}, frame);
        after_input(self);
      },
      [=](put_atom, std::string key, std::string value) {
        auto rp = self->make_response_promise();
        self->state.rep->put(std::move(key), std::move(value), promise_reply(rp));
        after_input(self);
      },
      [=](cas_atom, std::string key, bool expect_absent, std::string expected, std::string value) {
        auto rp = self->make_response_promise();
        std::optional<std::string> exp;
        if (!expect_absent) exp = std::move(expected);
        self->state.rep->compare_and_set(std::move(key), std::move(exp), std::move(value),
                                         promise_reply(rp));
        after_input(self);
      },
      [=](batch_atom, std::vector<std::string> flat) {
        auto rp = self->make_response_promise();
        std::vector<kv_write> writes;
        bool well_formed = flat.size() % 3 == 0;
        for (std::size_t i = 0; well_formed && i < flat.size(); i += 3) {
          if (flat[i] == "put")
            writes.push_back({std::move(flat[i + 1]), std::move(flat[i + 2])});
          else if (flat[i] == "delete")
            writes.push_back({std::move(flat[i + 1]), std::nullopt});
          else
            well_formed = false;
        }
        if (!well_formed) {
          rp.deliver(static_cast<std::uint8_t>(reply_code::invalid),
                     std::string("a batch is (put|delete, key, value) triples"));
          return;
        }
        self->state.rep->write_batch(std::move(writes), promise_reply(rp));
        after_input(self);
      },
      [=](ns_atom, const std::string& encoded) {
        auto rp = self->make_response_promise();
        auto cmd = decode_ns_command(encoded);
        if (!cmd) {
          rp.deliver(static_cast<std::uint8_t>(reply_code::invalid),
                     std::string("not a namespace command"));
          return;
        }
        self->state.rep->propose_namespace(std::move(*cmd), promise_reply(rp));
        after_input(self);
      },
      [=](ns_read_atom, namespace_query_ptr query) {
        auto rp = self->make_response_promise();
        if (!query || !*query) {
          rp.deliver(static_cast<std::uint8_t>(reply_code::invalid), std::string("no query"));
          return;
        }
        self->state.rep->read_namespace(*query, promise_reply(rp));
        after_input(self);
      },
      [=](get_atom, std::string key) {
        auto rp = self->make_response_promise();
        self->state.rep->get(std::move(key), promise_reply(rp));
        after_input(self);
      },
      [=](conf_atom, std::uint8_t kind1, std::uint64_t node1, std::uint8_t kind2,
          std::uint64_t node2) {
        auto rp = self->make_response_promise();
        raft::conf_change cc;
        for (auto [kind, node] : {std::pair{kind1, node1}, std::pair{kind2, node2}}) {
          if (kind > 2) continue;
          cc.changes.push_back(raft::conf_change_single{static_cast<raft::conf_change_kind>(kind),
                                                        raft::node_id{node}});
        }
        if (cc.changes.empty()) {
          rp.deliver(static_cast<std::uint8_t>(reply_code::invalid),
                     std::string("no change given"));
          return;
        }
        self->state.rep->change_membership(std::move(cc), promise_reply(rp));
        after_input(self);
      },
      [=](campaign_atom) {
        self->state.rep->campaign();
        after_input(self);
      },
      [=](reconcile_atom, const std::vector<std::uint64_t>& voters,
          const std::vector<std::uint64_t>& learners) {
        auto what = self->state.rep->reconcile_membership(
            membership_target{to_ids(voters), to_ids(learners)});
        after_input(self);
        return what.value_or("");
      },
      [=](scan_atom, const std::string& prefix, std::uint64_t limit) {
        std::vector<std::string> out;
        for (auto& [k, v] : self->state.rep->state().scan(prefix, limit)) {
          out.push_back(k);
          out.push_back(v);
        }
        return out;
      },
      [=](describe_atom) { return describe_replica(self->state.rep->summary()); },
      [=](status_atom) {
        const auto st = self->state.rep->core().get_status();
        const auto& m = self->state.rep->metrics();
        return caf::make_message(st.hard.term.value, st.hard.commit.value, st.applied.value,
                                 st.last_index.value, st.soft.leader.value,
                                 static_cast<std::uint64_t>(st.soft.state), m.proposals, m.fsyncs,
                                 m.messages_rejected);
      },
  };
}

}  // namespace cairn::shard
