// runtime/transport_codec.h — node-to-node frames (schema/transport.capnp)
// as plain C++ values, and their encoding: a 4-byte big-endian length
// prefix followed by one flat Cap'n Proto message.
//
// Owner: the node transport (transport.cpp) encodes and decodes; the node
// (node.cpp) builds join requests and replies. Pure functions, no I/O.
//
// Invariants:
//  T1. decode_frame never throws and never reads beyond its input; a frame
//      that is truncated, oversized, of another version or malformed yields
//      an error with a reason, and nothing else.
//  T2. encode then decode is the identity for every frame.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cairn::runtime {

inline constexpr std::uint16_t transport_version = 1;
inline constexpr std::size_t frame_prefix_bytes = 4;

struct node_address {
  std::uint64_t id = 0;
  std::string transport;
  std::string admin;
  friend bool operator==(const node_address&, const node_address&) = default;
};

struct shard_message {
  std::uint64_t shard = 0;
  std::string frame;  // an encoded Raft message
  friend bool operator==(const shard_message&, const shard_message&) = default;
};

struct raft_batch {
  std::vector<shard_message> messages;
  friend bool operator==(const raft_batch&, const raft_batch&) = default;
};
struct ping {
  std::uint64_t sequence = 0;
  friend bool operator==(const ping&, const ping&) = default;
};
struct pong {
  std::uint64_t sequence = 0;
  friend bool operator==(const pong&, const pong&) = default;
};
struct join_request {
  node_address node;
  friend bool operator==(const join_request&, const join_request&) = default;
};
struct join_reply {
  bool accepted = false;
  std::string reason;
  std::vector<node_address> nodes;
  /// The cluster master key (ADR 0006): set only in an accepted reply.
  std::string cluster_key;
  friend bool operator==(const join_reply&, const join_reply&) = default;
};

/// A device actor message (actors/chunk/device_actor.h) for a device on
/// another node (runtime/remote_devices.h).
enum class chunk_op : std::uint8_t {
  put = 0,
  get = 1,
  remove = 2,
  restore = 3,
  stat = 4,
  list = 5
};
inline constexpr std::uint8_t chunk_op_max = 5;

struct chunk_request {
  std::uint64_t id = 0;
  std::uint64_t device = 0;
  chunk_op op = chunk_op::get;
  std::string key;  // the encoded shard key, or list's after-key
  std::uint64_t epoch = 0;
  std::string payload;
  std::uint32_t limit = 0;
  friend bool operator==(const chunk_request&, const chunk_request&) = default;
};

struct chunk_reply {
  std::uint64_t id = 0;
  std::uint64_t device = 0;
  std::uint8_t status = 0;
  std::string payload;
  std::uint64_t epoch = 0;
  friend bool operator==(const chunk_reply&, const chunk_reply&) = default;
};

struct transport_frame {
  std::uint64_t from = 0;
  std::variant<raft_batch, ping, pong, join_request, join_reply, chunk_request, chunk_reply> body;
  friend bool operator==(const transport_frame&, const transport_frame&) = default;
};

/// The frame with its length prefix, ready to write.
std::string encode_frame(const transport_frame& f);

/// Bytes a raft_batch with these messages costs on the wire, roughly (for
/// splitting batches under the frame limit).
std::size_t shard_message_wire_bytes(const shard_message& m);

/// Reads the length prefix of a frame (big-endian).
std::uint32_t decode_frame_length(const unsigned char prefix[frame_prefix_bytes]);

struct frame_error {
  std::string reason;
};

/// Decodes one frame body (without its prefix). `bytes_max` bounds the
/// size accepted.
std::variant<transport_frame, frame_error> decode_frame(const std::string& body,
                                                        std::size_t bytes_max);

}  // namespace cairn::runtime
