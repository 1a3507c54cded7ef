// actors/keys/secret_bytes.cpp — see secret_bytes.h.
#include "actors/keys/secret_bytes.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

namespace cairn::keys {

secret_bytes::secret_bytes(std::size_t size)
    : data_(size == 0 ? nullptr : new std::uint8_t[size]()), size_(size) {}

secret_bytes secret_bytes::copy_of(std::span<const std::uint8_t> bytes) {
  secret_bytes s(bytes.size());
  std::copy(bytes.begin(), bytes.end(), s.data_.get());
  return s;
}

secret_bytes::secret_bytes(secret_bytes&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

secret_bytes& secret_bytes::operator=(secret_bytes&& other) noexcept {
  if (this != &other) {
    clear();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

secret_bytes::~secret_bytes() {
  clear();
}

secret_bytes secret_bytes::clone() const {
  return copy_of(bytes());
}

void secret_bytes::clear() noexcept {
  if (data_) OPENSSL_cleanse(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

bool operator==(const secret_bytes& a, const secret_bytes& b) {
  if (a.size_ != b.size_) return false;
  if (a.size_ == 0) return true;
  return CRYPTO_memcmp(a.data_.get(), b.data_.get(), a.size_) == 0;
}

}  // namespace cairn::keys
