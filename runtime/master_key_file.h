// runtime/master_key_file.h — the node master key on disk: the key the
// internal key provider wraps tenant keys under (internal_key_provider.h).
//
// Owner: the node's chunk service reads it once at start
// (`<data>/keys/master.key`) and hands it to the provider; nothing else
// touches the file.
//
// File format (72 bytes):
//   [0, 8)    magic "CAIRNMK1"
//   [8, 40)   the key (32 random bytes from OpenSSL's CSPRNG)
//   [40, 72)  HMAC-SHA256(key, "cairn/master-key/v1"): catches a damaged or
//             truncated file before anything is wrapped or unwrapped with it
//
// Invariants:
//  MK1. A new file is created exclusively (O_EXCL), mode 0600, written and
//       fsynced with its directory before the key is used: no tenant key
//       is ever wrapped under a master key a crash could lose.
//  MK2. A file that is group- or world-accessible, of the wrong size, with
//       a bad magic or check value is refused with an error naming the path
//       and the problem; it is never replaced by a new key (that would
//       orphan every wrapped tenant key).
//  MK3. The key leaves only as a secret_bytes; the read buffer is cleansed.
//
// Losing this file loses every tenant key of the node: back it up, or use
// an external KMS provider (docs/keys.md).
#pragma once

#include <string>

#include "actors/keys/random_source.h"
#include "actors/keys/secret_bytes.h"

namespace cairn::runtime {

inline constexpr std::size_t master_key_file_bytes = 72;

struct master_key {
  keys::secret_bytes key;
  /// The file did not exist and was created now.
  bool created = false;
};

/// Reads the master key at `path`, creating it (and its directory, mode
/// 0700) if it does not exist. Throws std::runtime_error (MK2).
master_key load_or_create_master_key(const std::string& path, keys::random_source& random);
/// Creates the file at `path` (exclusively, MK1) holding `key`: a node
/// joining a cluster stores the cluster master key it received (ADR 0006).
/// Throws std::runtime_error if the file exists or cannot be written.
master_key store_master_key(const std::string& path, std::span<const std::uint8_t> key);

}  // namespace cairn::runtime
