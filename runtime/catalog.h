// runtime/catalog.h — the cluster catalog (ADR 0006): tenants, buckets and
// S3 access keys, kept in the system shard beside the cluster map as
// key-value pairs:
//   tenant/<id>       -> {"id", "name", "state"}
//   bucket/<name>     -> {"name", "tenant", "shard", "bucket", "created_ns", "state"}
//   akey/<key id>     -> {"id", "tenant", "state", "secret": wrapped (hex), "label",
//                         "created_ns"}
//   export/<path>     -> {"path", "bucket", "state", "read_only", "root_squash",
//                         "anon_uid", "anon_gid", "clients", "allow_auth_none",
//                         "created_ns"}   (NFS exports, `cairn admin export`)
// and the rules for what may be stored: S3's bucket naming rules, the
// formats of access key ids and secrets.
//
// Owner: the node's controller and the gateways read it from the local
// system replica; admin requests propose changes. Pure functions; the
// randomness for new keys and ids is injected.
//
// Invariants:
//  CT1. parse() accepts exactly what encode() produces for well-formed
//       entries (round trip); anything else is skipped and reported, never
//       half-read.
//  CT2. A bucket name that bucket_name_problem() accepts follows S3's
//       general-purpose bucket rules (3-63 characters of a-z 0-9 . -,
//       starting and ending with a letter or digit, no "..", not an IPv4
//       address, none of the reserved prefixes and suffixes).
//  CT3. choose_shard() is deterministic for the same catalog and shard list.
//  CT4. An access key secret appears only wrapped (by the key provider) in
//       an entry: the catalog never holds it in the clear.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/keys/random_source.h"

namespace cairn::runtime {

enum class entry_state : std::uint8_t { creating, ready, deleting, disabled };
std::string_view to_string(entry_state s);

struct tenant_entry {
  std::uint64_t id = 0;
  std::string name;
  entry_state state = entry_state::ready;
  friend bool operator==(const tenant_entry&, const tenant_entry&) = default;
};

struct bucket_entry {
  std::string name;
  std::uint64_t tenant = 0;
  std::uint64_t shard = 0;   // the data shard holding its namespace
  std::uint64_t bucket = 0;  // its id inside that shard (shard::bucket_id)
  std::int64_t created_ns = 0;
  entry_state state = entry_state::creating;
  friend bool operator==(const bucket_entry&, const bucket_entry&) = default;
};

struct access_key_entry {
  std::string id;  // "CK" + 18 base32 characters
  std::uint64_t tenant = 0;
  entry_state state = entry_state::ready;
  std::vector<std::uint8_t> wrapped_secret;  // key_provider::wrap of the secret (CT4)
  /// Free text to tell keys apart ("cairn-dev" marks the key of `cairn dev`).
  std::string label;
  std::int64_t created_ns = 0;
  friend bool operator==(const access_key_entry&, const access_key_entry&) = default;
};

/// An NFS export made by `cairn admin export` (docs/nfs.md): every node's
/// NFS gateway serves it, beside the exports of its own cairn.toml.
struct nfs_export_entry {
  std::string path;    // what MNT asks for: "/data"
  std::string bucket;  // the bucket exported (its tenant's)
  entry_state state = entry_state::ready;
  bool read_only = false;
  bool root_squash = true;
  std::uint32_t anon_uid = 65534, anon_gid = 65534;
  std::vector<std::string> clients;  // addresses or CIDR prefixes; empty: any
  bool allow_auth_none = false;
  std::int64_t created_ns = 0;
  friend bool operator==(const nfs_export_entry&, const nfs_export_entry&) = default;
};

/// Why `path` cannot be an export path ("" if it can): starts with '/', at
/// most 1024 bytes, no empty, "." or ".." component, no trailing '/'
/// (except "/" itself).
std::string export_path_problem(std::string_view path);

std::string tenant_key(std::uint64_t id);
std::string bucket_key(std::string_view name);
std::string access_key_key(std::string_view id);
std::string nfs_export_key(std::string_view path);
inline constexpr std::string_view nfs_export_prefix = "export/";
std::string encode(const tenant_entry& t);
std::string encode(const bucket_entry& b);
std::string encode(const access_key_entry& k);
std::string encode(const nfs_export_entry& e);

/// Why `name` is not a valid bucket name (CT2), or "" if it is.
std::string bucket_name_problem(std::string_view name);

inline constexpr std::size_t access_key_id_bytes = 20;
inline constexpr std::size_t access_key_secret_bytes = 40;
/// A new access key id: "CK" and 18 characters of RFC 4648 base32.
std::string new_access_key_id(keys::random_source& random);
/// A new secret: 40 characters of A-Z a-z 0-9 + / (as AWS's).
std::string new_access_key_secret(keys::random_source& random);
bool well_formed_access_key_id(std::string_view id);

struct catalog {
  std::map<std::uint64_t, tenant_entry> tenants;
  std::map<std::string, bucket_entry> buckets;
  std::map<std::string, access_key_entry> access_keys;
  std::map<std::string, nfs_export_entry> nfs_exports;  // by path

  /// From the system shard's key-value pairs (other prefixes ignored);
  /// malformed entries are skipped and reported in `problems` (CT1).
  static catalog parse(const std::vector<std::pair<std::string, std::string>>& kv,
                       std::vector<std::string>* problems = nullptr);

  /// The tenant's buckets in name order (ListBuckets).
  std::vector<const bucket_entry*> buckets_of(std::uint64_t tenant) const;
  /// The data shard for a new bucket: the one of `shards` holding the
  /// fewest buckets, ties broken by the lowest id (CT3); nullopt if none.
  std::optional<std::uint64_t> choose_shard(const std::vector<std::uint64_t>& shards) const;
  std::uint64_t next_tenant_id() const;
};

}  // namespace cairn::runtime
