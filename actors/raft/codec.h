// actors/raft/codec.h — encodes and decodes Raft messages and membership
// changes (schema/raft.capnp, Cap'n Proto, unpacked framing).
//
// Owner: the Raft core and the transports. Pure functions.
//
// Decoding never trusts its input: a frame that is truncated, oversized,
// from another schema version, or that decodes to values outside their
// enums returns an error naming the reason and no message. Cap'n Proto's
// traversal limit bounds the work spent on a hostile frame.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "actors/raft/types.h"

namespace cairn::raft {

inline constexpr std::uint16_t wire_version = 1;
/// Largest frame accepted by decode_message (a snapshot travels whole for
/// now; see docs/raft.md for the plan to stream snapshots).
inline constexpr std::size_t frame_bytes_max = 64u << 20;

bytes encode_message(const message& m);

struct decode_error {
  std::string reason;
};

/// Returns the message or the reason it was rejected.
std::variant<message, decode_error> decode_message(const bytes& frame);

bytes encode_conf_change(const conf_change& cc);
std::optional<conf_change> decode_conf_change(const bytes& data);

}  // namespace cairn::raft

namespace cairn::raft {

/// Storage encodings (the same schema, used by runtime/ disks).
bytes encode_entry(const entry& e);
std::optional<entry> decode_entry(const bytes& data);
bytes encode_snapshot(const snapshot& s);
std::optional<snapshot> decode_snapshot(const bytes& data);

}  // namespace cairn::raft
