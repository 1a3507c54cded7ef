// actors/keys/seal.cpp — see seal.h. All integers are big-endian.
#include "actors/keys/seal.h"

#include <algorithm>

#include "actors/common/assert.h"

namespace cairn::keys {

namespace {

template <std::size_t N>
class byte_writer {
 public:
  explicit byte_writer(std::array<std::uint8_t, N>& out) : out_(out) {}
  void bytes(std::span<const std::uint8_t> b) {
    CAIRN_ASSERT(at_ + b.size() <= N);
    std::copy(b.begin(), b.end(), out_.begin() + at_);
    at_ += b.size();
  }
  void be32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) byte(static_cast<std::uint8_t>(v >> shift));
  }
  void be64(std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) byte(static_cast<std::uint8_t>(v >> shift));
  }
  void byte(std::uint8_t b) {
    CAIRN_ASSERT(at_ < N);
    out_[at_++] = b;
  }
  bool full() const { return at_ == N; }

 private:
  std::array<std::uint8_t, N>& out_;
  std::size_t at_ = 0;
};

}  // namespace

chunk_id chunk_id_of(const secret_bytes& dedup_key, std::span<const std::uint8_t> plaintext) {
  CAIRN_ASSERT(dedup_key.size() == tenant_key_bytes);
  return hmac_sha256(dedup_key.bytes(), plaintext);
}

chunk_id chunk_id_of(const secret_bytes& dedup_key, std::uint64_t scope,
                     std::span<const std::uint8_t> plaintext) {
  CAIRN_ASSERT(dedup_key.size() == tenant_key_bytes);
  if (scope == 0) return chunk_id_of(dedup_key, plaintext);
  static constexpr std::string_view label = "cairn/scope";
  std::array<std::uint8_t, 8> be{};
  for (int i = 0; i < 8; ++i)
    be[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(scope >> (56 - 8 * i));
  return hmac_sha256(dedup_key.bytes(),
                     {std::span<const std::uint8_t>(
                          reinterpret_cast<const std::uint8_t*>(label.data()), label.size()),
                      be, plaintext});
}

std::array<std::uint8_t, chunk_key_info_bytes> chunk_key_info(const chunk_id& chunk,
                                                              std::uint32_t scheme) {
  std::array<std::uint8_t, chunk_key_info_bytes> info{};
  byte_writer w(info);
  w.bytes(chunk);
  w.be32(scheme);
  CAIRN_ASSERT(w.full());
  return info;
}

secret_bytes derive_chunk_key(const secret_bytes& data_key, const chunk_id& chunk,
                              std::uint32_t scheme) {
  CAIRN_ASSERT(data_key.size() == tenant_key_bytes);
  const auto info = chunk_key_info(chunk, scheme);
  return hkdf_sha256(data_key.bytes(), as_bytes(chunk_key_salt), info, chunk_key_bytes);
}

std::array<std::uint8_t, gcm_nonce_bytes> shard_nonce(std::uint32_t shard_index) {
  std::array<std::uint8_t, gcm_nonce_bytes> nonce{};
  byte_writer w(nonce);
  w.be32(shard_index);
  while (!w.full()) w.byte(0);
  return nonce;
}

std::array<std::uint8_t, shard_associated_data_bytes> shard_associated_data(
    const shard_address& address) {
  std::array<std::uint8_t, shard_associated_data_bytes> ad{};
  byte_writer w(ad);
  w.bytes(as_bytes(shard_associated_data_label));
  w.bytes(address.chunk);
  w.be32(address.index);
  w.be32(address.scheme);
  w.be64(address.epoch.value);
  CAIRN_ASSERT(w.full());
  return ad;
}

void seal_shard(const secret_bytes& chunk_key, const shard_address& address,
                std::span<const std::uint8_t> shard, std::span<std::uint8_t> sealed_out) {
  CAIRN_ASSERT(chunk_key.size() == chunk_key_bytes);
  const auto nonce = shard_nonce(address.index);
  const auto ad = shard_associated_data(address);
  aes256gcm_seal(chunk_key.bytes(), nonce, ad, shard, sealed_out);
}

std::vector<std::uint8_t> seal_shard(const secret_bytes& chunk_key, const shard_address& address,
                                     std::span<const std::uint8_t> shard) {
  std::vector<std::uint8_t> sealed(gcm_sealed_bytes(shard.size()));
  seal_shard(chunk_key, address, shard, sealed);
  return sealed;
}

open_status open_shard(const secret_bytes& chunk_key, const shard_address& address,
                       std::span<const std::uint8_t> sealed, std::span<std::uint8_t> shard_out) {
  CAIRN_ASSERT(chunk_key.size() == chunk_key_bytes);
  const auto nonce = shard_nonce(address.index);
  const auto ad = shard_associated_data(address);
  return aes256gcm_open(chunk_key.bytes(), nonce, ad, sealed, shard_out);
}

opened open_shard(const secret_bytes& chunk_key, const shard_address& address,
                  std::span<const std::uint8_t> sealed) {
  CAIRN_ASSERT(chunk_key.size() == chunk_key_bytes);
  const auto nonce = shard_nonce(address.index);
  const auto ad = shard_associated_data(address);
  return aes256gcm_open(chunk_key.bytes(), nonce, ad, sealed);
}

}  // namespace cairn::keys
