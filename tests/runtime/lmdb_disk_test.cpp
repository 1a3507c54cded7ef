// tests/runtime/lmdb_disk_test.cpp — the node's Raft storage in LMDB:
// bootstrap, entries, compaction and reload per shard (D1), shards kept
// apart in shared sub-databases, tombstones (D3), and group commit (D2).
#include "runtime/lmdb_disk.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "actors/shard/kv_state_machine.h"

namespace cairn::runtime {
namespace {

using namespace cairn::raft;

struct temp_dir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("cairn-lmdb-test-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  temp_dir() { std::filesystem::remove_all(path); }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

std::vector<entry> entries(std::uint64_t first, std::uint64_t last, std::uint64_t term) {
  std::vector<entry> out;
  for (auto i = first; i <= last; ++i) {
    entry e;
    e.index = log_index{i};
    e.term = term_t{term};
    e.data = "payload-" + std::to_string(i);
    out.push_back(e);
  }
  return out;
}

conf_state voters(std::initializer_list<std::uint64_t> ids) {
  conf_state c;
  for (auto id : ids) c.voters.push_back(node_id{id});
  return c;
}

TEST(LmdbDisk, BootstrapEntriesCompactionAndReload) {
  temp_dir dir;
  shard::kv_state_machine kv;
  const bytes empty_state = kv.snapshot();
  {
    lmdb_environment env(dir.path.string());
    lmdb_disk disk(env, 7);
    EXPECT_FALSE(disk.has_state());
    disk.bootstrap(voters({1, 2, 3}), empty_state);
    EXPECT_TRUE(disk.has_state());
    ready rd;
    rd.entries = entries(2, 40, 1);
    rd.hard = hard_state{term_t{1}, node_id{2}, log_index{30}};
    ASSERT_EQ(disk.write(rd), shard::io_status::ok);
    ASSERT_EQ(disk.sync(), shard::io_status::ok);
    // Compact at 30 with a snapshot of a state machine holding data.
    for (int i = 0; i < 500; ++i) {
      shard::kv_command c;
      c.op = shard::kv_op::put;
      c.key = "key" + std::to_string(i);
      c.value = std::string(100, static_cast<char>('a' + i % 26));
      kv.apply(c);
    }
    ready compact;
    compact.compaction = log_compaction{};
    compact.compaction->snap.metadata.index = log_index{30};
    compact.compaction->snap.metadata.term = term_t{1};
    compact.compaction->snap.metadata.conf = voters({1, 2, 3});
    compact.compaction->snap.data = kv.snapshot();
    compact.compaction->compact_index = log_index{25};
    compact.compaction->compact_term = term_t{1};
    ASSERT_EQ(disk.write(compact), shard::io_status::ok);
    ASSERT_EQ(disk.sync(), shard::io_status::ok);
  }
  lmdb_environment env(dir.path.string());
  lmdb_disk disk(env, 7);
  auto st = disk.load();
  EXPECT_EQ(st.hard.term, term_t{1});
  EXPECT_EQ(st.hard.vote, node_id{2});
  EXPECT_EQ(st.hard.commit, log_index{30});
  EXPECT_EQ(st.snap.metadata.index, log_index{30});
  EXPECT_EQ(st.snap.metadata.conf, voters({1, 2, 3}));
  shard::kv_state_machine restored;
  ASSERT_TRUE(restored.restore(st.snap.data));
  EXPECT_EQ(restored.fingerprint(), kv.fingerprint());
  EXPECT_EQ(st.log_offset, log_index{25});
  ASSERT_EQ(st.entries.size(), 15u);
  EXPECT_EQ(st.entries.front().index, log_index{26});
  EXPECT_EQ(st.entries.back().index, log_index{40});
  EXPECT_EQ(env.stored_shards(), (std::vector<std::uint64_t>{7}));
}

/// A compaction to `index` whose snapshot is `data`.
ready compaction_with(const bytes& data, std::uint64_t index) {
  ready rd;
  rd.compaction = log_compaction{};
  rd.compaction->snap.metadata.index = log_index{index};
  rd.compaction->snap.metadata.term = term_t{1};
  rd.compaction->snap.metadata.conf = voters({1});
  rd.compaction->snap.data = data;
  rd.compaction->compact_index = log_index{index};
  rd.compaction->compact_term = term_t{1};
  return rd;
}

/// Bytes that differ at every position modulo a large prime, so a piece
/// stored out of order or twice would not compare equal.
bytes patterned(std::size_t n, unsigned seed) {
  bytes b(n, '\0');
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<char>((i * 2654435761u + seed) % 251);
  return b;
}

TEST(LmdbDisk, BigSnapshotsAreStoredInPiecesAndReplacedWhole) {
  // D5: a snapshot over the 4 MiB piece size round-trips; a later, smaller
  // one replaces it with no stale piece appended.
  temp_dir dir;
  const bytes big = patterned((9u << 20) + 12345, 1);
  const bytes small = patterned(5000, 2);
  {
    lmdb_environment env(dir.path.string());
    lmdb_disk disk(env, 4);
    disk.bootstrap(voters({1}), "");
    ASSERT_EQ(disk.write(compaction_with(big, 10)), shard::io_status::ok);
    ASSERT_EQ(disk.sync(), shard::io_status::ok);
    EXPECT_EQ(disk.load().snap.data, big);
    ASSERT_EQ(disk.write(compaction_with(small, 20)), shard::io_status::ok);
    ASSERT_EQ(disk.sync(), shard::io_status::ok);
  }
  lmdb_environment env(dir.path.string());
  EXPECT_EQ(env.verify(), "");
  auto st = lmdb_disk(env, 4).load();
  EXPECT_EQ(st.snap.metadata.index, log_index{20});
  EXPECT_EQ(st.snap.data, small);
}

TEST(LmdbDisk, ShardsAreKeptApartAndTruncationStaysInItsShard) {
  temp_dir dir;
  lmdb_environment env(dir.path.string());
  lmdb_disk a(env, 1), b(env, 2);
  ready ra, rb;
  ra.entries = entries(1, 10, 1);
  rb.entries = entries(1, 20, 1);
  ASSERT_EQ(a.write(ra), shard::io_status::ok);
  ASSERT_EQ(b.write(rb), shard::io_status::ok);
  // Shard 1 replaces its suffix from 5 on (a new leader's entries).
  ready replace;
  replace.entries = entries(5, 6, 2);
  ASSERT_EQ(a.write(replace), shard::io_status::ok);
  ASSERT_EQ(env.sync(), shard::io_status::ok);
  auto sa = a.load();
  auto sb = b.load();
  ASSERT_EQ(sa.entries.size(), 6u);
  EXPECT_EQ(sa.entries.back().term, term_t{2});
  ASSERT_EQ(sb.entries.size(), 20u);
  EXPECT_EQ(sb.entries.back().term, term_t{1});
  EXPECT_EQ(env.stored_shards(), (std::vector<std::uint64_t>{}));  // no hard state yet
}

TEST(LmdbDisk, TombstonedShardsAreNotListedAndNotBootstrappedAgain) {
  temp_dir dir;
  lmdb_environment env(dir.path.string());
  lmdb_disk a(env, 3);
  a.bootstrap(voters({1}), shard::kv_state_machine{}.snapshot());
  EXPECT_EQ(env.stored_shards(), (std::vector<std::uint64_t>{3}));
  a.destroy();
  EXPECT_TRUE(a.tombstoned());
  EXPECT_FALSE(a.has_state());
  EXPECT_TRUE(env.stored_shards().empty());
  EXPECT_TRUE(a.load().entries.empty());
}

TEST(LmdbDisk, ConcurrentSyncsShareFsyncs) {
  temp_dir dir;
  lmdb_environment env(dir.path.string());
  std::vector<std::thread> threads;
  for (std::uint64_t s = 1; s <= 4; ++s) {
    threads.emplace_back([&env, s] {
      lmdb_disk d(env, s);
      for (std::uint64_t i = 1; i <= 50; ++i) {
        ready rd;
        rd.entries = entries(i, i, 1);
        ASSERT_EQ(d.write(rd), shard::io_status::ok);
        ASSERT_EQ(d.sync(), shard::io_status::ok);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(env.syncs_requested(), 200u);
  EXPECT_LE(env.fsyncs().total, 200u);
  for (std::uint64_t s = 1; s <= 4; ++s) EXPECT_EQ(lmdb_disk(env, s).load().entries.size(), 50u);
}

}  // namespace
}  // namespace cairn::runtime

namespace cairn::runtime {
namespace {

using namespace cairn::raft;

/// Flips one byte of the first occurrence of `needle` in `file`.
bool flip_byte_of(const std::filesystem::path& file, const std::string& needle) {
  std::FILE* f = std::fopen(file.c_str(), "r+b");
  if (!f) return false;
  std::string data;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) data.append(buf, n);
  const auto at = data.find(needle);
  bool ok = false;
  if (at != std::string::npos) {
    std::fseek(f, static_cast<long>(at), SEEK_SET);
    const char flipped = static_cast<char>(data[at] ^ 0x20);
    ok = std::fwrite(&flipped, 1, 1, f) == 1;
  }
  std::fclose(f);
  return ok;
}

class LmdbCorruption : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("cairn-lmdb-corrupt-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override {
    std::filesystem::remove_all(dir);
    lmdb_environment env(dir.string());
    lmdb_disk disk(env, 5);
    disk.bootstrap(conf_state{{node_id{1}}, {}, {}, {}, false}, "");
    ready rd;
    for (std::uint64_t i = 2; i <= 20; ++i) {
      entry e;
      e.index = log_index{i};
      e.term = term_t{1};
      e.data = "precious-record-" + std::to_string(i);
      rd.entries.push_back(e);
    }
    ASSERT_EQ(disk.write(rd), shard::io_status::ok);
    ASSERT_EQ(disk.sync(), shard::io_status::ok);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(LmdbCorruption, AFlippedByteIsDetectedNeverReturned) {
  ASSERT_TRUE(flip_byte_of(dir / "data.mdb", "precious-record-7"));
  lmdb_environment env(dir.string(), 1ULL << 30, /*read_only=*/true);
  const std::string problem = env.verify();
  EXPECT_NE(problem.find("fails its checksum"), std::string::npos) << problem;
  lmdb_disk disk(env, 5);
  try {
    disk.load();
    FAIL() << "a corrupt record was loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("log entry 7 of shard 5 fails its checksum"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(verify_in_child(dir.string(), 1ULL << 30), std::runtime_error);
}

TEST_F(LmdbCorruption, ATruncatedFileIsRefused) {
  const auto size = std::filesystem::file_size(dir / "data.mdb");
  std::filesystem::resize_file(dir / "data.mdb", size / 2);
  try {
    verify_in_child(dir.string(), 1ULL << 30);
    FAIL() << "a truncated store was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("refusing to start"), std::string::npos) << e.what();
  }
}

TEST_F(LmdbCorruption, AHealthyStoreVerifies) {
  EXPECT_NO_THROW(verify_in_child(dir.string(), 1ULL << 30));
  lmdb_environment env(dir.string());
  EXPECT_EQ(env.verify(), "");
  EXPECT_EQ(lmdb_disk(env, 5).load().entries.size(), 19u);
}

TEST(LmdbDisk, ACorruptSnapshotPieceIsDetected) {
  temp_dir dir;
  bytes big = patterned(6u << 20, 3);
  const std::string marker = "snapshot-marker-in-the-second-piece";
  big.replace((5u << 20), marker.size(), marker);
  {
    lmdb_environment env(dir.path.string());
    lmdb_disk disk(env, 4);
    disk.bootstrap(voters({1}), "");
    ASSERT_EQ(disk.write(compaction_with(big, 10)), shard::io_status::ok);
    ASSERT_EQ(disk.sync(), shard::io_status::ok);
  }
  ASSERT_TRUE(flip_byte_of(dir.path / "data.mdb", marker));
  lmdb_environment env(dir.path.string());
  EXPECT_NE(env.verify().find("fails its checksum"), std::string::npos);
  try {
    lmdb_disk(env, 4).load();
    FAIL() << "a corrupt snapshot piece was loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("piece 1 of the snapshot of shard 4"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace cairn::runtime
