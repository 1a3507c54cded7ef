// gateways/s3/server.h — the S3 gateway: an HTTP/1.1 server (Boost.Beast)
// whose every connection is served by one gateway-session actor (a
// detached CAF blocking actor doing synchronous I/O on its socket), with
// SigV4 (sigv4.h), XML (xml.h), the namespace in the bucket's data shard
// (shard actor (ns)/(nsread)) and object bytes through the chunk pipeline
// (gateways/common/chunk_pipeline.h). Design: docs/gateways.md. The code
// is split by area: server.cpp, objects.cpp, multipart.cpp (session.h).
//
// Owner: the node starts one (`cairn dev`: 127.0.0.1:9000, --s3-port) and
// stops it before its actor system. Thread-safe: the acceptor runs on its
// own thread; sessions share only the read-only config and the backend's
// functions (which must be thread-safe).
//
// Invariants:
//  S3-1. Every response carries x-amz-request-id; every failure is an S3
//        XML error document with the right code and status (errors.h).
//  S3-2. A request is served only after SigV4 verification of its
//        signature; a streaming body's bytes are used only as its chunk
//        signatures verify (chunked_body_decoder).
//  S3-3. Bodies are streamed: a session holds at most one chunk
//        (gateway::chunk_bytes_default) of an object it receives, or two
//        of one it sends (the next is fetched while the current one is
//        sent), plus their shards; headers are bounded (16 KiB).
//  S3-4. Nothing half-written becomes visible: an object appears in its
//        bucket only when its namespace command commits, after every chunk
//        is on its devices.
//  S3-5. Sessions are bounded (connections_max); beyond it a connection
//        gets 503 SlowDown and is closed.
//  S3-6. A copy moves no bytes within a shard: it names the source's
//        chunks under chunks_referenced (NS7) and is retried once if the
//        source changed; between shards, and for byte ranges, the bytes
//        are read and written again.
//  S3-7. A part is written only for an upload that exists for the
//        request's key; an upload's parts are the chunks' only holders
//        until it completes (they move into the object) or is aborted.
//  S3-8. A session's actor requests go through an actor that lives for one
//        HTTP request, so late timeout messages never accumulate in a
//        long-lived mailbox (session::run).
#pragma once

#include <caf/all.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateways/common/backend.h"
#include "gateways/common/chunk_pipeline.h"

namespace cairn::s3 {

struct s3_config {
  std::string listen = "127.0.0.1:9000";
  std::string region = "us-east-1";
  /// Virtual-host-style addressing: a Host of "<bucket>.<domain>" names
  /// the bucket ("" turns it off; path style always works).
  std::string domain;
  std::size_t connections_max = 256;
  /// Objects up to this size go inline in the Raft entry (sealed).
  std::uint64_t inline_bytes_max = gateway::inline_bytes_max;
  std::uint64_t chunk_bytes = gateway::chunk_bytes_default;
};

/// What the gateway needs from its node (gateways/common/backend.h).
using s3_backend = gateway::node_backend;

/// How long a session trusts an access key's secret it looked up: a key
/// deleted from the catalog stops working within this time.
inline constexpr std::int64_t secret_cache_ttl_ns = 10'000'000'000;
/// How long a gateway trusts a ready bucket's catalog entry it read: a
/// bucket deleted through another node is seen within this time (requests
/// meanwhile find its namespace gone: NoSuchBucket).
inline constexpr std::int64_t bucket_cache_ttl_ns = 2'000'000'000;

class s3_server {
 public:
  s3_server(caf::actor_system& sys, s3_config config, s3_backend backend);
  ~s3_server();
  s3_server(const s3_server&) = delete;
  s3_server& operator=(const s3_server&) = delete;

  /// Binds and starts accepting; throws std::runtime_error naming the
  /// address when it cannot listen.
  void start();
  void stop();
  /// The bound port (after start).
  std::uint16_t port() const;
  /// Creates bucket `name` for `tenant` as CreateBucket does (cairn dev's
  /// default bucket); "" when it exists afterwards, else the S3 error code.
  std::string create_bucket(const std::string& name, std::uint64_t tenant);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace cairn::s3
