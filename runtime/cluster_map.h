// runtime/cluster_map.h — the cluster map: which nodes exist and where
// they listen, which data shards exist and which nodes should hold them.
// It lives in the system shard (shard 0, a Raft group of up to five voters
// with every other node as a learner) as key-value pairs:
//   node/<id>   -> {"id", "transport", "admin", "removed"}
//   shard/<id>  -> {"id", "replicas": [...], "initial": [...]}
//   devices/<node id> -> {"devices": [{"id", "capacity", "free", "failed"}]}
//                  the node's chunk devices, published by the node itself
//                  (gateways on every node place chunks over all of them)
// `replicas` is the target set the shard's leader moves its Raft
// membership toward (actors/shard/membership.h); `initial` is the set the
// shard was created with, the only nodes that may bootstrap it.
//
// Owner: the node's controller (runtime/node.cpp) reads it from its local
// system replica and proposes changes to it. Pure functions: parsing,
// encoding, placement and key routing.
//
// Invariants:
//  C1. A node id that was removed never becomes active again.
//  C2. A shard's replicas are distinct active nodes; placement prefers the
//      nodes holding the fewest shards, ties broken by id (deterministic).
//  C3. Every node routes a key to the same shard for the same map.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/shard/membership.h"

namespace cairn::runtime {

inline constexpr std::uint64_t system_shard = 0;
inline constexpr std::size_t system_voters_max = 5;

struct node_entry {
  std::uint64_t id = 0;
  std::string transport;
  std::string admin;
  bool removed = false;
  /// Where `cairn mount` clients reach its client listener (host:port);
  /// empty: it has none. Clients connect to every node for chunk I/O.
  std::string client;
  friend bool operator==(const node_entry&, const node_entry&) = default;
};

struct shard_entry {
  std::uint64_t id = 0;
  std::vector<std::uint64_t> replicas;
  std::vector<std::uint64_t> initial;
  friend bool operator==(const shard_entry&, const shard_entry&) = default;
};

/// One chunk device as its node publishes it.
struct device_entry {
  std::uint64_t id = 0;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t free_bytes = 0;
  bool failed = false;
  friend bool operator==(const device_entry&, const device_entry&) = default;
};

std::string node_key(std::uint64_t id);
std::string shard_key(std::uint64_t id);
std::string devices_key(std::uint64_t node);
std::string encode(const node_entry& n);
std::string encode(const shard_entry& s);
std::string encode(const std::vector<device_entry>& devices);

struct cluster_map {
  std::map<std::uint64_t, node_entry> nodes;
  std::map<std::uint64_t, shard_entry> shards;                 // data shards (id >= 1)
  std::map<std::uint64_t, std::vector<device_entry>> devices;  // by node id

  /// From the system shard's key-value pairs; malformed entries are
  /// skipped and reported in `problems`.
  static cluster_map parse(const std::vector<std::pair<std::string, std::string>>& kv,
                           std::vector<std::string>* problems = nullptr);

  std::vector<std::uint64_t> active_nodes() const;
  /// The system shard's target: the first system_voters_max active nodes
  /// by id vote, the rest learn.
  shard::membership_target system_target() const;
  shard::membership_target target_of(std::uint64_t shard) const;
  /// Shards whose target or initial set names `node`.
  std::vector<std::uint64_t> shards_of(std::uint64_t node) const;
  /// The data shard that owns `key` (C3); nullopt if there is none.
  std::optional<std::uint64_t> shard_for_key(std::string_view key) const;
  /// `replicas` distinct active nodes for a new shard (C2); fewer if the
  /// cluster is smaller.
  std::vector<std::uint64_t> place(std::size_t replicas,
                                   const std::vector<std::uint64_t>& exclude = {}) const;
  std::uint64_t next_shard_id() const;
};

}  // namespace cairn::runtime
