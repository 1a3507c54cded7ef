// runtime/node.h — a cairn node process: the actor system, the local shard
// replicas with their LMDB storage, the ticker that drives them, and the
// admin HTTP endpoint (/health, /metrics, /status, /kv).
//
// Owner: the `cairn` binary's main thread creates one node and stops it on
// SIGINT/SIGTERM. For now a node hosts one single-replica shard (`cairn
// dev`); peers and many shards arrive with the runtime issue.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace cairn::runtime {

struct node_options {
  std::string data_dir = "./cairn-data";
  std::string admin_address = "127.0.0.1";
  std::uint16_t admin_port = 9090;
  std::uint64_t tick_ms = 10;
  std::uint64_t node_id = 1;
};

class node {
 public:
  explicit node(node_options opts);
  ~node();
  /// Starts everything; throws std::runtime_error with a clear reason.
  void start();
  /// The admin endpoint's base URL once started.
  std::string admin_endpoint() const;
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace cairn::runtime
