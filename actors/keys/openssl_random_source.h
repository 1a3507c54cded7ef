// actors/keys/openssl_random_source.h — the production random_source:
// OpenSSL's CSPRNG (RAND_bytes, seeded from the operating system).
//
// Owner: the runtime (runtime/), which constructs one per key manager actor
// and injects it; pure cores and the simulator never use it. Thread-safe
// (OpenSSL's DRBGs are per thread), though each owner calls it alone.
//
// Invariants:
//  OR1. fill() returns only after RAND_bytes succeeded for every byte;
//       otherwise it cleanses the span and throws crypto_failure.
#pragma once

#include "actors/keys/random_source.h"

namespace cairn::keys {

class openssl_random_source final : public random_source {
 public:
  void fill(std::span<std::uint8_t> out) override;
};

}  // namespace cairn::keys
