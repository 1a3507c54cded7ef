// actors/chunk/stripe_codec.cpp — see stripe_codec.h.
#include "actors/chunk/stripe_codec.h"

#include <algorithm>

namespace cairn::chunk {
namespace {

keys::shard_address address_of(const erasure_coder& coder, const stripe_identity& id,
                               std::uint32_t index) {
  return keys::shard_address{id.chunk, static_cast<std::uint32_t>(coder.scheme().id), index,
                             keys::key_epoch{id.epoch}};
}

}  // namespace

stored_shards encode_stripe(const erasure_coder& coder, const keys::secret_bytes& chunk_key,
                            const stripe_identity& id, std::span<const std::uint8_t> plaintext) {
  const auto k = coder.data_shards();
  const std::uint64_t piece = coder.shard_bytes(plaintext.size());
  stored_shards shards(coder.width());
  std::vector<std::uint8_t> slice(piece);
  for (std::uint32_t i = 0; i < k; ++i) {
    std::fill(slice.begin(), slice.end(), 0);
    const std::uint64_t begin = std::min<std::uint64_t>(plaintext.size(), i * piece);
    const std::uint64_t end = std::min<std::uint64_t>(plaintext.size(), begin + piece);
    std::copy(plaintext.begin() + static_cast<std::ptrdiff_t>(begin),
              plaintext.begin() + static_cast<std::ptrdiff_t>(end), slice.begin());
    shards[i] = keys::seal_shard(chunk_key, address_of(coder, id, i), slice);
  }
  const std::uint64_t sealed = piece + keys::gcm_tag_bytes;
  for (std::uint32_t j = k; j < coder.width(); ++j) shards[j].assign(sealed, 0);
  std::vector<std::span<const std::uint8_t>> data(shards.begin(), shards.begin() + k);
  std::vector<std::span<std::uint8_t>> parity(shards.begin() + k, shards.end());
  coder.encode_parity(data, parity);
  return shards;
}

std::optional<std::vector<std::uint8_t>> decode_stripe(
    const erasure_coder& coder, const keys::secret_bytes& chunk_key, const stripe_identity& id,
    std::uint64_t chunk_bytes, const std::vector<std::optional<std::vector<std::uint8_t>>>& shards,
    decode_report* report) {
  std::vector<shard_view> views(shards.size());
  for (std::size_t i = 0; i < shards.size(); ++i)
    if (shards[i]) views[i] = std::span<const std::uint8_t>(*shards[i]);
  return decode_stripe(coder, chunk_key, id, chunk_bytes, views, report);
}

std::optional<std::vector<std::uint8_t>> decode_stripe(
    const erasure_coder& coder, const keys::secret_bytes& chunk_key, const stripe_identity& id,
    std::uint64_t chunk_bytes, std::span<const shard_view> shards, decode_report* report) {
  const auto k = coder.data_shards();
  const std::uint64_t piece = coder.shard_bytes(chunk_bytes);
  const std::uint64_t sealed = piece + keys::gcm_tag_bytes;
  if (shards.size() != coder.width()) return std::nullopt;
  decode_report local;
  decode_report& r = report ? *report : local;
  std::vector<std::uint8_t> plaintext(piece * k);
  // Usable: present, of the right size, and (for data shards) authentic.
  std::vector<bool> usable(coder.width(), false);
  std::vector<bool> opened(k, false);
  for (std::uint32_t i = 0; i < coder.width(); ++i) {
    if (!shards[i] || shards[i]->size() != sealed) continue;
    if (i < k) {
      if (keys::open_shard(chunk_key, address_of(coder, id, i), *shards[i],
                           std::span<std::uint8_t>(plaintext).subspan(i * piece, piece)) !=
          keys::open_status::ok) {
        ++r.rejected;  // SC1: a bad data shard is never used, as data or as a source
        continue;
      }
      opened[i] = true;
    }
    usable[i] = true;
  }
  std::vector<std::optional<std::span<const std::uint8_t>>> available(coder.width());
  std::uint32_t sources = 0;
  for (std::uint32_t i = 0; i < coder.width(); ++i)
    if (usable[i]) {
      available[i] = *shards[i];
      ++sources;
    }
  r.shards_used = std::min(sources, k);
  for (std::uint32_t i = 0; i < k; ++i) {
    if (opened[i]) continue;
    std::vector<std::uint8_t> rebuilt(sealed);
    const std::uint32_t wanted[] = {i};
    const std::span<std::uint8_t> outs[] = {rebuilt};
    if (!coder.reconstruct(available, wanted, outs)) return std::nullopt;
    // A bad parity shard would give a wrong rebuild: the tag refuses it.
    if (keys::open_shard(chunk_key, address_of(coder, id, i), rebuilt,
                         std::span<std::uint8_t>(plaintext).subspan(i * piece, piece)) !=
        keys::open_status::ok)
      return std::nullopt;
    ++r.rebuilt;
  }
  plaintext.resize(chunk_bytes);
  return plaintext;
}

}  // namespace cairn::chunk
