// runtime/chunk_frames.h — the pieces of the node transport's codec that
// the client protocol shares (runtime/client_codec.cpp): chunk requests and
// replies as Cap'n Proto structs, and a frame's length prefix.
//
// Owner: runtime/transport_codec.cpp defines them; codecs only.
#pragma once

#include <capnp/message.h>
#include <kj/exception.h>

#include <string>
#include <variant>

#include "runtime/transport_codec.h"
#include "schema/capnp_frames.h"
#include "schema/transport.capnp.h"

namespace cairn::runtime {

/// The message, flat, after its 4-byte big-endian length.
std::string with_length_prefix(capnp::MessageBuilder& mb);

void write_chunk_request(schema::ChunkRequest::Builder r, const chunk_request& c);
void write_chunk_reply(schema::ChunkReply::Builder r, const chunk_reply& c);
/// Opens an untrusted frame body (T1, CF1): bounded by `bytes_max`, of
/// `version` only, read by `read` (Root::Reader -> T or frame_error); a
/// kj::Exception from a malformed pointer becomes an error with its reason.
template <class Root, class T, class Read>
std::variant<T, frame_error> decode_versioned(const std::string& body, std::size_t bytes_max,
                                              std::uint16_t version, std::string_view what,
                                              Read&& read) {
  schema::flat_frame frame;
  std::string why;
  try {
    if (!frame.open(body, bytes_max, why)) return frame_error{why};
    auto root = frame.reader->template getRoot<Root>();
    if (root.getVersion() != version)
      return frame_error{"unsupported " + std::string(what) + " version " +
                         std::to_string(root.getVersion())};
    return read(root);
  } catch (const kj::Exception& e) {
    return frame_error{std::string("malformed frame: ") + e.getDescription().cStr()};
  }
}

/// Throws kj::Exception for an unknown operation (the decoders catch it).
chunk_request read_chunk_request(schema::ChunkRequest::Reader r);
chunk_reply read_chunk_reply(schema::ChunkReply::Reader r);

}  // namespace cairn::runtime
