// tests/fuzz/s3_request_corpus_test.cpp — replays the seed corpus of
// s3_request_fuzz (tests/fuzz/corpus/s3_request/) through the harness in
// every build (no clang or libFuzzer needed): nothing crashes, and every
// seed signed by botocore or taken from the AWS documentation ("signed-*")
// passes SigV4 verification, so fuzzing starts from inputs that reach the
// body decoders. Crash reproducers found by fuzzing belong in the same
// directory.
//
// Owner: tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

int cairn_s3_fuzz_one(const std::uint8_t* data, std::size_t size);

namespace {

const std::filesystem::path corpus_dir =
    std::filesystem::path(CAIRN_SOURCE_DIR) / "tests/fuzz/corpus/s3_request";

TEST(S3RequestCorpus, EverySeedRunsAndSignedSeedsVerify) {
  std::size_t seeds = 0, signed_seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto depth =
        cairn_s3_fuzz_one(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    const auto name = entry.path().filename().string();
    EXPECT_GE(depth, 1) << name << ": not a complete HTTP request";
    if (name.starts_with("signed-")) {
      ++signed_seeds;
      EXPECT_EQ(depth, 3) << name << ": its signature or body did not verify";
    }
    ++seeds;
  }
  EXPECT_GE(seeds, 50u);
  EXPECT_GE(signed_seeds, 45u);
}

TEST(S3RequestCorpus, DamagedSeedsAreRefusedNotCrashed) {
  // Every seed with one byte flipped at a few places: the harness survives.
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::size_t at = 0; at < bytes.size(); at += 1 + bytes.size() / 16) {
      auto damaged = bytes;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
      cairn_s3_fuzz_one(reinterpret_cast<const std::uint8_t*>(damaged.data()), damaged.size());
      cairn_s3_fuzz_one(reinterpret_cast<const std::uint8_t*>(damaged.data()), at);  // truncated
    }
  }
}

}  // namespace
