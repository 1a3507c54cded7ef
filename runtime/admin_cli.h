// runtime/admin_cli.h — `cairn admin ...`: the operator's CLI. Talks to any
// node's admin HTTP API (runtime/node.cpp) and prints readable tables (or
// the raw JSON with --json).
//
// Owner: runtime/main.cpp. Each function returns the process exit code:
// 0 ok, 1 the cluster said no or could not be reached (message on stderr).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::runtime {

struct admin_options {
  std::string endpoint = "http://127.0.0.1:9090";
  bool json = false;
};

int admin_status(const admin_options& o);
int admin_nodes(const admin_options& o);
int admin_shards(const admin_options& o);
int admin_create_shard(const admin_options& o, std::size_t replicas);
int admin_remove_node(const admin_options& o, std::uint64_t id);
/// The node's chunk devices as a table (usage bar, state, corrupt reads).
int admin_devices(const admin_options& o);
/// The node's event log, oldest first.
int admin_events(const admin_options& o, std::uint64_t after);
/// Repair progress; `start` starts a pass, `wait` redraws a progress bar
/// until it ends (exit status 1 if it found unrecoverable stripes).
int admin_repair(const admin_options& o, bool start, bool wait);
/// Tenants (id, name, state, buckets, access keys) as a table.
int admin_tenants(const admin_options& o);
int admin_create_tenant(const admin_options& o, const std::string& name);
/// Access keys (never their secrets), of one tenant when `tenant` != 0.
int admin_keys(const admin_options& o, std::uint64_t tenant);
/// Prints the new key's id and secret (the only time the secret is shown).
int admin_create_key(const admin_options& o, std::uint64_t tenant, const std::string& label);
int admin_delete_key(const admin_options& o, const std::string& id);

/// `cairn admin export add`: what the flags say.
struct export_request {
  std::string path, bucket;
  bool read_only = false;
  bool no_root_squash = false;
  std::uint32_t anon_uid = 65534, anon_gid = 65534;
  std::vector<std::string> clients;
  bool allow_auth_none = false;
};
/// NFS exports in the catalog (`cairn admin export`), as a table.
int admin_exports(const admin_options& o);
int admin_add_export(const admin_options& o, const export_request& e);
int admin_remove_export(const admin_options& o, const std::string& path);
/// "[#####.....]  50%" for done/total.
std::string progress_bar(std::uint64_t done, std::uint64_t total, std::size_t width = 20);
/// Bytes for people: "512 B", "8.6 MiB", "1.2 GiB".
std::string human_bytes(std::uint64_t bytes);

/// Lays out rows under a header with aligned columns (exposed for tests).
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace cairn::runtime
