// actors/keys/key_record.cpp — see key_record.h.
#include "actors/keys/key_record.h"

#include "actors/common/assert.h"

namespace cairn::keys {

std::string_view to_string(key_purpose p) {
  switch (p) {
    case key_purpose::dedup:
      return "dedup";
    case key_purpose::data:
      return "data";
    case key_purpose::shred_mark:
      return "shred-mark";
    case key_purpose::access_secret:
      return "access-secret";
  }
  return "unknown";
}

bool well_formed(const key_record_id& id) {
  switch (id.purpose) {
    case key_purpose::dedup:
    case key_purpose::shred_mark:
      return id.epoch == no_epoch;
    case key_purpose::data:
      return id.epoch >= first_epoch;
    case key_purpose::access_secret:
      return false;  // never a key record
  }
  return false;
}

std::array<std::uint8_t, record_id_bytes> encode_record_id(const key_record_id& id) {
  CAIRN_ASSERT(well_formed(id));
  std::array<std::uint8_t, record_id_bytes> out{};
  for (int i = 0; i < 8; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(id.tenant.value >> (56 - 8 * i));
    out[static_cast<std::size_t>(9 + i)] =
        static_cast<std::uint8_t>(id.epoch.value >> (56 - 8 * i));
  }
  out[8] = static_cast<std::uint8_t>(id.purpose);
  return out;
}

std::optional<key_record_id> decode_record_id(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != record_id_bytes) return std::nullopt;
  key_record_id id;
  for (std::size_t i = 0; i < 8; ++i) {
    id.tenant.value = (id.tenant.value << 8) | bytes[i];
    id.epoch.value = (id.epoch.value << 8) | bytes[9 + i];
  }
  const std::uint8_t purpose = bytes[8];
  if (purpose < static_cast<std::uint8_t>(key_purpose::dedup) ||
      purpose > static_cast<std::uint8_t>(key_purpose::shred_mark))
    return std::nullopt;
  id.purpose = static_cast<key_purpose>(purpose);
  if (!well_formed(id)) return std::nullopt;
  return id;
}

}  // namespace cairn::keys
