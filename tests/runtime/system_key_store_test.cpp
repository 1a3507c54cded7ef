// tests/runtime/system_key_store_test.cpp — the key manager over the system
// shard (runtime/system_key_store.h, ADR 0006): tenant keys live as
// `key/...` entries of a real shard actor (a Raft group of one on a
// simulated disk), survive a restart of the key manager, and a shred
// removes every record of the tenant in one batch.
#include "runtime/system_key_store.h"

#include <gtest/gtest.h>

#include "actors/keys/internal_key_provider.h"
#include "actors/keys/key_manager_actor.h"
#include "actors/shard/shard_actor.h"
#include "sim/sim_disk.h"

namespace cairn::runtime {
namespace {

struct no_network final : shard::network {
  void send(raft::node_id, raft::bytes) override {}
};
struct counter_random final : shard::random_source {
  std::uint64_t next() override { return ++n * 0x9e3779b97f4a7c15ull; }
  std::uint64_t n = 0;
};

class SystemKeyStore : public ::testing::Test {
 protected:
  void SetUp() override {
    shard::replica_options o;
    o.raft.id = raft::node_id{1};
    o.raft.election_timeout_ticks = 10;
    o.raft.heartbeat_interval_ticks = 2;
    shard::environment env;
    env.storage = &disk_;
    env.net = &net_;
    env.random = &random_;
    shard_ = sys_.spawn(shard::shard_actor, o, env);
    self_->send(shard_, shard::campaign_atom::value);
    for (int i = 0; i < 30; ++i) self_->send(shard_, shard::tick_atom::value);
    // Leader once a write goes through.
    for (int i = 0; i < 100; ++i) {
      std::uint8_t code = 255;
      self_
          ->request(shard_, caf::infinite, shard::put_atom::value, std::string("probe"),
                    std::string("1"))
          .receive([&](std::uint8_t c, const std::string&) { code = c; }, [](caf::error&) {});
      if (code == 0) break;
      self_->send(shard_, shard::tick_atom::value);
    }
  }
  void TearDown() override {
    if (!shard_) return;
    self_->send_exit(shard_, caf::exit_reason::user_shutdown);
    self_->wait_for(shard_);
  }
  caf::actor start_key_manager() {
    auto parts = std::make_shared<keys::key_manager_parts>();
    parts->random = std::make_unique<keys::deterministic_random_source>(++seed_);
    std::vector<std::uint8_t> master(32, 0x33);
    parts->provider = std::make_unique<keys::internal_key_provider>(
        keys::secret_bytes::copy_of(master), *parts->random);
    parts->store = std::make_unique<system_key_store>(sys_, shard_);
    keys::load_key_manager(*parts);
    return sys_.spawn<caf::detached>(keys::key_manager_actor, parts);
  }
  std::uint8_t call(const caf::actor& a, caf::message m) {
    std::uint8_t out = 255;
    self_->request(a, caf::infinite, std::move(m))
        .receive([&](std::uint8_t e) { out = e; },
                 [&](caf::error& e) { ADD_FAILURE() << sys_.render(e); });
    return out;
  }
  keys::key_grant_ptr grant(const caf::actor& a, std::uint64_t tenant,
                            std::uint8_t* error = nullptr) {
    keys::key_grant_ptr out;
    self_->request(a, caf::infinite, keys::grant_atom::value, tenant, std::uint64_t{0})
        .receive(
            [&](std::uint8_t e, keys::key_grant_ptr g) {
              if (error) *error = e;
              out = g;
            },
            [&](caf::error& e) { ADD_FAILURE() << sys_.render(e); });
    return out;
  }
  std::vector<std::string> scan(const std::string& prefix) {
    std::vector<std::string> out;
    self_->request(shard_, caf::infinite, shard::scan_atom::value, prefix, std::uint64_t{1000})
        .receive([&](std::vector<std::string>& kv) { out = std::move(kv); }, [](caf::error&) {});
    return out;
  }
  void stop(caf::actor& a) {
    self_->send_exit(a, caf::exit_reason::user_shutdown);
    self_->wait_for(a);
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
  sim::sim_disk disk_{raft::conf_state{{raft::node_id{1}}, {}, {}, {}, false}, 3};
  no_network net_;
  counter_random random_;
  caf::actor shard_;
  std::uint64_t seed_ = 0;
};

TEST_F(SystemKeyStore, TenantKeysLiveInTheSystemShardAndSurviveARestart) {
  auto km = start_key_manager();
  ASSERT_EQ(call(km, caf::make_message(keys::tenant_create_atom::value, std::uint64_t{4})), 0);
  ASSERT_EQ(call(km, caf::make_message(keys::tenant_create_atom::value, std::uint64_t{5})), 0);
  EXPECT_EQ(scan("key/").size(), 2u * 4u) << "dedup + epoch 1 for two tenants, key and value";
  const auto before = grant(km, 4);
  ASSERT_TRUE(before);
  stop(km);
  km = start_key_manager();  // another node's key manager would load the same
  const auto after = grant(km, 4);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->dedup_key == before->dedup_key);
  EXPECT_TRUE(after->data_key == before->data_key);

  ASSERT_EQ(call(km, caf::make_message(keys::shred_atom::value, std::uint64_t{4})), 0);
  const auto left =
      scan(system_key_of({keys::tenant_id{4}, keys::key_purpose::dedup, keys::no_epoch})
               .substr(0, 4 + 16));  // "key/" + the tenant's 8 bytes in hex
  ASSERT_EQ(left.size(), 2u) << "only the shred mark is left";
  EXPECT_EQ(left[0],
            system_key_of({keys::tenant_id{4}, keys::key_purpose::shred_mark, keys::no_epoch}));
  stop(km);
  km = start_key_manager();
  std::uint8_t error = 0;
  EXPECT_FALSE(grant(km, 4, &error));
  EXPECT_EQ(error, static_cast<std::uint8_t>(keys::key_error::tenant_shredded));
  EXPECT_TRUE(grant(km, 5));
  stop(km);
}

TEST_F(SystemKeyStore, ARefusedBatchStopsTheKeyManager) {
  auto km = start_key_manager();
  self_->monitor(km);
  // The system shard goes away: the batch cannot be applied (KA2).
  self_->send_exit(shard_, caf::exit_reason::user_shutdown);
  self_->wait_for(shard_);
  std::uint8_t reply = 255;
  self_->request(km, caf::infinite, keys::tenant_create_atom::value, std::uint64_t{9})
      .receive([&](std::uint8_t e) { reply = e; }, [&](caf::error&) { reply = 254; });
  EXPECT_NE(reply, 0);
  caf::error reason;
  self_->receive([&](caf::down_msg& d) { reason = d.reason; });
  EXPECT_EQ(reason.category(), caf::atom("keys"));
  shard_ = caf::actor{};
}

}  // namespace
}  // namespace cairn::runtime
