// tests/actors/chunk/device_store_test.cpp — the chunk device core over the
// simulated device: appends, reads, dedup, the recycle bin, capacity, and
// recovery after clean closes, crashes, torn tails, damaged superblocks and
// media corruption (docs/chunk.md, invariants CD1-CD6).
#include "actors/chunk/device_store.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <random>

#include "sim/sim_block_device.h"

namespace cairn::chunk {
namespace {

constexpr std::uint64_t segment_bytes = 256 * 1024;
constexpr std::uint64_t device_bytes = 4 << 20;  // 15 segments

shard_key key_of(std::uint64_t n, std::uint32_t index = 0) {
  shard_key k;
  for (int i = 0; i < 8; ++i) k.chunk[i] = static_cast<std::uint8_t>(n >> (8 * i));
  k.scheme = 0x0402;
  k.index = index;
  return k;
}

std::vector<std::uint8_t> payload_of(std::uint64_t n, std::size_t bytes) {
  std::vector<std::uint8_t> out(bytes);
  std::mt19937_64 rng(n * 7919 + bytes);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

format_options fmt() {
  format_options f;
  f.segment_bytes = segment_bytes;
  f.device_id = 3;
  f.node_id = 1;
  f.device_uuid[0] = 0xaa;
  return f;
}

struct harness {
  explicit harness(std::uint64_t seed = 1, std::uint64_t bytes = device_bytes)
      : device(bytes, seed) {}

  std::string reopen(bool allow_format = false) {
    store.reset();
    auto r = device_store::open(device, index, options,
                                allow_format ? std::optional(fmt()) : std::nullopt);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    store = std::move(std::get<std::unique_ptr<device_store>>(r));
    return {};
  }
  /// Power loss: the device loses its cache, the index what was not flushed.
  void crash() {
    store.reset();
    device.crash();
    index.crash();
  }
  device_status put(std::uint64_t n, std::size_t bytes, std::uint64_t epoch = 1) {
    const auto p = payload_of(n, bytes);
    const std::array<append_request, 1> batch{{{key_of(n), epoch, p}}};
    return store->append(batch)[0];
  }
  device_status get(std::uint64_t n, std::vector<std::uint8_t>& out) {
    return store->read(key_of(n), out);
  }

  sim::sim_block_device device;
  memory_chunk_index index;
  device_options options;
  std::unique_ptr<device_store> store;
};

TEST(DeviceStore, ABlankDeviceIsFormattedOnlyWhenAsked) {
  harness h;
  EXPECT_NE(h.reopen(false).find("blank"), std::string::npos);
  ASSERT_EQ(h.reopen(true), "");
  EXPECT_EQ(h.store->recovery().how, recovery_report::level::formatted);
  EXPECT_EQ(h.store->segment_count(), 15u);
  EXPECT_EQ(h.store->super().device_id, 3u);
}

TEST(DeviceStore, AppendedShardsReadBackAcrossACleanReopen) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<append_request> batch;
  for (std::uint64_t n = 0; n < 20; ++n) payloads.push_back(payload_of(n, 1000 + n * 3000));
  for (std::uint64_t n = 0; n < 20; ++n) batch.push_back({key_of(n), 7, payloads[n]});
  for (auto s : h.store->append(batch)) ASSERT_EQ(s, device_status::ok);
  EXPECT_EQ(h.device.syncs(), 3u);  // 2 superblock writes at format + 1 for the batch
  ASSERT_EQ(h.store->close(), device_status::ok);
  ASSERT_EQ(h.reopen(), "");
  EXPECT_EQ(h.store->recovery().how, recovery_report::level::clean);
  for (std::uint64_t n = 0; n < 20; ++n) {
    std::vector<std::uint8_t> out;
    std::uint64_t epoch = 0;
    ASSERT_EQ(h.store->read(key_of(n), out, &epoch), device_status::ok) << n;
    EXPECT_EQ(out, payloads[n]);
    EXPECT_EQ(epoch, 7u);
  }
  // Appends after a clean reopen continue the log (no overlap).
  ASSERT_EQ(h.put(100, 5000), device_status::ok);
  std::vector<std::uint8_t> out;
  ASSERT_EQ(h.get(0, out), device_status::ok);
  EXPECT_EQ(out, payloads[0]);
}

TEST(DeviceStore, AStoredShardIsNotWrittenTwice) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  ASSERT_EQ(h.put(1, 5000), device_status::ok);
  const auto writes = h.device.writes();
  ASSERT_EQ(h.put(1, 5000), device_status::ok);
  EXPECT_EQ(h.device.writes(), writes);
  EXPECT_EQ(h.store->counters().appends_deduplicated, 1u);
}

// CD1 + L2: acknowledged shards survive a crash; the index is rebuilt.
TEST(DeviceStore, AcknowledgedShardsSurviveACrashByReplay) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  for (std::uint64_t n = 0; n < 60; ++n) ASSERT_EQ(h.put(n, 20'000), device_status::ok) << n;
  h.crash();
  ASSERT_EQ(h.reopen(), "");
  EXPECT_EQ(h.store->recovery().how, recovery_report::level::replayed);
  EXPECT_EQ(h.store->recovery().records_replayed, 60u);
  EXPECT_GT(h.store->segments_in_use(), 4u);  // the log spans several segments
  for (std::uint64_t n = 0; n < 60; ++n) {
    std::vector<std::uint8_t> out;
    ASSERT_EQ(h.get(n, out), device_status::ok) << n;
    EXPECT_EQ(out, payload_of(n, 20'000));
  }
}

// Torn tails: a batch whose sync failed is lost or kept whole, never torn
// into returned bytes; earlier acknowledged shards stay.
TEST(DeviceStore, ATornTailIsDiscardedAndNeverReturned) {
  std::uint64_t torn_seen = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    harness h(seed);
    ASSERT_EQ(h.reopen(true), "");
    for (std::uint64_t n = 0; n < 5; ++n) ASSERT_EQ(h.put(n, 30'000), device_status::ok);
    h.device.fail_next_sync();
    std::vector<std::vector<std::uint8_t>> payloads;
    std::vector<append_request> batch;
    for (std::uint64_t n = 5; n < 12; ++n) payloads.push_back(payload_of(n, 30'000));
    for (std::uint64_t n = 5; n < 12; ++n) batch.push_back({key_of(n), 1, payloads[n - 5]});
    for (auto s : h.store->append(batch)) EXPECT_EQ(s, device_status::io_error);
    EXPECT_TRUE(h.store->failed());  // BD3: fail-stop after a failed sync
    h.crash();
    ASSERT_EQ(h.reopen(), "") << "seed " << seed;
    torn_seen += h.store->recovery().torn_records_discarded;
    for (std::uint64_t n = 0; n < 12; ++n) {
      std::vector<std::uint8_t> out;
      const auto s = h.get(n, out);
      if (n < 5) {
        ASSERT_EQ(s, device_status::ok) << "acknowledged shard " << n << " lost, seed " << seed;
      } else {
        // Unacknowledged: kept whole, lost, or (torn while a later record of
        // the same batch survived) reported corrupt; never wrong bytes.
        ASSERT_TRUE(s == device_status::ok || s == device_status::not_found ||
                    s == device_status::corrupt)
            << to_string(s);
      }
      if (s == device_status::ok) {
        EXPECT_EQ(out, payload_of(n, 30'000)) << "seed " << seed;
      }
    }
    // The device accepts new appends after the tail.
    ASSERT_EQ(h.put(50, 10'000), device_status::ok);
    std::vector<std::uint8_t> out;
    ASSERT_EQ(h.get(50, out), device_status::ok);
  }
  EXPECT_GT(torn_seen, 0u) << "no seed tore a record: the test would not see a bug";
}

// CD2: corruption of stored bytes is detected and never returned.
TEST(DeviceStore, FlippedBitsAreReportedCorruptNeverReturned) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  for (std::uint64_t n = 0; n < 4; ++n) ASSERT_EQ(h.put(n, 9000), device_status::ok);
  ASSERT_EQ(h.store->close(), device_status::ok);
  ASSERT_EQ(h.reopen(), "");
  const auto record_at = [&](std::uint64_t n) {
    // Shards were appended in order after the segment header block.
    return h.store->super().data_offset + block_bytes + n * record_blocks(9000) * block_bytes;
  };
  h.device.flip_bit(record_at(1) + 200, 3);  // payload of shard 1
  h.device.flip_bit(record_at(2) + 50, 0);   // header of shard 2
  std::vector<std::uint8_t> out;
  EXPECT_EQ(h.get(1, out), device_status::corrupt);
  EXPECT_EQ(h.get(2, out), device_status::corrupt);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h.store->state_of(key_of(1)), shard_state::corrupt);
  EXPECT_EQ(h.store->counters().corrupt_reads, 2u);
  ASSERT_EQ(h.get(3, out), device_status::ok);
  EXPECT_EQ(out, payload_of(3, 9000));
  // Repair writes the shard again: readable again.
  ASSERT_EQ(h.put(1, 9000), device_status::ok);
  ASSERT_EQ(h.get(1, out), device_status::ok);
  EXPECT_EQ(out, payload_of(1, 9000));
}

TEST(DeviceStore, AMisdirectedWriteIsDetectedOnRead) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  ASSERT_EQ(h.put(1, 3000), device_status::ok);
  // The next record lands one block later than the device core meant.
  h.device.misdirect_next_write(static_cast<std::int64_t>(block_bytes));
  ASSERT_EQ(h.put(2, 3000), device_status::ok);
  std::vector<std::uint8_t> out;
  EXPECT_EQ(h.get(2, out), device_status::corrupt);
  ASSERT_EQ(h.get(1, out), device_status::ok);
}

TEST(DeviceStore, ADamagedPrimarySuperblockFailsOverToTheBackup) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  ASSERT_EQ(h.put(1, 3000), device_status::ok);
  ASSERT_EQ(h.store->close(), device_status::ok);
  h.device.flip_bit(20, 1);  // primary superblock
  ASSERT_EQ(h.reopen(), "");
  EXPECT_EQ(h.store->recovery().how, recovery_report::level::superblock_failover);
  EXPECT_TRUE(h.store->recovery().used_backup_superblock);
  std::vector<std::uint8_t> out;
  ASSERT_EQ(h.get(1, out), device_status::ok);
  // The primary was rewritten: after a clean close the next open is L0.
  ASSERT_EQ(h.store->close(), device_status::ok);
  ASSERT_EQ(h.reopen(), "");
  EXPECT_EQ(h.store->recovery().how, recovery_report::level::clean);
}

TEST(DeviceStore, BothSuperblocksDamagedIsAClearError) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  ASSERT_EQ(h.store->close(), device_status::ok);
  h.device.flip_bit(20, 1);
  h.device.flip_bit(device_bytes - block_bytes + 20, 1);
  const auto error = h.reopen(true);  // never reformatted over damage
  EXPECT_NE(error.find("both superblocks"), std::string::npos) << error;
}

// A bit flip in a segment header must not make the segment look free:
// replay would lose its records and appends would overwrite them.
TEST(DeviceStore, ADamagedSegmentHeaderLosesNothing) {
  for (bool clean : {true, false}) {
    harness h;
    ASSERT_EQ(h.reopen(true), "");
    for (std::uint64_t n = 0; n < 40; ++n) ASSERT_EQ(h.put(n, 20'000), device_status::ok);
    ASSERT_GT(h.store->segments_in_use(), 3u);
    if (clean) {
      ASSERT_EQ(h.store->close(), device_status::ok);
    } else {
      h.crash();
    }
    for (std::uint64_t seg = 0; seg < 3; ++seg)  // the first three segments' headers
      h.device.flip_bit(block_bytes /* data_offset */ + seg * segment_bytes + 30, 2);
    ASSERT_EQ(h.reopen(), "");
    EXPECT_EQ(h.store->recovery().damaged_segment_headers, 3u);
    for (std::uint64_t n = 40; n < 80; ++n) ASSERT_EQ(h.put(n, 20'000), device_status::ok);
    for (std::uint64_t n = 0; n < 80; ++n) {
      std::vector<std::uint8_t> out;
      ASSERT_EQ(h.get(n, out), device_status::ok) << n << (clean ? " after L0" : " after L2");
      EXPECT_EQ(out, payload_of(n, 20'000));
    }
  }
}

TEST(DeviceStore, TheRecycleBinRestoresUntilRetentionThenPurges) {
  harness h;
  h.options.retention_ms = 1000;
  ASSERT_EQ(h.reopen(true), "");
  ASSERT_EQ(h.put(1, 3000), device_status::ok);
  ASSERT_EQ(h.put(2, 3000), device_status::ok);
  ASSERT_EQ(h.store->remove(key_of(1), 10'000), device_status::ok);
  ASSERT_EQ(h.store->remove(key_of(2), 10'000), device_status::ok);
  std::vector<std::uint8_t> out;
  EXPECT_EQ(h.get(1, out), device_status::not_found);
  ASSERT_EQ(h.store->restore(key_of(1), 10'600), device_status::ok);
  ASSERT_EQ(h.get(1, out), device_status::ok);
  EXPECT_EQ(out, payload_of(1, 3000));
  EXPECT_EQ(h.store->purge_expired(10'500, 100), 0u);  // within retention
  // The bin survives a crash: marks are replayed with their times.
  h.crash();
  ASSERT_EQ(h.reopen(), "");
  EXPECT_EQ(h.store->state_of(key_of(2)), shard_state::in_bin);
  EXPECT_EQ(h.store->state_of(key_of(1)), shard_state::live);
  EXPECT_EQ(h.store->purge_expired(11'000, 100), 1u);
  EXPECT_EQ(h.store->state_of(key_of(2)), shard_state::purged);
  EXPECT_EQ(h.store->restore(key_of(2), 11'000), device_status::not_found);
  // CD3: a purged shard does not come back through replay.
  h.crash();
  ASSERT_EQ(h.reopen(), "");
  h.store->purge_expired(11'000, 100);
  EXPECT_EQ(h.get(2, out), device_status::not_found);
  ASSERT_EQ(h.get(1, out), device_status::ok);
}

TEST(DeviceStore, AFullDeviceRefusesNewShardsButStillDeletes) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  std::uint64_t n = 0;
  device_status s = device_status::ok;
  while ((s = h.put(n, 100'000)) == device_status::ok) ++n;
  EXPECT_EQ(s, device_status::device_full);
  EXPECT_TRUE(h.store->above_warn_threshold());
  EXPECT_LE(h.store->segments_in_use(), h.store->segment_count());
  EXPECT_GT(n, 20u);
  EXPECT_EQ(h.store->counters().refused_full, 1u);
  // Deletes need a block each; they still go in while any room is left.
  EXPECT_EQ(h.store->remove(key_of(0), 1), device_status::ok);
  std::vector<std::uint8_t> out;
  ASSERT_EQ(h.get(1, out), device_status::ok);
  EXPECT_EQ(h.put(n, 100'000, 1), device_status::device_full);
}

TEST(DeviceStore, AShardLargerThanASegmentIsInvalid) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  EXPECT_EQ(h.put(1, segment_bytes), device_status::invalid);
  EXPECT_FALSE(h.store->failed());
}

TEST(DeviceStore, AVanishedDeviceFailsStop) {
  harness h;
  ASSERT_EQ(h.reopen(true), "");
  ASSERT_EQ(h.put(1, 3000), device_status::ok);
  h.device.vanish();
  EXPECT_EQ(h.put(2, 3000), device_status::io_error);
  EXPECT_TRUE(h.store->failed());
  std::vector<std::uint8_t> out;
  EXPECT_EQ(h.get(1, out), device_status::io_error);
}

// A random history of appends, deletes, restores, purges, compaction steps,
// crashes and clean reopens against a model: every acknowledged live shard reads back
// exactly; nothing else is ever returned.
// Compaction frees segments full of garbage without losing a live shard,
// resurrecting a purged one, or emptying the bin (CD3, CD5).
TEST(DeviceStore, CompactionFreesGarbageAndKeepsEveryLiveShard) {
  harness h;
  h.options.retention_ms = 100;
  ASSERT_EQ(h.reopen(true), "");
  for (std::uint64_t n = 0; n < 60; ++n) ASSERT_EQ(h.put(n, 20'000), device_status::ok);
  const auto used_before = h.store->segments_in_use();
  // Keep every 6th shard, bin every 6th + 1, purge the rest.
  for (std::uint64_t n = 0; n < 60; ++n) {
    if (n % 6 != 0) {
      ASSERT_EQ(h.store->remove(key_of(n), n % 6 == 1 ? 1'000 : 0), device_status::ok);
    }
  }
  EXPECT_EQ(h.store->purge_expired(500, 1000), 40u);  // those deleted at 0
  std::uint64_t freed = 0;
  for (int step = 0; step < 1000; ++step) {
    const auto p = h.store->compact_step(64 * 1024);
    if (!p.segment) break;
    freed += p.segment_freed;
  }
  EXPECT_GT(freed, 0u);
  EXPECT_LT(h.store->segments_in_use(), used_before);
  auto check = [&] {
    for (std::uint64_t n = 0; n < 60; ++n) {
      std::vector<std::uint8_t> out;
      const auto s = h.get(n, out);
      if (n % 6 == 0) {
        ASSERT_EQ(s, device_status::ok) << n;
        EXPECT_EQ(out, payload_of(n, 20'000));
      } else {
        EXPECT_EQ(s, device_status::not_found) << n;
      }
      if (n % 6 == 1) {
        EXPECT_EQ(h.store->state_of(key_of(n)), shard_state::in_bin) << n;
      }
    }
  };
  check();
  h.crash();  // replay must agree: copies found, purged shards stay gone
  ASSERT_EQ(h.reopen(), "");
  h.store->purge_expired(500, 1000);
  check();
  ASSERT_EQ(h.store->restore(key_of(1), 1'050), device_status::ok);  // deleted at 1000
  std::vector<std::uint8_t> out;
  ASSERT_EQ(h.get(1, out), device_status::ok);
  EXPECT_EQ(out, payload_of(1, 20'000));
}

TEST(DeviceStore, AFullDeviceGetsRoomBackByDeletingAndCompacting) {
  harness h;
  h.options.retention_ms = 0;
  ASSERT_EQ(h.reopen(true), "");
  std::uint64_t n = 0;
  while (h.put(n, 100'000) == device_status::ok) ++n;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i % 4 != 0) {
      ASSERT_EQ(h.store->remove(key_of(i), 0), device_status::ok);
    }
  }
  h.store->purge_expired(1, 100'000);
  for (int step = 0; step < 1000 && h.store->compact_step(1 << 20).segment; ++step) {
  }
  EXPECT_GT(h.store->counters().segments_freed, 0u);
  ASSERT_EQ(h.put(1'000, 100'000), device_status::ok);
  for (std::uint64_t i = 0; i < n; i += 4) {
    std::vector<std::uint8_t> out;
    ASSERT_EQ(h.get(i, out), device_status::ok) << i;
    EXPECT_EQ(out, payload_of(i, 100'000));
  }
}

RC_GTEST_PROP(DeviceStoreProperty, AcknowledgedShardsSurviveAnyHistory, ()) {
  harness h(*rc::gen::arbitrary<std::uint64_t>());
  h.options.retention_ms = 1'000'000;
  RC_ASSERT(h.reopen(true).empty());
  std::map<std::uint64_t, std::size_t> live;  // model: n -> bytes
  std::map<std::uint64_t, std::size_t> binned;
  std::uint64_t now = 1;  // recycle-bin clock: only moves forward
  const auto steps = *rc::gen::inRange(10, 80);
  for (int step = 0; step < steps; ++step) {
    const auto op = *rc::gen::inRange(0, 12);
    const auto n = *rc::gen::inRange<std::uint64_t>(0, 30);
    if (op < 5) {
      const auto bytes = *rc::gen::inRange<std::size_t>(0, 60'000);
      const auto existing = live.count(n) ? live[n] : bytes;  // same key, same bytes
      const auto s = h.put(n, existing);
      RC_ASSERT(s == device_status::ok || s == device_status::device_full);
      if (s == device_status::ok) {
        live[n] = existing;
        binned.erase(n);
      }
    } else if (op == 5) {
      const auto s = h.store->remove(key_of(n), now);
      if (live.count(n)) {
        RC_ASSERT(s == device_status::ok || s == device_status::device_full);
        if (s == device_status::ok) {
          binned[n] = live[n];
          live.erase(n);
        }
      } else {
        RC_ASSERT(s == device_status::not_found);
      }
    } else if (op == 6) {
      const auto s = h.store->restore(key_of(n), now);
      if (binned.count(n) && s == device_status::ok) {
        live[n] = binned[n];
        binned.erase(n);
      }
    } else if (op == 7) {
      h.crash();
      RC_ASSERT(h.reopen().empty());
    } else if (op == 8) {
      RC_ASSERT(h.store->close() == device_status::ok);
      RC_ASSERT(h.reopen().empty());
    } else if (op == 10) {
      now += 2'000'000;  // past every retention window
      h.store->purge_expired(now, 1000);
      binned.clear();
    } else if (op == 11) {
      for (int i = 0; i < 20; ++i)
        if (!h.store->compact_step(*rc::gen::inRange<std::uint64_t>(1, 200'000)).segment) break;
    } else {
      std::vector<std::uint8_t> out;
      const auto s = h.get(n, out);
      if (live.count(n)) {
        RC_ASSERT(s == device_status::ok);
        RC_ASSERT(out == payload_of(n, live[n]));
      } else {
        RC_ASSERT(s == device_status::not_found);
      }
    }
  }
  for (const auto& [n, bytes] : live) {
    std::vector<std::uint8_t> out;
    RC_ASSERT(h.get(n, out) == device_status::ok);
    RC_ASSERT(out == payload_of(n, bytes));
  }
}

}  // namespace
}  // namespace cairn::chunk
