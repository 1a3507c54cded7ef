// gateways/fuse/chunk_cache.cpp — see chunk_cache.h.
//
// L2 file format (little-endian):
//   "CNL2" | u8 version = 1 | 3 zero bytes
//   u32 scheme | u64 key epoch | u64 plaintext length | 32-byte chunk id
//   u32 k | k x u32 shard size | the k sealed data shards
// The header only finds the shards; what they must decode to comes from
// the caller's chunk reference (CH2), and the GCM tags decide.
//
// Files are not fsync'd: a file torn by a crash fails its tags and is
// dropped like any corrupt file (CH2), so a sync per chunk would buy
// nothing but latency.
#include "gateways/fuse/chunk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "actors/chunk/erasure_code.h"
#include "actors/chunk/stripe_codec.h"
#include "actors/keys/seal.h"

namespace cairn::fuse {

namespace {

constexpr char magic[4] = {'C', 'N', 'L', '2'};
constexpr std::uint8_t format_version = 1;
constexpr std::size_t fixed_header_bytes = 4 + 4 + 4 + 8 + 8 + 32 + 4;
constexpr std::string_view temporary_suffix = ".tmp";

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint64_t get_le(std::span<const std::uint8_t> in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{in[at + i]} << (8 * i);
  return v;
}

class directory_files final : public cache_files {
 public:
  explicit directory_files(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec || !std::filesystem::is_directory(dir_))
      throw std::runtime_error("cache directory " + dir_.string() +
                               " cannot be used: " + (ec ? ec.message() : "not a directory"));
    ::chmod(dir_.c_str(), 0700);
    if (::access(dir_.c_str(), R_OK | W_OK | X_OK) != 0)
      throw std::runtime_error("cache directory " + dir_.string() +
                               " is not writable: " + std::strerror(errno));
  }

  int write(const std::string& name, std::span<const std::uint8_t> bytes) override {
    const auto final_path = dir_ / name;
    const auto temporary = dir_ / (name + std::string(temporary_suffix));
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        ::unlink(temporary.c_str());
        return err;
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
      const int err = errno;
      ::unlink(temporary.c_str());
      return err;
    }
    if (::rename(temporary.c_str(), final_path.c_str()) != 0) {
      const int err = errno;
      ::unlink(temporary.c_str());
      return err;
    }
    return 0;
  }

  std::optional<std::vector<std::uint8_t>> read(const std::string& name) const override {
    const int fd = ::open((dir_ / name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    std::vector<std::uint8_t> out(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (done != out.size()) return std::nullopt;
    return out;
  }

  void remove(const std::string& name) override { ::unlink((dir_ / name).c_str()); }

  std::vector<listed> list() override {
    std::vector<listed> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const auto name = e.path().filename().string();
      if (name.ends_with(temporary_suffix)) {
        ::unlink(e.path().c_str());
        continue;
      }
      struct stat st {};
      if (::stat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({name, static_cast<std::uint64_t>(st.st_size),
                     std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec});
    }
    return out;
  }

 private:
  std::filesystem::path dir_;
};

/// The k sealed data shards of `plaintext` as an L2 file (CH1).
std::vector<std::uint8_t> encode_file(const keys::key_grant& grant, const shard::chunk_ref& ref,
                                      std::span<const std::uint8_t> plaintext) {
  const auto scheme = chunk::scheme_by_id(ref.scheme);
  if (!scheme) return {};
  const chunk::erasure_coder coder(*scheme);
  const auto key = keys::derive_chunk_key(grant.data_key, ref.id, ref.scheme);
  const auto shards = chunk::encode_stripe(coder, key, {ref.id, ref.key_epoch}, plaintext);
  const std::uint32_t k = coder.data_shards();
  std::vector<std::uint8_t> out;
  std::size_t total = fixed_header_bytes + 4 * k;
  for (std::uint32_t i = 0; i < k; ++i) total += shards[i].size();
  out.reserve(total);
  out.insert(out.end(), std::begin(magic), std::end(magic));
  out.push_back(format_version);
  out.insert(out.end(), 3, 0);
  put_u32(out, ref.scheme);
  put_u64(out, ref.key_epoch);
  put_u64(out, ref.length);
  out.insert(out.end(), ref.id.begin(), ref.id.end());
  put_u32(out, k);
  for (std::uint32_t i = 0; i < k; ++i) put_u32(out, static_cast<std::uint32_t>(shards[i].size()));
  for (std::uint32_t i = 0; i < k; ++i) out.insert(out.end(), shards[i].begin(), shards[i].end());
  return out;
}

/// Opens an L2 file against the reference (CH2): nullopt if anything is
/// off, from the header to a tag.
std::optional<std::vector<std::uint8_t>> decode_file(const keys::key_grant& grant,
                                                     const shard::chunk_ref& ref,
                                                     std::span<const std::uint8_t> file) {
  if (file.size() < fixed_header_bytes || std::memcmp(file.data(), magic, 4) != 0 ||
      file[4] != format_version)
    return std::nullopt;
  if (get_le(file, 8, 4) != ref.scheme || get_le(file, 12, 8) != ref.key_epoch ||
      get_le(file, 20, 8) != ref.length ||
      !std::equal(ref.id.begin(), ref.id.end(), file.begin() + 28))
    return std::nullopt;
  const auto scheme = chunk::scheme_by_id(ref.scheme);
  if (!scheme || grant.epoch.value != ref.key_epoch) return std::nullopt;
  const chunk::erasure_coder coder(*scheme);
  const std::uint32_t k = coder.data_shards();
  if (get_le(file, 60, 4) != k || file.size() < fixed_header_bytes + 4ull * k) return std::nullopt;
  std::vector<chunk::shard_view> views(coder.width());
  std::size_t at = fixed_header_bytes + 4ull * k;
  for (std::uint32_t i = 0; i < k; ++i) {
    const auto n = get_le(file, fixed_header_bytes + 4ull * i, 4);
    if (n > file.size() - at) return std::nullopt;
    views[i] = file.subspan(at, n);
    at += n;
  }
  if (at != file.size()) return std::nullopt;
  const auto key = keys::derive_chunk_key(grant.data_key, ref.id, ref.scheme);
  return chunk::decode_stripe(coder, key, {ref.id, ref.key_epoch}, ref.length, views);
}

std::optional<chunk_id> id_of_name(const std::string& name) {
  if (name.size() != 64) return std::nullopt;
  chunk_id id{};
  for (std::size_t i = 0; i < 32; ++i) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(name[2 * i]), lo = nibble(name[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return id;
}

}  // namespace

std::unique_ptr<cache_files> directory_cache_files(const std::string& path) {
  return std::make_unique<directory_files>(path);
}

std::string chunk_cache::file_name(const shard::chunk_hash& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (const auto b : id) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

chunk_cache::chunk_cache(cache_mode mode, cache_bounds bounds, std::unique_ptr<cache_files> files)
    : policy_(mode, bounds), files_(std::move(files)) {
  auto found = files_->list();
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.mtime_ns < b.mtime_ns; });
  for (const auto& f : found) {
    const auto id = id_of_name(f.name);
    if (!id) continue;  // not ours: left alone, and not counted
    const auto decided = policy_.admit(cache_tier::l2, *id, f.bytes);
    for (const auto& victim : decided.evict) files_->remove(file_name(victim));
    if (!decided.admitted) files_->remove(f.name);
  }
}

void chunk_cache::forget_l2_locked(const shard::chunk_hash& id) {
  policy_.forget(cache_tier::l2, id);
  files_->remove(file_name(id));
}

std::optional<std::vector<std::uint8_t>> chunk_cache::open_l2(const keys::key_grant& grant,
                                                              const shard::chunk_ref& ref) {
  {
    std::lock_guard lock(mutex_);
    if (!policy_.lookup(cache_tier::l2, ref.id)) return std::nullopt;
  }
  // Read and open outside the lock: files change only by rename or unlink
  // (CH4), so this sees a whole file or none.
  const auto file = files_->read(file_name(ref.id));
  std::optional<std::vector<std::uint8_t>> plain;
  if (file) plain = decode_file(grant, ref, *file);
  if (!plain) {
    std::lock_guard lock(mutex_);
    if (file) ++l2_corrupt_;
    if (policy_.contains(cache_tier::l2, ref.id)) forget_l2_locked(ref.id);
  }
  return plain;
}

std::shared_ptr<const std::vector<std::uint8_t>> chunk_cache::get(const keys::key_grant& grant,
                                                                  const shard::chunk_ref& ref) {
  if (policy_.mode() == cache_mode::bypass) return nullptr;
  {
    std::lock_guard lock(mutex_);
    if (policy_.lookup(cache_tier::l1, ref.id)) return l1_.at(ref.id);
  }
  auto plain = open_l2(grant, ref);
  if (!plain) return nullptr;
  auto shared = std::make_shared<const std::vector<std::uint8_t>>(std::move(*plain));
  std::lock_guard lock(mutex_);
  const auto decided = policy_.admit(cache_tier::l1, ref.id, shared->size());
  for (const auto& victim : decided.evict) l1_.erase(victim);
  if (decided.admitted) l1_[ref.id] = shared;
  return shared;
}

admission chunk_cache::put(const keys::key_grant& grant, const shard::chunk_ref& ref,
                           std::shared_ptr<const std::vector<std::uint8_t>> plaintext, bool pin) {
  if (policy_.mode() == cache_mode::bypass) {
    std::lock_guard lock(mutex_);
    return policy_.admit(cache_tier::l2, ref.id, plaintext->size());  // refused, counted
  }
  // Seal outside the lock (CPU); skip it if L2 already has the chunk and
  // nothing changes but its recency or pin.
  bool l2_has = false;
  {
    std::lock_guard lock(mutex_);
    const auto l1 = policy_.admit(cache_tier::l1, ref.id, plaintext->size());
    for (const auto& victim : l1.evict) l1_.erase(victim);
    if (l1.admitted) l1_[ref.id] = plaintext;
    l2_has = policy_.contains(cache_tier::l2, ref.id);
  }
  std::vector<std::uint8_t> file;
  if (!l2_has) {
    file = encode_file(grant, ref, *plaintext);
    if (file.empty()) return admission{false, {}, "unknown erasure-coding scheme"};
  }
  std::lock_guard lock(mutex_);
  if (l2_has && !policy_.contains(cache_tier::l2, ref.id)) {
    // Evicted meanwhile: seal again (rare; keeps the lock short otherwise).
    file = encode_file(grant, ref, *plaintext);
  }
  auto decided = policy_.admit(cache_tier::l2, ref.id, file.empty() ? 0 : file.size(), pin);
  for (const auto& victim : decided.evict) files_->remove(file_name(victim));
  if (!decided.admitted || file.empty()) return decided;  // refused, or already there
  int err = files_->write(file_name(ref.id), file);
  if (err == ENOSPC) {
    // CH3: the directory is fuller than the bound says (other users of
    // the file system): free about this chunk's size and try once more.
    ++l2_no_space_;
    for (const auto& victim : policy_.make_room(cache_tier::l2, file.size()))
      files_->remove(file_name(victim));
    // The chunk itself may have been the only entry left to drop: then
    // there is nothing to write it for (CH4).
    if (policy_.contains(cache_tier::l2, ref.id)) {
      err = files_->write(file_name(ref.id), file);
      if (err == ENOSPC) ++l2_no_space_;
    }
  }
  if (err != 0 || !policy_.contains(cache_tier::l2, ref.id)) {
    ++l2_write_failures_;
    policy_.forget(cache_tier::l2, ref.id);
    decided.admitted = false;
    decided.refused =
        std::string("the cache directory refused the write: ") + std::strerror(err ? err : ENOSPC);
  }
  return decided;
}

bool chunk_cache::pinned(const shard::chunk_ref& ref) const {
  std::lock_guard lock(mutex_);
  return policy_.pinned(ref.id);
}

void chunk_cache::release_pins() {
  std::lock_guard lock(mutex_);
  policy_.release_pins();
}

chunk_cache_stats chunk_cache::stats() const {
  std::lock_guard lock(mutex_);
  chunk_cache_stats out;
  out.l1 = policy_.stats(cache_tier::l1);
  out.l2 = policy_.stats(cache_tier::l2);
  out.l2_corrupt = l2_corrupt_;
  out.l2_write_failures = l2_write_failures_;
  out.l2_no_space = l2_no_space_;
  return out;
}

}  // namespace cairn::fuse
