// actors/keys/random_source.cpp — see random_source.h.
#include "actors/keys/random_source.h"

namespace cairn::keys {

// splitmix64 (Steele, Lea, Flood 2014): a Weyl sequence through a 64-bit
// finaliser; every seed gives a full-period stream.
std::uint64_t deterministic_random_source::next_word() {
  state_ += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void deterministic_random_source::fill(std::span<std::uint8_t> out) {
  for (std::uint8_t& byte : out) {
    if (buffered_bytes_ == 0) {
      buffered_word_ = next_word();
      buffered_bytes_ = 8;
    }
    byte = static_cast<std::uint8_t>(buffered_word_);
    buffered_word_ >>= 8;
    --buffered_bytes_;
  }
}

}  // namespace cairn::keys
