// tests/runtime/transport_codec_test.cpp — node transport frames: every kind
// round-trips (T2); truncated, oversized, foreign-version and random input
// is rejected without crashing (T1).
#include "runtime/transport_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace cairn::runtime {
namespace {

std::string body_of(const std::string& encoded) {
  EXPECT_GE(encoded.size(), frame_prefix_bytes);
  const auto n = decode_frame_length(reinterpret_cast<const unsigned char*>(encoded.data()));
  EXPECT_EQ(n, encoded.size() - frame_prefix_bytes);
  return encoded.substr(frame_prefix_bytes);
}

TEST(TransportCodec, EveryFrameKindRoundTrips) {
  const std::vector<transport_frame> frames = {
      {3, raft_batch{{{0, "abc"}, {17, std::string(1000, 'x')}, {18, ""}}}},
      {3, raft_batch{}},
      {4, ping{99}},
      {4, pong{100}},
      {5, join_request{{5, "127.0.0.1:7005", "127.0.0.1:9005"}}},
      {1, join_reply{true, "", {{1, "a:1", "a:2"}, {2, "b:1", "b:2"}}, ""}},
      {1, join_reply{false, "node 5 was removed", {}, ""}},
      {1, join_reply{true, "", {{1, "a:1", "a:2"}}, std::string(32, '\x5a')}},
      {2,
       chunk_request{7, 65536, chunk_op::put, std::string(40, 'k'), 3, std::string(5000, 'p'), 0}},
      {2, chunk_request{8, 65537, chunk_op::list, "", 0, "", 4096}},
      {3, chunk_reply{7, 65536, 0, "", 0}},
      {3, chunk_reply{9, 65536, 1, std::string(70000, 'd'), 4}},
  };
  for (const auto& f : frames) {
    auto decoded = decode_frame(body_of(encode_frame(f)), 1 << 20);
    ASSERT_TRUE(std::holds_alternative<transport_frame>(decoded));
    EXPECT_EQ(std::get<transport_frame>(decoded), f);
  }
}

TEST(TransportCodec, RejectsBadInput) {
  const std::string good = body_of(encode_frame({77, ping{55}}));
  auto error_of = [](const std::string& body, std::size_t max) {
    auto d = decode_frame(body, max);
    return std::holds_alternative<frame_error>(d) ? std::get<frame_error>(d).reason
                                                  : std::string("<decoded>");
  };
  EXPECT_NE(error_of("", 1 << 20), "<decoded>");
  EXPECT_NE(error_of(good.substr(0, good.size() - 8), 1 << 20), "<decoded>");
  EXPECT_NE(error_of(good.substr(0, good.size() - 3), 1 << 20), "<decoded>");
  EXPECT_EQ(error_of(good, 8), "frame too large");
  // A frame from a future version: `version` is the first field of the
  // root struct's data section (after the segment table and root pointer).
  std::string future = good;
  ASSERT_EQ(static_cast<unsigned char>(future[16]), transport_version);
  future[16] = 9;
  EXPECT_EQ(error_of(future, 1 << 20), "unsupported transport version 9");
  // A chunk operation this version does not know is refused, not guessed.
  std::string bad_op = body_of(encode_frame({2, chunk_request{1, 2, chunk_op::get, "", 0, "", 0}}));
  const auto decoded_ok = decode_frame(bad_op, 1 << 20);
  ASSERT_TRUE(std::holds_alternative<transport_frame>(decoded_ok));
  bool patched = false;
  for (std::size_t i = 0; i + 1 < bad_op.size() && !patched; ++i) {
    // The op byte sits right after the two UInt64 fields of ChunkRequest's
    // data section: find it by value (1 = get) after the id (1) and device (2).
    if (bad_op.compare(i, 17, std::string("\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0\x01", 17)) == 0) {
      bad_op[i + 16] = 42;
      patched = true;
    }
  }
  ASSERT_TRUE(patched);
  EXPECT_EQ(error_of(bad_op, 1 << 20), "malformed frame: unknown chunk operation 42");
}

TEST(TransportCodec, RandomBytesNeverCrash) {
  std::mt19937_64 rng(20261122);
  const std::string seed =
      body_of(encode_frame({2, join_reply{true, "x", {{1, "a:1", "b:2"}}, ""}}));
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string b = seed;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<char>(rng());
    if (std::holds_alternative<transport_frame>(decode_frame(b, 1 << 20))) ++decoded;
  }
  SUCCEED() << decoded << " mutated frames still decoded";
}

}  // namespace
}  // namespace cairn::runtime
