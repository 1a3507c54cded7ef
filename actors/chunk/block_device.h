// actors/chunk/block_device.h — what a chunk device core needs from the
// storage under it: aligned, batched reads and writes and a sync.
//
// Owner: interface; implemented by runtime/file_block_device (O_DIRECT
// through io_uring, pread/pwrite fallback) and by the simulator's faulty
// in-memory device. Called only from the device actor's thread.
//
// Contract:
//  BD1. Offsets, lengths and buffer addresses are multiples of block_bytes
//       (record.h); a request that is not, or that ends past size_bytes(),
//       is refused with io_result::invalid and touches nothing.
//  BD2. Data written is durable only after a later sync() returns ok; a
//       crash may lose or tear any write not covered by one.
//  BD3. A failed sync() leaves durability unknown: the caller must stop
//       trusting unsynced state (never retry fsync and carry on).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <string_view>

#include "actors/chunk/record.h"

namespace cairn::chunk {

enum class io_result : std::uint8_t {
  ok,
  invalid,   // misaligned or out of range (BD1): a bug in the caller
  io_error,  // the device reported an error for this request
  gone,      // the device vanished (file removed, disk pulled)
};
std::string_view to_string(io_result r);

struct write_request {
  std::uint64_t offset = 0;
  std::span<const std::uint8_t> bytes;
};

struct read_request {
  std::uint64_t offset = 0;
  std::span<std::uint8_t> bytes;
  io_result result = io_result::ok;  // set per request by read()
};

class block_device {
 public:
  virtual ~block_device() = default;
  virtual std::uint64_t size_bytes() const = 0;
  /// Writes every request (in any order, possibly in parallel); ok only if
  /// all of them were written in full.
  virtual io_result write(std::span<const write_request> requests) = 0;
  /// Reads every request; each request's own result says whether its bytes
  /// are valid; the return value is the first failure, or ok.
  virtual io_result read(std::span<read_request> requests) = 0;
  virtual io_result sync() = 0;

  /// Streaming writes: submit_write() may start a write at once and return
  /// before it is done (the caller keeps `request.bytes` alive and
  /// unchanged until complete_writes()); complete_writes() waits for every
  /// write submitted since the last call and returns the first failure (ok
  /// if all were written in full). Lets a caller prepare the next record
  /// while the device writes the previous one. BD1-BD3 hold as for write().
  /// The default writes synchronously.
  virtual io_result submit_write(const write_request& request) {
    const auto r = write({&request, 1});
    if (streamed_ == io_result::ok) streamed_ = r;
    return r;
  }
  virtual io_result complete_writes() {
    const auto r = streamed_;
    streamed_ = io_result::ok;
    return r;
  }

 protected:
  io_result streamed_ = io_result::ok;
};

/// A heap buffer aligned to block_bytes, as O_DIRECT needs.
class aligned_buffer {
 public:
  aligned_buffer() = default;
  explicit aligned_buffer(std::uint64_t bytes)
      : size_(bytes),
        data_(static_cast<std::uint8_t*>(std::aligned_alloc(block_bytes, rounded(bytes)))) {
    if (!data_) throw std::bad_alloc();
  }
  std::uint8_t* data() { return data_.get(); }
  const std::uint8_t* data() const { return data_.get(); }
  std::uint64_t size() const { return size_; }
  std::span<std::uint8_t> span() { return {data_.get(), size_}; }
  std::span<const std::uint8_t> span() const { return {data_.get(), size_}; }

 private:
  static std::uint64_t rounded(std::uint64_t bytes) {
    const std::uint64_t blocks = (bytes + block_bytes - 1) / block_bytes;
    return (blocks == 0 ? 1 : blocks) * block_bytes;
  }
  struct free_deleter {
    void operator()(std::uint8_t* p) const { std::free(p); }
  };
  std::uint64_t size_ = 0;
  std::unique_ptr<std::uint8_t, free_deleter> data_;
};

}  // namespace cairn::chunk
