// runtime/main.cpp — the `cairn` binary.
//
//   cairn dev [--data DIR] [--admin-port P] [--tick-ms T]
//       one process, one node, a single-replica shard on LMDB, with its
//       admin endpoint (health, metrics, status, a key-value API).
//   cairn version
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

#include "runtime/node.h"

namespace {

int run_dev(const cairn::runtime::node_options& opts) {
  // Block the signals before any thread starts, then wait for them here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  cairn::runtime::node n(opts);
  try {
    n.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn dev: %s\n", e.what());
    return 1;
  }
  const std::string admin = n.admin_endpoint();
  std::printf("admin-endpoint: %s\n", admin.c_str());
  std::printf("health: %s/health\n", admin.c_str());
  std::printf("metrics: %s/metrics\n", admin.c_str());
  std::printf("data-dir: %s\n", opts.data_dir.c_str());
  std::printf("\nA single-node shard (Raft group of one, LMDB log) is running. Try:\n");
  std::printf("  curl -X PUT --data-binary world %s/kv/hello\n", admin.c_str());
  std::printf("  curl %s/kv/hello\n", admin.c_str());
  std::printf("  curl %s/status\n", admin.c_str());
  std::printf("Stop with Ctrl-C.\n");
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
  cairn::runtime::node_options dev;
  auto* dev_cmd = app.add_subcommand("dev", "run an embedded single-node cluster on localhost");
  dev_cmd->add_option("--data", dev.data_dir, "data directory")->capture_default_str();
  dev_cmd->add_option("--admin-port", dev.admin_port, "admin HTTP port (0 = any)")
      ->capture_default_str();
  dev_cmd->add_option("--tick-ms", dev.tick_ms, "Raft tick period in milliseconds")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  auto* version_cmd = app.add_subcommand("version", "print the version");
  CLI11_PARSE(app, argc, argv);
  if (version_cmd->parsed()) {
    std::printf("cairn 0.1.0\n");
    return 0;
  }
  return run_dev(dev);
}
