// runtime/chunk_service.h — the chunk side of a storage node: its chunk
// devices (one device actor each, on a file or a block device), the key
// manager actor (LMDB key store, node master key), the repair actor, and
// what they report: /metrics figures, the event log, /v1/devices,
// /v1/repair.
//
// Owner: the node (runtime/node.cpp) creates one at start and stops it
// before its actor system goes. Methods are thread-safe: the HTTP thread
// reads figures while device actors publish them.
//
// Data layout under the node's data directory:
//   keys/master.key     the node master key (runtime/master_key_file.h)
//   keys/records/       LMDB: wrapped tenant keys (runtime/lmdb_key_store.h),
//                       only without a system shard; a cluster node keeps
//                       them in the system shard (runtime/system_key_store.h)
//   devices/devN        device files `cairn dev` creates when none are
//                       configured (chunk.devices), each with devN.index/
//   events.log          the event log (runtime/event_log.h)
//
// Invariants (docs/chunk.md, "The node's chunk service"):
//  CS1. A device that cannot be opened (missing, damaged beyond recovery)
//       is reported (event, failed in /v1/devices and /metrics) and never
//       stops the node: the rest of its devices keep serving.
//  CS2. Every corrupt shard, device failure and capacity threshold a
//       device reports is in the event log and counted in /metrics; a
//       corrupt shard or a failed device starts a repair pass.
//  CS3. Device actors are closed (close message) before the stores and
//       files they use are released.
#pragma once

#include <caf/all.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/keys/secret_bytes.h"
#include "actors/placement/placement.h"
#include "runtime/event_log.h"

namespace cairn::runtime {

struct chunk_service_options {
  std::string data_dir;
  std::uint64_t node_id = 0;
  /// Device files or block devices; empty: `dev_devices` files under
  /// <data_dir>/devices.
  std::vector<std::string> devices;
  /// Size of a device file created on first start.
  std::uint64_t device_mb = 1024;
  std::uint64_t dev_devices = 0;
  /// The node's system shard replica (null while it has none): when set,
  /// the key manager keeps its records there, shared by every node (ADR
  /// 0006); when empty, in the node-local LMDB store (tests, tools).
  std::function<caf::actor()> system_shard;
};

class chunk_service {
 public:
  chunk_service(caf::actor_system& sys, chunk_service_options options, event_log& events);
  ~chunk_service();
  chunk_service(const chunk_service&) = delete;
  chunk_service& operator=(const chunk_service&) = delete;

  /// Opens keys and devices and spawns the actors. Throws std::runtime_error
  /// for what must stop the node (the master key or key store); a device
  /// that fails is reported instead (CS1).
  void start();
  /// Stops repair, closes every device (CS3), stops the key manager.
  void stop();

  caf::actor key_manager() const;
  /// A copy of the master key (the cluster key, ADR 0006), for the join
  /// reply to a node of this cluster. REQUIRES: start() succeeded.
  keys::secret_bytes cluster_key() const;
  /// Device actors that are up, by device id.
  std::vector<std::pair<std::uint64_t, caf::actor>> devices() const;
  /// Every device as placement sees it (failed ones too, marked so) with
  /// its actor (null when failed): what gateways build their device
  /// directory from.
  std::vector<std::pair<placement::device, caf::actor>> device_endpoints() const;

  nlohmann::json devices_json() const;
  nlohmann::json repair_json() const;
  /// Starts a repair pass (folded into a running one's successor).
  void start_repair();
  /// Prometheus text for the chunk side (appended to the node's).
  std::string metrics_text() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace cairn::runtime
