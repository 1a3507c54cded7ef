// actors/keys/openssl_random_source.cpp — see openssl_random_source.h.
#include "actors/keys/openssl_random_source.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string>

#include "actors/keys/crypto.h"

namespace cairn::keys {

void openssl_random_source::fill(std::span<std::uint8_t> out) {
  // RAND_bytes takes an int count.
  constexpr std::size_t piece_bytes_max = std::size_t{1} << 30;
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t n = std::min(piece_bytes_max, out.size() - done);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      std::array<char, 256> text{};
      ERR_error_string_n(ERR_get_error(), text.data(), text.size());
      ERR_clear_error();
      throw crypto_failure(std::string("RAND_bytes: ") + text.data());
    }
    done += n;
  }
}

}  // namespace cairn::keys
