// gateways/common/backend.cpp — see backend.h.
#include "gateways/common/backend.h"

#include "actors/shard/shard_actor.h"

namespace cairn::gateway {

bool read_namespace(caf::blocking_actor* self, const caf::actor& shard,
                    std::function<void(const shard::namespace_state&)> query,
                    std::chrono::milliseconds timeout) {
  if (!shard) return false;
  auto q = std::make_shared<const shard::replica::namespace_query>(
      [query = std::move(query)](const shard::namespace_state& ns) {
        query(ns);
        return std::string();
      });
  bool ok = false;
  self->request(shard, timeout, shard::ns_read_atom::value, shard::namespace_query_ptr{q})
      .receive([&](std::uint8_t code, const std::string&) { ok = code == 0; }, [](caf::error&) {});
  return ok;
}

}  // namespace cairn::gateway
