// tests/runtime/chunk_service_test.cpp — the node's chunk service
// (runtime/chunk_service.h) on real device files: a shard corrupted on
// disk is refused, written to the event log, counted in /metrics and
// rebuilt by the repair pass it starts (CS2); a device file that cannot be
// opened is reported and the other devices serve on (CS1); the master key
// is created once and reused.
#include "runtime/chunk_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "actors/chunk/device_actor.h"
#include "actors/chunk/erasure_code.h"

namespace cairn::runtime {
namespace {

class ChunkService : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::filesystem::path(tmp ? tmp : "/var/tmp") /
           ("cairn-chunk-service-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  chunk_service_options options() const {
    chunk_service_options o;
    o.data_dir = dir_.string();
    o.node_id = 3;
    o.device_mb = 32;
    o.dev_devices = 6;
    return o;
  }
  std::uint64_t count(const event_log& log, const std::string& kind) {
    const auto c = log.counts();
    const auto it = c.find(kind);
    return it == c.end() ? 0 : it->second;
  }
  std::filesystem::path dir_;
};

TEST_F(ChunkService, ACorruptShardIsLoggedCountedAndRepairedInPlace) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  event_log log((dir_ / "events.log").string());
  chunk_service service(sys, options(), log);
  service.start();
  EXPECT_EQ(count(log, "master_key_created"), 1u);
  EXPECT_EQ(count(log, "device_opened"), 6u);
  const auto devices = service.devices();
  ASSERT_EQ(devices.size(), 6u);

  // One RS 4+2 stripe of raw shards, shard i on device i.
  const chunk::erasure_coder coder(
      *chunk::scheme_by_id(static_cast<std::uint32_t>(chunk::scheme_id::rs_4_2)));
  std::vector<std::uint8_t> data(40'000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  const auto shard_bytes = coder.shard_bytes(data.size());
  std::vector<std::vector<std::uint8_t>> shards(6, std::vector<std::uint8_t>(shard_bytes));
  std::vector<std::span<std::uint8_t>> spans(shards.begin(), shards.end());
  coder.encode(data, spans);
  chunk::shard_key key;
  key.chunk.fill(0x42);
  key.scheme = static_cast<std::uint32_t>(chunk::scheme_id::rs_4_2);
  auto key_of = [&](std::uint32_t i) {
    auto k = key;
    k.index = i;
    return chunk::encode_shard_key(k);
  };
  for (std::uint32_t i = 0; i < 6; ++i)
    self->request(devices[i].second, caf::infinite, chunk::put_atom::value, key_of(i),
                  std::uint64_t{1}, std::string(shards[i].begin(), shards[i].end()))
        .receive([](std::uint8_t s) { EXPECT_EQ(s, 0); }, [](caf::error&) { FAIL(); });

  // Flip a byte of shard 2's payload in its device file, behind the actor.
  const auto path = dir_ / "devices" / "dev2";
  std::string file(std::filesystem::file_size(path), '\0');
  std::ifstream(path, std::ios::binary)
      .read(file.data(), static_cast<std::streamsize>(file.size()));
  const std::string needle(shards[2].begin(), shards[2].begin() + 64);
  const auto at = file.find(needle);
  ASSERT_NE(at, std::string::npos);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at + 10));
    f.put(static_cast<char>(file[at + 10] ^ 0x20));
  }
  self->request(devices[2].second, caf::infinite, chunk::get_atom::value, key_of(2))
      .receive(
          [](std::uint8_t s, const std::string&, std::uint64_t) {
            EXPECT_EQ(s, static_cast<std::uint8_t>(chunk::device_status::corrupt));
          },
          [](caf::error&) { FAIL(); });
  EXPECT_EQ(count(log, "corrupt_shard"), 1u);
  EXPECT_NE(service.metrics_text().find("cairn_device_corrupt_reads_total{device=\"" +
                                        std::to_string(devices[2].first) + "\"} 1"),
            std::string::npos);

  // The corrupt shard started a pass: it rebuilds shard 2 in place.
  for (int i = 0; i < 2000 && count(log, "repair_pass_finished") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto repair = service.repair_json();
  EXPECT_EQ(repair["shards_rebuilt"], 1) << repair.dump();
  self->request(devices[2].second, caf::infinite, chunk::get_atom::value, key_of(2))
      .receive(
          [&](std::uint8_t s, const std::string& bytes, std::uint64_t) {
            EXPECT_EQ(s, 0);
            EXPECT_EQ(bytes, std::string(shards[2].begin(), shards[2].end()));
          },
          [](caf::error&) { FAIL(); });
  EXPECT_NE(service.metrics_text().find("cairn_repair_shards_rebuilt_total 1"), std::string::npos);
  // The event log file has every event as a JSON line.
  service.stop();
  std::ifstream events(dir_ / "events.log");
  std::string line;
  std::uint64_t lines = 0;
  while (std::getline(events, line)) {
    EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
    ++lines;
  }
  EXPECT_EQ(lines, log.last_seq());
}

TEST_F(ChunkService, AnUnopenableDeviceIsReportedAndTheOthersServe) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  {
    event_log log("");
    chunk_service service(sys, options(), log);
    service.start();
    service.stop();
  }
  // Damage both superblocks of device 4 (first and last 4 KiB).
  const auto path = dir_ / "devices" / "dev4";
  const auto size = std::filesystem::file_size(path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const std::string junk(4096, 'x');
    f.seekp(0);
    f.write(junk.data(), 4096);
    f.seekp(static_cast<std::streamoff>(size - 4096));
    f.write(junk.data(), 4096);
  }
  event_log log("");
  chunk_service service(sys, options(), log);
  service.start();
  EXPECT_EQ(count(log, "device_open_failed"), 1u);
  EXPECT_EQ(count(log, "master_key_created"), 0u) << "the master key must be reused";
  EXPECT_EQ(service.devices().size(), 5u);
  const auto j = service.devices_json();
  ASSERT_EQ(j["devices"].size(), 6u);
  EXPECT_EQ(j["devices"][4]["state"], "failed");
  EXPECT_TRUE(j["devices"][4].contains("error"));
  EXPECT_NE(service.metrics_text().find("cairn_device_up{device=\"" +
                                        std::to_string((std::uint64_t{3} << 16) | 4) + "\"} 0"),
            std::string::npos);
  service.stop();
}

}  // namespace
}  // namespace cairn::runtime
