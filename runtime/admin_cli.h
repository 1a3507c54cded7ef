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

/// Lays out rows under a header with aligned columns (exposed for tests).
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace cairn::runtime
