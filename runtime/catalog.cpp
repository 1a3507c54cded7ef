// runtime/catalog.cpp — see catalog.h.
#include "runtime/catalog.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace cairn::runtime {
namespace {

using json = nlohmann::json;

constexpr std::string_view tenant_prefix = "tenant/";
constexpr std::string_view bucket_prefix = "bucket/";
constexpr std::string_view access_key_prefix = "akey/";

std::optional<entry_state> state_from(const std::string& s) {
  for (auto st :
       {entry_state::creating, entry_state::ready, entry_state::deleting, entry_state::disabled})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> unhex(const std::string& text) {
  if (text.size() % 2) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || end != text.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

/// Uniform characters of `alphabet` from the random source (rejection
/// sampling: no modulo bias).
std::string random_text(keys::random_source& random, std::string_view alphabet, std::size_t count) {
  std::string out;
  const unsigned limit = 256 - 256 % static_cast<unsigned>(alphabet.size());
  while (out.size() < count) {
    std::uint8_t bytes[32];
    random.fill(bytes);
    for (auto b : bytes)
      if (b < limit && out.size() < count) out += alphabet[b % alphabet.size()];
  }
  return out;
}

constexpr std::string_view base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

bool ipv4_like(std::string_view name) {
  int parts = 0;
  std::size_t at = 0;
  while (at <= name.size()) {
    const auto dot = name.find('.', at);
    const auto part = name.substr(at, dot == std::string_view::npos ? name.npos : dot - at);
    if (part.empty() || part.size() > 3 ||
        part.find_first_not_of("0123456789") != std::string_view::npos)
      return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  return parts == 4;
}

}  // namespace

std::string_view to_string(entry_state s) {
  switch (s) {
    case entry_state::creating:
      return "creating";
    case entry_state::ready:
      return "ready";
    case entry_state::deleting:
      return "deleting";
    case entry_state::disabled:
      return "disabled";
  }
  return "unknown";
}

std::string tenant_key(std::uint64_t id) {
  return std::string(tenant_prefix) + std::to_string(id);
}
std::string bucket_key(std::string_view name) {
  return std::string(bucket_prefix) + std::string(name);
}
std::string access_key_key(std::string_view id) {
  return std::string(access_key_prefix) + std::string(id);
}
std::string nfs_export_key(std::string_view path) {
  return std::string(nfs_export_prefix) + std::string(path);
}

std::string export_path_problem(std::string_view path) {
  if (path.empty() || path[0] != '/') return "an export path starts with '/'";
  if (path.size() > 1024) return "an export path has at most 1024 bytes";
  if (path == "/") return {};
  if (path.back() == '/') return "an export path does not end with '/'";
  for (std::size_t at = 1; at <= path.size();) {
    const auto slash = path.find('/', at);
    const auto part = path.substr(at, slash == std::string_view::npos ? path.npos : slash - at);
    if (part.empty() || part == "." || part == "..")
      return "an export path has no empty, '.' or '..' component";
    if (part.find('\0') != std::string_view::npos) return "an export path has no NUL byte";
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return {};
}

std::string encode(const tenant_entry& t) {
  return json{{"id", t.id}, {"name", t.name}, {"state", to_string(t.state)}}.dump();
}

std::string encode(const bucket_entry& b) {
  return json{{"name", b.name},     {"tenant", b.tenant},         {"shard", b.shard},
              {"bucket", b.bucket}, {"created_ns", b.created_ns}, {"state", to_string(b.state)}}
      .dump();
}

std::string encode(const access_key_entry& k) {
  return json{{"id", k.id},
              {"tenant", k.tenant},
              {"state", to_string(k.state)},
              {"secret", hex(k.wrapped_secret)},
              {"label", k.label},
              {"created_ns", k.created_ns}}
      .dump();
}

std::string encode(const nfs_export_entry& e) {
  return json{{"path", e.path},
              {"bucket", e.bucket},
              {"state", to_string(e.state)},
              {"read_only", e.read_only},
              {"root_squash", e.root_squash},
              {"anon_uid", e.anon_uid},
              {"anon_gid", e.anon_gid},
              {"clients", e.clients},
              {"allow_auth_none", e.allow_auth_none},
              {"created_ns", e.created_ns}}
      .dump();
}

std::string bucket_name_problem(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return "a bucket name has 3 to 63 characters";
  if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string_view::npos)
    return "a bucket name has only lowercase letters, digits, dots and hyphens";
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back()))
    return "a bucket name starts and ends with a letter or a digit";
  if (name.find("..") != std::string_view::npos) return "a bucket name has no two adjacent dots";
  if (ipv4_like(name)) return "a bucket name is not an IP address";
  for (std::string_view prefix : {"xn--", "sthree-", "amzn-s3-demo-"})
    if (name.starts_with(prefix)) return "a bucket name does not start with " + std::string(prefix);
  for (std::string_view suffix : {"-s3alias", "--ol-s3", ".mrap", "--x-s3"})
    if (name.ends_with(suffix)) return "a bucket name does not end with " + std::string(suffix);
  return {};
}

std::string new_access_key_id(keys::random_source& random) {
  return "CK" + random_text(random, base32, access_key_id_bytes - 2);
}

std::string new_access_key_secret(keys::random_source& random) {
  return random_text(random, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                     access_key_secret_bytes);
}

bool well_formed_access_key_id(std::string_view id) {
  return id.size() == access_key_id_bytes && id.starts_with("CK") &&
         id.substr(2).find_first_not_of(base32) == std::string_view::npos;
}

catalog catalog::parse(const std::vector<std::pair<std::string, std::string>>& kv,
                       std::vector<std::string>* problems) {
  catalog c;
  auto report = [&](const std::string& key, const std::string& why) {
    if (problems) problems->push_back(key + ": " + why);
  };
  for (const auto& [key, value] : kv) {
    const bool tenant = key.starts_with(tenant_prefix);
    const bool bucket = key.starts_with(bucket_prefix);
    const bool akey = key.starts_with(access_key_prefix);
    const bool nfs_export = key.starts_with(nfs_export_prefix);
    if (!tenant && !bucket && !akey && !nfs_export) continue;
    const auto j = json::parse(value, nullptr, false);
    if (!j.is_object()) {
      report(key, "not a JSON object");
      continue;
    }
    try {
      const auto state = state_from(j.at("state").get<std::string>());
      if (!state) {
        report(key, "unknown state");
        continue;
      }
      if (tenant) {
        tenant_entry t{j.at("id").get<std::uint64_t>(), j.at("name").get<std::string>(), *state};
        if (tenant_key(t.id) != key) {
          report(key, "the id does not match the key");
          continue;
        }
        c.tenants[t.id] = std::move(t);
      } else if (bucket) {
        bucket_entry b{j.at("name").get<std::string>(),        j.at("tenant").get<std::uint64_t>(),
                       j.at("shard").get<std::uint64_t>(),     j.at("bucket").get<std::uint64_t>(),
                       j.at("created_ns").get<std::int64_t>(), *state};
        if (bucket_key(b.name) != key || !bucket_name_problem(b.name).empty()) {
          report(key, "the name does not match the key or is not a bucket name");
          continue;
        }
        c.buckets[b.name] = std::move(b);
      } else if (nfs_export) {
        nfs_export_entry e;
        e.path = j.at("path").get<std::string>();
        e.bucket = j.at("bucket").get<std::string>();
        e.state = *state;
        e.read_only = j.at("read_only").get<bool>();
        e.root_squash = j.at("root_squash").get<bool>();
        e.anon_uid = j.at("anon_uid").get<std::uint32_t>();
        e.anon_gid = j.at("anon_gid").get<std::uint32_t>();
        e.clients = j.at("clients").get<std::vector<std::string>>();
        e.allow_auth_none = j.at("allow_auth_none").get<bool>();
        e.created_ns = j.value("created_ns", std::int64_t{0});
        if (nfs_export_key(e.path) != key || !export_path_problem(e.path).empty() ||
            !bucket_name_problem(e.bucket).empty()) {
          report(key, "the path does not match the key, or the path or bucket is malformed");
          continue;
        }
        c.nfs_exports[e.path] = std::move(e);
      } else {
        auto secret = unhex(j.at("secret").get<std::string>());
        access_key_entry k{j.at("id").get<std::string>(),
                           j.at("tenant").get<std::uint64_t>(),
                           *state,
                           secret.value_or(std::vector<std::uint8_t>{}),
                           j.value("label", std::string()),
                           j.value("created_ns", std::int64_t{0})};
        if (!secret || access_key_key(k.id) != key || !well_formed_access_key_id(k.id)) {
          report(key, "malformed access key entry");
          continue;
        }
        c.access_keys[k.id] = std::move(k);
      }
    } catch (const json::exception& e) {
      report(key, std::string("missing or mistyped field: ") + e.what());
    }
  }
  return c;
}

std::vector<const bucket_entry*> catalog::buckets_of(std::uint64_t tenant) const {
  std::vector<const bucket_entry*> out;
  for (const auto& [name, b] : buckets)
    if (b.tenant == tenant) out.push_back(&b);
  return out;
}

std::optional<std::uint64_t> catalog::choose_shard(const std::vector<std::uint64_t>& shards) const {
  std::optional<std::uint64_t> best;
  std::size_t best_count = 0;
  auto sorted = shards;
  std::sort(sorted.begin(), sorted.end());
  for (const auto s : sorted) {
    const auto n = static_cast<std::size_t>(std::count_if(
        buckets.begin(), buckets.end(), [s](const auto& b) { return b.second.shard == s; }));
    if (!best || n < best_count) {
      best = s;
      best_count = n;
    }
  }
  return best;
}

std::uint64_t catalog::next_tenant_id() const {
  return tenants.empty() ? 1 : tenants.rbegin()->first + 1;
}

}  // namespace cairn::runtime
