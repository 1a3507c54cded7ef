// tests/actors/keys/key_manager_actor_test.cpp — the key manager actor
// (actors/keys/key_manager_actor.h) with a memory store: durability before
// replies (KA1), fail-stop on a store failure (KA2), grants and their
// revocation on shred, restart from the same records, and a master key
// that does not match the records.
#include "actors/keys/key_manager_actor.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "actors/keys/internal_key_provider.h"

namespace cairn::keys {
namespace {

/// Forwards to a memory store the test keeps across actor restarts.
class shared_store final : public key_store {
 public:
  explicit shared_store(memory_key_store& target) : target_(target) {}
  std::vector<key_record> load_all() override { return target_.load_all(); }
  void apply(const key_ready& ready) override { target_.apply(ready); }

 private:
  memory_key_store& target_;
};

secret_bytes master_of(std::uint8_t fill) {
  std::vector<std::uint8_t> k(internal_key_provider::master_key_bytes, fill);
  return secret_bytes::copy_of(k);
}

/// Takes keys of tenant 3 and records the tenant of a revocation. (Spawned
/// with arguments: CAF 0.17 dereferences a null argument tuple for a
/// closure spawned without any, which UBSan reports.)
caf::behavior revocation_listener(caf::event_based_actor* self, caf::actor key_manager,
                                  std::shared_ptr<std::atomic<std::uint64_t>> revoked) {
  self->request(key_manager, caf::infinite, grant_atom::value, std::uint64_t{3}, std::uint64_t{0})
      .then([](std::uint8_t, key_grant_ptr) {});
  return {[revoked](key_revoked_atom, std::uint64_t tenant) { revoked->store(tenant); }};
}

class KeyManagerActor : public ::testing::Test {
 protected:
  std::shared_ptr<key_manager_parts> parts(std::uint8_t master_fill, std::uint64_t seed) {
    auto p = std::make_shared<key_manager_parts>();
    p->store = std::make_unique<shared_store>(records_);
    p->random = std::make_unique<deterministic_random_source>(seed);
    p->provider = std::make_unique<internal_key_provider>(master_of(master_fill), *p->random);
    return p;
  }
  caf::actor spawn(std::uint8_t master_fill = 1, std::uint64_t seed = 1) {
    auto p = parts(master_fill, seed);
    load_key_manager(*p);
    return sys_.spawn<caf::detached>(key_manager_actor, p);
  }
  std::uint8_t call(const caf::actor& a, caf::message m) {
    std::uint8_t out = 255;
    self_->request(a, caf::infinite, std::move(m))
        .receive([&](std::uint8_t e) { out = e; },
                 [&](caf::error& e) { ADD_FAILURE() << sys_.render(e); });
    return out;
  }
  std::pair<std::uint8_t, key_grant_ptr> grant(const caf::actor& a, std::uint64_t tenant,
                                               std::uint64_t epoch = 0) {
    std::pair<std::uint8_t, key_grant_ptr> out{255, nullptr};
    self_->request(a, caf::infinite, grant_atom::value, tenant, epoch)
        .receive(
            [&](std::uint8_t e, key_grant_ptr g) {
              out = {e, std::move(g)};
            },
            [&](caf::error& e) { ADD_FAILURE() << sys_.render(e); });
    return out;
  }
  void stop(caf::actor& a) {
    self_->send_exit(a, caf::exit_reason::user_shutdown);
    self_->wait_for(a);
    a = caf::actor{};
  }
  static std::uint8_t ok() { return static_cast<std::uint8_t>(key_error::none); }

  memory_key_store records_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
};

TEST_F(KeyManagerActor, CreateGrantRotateAndRestartKeepTheSameKeys) {
  auto a = spawn();
  ASSERT_EQ(call(a, caf::make_message(tenant_create_atom::value, std::uint64_t{7})), ok());
  EXPECT_EQ(records_.size(), 2u) << "dedup key and epoch 1, durable before the reply (KA1)";
  EXPECT_EQ(call(a, caf::make_message(tenant_create_atom::value, std::uint64_t{7})),
            static_cast<std::uint8_t>(key_error::tenant_exists));
  auto [e1, g1] = grant(a, 7);
  ASSERT_EQ(e1, ok());
  ASSERT_TRUE(g1);
  EXPECT_EQ(g1->epoch, first_epoch);
  EXPECT_EQ(g1->dedup_key.size(), 32u);

  std::uint64_t rotated = 0;
  self_->request(a, caf::infinite, rotate_atom::value, std::uint64_t{7})
      .receive(
          [&](std::uint8_t e, std::uint64_t epoch) {
            EXPECT_EQ(e, ok());
            rotated = epoch;
          },
          [&](caf::error& e) { FAIL() << sys_.render(e); });
  EXPECT_EQ(rotated, 2u);
  auto [e2, g2] = grant(a, 7);
  ASSERT_EQ(e2, ok());
  EXPECT_EQ(g2->epoch, key_epoch{2});
  EXPECT_FALSE(g2->data_key == g1->data_key);
  EXPECT_TRUE(g2->dedup_key == g1->dedup_key) << "the dedup key never rotates";
  auto [e3, old] = grant(a, 7, 1);
  ASSERT_EQ(e3, ok());
  EXPECT_TRUE(old->data_key == g1->data_key) << "older epochs stay readable";
  EXPECT_EQ(grant(a, 8).first, static_cast<std::uint8_t>(key_error::unknown_tenant));
  EXPECT_EQ(grant(a, 7, 9).first, static_cast<std::uint8_t>(key_error::unknown_epoch));

  // The description names tenants and epochs, never key bytes (KA3).
  std::string described;
  self_->request(a, caf::infinite, key_describe_atom::value)
      .receive([&](const std::string& j) { described = j; }, [&](caf::error&) { FAIL(); });
  const auto j = nlohmann::json::parse(described);
  EXPECT_EQ(j["tenants"][0]["tenant"], 7);
  EXPECT_EQ(j["tenants"][0]["state"], "active");
  EXPECT_EQ(j["tenants"][0]["current_epoch"], 2);
  EXPECT_EQ(j["tenants"][0]["holders"], 1);
  EXPECT_EQ(j["counters"]["grants"], 3);

  // Restart on the same records and master key: the same keys.
  stop(a);
  a = spawn(/*master_fill=*/1, /*seed=*/99);
  auto [e4, again] = grant(a, 7);
  ASSERT_EQ(e4, ok());
  EXPECT_EQ(again->epoch, key_epoch{2});
  EXPECT_TRUE(again->data_key == g2->data_key);
  EXPECT_TRUE(again->dedup_key == g1->dedup_key);
  stop(a);
}

TEST_F(KeyManagerActor, ShredRevokesEveryGrantAndSurvivesRestart) {
  auto a = spawn();
  ASSERT_EQ(call(a, caf::make_message(tenant_create_atom::value, std::uint64_t{3})), ok());
  ASSERT_EQ(call(a, caf::make_message(tenant_create_atom::value, std::uint64_t{4})), ok());
  // A holder actor takes keys of tenant 3 and reports the revocation.
  auto revoked = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto holder = sys_.spawn(revocation_listener, a, revoked);
  // Wait until the holder's grant is in (describe counts holders).
  for (int i = 0; i < 500; ++i) {
    std::uint64_t holders = 0;
    self_->request(a, caf::infinite, key_describe_atom::value)
        .receive(
            [&](const std::string& j) {
              holders = nlohmann::json::parse(j)["tenants"][0]["holders"];
            },
            [&](caf::error&) {});
    if (holders == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(call(a, caf::make_message(shred_atom::value, std::uint64_t{3})), ok());
  for (int i = 0; i < 500 && revoked->load() != 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(revoked->load(), 3u) << "the holder was not told to drop tenant 3's keys";
  EXPECT_EQ(grant(a, 3).first, static_cast<std::uint8_t>(key_error::tenant_shredded));
  EXPECT_EQ(call(a, caf::make_message(shred_atom::value, std::uint64_t{3})),
            static_cast<std::uint8_t>(key_error::tenant_shredded));
  EXPECT_EQ(grant(a, 4).first, ok()) << "other tenants are untouched";
  // Of tenant 3 only the shred mark is left on disk.
  for (const auto& [id, wrapped] : records_.records())
    if (id.tenant == tenant_id{3}) {
      EXPECT_EQ(id.purpose, key_purpose::shred_mark);
    }
  stop(a);
  a = spawn();
  EXPECT_EQ(grant(a, 3).first, static_cast<std::uint8_t>(key_error::tenant_shredded));
  EXPECT_EQ(grant(a, 4).first, ok());
  self_->send_exit(holder, caf::exit_reason::user_shutdown);
  stop(a);
}

TEST_F(KeyManagerActor, AStoreFailureStopsTheActorWithoutAnOk) {
  auto a = spawn();
  self_->monitor(a);
  records_.fail_next_apply = true;
  std::uint8_t reply = 255;
  self_->request(a, caf::infinite, tenant_create_atom::value, std::uint64_t{5})
      .receive([&](std::uint8_t e) { reply = e; }, [&](caf::error&) { reply = 254; });
  EXPECT_NE(reply, ok()) << "a change that was not persisted was acknowledged (KA2)";
  caf::error reason;
  self_->receive([&](caf::down_msg& d) { reason = d.reason; });
  EXPECT_EQ(reason, make_key_store_failed("memory_key_store: injected failure"));
  EXPECT_EQ(records_.size(), 0u);
}

TEST_F(KeyManagerActor, RecordsUnderAnotherMasterKeyRefuseToLoad) {
  auto a = spawn(/*master_fill=*/1);
  ASSERT_EQ(call(a, caf::make_message(tenant_create_atom::value, std::uint64_t{11})), ok());
  stop(a);
  auto wrong = parts(/*master_fill=*/2, 1);
  try {
    load_key_manager(*wrong);
    FAIL() << "records wrapped under another master key were loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("master key"), std::string::npos) << e.what();
  }
}

// ADR 0006 / KA4: two nodes' key managers over one shared store (the
// system shard in a cluster) under one cluster key. What one creates or
// rotates, the other finds on its first request, by reloading.
TEST_F(KeyManagerActor, SharedStoreKeyManagersReloadOnAMiss) {
  auto shared = [&](std::uint64_t seed) {
    auto p = parts(/*master_fill=*/1, seed);
    p->reload_on_miss = true;
    load_key_manager(*p);
    return sys_.spawn<caf::detached>(key_manager_actor, p);
  };
  auto node1 = shared(1);
  auto node2 = shared(2);
  ASSERT_EQ(call(node1, caf::make_message(tenant_create_atom::value, std::uint64_t{21})), ok());
  auto [e1, g1] = grant(node1, 21);
  auto [e2, g2] = grant(node2, 21);  // unknown to node 2's core until it reloads
  ASSERT_EQ(e1, ok());
  ASSERT_EQ(e2, ok());
  EXPECT_TRUE(g1->dedup_key == g2->dedup_key) << "chunk ids would differ between nodes";
  EXPECT_TRUE(g1->data_key == g2->data_key);

  // A rotation on node 2 builds on node 1's records and is seen by node 1.
  std::uint64_t epoch = 0;
  self_->request(node2, caf::infinite, rotate_atom::value, std::uint64_t{21})
      .receive(
          [&](std::uint8_t e, std::uint64_t got) {
            EXPECT_EQ(e, ok());
            epoch = got;
          },
          [&](caf::error& e) { ADD_FAILURE() << sys_.render(e); });
  ASSERT_EQ(epoch, 2u);
  auto [e3, g3] = grant(node1, 21, epoch);
  ASSERT_EQ(e3, ok());
  EXPECT_EQ(g3->epoch.value, 2u);

  // A tenant nobody created stays unknown (after the reload attempts).
  EXPECT_EQ(grant(node2, 99).first, static_cast<std::uint8_t>(key_error::unknown_tenant));
  stop(node1);
  stop(node2);
}

}  // namespace
}  // namespace cairn::keys
