// tests/gateways/nfs/handles_test.cpp — NFS file handles
// (gateways/nfs/handles.h): what mint() makes verify() accepts, under the
// same key only (FH1); the same target gives the same handle (FH2); the
// export tag keeps two exports of one bucket apart.
#include "gateways/nfs/handles.h"

#include <gtest/gtest.h>

#include <array>

namespace cairn::nfs {
namespace {

handle_codec codec_of(std::uint8_t seed) {
  std::array<std::uint8_t, 32> key{};
  key[0] = seed;
  return handle_codec::from_cluster_key(key);
}

TEST(NfsHandles, MintedHandlesVerifyUnderTheSameKeyOnly) {
  const auto codec = codec_of(1);
  const handle_target t{0x0123456789abcdefull, 42, export_tag("/data")};
  const auto h = codec.mint(t);
  ASSERT_EQ(h.size(), handle_bytes);
  EXPECT_EQ(codec.verify(h), t);
  EXPECT_EQ(codec_of(1).mint(t), h) << "FH2: the same on every node and after a restart";
  EXPECT_FALSE(codec_of(2).verify(h)) << "another cluster's key";
  for (std::size_t i = 0; i < h.size(); ++i) {
    auto flipped = h;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    EXPECT_FALSE(codec.verify(flipped)) << "byte " << i;
  }
  EXPECT_FALSE(codec.verify(h.substr(0, 35)));
  EXPECT_FALSE(codec.verify(h + "x"));
  EXPECT_FALSE(codec.verify(""));
}

TEST(NfsHandles, ExportsOfOneBucketMintDifferentHandles) {
  const auto codec = codec_of(3);
  EXPECT_NE(export_tag("/data"), export_tag("/data-ro"));
  EXPECT_LE(export_tag("/data"), 0xffffffu);
  const auto rw = codec.mint({7, 1, export_tag("/data")});
  const auto ro = codec.mint({7, 1, export_tag("/data-ro")});
  EXPECT_NE(rw, ro);
  EXPECT_EQ(codec.verify(ro)->export_tag, export_tag("/data-ro"));
}

}  // namespace
}  // namespace cairn::nfs
