// gateways/nfs/server.h — the NFS gateway: MOUNT v3 and NFS v3 (RFC 1813)
// over ONC RPC on one TCP port (ADR 0008), serving exports that are
// buckets of the namespace S3 serves. Every connection is served by one
// gateway-session actor (a detached CAF blocking actor doing synchronous
// I/O on its socket) that answers its calls in order; a client may keep
// many calls in flight on it. A flusher actor commits idle dirty bytes.
//
// Owner: the node starts one (`cairn dev`: 127.0.0.1:2049, --nfs-port)
// and stops it before its actor system. Thread-safe like the S3 server:
// sessions share the read-only config, the handle codec and the backend.
// Design: docs/nfs.md.
//
// Invariants:
//  NFS1. Every call with a decodable header gets one reply (RPC2): a
//        result, or the RPC error that fits (PROG_UNAVAIL, PROG_MISMATCH,
//        PROC_UNAVAIL, GARBAGE_ARGS, AUTH_ERROR); undecodable arguments
//        change nothing and the connection carries on.
//  NFS2. A file handle is served only if it verifies (FH1: else BADHANDLE)
//        and names an export this client may use and an inode that exists
//        (else STALE).
//  NFS3. An export's client list and read-only flag are checked on every
//        call, not only at MNT: a handle carries no rights.
//  NFS4. A session holds at most one record (record_bytes_max) of input
//        and one reply; READ replies at most rtmax bytes of data.
//  NFS5. UNSTABLE WRITEs are held as a file's dirty bytes, at most
//        16 MiB per file and 256 MiB per gateway, and served by READ and
//        GETATTR on every connection; they reach the namespace when a slot
//        fills, on COMMIT, on a stable WRITE, on SETATTR of the size, after
//        2 s idle, and when the server stops (docs/nfs.md "Write-back").
#pragma once

#include <caf/all.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateways/common/backend.h"

namespace cairn::nfs {

struct export_config {
  /// What MNT asks for ("/cairn").
  std::string path;
  /// The bucket exported (its name in the catalog).
  std::string bucket;
  bool read_only = false;
  /// AUTH_SYS uid 0 acts as anon_uid/anon_gid.
  bool root_squash = true;
  std::uint32_t anon_uid = 65534;
  std::uint32_t anon_gid = 65534;
  /// Client addresses allowed ("127.0.0.1", "10.0.0.0/8", "::1"); empty:
  /// every address.
  std::vector<std::string> clients;
  /// AUTH_NONE calls act as anon_uid/anon_gid; refused (AUTH_TOOWEAK)
  /// unless allowed.
  bool allow_auth_none = false;
};

struct nfs_config {
  std::string listen = "127.0.0.1:2049";
  std::vector<export_config> exports;
  std::size_t connections_max = 256;
  /// The largest call record accepted: a WRITE of wtmax bytes and its
  /// header.
  std::size_t record_bytes_max = (1u << 20) + 4096;
};

/// Why `rule` cannot be one of an export's client rules ("" if it can): an
/// IPv4 or IPv6 address, optionally with a prefix length ("10.0.0.0/8").
std::string client_rule_problem(const std::string& rule);

/// What the gateway tells clients about transfer sizes (FSINFO).
inline constexpr std::uint32_t nfs_transfer_bytes_max = 1u << 20;

class nfs_server {
 public:
  /// `cluster_key`: the cluster master key, from which file handles are
  /// keyed (ADR 0008 §3).
  nfs_server(caf::actor_system& sys, nfs_config config, gateway::node_backend backend,
             std::span<const std::uint8_t> cluster_key);
  ~nfs_server();
  nfs_server(const nfs_server&) = delete;
  nfs_server& operator=(const nfs_server&) = delete;

  /// Binds and starts accepting; throws std::runtime_error naming
  /// nfs.listen when it cannot listen, or the export that is malformed.
  void start();
  void stop();
  std::uint16_t port() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace cairn::nfs
