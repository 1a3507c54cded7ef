// actors/keys/internal_key_provider.cpp — see internal_key_provider.h.
#include "actors/keys/internal_key_provider.h"

#include <algorithm>
#include <utility>

#include "actors/common/assert.h"
#include "actors/keys/key_record.h"

namespace cairn::keys {

static_assert(internal_key_provider::associated_data_bytes == 30);
static_assert(internal_key_provider::wrapped_overhead_bytes +
                  internal_key_provider::key_bytes_max <=
              wrapped_key_bytes_max);

internal_key_provider::internal_key_provider(secret_bytes master_key, random_source& random)
    : master_key_(std::move(master_key)), random_(random) {
  CAIRN_ASSERT_MSG(master_key_.size() == master_key_bytes, "the node master key is 32 bytes");
}

std::array<std::uint8_t, internal_key_provider::associated_data_bytes>
internal_key_provider::associated_data(const wrap_context& context) {
  std::array<std::uint8_t, associated_data_bytes> ad{};
  std::size_t at = 0;
  for (char c : associated_data_label) ad[at++] = static_cast<std::uint8_t>(c);
  for (int shift = 56; shift >= 0; shift -= 8)
    ad[at++] = static_cast<std::uint8_t>(context.tenant.value >> shift);
  ad[at++] = static_cast<std::uint8_t>(context.purpose);
  for (int shift = 56; shift >= 0; shift -= 8)
    ad[at++] = static_cast<std::uint8_t>(context.epoch.value >> shift);
  CAIRN_ASSERT(at == ad.size());
  return ad;
}

std::vector<std::uint8_t> internal_key_provider::wrap(const wrap_context& context,
                                                      std::span<const std::uint8_t> key) {
  CAIRN_ASSERT(!key.empty() && key.size() <= key_bytes_max);
  std::vector<std::uint8_t> wrapped(wrapped_overhead_bytes + key.size());
  wrapped[0] = format_version;
  const auto nonce = std::span(wrapped).subspan(1, gcm_nonce_bytes);
  random_.fill(nonce);
  const auto ad = associated_data(context);
  aes256gcm_seal(master_key_.bytes(), nonce, ad, key,
                 std::span(wrapped).subspan(1 + gcm_nonce_bytes));
  return wrapped;
}

std::optional<secret_bytes> internal_key_provider::unwrap(const wrap_context& context,
                                                          std::span<const std::uint8_t> wrapped) {
  if (wrapped.size() <= wrapped_overhead_bytes ||
      wrapped.size() > wrapped_overhead_bytes + key_bytes_max)
    return std::nullopt;
  if (wrapped[0] != format_version) return std::nullopt;
  const auto nonce = wrapped.subspan(1, gcm_nonce_bytes);
  const auto sealed = wrapped.subspan(1 + gcm_nonce_bytes);
  const auto ad = associated_data(context);
  secret_bytes key(sealed.size() - gcm_tag_bytes);
  // On failure aes256gcm_open cleanses `key`, and its destructor again.
  if (aes256gcm_open(master_key_.bytes(), nonce, ad, sealed, key.writable()) != open_status::ok)
    return std::nullopt;
  return key;
}

}  // namespace cairn::keys
