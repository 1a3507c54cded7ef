// actors/keys/crypto.cpp — see crypto.h. Algorithms are fetched once from
// OpenSSL's default library context and kept for the life of the process
// (an explicit fetch per call would take OpenSSL's global lock every time).
#include "actors/keys/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <climits>
#include <functional>
#include <memory>

#include "actors/common/assert.h"

namespace cairn::keys {

namespace {

// EVP update calls take an int length: longer inputs go in pieces.
constexpr std::size_t evp_update_bytes_max = std::size_t{1} << 30;
static_assert(evp_update_bytes_max <= static_cast<std::size_t>(INT_MAX));

// --- OpenSSL ownership and errors --------------------------------------------------

template <auto free_function>
struct openssl_deleter {
  template <typename T>
  void operator()(T* object) const {
    free_function(object);
  }
};
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, openssl_deleter<EVP_CIPHER_CTX_free>>;
using mac_ctx_ptr = std::unique_ptr<EVP_MAC_CTX, openssl_deleter<EVP_MAC_CTX_free>>;
using kdf_ctx_ptr = std::unique_ptr<EVP_KDF_CTX, openssl_deleter<EVP_KDF_CTX_free>>;

// Drains OpenSSL's error queue of this thread into one line.
std::string openssl_reason() {
  std::string reason;
  while (unsigned long code = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    if (!reason.empty()) reason += "; ";
    reason += text.data();
  }
  return reason.empty() ? "unknown OpenSSL error" : reason;
}

[[noreturn]] void throw_openssl_failure(const char* what) {
  throw crypto_failure(std::string(what) + ": " + openssl_reason());
}

void check_openssl(int result, const char* what) {
  if (result != 1) throw_openssl_failure(what);
}

// Fetched once; a failed fetch throws and is retried by the next call.
EVP_CIPHER* aes256gcm_cipher() {
  static EVP_CIPHER* const cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (c == nullptr) throw_openssl_failure("EVP_CIPHER_fetch(AES-256-GCM)");
    return c;
  }();
  return cipher;
}

EVP_MD* sha256_algorithm() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) throw_openssl_failure("EVP_MD_fetch(SHA256)");
    return m;
  }();
  return md;
}

EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) throw_openssl_failure("EVP_MAC_fetch(HMAC)");
    return m;
  }();
  return mac;
}

EVP_KDF* hkdf_algorithm() {
  static EVP_KDF* const kdf = [] {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (k == nullptr) throw_openssl_failure("EVP_KDF_fetch(HKDF)");
    return k;
  }();
  return kdf;
}

bool in_place_or_disjoint(std::span<const std::uint8_t> in, std::span<const std::uint8_t> out) {
  if (in.empty() || out.empty() || in.data() == out.data()) return true;
  const auto* in_end = in.data() + in.size();
  const auto* out_end = out.data() + out.size();
  return std::less_equal<>{}(in_end, out.data()) || std::less_equal<>{}(out_end, in.data());
}

enum class direction { encrypt, decrypt };

// Feeds associated data, then `in` -> `out` (same length) through `ctx`.
void gcm_update(EVP_CIPHER_CTX* ctx, direction d, std::span<const std::uint8_t> associated_data,
                std::span<const std::uint8_t> in, std::uint8_t* out) {
  auto update = [&](std::uint8_t* o, const std::uint8_t* i, std::size_t n) {
    int written = 0;
    const int length = static_cast<int>(n);
    const int result = d == direction::encrypt ? EVP_EncryptUpdate(ctx, o, &written, i, length)
                                               : EVP_DecryptUpdate(ctx, o, &written, i, length);
    check_openssl(result, "AES-256-GCM update");
    // GCM is a stream mode: every input byte is consumed (and, unless it is
    // associated data, output) at once.
    CAIRN_ASSERT(static_cast<std::size_t>(written) == n);
  };
  for (std::size_t done = 0; done < associated_data.size();) {
    const std::size_t n = std::min(evp_update_bytes_max, associated_data.size() - done);
    update(nullptr, associated_data.data() + done, n);
    done += n;
  }
  for (std::size_t done = 0; done < in.size();) {
    const std::size_t n = std::min(evp_update_bytes_max, in.size() - done);
    update(out + done, in.data() + done, n);
    done += n;
  }
}

}  // namespace

// --- SHA-256 -----------------------------------------------------------------------------

void sha256_hasher::context_deleter::operator()(evp_md_ctx_st* context) const {
  EVP_MD_CTX_free(context);
}

sha256_hasher::sha256_hasher() : context_(EVP_MD_CTX_new()) {
  if (!context_) throw_openssl_failure("EVP_MD_CTX_new");
  check_openssl(EVP_DigestInit_ex2(context_.get(), sha256_algorithm(), nullptr),
                "EVP_DigestInit_ex2(SHA256)");
}

sha256_hasher::sha256_hasher(sha256_hasher&&) noexcept = default;
sha256_hasher& sha256_hasher::operator=(sha256_hasher&&) noexcept = default;
sha256_hasher::~sha256_hasher() = default;

void sha256_hasher::update(std::span<const std::uint8_t> bytes) {
  CAIRN_ASSERT_MSG(context_ != nullptr, "sha256_hasher used after being moved from");
  if (bytes.empty()) return;
  check_openssl(EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()), "EVP_DigestUpdate");
}

sha256_digest sha256_hasher::finish() {
  CAIRN_ASSERT_MSG(context_ != nullptr, "sha256_hasher used after being moved from");
  sha256_digest digest{};
  unsigned int length = 0;
  check_openssl(EVP_DigestFinal_ex(context_.get(), digest.data(), &length), "EVP_DigestFinal_ex");
  CAIRN_ASSERT(length == digest.size());
  check_openssl(EVP_DigestInit_ex2(context_.get(), sha256_algorithm(), nullptr),
                "EVP_DigestInit_ex2(SHA256)");
  return digest;
}

sha256_digest sha256(std::span<const std::uint8_t> message) {
  sha256_hasher hasher;
  hasher.update(message);
  return hasher.finish();
}

// --- HMAC-SHA256 -----------------------------------------------------------------------

void hmac_sha256_key::context_deleter::operator()(evp_mac_ctx_st* context) const {
  EVP_MAC_CTX_free(context);
}

hmac_sha256_key::hmac_sha256_key(std::span<const std::uint8_t> key)
    : keyed_(EVP_MAC_CTX_new(hmac_algorithm())) {
  if (!keyed_) throw_openssl_failure("EVP_MAC_CTX_new");
  char digest_name[] = "SHA256";  // OSSL_PARAM wants a mutable pointer; never written
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  static constexpr std::uint8_t no_key = 0;
  check_openssl(EVP_MAC_init(keyed_.get(), key.empty() ? &no_key : key.data(), key.size(), params),
                "EVP_MAC_init(HMAC)");
}

hmac_sha256_key::hmac_sha256_key(hmac_sha256_key&&) noexcept = default;
hmac_sha256_key& hmac_sha256_key::operator=(hmac_sha256_key&&) noexcept = default;
hmac_sha256_key::~hmac_sha256_key() = default;

sha256_digest hmac_sha256_key::digest(std::span<const std::uint8_t> message) const {
  mac_ctx_ptr ctx(EVP_MAC_CTX_dup(keyed_.get()));
  if (!ctx) throw_openssl_failure("EVP_MAC_CTX_dup");
  if (!message.empty())
    check_openssl(EVP_MAC_update(ctx.get(), message.data(), message.size()), "EVP_MAC_update");
  sha256_digest out{};
  std::size_t length = 0;
  check_openssl(EVP_MAC_final(ctx.get(), out.data(), &length, out.size()), "EVP_MAC_final");
  CAIRN_ASSERT(length == out.size());
  return out;
}

sha256_digest hmac_sha256(std::span<const std::uint8_t> key,
                          std::span<const std::uint8_t> message) {
  return hmac_sha256(key, {message});
}

sha256_digest hmac_sha256(std::span<const std::uint8_t> key,
                          std::initializer_list<std::span<const std::uint8_t>> parts) {
  mac_ctx_ptr ctx(EVP_MAC_CTX_new(hmac_algorithm()));
  if (!ctx) throw_openssl_failure("EVP_MAC_CTX_new");
  char digest_name[] = "SHA256";  // OSSL_PARAM wants a mutable pointer; never written
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  // EVP_MAC_init treats a null key as "keep the previous key": an empty key
  // is passed as a valid pointer with length 0.
  static constexpr std::uint8_t no_key = 0;
  const std::uint8_t* key_data = key.empty() ? &no_key : key.data();
  check_openssl(EVP_MAC_init(ctx.get(), key_data, key.size(), params), "EVP_MAC_init(HMAC)");
  for (const auto& message : parts)
    if (!message.empty())
      check_openssl(EVP_MAC_update(ctx.get(), message.data(), message.size()), "EVP_MAC_update");
  sha256_digest digest{};
  std::size_t length = 0;
  check_openssl(EVP_MAC_final(ctx.get(), digest.data(), &length, digest.size()), "EVP_MAC_final");
  CAIRN_ASSERT(length == digest.size());
  return digest;
}

// --- HKDF-SHA256 -------------------------------------------------------------------------

void hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                 std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
  CAIRN_ASSERT_MSG(!ikm.empty(), "HKDF input key material must not be empty");
  CAIRN_ASSERT(!out.empty() && out.size() <= hkdf_sha256_output_bytes_max);
  CAIRN_ASSERT(info.size() <= hkdf_info_bytes_max);
  kdf_ctx_ptr ctx(EVP_KDF_CTX_new(hkdf_algorithm()));
  if (!ctx) throw_openssl_failure("EVP_KDF_CTX_new");
  // OpenSSL copies octet-string parameters; it does not write through them.
  auto octets = [](const char* name, std::span<const std::uint8_t> s) {
    return OSSL_PARAM_construct_octet_string(name, const_cast<std::uint8_t*>(s.data()), s.size());
  };
  char digest_name[] = "SHA256";  // OSSL_PARAM wants a mutable pointer; never written
  std::array<OSSL_PARAM, 5> params{};
  std::size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name, 0);
  params[n++] = octets(OSSL_KDF_PARAM_KEY, ikm);
  // An absent salt is HashLen zero bytes (RFC 5869 2.2), which as an HMAC key
  // is the same as an empty one.
  if (!salt.empty()) params[n++] = octets(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty()) params[n++] = octets(OSSL_KDF_PARAM_INFO, info);
  params[n] = OSSL_PARAM_construct_end();
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    throw_openssl_failure("EVP_KDF_derive(HKDF)");
  }
}

secret_bytes hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                         std::span<const std::uint8_t> info, std::size_t length) {
  secret_bytes out(length);
  hkdf_sha256(ikm, salt, info, out.writable());
  return out;
}

// --- AES-256-GCM ---------------------------------------------------------------------

void aes256gcm_seal(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                    std::span<const std::uint8_t> associated_data,
                    std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> sealed_out) {
  CAIRN_ASSERT(key.size() == aes256_key_bytes);
  CAIRN_ASSERT(nonce.size() == gcm_nonce_bytes);
  CAIRN_ASSERT(sealed_out.size() == gcm_sealed_bytes(plaintext.size()));
  CAIRN_ASSERT(in_place_or_disjoint(plaintext, sealed_out));
  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw_openssl_failure("EVP_CIPHER_CTX_new");
  // The default GCM IV length is 12 bytes, the length our nonces have.
  check_openssl(
      EVP_EncryptInit_ex2(ctx.get(), aes256gcm_cipher(), key.data(), nonce.data(), nullptr),
      "EVP_EncryptInit_ex2(AES-256-GCM)");
  gcm_update(ctx.get(), direction::encrypt, associated_data, plaintext, sealed_out.data());
  int final_bytes = 0;
  check_openssl(EVP_EncryptFinal_ex(ctx.get(), sealed_out.data() + plaintext.size(), &final_bytes),
                "EVP_EncryptFinal_ex(AES-256-GCM)");
  CAIRN_ASSERT(final_bytes == 0);
  check_openssl(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, gcm_tag_bytes,
                                    sealed_out.data() + plaintext.size()),
                "EVP_CTRL_AEAD_GET_TAG");
}

std::vector<std::uint8_t> aes256gcm_seal(std::span<const std::uint8_t> key,
                                         std::span<const std::uint8_t> nonce,
                                         std::span<const std::uint8_t> associated_data,
                                         std::span<const std::uint8_t> plaintext) {
  std::vector<std::uint8_t> sealed(gcm_sealed_bytes(plaintext.size()));
  aes256gcm_seal(key, nonce, associated_data, plaintext, sealed);
  return sealed;
}

open_status aes256gcm_open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                           std::span<const std::uint8_t> associated_data,
                           std::span<const std::uint8_t> sealed,
                           std::span<std::uint8_t> plaintext_out) {
  CAIRN_ASSERT(key.size() == aes256_key_bytes);
  CAIRN_ASSERT(nonce.size() == gcm_nonce_bytes);
  if (sealed.size() < gcm_tag_bytes) {
    OPENSSL_cleanse(plaintext_out.data(), plaintext_out.size());
    return open_status::too_short;
  }
  const auto ciphertext = sealed.first(sealed.size() - gcm_tag_bytes);
  CAIRN_ASSERT(plaintext_out.size() == ciphertext.size());
  CAIRN_ASSERT(in_place_or_disjoint(ciphertext, plaintext_out));
  // Copied before decryption: in place, the tag's bytes stay put, but a copy
  // keeps the ctrl call's non-const pointer off the caller's buffer.
  std::array<std::uint8_t, gcm_tag_bytes> tag{};
  std::copy(sealed.end() - gcm_tag_bytes, sealed.end(), tag.begin());

  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw_openssl_failure("EVP_CIPHER_CTX_new");
  check_openssl(
      EVP_DecryptInit_ex2(ctx.get(), aes256gcm_cipher(), key.data(), nonce.data(), nullptr),
      "EVP_DecryptInit_ex2(AES-256-GCM)");
  check_openssl(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, gcm_tag_bytes, tag.data()),
                "EVP_CTRL_AEAD_SET_TAG");
  try {
    gcm_update(ctx.get(), direction::decrypt, associated_data, ciphertext, plaintext_out.data());
  } catch (...) {
    OPENSSL_cleanse(plaintext_out.data(), plaintext_out.size());
    throw;
  }
  // GCM decrypts before it verifies: until the tag checks, the output is
  // unauthenticated and must not be seen (C1).
  int final_bytes = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), plaintext_out.data() + plaintext_out.size(), &final_bytes) !=
      1) {
    OPENSSL_cleanse(plaintext_out.data(), plaintext_out.size());
    // A tag mismatch is a normal outcome; leave no stale entry in the queue.
    ERR_clear_error();
    return open_status::authentication_failed;
  }
  CAIRN_ASSERT(final_bytes == 0);
  return open_status::ok;
}

opened aes256gcm_open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> nonce,
                      std::span<const std::uint8_t> associated_data,
                      std::span<const std::uint8_t> sealed) {
  opened result;
  if (sealed.size() < gcm_tag_bytes) {
    result.status = open_status::too_short;
    return result;
  }
  result.plaintext.resize(sealed.size() - gcm_tag_bytes);
  result.status = aes256gcm_open(key, nonce, associated_data, sealed, result.plaintext);
  if (!result.ok()) result.plaintext.clear();
  return result;
}

std::string_view to_string(open_status s) {
  switch (s) {
    case open_status::ok:
      return "ok";
    case open_status::authentication_failed:
      return "authentication failed";
    case open_status::too_short:
      return "too short to be sealed";
  }
  return "unknown";
}

}  // namespace cairn::keys
