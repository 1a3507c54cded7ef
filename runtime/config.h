// runtime/config.h — the configuration of a storage node (`cairn server`):
// read from a TOML file (toml++), then overridden by CAIRN_* environment
// variables, then by command-line flags, then validated.
//
// Owner: runtime/main.cpp builds one node_config and hands it to the node.
// Every option has one dotted name (`raft.tick_ms`); its environment
// variable is CAIRN_ + the name upper-cased with dots as underscores
// (`CAIRN_RAFT_TICK_MS`). A bad option throws config_error naming the field
// and the reason; unknown TOML keys are errors (typos are caught), unknown
// CAIRN_* variables are reported as warnings.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cairn::runtime {

/// "host:port" split; host is an IPv4/IPv6 literal or a name.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;
  friend bool operator==(const host_port&, const host_port&) = default;
};

/// Parses "host:port" or "[v6]:port"; nullopt if malformed.
std::optional<host_port> parse_host_port(std::string_view s);

struct tls_config {
  std::string ca_cert;  // the cluster CA (trust anchor)
  std::string cert;     // this node's certificate chain
  std::string key;      // this node's private key
  bool empty() const { return ca_cert.empty() && cert.empty() && key.empty(); }
};

struct raft_settings {
  std::uint64_t tick_ms = 50;
  std::uint64_t election_ticks = 20;
  std::uint64_t heartbeat_ticks = 2;
  std::uint64_t snapshot_entries = 10'000;
  /// ...once the log since the last snapshot also holds this percent of its
  /// bytes (replica_options::snapshot_log_percent).
  std::uint64_t snapshot_log_percent = 50;
};

struct transport_settings {
  std::uint64_t frame_bytes_max = 64ull << 20;
  std::uint64_t send_queue_bytes_max = 64ull << 20;
  std::uint64_t heartbeat_ms = 1000;
  std::uint64_t dead_after_ms = 5000;
  std::uint64_t reconnect_min_ms = 50;
  std::uint64_t reconnect_max_ms = 2000;
};

struct chunk_settings {
  /// Device files or block devices, one chunk device actor each. Empty:
  /// no chunk storage, except under `cairn dev` (dev_devices files).
  std::vector<std::string> devices;
  /// Size of a device file created on first start (MiB; sparse).
  std::uint64_t device_mb = 1024;
  /// Device files `cairn dev` creates under <data_dir>/devices when
  /// chunk.devices is empty: 6 hold an RS 4+2 stripe on one node.
  std::uint64_t dev_devices = 6;
};

/// One NFS export (`[[nfs_exports]]` in cairn.toml; docs/nfs.md).
struct nfs_export_settings {
  std::string path;    // what MNT asks for: "/data"
  std::string bucket;  // the bucket exported
  bool read_only = false;
  bool root_squash = true;
  std::uint64_t anon_uid = 65534;
  std::uint64_t anon_gid = 65534;
  std::vector<std::string> clients;  // addresses or networks; empty: any
  bool allow_auth_none = false;
  friend bool operator==(const nfs_export_settings&, const nfs_export_settings&) = default;
};

struct node_config {
  std::uint64_t node_id = 0;
  std::string data_dir = "./cairn-data";
  /// The transport's listen address; empty for a node without peers
  /// (`cairn dev`).
  std::string listen;
  /// The address other nodes dial; defaults to `listen`.
  std::string advertise;
  std::string admin_listen = "127.0.0.1:9090";
  /// The S3 gateway's listen address; empty: no S3 gateway.
  std::string s3_listen;
  /// Virtual-host-style S3 addressing: "<bucket>.<s3_domain>" ("": off).
  std::string s3_domain;
  /// The NFS gateway's listen address (MOUNT and NFS v3 on one port);
  /// empty: no NFS gateway. `cairn dev` exports its default bucket.
  std::string nfs_listen;
  /// The client listener's address (`cairn mount`, ADR 0009); empty: none.
  /// Needs tls.* (`cairn dev` makes its own CA and certificate).
  std::string client_listen;
  /// The buckets the NFS gateway exports (TOML only: an array of tables).
  std::vector<nfs_export_settings> nfs_exports;
  /// The chunk collector deletes a chunk once it has been garbage this long.
  std::uint64_t gc_grace_ms = 5000;
  /// Transport addresses of running nodes to join through.
  std::vector<std::string> peers;
  /// Create a new cluster with this node as its first member.
  bool bootstrap = false;
  std::string log_level = "info";
  std::uint64_t storage_map_mb = 4096;
  /// New client writes are refused while less than this is free on the
  /// data directory's file system...
  std::uint64_t storage_reserve_mb = 256;
  /// ...or while the LMDB map is at least this full.
  std::uint64_t storage_full_percent = 95;
  tls_config tls;
  raft_settings raft;
  transport_settings transport;
  chunk_settings chunk;
};

class config_error : public std::runtime_error {
 public:
  config_error(std::string field, std::string reason)
      : std::runtime_error("config: " + field + ": " + reason),
        field_(std::move(field)),
        reason_(std::move(reason)) {}
  const std::string& field() const { return field_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string field_;
  std::string reason_;
};

/// Applies a TOML document (text, for tests) onto `cfg`. `origin` names
/// the source in errors.
void apply_toml(node_config& cfg, std::string_view toml_text, std::string_view origin);

/// Reads and applies a TOML file; a missing or unreadable file is an error
/// naming the path.
void apply_toml_file(node_config& cfg, const std::string& path);

/// Applies CAIRN_* variables from `env` (name -> value). Returns the names
/// of CAIRN_* variables that matched no option (for a warning).
std::vector<std::string> apply_environment(node_config& cfg,
                                           const std::map<std::string, std::string>& env);

/// The process environment as a map (CAIRN_* entries only).
std::map<std::string, std::string> cairn_environment();

/// Checks every field; throws config_error on the first bad one.
void validate(const node_config& cfg);

/// Every option's dotted name (for --help and the docs).
std::vector<std::string> option_names();

}  // namespace cairn::runtime
