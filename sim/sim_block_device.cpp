// sim/sim_block_device.cpp — see sim_block_device.h.
#include "sim/sim_block_device.h"

#include <algorithm>
#include <cstring>

namespace cairn::sim {

using chunk::block_bytes;
using chunk::io_result;

sim_block_device::sim_block_device(std::uint64_t size_bytes, std::uint64_t seed)
    : durable_(size_bytes / block_bytes * block_bytes, 0),
      current_(durable_),
      random_state_(seed) {}

std::uint64_t sim_block_device::next_random() {  // splitmix64
  std::uint64_t z = (random_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool sim_block_device::valid(std::uint64_t offset, std::uint64_t length, const void* buffer) const {
  return offset % block_bytes == 0 && length % block_bytes == 0 &&
         reinterpret_cast<std::uintptr_t>(buffer) % block_bytes == 0 && offset <= current_.size() &&
         length <= current_.size() - offset;
}

io_result sim_block_device::write(std::span<const chunk::write_request> requests) {
  if (gone_) return io_result::gone;
  for (const auto& r : requests)
    if (!valid(r.offset, r.bytes.size(), r.bytes.data())) return io_result::invalid;
  for (const auto& r : requests) {
    std::uint64_t offset = r.offset;
    if (misdirect_ != 0) {
      const auto target = static_cast<std::int64_t>(offset) + misdirect_;
      misdirect_ = 0;
      if (target >= 0 && static_cast<std::uint64_t>(target) + r.bytes.size() <= current_.size())
        offset = static_cast<std::uint64_t>(target);
    } else if (misdirect_to_) {
      if (*misdirect_to_ + r.bytes.size() <= current_.size() && *misdirect_to_ % block_bytes == 0)
        offset = *misdirect_to_;
      misdirect_to_.reset();
    }
    if (offset != r.offset) last_misdirected_ = misdirected_write{r.offset, offset, r.bytes.size()};
    std::memcpy(current_.data() + offset, r.bytes.data(), r.bytes.size());
    // A drive remaps a sector with a media error when it is written again.
    for (std::uint64_t b = offset / block_bytes; b < (offset + r.bytes.size()) / block_bytes; ++b)
      bad_blocks_.erase(b);
    pending_.push_back({offset, std::vector<std::uint8_t>(r.bytes.begin(), r.bytes.end())});
    ++writes_;
  }
  return io_result::ok;
}

io_result sim_block_device::read(std::span<chunk::read_request> requests) {
  io_result first = io_result::ok;
  for (auto& r : requests) {
    if (gone_) {
      r.result = io_result::gone;
    } else if (!valid(r.offset, r.bytes.size(), r.bytes.data())) {
      r.result = io_result::invalid;
    } else {
      r.result = io_result::ok;
      for (std::uint64_t b = r.offset / block_bytes; b < (r.offset + r.bytes.size()) / block_bytes;
           ++b)
        if (bad_blocks_.count(b)) r.result = io_result::io_error;
      if (r.result == io_result::ok)
        std::memcpy(r.bytes.data(), current_.data() + r.offset, r.bytes.size());
    }
    if (first == io_result::ok) first = r.result;
  }
  return first;
}

io_result sim_block_device::sync() {
  if (gone_) return io_result::gone;
  ++syncs_;
  if (fail_sync_) {
    fail_sync_ = false;
    return io_result::io_error;
  }
  // Only what changed since the last sync is copied (a whole-device copy
  // per sync would make every simulated fsync cost megabytes).
  for (const auto& w : pending_)
    std::memcpy(durable_.data() + w.offset, w.bytes.data(), w.bytes.size());
  pending_.clear();
  return io_result::ok;
}

void sim_block_device::crash() {
  std::vector<std::uint8_t> after = durable_;
  for (const auto& w : pending_) {
    switch (next_random() % 3) {
      case 0:  // lost
        break;
      case 1:  // kept whole
        std::memcpy(after.data() + w.offset, w.bytes.data(), w.bytes.size());
        break;
      default: {  // torn: some whole blocks, then a block cut mid-way
        const std::uint64_t blocks = w.bytes.size() / block_bytes;
        const std::uint64_t keep = next_random() % (blocks + 1);
        std::memcpy(after.data() + w.offset, w.bytes.data(), keep * block_bytes);
        if (keep < blocks) {
          const std::uint64_t cut = next_random() % block_bytes;
          std::memcpy(after.data() + w.offset + keep * block_bytes,
                      w.bytes.data() + keep * block_bytes, cut);
        }
      }
    }
  }
  durable_ = std::move(after);
  current_ = durable_;
  pending_.clear();
}

void sim_block_device::flip_bit(std::uint64_t byte_offset, unsigned bit) {
  if (byte_offset >= current_.size()) return;
  const auto mask = static_cast<std::uint8_t>(1u << (bit % 8));
  durable_[byte_offset] ^= mask;
  current_[byte_offset] ^= mask;
}

}  // namespace cairn::sim
