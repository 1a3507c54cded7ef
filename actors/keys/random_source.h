// actors/keys/random_source.h — where key material and wrapping nonces get
// their randomness: an interface injected into the key manager core and the
// internal key provider, and a deterministic implementation for tests and
// the simulator.
//
// Owner: the host of the key manager core passes one in. The production
// implementation is openssl_random_source (openssl_random_source.h, the
// runtime's); the simulator and tests use deterministic_random_source so
// that a seed replays the same keys and records. Not thread-safe: one owner
// calls fill().
//
// Invariants:
//  RS1. fill() writes every byte of its span or throws; it never returns
//       with the span partly written.
//  RS2. deterministic_random_source: the same seed gives the same byte
//       stream, independent of how the stream is cut into fill() calls.
#pragma once

#include <cstdint>
#include <span>

namespace cairn::keys {

class random_source {
 public:
  virtual ~random_source() = default;
  /// Fills `out` with random bytes (RS1).
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

/// A seeded splitmix64 stream. NOT cryptographic: anyone who sees a few
/// outputs can predict the rest. For tests and the simulator only; the
/// runtime never constructs one.
class deterministic_random_source final : public random_source {
 public:
  explicit deterministic_random_source(std::uint64_t seed) : state_(seed) {}
  void fill(std::span<std::uint8_t> out) override;

 private:
  std::uint64_t next_word();

  std::uint64_t state_;
  // Bytes of the last word not handed out yet (RS2).
  std::uint64_t buffered_word_ = 0;
  unsigned buffered_bytes_ = 0;
};

}  // namespace cairn::keys
