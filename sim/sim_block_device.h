// sim/sim_block_device.h — a simulated chunk device: memory blocks with a
// volatile cache, crashes that lose or tear unsynced writes, and injected
// media faults (bit flips, read errors, misdirected writes, a vanished
// device).
//
// Owner: the simulator and the device tests (one per simulated device,
// outliving the device core that uses it). Deterministic: every random
// choice comes from the seed given at construction.
// Invariants:
//  SB1. durable bytes change only in sync(), crash() and injected faults.
//  SB2. After crash(), each write since the last sync is, independently,
//       kept whole, lost, or torn (a prefix of its blocks kept, and the
//       block at the cut holding a mix of old and new bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "actors/chunk/block_device.h"

namespace cairn::sim {

class sim_block_device final : public chunk::block_device {
 public:
  sim_block_device(std::uint64_t size_bytes, std::uint64_t seed);

  std::uint64_t size_bytes() const override { return current_.size(); }
  chunk::io_result write(std::span<const chunk::write_request> requests) override;
  chunk::io_result read(std::span<chunk::read_request> requests) override;
  chunk::io_result sync() override;

  // --- faults ---------------------------------------------------------------
  /// Power loss: the volatile cache is lost (SB2).
  void crash();
  /// Flips one bit of the stored bytes (durable and cached alike).
  void flip_bit(std::uint64_t byte_offset, unsigned bit);
  /// Reads touching this block fail with io_error until the block is
  /// written again (a drive remaps the sector) or cleared.
  void fail_reads_of_block(std::uint64_t block_index) { bad_blocks_.insert(block_index); }
  void clear_read_failures() { bad_blocks_.clear(); }
  /// The next write request lands this many bytes away from its offset.
  void misdirect_next_write(std::int64_t delta_bytes) { misdirect_ = delta_bytes; }
  /// The next write request lands at this device offset instead of its own
  /// (a firmware bug or a wrong LBA: the drive acknowledges it as written).
  void misdirect_next_write_to(std::uint64_t offset) { misdirect_to_ = offset; }
  struct misdirected_write {
    std::uint64_t intended = 0;
    std::uint64_t landed = 0;
    std::uint64_t bytes = 0;
  };
  /// The last misdirected write, if any happened since the last call.
  std::optional<misdirected_write> take_misdirected() {
    auto out = last_misdirected_;
    last_misdirected_.reset();
    return out;
  }
  /// Every later operation fails with `gone`.
  void vanish() { gone_ = true; }
  /// The next sync() fails (and, like a real failed fsync, leaves the
  /// cache's fate unknown: it may or may not have reached the media).
  void fail_next_sync() { fail_sync_ = true; }

  std::uint64_t writes() const { return writes_; }
  std::uint64_t syncs() const { return syncs_; }

 private:
  struct pending_write {
    std::uint64_t offset;
    std::vector<std::uint8_t> bytes;
  };
  std::uint64_t next_random();
  bool valid(std::uint64_t offset, std::uint64_t length, const void* buffer) const;

  std::vector<std::uint8_t> durable_;
  std::vector<std::uint8_t> current_;  // durable + cache
  std::vector<pending_write> pending_;
  std::set<std::uint64_t> bad_blocks_;
  std::int64_t misdirect_ = 0;
  std::optional<std::uint64_t> misdirect_to_;
  std::optional<misdirected_write> last_misdirected_;
  bool gone_ = false;
  bool fail_sync_ = false;
  std::uint64_t random_state_;
  std::uint64_t writes_ = 0;
  std::uint64_t syncs_ = 0;
};

}  // namespace cairn::sim
