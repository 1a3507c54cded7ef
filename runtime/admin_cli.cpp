// runtime/admin_cli.cpp — see admin_cli.h.
#include "runtime/admin_cli.h"

#include <utility>  // before Boost.Asio 1.74 (its awaitable.hpp needs std::exchange)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <sstream>
#include <thread>

#include "runtime/config.h"

namespace cairn::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

struct http_result {
  unsigned status = 0;
  std::string body;
};

http_result call(const std::string& endpoint, http::verb verb, const std::string& path,
                 const std::string& body = "") {
  std::string rest = endpoint;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto hp = parse_host_port(rest);
  if (!hp) throw std::runtime_error("--endpoint: '" + endpoint + "' is not http://host:port");
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(30));
  beast::error_code ec;
  auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (!ec) stream.connect(results, ec);
  if (ec) throw std::runtime_error("cannot reach " + endpoint + ": " + ec.message());
  http::request<http::string_body> req{verb, path, 11};
  req.set(http::field::host, hp->to_string());
  req.set(http::field::user_agent, "cairn-admin");
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buffer, res, ec);
  if (ec) throw std::runtime_error("request to " + endpoint + " failed: " + ec.message());
  return {res.result_int(), res.body()};
}

json get_json(const admin_options& o, const std::string& path) {
  auto r = call(o.endpoint, http::verb::get, path);
  auto j = json::parse(r.body, nullptr, false);
  if (r.status != 200 || j.is_discarded())
    throw std::runtime_error(path + ": HTTP " + std::to_string(r.status) + ": " + r.body);
  return j;
}

std::string ids(const json& a) {
  if (!a.is_array() || a.empty()) return "-";
  std::string out;
  for (const auto& x : a) {
    if (!out.empty()) out += ",";
    out += x.dump();
  }
  return out;
}

std::string str(const json& j, const char* key, const char* missing = "-") {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return missing;
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

int print_or_fail(const admin_options& o, http_result r) {
  auto j = json::parse(r.body, nullptr, false);
  if (r.status >= 300) {
    std::fprintf(stderr, "cairn admin: %s\n",
                 j.is_object() && j.contains("error") ? j["error"].get<std::string>().c_str()
                                                      : r.body.c_str());
    return 1;
  }
  std::printf("%s", o.json || j.is_discarded() ? r.body.c_str() : (j.dump(2) + "\n").c_str());
  return 0;
}

}  // namespace

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  std::ostringstream o;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string& c = i < cells.size() ? cells[i] : "";
      o << c;
      if (i + 1 < width.size()) o << std::string(width[i] - c.size() + 2, ' ');
    }
    o << '\n';
  };
  line(header);
  for (const auto& r : rows) line(r);
  return o.str();
}

int admin_status(const admin_options& o) {
  auto j = get_json(o, "/v1/status");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  std::printf("node %s: %s\n", str(j, "node").c_str(),
              j.value("ready", false)
                  ? "ready"
                  : ("NOT READY (" + str(j, "not_ready_because") + ")").c_str());
  std::printf("  transport %s, admin %s, up %.0f s\n", str(j, "transport").c_str(),
              str(j, "admin").c_str(), j.value("uptime_seconds", 0.0));
  std::printf("  hosts %s shard replica(s), leads %s\n", str(j, "shards_hosted").c_str(),
              str(j, "shards_led").c_str());
  if (j.contains("system_shard")) {
    const auto& s = j["system_shard"];
    std::printf("system shard: leader %s, term %s, commit %s, voters %s, learners %s\n",
                str(s, "leader").c_str(), str(s, "term").c_str(), str(s, "commit_index").c_str(),
                ids(s["voters"]).c_str(), ids(s["learners"]).c_str());
  }
  if (j.contains("cluster"))
    std::printf("cluster: %s active node(s), %s data shard(s)\n",
                str(j["cluster"], "nodes").c_str(), str(j["cluster"], "data_shards").c_str());
  return j.value("ready", false) ? 0 : 1;
}

int admin_nodes(const admin_options& o) {
  auto j = get_json(o, "/v1/nodes");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : j["nodes"]) {
    std::string heard = "-";
    if (n.contains("last_heard_seconds_ago") && n["last_heard_seconds_ago"].get<double>() >= 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1fs ago", n["last_heard_seconds_ago"].get<double>());
      heard = buf;
    }
    rows.push_back({str(n, "id"), str(n, "state"), str(n, "system_role"), str(n, "reachable"),
                    heard, str(n, "shards"), str(n, "transport"), str(n, "admin")});
  }
  std::printf("%s", format_table({"NODE", "STATE", "SYSTEM", "REACHABLE", "HEARD", "SHARDS",
                                  "TRANSPORT", "ADMIN"},
                                 rows)
                        .c_str());
  return 0;
}

int admin_shards(const admin_options& o) {
  auto j = get_json(o, "/v1/shards");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : j["shards"]) {
    const json local = s.contains("local") ? s["local"] : json();
    std::string lag = "-";
    if (local.is_object() && local.contains("progress")) {
      std::uint64_t commit = local.value("commit_index", std::uint64_t{0}), worst = 0;
      for (const auto& p : local["progress"]) {
        const auto m = p.value("match", std::uint64_t{0});
        worst = std::max(worst, commit > m ? commit - m : 0);
      }
      lag = std::to_string(worst);
    }
    rows.push_back({s["id"].get<std::uint64_t>() == 0 ? "0 (system)" : str(s, "id"),
                    ids(s["replicas"]), str(local, "leader"), str(local, "term"),
                    str(local, "commit_index"), str(local, "applied_index"), lag,
                    local.is_object() ? ids(local["voters"]) : "-",
                    local.is_object() ? ids(local["learners"]) : "-",
                    local.is_object() ? str(local, "role") : "not here"});
  }
  std::printf("%s", format_table({"SHARD", "TARGET", "LEADER", "TERM", "COMMIT", "APPLIED",
                                  "MAX LAG", "VOTERS", "LEARNERS", "ROLE HERE"},
                                 rows)
                        .c_str());
  return 0;
}

int admin_create_shard(const admin_options& o, std::size_t replicas) {
  return print_or_fail(
      o, call(o.endpoint, http::verb::post, "/v1/shards", json{{"replicas", replicas}}.dump()));
}

int admin_remove_node(const admin_options& o, std::uint64_t id) {
  return print_or_fail(
      o, call(o.endpoint, http::verb::post, "/v1/nodes/" + std::to_string(id) + "/remove"));
}

int admin_tenants(const admin_options& o) {
  auto j = get_json(o, "/v1/tenants");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : j["tenants"])
    rows.push_back(
        {str(t, "id"), str(t, "name"), str(t, "state"), str(t, "buckets"), str(t, "access_keys")});
  std::printf("%s",
              format_table({"TENANT", "NAME", "STATE", "BUCKETS", "ACCESS KEYS"}, rows).c_str());
  return 0;
}

int admin_create_tenant(const admin_options& o, const std::string& name) {
  return print_or_fail(
      o, call(o.endpoint, http::verb::post, "/v1/tenants", json{{"name", name}}.dump()));
}

int admin_keys(const admin_options& o, std::uint64_t tenant) {
  auto j = get_json(o, tenant ? "/v1/keys?tenant=" + std::to_string(tenant) : "/v1/keys");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : j["keys"])
    rows.push_back({str(k, "id"), str(k, "tenant"), str(k, "state"), str(k, "label")});
  std::printf("%s", format_table({"ACCESS KEY", "TENANT", "STATE", "LABEL"}, rows).c_str());
  return 0;
}

int admin_create_key(const admin_options& o, std::uint64_t tenant, const std::string& label) {
  auto r = call(o.endpoint, http::verb::post, "/v1/keys",
                json{{"tenant", tenant}, {"label", label}}.dump());
  if (r.status >= 300 || o.json) return print_or_fail(o, std::move(r));
  const auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return print_or_fail(o, std::move(r));
  std::printf("access-key: %s\nsecret-key: %s\ntenant: %s\n", str(j, "id").c_str(),
              str(j, "secret").c_str(), str(j, "tenant").c_str());
  std::printf("The secret is shown only now; cairn keeps it only wrapped by its key manager.\n");
  return 0;
}

int admin_delete_key(const admin_options& o, const std::string& id) {
  return print_or_fail(o, call(o.endpoint, http::verb::delete_, "/v1/keys/" + id));
}

int admin_exports(const admin_options& o) {
  auto j = get_json(o, "/v1/exports");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : j["exports"]) {
    std::string clients;
    for (const auto& c : e.value("clients", json::array()))
      clients += (clients.empty() ? "" : ",") + c.get<std::string>();
    rows.push_back({str(e, "path"), str(e, "bucket"),
                    e.value("read_only", false) ? "read-only" : "read-write",
                    e.value("root_squash", true) ? "squash to " + str(e, "anon_uid") : "no",
                    clients.empty() ? "any" : clients,
                    e.value("allow_auth_none", false) ? "sys, none" : "sys"});
  }
  std::printf("%s",
              format_table({"PATH", "BUCKET", "ACCESS", "ROOT", "CLIENTS", "AUTH"}, rows).c_str());
  return 0;
}

int admin_add_export(const admin_options& o, const export_request& e) {
  const json body{{"path", e.path},           {"bucket", e.bucket},
                  {"read_only", e.read_only}, {"root_squash", !e.no_root_squash},
                  {"anon_uid", e.anon_uid},   {"anon_gid", e.anon_gid},
                  {"clients", e.clients},     {"allow_auth_none", e.allow_auth_none}};
  return print_or_fail(o, call(o.endpoint, http::verb::post, "/v1/exports", body.dump()));
}

int admin_remove_export(const admin_options& o, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    std::fprintf(stderr, "cairn: path: an export path starts with '/'\n");
    return 2;
  }
  // The path goes in the URL: every byte but unreserved ones and '/' escaped.
  std::string target = "/v1/exports";
  for (const unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      target += static_cast<char>(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      target += escaped;
    }
  }
  return print_or_fail(o, call(o.endpoint, http::verb::delete_, target));
}

std::string progress_bar(std::uint64_t done, std::uint64_t total, std::size_t width) {
  const double share = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / total);
  const auto filled = static_cast<std::size_t>(share * width + 0.5);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3.0f%%", share * 100);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] " + pct;
}

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

namespace {

std::string repair_line(const json& j) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%s slices %s/%s, %s stripes seen, %s degraded, %s unrecoverable, %s/%s shards "
                "rebuilt (%s)",
                progress_bar(j.value("slices_done", 0), j.value("slices", 256)).c_str(),
                str(j, "slices_done").c_str(), str(j, "slices").c_str(),
                str(j, "stripes_seen").c_str(), str(j, "stripes_degraded").c_str(),
                str(j, "stripes_unrecoverable").c_str(), str(j, "shards_rebuilt").c_str(),
                str(j, "shards_planned").c_str(),
                human_bytes(j.value("bytes_rebuilt", std::uint64_t{0})).c_str());
  return buf;
}

}  // namespace

int admin_devices(const admin_options& o) {
  auto j = get_json(o, "/v1/devices");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : j["devices"]) {
    const auto cap = d.value("capacity_bytes", std::uint64_t{0});
    const auto used = d.value("used_bytes", std::uint64_t{0});
    rows.push_back({str(d, "id"), str(d, "state"), progress_bar(used, cap, 10),
                    human_bytes(used) + " / " + human_bytes(cap), str(d, "shards_written"),
                    str(d, "corrupt_reads"), str(d, "io_errors"), str(d, "recovery"),
                    str(d, "path") + (d.contains("error") ? "  (" + str(d, "error") + ")" : "")});
  }
  std::printf("%s", format_table({"DEVICE", "STATE", "USED", "BYTES", "SHARDS", "CORRUPT", "IO ERR",
                                  "RECOVERY", "PATH"},
                                 rows)
                        .c_str());
  return 0;
}

int admin_events(const admin_options& o, std::uint64_t after) {
  auto j = get_json(o, "/v1/events?after=" + std::to_string(after) + "&limit=1000");
  if (o.json) return std::printf("%s\n", j.dump(2).c_str()), 0;
  for (const auto& e : j["events"])
    std::printf("%6s  %s  %-7s  %-24s %-14s %s\n", str(e, "seq").c_str(), str(e, "time").c_str(),
                str(e, "severity").c_str(), str(e, "kind").c_str(), str(e, "source").c_str(),
                str(e, "message").c_str());
  return 0;
}

int admin_repair(const admin_options& o, bool start, bool wait) {
  json j;
  std::uint64_t before = 0;
  if (start) {
    before = get_json(o, "/v1/repair").value("passes_finished", std::uint64_t{0});
    auto r = call(o.endpoint, http::verb::post, "/v1/repair");
    if (r.status != 202) throw std::runtime_error("/v1/repair: HTTP " + std::to_string(r.status));
  }
  j = get_json(o, "/v1/repair");
  if (o.json && !wait) return std::printf("%s\n", j.dump(2).c_str()), 0;
  const bool tty = ::isatty(1);
  while (wait && j.value("passes_finished", std::uint64_t{0}) <= before) {
    std::printf(tty ? "\r%s" : "%s\n", repair_line(j).c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 2000));
    j = get_json(o, "/v1/repair");
  }
  if (tty && wait) std::printf("\r");
  std::printf("%s%s\n", repair_line(j).c_str(), j.value("running", false) ? " (running)" : "");
  std::printf("totals: %s passes, %s shards rebuilt (%s)\n", str(j, "passes_finished").c_str(),
              str(j, "shards_rebuilt_total").c_str(),
              human_bytes(j.value("bytes_rebuilt_total", std::uint64_t{0})).c_str());
  return j.value("stripes_unrecoverable", 0) > 0 ? 1 : 0;
}

}  // namespace cairn::runtime
