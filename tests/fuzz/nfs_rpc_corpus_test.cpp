// tests/fuzz/nfs_rpc_corpus_test.cpp — replays the seed corpus of
// nfs_rpc_fuzz (tests/fuzz/corpus/nfs_rpc/, written by
// tests/fuzz/make_nfs_rpc_seeds.py) through the harness in every build:
// nothing crashes, and every seed named "call-*" is a call whose arguments
// decode, so fuzzing starts from inputs that reach the procedure decoders.
// Crash reproducers found by fuzzing belong in the same directory.
//
// Owner: tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

int cairn_nfs_fuzz_one(const std::uint8_t* data, std::size_t size);

namespace {

TEST(NfsRpcCorpus, EverySeedRunsAndCallSeedsDecode) {
  const std::filesystem::path dir =
      std::filesystem::path(CAIRN_SOURCE_DIR) / "tests/fuzz/corpus/nfs_rpc";
  std::size_t seeds = 0, calls = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const int depth =
        cairn_nfs_fuzz_one(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++seeds;
    if (entry.path().filename().string().starts_with("call-")) {
      ++calls;
      EXPECT_EQ(depth, 3) << entry.path().filename() << ": its arguments should decode";
    }
  }
  EXPECT_GE(seeds, 20u);
  EXPECT_GE(calls, 20u);
}

}  // namespace
