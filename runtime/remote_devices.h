// runtime/remote_devices.h — chunk I/O on other nodes' devices, over the
// node transport (runtime/transport.h, frames ChunkRequest/ChunkReply).
//
// Owner: the node (runtime/node.cpp) creates one remote_devices at start,
// after its transport, and routes the transport's chunk callbacks to it;
// it stops it before the transport and the actor system go.
//
// Asking side: one proxy actor per remote device speaks exactly the device
// actor's protocol (actors/chunk/device_actor.h: put, get, delete, restore,
// stat, list), so the gateways' device directory and the chunk collector
// use a device on another node as they use a local one.
// Answering side: requests for this node's devices are handed to the local
// device actor by one bridge actor, and its answer goes back to the asker.
//
// Invariants:
//  RD1. Every request a proxy accepts is answered exactly once: with the
//       remote device's answer, or with an error (caf::sec::
//       request_receiver_down) when the transport refuses it (N5), the
//       peer goes down, or no answer came within `timeout`. A late answer
//       after that is dropped.
//  RD2. Bounded: a proxy holds at most `pending_max` requests; more are
//       refused at once (the asker's pipeline bounds what it has in flight,
//       so this is a backstop, not a queue).
//  RD3. The answering side serves only devices of this node; a request for
//       another device id gets device_status::io_error (the asker treats
//       the shard as unavailable and reads parity).
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "runtime/transport_codec.h"

namespace cairn::runtime {

class transport;

struct remote_devices_options {
  std::chrono::milliseconds timeout{30'000};
  std::size_t pending_max = 1024;
};

/// Hands a request to some connection (the node transport, a client
/// connection): false if it refuses now (not connected, queue full), so the
/// proxy fails that request at once (N5).
using chunk_sender = std::function<bool(chunk_request)>;

/// A proxy for one device reached through `send`: it speaks the device
/// actor's protocol, keeps RD1-RD2, and learns answers from
/// deliver_chunk_reply and a lost connection from
/// fail_pending_chunk_requests. Used by remote_devices and by the FUSE
/// client (gateways/fuse/cluster_client.h).
caf::actor spawn_device_proxy(caf::actor_system& sys, std::uint64_t device, chunk_sender send,
                              remote_devices_options options = {});
void deliver_chunk_reply(const caf::actor& proxy, chunk_reply&& reply);
void fail_pending_chunk_requests(const caf::actor& proxy);

/// The answering side of one request: asks `device` (a device actor, or
/// null: io_error, RD3) from the event-based actor `self` and calls
/// `send_back` exactly once with the answer or an io_error. Used by the
/// node transport's bridge and by the client listener.
void serve_chunk_request(caf::event_based_actor* self, const caf::actor& device,
                         chunk_request&& request, std::function<void(chunk_reply)> send_back,
                         std::chrono::milliseconds timeout);

class remote_devices {
 public:
  /// `local_device` finds this node's device actor by id (null: none).
  remote_devices(caf::actor_system& sys, transport& net,
                 std::function<caf::actor(std::uint64_t device)> local_device,
                 remote_devices_options options = {});
  ~remote_devices();
  remote_devices(const remote_devices&) = delete;
  remote_devices& operator=(const remote_devices&) = delete;

  /// The proxy of `device` on `node` (spawned on first use). Thread-safe.
  caf::actor proxy(std::uint64_t node, std::uint64_t device);

  // Transport thread.
  void on_request(std::uint64_t from, chunk_request&& request);
  void on_reply(std::uint64_t from, chunk_reply&& reply);
  /// The connection to `node` was lost: its proxies fail what is pending.
  void on_peer_down(std::uint64_t node);

  /// Stops the proxies and the bridge (pending requests fail). Idempotent.
  void stop();

 private:
  caf::actor_system& sys_;
  transport& net_;
  std::function<caf::actor(std::uint64_t)> local_device_;
  remote_devices_options options_;
  caf::actor bridge_;
  std::mutex mutex_;
  struct proxy_entry {
    std::uint64_t node = 0;
    caf::actor actor;
  };
  std::map<std::uint64_t, proxy_entry> proxies_;  // by device id
  bool stopped_ = false;
};

}  // namespace cairn::runtime
