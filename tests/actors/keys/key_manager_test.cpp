// tests/actors/keys/key_manager_test.cpp — the key manager core
// (actors/keys/key_manager.h, invariants K1-K3, K7, K8), its record format
// (key_record.h, KR1, KR2) and the internal key provider (the key_provider
// contract KP1-KP5, IK1, IK2): effects before use, rotation, shred, reload
// from records, determinism, and a model-based property with crashes.
#include "actors/keys/key_manager.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/keys/internal_key_provider.h"
#include "actors/keys/key_record.h"
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

secret_bytes master_key_from(std::uint8_t first) {
  secret_bytes k(internal_key_provider::master_key_bytes);
  for (std::size_t i = 0; i < k.size(); ++i) k.writable()[i] = static_cast<std::uint8_t>(first + i);
  return k;
}

bool contains(std::span<const std::uint8_t> haystack, std::span<const std::uint8_t> needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

constexpr tenant_id alice{1};
constexpr tenant_id bob{2};
constexpr std::uint32_t rs_4_2 = 0x0402;

// The node's store as the key manager actor will keep it: record id -> value,
// written a ready() at a time.
class record_store {
 public:
  void apply(const key_ready& r) {
    for (const auto& put : r.puts) records_[put.id] = put.wrapped;
    for (const auto& id : r.deletes) records_.erase(id);
  }
  std::vector<key_record> records() const {
    std::vector<key_record> out;
    for (const auto& [id, wrapped] : records_) out.push_back(key_record{id, wrapped});
    return out;
  }
  const std::map<key_record_id, byte_vector>& map() const { return records_; }
  std::map<key_record_id, byte_vector>& map() { return records_; }

 private:
  std::map<key_record_id, byte_vector> records_;
};

// One node: random source, provider, core, store.
struct node {
  explicit node(std::uint64_t seed, std::uint8_t master = 0x80, key_manager_config config = {})
      : random(seed), provider(master_key_from(master), random), core(config, provider, random) {}

  // ready() -> store -> advance(), as the actor will.
  key_ready persist() {
    key_ready r = core.ready();
    store.apply(r);
    core.advance();
    return r;
  }

  deterministic_random_source random;
  internal_key_provider provider;
  key_manager core;
  record_store store;
};

// --- internal_key_provider ---------------------------------------------------------------

TEST(InternalKeyProvider, KnownAnswerWrapping) {
  // Computed with Python's `cryptography` from the format in
  // internal_key_provider.h: master key 80..9f, key c0..df, nonce = the first
  // 12 bytes of splitmix64(seed 5), tenant 9, purpose data, epoch 4.
  deterministic_random_source random(5);
  internal_key_provider provider(master_key_from(0x80), random);
  byte_vector key(32);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0xc0 + i);
  const wrap_context context{tenant_id{9}, key_purpose::data, key_epoch{4}};
  const auto wrapped = provider.wrap(context, key);
  EXPECT_EQ(wrapped, hex("015ac389a30c3b0363f8369793e147b7051c3b775396dec924913d04b1b898a01e7669"
                         "757b9d5f43ef697d6570ed59c224481965d872562b07cdcdbd16"));
  const auto unwrapped = provider.unwrap(context, wrapped);  // KP1
  ASSERT_TRUE(unwrapped.has_value());
  EXPECT_TRUE(std::equal(key.begin(), key.end(), unwrapped->bytes().begin()));
}

TEST(InternalKeyProvider, AWrappingIsBoundToTenantPurposeAndEpoch) {
  deterministic_random_source random(1);
  internal_key_provider provider(master_key_from(0x80), random);
  const byte_vector key(32, 0x42);
  const wrap_context context{alice, key_purpose::data, key_epoch{2}};
  const auto wrapped = provider.wrap(context, key);
  ASSERT_TRUE(provider.unwrap(context, wrapped).has_value());
  for (const wrap_context other : {wrap_context{bob, key_purpose::data, key_epoch{2}},
                                   wrap_context{alice, key_purpose::dedup, key_epoch{2}},
                                   wrap_context{alice, key_purpose::data, key_epoch{3}}})
    EXPECT_FALSE(provider.unwrap(other, wrapped).has_value());  // KP2
}

TEST(InternalKeyProvider, AnotherMasterKeyVersionOrLengthIsRefused) {
  deterministic_random_source random(1);
  internal_key_provider provider(master_key_from(0x80), random);
  internal_key_provider other(master_key_from(0x81), random);
  const wrap_context context{alice, key_purpose::dedup, no_epoch};
  auto wrapped = provider.wrap(context, byte_vector(32, 7));
  EXPECT_FALSE(other.unwrap(context, wrapped).has_value());
  auto bad_version = wrapped;
  bad_version[0] = 2;
  EXPECT_FALSE(provider.unwrap(context, bad_version).has_value());
  for (std::size_t n = 0; n <= internal_key_provider::wrapped_overhead_bytes; ++n)
    EXPECT_FALSE(provider.unwrap(context, std::span(wrapped).first(n)).has_value());
  EXPECT_FALSE(provider.unwrap(context, byte_vector(4096, 1)).has_value());
}

RC_GTEST_PROP(InternalKeyProviderProperty, AnyFlippedBitIsRefusedAndTheKeyNeverAppears, ()) {
  deterministic_random_source random(*rc::gen::arbitrary<std::uint64_t>());
  internal_key_provider provider(master_key_from(0x80), random);
  byte_vector key(32);
  random.fill(key);
  const wrap_context context{tenant_id{*rc::gen::arbitrary<std::uint64_t>()},
                             *rc::gen::element(key_purpose::dedup, key_purpose::data),
                             key_epoch{*rc::gen::arbitrary<std::uint64_t>()}};
  auto wrapped = provider.wrap(context, key);
  RC_ASSERT(wrapped.size() == internal_key_provider::wrapped_overhead_bytes + key.size());
  RC_ASSERT(!contains(wrapped, key));  // KP4
  const auto bit = *rc::gen::inRange<std::size_t>(0, wrapped.size() * 8);
  wrapped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  RC_ASSERT(!provider.unwrap(context, wrapped).has_value());  // KP3
}

TEST(InternalKeyProvider, NoncesComeFromTheInjectedSourceAndDiffer) {
  deterministic_random_source random(3);
  internal_key_provider provider(master_key_from(0x80), random);
  const wrap_context context{alice, key_purpose::data, first_epoch};
  const byte_vector key(32, 1);
  const auto a = provider.wrap(context, key);
  const auto b = provider.wrap(context, key);
  EXPECT_NE(a, b);  // IK1: a fresh random nonce per wrap
  deterministic_random_source replay(3);
  byte_vector nonce(12);
  replay.fill(nonce);
  EXPECT_TRUE(std::equal(nonce.begin(), nonce.end(), a.begin() + 1));
}

// --- key records ------------------------------------------------------------------------

TEST(KeyRecord, RecordIdLayout) {
  const key_record_id id{tenant_id{0x0102030405060708}, key_purpose::data, key_epoch{0x1112}};
  const auto bytes = encode_record_id(id);
  EXPECT_EQ(byte_vector(bytes.begin(), bytes.end()), hex("0102030405060708"
                                                         "02"
                                                         "0000000000001112"));
  EXPECT_EQ(decode_record_id(bytes), id);
}

TEST(KeyRecord, MalformedIdsAreRefused) {
  auto bytes = encode_record_id({alice, key_purpose::dedup, no_epoch});
  EXPECT_FALSE(decode_record_id(std::span(bytes).first(16)).has_value());
  for (std::uint8_t purpose : {0, 4, 255}) {
    auto b = bytes;
    b[8] = purpose;
    EXPECT_FALSE(decode_record_id(b).has_value()) << int(purpose);
  }
  auto dedup_with_epoch = bytes;
  dedup_with_epoch[16] = 1;
  EXPECT_FALSE(decode_record_id(dedup_with_epoch).has_value());
  auto data_without_epoch = bytes;
  data_without_epoch[8] = 2;
  EXPECT_FALSE(decode_record_id(data_without_epoch).has_value());
  auto mark_with_epoch = dedup_with_epoch;
  mark_with_epoch[8] = 3;
  EXPECT_FALSE(decode_record_id(mark_with_epoch).has_value());
}

rc::Gen<key_record_id> arbitrary_record_id() {
  return rc::gen::map(rc::gen::tuple(rc::gen::arbitrary<std::uint64_t>(),
                                     rc::gen::element(key_purpose::dedup, key_purpose::data,
                                                      key_purpose::shred_mark),
                                     rc::gen::arbitrary<std::uint64_t>()),
                      [](const auto& t) {
                        const auto& [tenant, purpose, epoch] = t;
                        const std::uint64_t e =
                            purpose == key_purpose::data ? std::max<std::uint64_t>(epoch, 1) : 0;
                        return key_record_id{tenant_id{tenant}, purpose, key_epoch{e}};
                      });
}

RC_GTEST_PROP(KeyRecordProperty, RoundTripAndByteOrderIsIdOrder, ()) {
  const auto a = *arbitrary_record_id();
  const auto b = *arbitrary_record_id();
  const auto ea = encode_record_id(a);
  const auto eb = encode_record_id(b);
  RC_ASSERT(decode_record_id(ea) == std::optional(a));  // KR1
  // A store sorted by key bytes keeps a tenant's records together, in id order.
  RC_ASSERT((ea < eb) == (a < b));
}

// --- key manager: create, durability before use (K2) ------------------------------------

TEST(KeyManager, ANewTenantsKeysAreUsableOnlyAfterTheirRecordsAreDurable) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  EXPECT_EQ(n.core.state_of(alice), tenant_state::pending);
  EXPECT_EQ(n.core.current_epoch(alice).error, key_error::not_durable);
  EXPECT_EQ(n.core.chunk_id_of(alice, text("x")).error, key_error::not_durable);
  EXPECT_EQ(n.core.data_key(alice, first_epoch).error, key_error::not_durable);
  ASSERT_TRUE(n.core.has_ready());
  const key_ready r = n.core.ready();
  ASSERT_EQ(r.puts.size(), 2u);
  EXPECT_EQ(r.puts[0].id, (key_record_id{alice, key_purpose::dedup, no_epoch}));
  EXPECT_EQ(r.puts[1].id, (key_record_id{alice, key_purpose::data, first_epoch}));
  EXPECT_TRUE(r.deletes.empty());
  // In flight: still not usable.
  EXPECT_EQ(n.core.dedup_key(alice).error, key_error::not_durable);
  n.core.advance();
  EXPECT_FALSE(n.core.has_ready());
  EXPECT_EQ(n.core.state_of(alice), tenant_state::active);
  EXPECT_EQ(n.core.current_epoch(alice).value, first_epoch);
  EXPECT_TRUE(n.core.chunk_id_of(alice, text("x")).ok());
  n.core.check_invariants();
}

TEST(KeyManager, CreatingATenantTwiceOrUsingAnUnknownOneFails) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  EXPECT_EQ(n.core.create_tenant(alice), key_error::tenant_exists);
  EXPECT_EQ(n.core.state_of(bob), tenant_state::unknown);
  EXPECT_EQ(n.core.rotate(bob).error, key_error::unknown_tenant);
  EXPECT_EQ(n.core.shred(bob), key_error::unknown_tenant);
  EXPECT_EQ(n.core.chunk_id_of(bob, text("x")).error, key_error::unknown_tenant);
}

TEST(KeyManagerDeathTest, ReadyTwiceWithoutAdvanceIsABug) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  (void)n.core.ready();
  EXPECT_DEATH((void)n.core.ready(), "before advance");
}

TEST(KeyManager, RecordsNeverHoldAKeyInTheClear) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  n.persist();
  ASSERT_TRUE(n.core.rotate(alice).ok());
  n.persist();
  std::vector<secret_bytes> keys;
  keys.push_back(n.core.dedup_key(alice).value);
  keys.push_back(n.core.data_key(alice, key_epoch{1}).value);
  keys.push_back(n.core.data_key(alice, key_epoch{2}).value);
  for (const auto& k : keys) {
    ASSERT_EQ(k.size(), tenant_key_bytes);
    for (const auto& [id, wrapped] : n.store.map())
      EXPECT_FALSE(contains(wrapped, k.bytes())) << to_string(id.purpose);  // K1, KR2
  }
}

// --- rotation (K3) -------------------------------------------------------------------------

TEST(KeyManager, AccessKeySecretsAreWrappedForTheirTenantAndKeyIdOnly) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  ASSERT_EQ(n.core.create_tenant(bob), key_error::none);
  n.persist();
  const auto secret = text("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  const auto wrapped = n.core.wrap_access_secret(alice, "CKAAAAAAAAAAAAAAAAAA", secret);
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(std::search(wrapped.value.begin(), wrapped.value.end(), secret.begin(), secret.end()),
            wrapped.value.end())
      << "CT4: the secret never appears in the clear";
  const auto back = n.core.unwrap_access_secret(alice, "CKAAAAAAAAAAAAAAAAAA", wrapped.value);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(std::equal(back.value.bytes().begin(), back.value.bytes().end(), secret.begin(),
                         secret.end()));
  // Bound to the key id and the tenant (KP2): a copy under another id or
  // tenant does not unwrap.
  EXPECT_EQ(n.core.unwrap_access_secret(alice, "CKBBBBBBBBBBBBBBBBBB", wrapped.value).error,
            key_error::unwrap_failed);
  EXPECT_EQ(n.core.unwrap_access_secret(bob, "CKAAAAAAAAAAAAAAAAAA", wrapped.value).error,
            key_error::unwrap_failed);
  // A shredded tenant's keys stop working with it.
  ASSERT_EQ(n.core.shred(alice), key_error::none);
  n.persist();
  EXPECT_EQ(n.core.unwrap_access_secret(alice, "CKAAAAAAAAAAAAAAAAAA", wrapped.value).error,
            key_error::tenant_shredded);
  EXPECT_EQ(n.core.wrap_access_secret(tenant_id{999}, "CKAAAAAAAAAAAAAAAAAA", secret).error,
            key_error::unknown_tenant);
}

TEST(KeyManager, RotateAddsAnEpochThatBecomesCurrentWhenDurable) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  n.persist();
  const chunk_id id = n.core.chunk_id_of(alice, text("chunk")).value;
  const auto rotated = n.core.rotate(alice);
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated.value, key_epoch{2});
  EXPECT_EQ(n.core.current_epoch(alice).value, key_epoch{1});  // K2: not yet durable
  EXPECT_EQ(n.core.chunk_key(alice, key_epoch{2}, id, rs_4_2).error, key_error::not_durable);
  const key_ready r = n.persist();
  ASSERT_EQ(r.puts.size(), 1u);
  EXPECT_EQ(r.puts[0].id, (key_record_id{alice, key_purpose::data, key_epoch{2}}));
  EXPECT_EQ(n.core.current_epoch(alice).value, key_epoch{2});
  EXPECT_EQ(n.core.epochs(alice).value, (std::vector<key_epoch>{key_epoch{1}, key_epoch{2}}));
  // Old epochs stay readable, each epoch has its own chunk keys, and the
  // dedup key does not rotate: chunk ids stay the same across epochs.
  const auto k1 = n.core.chunk_key(alice, key_epoch{1}, id, rs_4_2);
  const auto k2 = n.core.chunk_key(alice, key_epoch{2}, id, rs_4_2);
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_FALSE(k1.value == k2.value);
  EXPECT_EQ(n.core.chunk_id_of(alice, text("chunk")).value, id);
  EXPECT_EQ(n.core.chunk_key(alice, key_epoch{3}, id, rs_4_2).error, key_error::unknown_epoch);
  EXPECT_EQ(n.core.data_key(alice, no_epoch).error, key_error::unknown_epoch);
}

TEST(KeyManager, ChunkKeysAreTheDerivationFromTheDataKey) {
  node n(2);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  n.persist();
  const chunk_id id = n.core.chunk_id_of(alice, text("chunk")).value;
  EXPECT_EQ(id, chunk_id_of(n.core.dedup_key(alice).value, text("chunk")));
  EXPECT_TRUE(n.core.chunk_key(alice, first_epoch, id, rs_4_2).value ==
              derive_chunk_key(n.core.data_key(alice, first_epoch).value, id, rs_4_2));
}

TEST(KeyManager, LimitsOnTenantsAndEpochs) {
  key_manager_config config;
  config.tenants_max = 2;
  config.epochs_per_tenant_max = 3;
  node n(1, 0x80, config);
  ASSERT_EQ(n.core.create_tenant(tenant_id{1}), key_error::none);
  ASSERT_EQ(n.core.create_tenant(tenant_id{2}), key_error::none);
  EXPECT_EQ(n.core.create_tenant(tenant_id{3}), key_error::tenants_max_reached);
  EXPECT_TRUE(n.core.rotate(tenant_id{1}).ok());
  EXPECT_TRUE(n.core.rotate(tenant_id{1}).ok());
  EXPECT_EQ(n.core.rotate(tenant_id{1}).error, key_error::epochs_max_reached);
  n.core.check_invariants();
}

// --- shred (K7) ----------------------------------------------------------------------------

TEST(KeyManager, ShredDeletesEveryRecordForgetsTheKeysAndRefusesEverything) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  ASSERT_EQ(n.core.create_tenant(bob), key_error::none);
  n.persist();
  ASSERT_TRUE(n.core.rotate(alice).ok());
  n.persist();
  const chunk_id bobs = n.core.chunk_id_of(bob, text("chunk")).value;
  const std::size_t cached_before = n.core.cached_key_count();

  ASSERT_EQ(n.core.shred(alice), key_error::none);
  EXPECT_EQ(n.core.cached_key_count(), cached_before - 3);
  const key_ready r = n.core.ready();
  ASSERT_EQ(r.puts.size(), 1u);
  EXPECT_EQ(r.puts[0].id, (key_record_id{alice, key_purpose::shred_mark, no_epoch}));
  EXPECT_TRUE(r.puts[0].wrapped.empty());
  EXPECT_EQ(std::set<key_record_id>(r.deletes.begin(), r.deletes.end()),
            (std::set<key_record_id>{{alice, key_purpose::dedup, no_epoch},
                                     {alice, key_purpose::data, key_epoch{1}},
                                     {alice, key_purpose::data, key_epoch{2}}}));
  n.store.apply(r);
  n.core.advance();
  for (const auto& [id, wrapped] : n.store.map()) {
    if (id.tenant == alice) {
      EXPECT_EQ(id.purpose, key_purpose::shred_mark);
    }
  }

  EXPECT_EQ(n.core.state_of(alice), tenant_state::shredded);
  EXPECT_EQ(n.core.current_epoch(alice).error, key_error::tenant_shredded);
  EXPECT_EQ(n.core.epochs(alice).error, key_error::tenant_shredded);
  EXPECT_EQ(n.core.chunk_id_of(alice, text("chunk")).error, key_error::tenant_shredded);
  EXPECT_EQ(n.core.chunk_key(alice, first_epoch, bobs, rs_4_2).error, key_error::tenant_shredded);
  EXPECT_EQ(n.core.dedup_key(alice).error, key_error::tenant_shredded);
  EXPECT_EQ(n.core.data_key(alice, first_epoch).error, key_error::tenant_shredded);
  EXPECT_EQ(n.core.rotate(alice).error, key_error::tenant_shredded);
  EXPECT_EQ(n.core.shred(alice), key_error::tenant_shredded);
  EXPECT_EQ(n.core.create_tenant(alice), key_error::tenant_shredded);
  EXPECT_EQ(to_string(key_error::tenant_shredded), "tenant shredded: its keys were destroyed");
  // Bob is untouched.
  EXPECT_EQ(n.core.chunk_id_of(bob, text("chunk")).value, bobs);
  n.core.check_invariants();
}

TEST(KeyManager, ShredBeforeTheCreateIsPersistedWritesOnlyTheMark) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  ASSERT_EQ(n.core.shred(alice), key_error::none);
  const key_ready r = n.core.ready();
  ASSERT_EQ(r.puts.size(), 1u);
  EXPECT_EQ(r.puts[0].id.purpose, key_purpose::shred_mark);
  EXPECT_TRUE(r.deletes.empty());
  n.core.advance();
  n.core.check_invariants();
}

TEST(KeyManager, ShredWhileTheCreateIsInFlightDeletesItNext) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  const key_ready first = n.core.ready();
  ASSERT_EQ(n.core.shred(alice), key_error::none);
  n.store.apply(first);
  n.core.advance();
  EXPECT_EQ(n.core.state_of(alice), tenant_state::shredded);
  const key_ready second = n.persist();
  EXPECT_EQ(second.deletes.size(), 2u);  // K8: never in the same ready as its put
  EXPECT_EQ(n.store.map().size(), 1u);   // only the mark
  n.core.check_invariants();
}

// --- load --------------------------------------------------------------------------------

TEST(KeyManager, LoadGivesBackTheSameKeysEpochsAndShreds) {
  node n(1);
  for (std::uint64_t t = 1; t <= 4; ++t)
    ASSERT_EQ(n.core.create_tenant(tenant_id{t}), key_error::none);
  n.persist();
  ASSERT_TRUE(n.core.rotate(tenant_id{2}).ok());
  ASSERT_EQ(n.core.shred(tenant_id{3}), key_error::none);
  n.persist();

  // A restart: a new core on the same master key, from the store.
  deterministic_random_source random(99);
  internal_key_provider provider(master_key_from(0x80), random);
  key_manager reloaded({}, provider, random);
  ASSERT_EQ(reloaded.load(n.store.records()), key_error::none);
  EXPECT_FALSE(reloaded.has_ready());
  EXPECT_EQ(reloaded.cached_key_count(), 0u);  // unwrapped lazily
  EXPECT_EQ(reloaded.tenant_count(), 4u);
  EXPECT_EQ(reloaded.state_of(tenant_id{3}), tenant_state::shredded);
  EXPECT_EQ(reloaded.create_tenant(tenant_id{3}), key_error::tenant_shredded);
  EXPECT_EQ(reloaded.current_epoch(tenant_id{2}).value, key_epoch{2});
  for (std::uint64_t t : {1, 2, 4}) {
    const tenant_id tenant{t};
    EXPECT_EQ(reloaded.state_of(tenant), tenant_state::active);
    const chunk_id id = n.core.chunk_id_of(tenant, text("chunk")).value;
    EXPECT_EQ(reloaded.chunk_id_of(tenant, text("chunk")).value, id);
    for (key_epoch e : n.core.epochs(tenant).value)
      EXPECT_TRUE(reloaded.chunk_key(tenant, e, id, rs_4_2).value ==
                  n.core.chunk_key(tenant, e, id, rs_4_2).value);
  }
  // New epochs continue after the loaded ones.
  EXPECT_EQ(reloaded.rotate(tenant_id{2}).value, key_epoch{3});
  reloaded.check_invariants();
}

TEST(KeyManager, LoadFinishesAShredWhoseDeletesDidNotLand) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  n.persist();
  auto records = n.store.records();
  records.push_back({{alice, key_purpose::shred_mark, no_epoch}, {}});
  deterministic_random_source random(1);
  internal_key_provider provider(master_key_from(0x80), random);
  key_manager reloaded({}, provider, random);
  ASSERT_EQ(reloaded.load(records), key_error::none);
  EXPECT_EQ(reloaded.state_of(alice), tenant_state::shredded);
  ASSERT_TRUE(reloaded.has_ready());
  const key_ready r = reloaded.ready();
  EXPECT_TRUE(r.puts.empty());
  EXPECT_EQ(r.deletes.size(), 2u);
  reloaded.advance();
}

TEST(KeyManager, LoadRefusesDamagedRecordSetsAndStaysEmpty) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  n.persist();
  const auto good = n.store.records();  // dedup, data 1
  ASSERT_EQ(good.size(), 2u);
  std::vector<std::vector<key_record>> bad;
  bad.push_back({good[0]});                    // no data epoch
  bad.push_back({good[1]});                    // no dedup key
  bad.push_back({good[0], good[1], good[1]});  // duplicate
  bad.push_back({good[0], good[1], {{bob, key_purpose::shred_mark, no_epoch}, {1}}});  // mark value
  bad.push_back({good[0], {good[1].id, {}}});  // empty wrapping
  bad.push_back({good[0], {good[1].id, byte_vector(wrapped_key_bytes_max + 1, 1)}});
  bad.push_back({good[0], good[1], {{alice, key_purpose::data, no_epoch}, good[1].wrapped}});
  bad.push_back({good[0], good[1], {{alice, key_purpose::dedup, key_epoch{1}}, good[0].wrapped}});
  for (std::size_t i = 0; i < bad.size(); ++i) {
    deterministic_random_source random(1);
    internal_key_provider provider(master_key_from(0x80), random);
    key_manager reloaded({}, provider, random);
    EXPECT_EQ(reloaded.load(bad[i]), key_error::bad_record) << i;
    EXPECT_EQ(reloaded.tenant_count(), 0u) << i;
    EXPECT_FALSE(reloaded.has_ready()) << i;
  }
}

TEST(KeyManager, RecordsUnderAnotherMasterKeyOrTamperedOrMovedDoNotUnwrap) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  ASSERT_EQ(n.core.create_tenant(bob), key_error::none);
  n.persist();
  {
    node other(1, 0x81);  // same records, another node master key
    ASSERT_EQ(other.core.load(n.store.records()), key_error::none);
    EXPECT_EQ(other.core.chunk_id_of(alice, text("x")).error, key_error::unwrap_failed);
    EXPECT_EQ(other.core.data_key(alice, first_epoch).error, key_error::unwrap_failed);
  }
  {
    auto records = n.store.records();
    records[1].wrapped[20] ^= 1;  // alice's data key record
    node tampered(1);
    ASSERT_EQ(tampered.core.load(records), key_error::none);
    EXPECT_TRUE(tampered.core.chunk_id_of(alice, text("x")).ok());
    EXPECT_EQ(tampered.core.data_key(alice, first_epoch).error, key_error::unwrap_failed);
  }
  {
    // Bob's store entry replaced by a copy of Alice's wrapped dedup key: it
    // is bound to Alice (KP2), so Bob's chunk ids cannot become Alice's.
    auto& map = n.store.map();
    map[{bob, key_purpose::dedup, no_epoch}] = map.at({alice, key_purpose::dedup, no_epoch});
    node moved(1);
    ASSERT_EQ(moved.core.load(n.store.records()), key_error::none);
    EXPECT_EQ(moved.core.chunk_id_of(bob, text("x")).error, key_error::unwrap_failed);
  }
}

TEST(KeyManager, ForgottenKeysAreUnwrappedAgainOnUse) {
  node n(1);
  ASSERT_EQ(n.core.create_tenant(alice), key_error::none);
  n.persist();
  const chunk_id id = n.core.chunk_id_of(alice, text("x")).value;
  const secret_bytes data = n.core.data_key(alice, first_epoch).value;
  EXPECT_EQ(n.core.cached_key_count(), 2u);
  n.core.forget_cached_keys(alice);
  EXPECT_EQ(n.core.cached_key_count(), 0u);
  EXPECT_EQ(n.core.chunk_id_of(alice, text("x")).value, id);
  EXPECT_TRUE(n.core.data_key(alice, first_epoch).value == data);
}

// --- determinism and provider failures ----------------------------------------------------

TEST(KeyManager, TheSameSeedGivesTheSameRecords) {
  auto run = [](std::uint64_t seed) {
    node n(seed);
    std::vector<key_ready> out;
    for (std::uint64_t t = 1; t <= 3; ++t) (void)n.core.create_tenant(tenant_id{t});
    out.push_back(n.persist());
    (void)n.core.rotate(tenant_id{2});
    (void)n.core.shred(tenant_id{1});
    out.push_back(n.persist());
    std::vector<key_record> flat;
    for (const auto& r : out) flat.insert(flat.end(), r.puts.begin(), r.puts.end());
    return std::make_pair(flat, n.core.chunk_id_of(tenant_id{2}, text("c")).value);
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7).first, run(8).first);
  EXPECT_NE(run(7).second, run(8).second);
}

// A provider that fails (an external KMS that is unreachable) on demand.
class flaky_provider final : public key_provider {
 public:
  explicit flaky_provider(key_provider& inner) : inner_(inner) {}
  std::vector<std::uint8_t> wrap(const wrap_context& c, std::span<const std::uint8_t> k) override {
    if (calls_until_failure_ == 0) throw std::runtime_error("kms unreachable");
    --calls_until_failure_;
    return inner_.wrap(c, k);
  }
  std::optional<secret_bytes> unwrap(const wrap_context& c,
                                     std::span<const std::uint8_t> w) override {
    if (calls_until_failure_ == 0) throw std::runtime_error("kms unreachable");
    return inner_.unwrap(c, w);
  }
  int calls_until_failure_ = 1000;

 private:
  key_provider& inner_;
};

TEST(KeyManager, AFailingProviderLeavesTheCoreUnchanged) {
  deterministic_random_source random(1);
  internal_key_provider inner(master_key_from(0x80), random);
  flaky_provider provider(inner);
  key_manager core({}, provider, random);
  provider.calls_until_failure_ = 1;  // the dedup key wraps, the data key does not
  EXPECT_THROW((void)core.create_tenant(alice), std::runtime_error);
  EXPECT_EQ(core.state_of(alice), tenant_state::unknown);
  EXPECT_FALSE(core.has_ready());
  provider.calls_until_failure_ = 1000;
  ASSERT_EQ(core.create_tenant(alice), key_error::none);
  (void)core.ready();
  core.advance();
  provider.calls_until_failure_ = 0;
  EXPECT_THROW((void)core.rotate(alice), std::runtime_error);
  EXPECT_EQ(core.epochs(alice).value.size(), 1u);
  EXPECT_FALSE(core.has_ready());
  core.check_invariants();
}

// --- model-based property: any sequence of operations, persists and crashes ---------------

enum class op_kind { create, rotate, shred, persist, crash_before_write, crash_after_write, crash };

struct op {
  op_kind kind;
  std::uint64_t tenant;
};

}  // namespace
}  // namespace cairn::keys

namespace rc {
template <>
struct Arbitrary<cairn::keys::op> {
  static Gen<cairn::keys::op> arbitrary() {
    using cairn::keys::op_kind;
    return gen::build<cairn::keys::op>(
        gen::set(&cairn::keys::op::kind,
                 gen::weightedElement<op_kind>({{4, op_kind::create},
                                                {3, op_kind::rotate},
                                                {1, op_kind::shred},
                                                {5, op_kind::persist},
                                                {1, op_kind::crash_before_write},
                                                {1, op_kind::crash_after_write},
                                                {1, op_kind::crash}})),
        gen::set(&cairn::keys::op::tenant, gen::inRange<std::uint64_t>(1, 5)));
  }
};
}  // namespace rc

namespace cairn::keys {
namespace {

// What a gateway has seen: once a chunk id or chunk key has been handed out
// it must never change while the tenant lives, across rotations and crashes
// (K2, K3); once a shred is durable it survives every crash (K7).
RC_GTEST_PROP(KeyManagerProperty, HandedOutKeysSurviveCrashesAndShredsStick, ()) {
  const auto ops = *rc::gen::container<std::vector<op>>(rc::gen::arbitrary<op>());
  const std::uint64_t seed = *rc::gen::arbitrary<std::uint64_t>();
  deterministic_random_source random(seed);
  internal_key_provider provider(master_key_from(0x80), random);
  auto core = std::make_unique<key_manager>(key_manager_config{}, provider, random);
  record_store store;
  std::map<std::uint64_t, chunk_id> seen_ids;
  std::map<std::pair<std::uint64_t, std::uint64_t>, secret_bytes> seen_keys;
  std::set<std::uint64_t> durably_shredded;
  const auto probe = text("probe chunk");
  const chunk_id probe_id{};

  std::size_t restarts = 0;
  auto restart = [&] {
    ++restarts;
    core = std::make_unique<key_manager>(key_manager_config{}, provider, random);
    RC_ASSERT(core->load(store.records()) == key_error::none);
    if (core->has_ready()) {  // a shred's leftovers
      store.apply(core->ready());
      core->advance();
    }
  };

  for (const op& o : ops) {
    const tenant_id t{o.tenant};
    switch (o.kind) {
      case op_kind::create:
        (void)core->create_tenant(t);
        break;
      case op_kind::rotate:
        (void)core->rotate(t);
        break;
      case op_kind::shred:
        if (core->shred(t) == key_error::none) {
          seen_ids.erase(o.tenant);
          std::erase_if(seen_keys, [&](const auto& e) { return e.first.first == o.tenant; });
        }
        break;
      case op_kind::persist:
      case op_kind::crash_after_write:
        if (core->has_ready()) {
          const key_ready r = core->ready();
          store.apply(r);
          for (const auto& p : r.puts)
            if (p.id.purpose == key_purpose::shred_mark) durably_shredded.insert(p.id.tenant.value);
          if (o.kind == op_kind::persist) core->advance();
        }
        if (o.kind == op_kind::crash_after_write) restart();
        break;
      case op_kind::crash_before_write:
        if (core->has_ready()) (void)core->ready();
        restart();
        break;
      case op_kind::crash:
        restart();
        break;
    }
    core->check_invariants();

    // Use every usable key, and compare with what was handed out before.
    for (std::uint64_t tenant = 1; tenant < 5; ++tenant) {
      const tenant_id tt{tenant};
      if (durably_shredded.count(tenant)) RC_ASSERT(core->state_of(tt) == tenant_state::shredded);
      const auto id = core->chunk_id_of(tt, probe);
      if (id.ok()) {
        auto [it, fresh] = seen_ids.emplace(tenant, id.value);
        RC_ASSERT(it->second == id.value);
      } else {
        // A tenant whose keys were handed out never silently loses them.
        RC_ASSERT(!seen_ids.count(tenant) || id.error == key_error::tenant_shredded);
      }
      const auto epochs = core->epochs(tt);
      if (!epochs.ok()) continue;
      for (key_epoch e : epochs.value) {
        auto k = core->chunk_key(tt, e, probe_id, rs_4_2);
        RC_ASSERT(k.ok());
        auto [it, fresh] = seen_keys.emplace(std::make_pair(tenant, e.value), std::move(k.value));
        if (!fresh) RC_ASSERT(it->second == core->chunk_key(tt, e, probe_id, rs_4_2).value);
      }
    }
    // No stored record holds a handed-out key's bytes (K1): checked through
    // the tenant keys themselves.
    for (const auto& [id, wrapped] : store.map()) {
      if (id.purpose == key_purpose::shred_mark) continue;
      const auto key = id.purpose == key_purpose::dedup ? core->dedup_key(id.tenant)
                                                        : core->data_key(id.tenant, id.epoch);
      if (key.ok()) RC_ASSERT(!contains(wrapped, key.value.bytes()));
    }
  }
  RC_CLASSIFY(restarts > 0, "restarted");
  RC_CLASSIFY(!durably_shredded.empty(), "durable shred");
  RC_CLASSIFY(seen_keys.size() > seen_ids.size(), "rotated");
}

}  // namespace
}  // namespace cairn::keys
