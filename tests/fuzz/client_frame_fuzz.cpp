// tests/fuzz/client_frame_fuzz.cpp — libFuzzer target for the client
// protocol's decoder (runtime/client_codec.h, CF1): any bytes as a frame
// body; a frame that decodes is encoded again and must decode to the same
// encoding (CF2). Run: client_frame_fuzz -max_total_time=180 <scratch dir>
// tests/fuzz/corpus/client_frame. client_frame_corpus_test replays the
// seeds (and mutations of them) in every build.
//
// Owner: tests.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "runtime/client_codec.h"

using namespace cairn::runtime;

int cairn_client_frame_fuzz_one(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto decoded = decode_client_frame(body, client_frame_bytes_max);
  auto* frame = std::get_if<client_frame>(&decoded);
  if (!frame) return 0;
  const auto once = encode_client_frame(*frame);
  auto again = decode_client_frame(once.substr(frame_prefix_bytes), client_frame_bytes_max);
  auto* second = std::get_if<client_frame>(&again);
  if (!second || encode_client_frame(*second) != once) std::abort();  // CF2
  return 1;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn_client_frame_fuzz_one(data, size);
  return 0;
}
