// tests/runtime/chunk_corruption_test.cpp — issue 4's corruption test: six
// chunk devices on real files (O_DIRECT, io_uring where allowed) behind
// running device actors hold RS 4+2 stripes; random bytes are flipped in
// the device files while the actors run: inside up to m = 2 shards of a
// stripe (headers or payloads), in free space and segment headers, and in
// one primary superblock. Every chunk must still read back exactly (from
// parity where a shard is bad), before and after the devices restart.
//
// The test finds shards in the files with the on-device format
// (actors/chunk/record.h), as an offline scrubber would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "actors/chunk/device_actor.h"
#include "actors/chunk/stripe_codec.h"
#include "runtime/file_block_device.h"
#include "runtime/lmdb_chunk_index.h"

namespace cairn::runtime {
namespace {

using chunk::device_status;

constexpr std::uint32_t width = 6;
constexpr std::uint64_t device_bytes = 32 << 20;
constexpr std::uint64_t chunks = 60;

struct extent {
  std::uint32_t device;
  std::uint64_t offset;
  std::uint64_t bytes;  // header + payload
};

class ChunkCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::filesystem::path(tmp ? tmp : "/var/tmp") /
           ("cairn-corruption-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::mt19937_64 seed_rng(20261122);
    std::vector<std::uint8_t> bytes(32);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(seed_rng());
    dedup_key_ = keys::secret_bytes::copy_of(bytes);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(seed_rng());
    data_key_ = keys::secret_bytes::copy_of(bytes);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string device_path(std::uint32_t d) const {
    return (dir_ / ("dev" + std::to_string(d))).string();
  }

  /// Opens the six devices (formatting them the first time) and spawns
  /// their actors.
  void start(caf::actor_system& sys, bool format) {
    for (std::uint32_t d = 0; d < width; ++d) {
      file_block_device_options fo;
      fo.create_bytes = format ? device_bytes : 0;
      blocks_[d] = std::make_unique<file_block_device>(device_path(d), fo);
      indexes_[d] = std::make_unique<lmdb_chunk_index>(device_path(d) + ".index", 64 << 20);
      std::optional<chunk::format_options> f;
      if (format) {
        f.emplace();
        f->segment_bytes = 1 << 20;
        f->device_id = d;
        f->node_id = d;
      }
      auto opened = chunk::device_store::open(*blocks_[d], *indexes_[d], {}, f);
      ASSERT_TRUE(std::holds_alternative<std::unique_ptr<chunk::device_store>>(opened))
          << std::get<std::string>(opened);
      std::shared_ptr<chunk::device_store> store =
          std::move(std::get<std::unique_ptr<chunk::device_store>>(opened));
      recovery_[d] = store->recovery();
      actors_[d] =
          sys.spawn<caf::detached>(chunk::device_actor, store, chunk::device_actor_options{});
    }
  }
  void stop(caf::scoped_actor& self) {
    for (auto& a : actors_)
      self->request(a, caf::infinite, chunk::close_atom::value)
          .receive([](std::uint8_t s) { EXPECT_EQ(s, 0); }, [](caf::error&) { FAIL(); });
    for (auto& a : actors_) {
      self->send_exit(a, caf::exit_reason::user_shutdown);
      self->wait_for(a);
      a = caf::actor{};
    }
    for (auto& i : indexes_) i.reset();
    for (auto& b : blocks_) b.reset();
  }

  chunk::shard_key key_of(const keys::chunk_id& id, std::uint32_t index) const {
    chunk::shard_key k;
    k.chunk = id;
    k.scheme = static_cast<std::uint32_t>(chunk::scheme_id::rs_4_2);
    k.index = index;
    return k;
  }

  /// Reads a chunk through the actors: data shards, then parity as needed.
  std::optional<std::vector<std::uint8_t>> read_chunk(caf::scoped_actor& self, std::size_t c) {
    const auto& id = ids_[c];
    std::vector<std::optional<std::vector<std::uint8_t>>> shards(width);
    auto fetch = [&](std::uint32_t i) {
      self->request(actors_[i], caf::infinite, chunk::get_atom::value,
                    chunk::encode_shard_key(key_of(id, i)))
          .receive(
              [&](std::uint8_t status, const std::string& bytes, std::uint64_t) {
                if (status == static_cast<std::uint8_t>(device_status::ok))
                  shards[i] = std::vector<std::uint8_t>(bytes.begin(), bytes.end());
              },
              [&](caf::error&) {});
    };
    for (std::uint32_t i = 0; i < 4; ++i) fetch(i);
    const auto key =
        keys::derive_chunk_key(data_key_, id, static_cast<std::uint32_t>(coder_.scheme().id));
    auto plain = chunk::decode_stripe(coder_, key, {id, 1}, plaintexts_[c].size(), shards);
    if (!plain) {
      fetch(4);
      fetch(5);
      plain = chunk::decode_stripe(coder_, key, {id, 1}, plaintexts_[c].size(), shards);
      if (plain) ++degraded_reads_;
    }
    return plain;
  }

  /// Seals and encodes one chunk and sends shard i to device i; the
  /// acknowledgements are collected by await_acks().
  void send_chunk(caf::scoped_actor& self, std::vector<std::uint8_t> plain) {
    const auto id = keys::chunk_id_of(dedup_key_, plain);
    const auto key =
        keys::derive_chunk_key(data_key_, id, static_cast<std::uint32_t>(coder_.scheme().id));
    const auto shards = chunk::encode_stripe(coder_, key, {id, 1}, plain);
    for (std::uint32_t i = 0; i < width; ++i)
      self->send(actors_[i], chunk::put_atom::value, chunk::encode_shard_key(key_of(id, i)),
                 std::uint64_t{1}, std::string(shards[i].begin(), shards[i].end()));
    ids_.push_back(id);
    plaintexts_.push_back(std::move(plain));
    ++unacked_chunks_;
  }
  void await_acks(caf::scoped_actor& self) {
    std::uint64_t acks = 0;
    self->receive_for(acks, unacked_chunks_ * width)([&](std::uint8_t status) {
      ASSERT_EQ(status, static_cast<std::uint8_t>(device_status::ok));
    });
    unacked_chunks_ = 0;
  }

  /// Every shard record in the device files, by key (an offline scan).
  std::map<chunk::shard_key, extent> scan_records() {
    std::map<chunk::shard_key, extent> out;
    for (std::uint32_t d = 0; d < width; ++d) {
      std::ifstream in(device_path(d), std::ios::binary);
      std::vector<std::uint8_t> file(std::filesystem::file_size(device_path(d)));
      in.read(reinterpret_cast<char*>(file.data()), static_cast<std::streamsize>(file.size()));
      for (std::uint64_t at = 0; at + chunk::block_bytes <= file.size(); at += chunk::block_bytes) {
        chunk::record_header h;
        if (chunk::decode_record_header(
                std::span<const std::uint8_t>(file).subspan(at, chunk::block_bytes), h) ==
                chunk::format_error::none &&
            h.type == chunk::record_type::shard)
          out[h.key] = extent{d, at, chunk::record_header_bytes + h.payload_bytes};
      }
    }
    return out;
  }

  static void flip_byte(const std::string& path, std::uint64_t offset, std::uint8_t mask) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ mask);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  }

  std::filesystem::path dir_;
  keys::secret_bytes dedup_key_, data_key_;
  chunk::erasure_coder coder_{
      *chunk::scheme_by_id(static_cast<std::uint32_t>(chunk::scheme_id::rs_4_2))};
  std::array<std::unique_ptr<file_block_device>, width> blocks_;
  std::array<std::unique_ptr<lmdb_chunk_index>, width> indexes_;
  std::array<chunk::recovery_report, width> recovery_;
  std::array<caf::actor, width> actors_;
  std::vector<keys::chunk_id> ids_;
  std::vector<std::vector<std::uint8_t>> plaintexts_;
  std::uint64_t degraded_reads_ = 0;
  std::uint64_t unacked_chunks_ = 0;
};

TEST_F(ChunkCorruption, RandomFlipsInDeviceFilesUnderRunningActorsNeverLoseOrCorruptAChunk) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  start(sys, /*format=*/true);
  std::mt19937_64 rng(7);
  // Write: each chunk sealed and encoded, shard i to device i.
  for (std::uint64_t c = 0; c < chunks; ++c) {
    std::vector<std::uint8_t> plain(1 + rng() % 100'000);
    for (auto& b : plain) b = static_cast<std::uint8_t>(rng());
    send_chunk(self, std::move(plain));
  }
  await_acks(self);

  // Corrupt, while the actors run.
  const auto records = scan_records();
  ASSERT_EQ(records.size(), chunks * width);
  std::uint64_t damaged_shards = 0;
  for (std::uint64_t c = 0; c < chunks; ++c) {
    const auto bad = rng() % 3;  // 0, 1 or 2 shards of this stripe: within m
    std::vector<std::uint32_t> indexes = {0, 1, 2, 3, 4, 5};
    std::shuffle(indexes.begin(), indexes.end(), rng);
    for (std::uint64_t b = 0; b < bad; ++b) {
      const auto& e = records.at(key_of(ids_[c], indexes[b]));
      flip_byte(device_path(e.device), e.offset + rng() % e.bytes,
                static_cast<std::uint8_t>(1u << (rng() % 8)));
      ++damaged_shards;
    }
  }
  // Free space and padding: bytes no shard record covers.
  for (std::uint32_t d = 0; d < width; ++d) {
    for (int n = 0; n < 20;) {
      const std::uint64_t at = chunk::block_bytes + rng() % (device_bytes - 2 * chunk::block_bytes);
      bool inside = false;
      for (const auto& [k, e] : records)
        if (e.device == d && at >= e.offset && at < e.offset + e.bytes) inside = true;
      if (inside) continue;
      flip_byte(device_path(d), at, 0x40);
      ++n;
    }
  }
  flip_byte(device_path(2), 100, 0x01);  // the primary superblock of device 2

  for (std::uint64_t c = 0; c < chunks; ++c) {
    const auto got = read_chunk(self, c);
    ASSERT_TRUE(got) << "chunk " << c << " unreadable";
    ASSERT_EQ(*got, plaintexts_[c]) << "chunk " << c;
  }
  EXPECT_GT(degraded_reads_, 0u);
  std::uint64_t corrupt_reads = 0;
  for (auto& a : actors_)
    self->request(a, caf::infinite, chunk::describe_atom::value)
        .receive(
            [&](const std::string& j) {
              corrupt_reads +=
                  nlohmann::json::parse(j)["counters"]["corrupt_reads"].get<std::uint64_t>();
            },
            [&](caf::error& e) { FAIL() << sys.render(e); });
  EXPECT_GT(corrupt_reads, 0u) << "the flips were never detected";
  std::cout << damaged_shards << " shards damaged, " << degraded_reads_ << " degraded reads, "
            << corrupt_reads << " corrupt shard reads detected\n";

  // Restart every device (clean close, then open: the damaged primary
  // superblock was rewritten by the close) and read everything again.
  stop(self);
  degraded_reads_ = 0;
  start(sys, /*format=*/false);
  for (std::uint64_t c = 0; c < chunks; ++c) {
    const auto got = read_chunk(self, c);
    ASSERT_TRUE(got) << "chunk " << c << " unreadable after restart";
    ASSERT_EQ(*got, plaintexts_[c]) << "chunk " << c << " after restart";
  }
  stop(self);
}

/// Issue 4, deliverable 3: after a workload of recognisable plaintext, no
/// file the devices wrote (device files, LMDB indexes) holds any of it.
TEST_F(ChunkCorruption, NoPlaintextReachesAnyDeviceFile) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  start(sys, /*format=*/true);
  const std::string marker = "cairn-plaintext-marker-0b5e2c";
  for (std::uint64_t c = 0; c < 40; ++c) {
    // Small (one block) to large (many stripes of a segment), text-like;
    // every chunk starts with the marker and repeats it.
    std::string text;
    const std::size_t bytes = c == 0 ? 32 : (std::size_t{1} << (c % 18)) * 3 + 32;
    while (text.size() < bytes)
      text +=
          marker + " chunk " + std::to_string(c) + " line " + std::to_string(text.size()) + "\n";
    text.resize(bytes);
    send_chunk(self, std::vector<std::uint8_t>(text.begin(), text.end()));
  }
  await_acks(self);
  for (std::uint64_t c = 0; c < ids_.size(); ++c) {
    const auto got = read_chunk(self, c);
    ASSERT_TRUE(got && *got == plaintexts_[c]) << "chunk " << c;
  }
  stop(self);  // flushes the indexes too
  // Any 16 bytes of the marker: a shard holding plaintext holds them.
  const std::string needle = marker.substr(4, 16);
  const std::boyer_moore_horspool_searcher search(needle.begin(), needle.end());
  std::uint64_t files = 0, bytes_scanned = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
    if (!entry.is_regular_file()) continue;
    std::string content(entry.file_size(), '\0');
    std::ifstream(entry.path(), std::ios::binary)
        .read(content.data(), static_cast<std::streamsize>(content.size()));
    EXPECT_EQ(std::search(content.begin(), content.end(), search), content.end())
        << "plaintext found in " << entry.path();
    ++files;
    bytes_scanned += content.size();
  }
  EXPECT_GE(files, 2 * width);  // device files and their indexes
  EXPECT_GE(bytes_scanned, width * device_bytes);
}

}  // namespace
}  // namespace cairn::runtime
