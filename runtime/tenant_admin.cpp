// runtime/tenant_admin.cpp — see tenant_admin.h.
#include "runtime/tenant_admin.h"

#include "actors/keys/key_manager_actor.h"
#include "actors/keys/openssl_random_source.h"
#include "actors/shard/shard_actor.h"
#include "gateways/nfs/handles.h"
#include "gateways/nfs/server.h"
#include "gateways/s3/request.h"

namespace cairn::runtime {

namespace {

constexpr auto timeout = std::chrono::seconds(30);
constexpr std::uint64_t scan_limit = 1'000'000;
constexpr int cas_attempts = 8;
constexpr std::string_view dev_tenant_name = "default";
constexpr std::string_view dev_key_label = "cairn-dev";

}  // namespace

std::string tenant_name_problem(std::string_view name) {
  if (name.empty() || name.size() > 64) return "a tenant name has 1 to 64 characters";
  if (!std::isalnum(static_cast<unsigned char>(name[0])) ||
      std::isupper(static_cast<unsigned char>(name[0])))
    return "a tenant name starts with a lower-case letter or a digit";
  for (char c : name)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return "a tenant name has only a-z 0-9 . _ -";
  return {};
}

tenant_admin::tenant_admin(caf::actor_system& sys, std::function<caf::actor()> system_shard,
                           caf::actor key_manager, std::function<std::int64_t()> clock)
    : sys_(sys),
      system_shard_(std::move(system_shard)),
      key_manager_(std::move(key_manager)),
      clock_(std::move(clock)) {}

std::variant<catalog, std::string> tenant_admin::read() {
  auto shard = system_shard_();
  if (!shard) return std::string("the system shard is not available on this node");
  caf::scoped_actor self{sys_};
  std::vector<std::pair<std::string, std::string>> kv;
  std::string failure;
  for (const char* prefix : {"tenant/", "bucket/", "akey/", "export/"}) {
    self->request(shard, timeout, shard::scan_atom::value, std::string(prefix), scan_limit)
        .receive(
            [&](std::vector<std::string>& flat) {
              for (std::size_t i = 0; i + 1 < flat.size(); i += 2)
                kv.emplace_back(std::move(flat[i]), std::move(flat[i + 1]));
            },
            [&](caf::error& e) { failure = "the system shard did not answer: " + to_string(e); });
    if (!failure.empty()) return failure;
  }
  return catalog::parse(kv);
}

std::uint8_t tenant_admin::cas_absent(const std::string& key, const std::string& value) {
  auto shard = system_shard_();
  if (!shard) return 255;
  caf::scoped_actor self{sys_};
  std::uint8_t code = 255;
  self->request(shard, timeout, shard::cas_atom::value, key, true, std::string(), value)
      .receive([&](std::uint8_t c, const std::string&) { code = c; }, [](caf::error&) {});
  return code;
}

std::uint8_t tenant_admin::put(const std::string& key, const std::string& value) {
  auto shard = system_shard_();
  if (!shard) return 255;
  caf::scoped_actor self{sys_};
  std::uint8_t code = 255;
  self->request(shard, timeout, shard::put_atom::value, key, value)
      .receive([&](std::uint8_t c, const std::string&) { code = c; }, [](caf::error&) {});
  return code;
}

std::variant<tenant_entry, std::string> tenant_admin::create_tenant(const std::string& name) {
  if (const auto problem = tenant_name_problem(name); !problem.empty()) return "name: " + problem;
  for (int attempt = 0; attempt < cas_attempts; ++attempt) {
    auto read_result = read();
    if (auto* e = std::get_if<std::string>(&read_result)) return *e;
    const auto& cat = std::get<catalog>(read_result);
    tenant_entry entry{cat.next_tenant_id(), name, entry_state::creating};
    for (const auto& [id, t] : cat.tenants) {
      if (t.name != name) continue;
      if (t.state == entry_state::ready)
        return "tenant '" + name + "' exists (id " + std::to_string(id) + ")";
      entry = t;  // a creation that did not finish: finish it
    }
    if (!cat.tenants.count(entry.id)) {
      const auto code = cas_absent(tenant_key(entry.id), encode(entry));
      if (code == static_cast<std::uint8_t>(shard::reply_code::cas_failed)) continue;  // raced
      if (code != 0) return std::string("the system shard refused the tenant entry");
    }
    // The keys, then `ready` (TA1). An existing tenant in the key manager
    // is one an earlier attempt created.
    caf::scoped_actor self{sys_};
    std::optional<keys::key_error> made;
    self->request(key_manager_, timeout, keys::tenant_create_atom::value, entry.id)
        .receive([&](std::uint8_t e) { made = static_cast<keys::key_error>(e); },
                 [](caf::error&) {});
    if (!made || (*made != keys::key_error::none && *made != keys::key_error::tenant_exists))
      return "the key manager could not create the tenant's keys: " +
             (made ? std::string(keys::to_string(*made)) : std::string("no answer"));
    entry.state = entry_state::ready;
    if (put(tenant_key(entry.id), encode(entry)) != 0)
      return std::string("the system shard refused the tenant entry");
    return entry;
  }
  return std::string("the catalog kept changing; try again");
}

std::variant<created_access_key, std::string> tenant_admin::create_access_key(
    std::uint64_t tenant, const std::string& label) {
  if (label.size() > 128) return std::string("label: at most 128 characters");
  auto read_result = read();
  if (auto* e = std::get_if<std::string>(&read_result)) return *e;
  const auto& cat = std::get<catalog>(read_result);
  const auto t = cat.tenants.find(tenant);
  if (t == cat.tenants.end() || t->second.state != entry_state::ready)
    return "tenant: no ready tenant with id " + std::to_string(tenant);
  keys::openssl_random_source random;
  for (int attempt = 0; attempt < cas_attempts; ++attempt) {
    created_access_key out;
    out.entry.id = new_access_key_id(random);
    out.entry.tenant = tenant;
    out.entry.state = entry_state::ready;
    out.entry.label = label;
    out.entry.created_ns = clock_();
    out.secret = new_access_key_secret(random);
    caf::scoped_actor self{sys_};
    auto secret = std::make_shared<keys::secret_bytes>(
        keys::secret_bytes::copy_of(std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(out.secret.data()), out.secret.size())));
    std::optional<std::string> wrapped;
    self->request(key_manager_, timeout, keys::secret_wrap_atom::value, tenant, out.entry.id,
                  keys::secret_ptr{secret})
        .receive(
            [&](std::uint8_t e, std::string& w) {
              if (e == 0) wrapped = std::move(w);
            },
            [](caf::error&) {});
    if (!wrapped) return std::string("the key manager could not wrap the secret");
    out.entry.wrapped_secret.assign(wrapped->begin(), wrapped->end());
    const auto code = cas_absent(access_key_key(out.entry.id), encode(out.entry));
    if (code == static_cast<std::uint8_t>(shard::reply_code::cas_failed)) continue;  // id taken
    if (code != 0) return std::string("the system shard refused the access key entry");
    return out;
  }
  return std::string("could not find a free access key id");
}

std::string tenant_admin::delete_entry(const std::string& key, const std::string& missing) {
  auto shard = system_shard_();
  if (!shard) return "the system shard is not available on this node";
  caf::scoped_actor self{sys_};
  std::optional<std::uint8_t> found;
  self->request(shard, timeout, shard::get_atom::value, key)
      .receive([&](std::uint8_t c, const std::string&) { found = c; }, [](caf::error&) {});
  if (!found) return "the system shard did not answer";
  if (*found != 0) return missing;
  std::uint8_t code = 255;
  self->request(shard, timeout, shard::batch_atom::value,
                std::vector<std::string>{"delete", key, ""})
      .receive([&](std::uint8_t c, const std::string&) { code = c; }, [](caf::error&) {});
  return code == 0 ? std::string() : "the system shard refused the change";
}

std::string tenant_admin::delete_access_key(const std::string& id) {
  if (!well_formed_access_key_id(id)) return "id: '" + id + "' is not an access key id";
  return delete_entry(access_key_key(id), "no access key " + id);
}

std::variant<nfs_export_entry, std::string> tenant_admin::create_export(nfs_export_entry e) {
  if (const auto problem = export_path_problem(e.path); !problem.empty()) return "path: " + problem;
  for (const auto& c : e.clients)
    if (const auto problem = nfs::client_rule_problem(c); !problem.empty())
      return problem;  // "clients: '…' is not an address or network"
  auto read_result = read();
  if (auto* failure = std::get_if<std::string>(&read_result)) return *failure;
  const auto& cat = std::get<catalog>(read_result);
  const auto b = cat.buckets.find(e.bucket);
  if (b == cat.buckets.end() || b->second.state != entry_state::ready)
    return "bucket: no bucket named '" + e.bucket + "'";
  if (cat.nfs_exports.count(e.path)) return "export '" + e.path + "' exists";
  for (const auto& [path, other] : cat.nfs_exports)
    if (nfs::export_tag(path) == nfs::export_tag(e.path))
      return "path: '" + e.path + "' has the file handle tag of export '" + path +
             "': choose another path";
  e.state = entry_state::ready;
  e.created_ns = clock_();
  const auto code = cas_absent(nfs_export_key(e.path), encode(e));
  if (code == static_cast<std::uint8_t>(shard::reply_code::cas_failed))
    return "export '" + e.path + "' exists";
  if (code != 0) return std::string("the system shard refused the export entry");
  return e;
}

std::string tenant_admin::delete_export(const std::string& path) {
  if (const auto problem = export_path_problem(path); !problem.empty()) return "path: " + problem;
  return delete_entry(nfs_export_key(path), "no export " + path);
}

std::optional<std::string> tenant_admin::reveal_secret(const access_key_entry& key) {
  caf::scoped_actor self{sys_};
  std::optional<std::string> out;
  self->request(key_manager_, timeout, keys::secret_unwrap_atom::value, key.tenant, key.id,
                std::string(key.wrapped_secret.begin(), key.wrapped_secret.end()))
      .receive(
          [&](std::uint8_t e, const keys::secret_ptr& s) {
            if (e == 0 && s)
              out =
                  std::string(reinterpret_cast<const char*>(s->bytes().data()), s->bytes().size());
          },
          [](caf::error&) {});
  return out;
}

std::variant<created_access_key, std::string> tenant_admin::dev_credentials() {
  auto read_result = read();
  if (auto* e = std::get_if<std::string>(&read_result)) return *e;
  auto cat = std::get<catalog>(std::move(read_result));
  std::optional<std::uint64_t> tenant;
  for (const auto& [id, t] : cat.tenants)
    if (t.name == dev_tenant_name && t.state == entry_state::ready) tenant = id;
  if (!tenant) {
    auto made = create_tenant(std::string(dev_tenant_name));
    if (auto* e = std::get_if<std::string>(&made)) return *e;
    tenant = std::get<tenant_entry>(made).id;
  }
  for (const auto& [id, k] : cat.access_keys) {
    if (k.tenant != *tenant || k.label != dev_key_label || k.state != entry_state::ready) continue;
    if (auto secret = reveal_secret(k)) return created_access_key{k, std::move(*secret)};
    return "access key " + id + ": the key manager cannot unwrap its secret";
  }
  return create_access_key(*tenant, std::string(dev_key_label));
}

std::pair<unsigned, nlohmann::json> tenant_admin::handle_http(const std::string& method,
                                                              const std::string& target,
                                                              const std::string& query,
                                                              const std::string& body) {
  using nlohmann::json;
  auto error = [](unsigned status, const std::string& what) {
    return std::pair<unsigned, json>{status, json{{"error", what}}};
  };
  // A failure that names a field is the caller's; any other is ours.
  auto refused = [&](const std::string& what) {
    const bool field = what.starts_with("name:") || what.starts_with("tenant:") ||
                       what.starts_with("label:") || what.starts_with("id:") ||
                       what.starts_with("path:") || what.starts_with("bucket:") ||
                       what.starts_with("clients:") || what.find("exists") != std::string::npos;
    return error(field ? (what.find("exists") != std::string::npos ? 409 : 400) : 503, what);
  };
  json request;
  if (method == "POST") {
    request = json::parse(body.empty() ? "{}" : body, nullptr, false);
    if (!request.is_object()) return error(400, "the body must be a JSON object");
  }
  if (target == "/v1/tenants" && method == "GET") {
    auto r = read();
    if (auto* e = std::get_if<std::string>(&r)) return error(503, *e);
    const auto& cat = std::get<catalog>(r);
    json out = json::array();
    for (const auto& [id, t] : cat.tenants) {
      std::size_t keys = 0;
      for (const auto& [kid, k] : cat.access_keys) keys += k.tenant == id;
      out.push_back({{"id", id},
                     {"name", t.name},
                     {"state", to_string(t.state)},
                     {"buckets", cat.buckets_of(id).size()},
                     {"access_keys", keys}});
    }
    return {200, json{{"tenants", out}}};
  }
  if (target == "/v1/tenants" && method == "POST") {
    if (!request.contains("name") || !request["name"].is_string())
      return error(400, "name: required, a string");
    auto r = create_tenant(request["name"].get<std::string>());
    if (auto* e = std::get_if<std::string>(&r)) return refused(*e);
    const auto& t = std::get<tenant_entry>(r);
    return {201, json{{"id", t.id}, {"name", t.name}, {"state", to_string(t.state)}}};
  }
  if (target == "/v1/keys" && method == "GET") {
    std::optional<std::uint64_t> tenant;
    if (query.starts_with("tenant=")) {
      const auto text = query.substr(7);
      if (text.empty() || text.size() > 19 ||
          text.find_first_not_of("0123456789") != std::string::npos)
        return error(400, "tenant: not a number: " + text);
      tenant = std::stoull(text);
    }
    auto r = read();
    if (auto* e = std::get_if<std::string>(&r)) return error(503, *e);
    json out = json::array();
    for (const auto& [id, k] : std::get<catalog>(r).access_keys)
      if (!tenant || k.tenant == *tenant)
        out.push_back({{"id", id},
                       {"tenant", k.tenant},
                       {"state", to_string(k.state)},
                       {"label", k.label},
                       {"created_ns", k.created_ns}});
    return {200, json{{"keys", out}}};
  }
  if (target == "/v1/keys" && method == "POST") {
    if (!request.contains("tenant") || !request["tenant"].is_number_unsigned())
      return error(400, "tenant: required, a tenant id");
    if (request.contains("label") && !request["label"].is_string())
      return error(400, "label: a string");
    auto r = create_access_key(request["tenant"].get<std::uint64_t>(),
                               request.value("label", std::string()));
    if (auto* e = std::get_if<std::string>(&r)) return refused(*e);
    const auto& k = std::get<created_access_key>(r);
    return {201, json{{"id", k.entry.id},
                      {"secret", k.secret},
                      {"tenant", k.entry.tenant},
                      {"label", k.entry.label}}};
  }
  if (target.starts_with("/v1/keys/") && method == "DELETE") {
    const auto problem = delete_access_key(target.substr(9));
    if (problem.empty()) return {200, json{{"deleted", target.substr(9)}}};
    return error(problem.starts_with("no access key") ? 404
                 : problem.starts_with("id:")         ? 400
                                                      : 503,
                 problem);
  }
  if (target == "/v1/exports" && method == "GET") {
    auto r = read();
    if (auto* e = std::get_if<std::string>(&r)) return error(503, *e);
    json out = json::array();
    for (const auto& [path, e] : std::get<catalog>(r).nfs_exports)
      out.push_back(json::parse(encode(e)));
    return {200, json{{"exports", out}}};
  }
  if (target == "/v1/exports" && method == "POST") {
    nfs_export_entry e;
    // Every field is checked for its type, and named when it is wrong.
    auto take = [&](const char* field, auto& into, auto is_type) -> std::string {
      if (!request.contains(field)) return {};
      if (!is_type(request[field])) return std::string(field) + ": wrong type";
      into = request[field].get<std::decay_t<decltype(into)>>();
      return {};
    };
    auto is_string = [](const json& j) { return j.is_string(); };
    auto is_bool = [](const json& j) { return j.is_boolean(); };
    auto is_id = [](const json& j) {
      return j.is_number_unsigned() && j.get<std::uint64_t>() <= 0xFFFFFFFFu;
    };
    auto is_list = [](const json& j) {
      return j.is_array() &&
             std::all_of(j.begin(), j.end(), [](const json& x) { return x.is_string(); });
    };
    if (!request.contains("path")) return error(400, "path: required, a string");
    if (!request.contains("bucket")) return error(400, "bucket: required, a string");
    for (const auto& problem :
         {take("path", e.path, is_string), take("bucket", e.bucket, is_string),
          take("read_only", e.read_only, is_bool), take("root_squash", e.root_squash, is_bool),
          take("anon_uid", e.anon_uid, is_id), take("anon_gid", e.anon_gid, is_id),
          take("clients", e.clients, is_list), take("allow_auth_none", e.allow_auth_none, is_bool)})
      if (!problem.empty()) return error(400, problem);
    auto r = create_export(std::move(e));
    if (auto* failure = std::get_if<std::string>(&r)) return refused(*failure);
    return {201, json::parse(encode(std::get<nfs_export_entry>(r)))};
  }
  if (target.starts_with("/v1/exports/") && method == "DELETE") {
    const auto decoded = s3::percent_decode(target.substr(11), false);
    if (!decoded) return error(400, "path: bad percent-encoding");
    const std::string path = *decoded;
    const auto problem = delete_export(path);
    if (problem.empty()) return {200, json{{"deleted", path}}};
    return error(problem.starts_with("no export") ? 404
                 : problem.starts_with("path:")   ? 400
                                                  : 503,
                 problem);
  }
  return error(404,
               "tenant, key and export endpoints: /v1/tenants (GET, POST) /v1/keys (GET, POST) "
               "/v1/keys/<id> (DELETE) /v1/exports (GET, POST) /v1/exports/<path> (DELETE)");
}

}  // namespace cairn::runtime
