// actors/keys/key_manager_actor.cpp — see key_manager_actor.h.
#include "actors/keys/key_manager_actor.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "actors/common/assert.h"

namespace cairn::keys {

const char* key_manager_actor_state::name = "key_manager";

caf::error make_key_store_failed(const std::string& what) {
  return caf::error{static_cast<std::uint8_t>(key_actor_exit::key_store_failed), caf::atom("keys"),
                    caf::make_message(what)};
}

void load_key_manager(key_manager_parts& parts) {
  auto records = parts.store->load_all();
  auto core = std::make_unique<key_manager>(parts.config, *parts.provider, *parts.random);
  if (const auto e = core->load(records); e != key_error::none)
    throw std::runtime_error("key records: " + std::string(to_string(e)));
  // Unwrap one key now: records wrapped under another master key (a wrong
  // or replaced master key file) must stop the node at start, not fail
  // the first request of some tenant.
  for (const auto t : core->tenants()) {
    if (core->state_of(t) != tenant_state::active) continue;
    const auto probe = core->dedup_key(t);
    if (!probe.ok())
      throw std::runtime_error("key records of tenant " + std::to_string(t.value) +
                               " do not unwrap (" + std::string(to_string(probe.error)) +
                               "): the master key is not the one they were wrapped under");
    core->forget_cached_keys(t);
    break;
  }
  parts.core = std::move(core);
}

namespace {

using self_ptr = caf::stateful_actor<key_manager_actor_state>*;

/// Persists what the last state change queued (KA1); false after a store
/// failure, which has already stopped the actor (KA2).
bool persist(self_ptr self) {
  auto& core = *self->state.parts->core;
  while (core.has_ready()) {
    auto ready = core.ready();
    try {
      self->state.parts->store->apply(ready);
    } catch (const std::exception& e) {
      self->quit(make_key_store_failed(e.what()));
      return false;
    }
    core.advance();
    ++self->state.store_syncs;
  }
  core.check_invariants();
  return true;
}

std::uint8_t code(key_error e) {
  return static_cast<std::uint8_t>(e);
}

constexpr auto reload_delay = std::chrono::milliseconds(50);

/// Rebuilds the core from the shared store (KA4); false keeps the old one.
bool reload(self_ptr self) {
  auto& parts = *self->state.parts;
  if (!parts.reload_on_miss) return false;
  auto old = std::move(parts.core);
  try {
    load_key_manager(parts);
  } catch (const std::exception&) {
    parts.core = std::move(old);
    return false;
  }
  ++self->state.reloads;
  return true;
}

bool is_miss(key_error e) {
  return e == key_error::unknown_tenant || e == key_error::unknown_epoch;
}

/// Runs `attempt` (returning its error and reply); on a miss reloads and
/// tries again, twice at most (KA4).
template <class F>
caf::message with_reload(self_ptr self, F attempt) {
  auto [e, reply] = attempt();
  for (int round = 0; round < 2 && is_miss(e) && self->state.parts->reload_on_miss; ++round) {
    if (round == 1) std::this_thread::sleep_for(reload_delay);  // detached: only this actor waits
    if (!reload(self)) break;
    std::tie(e, reply) = attempt();
  }
  return reply;
}

nlohmann::json describe(const key_manager_actor_state& st) {
  auto& core = *st.parts->core;
  nlohmann::json tenants = nlohmann::json::array();
  for (const auto t : core.tenants()) {
    nlohmann::json j{{"tenant", t.value}};
    switch (core.state_of(t)) {
      case tenant_state::pending:
        j["state"] = "pending";
        break;
      case tenant_state::active:
        j["state"] = "active";
        break;
      case tenant_state::shredded:
        j["state"] = "shredded";
        break;
      case tenant_state::unknown:
        j["state"] = "unknown";
        break;
    }
    if (auto epochs = core.epochs(t); epochs.ok()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto e : epochs.value) list.push_back(e.value);
      j["epochs"] = list;
      j["current_epoch"] = core.current_epoch(t).value.value;
    }
    const auto h = st.holders.find(t);
    j["holders"] = h == st.holders.end() ? 0 : h->second.size();
    tenants.push_back(std::move(j));
  }
  return {{"tenants", tenants},
          {"counters",
           {{"grants", st.grants},
            {"store_syncs", st.store_syncs},
            {"reloads", st.reloads},
            {"cached_keys", core.cached_key_count()}}}};
}

std::pair<key_error, caf::message> grant(self_ptr self, std::uint64_t tenant, std::uint64_t epoch) {
  auto& core = *self->state.parts->core;
  const tenant_id t{tenant};
  key_epoch e{epoch};
  auto fail = [](key_error err) {
    return std::pair{err, caf::make_message(code(err), key_grant_ptr{})};
  };
  if (epoch == 0) {
    const auto current = core.current_epoch(t);
    if (!current.ok()) return fail(current.error);
    e = current.value;
  }
  auto dedup = core.dedup_key(t);
  if (!dedup.ok()) return fail(dedup.error);
  auto data = core.data_key(t, e);
  if (!data.ok()) return fail(data.error);
  auto grant = std::make_shared<key_grant>();
  grant->tenant = t;
  grant->epoch = e;
  grant->dedup_key = std::move(dedup.value);
  grant->data_key = std::move(data.value);
  if (auto sender = self->current_sender()) {
    const auto addr = caf::actor_cast<caf::actor_addr>(sender);
    // Holders are watched so the set stays bounded by live holders.
    if (self->state.holders[t].insert(addr).second) self->monitor(sender);
  }
  ++self->state.grants;
  return std::pair{key_error::none,
                   caf::make_message(code(key_error::none), key_grant_ptr{std::move(grant)})};
}

}  // namespace

caf::behavior key_manager_actor(self_ptr self, std::shared_ptr<key_manager_parts> parts) {
  CAIRN_ASSERT_MSG(parts && parts->core, "key manager actor spawned without a loaded core");
  self->state.parts = std::move(parts);
  self->set_down_handler([self](const caf::down_msg& down) {
    for (auto it = self->state.holders.begin(); it != self->state.holders.end();) {
      it->second.erase(down.source);
      it = it->second.empty() ? self->state.holders.erase(it) : std::next(it);
    }
  });
  return {
      [self](tenant_create_atom, std::uint64_t tenant) -> std::uint8_t {
        reload(self);
        const auto e = self->state.parts->core->create_tenant(tenant_id{tenant});
        if (e == key_error::none && !persist(self)) return code(key_error::not_durable);
        return code(e);
      },
      [self](rotate_atom, std::uint64_t tenant) -> caf::message {
        reload(self);
        const auto r = self->state.parts->core->rotate(tenant_id{tenant});
        if (r.ok() && !persist(self))
          return caf::make_message(code(key_error::not_durable), std::uint64_t{0});
        return caf::make_message(code(r.error), r.value.value);
      },
      [self](shred_atom, std::uint64_t tenant) -> std::uint8_t {
        const tenant_id t{tenant};
        reload(self);
        const auto e = self->state.parts->core->shred(t);
        if (e != key_error::none) return code(e);
        if (!persist(self)) return code(key_error::not_durable);
        // The core holds no key of t any more (K7); copies are out there.
        if (auto h = self->state.holders.find(t); h != self->state.holders.end()) {
          for (const auto& addr : h->second)
            if (auto holder = caf::actor_cast<caf::actor>(addr))
              self->send(holder, key_revoked_atom::value, tenant);
          self->state.holders.erase(h);
        }
        return code(key_error::none);
      },
      [self](grant_atom, std::uint64_t tenant, std::uint64_t epoch) -> caf::message {
        return with_reload(self, [&] { return grant(self, tenant, epoch); });
      },
      [self](secret_wrap_atom, std::uint64_t tenant, const std::string& key_id,
             const secret_ptr& secret) -> caf::message {
        if (!secret) return caf::make_message(code(key_error::bad_record), std::string());
        return with_reload(self, [&] {
          auto r = self->state.parts->core->wrap_access_secret(tenant_id{tenant}, key_id,
                                                               secret->bytes());
          return std::pair{r.error, caf::make_message(code(r.error),
                                                      std::string(r.value.begin(), r.value.end()))};
        });
      },
      [self](secret_unwrap_atom, std::uint64_t tenant, const std::string& key_id,
             const std::string& wrapped) -> caf::message {
        return with_reload(self, [&] {
          auto r = self->state.parts->core->unwrap_access_secret(
              tenant_id{tenant}, key_id,
              std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(wrapped.data()),
                                            wrapped.size()));
          if (!r.ok()) return std::pair{r.error, caf::make_message(code(r.error), secret_ptr{})};
          return std::pair{
              key_error::none,
              caf::make_message(code(key_error::none),
                                secret_ptr{std::make_shared<secret_bytes>(std::move(r.value))})};
        });
      },
      [self](key_describe_atom) -> std::string { return describe(self->state).dump(); },
  };
}

}  // namespace cairn::keys
