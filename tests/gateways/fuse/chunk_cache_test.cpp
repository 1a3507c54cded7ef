// tests/gateways/fuse/chunk_cache_test.cpp — the FUSE client's two-tier
// chunk cache (gateways/fuse/chunk_cache.h) over a real directory and over
// an in-memory directory that runs out of space: round trips through L1
// and L2 and across a restart, no plaintext in L2 files (CH1), corrupt or
// mismatched files are misses and are deleted (CH2), a full directory
// never fails a read (CH3), and the files on disk are exactly the
// policy's L2 entries (CH4) after every step of a random workload. A real
// ENOSPC comes from a 1 MiB tmpfs where the test may mount one.
#include "gateways/fuse/chunk_cache.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>

#include "actors/chunk/erasure_code.h"
#include "actors/keys/seal.h"

namespace cairn::fuse {
namespace {

namespace fs = std::filesystem;

keys::key_grant test_grant(std::uint8_t seed = 1) {
  keys::key_grant g;
  g.tenant = keys::tenant_id{7};
  g.epoch = keys::key_epoch{3};
  std::array<std::uint8_t, 32> dedup{}, data{};
  dedup.fill(seed);
  data.fill(static_cast<std::uint8_t>(seed + 100));
  g.dedup_key = keys::secret_bytes::copy_of(dedup);
  g.data_key = keys::secret_bytes::copy_of(data);
  return g;
}

/// A chunk of `n` bytes derived from `seed` (recognisable text, so a
/// plaintext scan can find it), and its reference as the namespace would
/// hold it.
struct test_chunk {
  std::shared_ptr<const std::vector<std::uint8_t>> plain;
  shard::chunk_ref ref;
};
test_chunk make_chunk(const keys::key_grant& g, int seed, std::size_t n = 16 * 1024) {
  std::vector<std::uint8_t> bytes(n);
  const std::string text = "cairn plaintext marker " + std::to_string(seed) + " ";
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(text[i % text.size()]);
  test_chunk c;
  c.ref.id = keys::chunk_id_of(g.dedup_key, 1, bytes);
  c.ref.length = n;
  c.ref.scheme = static_cast<std::uint32_t>(chunk::scheme_id::rs_4_2);
  c.ref.key_epoch = g.epoch.value;
  c.plain = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
  return c;
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("cairn-chunk-cache-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<fs::path> files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path());
    return out;
  }
};

std::vector<std::uint8_t> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(ChunkCache, RoundTripsThroughL1AndL2AndAcrossARestart) {
  const auto g = test_grant();
  temp_dir dir;
  const auto a = make_chunk(g, 1), b = make_chunk(g, 2);
  {
    chunk_cache cache(cache_mode::organic, {1 << 20, 1 << 20},
                      directory_cache_files(dir.path.string()));
    EXPECT_EQ(cache.get(g, a.ref), nullptr);
    EXPECT_TRUE(cache.put(g, a.ref, a.plain).admitted);
    EXPECT_TRUE(cache.put(g, b.ref, b.plain).admitted);
    const auto got = cache.get(g, a.ref);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, *a.plain);
    const auto s = cache.stats();
    EXPECT_EQ(s.l1.entries, 2u);
    EXPECT_EQ(s.l2.entries, 2u);
    EXPECT_EQ(s.l1.hits, 1u);
  }
  ASSERT_EQ(dir.files().size(), 2u);
  // CH1: the files hold sealed shards only.
  for (const auto& f : dir.files()) {
    const auto bytes = slurp(f);
    const std::string marker = "cairn plaintext marker";
    EXPECT_EQ(std::search(bytes.begin(), bytes.end(), marker.begin(), marker.end()), bytes.end())
        << f << " holds plaintext";
  }
  // A new mount over the same directory serves both from L2.
  chunk_cache cache(cache_mode::organic, {1 << 20, 1 << 20},
                    directory_cache_files(dir.path.string()));
  EXPECT_EQ(cache.stats().l2.entries, 2u);
  for (const auto* c : {&a, &b}) {
    const auto got = cache.get(g, c->ref);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, *c->plain);
  }
  EXPECT_EQ(cache.stats().l2.hits, 2u);
  EXPECT_EQ(cache.stats().l1.entries, 2u);  // promoted
}

/// Puts `c` into a cache over `dir` that is then closed (a past mount).
void keep_in_a_closed_cache(const temp_dir& dir, const keys::key_grant& g, const test_chunk& c) {
  chunk_cache cache(cache_mode::organic, {1 << 20, 1 << 20},
                    directory_cache_files(dir.path.string()));
  cache.put(g, c.ref, c.plain);
}

TEST(ChunkCache, ACorruptFileIsAMissAndIsDeleted) {
  const auto g = test_grant();
  temp_dir dir;
  const auto a = make_chunk(g, 1);
  keep_in_a_closed_cache(dir, g, a);
  const auto file = dir.path / chunk_cache::file_name(a.ref.id);
  auto bytes = slurp(file);
  bytes[bytes.size() / 2] ^= 0x01;
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  chunk_cache cache(cache_mode::organic, {1 << 20, 1 << 20},
                    directory_cache_files(dir.path.string()));
  EXPECT_EQ(cache.get(g, a.ref), nullptr);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(cache.stats().l2_corrupt, 1u);
  EXPECT_EQ(cache.stats().l2.entries, 0u);
  // Kept again from the devices' copy, it serves again.
  EXPECT_TRUE(cache.put(g, a.ref, a.plain).admitted);
  EXPECT_NE(cache.get(g, a.ref), nullptr);
}

TEST(ChunkCache, AFileIsOpenedAgainstTheCallersReferenceNotItsHeader) {
  const auto g = test_grant();
  temp_dir dir;
  const auto a = make_chunk(g, 1);
  keep_in_a_closed_cache(dir, g, a);
  chunk_cache cache(cache_mode::organic, {1 << 20, 1 << 20},
                    directory_cache_files(dir.path.string()));
  auto shorter = a.ref;
  shorter.length -= 1;
  EXPECT_EQ(cache.get(g, shorter), nullptr);
  // Another tenant's keys cannot open it either (nor does it survive that).
  chunk_cache again(cache_mode::organic, {1 << 20, 1 << 20},
                    directory_cache_files(dir.path.string()));
  const auto other = test_grant(9);
  EXPECT_EQ(again.get(other, a.ref), nullptr);
}

TEST(ChunkCache, BypassKeepsNothingAndPinnedEntriesSurviveOrganicTraffic) {
  const auto g = test_grant();
  {
    temp_dir dir;
    chunk_cache cache(cache_mode::bypass, {1 << 20, 1 << 20},
                      directory_cache_files(dir.path.string()));
    const auto a = make_chunk(g, 1);
    EXPECT_FALSE(cache.put(g, a.ref, a.plain).admitted);
    EXPECT_EQ(cache.get(g, a.ref), nullptr);
    EXPECT_TRUE(dir.files().empty());
  }
  temp_dir dir;
  const auto probe = make_chunk(g, 0);
  const std::uint64_t file_bytes = [&] {
    temp_dir d;
    chunk_cache c(cache_mode::organic, {1 << 20, 1 << 20}, directory_cache_files(d.path.string()));
    c.put(g, probe.ref, probe.plain);
    return c.stats().l2.bytes;
  }();
  // Room for four files in L2; L1 holds one chunk.
  chunk_cache cache(cache_mode::pinned, {probe.plain->size(), 4 * file_bytes},
                    directory_cache_files(dir.path.string()));
  const auto s1 = make_chunk(g, 1), s2 = make_chunk(g, 2);
  EXPECT_TRUE(cache.put(g, s1.ref, s1.plain, true).admitted);
  EXPECT_TRUE(cache.put(g, s2.ref, s2.plain, true).admitted);
  for (int i = 10; i < 30; ++i) {
    const auto c = make_chunk(g, i);
    EXPECT_TRUE(cache.put(g, c.ref, c.plain).admitted);
  }
  EXPECT_TRUE(cache.pinned(s1.ref));
  EXPECT_TRUE(cache.pinned(s2.ref));
  EXPECT_EQ(dir.files().size(), 4u);
  EXPECT_LE(cache.stats().l2.bytes, 4 * file_bytes);
  EXPECT_LE(cache.stats().l1.bytes, probe.plain->size());
  // Staging more than L2 can pin is refused, with the room it needs.
  const auto s3 = make_chunk(g, 3), s4 = make_chunk(g, 4), s5 = make_chunk(g, 5);
  EXPECT_TRUE(cache.put(g, s3.ref, s3.plain, true).admitted);
  EXPECT_TRUE(cache.put(g, s4.ref, s4.plain, true).admitted);
  const auto refused = cache.put(g, s5.ref, s5.plain, true);
  EXPECT_FALSE(refused.admitted);
  EXPECT_NE(refused.refused.find("more bytes needed"), std::string::npos) << refused.refused;
  cache.release_pins();
  EXPECT_FALSE(cache.pinned(s1.ref));
  EXPECT_TRUE(cache.put(g, s5.ref, s5.plain, true).admitted);
}

/// An in-memory directory on a file system of `capacity` bytes, of which
/// `others` are used by someone else (they change under the cache).
struct memory_files final : cache_files {
  std::map<std::string, std::vector<std::uint8_t>>* files;
  std::uint64_t* capacity;
  std::uint64_t* others;
  std::uint64_t used() const {
    std::uint64_t n = *others;
    for (const auto& [name, bytes] : *files) n += bytes.size();
    return n;
  }
  int write(const std::string& name, std::span<const std::uint8_t> bytes) override {
    const auto old = files->count(name) ? (*files)[name].size() : 0;
    if (used() - old + bytes.size() > *capacity) return ENOSPC;
    (*files)[name].assign(bytes.begin(), bytes.end());
    return 0;
  }
  std::optional<std::vector<std::uint8_t>> read(const std::string& name) const override {
    const auto it = files->find(name);
    if (it == files->end()) return std::nullopt;
    return it->second;
  }
  void remove(const std::string& name) override { files->erase(name); }
  std::vector<listed> list() override {
    std::vector<listed> out;
    for (const auto& [name, bytes] : *files) out.push_back({name, bytes.size(), 0});
    return out;
  }
};

RC_GTEST_PROP(ChunkCache, AFullDirectoryNeverFailsAReadAndFilesMatchThePolicy, ()) {
  const auto g = test_grant();
  std::map<std::string, std::vector<std::uint8_t>> files;
  const std::uint64_t file_bytes = [&] {
    std::uint64_t cap = 1ull << 30, others = 0;
    std::map<std::string, std::vector<std::uint8_t>> f;
    auto m = std::make_unique<memory_files>();
    m->files = &f, m->capacity = &cap, m->others = &others;
    chunk_cache c(cache_mode::organic, {0, 1ull << 30}, std::move(m));
    const auto x = make_chunk(g, 0, 4096);
    c.put(g, x.ref, x.plain);
    return c.stats().l2.bytes;
  }();
  std::uint64_t capacity = *rc::gen::inRange<std::uint64_t>(0, 12) * file_bytes;
  std::uint64_t others = 0;
  const auto mode = *rc::gen::element(cache_mode::organic, cache_mode::pinned);
  auto m = std::make_unique<memory_files>();
  m->files = &files, m->capacity = &capacity, m->others = &others;
  chunk_cache cache(mode,
                    {*rc::gen::inRange<std::uint64_t>(0, 5) * 4096,
                     *rc::gen::inRange<std::uint64_t>(1, 10) * file_bytes},
                    std::move(m));
  const auto steps = *rc::gen::inRange(1, 80);
  for (int i = 0; i < steps; ++i) {
    const auto c = make_chunk(g, *rc::gen::inRange(0, 16), 4096);
    switch (*rc::gen::inRange(0, 5)) {
      case 0:
      case 1:
        cache.put(g, c.ref, c.plain, *rc::gen::arbitrary<bool>());
        break;
      case 2: {
        const auto got = cache.get(g, c.ref);
        if (got) RC_ASSERT(*got == *c.plain);  // CH2: right bytes or none
        break;
      }
      case 3:
        others = *rc::gen::inRange<std::uint64_t>(0, capacity + 1);
        break;
      default:
        if (!files.empty()) {  // a bit flips on the disk
          auto& victim =
              std::next(files.begin(), *rc::gen::inRange<std::size_t>(0, files.size()))->second;
          victim[*rc::gen::inRange<std::size_t>(0, victim.size())] ^= 0x40;
        }
    }
    // CH4: the directory holds exactly the policy's L2 entries.
    const auto s = cache.stats();
    RC_ASSERT(s.l2.entries == files.size());
    std::uint64_t bytes = 0;
    for (const auto& [name, f] : files) bytes += f.size();
    RC_ASSERT(s.l2.bytes == bytes);
    RC_ASSERT(s.l2.bytes <= s.l2.bound);
    RC_ASSERT(s.l1.bytes <= s.l1.bound);
  }
}

// A real ENOSPC: L2 on a 1 MiB tmpfs whose bound says 64 MiB. Reads keep
// working, the directory never overflows, and the no-space answers are
// counted. Needs root (the suite runs as root); skipped elsewhere.
TEST(ChunkCache, ATmpfsThatFillsUpMakesRoomInsteadOfFailing) {
  temp_dir dir;
  if (::mount("cairn-l2", dir.path.c_str(), "tmpfs", 0, "size=1m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno) << "): needs root";
  struct unmount {
    const fs::path& p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } guard{dir.path};
  const auto g = test_grant();
  chunk_cache cache(cache_mode::organic, {64 << 10, 64 << 20},
                    directory_cache_files(dir.path.string()));
  for (int i = 0; i < 40; ++i) {
    const auto c = make_chunk(g, i, 64 * 1024);
    cache.put(g, c.ref, c.plain);
    const auto got = cache.get(g, c.ref);
    ASSERT_NE(got, nullptr) << "chunk " << i;  // from L1, or L2
    EXPECT_EQ(*got, *c.plain);
  }
  const auto s = cache.stats();
  EXPECT_GT(s.l2_no_space, 0u);
  EXPECT_EQ(s.l2.entries, dir.files().size());
  EXPECT_LE(s.l2.bytes, 1u << 20);
}

}  // namespace
}  // namespace cairn::fuse
