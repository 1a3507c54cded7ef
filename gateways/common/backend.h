// gateways/common/backend.h — what a gateway (S3, NFS) needs from the node
// that hosts it: the system shard (the catalog), the data shards' actors,
// the chunk devices, the key manager and the clock.
//
// Owner: the node runtime builds one per gateway (runtime/node.cpp); tests
// build their own. Every function must be thread-safe: gateway sessions
// call them concurrently.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/shard/namespace_codec.h"
#include "actors/shard/namespace_state.h"
#include "gateways/common/chunk_pipeline.h"

namespace cairn::gateway {

struct node_backend {
  /// The system shard's actor (the catalog), or null while there is none.
  std::function<caf::actor()> system_shard;
  /// The data shards that may hold new buckets, and a shard's actor.
  std::function<std::vector<std::uint64_t>()> data_shards;
  std::function<caf::actor(std::uint64_t shard)> shard_actor;
  std::function<std::shared_ptr<const device_directory>()> devices;
  /// The cluster's nodes that serve `cairn mount` clients: (node id,
  /// client listener address), from the cluster map. Empty if unset.
  std::function<std::vector<std::pair<std::uint64_t, std::string>>()> client_endpoints;
  caf::actor key_manager;
  /// Nanoseconds since the epoch (object times, SigV4's "now").
  std::function<std::int64_t()> clock;
};

/// Runs `query` on a data shard's namespace after a linearizable read
/// (the shard actor's (nsread)), from a blocking actor; false if the shard
/// is not hosted here or did not answer within `timeout`. The query runs
/// on the replica's thread: it must copy out what it needs.
bool read_namespace(caf::blocking_actor* self, const caf::actor& shard,
                    std::function<void(const shard::namespace_state&)> query,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// Proposes a namespace command to a data shard (the shard actor's (ns))
/// and waits until it is applied; its result, or nullopt if the shard is
/// not hosted here or did not answer within `timeout`.
std::optional<shard::ns_result> propose_namespace(
    caf::blocking_actor* self, const caf::actor& shard, const shard::ns_command& command,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace cairn::gateway
