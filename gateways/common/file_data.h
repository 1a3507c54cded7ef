// gateways/common/file_data.h — a file's bytes, read and written by range,
// for the file gateways (NFS on a node, FUSE on a client):
//  - copy_range: the range [first, last) of an object version assembled
//    from the plaintext of the chunks that cover it (or the inline
//    object), zeros where no chunk is (a sparse file's holes);
//  - write_patches: bytes at offsets (or a new size) written durably: the
//    chunk slots they touch are read where the patches leave gaps,
//    patched, written through the chunk pipeline, and committed with one
//    write_range command conditional on the ETag read, retried when
//    another writer came first;
//  - commit_dirty: a file's write-back buffer (write_back.h) committed
//    slot run by slot run with write_patches.
// Where chunk plaintext, grants, devices and the namespace are reached is
// the gateway's: a `file_store`.
//
// Owner: called by gateway sessions (a blocking actor's thread).
//
// Invariants:
//  FD1. copy_range returns true only with every byte of [first, last)
//       from the chunk that covers it, or zero where none does; a chunk
//       that cannot be read (or is shorter than its reference says) makes
//       it return false, never other bytes.
//  FD2. write_patches reports ok only after the write_range command that
//       names the new chunks was applied; every chunk it wrote that no
//       applied command names is reported as an orphan (ADR 0007).
//  FD3. commit_dirty leaves in the buffer exactly the bytes it could not
//       commit (none of a file that is gone).
#pragma once

#include <caf/all.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "actors/keys/key_manager_actor.h"
#include "actors/shard/namespace_codec.h"
#include "actors/shard/namespace_state.h"
#include "gateways/common/chunk_pipeline.h"
#include "gateways/common/write_back.h"

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

/// What write_patches needs from where it runs, for one bucket.
class file_store {
 public:
  virtual ~file_store() = default;
  enum class lookup { found, gone, unavailable };
  /// The inode, read linearizably (its entries may be left out).
  virtual lookup read_inode(std::uint64_t inode, shard::inode& out) = 0;
  virtual keys::key_grant_ptr grant(std::uint64_t epoch) = 0;
  /// Plaintext of the chunks a write keeps bytes of.
  virtual chunk_source source() = 0;
  virtual std::shared_ptr<const device_directory> devices() = 0;
  /// The namespace shard that will reference the chunks (dedup scope).
  virtual std::uint64_t shard() const = 0;
  virtual std::uint64_t bucket() const = 0;
  /// Proposes a command; nullopt when the shard did not answer.
  virtual std::optional<shard::ns_result> propose(shard::ns_command c) = 0;
  /// The blocking actor the chunk pipeline waits on.
  virtual caf::blocking_actor* self() = 0;
};

/// Bytes to write at an offset.
struct file_patch {
  std::uint64_t offset = 0;
  std::string_view bytes;
};

struct write_outcome {
  enum class kind : std::uint8_t {
    ok,
    gone,          // the inode is no more (NFS: STALE)
    is_directory,  // (EISDIR)
    not_a_file,    // a symlink (EINVAL)
    too_big,       // past chunks_per_version_max slots (EFBIG)
    refused,       // the caller's check said no (its own reason)
    unavailable,   // the shard or the key manager did not answer; retry later
    io,            // a chunk could not be read or written
    rejected,      // the namespace answered another status: `result`
  };
  kind what = kind::ok;
  std::optional<shard::ns_result> result;
  /// The inode as the first attempt read it.
  std::optional<shard::inode> before;
};

/// Slots: files written by range are cut into chunks at multiples of this,
/// so a write rewrites only the slots it touches.
inline constexpr std::uint64_t file_slot_bytes = chunk_bytes_default;

/// Writes `patches` (sorted, disjoint) into `inode`, or with `new_size`
/// and no patches sets its size (truncating or extending), durably (FD2).
/// `allowed` (may be empty) sees the inode each attempt reads; false
/// answers `refused`.
write_outcome write_patches(file_store& store, std::uint64_t inode,
                            std::span<const file_patch> patches,
                            std::optional<std::uint64_t> new_size,
                            const std::function<bool(const shard::inode&)>& allowed = {});

/// Commits `dirty`'s bytes: every slot run (`everything`) or only the
/// slots wholly dirty, which need no read (FD3). Stops at the first
/// failure; `gone` drops the rest. `before`: the inode as the first
/// commit read it.
write_outcome commit_dirty(file_store& store, std::uint64_t inode, dirty_file& dirty,
                           bool everything);

/// An ETag for a version written by range: not an MD5 of the bytes (the
/// gateway patches chunks, it never sees the whole object), so it carries
/// a part count as multipart ETags do, which S3 clients do not take for an
/// MD5.
std::string etag_after(const shard::write_range_command& w);

}  // namespace cairn::gateway
