// gateways/common/file_data.h — a file's bytes from its object version: the
// range [first, last) assembled from the plaintext of the chunks that cover
// it (or the inline object), zeros where no chunk is (a sparse file's
// holes). Shared by the file gateways (NFS on a node, FUSE on a client);
// where chunk plaintext comes from (a session's cache, the FUSE client's
// two-tier cache) is the caller's.
//
// Owner: called by gateway sessions; pure apart from the `chunk_source`.
//
// Invariants:
//  FD1. copy_range returns true only with every byte of [first, last)
//       from the chunk that covers it, or zero where none does; a chunk
//       that cannot be read (or is shorter than its reference says) makes
//       it return false, never other bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/keys/key_manager_actor.h"
#include "actors/shard/namespace_state.h"

namespace cairn::gateway {

/// Where copy_range gets plaintext.
struct chunk_source {
  /// A chunk's whole plaintext, or null when it cannot be read.
  std::function<std::shared_ptr<const std::vector<std::uint8_t>>(const shard::chunk_ref&)> chunk;
  /// The tenant's grant of a key epoch (inline objects), or null.
  std::function<keys::key_grant_ptr(std::uint64_t epoch)> grant;
};

/// The bytes [first, last) of `v` into `out` (FD1).
bool copy_range(const shard::object_version& v, std::uint64_t first, std::uint64_t last,
                std::string& out, const chunk_source& source);

}  // namespace cairn::gateway
