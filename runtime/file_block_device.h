// runtime/file_block_device.h — a chunk device's storage: a regular file or
// a raw block device, written with O_DIRECT through io_uring.
//
// Owner: runtime; one instance per chunk device actor, used only from that
// actor's thread (not thread-safe).
//
// Modes, chosen at open and reported by mode():
//  - io_uring + O_DIRECT (production);
//  - pread/pwrite + O_DIRECT when io_uring is refused (seccomp'd
//    containers, io_uring disabled by sysctl, old kernels);
//  - buffered (no O_DIRECT) when the filesystem refuses O_DIRECT (tmpfs):
//    only for tests; durability still comes from fdatasync.
// A batch is submitted at once (up to queue_depth in flight) and waited
// for; sync() is fdatasync. Contract BD1-BD3 in actors/chunk/block_device.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actors/chunk/block_device.h"

namespace cairn::runtime {

enum class block_io_mode : std::uint8_t { uring_direct, pread_direct, buffered };
std::string_view to_string(block_io_mode m);

struct file_block_device_options {
  /// Create the file with this size if it does not exist (regular files
  /// only; 0 = the file must exist). Rounded down to whole blocks.
  std::uint64_t create_bytes = 0;
  /// Never use io_uring (tests of the fallback path; CAIRN_NO_IO_URING=1
  /// sets it for a whole process).
  bool disable_uring = false;
  unsigned queue_depth = 64;
};

class file_block_device final : public chunk::block_device {
 public:
  /// Throws std::runtime_error naming the path and the reason when the file
  /// cannot be opened or created.
  file_block_device(const std::string& path, const file_block_device_options& options);
  ~file_block_device() override;
  file_block_device(const file_block_device&) = delete;
  file_block_device& operator=(const file_block_device&) = delete;

  std::uint64_t size_bytes() const override { return size_; }
  chunk::io_result write(std::span<const chunk::write_request> requests) override;
  chunk::io_result read(std::span<chunk::read_request> requests) override;
  chunk::io_result sync() override;
  /// Through io_uring: queued and submitted at once (no wait) up to the
  /// queue depth, reaping the oldest completions when it is full.
  chunk::io_result submit_write(const chunk::write_request& request) override;
  chunk::io_result complete_writes() override;

  block_io_mode mode() const { return mode_; }
  const std::string& path() const { return path_; }

 private:
  struct uring;
  bool valid(std::uint64_t offset, std::uint64_t length, const void* buffer) const;
  chunk::io_result classify(int error) const;
  /// Writes the rest of a short write synchronously; ok or the failure.
  chunk::io_result finish_write(const chunk::write_request& r, std::uint64_t written);
  /// Waits for one streamed write and notes its result.
  chunk::io_result reap_one();

  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  block_io_mode mode_ = block_io_mode::buffered;
  std::unique_ptr<uring> ring_;
  /// Streamed writes in flight (by slot: user data of their SQEs).
  std::vector<chunk::write_request> stream_;
  unsigned stream_in_flight_ = 0;
};

}  // namespace cairn::runtime
