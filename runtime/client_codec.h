// runtime/client_codec.h — frames between a cairn client (the FUSE client,
// ADR 0009) and a node's client listener (schema/client.capnp) as plain
// C++ values, and their encoding: a 4-byte big-endian length prefix and one
// flat Cap'n Proto message, as on the node transport.
//
// Owner: runtime/client_listener.cpp (the node side) and
// gateways/fuse/cluster_client.cpp (the client side) encode and decode.
// Pure functions, no I/O.
//
// Invariants:
//  CF1. decode_client_frame never throws and never reads beyond its input;
//       a truncated, oversized, malformed frame or one of another version
//       yields an error with a reason, and nothing else (fuzzed:
//       client_frame_fuzz).
//  CF2. encode then decode gives back every field.
//  CF3. Key material (a grant's keys) is decoded straight into
//       keys::secret_bytes, never into a std::string.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "actors/keys/key_manager_actor.h"
#include "runtime/transport_codec.h"

namespace cairn::runtime {

inline constexpr std::uint16_t client_protocol_version = 1;
/// Largest client frame: a chunk shard of a 64 MiB chunk and its framing.
inline constexpr std::size_t client_frame_bytes_max = 72ull << 20;
inline constexpr std::size_t client_nonce_bytes = 32;
/// What the client's proof is computed over, before the nonce and the TLS
/// exporter value (ADR 0009 §2).
inline constexpr std::string_view client_proof_label = "cairn client v1";
/// The RFC 5705 exporter label binding the proof to the TLS session.
inline constexpr std::string_view client_exporter_label = "EXPORTER-cairn-client-v1";
/// Most directory entries one readdir answers.
inline constexpr std::uint32_t client_readdir_max = 1024;
/// Buckets a buckets_answer lists (what S3 ListBuckets scans of the catalog).
inline constexpr std::size_t client_buckets_max = 100000;
inline constexpr std::size_t client_nodes_max = 4096;

struct client_challenge {
  std::string nonce;
};
struct client_hello {
  std::string key_id;
  std::string proof;
};
struct client_welcome {
  bool accepted = false;
  std::string reason;
  std::uint64_t tenant = 0;
  std::uint64_t node = 0;
};

// --- requests --------------------------------------------------------------------------
struct bucket_query {
  std::string name;
};
struct inode_query {
  std::uint64_t shard = 0, bucket = 0, inode = 0;
};
struct lookup_query {
  std::uint64_t shard = 0, bucket = 0, dir = 0;
  std::string name;
};
struct readdir_query {
  std::uint64_t shard = 0, bucket = 0, dir = 0;
  std::string after;
  std::uint32_t max = 0;
};
struct command_query {
  std::uint64_t shard = 0;
  std::string command;  // encode_ns_command's bytes
};
struct devices_query {};
struct grant_query {
  std::uint64_t epoch = 0;  // 0: the current one
};
/// The names of the tenant's buckets (a mount of all of them, ADR 0009).
struct buckets_query {};
/// The nodes' client listeners: a client sends a device's chunk I/O to
/// the node that has the device (ADR 0009 §3).
struct nodes_query {};
struct client_request {
  std::uint64_t id = 0;
  std::variant<bucket_query, inode_query, lookup_query, readdir_query, command_query, devices_query,
               grant_query, buckets_query, nodes_query>
      body;
};

// --- replies ---------------------------------------------------------------------------
enum class client_status : std::uint8_t {
  ok = 0,
  not_found = 1,    // no such bucket, inode or name
  denied = 2,       // not this tenant's
  unavailable = 3,  // the shard or key manager did not answer; try again
  invalid = 4,      // a request the node will never serve
};
inline constexpr std::uint8_t client_status_max = 4;

struct bucket_answer {
  std::uint64_t shard = 0, bucket = 0;
};
struct inode_answer {
  std::string inode;  // encode_inode's bytes
};
struct readdir_answer {
  struct entry {
    std::string list_key;
    std::string inode;  // encode_inode's bytes
  };
  std::vector<entry> entries;
  bool more = false;
};
struct command_answer {
  std::string result;  // encode_ns_result's bytes
};
struct device_info {
  std::uint64_t id = 0, node = 0, capacity_bytes = 0, free_bytes = 0;
  std::uint8_t state = 0;
};
struct devices_answer {
  std::vector<device_info> devices;
};
struct grant_answer {
  keys::key_grant_ptr grant;
};
struct buckets_answer {
  std::vector<std::string> names;  // in name order, at most client_buckets_max
};
struct node_endpoint {
  std::uint64_t node = 0;
  std::string address;  // host:port of its client listener
};
struct nodes_answer {
  std::vector<node_endpoint> nodes;  // at most client_nodes_max
};
struct client_reply {
  std::uint64_t id = 0;
  client_status status = client_status::ok;
  std::string message;
  std::variant<std::monostate, bucket_answer, inode_answer, readdir_answer, command_answer,
               devices_answer, grant_answer, buckets_answer, nodes_answer>
      body;
};

struct client_frame {
  std::variant<client_challenge, client_hello, client_welcome, client_request, client_reply,
               chunk_request, chunk_reply>
      body;
};

/// The client's proof of its access key (ADR 0009 §2): HMAC-SHA256 under
/// the secret of client_proof_label | nonce | the TLS exporter value.
std::string client_proof(std::span<const std::uint8_t> secret, std::string_view nonce,
                         std::string_view exporter);
/// Compares a proof with the expected one in constant time.
bool client_proof_matches(std::string_view expected, std::string_view given);

/// The frame with its length prefix, ready to write.
std::string encode_client_frame(const client_frame& f);

/// Decodes one frame body (without its prefix), at most `bytes_max` long.
std::variant<client_frame, frame_error> decode_client_frame(const std::string& body,
                                                            std::size_t bytes_max);

}  // namespace cairn::runtime
