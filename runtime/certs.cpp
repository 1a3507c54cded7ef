// runtime/certs.cpp — see certs.h. Certificates are built with OpenSSL 3's
// X509/EVP APIs; files are read and written with POSIX calls so that errors
// name the file with errno's reason and new files are created exclusively
// (O_EXCL) with their final mode.
#include "runtime/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace cairn::runtime {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view ca_certificate_file_name = "ca.pem";
constexpr std::string_view ca_key_file_name = "ca.key";
constexpr std::string_view node_certificate_file_name = "node.pem";
constexpr std::string_view node_key_file_name = "node.key";

constexpr std::string_view node_uri_prefix = "cairn://node/";
constexpr std::string_view node_common_name_prefix = "cairn-node-";
constexpr std::string_view ca_common_name_prefix = "cairn-ca ";

// A certificate's notBefore is set this far in the past so that a node whose
// clock lags the operator's accepts a certificate made moments ago.
constexpr long clock_skew_allowance_seconds = 60 * 60;
constexpr int validity_days_max = 100 * 365;
// X.509 limits a common name to 64 characters (RFC 5280 ub-common-name).
constexpr std::size_t common_name_length_max = 64;
constexpr std::size_t dns_name_length_max = 253;
constexpr std::size_t dns_label_length_max = 63;
constexpr int serial_number_bits = 128;
// PEM files here hold a key or a few certificates; anything larger is not one.
constexpr std::size_t pem_file_bytes_max = 1 << 20;
// Leaf, an optional intermediate or two, the root.
constexpr int verify_chain_depth_max = 4;
// The longest decimal form of a 64-bit unsigned integer.
constexpr std::size_t node_id_digits_max = 20;

// --- OpenSSL ownership and errors ------------------------------------------------

template <auto free_function>
struct openssl_deleter {
  template <typename T>
  void operator()(T* object) const {
    free_function(object);
  }
};
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BN_free>>;
using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
using evp_pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using x509_extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;
using x509_store_ptr = std::unique_ptr<X509_STORE, openssl_deleter<X509_STORE_free>>;
using x509_store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, openssl_deleter<X509_STORE_CTX_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, openssl_deleter<GENERAL_NAME_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, openssl_deleter<GENERAL_NAMES_free>>;
using asn1_string_ptr = std::unique_ptr<ASN1_STRING, openssl_deleter<ASN1_STRING_free>>;

void free_certificate_stack(STACK_OF(X509) * certificates) {
  sk_X509_pop_free(certificates, X509_free);
}
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), openssl_deleter<free_certificate_stack>>;

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

[[noreturn]] void throw_openssl_failure(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl_reason());
}

void check_openssl(int result, const std::string& what) {
  if (result != 1) throw_openssl_failure(what);
}

std::string errno_reason(int error_number) {
  return std::generic_category().message(error_number);
}

// --- files -------------------------------------------------------------------------

class file_descriptor {
 public:
  explicit file_descriptor(int descriptor) : descriptor_(descriptor) {}
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  ~file_descriptor() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  int get() const { return descriptor_; }
  // Closes now so that a failing close (a late write error) is reported.
  int close() { return ::close(std::exchange(descriptor_, -1)); }

 private:
  int descriptor_;
};

std::string read_pem_file(const fs::path& path, std::string_view what) {
  const std::string where = std::string(what) + " " + path.string();
  file_descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) throw std::runtime_error("cannot read " + where + ": " + errno_reason(errno));
  std::string contents;
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    const ssize_t count = ::read(file.get(), buffer.data(), buffer.size());
    if (count < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot read " + where + ": " + errno_reason(errno));
    }
    if (count == 0) break;
    contents.append(buffer.data(), static_cast<std::size_t>(count));
    if (contents.size() > pem_file_bytes_max) {
      throw std::runtime_error("cannot read " + where + ": larger than " +
                               std::to_string(pem_file_bytes_max) + " bytes, not a PEM file");
    }
  }
  return contents;
}

struct new_file {
  fs::path path;
  std::string contents;
  mode_t mode;
};

constexpr mode_t private_key_file_mode = 0600;
constexpr mode_t certificate_file_mode = 0644;

void refuse_existing(const fs::path& path) {
  std::error_code error;
  // symlink_status: a dangling symbolic link is in the way too.
  if (fs::exists(fs::symlink_status(path, error))) {
    throw std::runtime_error("refusing to overwrite existing file " + path.string());
  }
}

void write_new_file(const new_file& file) {
  const std::string where = file.path.string();
  file_descriptor descriptor(
      ::open(file.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file.mode));
  if (descriptor.get() < 0) {
    if (errno == EEXIST) throw std::runtime_error("refusing to overwrite existing file " + where);
    throw std::runtime_error("cannot create " + where + ": " + errno_reason(errno));
  }
  // The umask may have narrowed the mode; the intended mode is the contract.
  if (::fchmod(descriptor.get(), file.mode) != 0) {
    throw std::runtime_error("cannot set the mode of " + where + ": " + errno_reason(errno));
  }
  std::size_t written = 0;
  while (written < file.contents.size()) {
    const ssize_t count =
        ::write(descriptor.get(), file.contents.data() + written, file.contents.size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write " + where + ": " + errno_reason(errno));
    }
    written += static_cast<std::size_t>(count);
  }
  if (::fsync(descriptor.get()) != 0 || descriptor.close() != 0) {
    throw std::runtime_error("cannot write " + where + ": " + errno_reason(errno));
  }
}

// Writes all files or none: a failure removes the files this call created.
void write_new_files(const std::vector<new_file>& files) {
  for (const new_file& file : files) refuse_existing(file.path);
  std::vector<fs::path> created;
  try {
    for (const new_file& file : files) {
      write_new_file(file);
      created.push_back(file.path);
    }
  } catch (...) {
    for (const fs::path& path : created) ::unlink(path.c_str());
    throw;
  }
  // Make the new directory entries durable as well as the contents.
  const fs::path directory = files.empty() ? fs::path() : files.front().path.parent_path();
  file_descriptor directory_descriptor(
      ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory_descriptor.get() >= 0) ::fsync(directory_descriptor.get());
}

// Creates `directory` if missing, readable by its owner only, since it is
// about to hold a private key. An existing directory is left as it is.
void ensure_private_directory(const fs::path& directory) {
  std::error_code error;
  if (fs::is_directory(directory, error)) return;
  fs::create_directories(directory, error);
  if (!error) fs::permissions(directory, fs::perms::owner_all, fs::perm_options::replace, error);
  if (error) {
    throw std::runtime_error("cannot create directory " + directory.string() + ": " +
                             error.message());
  }
}

// --- PEM ---------------------------------------------------------------------------

bio_ptr memory_bio_over(const std::string& contents) {
  bio_ptr bio(BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
  if (!bio) throw_openssl_failure("cannot allocate a memory BIO");
  return bio;
}

std::string memory_bio_contents(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

// Key files here are never encrypted; without this callback OpenSSL would
// prompt for a passphrase on the terminal instead of failing.
int refuse_passphrase(char*, int, int, void*) {
  return -1;
}

// True if OpenSSL's last error says the input simply held no (more) PEM.
bool last_error_is_end_of_pem() {
  const unsigned long code = ERR_peek_last_error();
  return ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE;
}

// Every certificate in a PEM file, in order; at least one.
std::vector<x509_ptr> parse_certificates(const std::string& pem, const std::string& where) {
  bio_ptr bio = memory_bio_over(pem);
  std::vector<x509_ptr> certificates;
  for (;;) {
    x509_ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr));
    if (!certificate) break;
    certificates.push_back(std::move(certificate));
  }
  if (certificates.empty() || !last_error_is_end_of_pem()) {
    throw_openssl_failure(where + " is not a PEM certificate file");
  }
  ERR_clear_error();
  return certificates;
}

evp_pkey_ptr parse_private_key(const std::string& pem, const std::string& where) {
  bio_ptr bio = memory_bio_over(pem);
  evp_pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr));
  if (!key) throw_openssl_failure(where + " is not an unencrypted PEM private key");
  return key;
}

std::string certificate_pem(X509* certificate) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) {
    throw_openssl_failure("cannot encode a certificate as PEM");
  }
  return memory_bio_contents(bio.get());
}

std::string private_key_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw_openssl_failure("cannot encode a private key as PEM");
  }
  return memory_bio_contents(bio.get());
}

// --- building certificates ----------------------------------------------------------

evp_pkey_ptr generate_p256_key() {
  evp_pkey_ctx_ptr context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!context) throw_openssl_failure("cannot generate an EC key");
  check_openssl(EVP_PKEY_keygen_init(context.get()), "cannot generate an EC key");
  check_openssl(EVP_PKEY_CTX_set_group_name(context.get(), "P-256"),
                "cannot generate an EC P-256 key");
  EVP_PKEY* key = nullptr;
  check_openssl(EVP_PKEY_generate(context.get(), &key), "cannot generate an EC P-256 key");
  return evp_pkey_ptr(key);
}

void check_validity_days(int days) {
  if (days < 1 || days > validity_days_max) {
    throw std::runtime_error("certificate validity must be 1.." +
                             std::to_string(validity_days_max) + " days, not " +
                             std::to_string(days));
  }
}

// A version 3 certificate for `subject_key` named CN=`common_name`, with a
// random serial number and `days` of validity; no issuer, extensions or
// signature yet.
x509_ptr new_unsigned_certificate(EVP_PKEY* subject_key, const std::string& common_name, int days) {
  x509_ptr certificate(X509_new());
  if (!certificate) throw_openssl_failure("cannot allocate a certificate");
  check_openssl(X509_set_version(certificate.get(), X509_VERSION_3),
                "cannot set the certificate version");

  bignum_ptr serial(BN_new());
  if (!serial) throw_openssl_failure("cannot allocate a serial number");
  do {
    check_openssl(BN_rand(serial.get(), serial_number_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY),
                  "cannot draw a random serial number");
  } while (BN_is_zero(serial.get()));
  if (!BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get()))) {
    throw_openssl_failure("cannot set the serial number");
  }

  if (!X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -clock_skew_allowance_seconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(certificate.get()), days, 0, nullptr)) {
    throw_openssl_failure("cannot set the validity period");
  }

  X509_NAME* subject = X509_get_subject_name(certificate.get());
  check_openssl(
      X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0),
      "cannot set the common name '" + common_name + "'");
  check_openssl(X509_set_pubkey(certificate.get(), subject_key), "cannot set the public key");
  return certificate;
}

// Adds an extension written in OpenSSL's configuration syntax (only fixed
// strings are passed here: text from callers goes through add_subject_alt_names).
void add_extension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  x509_extension_ptr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    throw_openssl_failure(std::string("cannot add the extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
}

bool is_dns_label_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Host names as used in a cluster: dot-separated labels of letters, digits,
// '-' and '_' (no wildcards, no trailing dot).
bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > dns_name_length_max) return false;
  std::size_t label_start = 0;
  while (label_start <= name.size()) {
    std::size_t label_end = name.find('.', label_start);
    if (label_end == std::string_view::npos) label_end = name.size();
    const std::string_view label = name.substr(label_start, label_end - label_start);
    if (label.empty() || label.size() > dns_label_length_max || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!is_dns_label_character(c)) return false;
    }
    label_start = label_end + 1;
  }
  return true;
}

// The 4 or 16 bytes of an IPv4 or IPv6 address in text form; empty if it
// is not one.
std::string ip_address_bytes(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  if (::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), 4);
  }
  if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
    return std::string(reinterpret_cast<const char*>(bytes.data()), 16);
  }
  return {};
}

void push_general_name(GENERAL_NAMES* names, int type, std::string_view value) {
  asn1_string_ptr text(
      ASN1_STRING_type_new(type == GEN_IPADD ? V_ASN1_OCTET_STRING : V_ASN1_IA5STRING));
  general_name_ptr name(GENERAL_NAME_new());
  if (!text || !name ||
      ASN1_STRING_set(text.get(), value.data(), static_cast<int>(value.size())) != 1) {
    throw_openssl_failure("cannot build a subject alternative name");
  }
  GENERAL_NAME_set0_value(name.get(), type, text.release());
  if (sk_GENERAL_NAME_push(names, name.get()) <= 0) {
    throw_openssl_failure("cannot build a subject alternative name");
  }
  name.release();  // now owned by `names`
}

// Built as GENERAL_NAME values rather than configuration text, so that a
// host name cannot smuggle in extra names with a comma.
void add_subject_alt_names(X509* certificate, std::uint64_t node_id,
                           const std::vector<std::string>& hosts) {
  general_names_ptr names(sk_GENERAL_NAME_new_null());
  if (!names) throw_openssl_failure("cannot build the subject alternative names");
  for (const std::string& host : hosts) {
    if (const std::string address = ip_address_bytes(host); !address.empty()) {
      push_general_name(names.get(), GEN_IPADD, address);
    } else if (is_dns_name(host)) {
      push_general_name(names.get(), GEN_DNS, host);
    } else {
      throw std::runtime_error("host '" + host + "' is neither an IP address nor a DNS name");
    }
  }
  push_general_name(names.get(), GEN_URI, std::string(node_uri_prefix) + std::to_string(node_id));
  check_openssl(
      X509_add1_ext_i2d(certificate, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
      "cannot add the subject alternative names");
}

void sign(X509* certificate, EVP_PKEY* signing_key) {
  if (X509_sign(certificate, signing_key, EVP_sha256()) <= 0) {
    throw_openssl_failure("cannot sign the certificate");
  }
}

// --- reading a node id ------------------------------------------------------------

// Canonical decimal: digits only, no leading zero, fits 64 bits; hence >= 1.
std::optional<std::uint64_t> parse_node_id(std::string_view text) {
  if (text.empty() || text.size() > node_id_digits_max || text.front() == '0') return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return id;
}

std::string_view asn1_string_view(const ASN1_STRING* text) {
  return std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                          static_cast<std::size_t>(ASN1_STRING_length(text)));
}

// The ids of every well-formed cairn node URI among the certificate's SANs.
std::set<std::uint64_t> node_ids_in_uris(const X509* certificate) {
  std::set<std::uint64_t> ids;
  general_names_ptr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return ids;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const std::string_view uri = asn1_string_view(name->d.uniformResourceIdentifier);
    if (!uri.starts_with(node_uri_prefix)) continue;
    if (const auto id = parse_node_id(uri.substr(node_uri_prefix.size()))) ids.insert(*id);
  }
  return ids;
}

std::optional<std::uint64_t> node_id_in_common_name(const X509* certificate) {
  const X509_NAME* subject = X509_get_subject_name(certificate);
  if (!subject) return std::nullopt;
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  // No CN, or several: no single identity to read.
  if (index < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
    return std::nullopt;
  }
  const ASN1_STRING* common_name = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, common_name);
  if (length < 0) return std::nullopt;
  const std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  if (!std::string_view(text).starts_with(node_common_name_prefix)) return std::nullopt;
  return parse_node_id(std::string_view(text).substr(node_common_name_prefix.size()));
}

// --- the TLS context ------------------------------------------------------------------

std::string describe_verify_failure(X509_STORE_CTX* context) {
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(context));
}

}  // namespace

void generate_cluster_ca(const fs::path& dir, std::string_view cluster_name, int days) {
  ERR_clear_error();
  check_validity_days(days);
  const std::string common_name = std::string(ca_common_name_prefix) + std::string(cluster_name);
  if (cluster_name.empty() || common_name.size() > common_name_length_max) {
    throw std::runtime_error("cluster name must be 1.." +
                             std::to_string(common_name_length_max - ca_common_name_prefix.size()) +
                             " characters, not '" + std::string(cluster_name) + "'");
  }
  const fs::path certificate_path = dir / ca_certificate_file_name;
  const fs::path key_path = dir / ca_key_file_name;
  refuse_existing(certificate_path);
  refuse_existing(key_path);

  try {
    evp_pkey_ptr key = generate_p256_key();
    x509_ptr certificate = new_unsigned_certificate(key.get(), common_name, days);
    check_openssl(X509_set_issuer_name(certificate.get(), X509_get_subject_name(certificate.get())),
                  "cannot set the issuer name");
    add_extension(certificate.get(), certificate.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(certificate.get(), certificate.get(), NID_key_usage,
                  "critical,keyCertSign,cRLSign");
    add_extension(certificate.get(), certificate.get(), NID_subject_key_identifier, "hash");
    sign(certificate.get(), key.get());

    ensure_private_directory(dir);
    write_new_files({
        {key_path, private_key_pem(key.get()), private_key_file_mode},
        {certificate_path, certificate_pem(certificate.get()), certificate_file_mode},
    });
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("cannot generate the cluster CA in " + dir.string() + ": " +
                             error.what());
  }
}

void generate_node_certificate(const fs::path& ca_dir, const fs::path& out_dir,
                               std::uint64_t node_id, const std::vector<std::string>& hosts,
                               int days) {
  ERR_clear_error();
  check_validity_days(days);
  if (node_id < 1) throw std::runtime_error("node id must be at least 1");
  const fs::path ca_certificate_path = ca_dir / ca_certificate_file_name;
  const fs::path ca_key_path = ca_dir / ca_key_file_name;
  const fs::path certificate_path = out_dir / node_certificate_file_name;
  const fs::path key_path = out_dir / node_key_file_name;
  const fs::path ca_copy_path = out_dir / ca_certificate_file_name;

  // Reading the CA first: a wrong ca_dir is the likeliest mistake.
  const std::string ca_certificate_text = read_pem_file(ca_certificate_path, "the CA certificate");
  const std::string ca_key_text = read_pem_file(ca_key_path, "the CA key");

  std::error_code error;
  const bool out_dir_is_ca_dir = fs::equivalent(ca_dir, out_dir, error);
  refuse_existing(certificate_path);
  refuse_existing(key_path);
  if (!out_dir_is_ca_dir) refuse_existing(ca_copy_path);

  const std::string node_name = "node " + std::to_string(node_id);
  try {
    std::vector<x509_ptr> ca_certificates = parse_certificates(
        ca_certificate_text, "the CA certificate " + ca_certificate_path.string());
    X509* ca_certificate = ca_certificates.front().get();
    evp_pkey_ptr ca_key = parse_private_key(ca_key_text, "the CA key " + ca_key_path.string());
    if (X509_check_ca(ca_certificate) < 1) {
      throw std::runtime_error(ca_certificate_path.string() + " is not a CA certificate");
    }
    if (X509_check_private_key(ca_certificate, ca_key.get()) != 1) {
      throw_openssl_failure("the CA key " + ca_key_path.string() + " does not match " +
                            ca_certificate_path.string());
    }

    evp_pkey_ptr key = generate_p256_key();
    x509_ptr certificate = new_unsigned_certificate(
        key.get(), std::string(node_common_name_prefix) + std::to_string(node_id), days);
    check_openssl(X509_set_issuer_name(certificate.get(), X509_get_subject_name(ca_certificate)),
                  "cannot set the issuer name");
    add_extension(certificate.get(), ca_certificate, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(certificate.get(), ca_certificate, NID_key_usage, "critical,digitalSignature");
    add_extension(certificate.get(), ca_certificate, NID_ext_key_usage, "serverAuth,clientAuth");
    add_extension(certificate.get(), ca_certificate, NID_subject_key_identifier, "hash");
    add_extension(certificate.get(), ca_certificate, NID_authority_key_identifier, "keyid:always");
    add_subject_alt_names(certificate.get(), node_id, hosts);
    sign(certificate.get(), ca_key.get());

    ensure_private_directory(out_dir);
    std::vector<new_file> files = {
        {key_path, private_key_pem(key.get()), private_key_file_mode},
        {certificate_path, certificate_pem(certificate.get()), certificate_file_mode},
    };
    if (!out_dir_is_ca_dir) {
      files.push_back({ca_copy_path, ca_certificate_text, certificate_file_mode});
    }
    write_new_files(files);
  } catch (const std::runtime_error& failure) {
    throw std::runtime_error("cannot generate the certificate of " + node_name + " in " +
                             out_dir.string() + ": " + failure.what());
  }
}

std::optional<std::uint64_t> node_id_of_certificate(const X509* certificate) {
  if (!certificate) return std::nullopt;
  const std::set<std::uint64_t> uri_ids = node_ids_in_uris(certificate);
  ERR_clear_error();  // a certificate without SANs leaves no error worth keeping
  if (uri_ids.size() == 1) return *uri_ids.begin();
  if (uri_ids.size() > 1) return std::nullopt;  // contradictory identities
  return node_id_in_common_name(certificate);
}

boost::asio::ssl::context make_node_tls_context(const tls_paths& paths) {
  ERR_clear_error();
  const std::string ca_where = "the CA certificate " + paths.ca_cert.string();
  const std::string certificate_where = "the node certificate " + paths.cert.string();
  const std::string key_where = "the node key " + paths.key.string();

  std::vector<x509_ptr> ca_certificates =
      parse_certificates(read_pem_file(paths.ca_cert, "the CA certificate"), ca_where);
  std::vector<x509_ptr> chain =
      parse_certificates(read_pem_file(paths.cert, "the node certificate"), certificate_where);
  evp_pkey_ptr key = parse_private_key(read_pem_file(paths.key, "the node key"), key_where);
  X509* leaf = chain.front().get();

  if (X509_check_private_key(leaf, key.get()) != 1) {
    throw_openssl_failure(key_where + " does not match " + certificate_where);
  }

  // A fresh store holding only the cluster CA: no system roots can vouch for a peer.
  x509_store_ptr trust_anchors(X509_STORE_new());
  if (!trust_anchors) throw_openssl_failure("cannot allocate a certificate store");
  for (const x509_ptr& ca : ca_certificates) {
    check_openssl(X509_STORE_add_cert(trust_anchors.get(), ca.get()), "cannot trust " + ca_where);
  }

  // Check our own certificate now, with the checks a peer will make, so that a
  // misconfigured node fails at start with a reason instead of at every peer.
  {
    x509_stack_ptr intermediates(sk_X509_new_null());
    if (!intermediates) throw_openssl_failure("cannot allocate a certificate stack");
    for (std::size_t i = 1; i < chain.size(); ++i) {
      if (!sk_X509_push(intermediates.get(), chain[i].get())) {
        throw_openssl_failure("cannot allocate a certificate stack");
      }
      X509_up_ref(chain[i].get());
    }
    x509_store_ctx_ptr verification(X509_STORE_CTX_new());
    if (!verification || X509_STORE_CTX_init(verification.get(), trust_anchors.get(), leaf,
                                             intermediates.get()) != 1) {
      throw_openssl_failure("cannot verify " + certificate_where);
    }
    X509_STORE_CTX_set_depth(verification.get(), verify_chain_depth_max);
    if (X509_verify_cert(verification.get()) != 1) {
      const std::string reason = describe_verify_failure(verification.get());
      ERR_clear_error();
      throw std::runtime_error(certificate_where + " is not valid under " + ca_where + ": " +
                               reason);
    }
  }
  if (X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) != 1 ||
      X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
    ERR_clear_error();
    throw std::runtime_error(certificate_where +
                             " is not usable for both TLS server and client authentication");
  }
  if (!node_id_of_certificate(leaf)) {
    throw std::runtime_error(certificate_where + " names no cairn node id (URI cairn://node/<id>)");
  }

  boost::asio::ssl::context context(boost::asio::ssl::context::tlsv13);
  SSL_CTX* native = context.native_handle();
  check_openssl(SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION), "cannot require TLS 1.3");
  check_openssl(SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION), "cannot require TLS 1.3");
  // Long-lived node connections gain nothing from resumption; without tickets
  // a server also writes nothing after its handshake that a closing peer
  // could turn into a spurious error.
  check_openssl(SSL_CTX_set_num_tickets(native, 0), "cannot disable session tickets");
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);

  SSL_CTX_set_cert_store(native, trust_anchors.release());  // the context owns it now
  for (const x509_ptr& ca : ca_certificates) {
    // Named in the server's certificate request, which helps a peer pick its certificate.
    check_openssl(SSL_CTX_add_client_CA(native, ca.get()), "cannot name " + ca_where);
  }
  check_openssl(SSL_CTX_use_certificate(native, leaf), "cannot use " + certificate_where);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    check_openssl(static_cast<int>(SSL_CTX_add1_chain_cert(native, chain[i].get())),
                  "cannot use the chain in " + certificate_where);
  }
  check_openssl(SSL_CTX_use_PrivateKey(native, key.get()), "cannot use " + key_where);
  check_openssl(SSL_CTX_check_private_key(native),
                key_where + " does not match " + certificate_where);

  context.set_verify_mode(boost::asio::ssl::verify_peer |
                          boost::asio::ssl::verify_fail_if_no_peer_cert);
  SSL_CTX_set_verify_depth(native, verify_chain_depth_max);
  return context;
}

boost::asio::ssl::context make_client_listener_tls_context(const tls_paths& paths) {
  auto context = make_node_tls_context(paths);
  context.set_verify_mode(boost::asio::ssl::verify_none);
  return context;
}

boost::asio::ssl::context make_client_tls_context(const std::filesystem::path& ca_cert) {
  ERR_clear_error();
  const std::string ca_where = "the CA certificate " + ca_cert.string();
  std::vector<x509_ptr> ca_certificates =
      parse_certificates(read_pem_file(ca_cert, "the CA certificate"), ca_where);
  x509_store_ptr trust_anchors(X509_STORE_new());
  if (!trust_anchors) throw_openssl_failure("cannot allocate a certificate store");
  for (const x509_ptr& ca : ca_certificates)
    check_openssl(X509_STORE_add_cert(trust_anchors.get(), ca.get()), "cannot trust " + ca_where);
  boost::asio::ssl::context context(boost::asio::ssl::context::tlsv13_client);
  SSL_CTX* native = context.native_handle();
  check_openssl(SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION), "cannot require TLS 1.3");
  check_openssl(SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION), "cannot require TLS 1.3");
  SSL_CTX_set_cert_store(native, trust_anchors.release());
  context.set_verify_mode(boost::asio::ssl::verify_peer);
  SSL_CTX_set_verify_depth(native, verify_chain_depth_max);
  return context;
}

std::optional<std::uint64_t> peer_node_id(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream) {
  SSL* ssl = stream.native_handle();
  if (!ssl || SSL_is_init_finished(ssl) != 1) return std::nullopt;
  if (SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  // Without a certificate the verify result is also X509_V_OK: the null
  // check below is what rejects an anonymous peer.
  return node_id_of_certificate(SSL_get0_peer_certificate(ssl));
}

}  // namespace cairn::runtime
