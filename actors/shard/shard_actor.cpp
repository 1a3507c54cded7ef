// actors/shard/shard_actor.cpp — see shard_actor.h.
#include "actors/shard/shard_actor.h"

namespace cairn::shard {

namespace {

/// Replies through a CAF response promise.
reply_fn promise_reply(caf::response_promise rp) {
  return [rp](client_reply r) mutable {
    rp.deliver(static_cast<std::uint8_t>(r.code), std::move(r.value));
  };
}

void stop_if_failed(caf::stateful_actor<shard_actor_state>* self) {
  if (self->state.rep->failed()) self->quit(caf::exit_reason::user_shutdown);
}

}  // namespace

caf::behavior shard_actor(caf::stateful_actor<shard_actor_state>* self, replica_options opts,
                          environment env) {
  self->state.rep = std::make_unique<replica>(std::move(opts), env);
  return {
      [=](tick_atom) {
        self->state.rep->tick();
        stop_if_failed(self);
      },
      [=](raft_atom, const std::string& frame) {
        self->state.rep->receive(frame);
        stop_if_failed(self);
      },
      [=](put_atom, std::string key, std::string value) {
        auto rp = self->make_response_promise();
        self->state.rep->put(std::move(key), std::move(value), promise_reply(rp));
        stop_if_failed(self);
      },
      [=](cas_atom, std::string key, bool expect_absent, std::string expected, std::string value) {
        auto rp = self->make_response_promise();
        std::optional<std::string> exp;
        if (!expect_absent) exp = std::move(expected);
        self->state.rep->compare_and_set(std::move(key), std::move(exp), std::move(value),
                                         promise_reply(rp));
        stop_if_failed(self);
      },
      [=](get_atom, std::string key) {
        auto rp = self->make_response_promise();
        self->state.rep->get(std::move(key), promise_reply(rp));
        stop_if_failed(self);
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
        stop_if_failed(self);
      },
      [=](campaign_atom) {
        self->state.rep->campaign();
        stop_if_failed(self);
      },
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
