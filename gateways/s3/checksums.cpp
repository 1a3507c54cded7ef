// gateways/s3/checksums.cpp — see checksums.h.
#include "gateways/s3/checksums.h"

#include <openssl/evp.h>

#include <array>

#include "gateways/s3/sigv4.h"

namespace cairn::s3 {

namespace {

const std::array<std::uint64_t, 256>& crc64_nvme_table() {
  static const auto table = [] {
    std::array<std::uint64_t, 256> t{};
    for (std::uint64_t i = 0; i < 256; ++i) {
      std::uint64_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x9a6c9329ac4bc9b5ull : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

enum class algorithm { crc32, crc32c, crc64nvme, sha1, sha256 };

struct known {
  std::string_view header;
  algorithm a;
  std::size_t digest_bytes;
};
constexpr known algorithms[] = {
    {"x-amz-checksum-crc32", algorithm::crc32, 4},
    {"x-amz-checksum-crc32c", algorithm::crc32c, 4},
    {"x-amz-checksum-crc64nvme", algorithm::crc64nvme, 8},
    {"x-amz-checksum-sha1", algorithm::sha1, 20},
    {"x-amz-checksum-sha256", algorithm::sha256, 32},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::uint64_t crc64_nvme(std::span<const std::uint8_t> bytes, std::uint64_t previous) {
  const auto& table = crc64_nvme_table();
  std::uint64_t c = ~previous;
  for (auto b : bytes) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return ~c;
}

struct header_checksums::state {
  known k;
  bool verify = true;
  std::vector<std::uint8_t> expected;
  std::vector<std::uint8_t> got;
  std::uint32_t crc32 = 0;
  std::uint64_t crc64 = 0;
  EVP_MD_CTX* md = nullptr;
  ~state() {
    if (md) EVP_MD_CTX_free(md);
  }
};

header_checksums::header_checksums() = default;
header_checksums::header_checksums(header_checksums&&) noexcept = default;
header_checksums& header_checksums::operator=(header_checksums&&) noexcept = default;
header_checksums::~header_checksums() = default;

std::variant<header_checksums, std::string> header_checksums::from(
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::vector<std::string>& also_compute) {
  header_checksums out;
  auto add = [&](const known& k) {
    auto s = std::make_unique<state>();
    s->k = k;
    if (k.a == algorithm::sha1 || k.a == algorithm::sha256) {
      s->md = EVP_MD_CTX_new();
      EVP_DigestInit_ex(s->md, k.a == algorithm::sha1 ? EVP_sha1() : EVP_sha256(), nullptr);
    }
    out.states_.push_back(std::move(s));
    return out.states_.back().get();
  };
  for (const auto& [raw_name, value] : headers) {
    const auto name = lower(raw_name);
    if (!name.starts_with("x-amz-checksum-") || name == "x-amz-checksum-algorithm" ||
        name == "x-amz-checksum-mode" || name == "x-amz-checksum-type")
      continue;
    const known* k = nullptr;
    for (const auto& a : algorithms)
      if (a.header == name) k = &a;
    if (!k) return "Value for " + name + " header is invalid: unknown checksum algorithm";
    auto digest = base64_decode(value);
    if (!digest || digest->size() != k->digest_bytes)
      return "Value for " + name + " header is invalid.";
    add(*k)->expected = std::move(*digest);
  }
  for (const auto& raw : also_compute) {
    const auto name = lower(raw);
    bool have = false;
    for (const auto& s : out.states_) have = have || s->k.header == name;
    if (have) continue;
    for (const auto& a : algorithms)
      if (a.header == name) add(a)->verify = false;
  }
  return out;
}

bool header_checksums::empty() const {
  return states_.empty();
}

void header_checksums::update(std::span<const std::uint8_t> bytes) {
  for (auto& s : states_) {
    switch (s->k.a) {
      case algorithm::crc32:
        s->crc32 = crc32_ieee(bytes, s->crc32);
        break;
      case algorithm::crc32c:
        s->crc32 = crc32_castagnoli(bytes, s->crc32);
        break;
      case algorithm::crc64nvme:
        s->crc64 = crc64_nvme(bytes, s->crc64);
        break;
      case algorithm::sha1:
      case algorithm::sha256:
        EVP_DigestUpdate(s->md, bytes.data(), bytes.size());
        break;
    }
  }
}

std::string header_checksums::mismatch() {
  for (auto& s : states_) {
    std::vector<std::uint8_t> got;
    switch (s->k.a) {
      case algorithm::crc32:
      case algorithm::crc32c:
        for (int i = 3; i >= 0; --i) got.push_back(static_cast<std::uint8_t>(s->crc32 >> (8 * i)));
        break;
      case algorithm::crc64nvme:
        for (int i = 7; i >= 0; --i) got.push_back(static_cast<std::uint8_t>(s->crc64 >> (8 * i)));
        break;
      case algorithm::sha1:
      case algorithm::sha256: {
        got.resize(EVP_MAX_MD_SIZE);
        unsigned n = 0;
        EVP_DigestFinal_ex(s->md, got.data(), &n);
        got.resize(n);
        break;
      }
    }
    s->got = std::move(got);
  }
  for (auto& s : states_)
    if (s->verify && s->got != s->expected) return std::string(s->k.header);
  return {};
}

std::vector<std::pair<std::string, std::string>> header_checksums::results() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : states_)
    if (!s->got.empty()) out.emplace_back(std::string(s->k.header), base64_encode(s->got));
  return out;
}

}  // namespace cairn::s3
