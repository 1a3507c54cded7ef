// runtime/config.cpp — see config.h.
#include "runtime/config.h"

#include <toml++/toml.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <variant>

extern char** environ;

namespace cairn::runtime {

std::string host_port::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<host_port> parse_host_port(std::string_view s) {
  host_port hp;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return std::nullopt;
    hp.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    hp.host = std::string(s.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return std::nullopt;  // v6 needs brackets
    port = s.substr(colon + 1);
  }
  if (hp.host.empty() || port.empty()) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

namespace {

using u64_field = std::uint64_t node_config::*;

/// One option: its dotted name and how to set it from TOML or a string.
struct option {
  std::string name;
  std::variant<std::function<std::uint64_t&(node_config&)>,
               std::function<std::string&(node_config&)>, std::function<bool&(node_config&)>,
               std::function<std::vector<std::string>&(node_config&)>>
      target;
};

const std::vector<option>& options() {
  using U = std::function<std::uint64_t&(node_config&)>;
  using S = std::function<std::string&(node_config&)>;
  using B = std::function<bool&(node_config&)>;
  using L = std::function<std::vector<std::string>&(node_config&)>;
  static const std::vector<option> all = {
      {"node_id", U([](node_config & c) -> auto& { return c.node_id; })},
      {"data_dir", S([](node_config & c) -> auto& { return c.data_dir; })},
      {"listen", S([](node_config & c) -> auto& { return c.listen; })},
      {"advertise", S([](node_config & c) -> auto& { return c.advertise; })},
      {"admin_listen", S([](node_config & c) -> auto& { return c.admin_listen; })},
      {"s3_listen", S([](node_config & c) -> auto& { return c.s3_listen; })},
      {"s3_domain", S([](node_config & c) -> auto& { return c.s3_domain; })},
      {"nfs_listen", S([](node_config & c) -> auto& { return c.nfs_listen; })},
      {"client_listen", S([](node_config & c) -> auto& { return c.client_listen; })},
      {"gc_grace_ms", U([](node_config & c) -> auto& { return c.gc_grace_ms; })},
      {"peers", L([](node_config & c) -> auto& { return c.peers; })},
      {"bootstrap", B([](node_config & c) -> auto& { return c.bootstrap; })},
      {"log_level", S([](node_config & c) -> auto& { return c.log_level; })},
      {"storage.map_mb", U([](node_config & c) -> auto& { return c.storage_map_mb; })},
      {"storage.reserve_mb", U([](node_config & c) -> auto& { return c.storage_reserve_mb; })},
      {"storage.full_percent", U([](node_config & c) -> auto& { return c.storage_full_percent; })},
      {"chunk.devices", L([](node_config & c) -> auto& { return c.chunk.devices; })},
      {"chunk.device_mb", U([](node_config & c) -> auto& { return c.chunk.device_mb; })},
      {"chunk.dev_devices", U([](node_config & c) -> auto& { return c.chunk.dev_devices; })},
      {"tls.ca_cert", S([](node_config & c) -> auto& { return c.tls.ca_cert; })},
      {"tls.cert", S([](node_config & c) -> auto& { return c.tls.cert; })},
      {"tls.key", S([](node_config & c) -> auto& { return c.tls.key; })},
      {"raft.tick_ms", U([](node_config & c) -> auto& { return c.raft.tick_ms; })},
      {"raft.election_ticks", U([](node_config & c) -> auto& { return c.raft.election_ticks; })},
      {"raft.heartbeat_ticks", U([](node_config & c) -> auto& { return c.raft.heartbeat_ticks; })},
      {"raft.snapshot_entries",
       U([](node_config & c) -> auto& { return c.raft.snapshot_entries; })},
      {"raft.snapshot_log_percent",
       U([](node_config & c) -> auto& { return c.raft.snapshot_log_percent; })},
      {"transport.frame_bytes_max",
       U([](node_config & c) -> auto& { return c.transport.frame_bytes_max; })},
      {"transport.send_queue_bytes_max",
       U([](node_config & c) -> auto& { return c.transport.send_queue_bytes_max; })},
      {"transport.heartbeat_ms",
       U([](node_config & c) -> auto& { return c.transport.heartbeat_ms; })},
      {"transport.dead_after_ms",
       U([](node_config & c) -> auto& { return c.transport.dead_after_ms; })},
      {"transport.reconnect_min_ms",
       U([](node_config & c) -> auto& { return c.transport.reconnect_min_ms; })},
      {"transport.reconnect_max_ms",
       U([](node_config & c) -> auto& { return c.transport.reconnect_max_ms; })},
  };
  return all;
}

const option* find_option(std::string_view name) {
  for (const auto& o : options())
    if (o.name == name) return &o;
  return nullptr;
}

std::uint64_t parse_u64(std::string_view field, std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    throw config_error(std::string(field),
                       "'" + std::string(text) + "' is not a non-negative integer");
  return v;
}

bool parse_bool(std::string_view field, std::string_view text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  throw config_error(std::string(field), "'" + std::string(text) + "' is not true or false");
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

void set_from_string(node_config& cfg, const option& o, std::string_view text) {
  std::visit(
      [&](auto& target) {
        auto& ref = target(cfg);
        using T = std::decay_t<decltype(ref)>;
        if constexpr (std::is_same_v<T, std::uint64_t>) {
          ref = parse_u64(o.name, text);
        } else if constexpr (std::is_same_v<T, std::string>) {
          ref = std::string(text);
        } else if constexpr (std::is_same_v<T, bool>) {
          ref = parse_bool(o.name, text);
        } else {
          ref = split_list(text);
        }
      },
      o.target);
}

void set_from_toml(node_config& cfg, const option& o, const toml::node& node) {
  std::visit(
      [&](auto& target) {
        auto& ref = target(cfg);
        using T = std::decay_t<decltype(ref)>;
        if constexpr (std::is_same_v<T, std::uint64_t>) {
          auto v = node.value<std::int64_t>();
          if (!node.is_integer() || !v || *v < 0)
            throw config_error(o.name, "must be a non-negative integer");
          ref = static_cast<std::uint64_t>(*v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!node.is_string()) throw config_error(o.name, "must be a string");
          ref = *node.value<std::string>();
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!node.is_boolean()) throw config_error(o.name, "must be true or false");
          ref = *node.value<bool>();
        } else {
          const auto* arr = node.as_array();
          if (!arr) throw config_error(o.name, "must be an array of strings");
          ref.clear();
          for (const auto& item : *arr) {
            if (!item.is_string()) throw config_error(o.name, "must be an array of strings");
            ref.push_back(*item.value<std::string>());
          }
        }
      },
      o.target);
}

/// `[[nfs_exports]]`: an array of tables, each field checked and named
/// in errors as nfs_exports[i].field.
void read_nfs_exports(node_config& cfg, const toml::node& node) {
  const auto* list = node.as_array();
  if (!list) throw config_error("nfs_exports", "must be an array of tables ([[nfs_exports]])");
  cfg.nfs_exports.clear();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = "nfs_exports[" + std::to_string(i) + "]";
    const auto* t = (*list)[i].as_table();
    if (!t) throw config_error(at, "must be a table");
    nfs_export_settings e;
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      const std::string field = at + "." + key;
      auto text = [&]() -> std::string {
        if (const auto* s = v.as_string()) return s->get();
        throw config_error(field, "must be a string");
      };
      auto flag = [&]() -> bool {
        if (const auto* b = v.as_boolean()) return b->get();
        throw config_error(field, "must be true or false");
      };
      auto number = [&]() -> std::uint64_t {
        const auto* n = v.as_integer();
        if (!n || n->get() < 0 || n->get() > 0xffffffffll)
          throw config_error(field, "must be an id between 0 and 4294967295");
        return static_cast<std::uint64_t>(n->get());
      };
      if (key == "path")
        e.path = text();
      else if (key == "bucket")
        e.bucket = text();
      else if (key == "read_only")
        e.read_only = flag();
      else if (key == "root_squash")
        e.root_squash = flag();
      else if (key == "allow_auth_none")
        e.allow_auth_none = flag();
      else if (key == "anon_uid")
        e.anon_uid = number();
      else if (key == "anon_gid")
        e.anon_gid = number();
      else if (key == "clients") {
        const auto* a = v.as_array();
        if (!a) throw config_error(field, "must be an array of strings");
        for (const auto& c : *a) {
          const auto* s = c.as_string();
          if (!s) throw config_error(field, "must be an array of strings");
          e.clients.push_back(s->get());
        }
      } else {
        throw config_error(field, "unknown option");
      }
    }
    if (e.path.empty() || e.path[0] != '/') throw config_error(at + ".path", "must start with '/'");
    if (e.bucket.empty()) throw config_error(at + ".bucket", "is required");
    for (const auto& other : cfg.nfs_exports)
      if (other.path == e.path)
        throw config_error(at + ".path", "'" + e.path + "' is exported twice");
    cfg.nfs_exports.push_back(std::move(e));
  }
}

void walk(node_config& cfg, const toml::table& table, const std::string& prefix) {
  for (const auto& [key, node] : table) {
    const std::string name =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (name == "nfs_exports") {
      read_nfs_exports(cfg, node);
      continue;
    }
    if (const auto* sub = node.as_table()) {
      walk(cfg, *sub, name);
      continue;
    }
    const option* o = find_option(name);
    if (!o) throw config_error(name, "unknown option");
    set_from_toml(cfg, *o, node);
  }
}

std::string env_name(const std::string& option_name) {
  std::string out = "CAIRN_";
  for (char c : option_name) out += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

void check_address(const std::string& field, const std::string& value, bool allow_empty) {
  if (value.empty()) {
    if (allow_empty) return;
    throw config_error(field, "is required (host:port)");
  }
  if (!parse_host_port(value)) throw config_error(field, "'" + value + "' is not host:port");
}

}  // namespace

void apply_toml(node_config& cfg, std::string_view toml_text, std::string_view origin) {
  toml::table table;
  try {
    table = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << origin << ":" << e.source().begin.line << ":" << e.source().begin.column;
    throw config_error(where.str(), std::string(e.description()));
  }
  walk(cfg, table, "");
}

void apply_toml_file(node_config& cfg, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("--config", "cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  apply_toml(cfg, text.str(), path);
}

std::vector<std::string> apply_environment(node_config& cfg,
                                           const std::map<std::string, std::string>& env) {
  std::set<std::string> known;
  for (const auto& o : options()) {
    const std::string name = env_name(o.name);
    known.insert(name);
    auto it = env.find(name);
    if (it == env.end()) continue;
    try {
      set_from_string(cfg, o, it->second);
    } catch (const config_error& e) {
      throw config_error(o.name + " (from " + name + ")", e.reason());
    }
  }
  std::vector<std::string> unknown;
  for (const auto& [name, value] : env)
    if (name.rfind("CAIRN_", 0) == 0 && !known.contains(name)) unknown.push_back(name);
  return unknown;
}

std::map<std::string, std::string> cairn_environment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("CAIRN_", 0) != 0) continue;
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return out;
}

void validate(const node_config& cfg) {
  if (cfg.node_id == 0) throw config_error("node_id", "is required and must be at least 1");
  if (cfg.node_id >= (1ull << 62)) throw config_error("node_id", "must be below 2^62");
  if (cfg.data_dir.empty()) throw config_error("data_dir", "is required");
  check_address("listen", cfg.listen, true);
  check_address("advertise", cfg.advertise, true);
  check_address("admin_listen", cfg.admin_listen, false);
  for (std::size_t i = 0; i < cfg.peers.size(); ++i)
    check_address("peers[" + std::to_string(i) + "]", cfg.peers[i], false);
  // client_listen needs tls.* too, except under `cairn dev`, which makes
  // its own (the node checks that when it starts the listener).
  check_address("client_listen", cfg.client_listen, true);
  if (!cfg.listen.empty()) {
    if (cfg.tls.ca_cert.empty())
      throw config_error("tls.ca_cert", "is required when the node listens for peers");
    if (cfg.tls.cert.empty())
      throw config_error("tls.cert", "is required when the node listens for peers");
    if (cfg.tls.key.empty())
      throw config_error("tls.key", "is required when the node listens for peers");
  }
  if (!cfg.peers.empty() && cfg.listen.empty())
    throw config_error("listen", "is required when peers are given");
  if (cfg.bootstrap && !cfg.peers.empty())
    throw config_error("bootstrap",
                       "a bootstrapping node creates a new cluster; it must not list peers");
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "off"};
  if (!levels.contains(cfg.log_level))
    throw config_error(
        "log_level", "'" + cfg.log_level + "' is not one of trace, debug, info, warn, error, off");
  if (cfg.storage_map_mb < 16 || cfg.storage_map_mb > (1ull << 24))
    throw config_error("storage.map_mb", "must be between 16 and 16777216");
  if (cfg.chunk.device_mb < 16 || cfg.chunk.device_mb > (1ull << 30))
    throw config_error("chunk.device_mb", "must be between 16 and 2^30 (MiB)");
  if (cfg.chunk.dev_devices > 64) throw config_error("chunk.dev_devices", "must be at most 64");
  if (cfg.chunk.devices.size() > 65536)
    throw config_error("chunk.devices", "at most 65536 devices per node");
  for (const auto& d : cfg.chunk.devices)
    if (d.empty()) throw config_error("chunk.devices", "an entry is empty");
  if (cfg.storage_full_percent < 50 || cfg.storage_full_percent > 99)
    throw config_error("storage.full_percent", "must be between 50 and 99");
  if (cfg.raft.tick_ms < 1 || cfg.raft.tick_ms > 10'000)
    throw config_error("raft.tick_ms", "must be between 1 and 10000");
  if (cfg.raft.heartbeat_ticks < 1)
    throw config_error("raft.heartbeat_ticks", "must be at least 1");
  if (cfg.raft.election_ticks <= 2 * cfg.raft.heartbeat_ticks)
    throw config_error("raft.election_ticks", "must be more than twice raft.heartbeat_ticks (" +
                                                  std::to_string(cfg.raft.heartbeat_ticks) + ")");
  if (cfg.raft.snapshot_entries < 10)
    throw config_error("raft.snapshot_entries", "must be at least 10");
  if (cfg.raft.snapshot_log_percent > 1000)
    throw config_error("raft.snapshot_log_percent", "must be at most 1000");
  if (cfg.transport.frame_bytes_max < 4096 || cfg.transport.frame_bytes_max > (1ull << 30))
    throw config_error("transport.frame_bytes_max", "must be between 4096 and 1073741824");
  if (cfg.transport.send_queue_bytes_max < cfg.transport.frame_bytes_max)
    throw config_error("transport.send_queue_bytes_max",
                       "must be at least transport.frame_bytes_max");
  if (cfg.transport.heartbeat_ms < 10)
    throw config_error("transport.heartbeat_ms", "must be at least 10");
  if (cfg.transport.dead_after_ms <= cfg.transport.heartbeat_ms)
    throw config_error("transport.dead_after_ms", "must be more than transport.heartbeat_ms");
  if (cfg.transport.reconnect_min_ms < 1 ||
      cfg.transport.reconnect_max_ms < cfg.transport.reconnect_min_ms)
    throw config_error("transport.reconnect_max_ms",
                       "must be at least transport.reconnect_min_ms (which must be >= 1)");
}

std::vector<std::string> option_names() {
  std::vector<std::string> out;
  for (const auto& o : options()) out.push_back(o.name);
  return out;
}

}  // namespace cairn::runtime
