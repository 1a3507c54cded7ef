// gateways/nfs/handles.cpp — see handles.h.
#include "gateways/nfs/handles.h"

#include <openssl/crypto.h>

#include "actors/keys/crypto.h"

namespace cairn::nfs {

namespace {

constexpr std::size_t mac_at = 20;  // version, 3 zero bytes, bucket, inode
constexpr std::size_t mac_bytes = handle_bytes - mac_at;

void put_be64(std::string& out, std::size_t at, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[at + static_cast<std::size_t>(i)] = static_cast<char>(v);
}

std::uint64_t get_be64(std::string_view in, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::uint32_t export_tag(std::string_view export_path) {
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (const char ch : export_path) h = (h ^ static_cast<unsigned char>(ch)) * 16777619u;
  return h & 0xffffff;
}

handle_codec::handle_codec(keys::secret_bytes key) : key_(std::move(key)), mac_(key_.bytes()) {}

handle_codec handle_codec::from_cluster_key(std::span<const std::uint8_t> cluster_key) {
  static constexpr std::string_view label = "cairn nfs file handles";
  return handle_codec(keys::hkdf_sha256(cluster_key, {}, as_bytes(label), 32));
}

std::string handle_codec::mint(handle_target target) const {
  std::string h(handle_bytes, '\0');
  h[0] = static_cast<char>(handle_format);
  h[1] = static_cast<char>(target.export_tag >> 16);
  h[2] = static_cast<char>(target.export_tag >> 8);
  h[3] = static_cast<char>(target.export_tag);
  put_be64(h, 4, target.bucket);
  put_be64(h, 12, target.inode);
  const auto mac = mac_.digest(as_bytes(std::string_view(h).substr(0, mac_at)));
  h.replace(mac_at, mac_bytes, reinterpret_cast<const char*>(mac.data()), mac_bytes);
  return h;
}

std::optional<handle_target> handle_codec::verify(std::string_view handle) const {
  if (handle.size() != handle_bytes || static_cast<std::uint8_t>(handle[0]) != handle_format)
    return std::nullopt;
  const auto mac = mac_.digest(as_bytes(handle.substr(0, mac_at)));
  if (CRYPTO_memcmp(mac.data(), handle.data() + mac_at, mac_bytes) != 0) return std::nullopt;
  const auto byte = [&](std::size_t i) {
    return std::uint32_t{static_cast<unsigned char>(handle[i])};
  };
  return handle_target{get_be64(handle, 4), get_be64(handle, 12),
                       (byte(1) << 16) | (byte(2) << 8) | byte(3)};
}

}  // namespace cairn::nfs
