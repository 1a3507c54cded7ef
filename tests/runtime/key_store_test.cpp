// tests/runtime/key_store_test.cpp — the node's key storage: the master key
// file (runtime/master_key_file.h, MK1-MK3) and the LMDB key store
// (runtime/lmdb_key_store.h, KS1-KS2), alone and under the key manager
// actor across a restart, with a scan for unwrapped key bytes on disk.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "actors/keys/internal_key_provider.h"
#include "actors/keys/key_manager_actor.h"
#include "actors/keys/openssl_random_source.h"
#include "runtime/lmdb_key_store.h"
#include "runtime/master_key_file.h"

namespace cairn::runtime {
namespace {

class KeyStorage : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::filesystem::path(tmp ? tmp : "/var/tmp") /
           ("cairn-keys-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void expect_refused(const std::string& path, const std::string& words) {
    keys::openssl_random_source random;
    try {
      load_or_create_master_key(path, random);
      ADD_FAILURE() << "accepted " << path;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  }

  std::filesystem::path dir_;
};

TEST_F(KeyStorage, MasterKeyFileIsCreatedPrivateOnceAndReadBack) {
  keys::openssl_random_source random;
  const auto path = (dir_ / "keys" / "master.key").string();
  auto first = load_or_create_master_key(path, random);
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.key.size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(master_key_file_bytes));
  ASSERT_EQ(::stat((dir_ / "keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto second = load_or_create_master_key(path, random);
  EXPECT_FALSE(second.created);
  EXPECT_TRUE(second.key == first.key);
}

TEST_F(KeyStorage, DamagedOrExposedMasterKeyFilesAreRefusedAndNeverReplaced) {
  keys::openssl_random_source random;
  const auto path = (dir_ / "master.key").string();
  load_or_create_master_key(path, random);
  const auto original = read_file(path);

  ::chmod(path.c_str(), 0644);
  expect_refused(path, "chmod 600");
  ::chmod(path.c_str(), 0600);

  auto flipped = original;
  flipped[20] ^= 0x10;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
  expect_refused(path, "damaged");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << original.substr(0, 40);
  expect_refused(path, "truncated");
  auto bad_magic = original;
  bad_magic[0] = 'X';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bad_magic;
  expect_refused(path, "magic");
  // None of the refusals wrote a new key over the file.
  EXPECT_EQ(read_file(path), bad_magic);
}

TEST_F(KeyStorage, LmdbStoreAppliesAtomicallyAndPersists) {
  const auto dir = (dir_ / "records").string();
  keys::key_record a{{keys::tenant_id{1}, keys::key_purpose::dedup, keys::no_epoch}, {1, 2, 3}};
  keys::key_record b{{keys::tenant_id{1}, keys::key_purpose::data, keys::first_epoch}, {4, 5}};
  keys::key_record c{{keys::tenant_id{2}, keys::key_purpose::shred_mark, keys::no_epoch}, {}};
  {
    lmdb_key_store store(dir);
    EXPECT_TRUE(store.load_all().empty());
    store.apply(keys::key_ready{{a, b}, {}});
    store.apply(keys::key_ready{{c}, {a.id}});
  }
  lmdb_key_store reopened(dir);
  const auto all = reopened.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], b);  // sorted by record id: tenant 1 data, tenant 2 mark
  EXPECT_EQ(all[1], c);
}

TEST_F(KeyStorage, KeyManagerOnLmdbKeepsKeysAcrossRestartAndWritesNoKeyInTheClear) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  const auto key_dir = dir_ / "keys";
  auto start = [&] {
    auto parts = std::make_shared<keys::key_manager_parts>();
    parts->random = std::make_unique<keys::openssl_random_source>();
    auto master = load_or_create_master_key((key_dir / "master.key").string(), *parts->random);
    parts->provider =
        std::make_unique<keys::internal_key_provider>(std::move(master.key), *parts->random);
    parts->store = std::make_unique<lmdb_key_store>((key_dir / "records").string());
    keys::load_key_manager(*parts);
    return sys.spawn<caf::detached>(keys::key_manager_actor, parts);
  };
  auto grant = [&](const caf::actor& a, std::uint64_t tenant) {
    keys::key_grant_ptr out;
    self->request(a, caf::infinite, keys::grant_atom::value, tenant, std::uint64_t{0})
        .receive(
            [&](std::uint8_t e, keys::key_grant_ptr g) {
              EXPECT_EQ(e, 0);
              out = g;
            },
            [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  };
  auto a = start();
  for (std::uint64_t t = 1; t <= 20; ++t)
    self->request(a, caf::infinite, keys::tenant_create_atom::value, t)
        .receive([](std::uint8_t e) { EXPECT_EQ(e, 0); }, [](caf::error&) { FAIL(); });
  std::vector<keys::key_grant_ptr> before;
  for (std::uint64_t t = 1; t <= 20; ++t) before.push_back(grant(a, t));
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->wait_for(a);

  // On disk: no tenant key in the clear, anywhere under the key directory.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(key_dir)) {
    if (!entry.is_regular_file()) continue;
    const auto content = read_file(entry.path());
    for (const auto& g : before) {
      ASSERT_TRUE(g);
      for (const auto* k : {&g->dedup_key, &g->data_key}) {
        const std::string needle(k->bytes().begin(), k->bytes().end());
        EXPECT_EQ(content.find(needle), std::string::npos)
            << "a key of tenant " << g->tenant.value << " in the clear in " << entry.path();
      }
    }
  }

  a = start();
  for (std::uint64_t t = 1; t <= 20; ++t) {
    const auto g = grant(a, t);
    ASSERT_TRUE(g);
    EXPECT_TRUE(g->dedup_key == before[t - 1]->dedup_key);
    EXPECT_TRUE(g->data_key == before[t - 1]->data_key);
  }
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->wait_for(a);
}

}  // namespace
}  // namespace cairn::runtime
