// runtime/client_listener.h — a node's listener for cairn clients (the FUSE
// client, ADR 0009 §2-§3): TLS 1.3 in which the node shows its certificate
// and the client none, then an access-key handshake, then inode-addressed
// namespace requests, key grants, the device directory and chunk I/O for
// the key's tenant (schema/client.capnp, runtime/client_codec.h).
//
// Owner: the node (runtime/node.cpp) starts one when `client_listen` is set
// (`cairn dev` always) and stops it before the actor system goes. Tests
// start their own over a test backend.
//
// Model. One Asio thread owns the sockets. Each connection gets one
// client-session actor (a gateway session, event-based: it never blocks,
// so many requests of one connection are in flight at once against the
// shards, the key manager and the devices). Frames go from the socket to
// the actor; answers come back by posting to the Asio thread.
//
// Invariants:
//  CL1. Before its welcome a connection is served nothing: the only frame
//       accepted is one hello, checked against the access key's secret
//       (unwrapped by the key manager) over this connection's nonce and TLS
//       exporter value. An unknown key, a key not ready, or a wrong proof
//       gets a refused welcome and the connection closes.
//  CL2. Bounded: at most `in_flight_max` requests of a connection are being
//       served; the listener reads nothing more from it until one is
//       answered. At most `connections_max` connections are open; more are
//       closed at once. Frames are at most `frame_bytes_max`.
//  CL3. A namespace request names a (shard, bucket) this connection resolved
//       by name for its tenant; else `denied`. Commands are only the
//       inode-addressed ones (make/remove/rename node, set attributes,
//       write range) and report_orphans, for such a bucket; their clock is
//       the node's.
//  CL4. Chunk requests may get, put and stat shards, on any device this
//       node can reach (its own or, through the node transport, another
//       node's); delete, restore and list are refused (io_error).
//  CL5. A malformed frame, or a frame of a kind a client may not send,
//       closes that connection only.
#pragma once

#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "gateways/common/backend.h"
#include "runtime/client_codec.h"

namespace boost::asio::ssl {
class context;
}

namespace cairn::runtime {

struct client_listener_settings {
  std::size_t frame_bytes_max = client_frame_bytes_max;
  std::size_t in_flight_max = 64;
  std::size_t connections_max = 1024;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
};

struct client_listener_counters {
  std::atomic<std::uint64_t> connections{0};  // accepted, ever
  std::atomic<std::uint64_t> open{0};
  std::atomic<std::uint64_t> welcomed{0};
  std::atomic<std::uint64_t> refused{0};  // handshakes refused
  std::atomic<std::uint64_t> frames_rejected{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> chunk_requests{0};
  /// For a device of another node: relayed over the node transport (a
  /// client that connects to every node sends none).
  std::atomic<std::uint64_t> chunk_requests_relayed{0};
};

class client_listener {
 public:
  client_listener(caf::actor_system& sys, boost::asio::ssl::context& tls,
                  gateway::node_backend backend, std::uint64_t node_id,
                  client_listener_settings settings = {});
  ~client_listener();
  client_listener(const client_listener&) = delete;
  client_listener& operator=(const client_listener&) = delete;

  /// Binds `host:port` (port 0: any) and serves. Throws std::runtime_error
  /// naming the address if it cannot bind.
  void start(const std::string& host, std::uint16_t port);
  /// The bound port (after start).
  std::uint16_t port() const;
  /// Closes every connection and the acceptor. Idempotent.
  void stop();

  const client_listener_counters& counters() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace cairn::runtime
