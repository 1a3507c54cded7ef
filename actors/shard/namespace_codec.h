// actors/shard/namespace_codec.h — namespace commands as they travel in Raft
// log entries (schema/namespace.capnp), their dispatch onto the state
// machine, and snapshot/restore of the whole namespace_state.
//
// Owner: the shard replica (proposes encoded commands, applies decoded
// ones, snapshots and restores); tests. Pure functions.
//
// Invariants:
//  NC1. decode(encode(c)) == c for every well-formed command.
//  NC2. decode() of untrusted bytes never crashes and does bounded work;
//       anything malformed, oversized or of another version is nullopt.
//  NC3. restore(snapshot()) gives a state that answers every query as the
//       original did, with the same fingerprint; restore() of damaged bytes
//       fails and leaves the state as it was, or yields a state for which
//       NS1-NS5 hold.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "actors/shard/namespace_state.h"

namespace cairn::shard {

/// Largest encoded command: a version with chunks_per_version_max chunk
/// references is the biggest (about 80 bytes each).
inline constexpr std::size_t ns_command_bytes_max = 32ull << 20;
/// Largest snapshot accepted by restore().
inline constexpr std::size_t ns_snapshot_bytes_max = 4ull << 30;

struct create_bucket_command {
  bucket_id bucket;
  friend bool operator==(const create_bucket_command&, const create_bucket_command&) = default;
};
struct delete_bucket_command {
  bucket_id bucket;
  friend bool operator==(const delete_bucket_command&, const delete_bucket_command&) = default;
};

struct ns_command {
  std::uint64_t request_id = 0;
  std::uint64_t proposer = 0;
  std::int64_t now_ns = 0;
  std::variant<create_bucket_command, delete_bucket_command, put_object_command,
               delete_object_command, create_upload_command, upload_part_command,
               complete_upload_command, abort_upload_command, collect_begin_command,
               collect_end_command, collect_abort_command, report_orphans_command,
               make_node_command, remove_node_command, rename_node_command, set_attributes_command,
               write_range_command, link_node_command>
      body;
};

/// A Raft entry holding a namespace command starts with this tag (8 bytes:
/// the Cap'n Proto frame after it stays word-aligned); key-value commands
/// have none (their frames never start with it: the first word of a flat
/// frame is a small segment count).
inline constexpr std::string_view namespace_entry_tag = "CAIRNNS1";
/// A replica snapshot holding both state machines starts with this tag,
/// then the key-value snapshot's length (8 bytes, little-endian), the
/// key-value snapshot and the namespace snapshot.
inline constexpr std::string_view combined_snapshot_tag = "CAIRNSS2";

std::string encode_ns_command(const ns_command& c);
std::optional<ns_command> decode_ns_command(const std::string& bytes);

/// Applies a decoded command (its now_ns is the one in effect).
ns_result apply_ns_command(namespace_state& state, const ns_command& c);

/// An ns_result as the reply to a proposal (JSON: status, problem,
/// conflict, inode, unreferenced chunk ids in hex).
std::string encode_ns_result(const ns_result& r);
std::optional<ns_result> decode_ns_result(const std::string& bytes);

/// One inode without its directory entries (the client protocol's
/// attributes, version and target: runtime/client_codec.h); decode_inode
/// takes untrusted bytes (NC2).
std::string encode_inode(const inode& n);
std::optional<inode> decode_inode(const std::string& bytes);

std::string snapshot_namespace(const namespace_state& state);
/// Replaces `state` with the snapshot's; false (state untouched) if the
/// bytes are not a well-formed snapshot (NC3).
bool restore_namespace(namespace_state& state, const std::string& bytes);
/// 64-bit FNV-1a over the snapshot: equal state, equal value.
std::uint64_t namespace_fingerprint(const namespace_state& state);

}  // namespace cairn::shard
