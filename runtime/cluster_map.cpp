// runtime/cluster_map.cpp — see cluster_map.h.
#include "runtime/cluster_map.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace cairn::runtime {

namespace {

std::optional<std::uint64_t> parse_id(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<raft::node_id> ids(const std::vector<std::uint64_t>& v) {
  std::vector<raft::node_id> out;
  for (auto x : v) out.push_back(raft::node_id{x});
  return out;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string node_key(std::uint64_t id) {
  return "node/" + std::to_string(id);
}

std::string shard_key(std::uint64_t id) {
  return "shard/" + std::to_string(id);
}

std::string devices_key(std::uint64_t node) {
  return "devices/" + std::to_string(node);
}

std::string encode(const std::vector<device_entry>& devices) {
  auto list = nlohmann::json::array();
  for (const auto& d : devices)
    list.push_back({{"id", d.id},
                    {"capacity", d.capacity_bytes},
                    {"free", d.free_bytes},
                    {"failed", d.failed}});
  return nlohmann::json{{"devices", list}}.dump();
}

std::string encode(const node_entry& n) {
  nlohmann::json j{
      {"id", n.id}, {"transport", n.transport}, {"admin", n.admin}, {"removed", n.removed}};
  if (!n.client.empty()) j["client"] = n.client;  // absent: as entries written before it
  return j.dump();
}

std::string encode(const shard_entry& s) {
  return nlohmann::json{{"id", s.id}, {"replicas", s.replicas}, {"initial", s.initial}}.dump();
}

cluster_map cluster_map::parse(const std::vector<std::pair<std::string, std::string>>& kv,
                               std::vector<std::string>* problems) {
  cluster_map m;
  auto problem = [&](const std::string& key, const std::string& why) {
    if (problems) problems->push_back(key + ": " + why);
  };
  for (const auto& [key, value] : kv) {
    const bool is_node = key.rfind("node/", 0) == 0;
    const bool is_shard = key.rfind("shard/", 0) == 0;
    const bool is_devices = key.rfind("devices/", 0) == 0;
    if (!is_node && !is_shard && !is_devices) continue;
    auto id = parse_id(std::string_view(key).substr(is_node ? 5 : is_shard ? 6 : 8));
    if (!id) {
      problem(key, "bad id");
      continue;
    }
    auto j = nlohmann::json::parse(value, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      problem(key, "not a JSON object");
      continue;
    }
    try {
      if (is_devices) {
        std::vector<device_entry> list;
        for (const auto& d : j.at("devices"))
          list.push_back(device_entry{d.at("id").get<std::uint64_t>(),
                                      d.value("capacity", std::uint64_t{0}),
                                      d.value("free", std::uint64_t{0}), d.value("failed", false)});
        m.devices[*id] = std::move(list);
      } else if (is_node) {
        node_entry n;
        n.id = *id;
        n.transport = j.value("transport", "");
        n.admin = j.value("admin", "");
        n.removed = j.value("removed", false);
        n.client = j.value("client", "");
        m.nodes[n.id] = n;
      } else {
        shard_entry s;
        s.id = *id;
        s.replicas = j.value("replicas", std::vector<std::uint64_t>{});
        s.initial = j.value("initial", std::vector<std::uint64_t>{});
        if (s.id == system_shard) {
          problem(key, "shard 0 is the system shard");
          continue;
        }
        m.shards[s.id] = s;
      }
    } catch (const nlohmann::json::exception& e) {
      problem(key, e.what());
    }
  }
  return m;
}

std::vector<std::uint64_t> cluster_map::active_nodes() const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, n] : nodes)
    if (!n.removed) out.push_back(id);
  return out;
}

shard::membership_target cluster_map::system_target() const {
  shard::membership_target t;
  for (auto id : active_nodes()) {
    if (t.voters.size() < system_voters_max)
      t.voters.push_back(raft::node_id{id});
    else
      t.learners.push_back(raft::node_id{id});
  }
  return t;
}

shard::membership_target cluster_map::target_of(std::uint64_t shard) const {
  if (shard == system_shard) return system_target();
  auto it = shards.find(shard);
  if (it == shards.end()) return {};
  return shard::membership_target{ids(it->second.replicas), {}};
}

std::vector<std::uint64_t> cluster_map::shards_of(std::uint64_t node) const {
  std::vector<std::uint64_t> out;
  for (const auto& [id, s] : shards) {
    const bool in = std::find(s.replicas.begin(), s.replicas.end(), node) != s.replicas.end() ||
                    std::find(s.initial.begin(), s.initial.end(), node) != s.initial.end();
    if (in) out.push_back(id);
  }
  return out;
}

std::optional<std::uint64_t> cluster_map::shard_for_key(std::string_view key) const {
  if (shards.empty()) return std::nullopt;
  // Rendezvous hashing: adding a shard moves only the keys it wins.
  const std::uint64_t key_hash = fnv1a(key);
  std::uint64_t best = 0, best_score = 0;
  bool first = true;
  for (const auto& [id, s] : shards) {
    const std::uint64_t score = splitmix64(key_hash ^ splitmix64(id));
    if (first || score > best_score) {
      best = id;
      best_score = score;
      first = false;
    }
  }
  return best;
}

std::vector<std::uint64_t> cluster_map::place(std::size_t replicas,
                                              const std::vector<std::uint64_t>& exclude) const {
  std::map<std::uint64_t, std::size_t> load;
  for (auto id : active_nodes())
    if (std::find(exclude.begin(), exclude.end(), id) == exclude.end()) load[id] = 0;
  for (const auto& [sid, s] : shards)
    for (auto r : s.replicas)
      if (load.count(r)) ++load[r];
  std::vector<std::pair<std::size_t, std::uint64_t>> order;
  for (auto [id, n] : load) order.emplace_back(n, id);
  std::sort(order.begin(), order.end());
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < order.size() && out.size() < replicas; ++i)
    out.push_back(order[i].second);
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t cluster_map::next_shard_id() const {
  return shards.empty() ? 1 : shards.rbegin()->first + 1;
}

}  // namespace cairn::runtime
