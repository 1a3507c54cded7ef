// runtime/transport.h — the node transport: Raft messages of many shards
// between cairn nodes, batched per node pair, over TCP with mutual TLS 1.3
// (Boost.Asio + OpenSSL); plus liveness pings, the join handshake, and
// chunk I/O on other nodes' devices (runtime/remote_devices.h).
//
// Owner: the node (node.cpp) creates one transport, registers peers'
// addresses as it learns them (config, join, the cluster map) and hands
// received frames to the shard actors. Not CAF remoting (ARCHITECTURE §3).
//
// Model. Every node dials every peer it sends to (one outbound connection
// per peer address, carrying Raft batches and pings) and accepts the
// peers' connections (carrying their batches; it answers pings with
// pongs). The peer's node id is taken from its certificate, which the
// cluster CA signed; a frame claiming another sender closes the
// connection.
//
// Invariants:
//  N1. Bounded memory: each peer's send queue holds at most
//      send_queue_bytes_max; frames are at most frame_bytes_max. Messages
//      beyond the bound, or for a peer that is not connected, are dropped
//      and counted (Raft retransmits; nothing waits on the transport).
//  N2. A malformed, oversized or misattributed frame closes that one
//      connection and is logged; the node carries on.
//  N3. Reconnects back off exponentially from reconnect_min_ms to
//      reconnect_max_ms, with jitter; a connection that has not heard a
//      pong within dead_after_ms is closed and redialled.
//  N4. Messages to one peer leave in the order they were handed in.
//  N5. Chunk frames (remote device I/O) share the peer's byte bound with
//      Raft messages but are never silently dropped: send_chunk_* refuses
//      (returns false) when the peer is not connected or the queue is full,
//      so the asker fails that request at once instead of timing out; a
//      lost connection fails what was queued (the asker's pending requests
//      fail on on_peer_down). They are written after each flush's Raft
//      messages.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/config.h"
#include "runtime/transport_codec.h"

namespace boost::asio::ssl {
class context;
}

namespace cairn::runtime {

struct transport_counters {
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> frames_sent{0};
  std::atomic<std::uint64_t> frames_received{0};
  std::atomic<std::uint64_t> messages_sent{0};
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> messages_dropped{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<std::uint64_t> frames_rejected{0};
  std::atomic<std::uint64_t> handshakes_rejected{0};
};

struct peer_status {
  std::uint64_t id = 0;  // 0 while only the address is known (joining)
  std::string address;
  bool connected = false;
  std::uint64_t queued_bytes = 0;
  std::uint64_t messages_dropped = 0;
  std::uint64_t reconnects = 0;
  double last_heard_seconds_ago = -1;  // -1: never
};

class transport {
 public:
  struct handlers {
    /// A batch of Raft messages from `from` (runs on the transport thread;
    /// must not block).
    std::function<void(std::uint64_t from, std::vector<shard_message>&& batch)> on_raft;
    /// A join request from the node `from` (its certificate's id).
    std::function<void(std::uint64_t from, const join_request& request)> on_join;
    std::function<void(std::uint64_t from, const join_reply& reply)> on_join_reply;
    /// The connection to a peer was lost or went silent.
    std::function<void(std::uint64_t peer)> on_peer_down;
    /// An outbound connection to a peer was established.
    std::function<void(std::uint64_t peer)> on_peer_up;
    /// Chunk I/O for one of this node's devices, and answers to this
    /// node's requests (transport thread; must not block).
    std::function<void(std::uint64_t from, chunk_request&& request)> on_chunk_request;
    std::function<void(std::uint64_t from, chunk_reply&& reply)> on_chunk_reply;
  };

  /// `tls` must outlive the transport.
  transport(std::uint64_t self, transport_settings settings, boost::asio::ssl::context& tls,
            handlers h);
  ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Binds the listening socket (throws std::runtime_error naming the
  /// address) and starts the transport thread.
  void start(const host_port& listen);
  /// Closes every connection and joins the thread. Idempotent.
  void stop();
  /// The bound port (useful with port 0).
  std::uint16_t listen_port() const;

  // Thread-safe from here on.
  /// Where to dial node `id`. Changing the address redials.
  void set_peer_address(std::uint64_t id, const std::string& address);
  void forget_peer(std::uint64_t id);
  /// Queues a Raft message for a peer (N1, N4).
  void send_raft(std::uint64_t to, std::uint64_t shard, std::string frame);
  /// Queues chunk frames (N5): false when refused.
  bool send_chunk_request(std::uint64_t to, chunk_request request);
  bool send_chunk_reply(std::uint64_t to, chunk_reply reply);
  /// Sends a join request to an address whose node id is not known yet.
  void send_join(const std::string& address, const join_request& request);
  void send_join_reply(std::uint64_t to, const join_reply& reply);

  /// Connected, and heard from within dead_after_ms.
  bool peer_alive(std::uint64_t id) const;
  std::vector<peer_status> peers() const;
  const transport_counters& counters() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace cairn::runtime
