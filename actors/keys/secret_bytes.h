// actors/keys/secret_bytes.h — an owned buffer of key material that is
// overwritten (OPENSSL_cleanse) when it is destroyed, moved from or
// reassigned.
//
// Owner: whoever holds a key: the key manager core (tenant keys), the
// internal key provider (the node master key), a gateway session (a derived
// chunk key for the time of one chunk). Not thread-safe; a value type that
// is moved, not shared.
//
// Invariants:
//  SB1. The bytes live in one heap allocation of fixed size, made at
//       construction; nothing reallocates them, so no stale copy is left
//       behind by growth (unlike std::vector or std::string).
//  SB2. Every allocation is cleansed before it is freed; a moved-from value
//       is empty.
//  SB3. There is no implicit copy and no operator<<: a key is copied only by
//       an explicit clone() and cannot be streamed into a log by accident.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace cairn::keys {

class secret_bytes {
 public:
  secret_bytes() = default;
  /// `size` zero bytes, to be filled through writable().
  explicit secret_bytes(std::size_t size);
  /// A copy of `bytes` (for example a test vector or a key read from a file).
  static secret_bytes copy_of(std::span<const std::uint8_t> bytes);

  secret_bytes(secret_bytes&& other) noexcept;
  secret_bytes& operator=(secret_bytes&& other) noexcept;
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
  ~secret_bytes();

  /// An explicit copy: the only way to duplicate key material.
  secret_bytes clone() const;

  std::span<const std::uint8_t> bytes() const { return {data_.get(), size_}; }
  std::span<std::uint8_t> writable() { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  /// Cleanses and frees the bytes now; the value becomes empty.
  void clear() noexcept;

  /// Constant-time comparison of contents (CRYPTO_memcmp): the time taken
  /// depends on the sizes only.
  friend bool operator==(const secret_bytes& a, const secret_bytes& b);

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
};

}  // namespace cairn::keys
