// gateways/nfs/handles.h — NFS file handles (ADR 0008 §3): format version,
// export tag, bucket id, inode number and a MAC, 36 bytes.
//
// Owner: the NFS gateway; one handle_codec per server, shared read-only by
// its sessions (thread-safe after construction). Pure: no I/O, no clock.
//
// Invariants:
//  FH1. verify() accepts exactly the handles mint() produced under the same
//       key: any other length, version or MAC is refused (BADHANDLE).
//  FH2. The same (bucket, inode) gives the same handle under the same key,
//       so handles outlive gateway and node restarts (the key comes from
//       the cluster master key, inode numbers are never reused: NS5).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "actors/keys/crypto.h"
#include "actors/keys/secret_bytes.h"

namespace cairn::nfs {

inline constexpr std::size_t handle_bytes = 36;
inline constexpr std::uint8_t handle_format = 1;

/// A 24-bit tag naming an export by its path, the same on every node and
/// across restarts: two exports of one bucket (read-write, read-only)
/// mint different handles, so a handle carries its export's rules.
std::uint32_t export_tag(std::string_view export_path);

struct handle_target {
  std::uint64_t bucket = 0;
  std::uint64_t inode = 0;
  std::uint32_t export_tag = 0;  // 24 bits
  friend bool operator==(const handle_target&, const handle_target&) = default;
};

class handle_codec {
 public:
  /// REQUIRES: key.size() == 32.
  explicit handle_codec(keys::secret_bytes key);
  /// The handle key of a cluster: HKDF-SHA256(cluster master key, label
  /// "cairn nfs file handles").
  static handle_codec from_cluster_key(std::span<const std::uint8_t> cluster_key);

  std::string mint(handle_target target) const;
  /// What `handle` names, or nullopt if it is not one this key minted.
  std::optional<handle_target> verify(std::string_view handle) const;

 private:
  keys::secret_bytes key_;
  keys::hmac_sha256_key mac_;  // keyed with key_ once
};

}  // namespace cairn::nfs
