// runtime/main.cpp — the `cairn` binary.
//
//   cairn server --config cairn.toml [--bootstrap]
//       a storage node (options: docs/runtime.md; every option also as a
//       CAIRN_* environment variable).
//   cairn dev [--data DIR] [--admin-port P] [--s3-port P] [--device-mb M] [--tick-ms T]
//       one process, one node: the same code as a server with no peers.
//   cairn cert ca --out DIR [--name NAME]
//   cairn cert node --ca DIR --id N --out DIR [--host H]...
//       a development cluster CA and node certificates for mutual TLS.
//   cairn admin status|nodes|shards [--endpoint URL] [--json]
//   cairn admin shards create [--replicas N] | admin nodes remove ID
//   cairn admin devices | events [--after N] | repair [start [--wait]]
//       the operator's view of a running cluster, through any node.
//   cairn mount MOUNTPOINT --endpoint HOST:PORT --ca CA.pem [--credentials FILE] [--bucket B]
//       the tenant's buckets (or bucket B) as directories through FUSE
//       (docs/fuse.md), until SIGTERM.
//   cairn stage PATH [--status | --release]   cairn cache --stats PATH [--json]
//       a mount's dataset staging and client cache.
//   cairn version
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

#include "gateways/fuse/control.h"
#include "gateways/fuse/fuse_mount.h"
#include "runtime/admin_cli.h"
#include "runtime/certs.h"
#include "runtime/config.h"
#include "runtime/node.h"

namespace {

using cairn::runtime::node_config;

/// Runs a node until SIGINT/SIGTERM. Prints the lines scripts rely on.
int run_node(node_config cfg, cairn::runtime::node_mode mode) {
  // Block the signals before any thread starts, then wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Logs go to stderr; stdout carries only the lines scripts read.
  spdlog::set_default_logger(spdlog::stderr_color_mt("cairn"));
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  const char* what = mode.dev ? "cairn dev" : "cairn server";
  cairn::runtime::node n(cfg, mode);
  try {
    n.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", what, e.what());
    return 1;
  }
  std::pair<std::string, std::string> credentials;
  try {
    if (mode.dev) credentials = n.s3_credentials();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", what, e.what());
    n.stop();
    return 1;
  }
  const std::string admin = n.admin_endpoint();
  std::printf("node-id: %llu\n", static_cast<unsigned long long>(cfg.node_id));
  std::printf("admin-endpoint: %s\n", admin.c_str());
  std::printf("health: %s/health\n", admin.c_str());
  std::printf("metrics: %s/metrics\n", admin.c_str());
  if (n.transport_port() != 0) std::printf("transport-port: %u\n", n.transport_port());
  std::printf("data-dir: %s\n", cfg.data_dir.c_str());
  if (const auto s3 = n.s3_endpoint(); !s3.empty() && !credentials.first.empty()) {
    const auto& [access, secret] = credentials;
    std::printf("s3-endpoint: %s\n", s3.c_str());
    std::printf("access-key: %s\n", access.c_str());
    std::printf("secret-key: %s\n", secret.c_str());
  }
  const auto nfs_port = n.nfs_port();
  if (nfs_port != 0 && mode.dev) {
    std::printf("nfs-export: 127.0.0.1:%u:/cairn\n", nfs_port);
    std::printf("nfs-url: nfs://127.0.0.1/cairn?version=3&nfsport=%u&mountport=%u\n", nfs_port,
                nfs_port);
  }
  std::string mount_line;
  if (const auto client_port = n.client_port(); client_port != 0) {
    std::printf("client-endpoint: 127.0.0.1:%u\n", client_port);
    std::printf("client-ca: %s\n", n.client_ca().c_str());
    if (mode.dev && !credentials.first.empty()) {
      // The dev key goes in the environment of the printed command, as for
      // the aws CLI: no secret is written to disk in plaintext.
      mount_line = "AWS_ACCESS_KEY_ID=" + credentials.first +
                   " AWS_SECRET_ACCESS_KEY=" + credentials.second +
                   " cairn mount /mnt/cairn --endpoint 127.0.0.1:" + std::to_string(client_port) +
                   " --ca " + n.client_ca();
      std::printf("mount: %s\n", mount_line.c_str());
    }
  }
  if (mode.dev) {
    std::printf("\nA single-node cluster (Raft groups of one, LMDB log) is running. Try:\n");
    std::printf("  curl -X PUT --data-binary world %s/v1/kv/hello\n", admin.c_str());
    std::printf("  curl %s/v1/kv/hello\n", admin.c_str());
    std::printf("  cairn admin status --endpoint %s\n", admin.c_str());
    std::printf("  cairn admin devices --endpoint %s   # %llu chunk devices of %llu MiB\n",
                admin.c_str(), static_cast<unsigned long long>(cfg.chunk.dev_devices),
                static_cast<unsigned long long>(cfg.chunk.device_mb));
    std::printf("  cairn admin events --endpoint %s\n", admin.c_str());
    if (const auto s3 = n.s3_endpoint(); !s3.empty() && !credentials.first.empty()) {
      const auto& [access, secret] = credentials;
      std::printf(
          "  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url %s "
          "--region us-east-1 s3 ls s3://cairn\n",
          access.c_str(), secret.c_str(), s3.c_str());
    }
    if (nfs_port != 0)
      std::printf(
          "  nfs-ls 'nfs://127.0.0.1/cairn?version=3&nfsport=%u&mountport=%u'   # NFS v3 "
          "(libnfs-utils)\n",
          nfs_port, nfs_port);
    if (!mount_line.empty())
      std::printf(
          "  mkdir -p /mnt/cairn && %s &   # FUSE (as root): bucket cairn is /mnt/cairn/cairn\n",
          mount_line.c_str());
    std::printf("Stop with Ctrl-C.\n");
  }
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {} received, stopping", sig);
  n.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn: encrypted, erasure-coded storage served as S3, NFS and FUSE"};
  app.require_subcommand(1);

  // --- server
  std::string config_path;
  bool bootstrap = false;
  auto* server_cmd = app.add_subcommand("server", "run a storage node");
  server_cmd->add_option("--config", config_path, "TOML configuration file");
  server_cmd->add_flag("--bootstrap", bootstrap,
                       "create a new cluster with this node as its first");

  // --- dev
  node_config dev;
  dev.node_id = 1;
  dev.admin_listen = "127.0.0.1:9090";
  dev.raft.tick_ms = 10;
  dev.raft.election_ticks = 10;
  dev.raft.heartbeat_ticks = 1;
  std::uint16_t dev_admin_port = 9090;
  std::uint16_t dev_s3_port = 9000;
  std::uint16_t dev_nfs_port = 2049;
  std::uint16_t dev_client_port = 9400;
  auto* dev_cmd = app.add_subcommand("dev", "run an embedded single-node cluster on localhost");
  dev_cmd->add_option("--data", dev.data_dir, "data directory")->capture_default_str();
  dev_cmd->add_option("--admin-port", dev_admin_port, "admin HTTP port (0 = any)")
      ->capture_default_str();
  dev_cmd->add_option("--s3-port", dev_s3_port, "S3 port (0 = any)")->capture_default_str();
  dev_cmd->add_option("--nfs-port", dev_nfs_port, "NFS and MOUNT v3 port (0 = any)")
      ->capture_default_str();
  dev_cmd->add_option("--client-port", dev_client_port,
                      "client listener port for cairn mount (0 = any)");
  dev_cmd
      ->add_option("--device-mb", dev.chunk.device_mb,
                   "size of each chunk device file created under <data>/devices (MiB)")
      ->check(CLI::Range(16, 1 << 20))
      ->capture_default_str();
  dev_cmd
      ->add_option("--gc-grace-ms", dev.gc_grace_ms,
                   "delete unreferenced chunks after this many milliseconds")
      ->capture_default_str();
  dev_cmd->add_option("--tick-ms", dev.raft.tick_ms, "Raft tick period in milliseconds")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();

  // --- cert
  auto* cert_cmd = app.add_subcommand("cert", "create a development CA and node certificates");
  cert_cmd->require_subcommand(1);
  std::string ca_out, ca_name = "dev";
  auto* cert_ca = cert_cmd->add_subcommand("ca", "create a cluster CA (ca.pem, ca.key)");
  cert_ca->add_option("--out", ca_out, "directory to write into")->required();
  cert_ca->add_option("--name", ca_name, "cluster name in the CA's subject")->capture_default_str();
  std::string node_ca, node_out;
  std::uint64_t node_id = 0;
  std::vector<std::string> node_hosts{"127.0.0.1", "localhost"};
  auto* cert_node = cert_cmd->add_subcommand("node", "create a node certificate signed by the CA");
  cert_node->add_option("--ca", node_ca, "directory with ca.pem and ca.key")->required();
  cert_node->add_option("--id", node_id, "node id")->required()->check(CLI::PositiveNumber);
  cert_node->add_option("--out", node_out, "directory to write node.pem, node.key, ca.pem")
      ->required();
  cert_node->add_option("--host", node_hosts, "IP address or DNS name (repeatable)")
      ->capture_default_str();

  // --- admin
  cairn::runtime::admin_options admin;
  auto* admin_cmd = app.add_subcommand("admin", "show and change a running cluster");
  admin_cmd->require_subcommand(1);
  auto* admin_status = admin_cmd->add_subcommand("status", "this node and the system shard");
  auto* admin_nodes = admin_cmd->add_subcommand("nodes", "the cluster's nodes");
  std::uint64_t remove_id = 0;
  auto* admin_nodes_remove = admin_nodes->add_subcommand("remove", "remove a node");
  admin_nodes_remove->add_option("id", remove_id, "node id")->required();
  auto* admin_shards = admin_cmd->add_subcommand("shards", "the cluster's shards");
  std::size_t create_replicas = 3;
  auto* admin_shards_create = admin_shards->add_subcommand("create", "create a data shard");
  admin_shards_create->add_option("--replicas", create_replicas, "replicas (nodes)")
      ->check(CLI::Range(1, 7))
      ->capture_default_str();

  auto* admin_devices = admin_cmd->add_subcommand("devices", "this node's chunk devices");
  auto* admin_events = admin_cmd->add_subcommand("events", "this node's event log");
  std::uint64_t events_after = 0;
  admin_events->add_option("--after", events_after, "only events after this sequence number");
  auto* admin_repair = admin_cmd->add_subcommand("repair", "repair progress on this node");
  auto* admin_repair_start = admin_repair->add_subcommand("start", "start a repair pass");
  bool repair_wait = false;
  admin_repair_start->add_flag("--wait", repair_wait, "show progress until the pass ends");
  auto* admin_tenant = admin_cmd->add_subcommand("tenant", "tenants (list; create NAME)");
  std::string tenant_name;
  auto* admin_tenant_create = admin_tenant->add_subcommand("create", "create a tenant");
  admin_tenant_create->add_option("name", tenant_name, "tenant name (a-z 0-9 . _ -)")->required();
  auto* admin_key = admin_cmd->add_subcommand("key", "S3 access keys (list; create; delete ID)");
  std::uint64_t key_tenant = 0;
  std::string key_label, key_id;
  admin_key->add_option("--tenant", key_tenant, "only this tenant's keys");
  auto* admin_key_create = admin_key->add_subcommand("create", "create an access key");
  admin_key_create->add_option("--tenant", key_tenant, "the tenant's id")->required();
  admin_key_create->add_option("--label", key_label, "free text to tell keys apart");
  auto* admin_key_delete = admin_key->add_subcommand("delete", "delete an access key");
  admin_key_delete->add_option("id", key_id, "access key id")->required();
  auto* admin_export =
      admin_cmd->add_subcommand("export", "NFS exports (list; add PATH --bucket B; remove PATH)");
  cairn::runtime::export_request export_new;
  std::string export_path;
  auto* admin_export_add = admin_export->add_subcommand("add", "export a bucket over NFS");
  admin_export_add->add_option("path", export_new.path, "what clients mount (\"/data\")")
      ->required();
  admin_export_add->add_option("--bucket", export_new.bucket, "the bucket exported")->required();
  admin_export_add->add_flag("--read-only", export_new.read_only, "refuse every change");
  admin_export_add->add_flag("--no-root-squash", export_new.no_root_squash,
                             "uid 0 stays root (default: acts as --anon-uid)");
  admin_export_add->add_option("--anon-uid", export_new.anon_uid, "uid of squashed callers")
      ->capture_default_str();
  admin_export_add->add_option("--anon-gid", export_new.anon_gid, "gid of squashed callers")
      ->capture_default_str();
  admin_export_add->add_option("--client", export_new.clients,
                               "an allowed client address or network (repeat; default: any)");
  admin_export_add->add_flag("--allow-auth-none", export_new.allow_auth_none,
                             "serve AUTH_NONE calls as the anonymous user");
  auto* admin_export_remove = admin_export->add_subcommand("remove", "stop exporting a path");
  admin_export_remove->add_option("path", export_path, "the export's path")->required();
  // --endpoint and --json go after the last word (`cairn admin nodes --json`).
  for (auto* sub :
       {admin_status, admin_nodes, admin_nodes_remove, admin_shards, admin_shards_create,
        admin_devices, admin_events, admin_repair, admin_repair_start, admin_tenant,
        admin_tenant_create, admin_key, admin_key_create, admin_key_delete, admin_export,
        admin_export_add, admin_export_remove}) {
    sub->add_option("--endpoint", admin.endpoint, "any node's admin endpoint")
        ->envname("CAIRN_ADMIN_ENDPOINT")
        ->capture_default_str();
    sub->add_flag("--json", admin.json, "print the raw JSON");
  }

  // --- mount
  cairn::fuse::mount_config mount;
  auto* mount_cmd = app.add_subcommand(
      "mount", "mount the tenant's buckets (one directory each), or one bucket, through FUSE");
  mount_cmd->add_option("mountpoint", mount.mountpoint, "an empty directory")->required();
  mount_cmd->add_option("--endpoint", mount.endpoint, "a node's client endpoint (host:port)")
      ->required();
  mount_cmd->add_option("--ca", mount.ca, "the cluster CA's certificate (PEM)")->required();
  mount_cmd->add_option("--credentials", mount.credentials,
                        "AWS-style credentials file (default: AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY)");
  mount_cmd->add_option("--profile", mount.profile, "the credentials file's profile")
      ->capture_default_str();
  mount_cmd->add_option("--bucket", mount.bucket,
                        "mount this bucket at the mountpoint (default: every bucket of the tenant, "
                        "one directory each)");
  mount_cmd->add_option("--cache-dir", mount.cache_dir,
                        "L2 cache directory (default /var/tmp/cairn-cache-UID/BUCKET)");
  mount_cmd->add_option("--cache-mode", mount.cache_mode, "organic, pinned or bypass")
      ->capture_default_str();
  mount_cmd->add_option("--cache-l1-max", mount.cache_l1_max, "memory cache bound (e.g. 512MiB)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  mount_cmd->add_option("--cache-l2-max", mount.cache_l2_max, "disk cache bound (e.g. 100GiB)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  mount_cmd->add_flag("--allow-other", mount.allow_other, "let other users use the mount");
  mount_cmd->add_flag("--read-only", mount.read_only, "mount read-only");

  // --- stage, cache
  std::string stage_path;
  bool stage_status = false, stage_release = false, cache_json = false;
  auto* stage_cmd =
      app.add_subcommand("stage", "prefetch a dataset in a cairn mount into its cache");
  stage_cmd->add_option("path", stage_path, "a directory or file inside a cairn mount")->required();
  stage_cmd->add_flag("--status", stage_status, "show the running or last stage");
  stage_cmd->add_flag("--release", stage_release, "unpin what was staged (it stays cached)");
  std::string cache_path;
  bool cache_stats = false;
  auto* cache_cmd = app.add_subcommand("cache", "a cairn mount's client cache");
  cache_cmd->add_flag("--stats", cache_stats, "hits, misses, bytes and bounds of L1 and L2");
  cache_cmd->add_option("path", cache_path, "the mount (or any path inside it)")->required();
  cache_cmd->add_flag("--json", cache_json, "as JSON");

  auto* version_cmd = app.add_subcommand("version", "print the version");
  CLI11_PARSE(app, argc, argv);

  if (version_cmd->parsed()) {
    std::printf("cairn 0.1.0\n");
    return 0;
  }
  try {
    if (server_cmd->parsed()) {
      node_config cfg;
      if (!config_path.empty()) cairn::runtime::apply_toml_file(cfg, config_path);
      for (const auto& unknown :
           cairn::runtime::apply_environment(cfg, cairn::runtime::cairn_environment()))
        std::fprintf(stderr, "cairn server: warning: %s matches no option; ignored\n",
                     unknown.c_str());
      if (bootstrap) cfg.bootstrap = true;
      cairn::runtime::validate(cfg);
      return run_node(std::move(cfg), cairn::runtime::node_mode{false});
    }
    if (dev_cmd->parsed()) {
      dev.admin_listen = "127.0.0.1:" + std::to_string(dev_admin_port);
      dev.s3_listen = "127.0.0.1:" + std::to_string(dev_s3_port);
      dev.s3_domain = "localhost";
      dev.nfs_listen = "127.0.0.1:" + std::to_string(dev_nfs_port);
      dev.client_listen = "127.0.0.1:" + std::to_string(dev_client_port);
      dev.bootstrap = true;
      return run_node(std::move(dev), cairn::runtime::node_mode{true});
    }
    if (mount_cmd->parsed()) return cairn::fuse::run_mount(mount);
    if (stage_cmd->parsed())
      return cairn::fuse::run_stage_command(stage_path, stage_status, stage_release);
    if (cache_cmd->parsed()) return cairn::fuse::run_cache_stats_command(cache_path, cache_json);
    if (cert_ca->parsed()) {
      cairn::runtime::generate_cluster_ca(ca_out, ca_name);
      std::printf("wrote %s/ca.pem and %s/ca.key (keep ca.key secret)\n", ca_out.c_str(),
                  ca_out.c_str());
      return 0;
    }
    if (cert_node->parsed()) {
      cairn::runtime::generate_node_certificate(node_ca, node_out, node_id, node_hosts);
      std::printf("wrote %s/node.pem, %s/node.key and %s/ca.pem for node %llu\n", node_out.c_str(),
                  node_out.c_str(), node_out.c_str(), static_cast<unsigned long long>(node_id));
      return 0;
    }
    if (admin_status->parsed()) return cairn::runtime::admin_status(admin);
    if (admin_nodes_remove->parsed()) return cairn::runtime::admin_remove_node(admin, remove_id);
    if (admin_nodes->parsed()) return cairn::runtime::admin_nodes(admin);
    if (admin_shards_create->parsed())
      return cairn::runtime::admin_create_shard(admin, create_replicas);
    if (admin_shards->parsed()) return cairn::runtime::admin_shards(admin);
    if (admin_devices->parsed()) return cairn::runtime::admin_devices(admin);
    if (admin_events->parsed()) return cairn::runtime::admin_events(admin, events_after);
    if (admin_repair_start->parsed())
      return cairn::runtime::admin_repair(admin, /*start=*/true, repair_wait);
    if (admin_repair->parsed()) return cairn::runtime::admin_repair(admin, false, false);
    if (admin_tenant_create->parsed())
      return cairn::runtime::admin_create_tenant(admin, tenant_name);
    if (admin_tenant->parsed()) return cairn::runtime::admin_tenants(admin);
    if (admin_key_create->parsed())
      return cairn::runtime::admin_create_key(admin, key_tenant, key_label);
    if (admin_key_delete->parsed()) return cairn::runtime::admin_delete_key(admin, key_id);
    if (admin_key->parsed()) return cairn::runtime::admin_keys(admin, key_tenant);
    if (admin_export_add->parsed()) return cairn::runtime::admin_add_export(admin, export_new);
    if (admin_export_remove->parsed())
      return cairn::runtime::admin_remove_export(admin, export_path);
    if (admin_export->parsed()) return cairn::runtime::admin_exports(admin);
  } catch (const cairn::runtime::config_error& e) {
    std::fprintf(stderr, "cairn: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn: %s\n", e.what());
    return 1;
  }
  return 0;
}
