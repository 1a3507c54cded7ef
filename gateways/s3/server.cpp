// gateways/s3/server.cpp — see server.h. The acceptor, the session's
// request entry and dispatch, the catalog (buckets in the system shard)
// and the bucket-level operations and listings. Objects: objects.cpp;
// multipart uploads: multipart.cpp; shared declarations: session.h.
#include "gateways/s3/server.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <ctime>

#include "gateways/s3/session.h"

namespace cairn::s3 {
namespace detail {

// --- helpers -----------------------------------------------------------------------

std::string_view sv(beast::string_view b) {
  return {b.data(), b.size()};
}

std::string hex_of(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string base64_of(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

md5_stream::md5_stream() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr);
}
md5_stream::~md5_stream() {
  EVP_MD_CTX_free(ctx_);
}
void md5_stream::update(std::span<const std::uint8_t> b) {
  EVP_DigestUpdate(ctx_, b.data(), b.size());
}
std::array<std::uint8_t, 16> md5_stream::finish() {
  std::array<std::uint8_t, 16> out{};
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &n);
  return out;
}

std::optional<keys::secret_bytes> catalog_secrets::secret_access_key(
    std::string_view access_key_id) const {
  return owner->lookup_secret(access_key_id);
}

// --- the session: entry and dispatch -------------------------------------------------

session::session(caf::blocking_actor* self, s3_server::impl& server,
                 std::shared_ptr<tcp::socket> socket)
    : self_(self), server_(server), socket_(std::move(socket)) {
  secrets_.owner = this;
}

std::optional<keys::secret_bytes> session::lookup_secret(std::string_view access_key_id) {
  const auto now = server_.backend.clock();
  if (auto it = secret_cache_.find(access_key_id);
      it != secret_cache_.end() && it->second.expires_ns > now) {
    tenant_ = it->second.tenant;
    return it->second.secret.clone();
  }
  if (!runtime::well_formed_access_key_id(access_key_id)) return std::nullopt;
  const auto key = runtime::access_key_key(access_key_id);
  std::optional<runtime::access_key_entry> entry;
  if (const auto c = catalog_entry(key); c && !c->access_keys.empty())
    entry = c->access_keys.begin()->second;
  if (!entry || entry->state != runtime::entry_state::ready) return std::nullopt;
  keys::secret_ptr secret;
  self_
      ->request(server_.backend.key_manager, reply_timeout, keys::secret_unwrap_atom::value,
                entry->tenant, entry->id,
                std::string(entry->wrapped_secret.begin(), entry->wrapped_secret.end()))
      .receive(
          [&](std::uint8_t e, const keys::secret_ptr& s) {
            if (e == 0) secret = s;
          },
          [](caf::error&) {});
  if (!secret) return std::nullopt;
  if (secret_cache_.size() >= 64) secret_cache_.clear();  // bounded
  secret_cache_[std::string(access_key_id)] = {entry->tenant, secret->clone(),
                                               now + secret_cache_ttl_ns};
  tenant_ = entry->tenant;
  return secret->clone();
}

s3_error session::create_for(std::uint64_t tenant, const std::string& name) {
  tenant_ = tenant;
  return create(name);
}

void session::run() {
  beast::error_code ec;
  while (!server_.stopping) {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(header_bytes_max);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read_header(*socket_, buffer_, parser, ec);
    if (ec == http::error::header_limit) {
      // S3's answer to an oversized header, then the connection closes
      // (what follows cannot be parsed).
      keep_alive_ = false;
      request_id_ = "CAIRN" + std::to_string(server_.next_request++);
      http::response<http::string_body> res{http::status::bad_request, 11};
      res.set("x-amz-request-id", request_id_);
      res.set(http::field::content_type, "application/xml");
      res.body() = error_document("RequestHeaderSectionTooLarge",
                                  "Your request header section exceeds the maximum allowed size",
                                  "", request_id_);
      res.keep_alive(false);
      res.prepare_payload();
      http::write(*socket_, res, ec);
      return;
    }
    if (ec) return;  // closed, or a header we cannot read: drop the connection
    request_id_ = "CAIRN" + std::to_string(server_.next_request++);
    keep_alive_ = parser.get().keep_alive();
    // S3-8: every actor request of this HTTP request goes through an actor
    // that lives for this request only. CAF 0.17 schedules a timeout
    // message for each request(..., timeout) and a blocking actor keeps it
    // (in its mailbox cache) after the answer came, so a long-lived session
    // actor would walk one more stale message on every later receive:
    // quadratic per keep-alive connection (the 1M-object prefill stalled at
    // ~440k). The late messages now go to an actor that is gone.
    caf::scoped_actor per_request{server_.sys};
    auto* const session_actor = self_;
    self_ = per_request.ptr();
    const bool go_on = handle(parser);
    self_ = session_actor;
    if (!go_on || !keep_alive_) return;
  }
}

void session::send(http::status status, std::string body, const header& req,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const char* type) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "cairn");
  res.set("x-amz-request-id", request_id_);
  res.set("x-amz-id-2", request_id_);
  for (const auto& [k, v] : headers) res.set(k, v);
  if (!body.empty()) res.set(http::field::content_type, type);
  const bool head = req.method() == http::verb::head;
  const auto length = body.size();
  res.body() = head ? std::string() : std::move(body);
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  if (head) res.content_length(length);
  beast::error_code ec;
  http::write(*socket_, res, ec);
}

void session::fail(s3_error e, const header& req, std::string message) {
  const auto& i = info(e);
  send(static_cast<http::status>(i.status),
       error_document(e, message, std::string(req.target()), request_id_), req);
}

bool session::handle(request_parser& parser) {
  const header& req = parser.get().base();
  const auto t = parse_target(sv(req.target()),
                              host_bucket(sv(req[http::field::host]), server_.config.domain));
  if (!t) {
    fail(s3_error::invalid_uri, req);
    return false;
  }
  // Authenticate (S3-2).
  std::vector<http_header> headers;
  for (const auto& f : req) headers.push_back({sv(f.name_string()), sv(f.value())});
  const auto now_ns = server_.backend.clock();
  auto verified =
      verify_request(http_request_view{sv(req.method_string()), sv(req.target()), headers},
                     verifier_config{server_.config.region}, secrets_, now_ns / 1'000'000'000);
  if (!verified.ok()) {
    const auto code = s3_error_code(verified.failure.reason, verified.method);
    send(static_cast<http::status>(http_status(verified.failure.reason, verified.method)),
         error_document(code, verified.failure.detail, std::string(req.target()), request_id_),
         req);
    return drain(parser);
  }
  auth_ = std::move(verified.request);  // tenant_ is the key's tenant now
  if (req[http::field::expect] == "100-continue") {
    http::response<http::empty_body> cont{http::status::continue_, req.version()};
    beast::error_code ec;
    http::write(*socket_, cont, ec);
  }
  return dispatch(parser, *t);
}

namespace {

/// Subresources cairn does not serve yet: a request naming one gets
/// NotImplemented rather than being taken for a plain object or bucket
/// operation.
constexpr std::string_view unsupported_subresources[] = {
    "acl",         "tagging",           "retention",
    "legal-hold",  "torrent",           "restore",
    "select",      "attributes",        "policy",
    "cors",        "lifecycle",         "website",
    "logging",     "notification",      "replication",
    "encryption",  "ownershipControls", "publicAccessBlock",
    "accelerate",  "requestPayment",    "inventory",
    "analytics",   "metrics",           "intelligent-tiering",
    "object-lock", "policyStatus"};

}  // namespace

bool session::dispatch(request_parser& parser, const target& t) {
  const header& req = parser.get().base();
  const auto m = req.method();
  for (const auto name : unsupported_subresources) {
    if (t.has(std::string(name))) {
      fail(s3_error::not_implemented, req, "?" + std::string(name) + " is not implemented");
      return drain(parser);
    }
  }
  const bool copy = !req["x-amz-copy-source"].empty();
  if (t.bucket.empty()) {
    if (m == http::verb::get) return list_buckets(req), drain(parser);
    fail(s3_error::method_not_allowed, req);
    return drain(parser);
  }
  if (t.key.empty()) {
    if (m == http::verb::put && t.has("versioning")) {
      fail(s3_error::not_implemented, req, "versioning is not implemented yet");
      return drain(parser);
    }
    if (m == http::verb::put) return create_bucket(parser, t);
    if (m == http::verb::head) return head_bucket(req, t), drain(parser);
    if (m == http::verb::delete_) return delete_bucket(req, t), drain(parser);
    if (m == http::verb::post && t.has("delete")) return delete_objects(parser, t);
    if (m == http::verb::get) {
      if (t.has("location")) return location(req, t), drain(parser);
      if (t.has("uploads")) return list_uploads(req, t), drain(parser);
      if (t.has("versions")) return list_versions(req, t), drain(parser);
      if (t.has("versioning")) {
        // Versioning was never enabled on any bucket: the empty document.
        if (own_bucket(req, t.bucket))
          send(http::status::ok,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"" +
                   std::string(xmlns) + "\"/>",
               req);
        return drain(parser);
      }
      return list_objects(req, t), drain(parser);
    }
    fail(s3_error::method_not_allowed, req);
    return drain(parser);
  }
  switch (m) {
    case http::verb::put:
      if (t.has("uploadId") || t.has("partNumber")) {
        if (copy) return upload_part_copy(req, t), drain(parser);
        return upload_part(parser, t);
      }
      if (copy) return copy_object(req, t), drain(parser);
      return put_object(parser, t);
    case http::verb::get:
    case http::verb::head:
      if (m == http::verb::get && t.has("uploadId")) return list_parts(req, t), drain(parser);
      return get_object(req, t), drain(parser);
    case http::verb::post:
      if (t.has("uploads")) return create_upload(req, t), drain(parser);
      if (t.has("uploadId")) return complete_upload(parser, t);
      break;
    case http::verb::delete_:
      if (t.has("uploadId")) return abort_upload(req, t), drain(parser);
      return delete_object(req, t), drain(parser);
    default:
      break;
  }
  fail(s3_error::method_not_allowed, req);
  return drain(parser);
}

bool session::drain(request_parser& parser) {
  std::array<char, 8192> sink{};
  std::size_t seen = 0;
  beast::error_code ec;
  while (!parser.is_done()) {
    parser.get().body().data = sink.data();
    parser.get().body().size = sink.size();
    http::read(*socket_, buffer_, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return false;
    seen += sink.size() - parser.get().body().size;
    if (seen > (1u << 20)) return false;
  }
  return true;
}

std::optional<std::string> session::small_body(request_parser& parser) {
  std::string out;
  std::array<char, 8192> chunk{};
  beast::error_code ec;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    http::read(*socket_, buffer_, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return std::nullopt;
    out.append(chunk.data(), chunk.size() - parser.get().body().size);
    if (out.size() > body_bytes_max) return std::nullopt;
  }
  // An aws-chunked XML body (rare, but allowed): decode it.
  if (auth_.chunked) {
    std::string plain;
    chunked_body_decoder decoder(std::move(*auth_.chunked));
    auth_.chunked.reset();
    auto take = [&](std::span<const std::uint8_t> b) {
      plain.append(reinterpret_cast<const char*>(b.data()), b.size());
    };
    const auto bytes = std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
    if (decoder.feed(bytes, take).failed() || decoder.finish().failed()) return std::nullopt;
    return plain;
  }
  if (auth_.payload == payload_kind::sha256) {
    payload_hash_check hash(auth_.payload_sha256);
    hash.update(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(out.data()),
                                              out.size()));
    if (hash.finish().failed()) return std::nullopt;
  }
  return out;
}

// --- the catalog (system shard) -----------------------------------------------------

caf::actor session::system_shard() {
  return server_.backend.system_shard();
}

std::optional<runtime::catalog> session::catalog_entry(const std::string& key) {
  auto shard = system_shard();
  if (!shard) return std::nullopt;
  std::optional<runtime::catalog> out;
  self_->request(shard, reply_timeout, shard::get_atom::value, key)
      .receive(
          [&](std::uint8_t code, const std::string& value) {
            if (code == 0) out = runtime::catalog::parse({{key, value}});
          },
          [](caf::error&) {});
  return out;
}

std::optional<runtime::bucket_entry> session::find_bucket(const std::string& name) {
  const auto now = server_.backend.clock();
  {
    std::lock_guard lock(server_.bucket_cache_mutex);
    if (const auto it = server_.bucket_cache.find(name);
        it != server_.bucket_cache.end() && it->second.second > now)
      return it->second.first;
  }
  std::optional<runtime::bucket_entry> out;
  if (const auto c = catalog_entry(runtime::bucket_key(name)))
    if (auto it = c->buckets.find(name); it != c->buckets.end()) out = it->second;
  if (out && out->state == runtime::entry_state::ready) {
    std::lock_guard lock(server_.bucket_cache_mutex);
    if (server_.bucket_cache.size() >= 4096) server_.bucket_cache.clear();  // bounded
    server_.bucket_cache[name] = {*out, now + bucket_cache_ttl_ns};
  }
  return out;
}

void session::forget_bucket(const std::string& name) {
  std::lock_guard lock(server_.bucket_cache_mutex);
  server_.bucket_cache.erase(name);
}

std::optional<runtime::bucket_entry> session::own_bucket(const header& req,
                                                         const std::string& name) {
  auto b = find_bucket(name);
  if (!b || b->state != runtime::entry_state::ready) {
    fail(s3_error::no_such_bucket, req);
    return std::nullopt;
  }
  if (b->tenant != tenant_) {
    fail(s3_error::access_denied, req);
    return std::nullopt;
  }
  return b;
}

bool session::put_catalog(const std::string& key, const std::string& value) {
  std::uint8_t code = 255;
  self_->request(system_shard(), reply_timeout, shard::put_atom::value, key, value)
      .receive([&](std::uint8_t c, const std::string&) { code = c; }, [](caf::error&) {});
  return code == 0;
}

std::optional<shard::ns_result> session::propose(std::uint64_t shard_id, shard::ns_command c) {
  c.now_ns = server_.backend.clock();
  return gateway::propose_namespace(self_, server_.backend.shard_actor(shard_id), c, reply_timeout);
}

bool session::read(std::uint64_t shard_id,
                   std::function<void(const shard::namespace_state&)> query) {
  return gateway::read_namespace(self_, server_.backend.shard_actor(shard_id), std::move(query),
                                 reply_timeout);
}

s3_error session::create(const std::string& name) {
  const auto shards = server_.backend.data_shards();
  runtime::catalog cat;
  const auto shard_id = cat.choose_shard(shards);
  if (!shard_id) return s3_error::service_unavailable;
  runtime::bucket_entry entry{
      name, tenant_, *shard_id, 0, server_.backend.clock(), runtime::entry_state::creating};
  RAND_bytes(reinterpret_cast<unsigned char*>(&entry.bucket), sizeof entry.bucket);
  entry.bucket |= 1;  // never 0
  // Created if absent: a compare-and-set makes two racing creators safe.
  std::uint8_t code = 255;
  self_
      ->request(system_shard(), reply_timeout, shard::cas_atom::value, runtime::bucket_key(name),
                true, std::string(), runtime::encode(entry))
      .receive([&](std::uint8_t c, const std::string&) { code = c; }, [](caf::error&) {});
  if (code == static_cast<std::uint8_t>(shard::reply_code::cas_failed)) {
    const auto existing = find_bucket(name);
    if (existing && existing->tenant == tenant_) {
      if (existing->state == runtime::entry_state::ready)
        return s3_error::bucket_already_owned_by_you;
      entry = *existing;  // a creation that did not finish: finish it
    } else {
      return s3_error::bucket_already_exists;
    }
  } else if (code != 0) {
    return s3_error::service_unavailable;
  }
  shard::ns_command c;
  c.body = shard::create_bucket_command{shard::bucket_id{entry.bucket}};
  const auto r = propose(entry.shard, c);
  if (!r || (r->status != shard::ns_status::ok && r->status != shard::ns_status::bucket_exists))
    return s3_error::service_unavailable;
  entry.state = runtime::entry_state::ready;
  return put_catalog(runtime::bucket_key(name), runtime::encode(entry))
             ? s3_error::not_modified
             : s3_error::service_unavailable;
}

owner session::owner_() const {
  return {std::to_string(tenant_), "tenant-" + std::to_string(tenant_)};
}

std::optional<s3_error> session::status_error(shard::ns_status s) {
  switch (s) {
    case shard::ns_status::ok:
      return std::nullopt;
    case shard::ns_status::no_such_bucket:
      return s3_error::no_such_bucket;
    case shard::ns_status::no_such_key:
      return s3_error::no_such_key;
    case shard::ns_status::precondition_failed:
      return s3_error::precondition_failed;
    case shard::ns_status::path_conflict:
      return s3_error::object_path_conflict;
    case shard::ns_status::no_such_upload:
      return s3_error::no_such_upload;
    case shard::ns_status::invalid_part:
      return s3_error::invalid_part;
    case shard::ns_status::invalid_part_order:
      return s3_error::invalid_part_order;
    case shard::ns_status::entity_too_small:
      return s3_error::entity_too_small;
    case shard::ns_status::too_many_uploads:
    case shard::ns_status::chunk_collecting:  // the collector is deleting a chunk: retry
      return s3_error::slow_down;
    case shard::ns_status::invalid_key:
    case shard::ns_status::invalid_argument:
      return s3_error::invalid_argument;
    default:
      return s3_error::invalid_request;
  }
}

std::optional<shard::ns_result> session::commit(const header& req, std::uint64_t shard_id,
                                                decltype(shard::ns_command::body) body,
                                                shard::ns_status pass_through) {
  shard::ns_command c;
  c.body = std::move(body);
  auto r = propose(shard_id, std::move(c));
  if (!r) {
    fail(s3_error::service_unavailable, req);
    return std::nullopt;
  }
  if (r->status == pass_through) return r;
  if (const auto e = status_error(r->status)) {
    fail(*e, req, r->status == shard::ns_status::path_conflict ? "in the way: " + r->conflict : "");
    return std::nullopt;
  }
  return r;
}

shard::write_condition session::write_condition_of(const header& req) {
  shard::write_condition w;
  w.if_none_match_any = req[http::field::if_none_match] == "*";
  if (!req[http::field::if_match].empty()) w.if_match = std::string(req[http::field::if_match]);
  return w;
}

keys::key_grant_ptr session::grant(std::uint64_t epoch) {
  auto& cached = grants_[{tenant_, epoch}];
  if (cached) return cached;
  self_
      ->request(server_.backend.key_manager, reply_timeout, keys::grant_atom::value, tenant_, epoch)
      .receive(
          [&](std::uint8_t e, keys::key_grant_ptr g) {
            if (e == 0) cached = g;
          },
          [](caf::error&) {});
  return cached;
}

// --- buckets -------------------------------------------------------------------------

void session::list_buckets(const header& req) {
  std::vector<std::string> flat;
  if (auto shard = system_shard())
    self_
        ->request(shard, reply_timeout, shard::scan_atom::value, std::string("bucket/"),
                  std::uint64_t{100000})
        .receive([&](std::vector<std::string>& kv) { flat = std::move(kv); }, [](caf::error&) {});
  std::vector<std::pair<std::string, std::string>> kv;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) kv.emplace_back(flat[i], flat[i + 1]);
  const auto cat = runtime::catalog::parse(kv);
  std::vector<bucket_entry> out;
  for (const auto* b : cat.buckets_of(tenant_))
    if (b->state == runtime::entry_state::ready) out.push_back({b->name, b->created_ns});
  send(http::status::ok, s3::list_buckets(out, owner_()), req);
}

bool session::create_bucket(request_parser& parser, const target& t) {
  const header& req = parser.get().base();
  const auto body = small_body(parser);
  if (!body) {
    fail(s3_error::malformed_xml, req);
    return false;
  }
  if (const auto problem = runtime::bucket_name_problem(t.bucket); !problem.empty()) {
    fail(s3_error::invalid_bucket_name, req, problem);
    return true;
  }
  const auto config = parse_create_bucket(*body);
  if (std::holds_alternative<s3_error>(config)) {
    fail(std::get<s3_error>(config), req);
    return true;
  }
  const auto e = create(t.bucket);
  if (e != s3_error::not_modified) {
    fail(e, req);
    return true;
  }
  send(http::status::ok, {}, req, {{"Location", "/" + t.bucket}});
  return true;
}

void session::head_bucket(const header& req, const target& t) {
  if (own_bucket(req, t.bucket))
    send(http::status::ok, {}, req, {{"x-amz-bucket-region", server_.config.region}});
}

void session::location(const header& req, const target& t) {
  if (own_bucket(req, t.bucket))
    send(http::status::ok, location_constraint(server_.config.region), req);
}

void session::delete_bucket(const header& req, const target& t) {
  auto b = own_bucket(req, t.bucket);
  if (!b) return;
  shard::ns_command c;
  forget_bucket(t.bucket);
  c.body = shard::delete_bucket_command{shard::bucket_id{b->bucket}};
  const auto r = propose(b->shard, c);
  if (!r) return fail(s3_error::service_unavailable, req);
  if (r->status == shard::ns_status::bucket_not_empty) return fail(s3_error::bucket_not_empty, req);
  std::uint8_t code = 255;
  self_
      ->request(system_shard(), reply_timeout, shard::batch_atom::value,
                std::vector<std::string>{"delete", runtime::bucket_key(t.bucket), ""})
      .receive([&](std::uint8_t c2, const std::string&) { code = c2; }, [](caf::error&) {});
  if (code != 0) return fail(s3_error::service_unavailable, req);
  forget_bucket(t.bucket);  // again: another session may have cached it meanwhile
  send(http::status::no_content, {}, req);
}

// --- listings ------------------------------------------------------------------------

void session::list_objects(const header& req, const target& t) {
  auto b = own_bucket(req, t.bucket);
  if (!b) return;
  const bool v2 = t.get("list-type") == "2";
  list_objects_result out;
  out.version = v2 ? 2 : 1;
  out.bucket = t.bucket;
  out.prefix = t.get("prefix");
  out.delimiter = t.get("delimiter");
  out.url_encoded = t.get("encoding-type") == "url";
  if (t.has("encoding-type") && !out.url_encoded)
    return fail(s3_error::invalid_argument, req, "encoding-type must be url");
  const auto max_keys = parse_count(t, "max-keys", 1000, 1000);
  if (!max_keys) return fail(s3_error::invalid_argument, req, "max-keys must be a number");
  out.max_keys = *max_keys;
  shard::list_request lr;
  lr.prefix = out.prefix;
  lr.delimiter = out.delimiter;
  lr.max_keys = *max_keys;
  if (v2) {
    out.start_after = t.get("start-after");
    out.continuation_token = t.get("continuation-token");
    if (!out.continuation_token.empty()) {
      auto decoded = percent_decode(out.continuation_token, false);
      if (!decoded) return fail(s3_error::invalid_argument, req, "bad continuation token");
      lr.start_after = *decoded;
    } else {
      lr.start_after = out.start_after;
    }
    if (t.get("fetch-owner") == "true") out.fetch_owner = owner_();
  } else {
    out.marker = t.get("marker");
    lr.start_after = out.marker;
    out.fetch_owner = owner_();
  }
  bool bucket_gone = false;
  const bool served = read(b->shard, [&](const shard::namespace_state& ns) {
    shard::list_result r;
    bucket_gone = ns.list(shard::bucket_id{b->bucket}, lr, r) == shard::ns_status::no_such_bucket;
    for (const auto& o : r.objects)
      out.objects.push_back({o.key, o.version->mtime_ns, o.version->etag, o.version->size});
    out.common_prefixes = r.common_prefixes;
    out.truncated = r.truncated;
    if (r.truncated) {
      out.next_marker = r.last;
      out.next_continuation_token = url_encode_key(r.last);
    }
  });
  if (!served) return fail(s3_error::service_unavailable, req);
  if (bucket_gone) return forget_bucket(t.bucket), fail(s3_error::no_such_bucket, req);
  send(http::status::ok, s3::list_objects(out), req);
}

void session::list_versions(const header& req, const target& t) {
  auto b = own_bucket(req, t.bucket);
  if (!b) return;
  list_versions_result out;
  out.bucket = t.bucket;
  out.prefix = t.get("prefix");
  out.delimiter = t.get("delimiter");
  out.key_marker = t.get("key-marker");
  out.version_id_marker = t.get("version-id-marker");
  out.url_encoded = t.get("encoding-type") == "url";
  out.o = owner_();
  if (t.has("encoding-type") && !out.url_encoded)
    return fail(s3_error::invalid_argument, req, "encoding-type must be url");
  if (!out.version_id_marker.empty() && out.key_marker.empty())
    return fail(s3_error::invalid_argument, req,
                "A version-id marker cannot be specified without a key marker.");
  if (!out.version_id_marker.empty() && out.version_id_marker != "null")
    return fail(s3_error::invalid_argument, req, "Invalid version id specified");
  const auto max_keys = parse_count(t, "max-keys", 1000, 1000);
  if (!max_keys) return fail(s3_error::invalid_argument, req, "max-keys must be a number");
  out.max_keys = *max_keys;
  shard::list_request lr{out.prefix, out.delimiter, out.key_marker, *max_keys};
  bool bucket_gone = false;
  const bool served = read(b->shard, [&](const shard::namespace_state& ns) {
    shard::list_result r;
    bucket_gone = ns.list(shard::bucket_id{b->bucket}, lr, r) == shard::ns_status::no_such_bucket;
    for (const auto& o : r.objects)
      out.objects.push_back({o.key, o.version->mtime_ns, o.version->etag, o.version->size});
    out.common_prefixes = r.common_prefixes;
    out.truncated = r.truncated;
    if (r.truncated) out.next_key_marker = r.last;
  });
  if (!served) return fail(s3_error::service_unavailable, req);
  if (bucket_gone) return forget_bucket(t.bucket), fail(s3_error::no_such_bucket, req);
  send(http::status::ok, s3::list_versions(out), req);
}

void session_actor(caf::blocking_actor* self, s3_server::impl* server,
                   std::shared_ptr<tcp::socket> socket) {
  session(self, *server, socket).run();
  beast::error_code ec;
  socket->shutdown(tcp::socket::shutdown_both, ec);
  socket->close(ec);
  {
    std::lock_guard lock(server->sockets_mutex);
    server->sockets.erase(socket);
  }
  --server->sessions;
}

}  // namespace detail

// --- the server ----------------------------------------------------------------------

void s3_server::impl::accept_loop() {
  while (!stopping) {
    auto socket = std::make_shared<tcp::socket>(io);
    beast::error_code ec;
    acceptor->accept(*socket, ec);
    if (stopping) return;
    if (ec) continue;
    socket->set_option(tcp::no_delay(true), ec);
    if (sessions >= config.connections_max) {  // S3-5
      http::response<http::string_body> res{http::status::service_unavailable, 11};
      res.set("x-amz-request-id", "CAIRN" + std::to_string(next_request++));
      res.body() = error_document(s3_error::slow_down, "", "", "");
      res.prepare_payload();
      http::write(*socket, res, ec);
      socket->close(ec);
      continue;
    }
    ++sessions;
    {
      std::lock_guard lock(sockets_mutex);
      sockets.insert(socket);
    }
    sys.spawn<caf::detached>(detail::session_actor, this, socket);
  }
}

s3_server::s3_server(caf::actor_system& sys, s3_config config, s3_backend backend)
    : impl_(std::make_unique<impl>(sys, std::move(config), std::move(backend))) {}

s3_server::~s3_server() {
  stop();
}

void s3_server::start() {
  auto& d = *impl_;
  const auto colon = d.config.listen.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error("s3.listen: '" + d.config.listen + "' is not host:port");
  beast::error_code ec;
  const auto address = asio::ip::make_address(d.config.listen.substr(0, colon), ec);
  if (ec) throw std::runtime_error("s3.listen: " + d.config.listen + ": " + ec.message());
  const auto port = static_cast<std::uint16_t>(std::stoul(d.config.listen.substr(colon + 1)));
  d.acceptor = std::make_unique<tcp::acceptor>(d.io);
  tcp::endpoint ep{address, port};
  d.acceptor->open(ep.protocol(), ec);
  if (!ec) d.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor->bind(ep, ec);
  if (!ec) d.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("s3.listen: cannot listen on " + d.config.listen + ": " +
                             ec.message());
  d.bound_port = d.acceptor->local_endpoint(ec).port();
  d.accept_thread = std::thread([&d] { d.accept_loop(); });
}

void s3_server::stop() {
  auto& d = *impl_;
  if (d.stopping.exchange(true) || !d.acceptor) return;
  beast::error_code ec;
  d.acceptor->cancel(ec);
  d.acceptor->close(ec);
  // Wake the accept() call: connect to ourselves once.
  if (d.accept_thread.joinable()) {
    try {
      asio::io_context io;
      tcp::socket s(io);
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port()), ec);
    } catch (...) {
    }
    d.accept_thread.join();
  }
  {
    std::lock_guard lock(d.sockets_mutex);
    for (auto& s : d.sockets) s->shutdown(tcp::socket::shutdown_both, ec);
  }
  for (int i = 0; i < 500 && d.sessions > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::uint16_t s3_server::port() const {
  return impl_->bound_port;
}

std::string s3_server::create_bucket(const std::string& name, std::uint64_t tenant) {
  caf::scoped_actor self{impl_->sys};
  detail::session s(self.ptr(), *impl_, nullptr);
  const auto e = s.create_for(tenant, name);
  if (e == s3_error::not_modified || e == s3_error::bucket_already_owned_by_you) return {};
  return std::string(info(e).code);
}

}  // namespace cairn::s3
