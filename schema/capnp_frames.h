// schema/capnp_frames.h — helpers shared by every reader and writer of the
// flat Cap'n Proto frames in schema/ (actors/raft/codec, the key-value state
// machine): byte conversions, serialisation, and opening an untrusted frame
// with bounded work.
//
// Owner: the codecs; header-only, pure functions.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <optional>
#include <string>

namespace cairn::schema {

inline kj::ArrayPtr<const kj::byte> as_data(const std::string& b) {
  return kj::ArrayPtr<const kj::byte>(reinterpret_cast<const kj::byte*>(b.data()), b.size());
}

inline std::string to_std_string(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

inline std::string to_flat_bytes(capnp::MessageBuilder& mb) {
  auto words = capnp::messageToFlatArray(mb);
  auto chars = words.asChars();
  return std::string(chars.begin(), chars.size());
}

/// An untrusted flat frame opened for reading. The copy aligns the words for
/// Cap'n Proto; the traversal limit bounds the work a hostile frame costs.
/// Reading through `reader` may still throw kj::Exception on malformed
/// pointers: callers catch it.
struct flat_frame {
  kj::Array<capnp::word> words;
  std::optional<capnp::FlatArrayMessageReader> reader;

  /// Returns false with a reason for frames that are empty, not a whole
  /// number of words, or larger than `bytes_max`. May throw kj::Exception.
  bool open(const std::string& frame, std::size_t bytes_max, std::string& why) {
    if (frame.empty() || frame.size() % sizeof(capnp::word) != 0) {
      why = "frame length is not a whole number of words";
      return false;
    }
    if (frame.size() > bytes_max) {
      why = "frame too large";
      return false;
    }
    words = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), frame.data(), frame.size());
    capnp::ReaderOptions opts;
    opts.traversalLimitInWords = frame.size() / sizeof(capnp::word) * 4 + 64;
    opts.nestingLimit = 16;
    reader.emplace(words.asPtr(), opts);
    return true;
  }
};

}  // namespace cairn::schema
