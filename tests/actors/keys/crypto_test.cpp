// tests/actors/keys/crypto_test.cpp — the primitives of actors/keys/crypto.h
// against published vectors (C3): RFC 4231 (HMAC-SHA256), RFC 5869
// (HKDF-SHA256), McGrew & Viega's GCM test cases 13-16 (AES-256-GCM); then
// open's refusals (C1), secret_bytes (SB1-SB3) and the random sources
// (RS1, RS2, OR1).
#include "actors/keys/crypto.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "actors/keys/openssl_random_source.h"
#include "actors/keys/random_source.h"
#include "actors/keys/secret_bytes.h"

namespace cairn::keys {
namespace {

using byte_vector = std::vector<std::uint8_t>;

byte_vector hex(std::string_view h) {
  byte_vector out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

byte_vector repeat(std::uint8_t b, std::size_t n) {
  return byte_vector(n, b);
}

byte_vector range(std::uint8_t first, std::size_t n) {
  byte_vector out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

byte_vector text(std::string_view s) {
  const auto b = as_bytes(s);
  return byte_vector(b.begin(), b.end());
}

byte_vector digest_bytes(const sha256_digest& d) {
  return byte_vector(d.begin(), d.end());
}

// --- HMAC-SHA256: RFC 4231 section 4 ----------------------------------------------------

struct hmac_vector {
  const char* name;
  byte_vector key;
  byte_vector data;
  byte_vector expected;  // test case 5 compares only the first 128 bits
};

std::vector<hmac_vector> rfc4231_vectors() {
  const auto large_key = repeat(0xaa, 131);
  return {
      {"4.2 test case 1", repeat(0x0b, 20), text("Hi There"),
       hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")},
      {"4.3 test case 2 (key shorter than the output)", text("Jefe"),
       text("what do ya want for nothing?"),
       hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")},
      {"4.4 test case 3", repeat(0xaa, 20), repeat(0xdd, 50),
       hex("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")},
      {"4.5 test case 4", range(0x01, 25), repeat(0xcd, 50),
       hex("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")},
      {"4.6 test case 5 (truncated to 128 bits)", repeat(0x0c, 20), text("Test With Truncation"),
       hex("a3b6167473100ee06e0c796c2955552b")},
      {"4.7 test case 6 (key larger than a block)", large_key,
       text("Test Using Larger Than Block-Size Key - Hash Key First"),
       hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")},
      {"4.8 test case 7 (key and data larger than a block)", large_key,
       text("This is a test using a larger than block-size key and a larger than block-size "
            "data. The key needs to be hashed before being used by the HMAC algorithm."),
       hex("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")},
  };
}

TEST(HmacSha256, Rfc4231TestCases) {
  for (const auto& v : rfc4231_vectors()) {
    SCOPED_TRACE(v.name);
    const auto mac = digest_bytes(hmac_sha256(v.key, v.data));
    EXPECT_EQ(
        byte_vector(mac.begin(), mac.begin() + static_cast<std::ptrdiff_t>(v.expected.size())),
        v.expected);
  }
}

TEST(HmacSha256, AKeyedOnceAgreesWithTheRfcVectorsEveryTime) {
  for (const auto& v : rfc4231_vectors()) {
    SCOPED_TRACE(v.name);
    const hmac_sha256_key keyed(v.key);
    for (int again = 0; again < 3; ++again) {  // the keyed state is copied, never used up
      const auto mac = digest_bytes(keyed.digest(v.data));
      EXPECT_EQ(
          byte_vector(mac.begin(), mac.begin() + static_cast<std::ptrdiff_t>(v.expected.size())),
          v.expected);
    }
  }
  EXPECT_EQ(hmac_sha256_key({}).digest({}), hmac_sha256({}, {}));
}

TEST(HmacSha256, EmptyKeyAndEmptyMessage) {
  // Values from an independent implementation (Python's hmac module).
  EXPECT_EQ(digest_bytes(hmac_sha256({}, {})),
            hex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));
  EXPECT_EQ(digest_bytes(hmac_sha256({}, text("abc"))),
            hex("fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351"));
}

TEST(HmacSha256, DifferentKeysGiveDifferentMacsForTheSameMessage) {
  const auto message = text("the same chunk");
  EXPECT_NE(hmac_sha256(repeat(1, 32), message), hmac_sha256(repeat(2, 32), message));
}

// --- HKDF-SHA256: RFC 5869 appendix A ---------------------------------------------------

TEST(HkdfSha256, Rfc5869TestCase1Basic) {
  byte_vector okm(42);
  hkdf_sha256(repeat(0x0b, 22), range(0x00, 13), range(0xf0, 10), okm);
  EXPECT_EQ(okm, hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400720"
                     "8d5b887185865"));
}

TEST(HkdfSha256, Rfc5869TestCase2LongerInputsAndOutputs) {
  byte_vector okm(82);
  hkdf_sha256(range(0x00, 80), range(0x60, 80), range(0xb0, 80), okm);
  EXPECT_EQ(okm, hex("b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99"
                     "cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87"
                     "c14c01d5c1f3434f1d87"));
}

TEST(HkdfSha256, Rfc5869TestCase3EmptySaltAndInfo) {
  const secret_bytes okm = hkdf_sha256(repeat(0x0b, 22), {}, {}, 42);
  EXPECT_EQ(byte_vector(okm.bytes().begin(), okm.bytes().end()),
            hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395"
                "faa4b61a96c8"));
}

TEST(HkdfSha256, OutputIsAPrefixOfALongerOutputAndTheMaximumLengthWorks) {
  byte_vector short_okm(32), long_okm(hkdf_sha256_output_bytes_max);
  hkdf_sha256(repeat(7, 32), text("salt"), text("info"), short_okm);
  hkdf_sha256(repeat(7, 32), text("salt"), text("info"), long_okm);
  EXPECT_TRUE(std::equal(short_okm.begin(), short_okm.end(), long_okm.begin()));
}

TEST(HkdfSha256DeathTest, EmptyInputKeyMaterialIsABug) {
  byte_vector okm(32);
  EXPECT_DEATH(hkdf_sha256({}, {}, {}, okm), "must not be empty");
}

// --- AES-256-GCM: McGrew & Viega, "The Galois/Counter Mode of Operation", test cases
// 13-16 (the 256-bit key cases) -----------------------------------------------------------

struct gcm_vector {
  const char* name;
  byte_vector key, nonce, ad, plaintext, ciphertext, tag;
};

std::vector<gcm_vector> gcm_vectors() {
  const auto key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto nonce = hex("cafebabefacedbaddecaf888");
  const auto p15 =
      hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
          "49a6b525b16aedf5aa0de657ba637b391aafd255");
  const auto c15 =
      hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
          "56828838c5f61e6393ba7a0abcc9f662898015ad");
  return {
      {"test case 13 (empty plaintext)",
       byte_vector(32, 0),
       byte_vector(12, 0),
       {},
       {},
       {},
       hex("530f8afbc74536b9a963b4f1c4cb738b")},
      {"test case 14 (one zero block)",
       byte_vector(32, 0),
       byte_vector(12, 0),
       {},
       byte_vector(16, 0),
       hex("cea7403d4d606b6e074ec5d3baf39d18"),
       hex("d0d1c8a799996bf0265b98b5d48ab919")},
      {"test case 15 (four blocks)",
       key,
       nonce,
       {},
       p15,
       c15,
       hex("b094dac5d93471bdec1a502270e3cc6c")},
      {"test case 16 (partial block, associated data)", key, nonce,
       hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"), byte_vector(p15.begin(), p15.end() - 4),
       byte_vector(c15.begin(), c15.end() - 4), hex("76fc6ece0f4e1768cddf8853bb2d551b")},
  };
}

TEST(Aes256Gcm, McGrewViegaTestCasesSeal) {
  for (const auto& v : gcm_vectors()) {
    SCOPED_TRACE(v.name);
    byte_vector expected = v.ciphertext;
    expected.insert(expected.end(), v.tag.begin(), v.tag.end());
    EXPECT_EQ(aes256gcm_seal(v.key, v.nonce, v.ad, v.plaintext), expected);  // C2
  }
}

TEST(Aes256Gcm, McGrewViegaTestCasesOpen) {
  for (const auto& v : gcm_vectors()) {
    SCOPED_TRACE(v.name);
    byte_vector sealed = v.ciphertext;
    sealed.insert(sealed.end(), v.tag.begin(), v.tag.end());
    const opened o = aes256gcm_open(v.key, v.nonce, v.ad, sealed);
    ASSERT_TRUE(o.ok()) << to_string(o.status);
    EXPECT_EQ(o.plaintext, v.plaintext);
  }
}

TEST(Aes256Gcm, SealAndOpenInPlace) {
  const auto vectors = gcm_vectors();
  const auto& v = vectors[3];
  byte_vector buffer = v.plaintext;
  buffer.resize(gcm_sealed_bytes(v.plaintext.size()));
  aes256gcm_seal(v.key, v.nonce, v.ad, std::span(buffer).first(v.plaintext.size()), buffer);
  EXPECT_TRUE(std::equal(v.ciphertext.begin(), v.ciphertext.end(), buffer.begin()));
  ASSERT_EQ(
      aes256gcm_open(v.key, v.nonce, v.ad, buffer, std::span(buffer).first(v.plaintext.size())),
      open_status::ok);
  EXPECT_TRUE(std::equal(v.plaintext.begin(), v.plaintext.end(), buffer.begin()));
}

TEST(Aes256Gcm, ShorterThanATagIsRefused) {
  const byte_vector key(32, 1), nonce(12, 2);
  for (std::size_t n = 0; n < gcm_tag_bytes; ++n) {
    const opened o = aes256gcm_open(key, nonce, {}, byte_vector(n, 0));
    EXPECT_EQ(o.status, open_status::too_short);
    EXPECT_TRUE(o.plaintext.empty());
  }
}

TEST(Aes256Gcm, AFailedOpenCleansesTheOutput) {
  const byte_vector key(32, 1), nonce(12, 2);
  const byte_vector plaintext(100, 0x5a);
  byte_vector sealed = aes256gcm_seal(key, nonce, {}, plaintext);
  sealed.back() ^= 1;
  byte_vector out(plaintext.size(), 0xee);
  EXPECT_EQ(aes256gcm_open(key, nonce, {}, sealed, out), open_status::authentication_failed);
  EXPECT_EQ(out, byte_vector(out.size(), 0));  // C1: neither plaintext nor garbage
}

TEST(Aes256Gcm, LargeBufferRoundTrip) {
  const byte_vector key(32, 9), nonce(12, 3);
  byte_vector plaintext(4 << 20);
  deterministic_random_source(1).fill(plaintext);
  const auto sealed = aes256gcm_seal(key, nonce, text("ad"), plaintext);
  const opened o = aes256gcm_open(key, nonce, text("ad"), sealed);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o.plaintext, plaintext);
}

RC_GTEST_PROP(Aes256GcmProperty, SealThenOpenGivesThePlaintextBack, ()) {
  const auto key =
      *rc::gen::container<byte_vector>(aes256_key_bytes, rc::gen::arbitrary<std::uint8_t>());
  const auto nonce =
      *rc::gen::container<byte_vector>(gcm_nonce_bytes, rc::gen::arbitrary<std::uint8_t>());
  const auto ad = *rc::gen::arbitrary<byte_vector>();
  const auto plaintext = *rc::gen::arbitrary<byte_vector>();
  const auto sealed = aes256gcm_seal(key, nonce, ad, plaintext);
  RC_ASSERT(sealed.size() == plaintext.size() + gcm_tag_bytes);
  const opened o = aes256gcm_open(key, nonce, ad, sealed);
  RC_ASSERT(o.ok());
  RC_ASSERT(o.plaintext == plaintext);
}

// Which input of open() a property changes.
enum class tampered_input { sealed, associated_data, nonce, key };

RC_GTEST_PROP(Aes256GcmProperty, AnyFlippedBitInAnyInputIsRefused, ()) {
  const auto key =
      *rc::gen::container<byte_vector>(aes256_key_bytes, rc::gen::arbitrary<std::uint8_t>());
  auto nonce =
      *rc::gen::container<byte_vector>(gcm_nonce_bytes, rc::gen::arbitrary<std::uint8_t>());
  auto ad = *rc::gen::nonEmpty(rc::gen::arbitrary<byte_vector>());
  const auto plaintext = *rc::gen::arbitrary<byte_vector>();
  auto sealed = aes256gcm_seal(key, nonce, ad, plaintext);
  auto open_key = key;
  const auto which = *rc::gen::element(tampered_input::sealed, tampered_input::associated_data,
                                       tampered_input::nonce, tampered_input::key);
  byte_vector& target = which == tampered_input::sealed            ? sealed
                        : which == tampered_input::associated_data ? ad
                        : which == tampered_input::nonce           ? nonce
                                                                   : open_key;
  const auto bit = *rc::gen::inRange<std::size_t>(0, target.size() * 8);
  target[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  const opened o = aes256gcm_open(open_key, nonce, ad, sealed);
  RC_ASSERT(o.status == open_status::authentication_failed);
  RC_ASSERT(o.plaintext.empty());
}

// --- secret_bytes ----------------------------------------------------------------------

TEST(SecretBytes, CloneIsEqualMoveEmptiesTheSourceClearEmpties) {
  secret_bytes a = secret_bytes::copy_of(range(1, 32));
  secret_bytes b = a.clone();
  EXPECT_TRUE(a == b);
  EXPECT_EQ(b.size(), 32u);
  b.writable()[0] ^= 1;
  EXPECT_FALSE(a == b);
  secret_bytes c = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): SB2 says so
  EXPECT_EQ(c.size(), 32u);
  c.clear();
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(secret_bytes() == secret_bytes(0));
  EXPECT_FALSE(secret_bytes(3) == secret_bytes(4));
  EXPECT_EQ(secret_bytes(5).bytes().size(), 5u);
  EXPECT_EQ(secret_bytes(5).bytes()[4], 0);
}

// --- random sources --------------------------------------------------------------------

TEST(DeterministicRandomSource, KnownFirstBytesForSeed42) {
  // splitmix64 of seed 42, words little-endian (checked against an
  // independent implementation).
  byte_vector out(16);
  deterministic_random_source(42).fill(out);
  EXPECT_EQ(out, hex("956eeb2f2632d7bd03f166b233e3ef28"));
}

RC_GTEST_PROP(DeterministicRandomSourceProperty, TheStreamDoesNotDependOnHowItIsCut, ()) {
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  const auto cuts =
      *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, 40));
  std::size_t total = 0;
  for (auto c : cuts) total += c;
  byte_vector whole(total);
  deterministic_random_source(seed).fill(whole);
  deterministic_random_source pieces(seed);
  byte_vector joined;
  for (auto c : cuts) {
    byte_vector part(c);
    pieces.fill(part);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  RC_ASSERT(joined == whole);  // RS2
}

TEST(DeterministicRandomSource, DifferentSeedsGiveDifferentStreams) {
  byte_vector a(32), b(32);
  deterministic_random_source(1).fill(a);
  deterministic_random_source(2).fill(b);
  EXPECT_NE(a, b);
}

TEST(OpensslRandomSource, FillsEveryByteAndNeverRepeats) {
  openssl_random_source random;
  byte_vector a(64, 0), b(64, 0);
  random.fill(a);
  random.fill(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, byte_vector(64, 0));
  random.fill({});  // an empty span is fine
}

}  // namespace
}  // namespace cairn::keys
