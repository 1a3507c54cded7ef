// tests/actors/keys/seal_test.cpp — the data-path formats of
// actors/keys/seal.h: byte layouts, known answers computed by an
// independent implementation from docs/keys.md, the binding of a seal to
// chunk, scheme, shard index and epoch (K4-K6), and the dedup property.
#include "actors/keys/seal.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "actors/keys/random_source.h"

namespace cairn::keys {
namespace {

using byte_vector = std::vector<std::uint8_t>;

byte_vector hex(std::string_view h) {
  byte_vector out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

byte_vector text(std::string_view s) {
  const auto b = as_bytes(s);
  return byte_vector(b.begin(), b.end());
}

secret_bytes key_from(std::uint8_t first) {
  secret_bytes k(tenant_key_bytes);
  for (std::size_t i = 0; i < k.size(); ++i) k.writable()[i] = static_cast<std::uint8_t>(first + i);
  return k;
}

secret_bytes random_key(random_source& random) {
  secret_bytes k(tenant_key_bytes);
  random.fill(k.writable());
  return k;
}

constexpr std::uint32_t rs_4_2 = 0x0402;
constexpr std::uint32_t rs_8_3 = 0x0803;

// --- layouts ------------------------------------------------------------------------

TEST(SealFormat, ChunkKeyInfoIsChunkIdThenBigEndianScheme) {
  chunk_id c{};
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<std::uint8_t>(i);
  const auto info = chunk_key_info(c, 0x0a0b0c0d);
  EXPECT_TRUE(std::equal(c.begin(), c.end(), info.begin()));
  EXPECT_EQ(byte_vector(info.begin() + 32, info.end()), (byte_vector{0x0a, 0x0b, 0x0c, 0x0d}));
}

TEST(SealFormat, NonceIsBigEndianShardIndexThenEightZeroBytes) {
  const auto n = shard_nonce(0x01020304);
  EXPECT_EQ(byte_vector(n.begin(), n.end()), (byte_vector{1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(SealFormat, AssociatedDataIsLabelChunkIndexSchemeEpoch) {
  shard_address a;
  for (std::size_t i = 0; i < a.chunk.size(); ++i) a.chunk[i] = static_cast<std::uint8_t>(0xa0 + i);
  a.index = 5;
  a.scheme = rs_4_2;
  a.epoch = key_epoch{0x0102030405060708};
  const auto ad = shard_associated_data(a);
  byte_vector expected = text("cairn/shard/v1");
  expected.insert(expected.end(), a.chunk.begin(), a.chunk.end());
  for (std::uint8_t b : {0, 0, 0, 5, 0, 0, 4, 2, 1, 2, 3, 4, 5, 6, 7, 8}) expected.push_back(b);
  EXPECT_EQ(byte_vector(ad.begin(), ad.end()), expected);
  EXPECT_EQ(ad.size(), 62u);
}

// --- known answers (computed with Python's hmac and `cryptography` from the
// formats in docs/keys.md) -------------------------------------------------------------

TEST(SealKnownAnswer, ChunkIdChunkKeyAndSealedShard) {
  const secret_bytes dedup = key_from(0x40);
  const secret_bytes data = key_from(0x00);
  const chunk_id id = chunk_id_of(dedup, text("cairn golden chunk plaintext"));
  EXPECT_EQ(byte_vector(id.begin(), id.end()),
            hex("e82b31d55216a31b0417360b27de3157cc927db007dc26418ece30cf2312aef6"));
  const secret_bytes chunk_key = derive_chunk_key(data, id, rs_4_2);
  EXPECT_EQ(byte_vector(chunk_key.bytes().begin(), chunk_key.bytes().end()),
            hex("f3173997d9e5b9e47b645e4f85921f5a79adc5a006f9528454058f171703ad6e"));
  const shard_address address{id, rs_4_2, 3, key_epoch{7}};
  EXPECT_EQ(seal_shard(chunk_key, address, text("shard three bytes")),
            hex("d84024b954969d1cfa01862aa6d4818f4e254e4ce2b09b8c415339346934886473"));
}

// --- binding (K4-K6) -------------------------------------------------------------------

TEST(SealBinding, EverySchemeGetsItsOwnChunkKey) {
  const secret_bytes data = key_from(0x10);
  chunk_id id{};
  id[0] = 1;
  const secret_bytes a = derive_chunk_key(data, id, rs_4_2);
  const secret_bytes b = derive_chunk_key(data, id, rs_8_3);
  EXPECT_FALSE(a == b);  // K4: shard i under two schemes never shares (key, nonce)
  // Same shard bytes, same index, different scheme: different ciphertext.
  const auto shard = text("identical shard bytes");
  EXPECT_NE(seal_shard(a, {id, rs_4_2, 0, first_epoch}, shard),
            seal_shard(b, {id, rs_8_3, 0, first_epoch}, shard));
}

TEST(SealBinding, ResealingTheSameShardGivesTheSameBytes) {
  const secret_bytes data = key_from(0x10);
  chunk_id id{};
  const secret_bytes k = derive_chunk_key(data, id, rs_4_2);
  const shard_address address{id, rs_4_2, 2, first_epoch};
  EXPECT_EQ(
      seal_shard(k, address, text("repair writes it again")),
      seal_shard(derive_chunk_key(data, id, rs_4_2), address, text("repair writes it again")));
}

TEST(SealBinding, AShardOpensOnlyAtItsOwnAddress) {
  deterministic_random_source random(7);
  const secret_bytes data = random_key(random);
  chunk_id id{};
  random.fill(id);
  const secret_bytes k = derive_chunk_key(data, id, rs_4_2);
  const shard_address address{id, rs_4_2, 1, key_epoch{3}};
  const auto shard = text("shard one of six");
  const auto sealed = seal_shard(k, address, shard);
  const opened good = open_shard(k, address, sealed);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.plaintext, shard);

  std::vector<shard_address> wrong(5, address);
  wrong[0].chunk[31] ^= 1;
  wrong[1].scheme = rs_8_3;
  wrong[2].index = 2;
  wrong[3].epoch = key_epoch{4};
  wrong[4].index = 1u << 24;  // same low bytes, different nonce and AD
  for (const auto& w : wrong) {
    const opened o = open_shard(k, w, sealed);
    EXPECT_EQ(o.status, open_status::authentication_failed);
    EXPECT_TRUE(o.plaintext.empty());
  }
  // A chunk key for another epoch's data key does not open it either.
  const secret_bytes other = derive_chunk_key(random_key(random), id, rs_4_2);
  EXPECT_FALSE(open_shard(other, address, sealed).ok());
}

TEST(SealBinding, EachShardOfAStripeIsCheckedByItsOwnTag) {
  deterministic_random_source random(8);
  const secret_bytes data = random_key(random);
  const chunk_id id{};
  const secret_bytes k = derive_chunk_key(data, id, rs_4_2);
  std::vector<byte_vector> sealed;
  for (std::uint32_t i = 0; i < 6; ++i) {
    byte_vector shard(1024);
    random.fill(shard);
    sealed.push_back(seal_shard(k, {id, rs_4_2, i, first_epoch}, shard));
  }
  sealed[4][100] ^= 0x80;  // one bad shard
  for (std::uint32_t i = 0; i < 6; ++i)
    EXPECT_EQ(open_shard(k, {id, rs_4_2, i, first_epoch}, sealed[i]).ok(), i != 4) << i;
}

RC_GTEST_PROP(SealProperty, AnyFlippedBitOfASealedShardIsRefused, ()) {
  deterministic_random_source random(*rc::gen::arbitrary<std::uint64_t>());
  const secret_bytes data = random_key(random);
  chunk_id id{};
  random.fill(id);
  const auto scheme = *rc::gen::element(rs_4_2, rs_8_3);
  const shard_address address{id, scheme, *rc::gen::inRange<std::uint32_t>(0, 11),
                              key_epoch{*rc::gen::inRange<std::uint64_t>(1, 100)}};
  const auto shard = *rc::gen::arbitrary<byte_vector>();
  const secret_bytes k = derive_chunk_key(data, id, scheme);
  auto sealed = seal_shard(k, address, shard);
  const auto bit = *rc::gen::inRange<std::size_t>(0, sealed.size() * 8);
  sealed[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  byte_vector out(shard.size(), 0xcc);
  RC_ASSERT(open_shard(k, address, sealed, out) == open_status::authentication_failed);
  RC_ASSERT(out == byte_vector(shard.size(), 0));  // C1
}

// --- dedup -----------------------------------------------------------------------------

RC_GTEST_PROP(DedupProperty, SameTenantSamePlaintextSameIdAndSameSealedBytes, ()) {
  deterministic_random_source random(*rc::gen::arbitrary<std::uint64_t>());
  const secret_bytes dedup = random_key(random);
  const secret_bytes data = random_key(random);
  const auto plaintext = *rc::gen::arbitrary<byte_vector>();
  // Two writers of the same tenant (two gateway sessions) work independently.
  auto write = [&](const byte_vector& p) {
    const chunk_id id = chunk_id_of(dedup, p);
    const secret_bytes k = derive_chunk_key(data, id, rs_4_2);
    return std::make_pair(id, seal_shard(k, {id, rs_4_2, 0, first_epoch}, p));
  };
  RC_ASSERT(write(plaintext) == write(byte_vector(plaintext)));
}

RC_GTEST_PROP(DedupProperty, DifferentTenantsNeverShareIdsOrSealedBytes, ()) {
  deterministic_random_source random(*rc::gen::arbitrary<std::uint64_t>());
  const secret_bytes dedup_a = random_key(random), data_a = random_key(random);
  const secret_bytes dedup_b = random_key(random), data_b = random_key(random);
  const auto plaintext = *rc::gen::arbitrary<byte_vector>();
  const chunk_id id_a = chunk_id_of(dedup_a, plaintext);
  const chunk_id id_b = chunk_id_of(dedup_b, plaintext);
  RC_ASSERT(id_a != id_b);
  const auto sealed_a =
      seal_shard(derive_chunk_key(data_a, id_a, rs_4_2), {id_a, rs_4_2, 0, first_epoch}, plaintext);
  const auto sealed_b =
      seal_shard(derive_chunk_key(data_b, id_b, rs_4_2), {id_b, rs_4_2, 0, first_epoch}, plaintext);
  RC_ASSERT(sealed_a != sealed_b);
  // And neither tenant's key opens the other's shard, even at the other's id.
  RC_ASSERT(
      !open_shard(derive_chunk_key(data_a, id_b, rs_4_2), {id_b, rs_4_2, 0, first_epoch}, sealed_b)
           .ok());
}

TEST(Dedup, DifferentPlaintextsGetDifferentIds) {
  const secret_bytes dedup = key_from(0x33);
  std::set<chunk_id> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(chunk_id_of(dedup, text("chunk " + std::to_string(i))));
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace cairn::keys
