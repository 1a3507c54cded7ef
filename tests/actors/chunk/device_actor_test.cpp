// tests/actors/chunk/device_actor_test.cpp — the chunk device actor in a
// real CAF actor system over the simulated device: concurrent puts share
// batches (one sync each), reads return the bytes and the epoch, deletes go
// to the recycle bin, bad keys are refused, and the store is closed cleanly
// (L0) when the actor exits.
#include "actors/chunk/device_actor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "sim/sim_block_device.h"

namespace cairn::chunk {
namespace {

shard_key key_of(std::uint64_t n) {
  shard_key k;
  for (int i = 0; i < 8; ++i) k.chunk[i] = static_cast<std::uint8_t>(n >> (8 * i));
  k.scheme = 0x0402;
  k.index = 1;
  return k;
}

std::string payload_of(std::uint64_t n) {
  return std::string(5000 + n, static_cast<char>('a' + n % 26));
}

TEST(DeviceActor, ConcurrentPutsShareBatchesAndReadBack) {
  sim::sim_block_device device(16 << 20, 1);
  memory_chunk_index index;
  format_options format;
  format.segment_bytes = 1 << 20;
  auto opened = device_store::open(device, index, {}, format);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<device_store>>(opened));
  std::shared_ptr<device_store> store = std::move(std::get<std::unique_ptr<device_store>>(opened));
  std::uint64_t now_ms = 1000;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    caf::actor_system sys{cfg};
    device_actor_options options;
    options.clock = [&now_ms] { return now_ms; };
    auto actor = sys.spawn<caf::detached>(device_actor, store, options);
    caf::scoped_actor self{sys};
    constexpr std::uint64_t puts = 200;
    for (std::uint64_t n = 0; n < puts; ++n)
      self->send(actor, put_atom::value, encode_shard_key(key_of(n)), std::uint64_t{3},
                 payload_of(n));
    std::uint64_t ok = 0;
    self->receive_for(ok, puts)([&](std::uint8_t status) {
      EXPECT_EQ(status, static_cast<std::uint8_t>(device_status::ok));
    });
    for (std::uint64_t n = 0; n < puts; n += 37) {
      self->request(actor, caf::infinite, get_atom::value, encode_shard_key(key_of(n)))
          .receive(
              [&](std::uint8_t status, const std::string& bytes, std::uint64_t epoch) {
                EXPECT_EQ(status, static_cast<std::uint8_t>(device_status::ok));
                EXPECT_EQ(bytes, payload_of(n));
                EXPECT_EQ(epoch, 3u);
              },
              [&](caf::error& e) { FAIL() << sys.render(e); });
    }
    self->request(actor, caf::infinite, delete_atom::value, encode_shard_key(key_of(5)))
        .receive(
            [&](std::uint8_t s) { EXPECT_EQ(s, static_cast<std::uint8_t>(device_status::ok)); },
            [&](caf::error& e) { FAIL() << sys.render(e); });
    self->request(actor, caf::infinite, get_atom::value, encode_shard_key(key_of(5)))
        .receive(
            [&](std::uint8_t s, const std::string&, std::uint64_t) {
              EXPECT_EQ(s, static_cast<std::uint8_t>(device_status::not_found));
            },
            [&](caf::error& e) { FAIL() << sys.render(e); });
    self->request(actor, caf::infinite, get_atom::value, std::string("short key"))
        .receive(
            [&](std::uint8_t s, const std::string&, std::uint64_t) {
              EXPECT_EQ(s, static_cast<std::uint8_t>(device_status::invalid));
            },
            [&](caf::error& e) { FAIL() << sys.render(e); });
    self->request(actor, caf::infinite, describe_atom::value)
        .receive(
            [&](const std::string& json) {
              const auto j = nlohmann::json::parse(json);
              EXPECT_EQ(j["counters"]["appends"], puts);
              EXPECT_LT(j["counters"]["append_batches"].get<std::uint64_t>(), puts)
                  << "puts already in the mailbox must share a batch";
              EXPECT_EQ(j["counters"]["deletes"], 1);
            },
            [&](caf::error& e) { FAIL() << sys.render(e); });
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }
  // The actor closed the store on exit: the next open is L0 clean.
  store.reset();
  auto reopened = device_store::open(device, index, {}, std::nullopt);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<device_store>>(reopened));
  EXPECT_EQ(std::get<std::unique_ptr<device_store>>(reopened)->recovery().how,
            recovery_report::level::clean);
}

/// Collects what a device actor reports (thread-safe).
struct recording_observer final : device_observer {
  void on_event(const device_event& e) override {
    std::lock_guard lock(mutex);
    events.push_back(e);
  }
  void on_stats(const device_stats& s) override {
    std::lock_guard lock(mutex);
    last = s;
    ++stats_reports;
  }
  std::size_t count(device_event::kind k) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [k](const auto& e) { return e.what == k; }));
  }
  std::mutex mutex;
  std::vector<device_event> events;
  device_stats last;
  std::uint64_t stats_reports = 0;
};

TEST(DeviceActor, ObserverHearsCorruptionCapacityAndFailureOnce) {
  sim::sim_block_device device(8 << 20, 1);
  memory_chunk_index index;
  format_options format;
  format.segment_bytes = 1 << 20;
  format.device_id = 42;
  auto opened = device_store::open(device, index, {}, format);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<device_store>>(opened));
  std::shared_ptr<device_store> store = std::move(std::get<std::unique_ptr<device_store>>(opened));
  auto observer = std::make_shared<recording_observer>();
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  device_actor_options options;
  options.observer = observer;
  auto actor = sys.spawn<caf::detached>(device_actor, store, options);
  auto put = [&](std::uint64_t n) {
    std::uint8_t out = 255;
    self->request(actor, caf::infinite, put_atom::value, encode_shard_key(key_of(n)),
                  std::uint64_t{1}, std::string(200'000, static_cast<char>(n)))
        .receive([&](std::uint8_t s) { out = s; }, [&](caf::error& e) { FAIL() << sys.render(e); });
    return static_cast<device_status>(out);
  };
  auto get = [&](std::uint64_t n) {
    std::uint8_t out = 255;
    self->request(actor, caf::infinite, get_atom::value, encode_shard_key(key_of(n)))
        .receive([&](std::uint8_t s, const std::string&, std::uint64_t) { out = s; },
                 [&](caf::error& e) { FAIL() << sys.render(e); });
    return static_cast<device_status>(out);
  };
  ASSERT_EQ(put(1), device_status::ok);
  // A flipped bit in the payload: the read is refused and reported once per read.
  const auto entry = index.get(key_of(1));
  ASSERT_TRUE(entry);
  device.flip_bit(entry->data_offset + record_header_bytes + 1000, 3);
  EXPECT_EQ(get(1), device_status::corrupt);
  ASSERT_EQ(observer->count(device_event::kind::corrupt_shard), 1u);
  {
    std::lock_guard lock(observer->mutex);
    EXPECT_EQ(observer->events[0].device_id, 42u);
    EXPECT_EQ(observer->events[0].key, key_of(1));
    EXPECT_EQ(observer->last.counters.corrupt_reads, 1u);
  }
  // Fill the device: one warning, one refusal event however many refusals.
  std::uint64_t n = 2, refused = 0;
  for (; n < 200 && refused < 5; ++n)
    if (put(n) == device_status::device_full) ++refused;
  EXPECT_EQ(refused, 5u);
  EXPECT_EQ(observer->count(device_event::kind::capacity_warning), 1u);
  EXPECT_EQ(observer->count(device_event::kind::capacity_refused), 1u);
  {
    std::lock_guard lock(observer->mutex);
    EXPECT_TRUE(observer->last.above_warn_threshold);
    EXPECT_EQ(observer->last.counters.refused_full, 5u);
  }
  // A failed sync stops the device: reported once.
  device.fail_next_sync();
  self->request(actor, caf::infinite, delete_atom::value, encode_shard_key(key_of(3)))
      .receive(
          [](std::uint8_t s) { EXPECT_EQ(s, static_cast<std::uint8_t>(device_status::io_error)); },
          [&](caf::error& e) { FAIL() << sys.render(e); });
  EXPECT_EQ(get(4), device_status::io_error);
  EXPECT_EQ(observer->count(device_event::kind::device_failed), 1u);
  {
    std::lock_guard lock(observer->mutex);
    EXPECT_TRUE(observer->last.failed);
  }
  self->send_exit(actor, caf::exit_reason::user_shutdown);
}

TEST(DeviceActor, ShardKeysRoundTripThroughTheirEncoding) {
  auto k = key_of(0x0102030405060708ull);
  k.scheme = 0x1d03;
  k.index = 31;
  EXPECT_EQ(decode_shard_key(encode_shard_key(k)), k);
  EXPECT_FALSE(decode_shard_key(std::string(39, 'x')));
}

}  // namespace
}  // namespace cairn::chunk
