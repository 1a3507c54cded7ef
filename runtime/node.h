// runtime/node.h — a cairn storage node: the actor system, the node's LMDB
// environment, the shard replicas it hosts (the system shard with the
// cluster map, and data shards), the node transport to its peers, the
// controller that keeps local replicas in line with the cluster map, and
// the admin HTTP endpoint (health, metrics, JSON admin API, a key-value
// API for tests and benchmarks).
//
// Owner: the `cairn` binary's main thread creates one node (`cairn server`
// or `cairn dev`) and stops it on SIGINT/SIGTERM. Design and invariants:
// docs/runtime.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "runtime/config.h"

namespace cairn::runtime {

struct node_mode {
  /// `cairn dev`: no transport; the node creates its first data shard.
  bool dev = false;
};

class node {
 public:
  node(node_config cfg, node_mode mode);
  ~node();
  /// Starts everything; throws std::runtime_error with a clear reason.
  void start();
  /// The admin endpoint's base URL once started.
  std::string admin_endpoint() const;
  /// The S3 endpoint's base URL ("" without an S3 gateway) and the access
  /// key it accepts (`cairn dev`).
  std::string s3_endpoint() const;
  /// The NFS gateway's port, or 0 when it does not run.
  std::uint16_t nfs_port() const;
  /// `cairn dev`: waits until the node serves, then finds or creates the
  /// tenant "default", its access key labelled "cairn-dev" and the bucket
  /// "cairn"; (access key id, secret). Throws std::runtime_error naming
  /// what failed. Empty without an S3 gateway.
  std::pair<std::string, std::string> s3_credentials() const;
  /// The client listener's port (`cairn mount`), or 0 when it does not
  /// run, and the CA file clients must trust.
  std::uint16_t client_port() const;
  std::string client_ca() const;
  /// The transport's bound port (0 without a transport).
  std::uint16_t transport_port() const;
  void stop();

  struct impl;  // public only so the HTTP sessions in node.cpp can name it

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace cairn::runtime
