// runtime/tenant_admin.h — tenants and S3 access keys in the cluster
// catalog (ADR 0006): creating a tenant writes its catalog entry and makes
// its keys in the key manager; creating an access key stores its secret
// only wrapped by the key manager (CT4) and hands the plaintext back once.
// Serves the admin HTTP endpoints behind `cairn admin tenant|key` and
// `cairn dev`'s default tenant and key.
//
// Owner: the node (runtime/node.cpp), one per node. Every call blocks (a
// scoped actor asks the system shard and the key manager): call it from
// the node's job thread or main thread, never from an actor's handler.
//
// Invariants:
//  TA1. A tenant entry is `ready` only after the key manager holds the
//       tenant's keys durably; an access key entry exists only for a ready
//       tenant, and is written with compare-and-set (an id is never
//       overwritten).
//  TA2. Secrets leave only in the answer to the call that created them
//       (and through reveal_secret, which `cairn dev` uses for the key it
//       prints); never in a log line or a listing.
#pragma once

#include <caf/all.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "runtime/catalog.h"

namespace cairn::runtime {

struct created_access_key {
  access_key_entry entry;
  std::string secret;  // shown once (TA2)
};

/// Why `name` cannot name a tenant ("" if it can): 1..64 characters of
/// a-z 0-9 . _ -, starting with a letter or digit.
std::string tenant_name_problem(std::string_view name);

class tenant_admin {
 public:
  tenant_admin(caf::actor_system& sys, std::function<caf::actor()> system_shard,
               caf::actor key_manager, std::function<std::int64_t()> clock);

  /// The catalog's tenants, buckets and access keys (a linearizable read of
  /// the system shard), or the reason it cannot be read.
  std::variant<catalog, std::string> read();

  /// A new tenant (its id: the next free one). Fails if the name is taken.
  std::variant<tenant_entry, std::string> create_tenant(const std::string& name);
  /// A new access key for a ready tenant.
  std::variant<created_access_key, std::string> create_access_key(std::uint64_t tenant,
                                                                  const std::string& label);
  /// Removes an access key: S3 requests signed with it fail once gateway
  /// caches expire (s3::secret_cache_ttl).
  std::string delete_access_key(const std::string& id);
  /// A new NFS export in the catalog (every node's gateway serves it within
  /// its cache time, 2 s): the path is free and well formed, the bucket is
  /// ready, the client rules parse, and no export has the same handle tag.
  std::variant<nfs_export_entry, std::string> create_export(nfs_export_entry e);
  /// Removes an export made by create_export; clients holding its handles
  /// get NFS3ERR_STALE.
  std::string delete_export(const std::string& path);

  /// The plaintext secret of a stored key (cairn dev reprints its own key).
  std::optional<std::string> reveal_secret(const access_key_entry& key);

  /// `cairn dev`: the tenant "default" and an access key labelled
  /// "cairn-dev", created on first start and found again afterwards.
  std::variant<created_access_key, std::string> dev_credentials();

  /// The admin HTTP API (blocking; the node runs it as a job):
  ///   GET  /v1/tenants                      tenants with bucket and key counts
  ///   POST /v1/tenants {"name"}             201 the new tenant
  ///   GET  /v1/keys[?tenant=N]              access keys (never secrets)
  ///   POST /v1/keys {"tenant", "label"?}    201 id and secret (shown once)
  ///   DELETE /v1/keys/<id>                  200
  ///   GET  /v1/exports                      NFS exports made here (not cairn.toml's)
  ///   POST /v1/exports {"path", "bucket", "read_only"?, "root_squash"?,
  ///        "anon_uid"?, "anon_gid"?, "clients"?, "allow_auth_none"?}  201
  ///   DELETE /v1/exports/<path>             200
  /// Returns the HTTP status and the JSON body; errors are {"error": ...}
  /// naming the field at fault.
  std::pair<unsigned, nlohmann::json> handle_http(const std::string& method,
                                                  const std::string& target,
                                                  const std::string& query,
                                                  const std::string& body);

 private:
  /// 0 ok, else the shard's reply code (255: no answer).
  std::uint8_t cas_absent(const std::string& key, const std::string& value);
  std::uint8_t put(const std::string& key, const std::string& value);
  /// Deletes a catalog entry; "" or why not (`missing` if there is none).
  std::string delete_entry(const std::string& key, const std::string& missing);

  caf::actor_system& sys_;
  std::function<caf::actor()> system_shard_;
  caf::actor key_manager_;
  std::function<std::int64_t()> clock_;
};

}  // namespace cairn::runtime
