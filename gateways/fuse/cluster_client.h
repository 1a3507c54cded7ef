// gateways/fuse/cluster_client.h — the FUSE client's connections to the
// nodes' client listeners (runtime/client_listener.h, ADR 0009 §2-§3):
// TLS 1.3 trusting the cluster CA only, the access-key handshake, then
// requests with correlation ids (many in flight) to the node of
// `endpoint`, and chunk I/O through device proxies that speak the device
// actor's protocol, so the gateways' chunk pipeline runs unchanged on the
// client. A device's chunk I/O goes straight to the node that has it,
// over a connection of its own (CC-4).
//
// Owner: one per mount (or test); thread-safe: FUSE worker threads call it
// concurrently and block on their own replies.
//
// Invariants:
//  CC-1. Every call returns: with the node's reply, or with `unavailable`
//        when the connection is lost, was never made, or no reply came
//        within the timeout (ADR 0009 §7: EIO, never a hung mount).
//  CC-2. A lost connection fails every pending call and chunk request at
//        once; the next call reconnects (handshake again), at most once per
//        `reconnect_interval`, and resolves every bucket resolved before
//        again before the new connection carries a call.
//  CC-3. Bounded: at most `in_flight_max` calls wait at once; more wait for
//        a slot (up to the timeout), so a burst cannot queue without end.
//  CC-4. A chunk request for a device of another node goes over a direct
//        connection to that node (from the nodes the cluster map lists,
//        dialled in the background, CC-2's rules for each) while it is
//        up, else through the first node, which relays it. Losing a
//        direct connection fails that node's devices' pending chunk
//        requests at once, as CC-2 does for the first.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "actors/keys/secret_bytes.h"
#include "gateways/common/chunk_pipeline.h"
#include "runtime/client_codec.h"

namespace cairn::fuse {

struct cluster_client_options {
  std::string endpoint;  // host:port of a node's client listener
  std::filesystem::path ca_cert;
  std::string access_key_id;
  keys::secret_bytes secret;
  std::chrono::milliseconds timeout{30'000};
  std::chrono::milliseconds reconnect_interval{1'000};
  std::size_t in_flight_max = 256;
};

class cluster_client {
 public:
  cluster_client(caf::actor_system& sys, cluster_client_options options);
  ~cluster_client();
  cluster_client(const cluster_client&) = delete;
  cluster_client& operator=(const cluster_client&) = delete;

  /// Connects and authenticates. Throws std::runtime_error saying what
  /// failed: the address, TLS (an untrusted node), or the handshake (the
  /// node's reason).
  void connect();
  bool connected() const;
  /// The key's tenant and the node answering (after connect).
  std::uint64_t tenant() const;
  std::uint64_t node() const;

  using request_body = decltype(runtime::client_request::body);
  /// One request and its reply (CC-1).
  runtime::client_reply call(request_body body);

  /// The node's devices, each reached through a proxy over this
  /// connection (a device the node cannot reach is listed failed).
  std::shared_ptr<const gateway::device_directory> devices();

  /// Closes the connection (pending calls fail). connect() may follow.
  void disconnect();

  /// Where chunk requests went (CC-4): to the device's own node (the first
  /// node's devices included), or relayed through the first node.
  struct chunk_routes {
    std::uint64_t direct = 0, relayed = 0;
    std::size_t direct_connections = 0;  // up now
  };
  chunk_routes routes() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

/// The status as a word for messages ("not found", "unavailable", ...).
std::string_view to_string(runtime::client_status s);

}  // namespace cairn::fuse
