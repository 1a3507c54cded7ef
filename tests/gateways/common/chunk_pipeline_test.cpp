// tests/gateways/common/chunk_pipeline_test.cpp — the gateway's chunk
// pipeline (gateways/common/chunk_pipeline.h) over a node's real chunk
// service: six device actors on files, the key manager on its LMDB store.
// Chunks of every size round-trip (CP2, CP3); reads survive missing and
// corrupt shards and up to m lost devices (parity), find shards repair
// moved, and refuse when fewer than k remain.
#include "gateways/common/chunk_pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>

#include "actors/chunk/device_actor.h"
#include "runtime/chunk_service.h"

namespace cairn::gateway {
namespace {

class ChunkPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::filesystem::path(tmp ? tmp : "/var/tmp") /
           ("cairn-pipeline-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    runtime::chunk_service_options o;
    o.data_dir = dir_.string();
    o.node_id = 1;
    o.device_mb = 96;
    o.dev_devices = 6;
    service_ = std::make_unique<runtime::chunk_service>(sys_, o, events_);
    service_->start();
    self_
        ->request(service_->key_manager(), caf::infinite, keys::tenant_create_atom::value,
                  std::uint64_t{5})
        .receive([](std::uint8_t e) { ASSERT_EQ(e, 0); }, [](caf::error&) { FAIL(); });
    self_
        ->request(service_->key_manager(), caf::infinite, keys::grant_atom::value, std::uint64_t{5},
                  std::uint64_t{0})
        .receive(
            [&](std::uint8_t e, keys::key_grant_ptr g) {
              ASSERT_EQ(e, 0);
              grant_ = g;
            },
            [](caf::error&) { FAIL(); });
    refresh();
  }
  void TearDown() override {
    service_->stop();
    service_.reset();
    std::filesystem::remove_all(dir_);
  }
  /// The directory as the chunk service sees it, minus `lost` devices.
  void refresh(std::set<std::size_t> lost = {}) {
    auto d = std::make_shared<device_directory>();
    std::size_t i = 0;
    for (auto& [device, actor] : service_->device_endpoints())
      d->devices.push_back({device, lost.count(i++) ? caf::actor{} : actor});
    directory_ = d;
    pipeline_ = std::make_unique<chunk_pipeline>(directory_, pipeline_options{});
  }
  std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(rng_());
    return out;
  }
  shard::chunk_ref write(const std::vector<std::uint8_t>& data) {
    auto r = pipeline_->write(self_.ptr(), *grant_, data, 0);
    EXPECT_TRUE(std::holds_alternative<shard::chunk_ref>(r))
        << to_string(std::get<pipeline_error>(r).what) << ": "
        << std::get<pipeline_error>(r).detail;
    return std::get<shard::chunk_ref>(r);
  }
  std::optional<std::vector<std::uint8_t>> read(const shard::chunk_ref& ref) {
    auto r = pipeline_->read(self_.ptr(), *grant_, ref);
    if (auto* bytes = std::get_if<std::vector<std::uint8_t>>(&r)) return std::move(*bytes);
    return std::nullopt;
  }
  /// Where shard `index` of `ref` was written: its device actor.
  caf::actor device_of(const shard::chunk_ref& ref, std::uint32_t index) {
    return directory_->find(placement::device_id{ref.devices.at(index)})->actor;
  }
  std::string shard_key_of(const shard::chunk_ref& ref, std::uint32_t index) {
    return chunk::encode_shard_key({ref.id, ref.scheme, index});
  }

  std::filesystem::path dir_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
  runtime::event_log events_{""};
  std::unique_ptr<runtime::chunk_service> service_;
  keys::key_grant_ptr grant_;
  std::shared_ptr<device_directory> directory_;
  std::unique_ptr<chunk_pipeline> pipeline_;
  std::mt19937_64 rng_{42};
};

TEST_F(ChunkPipeline, ChunksOfEverySizeRoundTrip) {
  for (const std::size_t size :
       {std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{100'000},
        std::size_t{4} << 20, (std::size_t{6} << 20) + 3}) {
    const auto data = random_bytes(size);
    const auto ref = write(data);
    EXPECT_EQ(ref.length, size);
    EXPECT_EQ(std::set<std::uint64_t>(ref.devices.begin(), ref.devices.end()).size(), 6u)
        << "six shards on six distinct devices (CP2)";
    const auto back = read(ref);
    ASSERT_TRUE(back) << size;
    EXPECT_EQ(*back, data) << size;
  }
  EXPECT_EQ(pipeline_->stats().degraded, 0u) << "no parity read when every data shard is there";
  const auto data = random_bytes(1000);
  EXPECT_EQ(write(data).id, write(data).id) << "the same plaintext, the same chunk id (dedup)";
}

TEST_F(ChunkPipeline, ReadsUseParityForMissingShardsAndUpToMLostDevices) {
  const auto data = random_bytes(3 << 20);
  const auto ref = write(data);
  // A data shard deleted on its device: parity fills in.
  self_->request(device_of(ref, 1), caf::infinite, chunk::delete_atom::value, shard_key_of(ref, 1))
      .receive([](std::uint8_t s) { EXPECT_EQ(s, 0); }, [](caf::error&) { FAIL(); });
  auto back = read(ref);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
  EXPECT_EQ(pipeline_->stats().degraded, 1u);
  // Two more devices gone from the directory: shard 1 deleted plus two lost
  // is three missing of six: k = 4 is not reachable.
  refresh({4, 5});
  const auto second = random_bytes(1 << 20);
  EXPECT_TRUE(
      std::holds_alternative<pipeline_error>(pipeline_->write(self_.ptr(), *grant_, second, 0)))
      << "a write needs every device of its stripe";
  refresh();
  const auto ref2 = write(second);
  refresh({0, 3});  // any two devices: within m = 2
  back = read(ref2);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, second);
  refresh({0, 3, 5});
  const auto refused = pipeline_->read(self_.ptr(), *grant_, ref2);
  ASSERT_TRUE(std::holds_alternative<pipeline_error>(refused));
  EXPECT_EQ(std::get<pipeline_error>(refused).what, pipeline_error::kind::unreadable);
}

TEST_F(ChunkPipeline, AShardMovedByRepairIsFoundOnAnotherDevice) {
  const auto data = random_bytes(500'000);
  const auto ref = write(data);
  // Move data shards 0 and 2 elsewhere, as a repair onto other devices would
  // (same bytes, another device), and drop the originals.
  for (const std::uint32_t index : {0u, 2u}) {
    std::string bytes;
    self_
        ->request(device_of(ref, index), caf::infinite, chunk::get_atom::value,
                  shard_key_of(ref, index))
        .receive(
            [&](std::uint8_t s, std::string& b, std::uint64_t) {
              ASSERT_EQ(s, 0);
              bytes = std::move(b);
            },
            [](caf::error&) { FAIL(); });
    caf::actor target;
    for (const auto& d : directory_->devices) {
      bool used = false;
      for (std::uint32_t i = 0; i < 6; ++i) used |= device_of(ref, i) == d.actor;
      if (!used) target = d.actor;
    }
    if (!target) target = device_of(ref, (index + 3) % 6);  // six devices, six shards: reuse one
    self_
        ->request(target, caf::infinite, chunk::put_atom::value, shard_key_of(ref, index),
                  ref.key_epoch, bytes)
        .receive([](std::uint8_t s) { EXPECT_EQ(s, 0); }, [](caf::error&) { FAIL(); });
    self_
        ->request(device_of(ref, index), caf::infinite, chunk::delete_atom::value,
                  shard_key_of(ref, index))
        .receive([](std::uint8_t) {}, [](caf::error&) {});
  }
  // Parity alone could cover two missing shards; lose the device of parity
  // shard 4 too, so the moved shards must be found (the reference still
  // names their old devices).
  const auto parity_device = device_of(ref, 4);
  std::size_t position = 0;
  while (directory_->devices[position].actor != parity_device) ++position;
  refresh({position});
  const auto back = read(ref);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
  EXPECT_EQ(pipeline_->stats().searched, 1u);
}

TEST_F(ChunkPipeline, InlineObjectsAreSealedLikeChunksAndRefuseTampering) {
  const std::string text = "a small object, plaintext that must not reach the Raft log";
  const std::vector<std::uint8_t> plain(text.begin(), text.end());
  const auto stored = seal_inline(*grant_, plain);
  EXPECT_EQ(std::string(stored.begin(), stored.end()).find("plaintext"), std::string::npos);
  EXPECT_EQ(inline_epoch(stored), grant_->epoch.value);
  const auto back = open_inline(*grant_, stored);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, plain);
  EXPECT_TRUE(open_inline(*grant_, seal_inline(*grant_, {})).has_value()) << "empty objects too";
  for (std::size_t at : {std::size_t{0}, std::size_t{35}, std::size_t{40}, stored.size() - 1}) {
    auto damaged = stored;
    damaged[at] ^= 0x01;
    EXPECT_FALSE(open_inline(*grant_, damaged)) << "byte " << at;
  }
  EXPECT_FALSE(open_inline(*grant_, std::span<const std::uint8_t>(stored).first(20)));
  // Another tenant's keys do not open it.
  self_
      ->request(service_->key_manager(), caf::infinite, keys::tenant_create_atom::value,
                std::uint64_t{6})
      .receive([](std::uint8_t e) { ASSERT_EQ(e, 0); }, [](caf::error&) { FAIL(); });
  keys::key_grant_ptr other;
  self_
      ->request(service_->key_manager(), caf::infinite, keys::grant_atom::value, std::uint64_t{6},
                std::uint64_t{0})
      .receive([&](std::uint8_t, keys::key_grant_ptr g) { other = g; },
               [](caf::error&) { FAIL(); });
  ASSERT_TRUE(other);
  EXPECT_FALSE(open_inline(*other, stored));
}

}  // namespace
}  // namespace cairn::gateway
