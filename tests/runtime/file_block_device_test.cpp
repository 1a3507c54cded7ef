// tests/runtime/file_block_device_test.cpp — the chunk device's storage on a
// real file: batched O_DIRECT writes and reads through io_uring and through
// the pread/pwrite fallback, the alignment and range contract (BD1), reopen.
// The file lives in $TMPDIR (or /var/tmp); on tmpfs the device runs buffered.
#include "runtime/file_block_device.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <random>

namespace cairn::runtime {
namespace {

using chunk::aligned_buffer;
using chunk::block_bytes;
using chunk::io_result;

class FileBlockDevice : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::filesystem::path(tmp ? tmp : "/var/tmp") /
           ("cairn-fbd-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "device").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  file_block_device_options options(std::uint64_t create_bytes) const {
    file_block_device_options o;
    o.create_bytes = create_bytes;
    o.disable_uring = GetParam();
    o.queue_depth = 4;  // smaller than the batches below: several rounds
    return o;
  }

  std::filesystem::path dir_;
  std::string path_;
};

void fill(aligned_buffer& b, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < b.size(); ++i) b.data()[i] = static_cast<std::uint8_t>(rng());
}

TEST_P(FileBlockDevice, ABatchOfWritesReadsBackAfterSyncAndReopen) {
  constexpr std::uint64_t size = 8 << 20;
  std::vector<aligned_buffer> buffers;
  std::vector<chunk::write_request> writes;
  for (std::uint64_t i = 0; i < 10; ++i) {
    buffers.emplace_back((i + 1) * block_bytes);
    fill(buffers.back(), i);
  }
  for (std::uint64_t i = 0; i < 10; ++i) writes.push_back({i * 512 * 1024, buffers[i].span()});
  {
    file_block_device dev(path_, options(size));
    EXPECT_EQ(dev.size_bytes(), size);
    if (GetParam()) {
      EXPECT_NE(dev.mode(), block_io_mode::uring_direct);
    }
    std::cout << "mode: " << to_string(dev.mode()) << "\n";
    ASSERT_EQ(dev.write(writes), io_result::ok);
    ASSERT_EQ(dev.sync(), io_result::ok);
  }
  file_block_device dev(path_, options(0));
  EXPECT_EQ(dev.size_bytes(), size);
  std::vector<aligned_buffer> back;
  std::vector<chunk::read_request> reads;
  for (std::uint64_t i = 0; i < 10; ++i) back.emplace_back((i + 1) * block_bytes);
  for (std::uint64_t i = 0; i < 10; ++i) reads.push_back({i * 512 * 1024, back[i].span()});
  ASSERT_EQ(dev.read(reads), io_result::ok);
  for (std::uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(reads[i].result, io_result::ok);
    EXPECT_EQ(std::memcmp(back[i].data(), buffers[i].data(), buffers[i].size()), 0) << i;
  }
}

TEST_P(FileBlockDevice, StreamedWritesBeyondTheQueueDepthAllLandAndFailuresAreReported) {
  constexpr std::uint64_t size = 8 << 20;
  std::vector<aligned_buffer> buffers;
  for (std::uint64_t i = 0; i < 11; ++i) {  // more than the queue depth of 4
    buffers.emplace_back((i % 3 + 1) * block_bytes);
    fill(buffers.back(), 100 + i);
  }
  {
    file_block_device dev(path_, options(size));
    for (std::uint64_t i = 0; i < buffers.size(); ++i)
      ASSERT_EQ(dev.submit_write({i * 256 * 1024, buffers[i].span()}), io_result::ok);
    ASSERT_EQ(dev.complete_writes(), io_result::ok);
    ASSERT_EQ(dev.sync(), io_result::ok);
    // A bad request among good ones: the good ones land, completion says so.
    EXPECT_EQ(dev.submit_write({size, buffers[0].span()}), io_result::invalid);
    EXPECT_EQ(dev.submit_write({5 * block_bytes, buffers[1].span()}), io_result::ok);
    EXPECT_EQ(dev.complete_writes(), io_result::invalid);
    EXPECT_EQ(dev.complete_writes(), io_result::ok) << "a completion reports each failure once";
    ASSERT_EQ(dev.sync(), io_result::ok);
  }
  file_block_device dev(path_, options(0));
  for (std::uint64_t i = 0; i < buffers.size(); ++i) {
    aligned_buffer back(buffers[i].size());
    std::array<chunk::read_request, 1> r{{{i * 256 * 1024, back.span()}}};
    ASSERT_EQ(dev.read(r), io_result::ok);
    EXPECT_EQ(std::memcmp(back.data(), buffers[i].data(), back.size()), 0) << "write " << i;
  }
}

TEST_P(FileBlockDevice, MisalignedOrOutOfRangeRequestsAreRefusedAndWriteNothing) {
  file_block_device dev(path_, options(1 << 20));
  aligned_buffer good(block_bytes);
  fill(good, 1);
  aligned_buffer zeros(block_bytes);
  std::memset(zeros.data(), 0, block_bytes);
  ASSERT_EQ(dev.write(std::vector<chunk::write_request>{{0, zeros.span()}}), io_result::ok);
  // A batch with one bad request is refused as a whole (BD1).
  std::vector<chunk::write_request> batch{{0, good.span()}, {100, good.span()}};
  EXPECT_EQ(dev.write(batch), io_result::invalid);
  EXPECT_EQ(dev.write(std::vector<chunk::write_request>{{1 << 20, good.span()}}),
            io_result::invalid);
  EXPECT_EQ(dev.write(std::vector<chunk::write_request>{{0, good.span().first(100)}}),
            io_result::invalid);
  aligned_buffer back(block_bytes);
  std::vector<chunk::read_request> reads{{0, back.span()}, {(1 << 20) - 1, back.span()}};
  EXPECT_EQ(dev.read(reads), io_result::invalid);
  EXPECT_EQ(reads[0].result, io_result::ok);
  EXPECT_EQ(reads[1].result, io_result::invalid);
  EXPECT_EQ(std::memcmp(back.data(), zeros.data(), block_bytes), 0);  // nothing was written
}

TEST_P(FileBlockDevice, AMissingDeviceIsAClearError) {
  try {
    file_block_device dev(path_ + "-absent", options(0));
    FAIL() << "opened a missing device";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("-absent"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, FileBlockDevice, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "pread" : "io_uring"; });

}  // namespace
}  // namespace cairn::runtime
