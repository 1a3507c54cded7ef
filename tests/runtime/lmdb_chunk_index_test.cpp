// tests/runtime/lmdb_chunk_index_test.cpp — the chunk device index in LMDB,
// and a chunk device core on a real file with it: a clean reopen trusts the
// index (L0), an unclean one (no close) rebuilds it from the records (L2).
#include "runtime/lmdb_chunk_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "actors/chunk/device_store.h"
#include "runtime/file_block_device.h"

namespace cairn::runtime {
namespace {

using chunk::index_entry;
using chunk::shard_key;

std::filesystem::path temp_dir(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  auto dir = std::filesystem::path(tmp ? tmp : "/var/tmp") /
             ("cairn-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

shard_key key_of(std::uint64_t n) {
  shard_key k;
  for (int i = 0; i < 8; ++i) k.chunk[31 - i] = static_cast<std::uint8_t>(n >> (8 * i));
  k.scheme = 0x0402;
  k.index = static_cast<std::uint32_t>(n % 6);
  return k;
}

index_entry entry_of(std::uint64_t n) {
  index_entry e;
  e.state = chunk::shard_state::live;
  e.data_offset = 4096 * (n + 1);
  e.payload_bytes = static_cast<std::uint32_t>(100 + n);
  e.data_sequence = n + 10;
  e.epoch = 2;
  e.state_sequence = n + 10;
  e.state_offset = e.data_offset;
  return e;
}

TEST(LmdbChunkIndex, PutGetScanEraseAndFlushSurviveReopen) {
  const auto dir = temp_dir("chunk-index");
  {
    lmdb_chunk_index index((dir / "index").string(), 64 << 20);
    for (std::uint64_t n = 0; n < 3000; ++n) index.put(key_of(n), entry_of(n));  // > 1 commit
    EXPECT_EQ(index.size(), 3000u);
    EXPECT_EQ(index.get(key_of(42)), entry_of(42));
    index.erase(key_of(42));
    EXPECT_FALSE(index.get(key_of(42)));
    // Scan in key order, resuming after the last key of each page.
    std::uint64_t seen = 0;
    std::optional<shard_key> after;
    for (;;) {
      auto page = index.scan(after, 700);
      if (page.empty()) break;
      for (std::size_t i = 1; i < page.size(); ++i) EXPECT_LT(page[i - 1].first, page[i].first);
      if (after) {
        EXPECT_LT(*after, page.front().first);
      }
      seen += page.size();
      after = page.back().first;
    }
    EXPECT_EQ(seen, 2999u);
    ASSERT_TRUE(index.flush());
  }
  lmdb_chunk_index index((dir / "index").string(), 64 << 20);
  EXPECT_EQ(index.size(), 2999u);
  EXPECT_EQ(index.get(key_of(7)), entry_of(7));
  index.clear();
  EXPECT_EQ(index.size(), 0u);
  std::filesystem::remove_all(dir);
}

TEST(LmdbChunkIndex, ADeviceOnARealFileReopensCleanlyAndReplaysAfterAnUncleanStop) {
  const auto dir = temp_dir("chunk-device");
  const std::string device_path = (dir / "device").string();
  file_block_device_options fo;
  fo.create_bytes = 16 << 20;
  chunk::format_options format;
  format.segment_bytes = 1 << 20;
  format.device_id = 1;
  auto payload = [](std::uint64_t n) {
    std::vector<std::uint8_t> p(10'000 + n * 100);
    std::mt19937_64 rng(n);
    for (auto& b : p) b = static_cast<std::uint8_t>(rng());
    return p;
  };
  auto check_all = [&](chunk::device_store& store, std::uint64_t count) {
    for (std::uint64_t n = 0; n < count; ++n) {
      std::vector<std::uint8_t> out;
      ASSERT_EQ(store.read(key_of(n), out), chunk::device_status::ok) << n;
      EXPECT_EQ(out, payload(n));
    }
  };
  {
    file_block_device device(device_path, fo);
    lmdb_chunk_index index((dir / "index").string(), 64 << 20);
    auto opened = chunk::device_store::open(device, index, {}, format);
    ASSERT_TRUE(std::holds_alternative<std::unique_ptr<chunk::device_store>>(opened));
    auto& store = *std::get<std::unique_ptr<chunk::device_store>>(opened);
    for (std::uint64_t n = 0; n < 100; ++n) {
      const auto p = payload(n);
      const std::array<chunk::append_request, 1> batch{{{key_of(n), 1, p}}};
      ASSERT_EQ(store.append(batch)[0], chunk::device_status::ok);
    }
    ASSERT_EQ(store.close(), chunk::device_status::ok);
  }
  {
    file_block_device device(device_path, {});
    lmdb_chunk_index index((dir / "index").string(), 64 << 20);
    auto opened = chunk::device_store::open(device, index, {}, std::nullopt);
    ASSERT_TRUE(std::holds_alternative<std::unique_ptr<chunk::device_store>>(opened));
    auto& store = *std::get<std::unique_ptr<chunk::device_store>>(opened);
    EXPECT_EQ(store.recovery().how, chunk::recovery_report::level::clean);
    check_all(store, 100);
    const auto p = payload(100);
    const std::array<chunk::append_request, 1> batch{{{key_of(100), 1, p}}};
    ASSERT_EQ(store.append(batch)[0], chunk::device_status::ok);
    // No close(): the next open must not trust the index.
  }
  file_block_device device(device_path, {});
  lmdb_chunk_index index((dir / "index").string(), 64 << 20);
  auto opened = chunk::device_store::open(device, index, {}, std::nullopt);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<chunk::device_store>>(opened));
  auto& store = *std::get<std::unique_ptr<chunk::device_store>>(opened);
  EXPECT_EQ(store.recovery().how, chunk::recovery_report::level::replayed);
  EXPECT_EQ(store.recovery().records_replayed, 101u);
  check_all(store, 101);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cairn::runtime
