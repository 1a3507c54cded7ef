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

std::optional<shard::ns_result> propose_namespace(caf::blocking_actor* self,
                                                  const caf::actor& shard,
                                                  const shard::ns_command& command,
                                                  std::chrono::milliseconds timeout) {
  if (!shard) return std::nullopt;
  std::optional<shard::ns_result> out;
  self->request(shard, timeout, shard::ns_atom::value, shard::encode_ns_command(command))
      .receive(
          [&](std::uint8_t code, const std::string& value) {
            if (code == 0) out = shard::decode_ns_result(value);
          },
          [](caf::error&) {});
  return out;
}

}  // namespace cairn::gateway
