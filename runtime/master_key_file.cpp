// runtime/master_key_file.cpp — see master_key_file.h.
#include "runtime/master_key_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "actors/keys/crypto.h"

namespace cairn::runtime {
namespace {

constexpr std::string_view magic = "CAIRNMK1";
constexpr std::string_view check_label = "cairn/master-key/v1";
constexpr std::size_t key_bytes = 32;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("master key file " + path + ": " + what);
}
[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
  fail(path, what + ": " + std::strerror(errno));
}

keys::sha256_digest check_value(std::span<const std::uint8_t> key) {
  return keys::hmac_sha256(
      key, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(check_label.data()),
                                         check_label.size()));
}

/// Cleanses a stack buffer on every exit path (MK3).
struct cleansed_buffer {
  std::array<std::uint8_t, master_key_file_bytes + 1> bytes{};
  ~cleansed_buffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

void sync_directory(const std::string& path) {
  const auto dir = std::filesystem::path(path).parent_path();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_errno(path, "open directory");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail_errno(path, "fsync directory");
}

master_key create(const std::string& path, keys::secret_bytes key) {
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec))
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    if (ec) fail(path, "create directory: " + ec.message());
  }
  if (key.size() != key_bytes)
    fail(path, "a cluster key must be " + std::to_string(key_bytes) + " bytes, got " +
                   std::to_string(key.size()));
  master_key out{std::move(key), true};
  cleansed_buffer file;
  std::memcpy(file.bytes.data(), magic.data(), magic.size());
  std::memcpy(file.bytes.data() + 8, out.key.bytes().data(), key_bytes);
  const auto check = check_value(out.key.bytes());
  std::memcpy(file.bytes.data() + 40, check.data(), check.size());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) fail_errno(path, "create");
  const auto written = ::write(fd, file.bytes.data(), master_key_file_bytes);
  const int sync_rc = written == static_cast<ssize_t>(master_key_file_bytes) ? ::fsync(fd) : -1;
  const int saved = errno;
  ::close(fd);
  if (sync_rc != 0) {
    ::unlink(path.c_str());  // never leave a half-written key behind
    errno = saved;
    fail_errno(path, "write");
  }
  sync_directory(path);
  return out;
}

master_key create(const std::string& path, keys::random_source& random) {
  keys::secret_bytes key(key_bytes);
  random.fill(key.writable());
  return create(path, std::move(key));
}

}  // namespace

master_key store_master_key(const std::string& path, std::span<const std::uint8_t> key) {
  return create(path, keys::secret_bytes::copy_of(key));
}

master_key load_or_create_master_key(const std::string& path, keys::random_source& random) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return create(path, random);
    fail_errno(path, "open");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail_errno(path, "stat");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail(path, std::string("mode ") + mode +
                   " lets other users read the key; run chmod 600 on it (the key may have to be "
                   "treated as exposed)");
  }
  cleansed_buffer file;
  const auto got = ::read(fd, file.bytes.data(), file.bytes.size());
  ::close(fd);
  if (got < 0) fail_errno(path, "read");
  if (static_cast<std::size_t>(got) != master_key_file_bytes)
    fail(path, "is " + std::to_string(got) + " bytes, expected " +
                   std::to_string(master_key_file_bytes) + " (truncated or not a master key)");
  if (std::memcmp(file.bytes.data(), magic.data(), magic.size()) != 0)
    fail(path, "bad magic (not a cairn master key file)");
  const std::span<const std::uint8_t> key(file.bytes.data() + 8, key_bytes);
  const auto check = check_value(key);
  if (CRYPTO_memcmp(check.data(), file.bytes.data() + 40, check.size()) != 0)
    fail(path, "check value mismatch (the file is damaged)");
  return master_key{keys::secret_bytes::copy_of(key), false};
}

}  // namespace cairn::runtime
