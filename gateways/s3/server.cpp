// gateways/s3/server.cpp — see server.h.
#include "gateways/s3/server.h"

#include <utility>  // before Boost.Asio 1.74 (its awaitable.hpp needs std::exchange)

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "actors/shard/shard_actor.h"
#include "gateways/s3/errors.h"
#include "gateways/s3/sigv4.h"
#include "gateways/s3/xml.h"
#include "runtime/catalog.h"

namespace cairn::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto reply_timeout = std::chrono::seconds(30);
constexpr std::size_t header_bytes_max = 16 * 1024;
constexpr std::size_t read_buffer_bytes = 64 * 1024;

/// Percent-decoding of a path or query component ('+' stays '+' in paths).
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (in[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return out;
}

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

/// MD5 of the object as it streams by (S3's ETag of a single-part upload).
class md5_stream {
 public:
  md5_stream() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_md5(), nullptr); }
  ~md5_stream() { EVP_MD_CTX_free(ctx_); }
  md5_stream(const md5_stream&) = delete;
  md5_stream& operator=(const md5_stream&) = delete;
  void update(std::span<const std::uint8_t> b) { EVP_DigestUpdate(ctx_, b.data(), b.size()); }
  std::array<std::uint8_t, 16> finish() {
    std::array<std::uint8_t, 16> out{};
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx_, out.data(), &n);
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

struct static_secret final : secret_key_source {
  std::string id, secret;
  std::optional<keys::secret_bytes> secret_access_key(
      std::string_view access_key_id) const override {
    if (access_key_id != id) return std::nullopt;
    return keys::secret_bytes::copy_of(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()));
  }
};

/// A request's target split into bucket, key and query parameters.
struct target {
  std::string bucket;
  std::string key;
  std::multimap<std::string, std::string> query;
  bool has(const std::string& name) const { return query.count(name) != 0; }
  std::string get(const std::string& name, std::string fallback = {}) const {
    const auto it = query.find(name);
    return it == query.end() ? fallback : it->second;
  }
};

std::optional<target> parse_target(std::string_view raw) {
  target t;
  const auto q = raw.find('?');
  const auto path = percent_decode(raw.substr(0, q), false);
  if (!path || path->empty() || path->front() != '/') return std::nullopt;
  const auto slash = path->find('/', 1);
  t.bucket = path->substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  if (slash != std::string::npos) t.key = path->substr(slash + 1);
  if (q != std::string_view::npos) {
    std::string_view rest = raw.substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto item = rest.substr(0, amp);
      const auto eq = item.find('=');
      auto name = percent_decode(item.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? "" : item.substr(eq + 1), true);
      if (!name || !value) return std::nullopt;
      if (!name->empty()) t.query.emplace(std::move(*name), std::move(*value));
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }
  return t;
}

}  // namespace

struct s3_server::impl {
  caf::actor_system& sys;
  s3_config config;
  s3_backend backend;
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> sessions{0};
  std::atomic<std::uint64_t> next_request{1};
  std::mutex sockets_mutex;
  std::set<std::shared_ptr<tcp::socket>> sockets;
  std::mutex default_bucket_mutex;
  bool default_bucket_ready = false;
  std::uint16_t bound_port = 0;

  impl(caf::actor_system& s, s3_config c, s3_backend b)
      : sys(s), config(std::move(c)), backend(std::move(b)) {}

  void accept_loop();
};

namespace {

/// One connection: the gateway-session actor's state and request handlers.
class session {
 public:
  session(caf::blocking_actor* self, s3_server::impl& server, std::shared_ptr<tcp::socket> socket)
      : self_(self), server_(server), socket_(std::move(socket)) {
    secrets_.id = server_.config.access_key;
    secrets_.secret = server_.config.secret_key;
  }

  void run() {
    beast::error_code ec;
    while (!server_.stopping) {
      http::request_parser<http::buffer_body> parser;
      parser.header_limit(header_bytes_max);
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      http::read_header(*socket_, buffer_, parser, ec);
      if (ec) return;  // closed, or a header we cannot read: drop the connection
      request_id_ = "CAIRN" + std::to_string(server_.next_request++);
      keep_alive_ = parser.get().keep_alive();
      if (!handle(parser)) return;
      if (!keep_alive_) return;
    }
  }

 private:
  using request_parser = http::request_parser<http::buffer_body>;
  using header = http::request_header<>;

  // --- responses -------------------------------------------------------------------

  void send(http::status status, std::string body, const header& req,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            const char* type = "application/xml") {
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

  void fail(s3_error e, const header& req, std::string message = {}) {
    const auto& i = info(e);
    send(static_cast<http::status>(i.status),
         error_document(e, message, std::string(req.target()), request_id_), req);
  }

  // --- request entry -----------------------------------------------------------------

  /// False to close the connection (the body could not be consumed).
  bool handle(request_parser& parser) {
    const header& req = parser.get().base();
    const auto t = parse_target(sv(req.target()));
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
    auth_ = std::move(verified.request);
    if (req[http::field::expect] == "100-continue") {
      http::response<http::empty_body> cont{http::status::continue_, req.version()};
      beast::error_code ec;
      http::write(*socket_, cont, ec);
    }
    ensure_default_bucket();
    const auto m = req.method();
    if (t->bucket.empty()) {
      if (m == http::verb::get) return list_buckets(req), drain(parser);
      fail(s3_error::method_not_allowed, req);
      return drain(parser);
    }
    if (t->key.empty()) {
      if (m == http::verb::put) return create_bucket(parser, *t);
      if (m == http::verb::head) return head_bucket(req, *t), drain(parser);
      if (m == http::verb::delete_) return delete_bucket(req, *t), drain(parser);
      if (m == http::verb::get && t->has("location")) return location(req, *t), drain(parser);
      if (m == http::verb::get) return list_objects(req, *t), drain(parser);
      fail(s3_error::not_implemented, req);
      return drain(parser);
    }
    if (m == http::verb::put && !t->has("uploadId") && !t->has("partNumber") &&
        req["x-amz-copy-source"].empty())
      return put_object(parser, *t);
    if (m == http::verb::get || m == http::verb::head) return get_object(req, *t), drain(parser);
    if (m == http::verb::delete_ && !t->has("uploadId"))
      return delete_object(req, *t), drain(parser);
    fail(s3_error::not_implemented, req, "This operation is not implemented yet");
    return drain(parser);
  }

  /// Reads and discards what is left of the body (bounded: 1 MiB), so the
  /// connection can serve the next request; false if it cannot.
  bool drain(request_parser& parser) {
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

  /// Reads the whole (small, bounded) body: XML requests.
  std::optional<std::string> small_body(request_parser& parser) {
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
    return out;
  }

  // --- the catalog (system shard) ---------------------------------------------------

  caf::actor system_shard() { return server_.backend.system_shard(); }

  std::optional<runtime::bucket_entry> find_bucket(const std::string& name) {
    auto shard = system_shard();
    if (!shard) return std::nullopt;
    std::optional<runtime::bucket_entry> out;
    self_->request(shard, reply_timeout, shard::get_atom::value, runtime::bucket_key(name))
        .receive(
            [&](std::uint8_t code, const std::string& value) {
              if (code != 0) return;
              const auto c = runtime::catalog::parse({{runtime::bucket_key(name), value}});
              if (auto it = c.buckets.find(name); it != c.buckets.end()) out = it->second;
            },
            [](caf::error&) {});
    return out;
  }

  /// The bucket if it exists, is ready and belongs to the caller's tenant.
  std::optional<runtime::bucket_entry> own_bucket(const header& req, const std::string& name) {
    auto b = find_bucket(name);
    if (!b || b->state != runtime::entry_state::ready) {
      fail(s3_error::no_such_bucket, req);
      return std::nullopt;
    }
    if (b->tenant != server_.config.tenant) {
      fail(s3_error::access_denied, req);
      return std::nullopt;
    }
    return b;
  }

  bool put_catalog(const std::string& key, const std::string& value) {
    std::uint8_t code = 255;
    self_->request(system_shard(), reply_timeout, shard::put_atom::value, key, value)
        .receive([&](std::uint8_t c, const std::string&) { code = c; }, [](caf::error&) {});
    return code == 0;
  }

  /// Proposes a namespace command to the bucket's shard; nullopt when the
  /// shard did not answer (the outcome is then unknown).
  std::optional<shard::ns_result> propose(std::uint64_t shard_id, shard::ns_command c) {
    auto actor = server_.backend.shard_actor(shard_id);
    if (!actor) return std::nullopt;
    c.now_ns = server_.backend.clock();
    std::optional<shard::ns_result> out;
    self_->request(actor, reply_timeout, shard::ns_atom::value, shard::encode_ns_command(c))
        .receive(
            [&](std::uint8_t code, const std::string& value) {
              if (code == 0) out = shard::decode_ns_result(value);
            },
            [](caf::error&) {});
    return out;
  }

  /// Runs `query` on the bucket's shard after ReadIndex; false if it could
  /// not be served.
  bool read(std::uint64_t shard_id, std::function<void(const shard::namespace_state&)> query) {
    auto actor = server_.backend.shard_actor(shard_id);
    if (!actor) return false;
    auto q = std::make_shared<const shard::replica::namespace_query>(
        [query = std::move(query)](const shard::namespace_state& ns) {
          query(ns);
          return std::string();
        });
    bool ok = false;
    self_->request(actor, reply_timeout, shard::ns_read_atom::value, shard::namespace_query_ptr{q})
        .receive([&](std::uint8_t code, const std::string&) { ok = code == 0; },
                 [](caf::error&) {});
    return ok;
  }

  void ensure_default_bucket() {
    std::lock_guard lock(server_.default_bucket_mutex);
    if (server_.default_bucket_ready || !system_shard()) return;
    if (auto b = find_bucket("cairn"); b && b->state == runtime::entry_state::ready) {
      server_.default_bucket_ready = true;
      return;
    }
    server_.default_bucket_ready = create("cairn") == s3_error::not_modified;
  }

  /// Creates a bucket for the caller's tenant: the catalog entry
  /// (creating), the namespace in its shard, the entry again (ready).
  /// not_modified means created.
  s3_error create(const std::string& name) {
    const auto shards = server_.backend.data_shards();
    runtime::catalog cat;
    const auto shard_id = cat.choose_shard(shards);
    if (!shard_id) return s3_error::service_unavailable;
    runtime::bucket_entry entry{name, server_.config.tenant,   *shard_id,
                                0,    server_.backend.clock(), runtime::entry_state::creating};
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
      if (existing && existing->tenant == server_.config.tenant) {
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

  // --- buckets -----------------------------------------------------------------------

  void list_buckets(const header& req) {
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
    for (const auto* b : cat.buckets_of(server_.config.tenant))
      if (b->state == runtime::entry_state::ready) out.push_back({b->name, b->created_ns});
    send(http::status::ok, s3::list_buckets(out, owner_()), req);
  }

  bool create_bucket(request_parser& parser, const target& t) {
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

  void head_bucket(const header& req, const target& t) {
    if (own_bucket(req, t.bucket)) send(http::status::ok, {}, req);
  }

  void location(const header& req, const target& t) {
    if (own_bucket(req, t.bucket))
      send(http::status::ok, location_constraint(server_.config.region), req);
  }

  void delete_bucket(const header& req, const target& t) {
    auto b = own_bucket(req, t.bucket);
    if (!b) return;
    shard::ns_command c;
    c.body = shard::delete_bucket_command{shard::bucket_id{b->bucket}};
    const auto r = propose(b->shard, c);
    if (!r) return fail(s3_error::service_unavailable, req);
    if (r->status == shard::ns_status::bucket_not_empty)
      return fail(s3_error::bucket_not_empty, req);
    std::uint8_t code = 255;
    self_
        ->request(system_shard(), reply_timeout, shard::batch_atom::value,
                  std::vector<std::string>{"delete", runtime::bucket_key(t.bucket), ""})
        .receive([&](std::uint8_t c2, const std::string&) { code = c2; }, [](caf::error&) {});
    if (code != 0) return fail(s3_error::service_unavailable, req);
    send(http::status::no_content, {}, req);
  }

  owner owner_() const {
    return {std::to_string(server_.config.tenant),
            "tenant-" + std::to_string(server_.config.tenant)};
  }

  // --- listing -----------------------------------------------------------------------

  void list_objects(const header& req, const target& t) {
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
    std::size_t max_keys = 1000;
    if (t.has("max-keys")) {
      const auto text = t.get("max-keys");
      if (text.empty() || text.size() > 9 ||
          text.find_first_not_of("0123456789") != std::string::npos)
        return fail(s3_error::invalid_argument, req, "max-keys must be a number");
      max_keys = std::min<std::size_t>(std::stoul(text), 1000);
    }
    out.max_keys = max_keys;
    shard::list_request lr;
    lr.prefix = out.prefix;
    lr.delimiter = out.delimiter;
    lr.max_keys = max_keys;
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
    const bool served = read(b->shard, [&](const shard::namespace_state& ns) {
      shard::list_result r;
      ns.list(shard::bucket_id{b->bucket}, lr, r);
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
    send(http::status::ok, s3::list_objects(out), req);
  }

  // --- objects -----------------------------------------------------------------------

  keys::key_grant_ptr grant(std::uint64_t epoch) {
    auto& cached = grants_[epoch];
    if (cached) return cached;
    self_
        ->request(server_.backend.key_manager, reply_timeout, keys::grant_atom::value,
                  server_.config.tenant, epoch)
        .receive(
            [&](std::uint8_t e, keys::key_grant_ptr g) {
              if (e == 0) cached = g;
            },
            [](caf::error&) {});
    return cached;
  }

  std::optional<s3_error> status_error(shard::ns_status s) {
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
      case shard::ns_status::invalid_key:
      case shard::ns_status::invalid_argument:
        return s3_error::invalid_argument;
      default:
        return s3_error::invalid_request;
    }
  }

  bool put_object(request_parser& parser, const target& t) {
    const header& req = parser.get().base();
    auto b = own_bucket(req, t.bucket);
    if (!b) return drain(parser);
    if (t.key.size() > shard::key_bytes_max) {
      fail(s3_error::key_too_long, req);
      return drain(parser);
    }
    shard::parsed_key parsed;
    if (const auto p = shard::parse_key(t.key, parsed); p != shard::key_problem::none) {
      fail(s3_error::invalid_argument, req, std::string(shard::to_string(p)));
      return drain(parser);
    }
    const auto g = grant(0);
    if (!g) {
      fail(s3_error::service_unavailable, req);
      return drain(parser);
    }
    // The body: through the aws-chunked decoder or a hash check (S3-2),
    // into chunks of config.chunk_bytes, each written as soon as full (S3-3).
    std::optional<chunked_body_decoder> decoder;
    std::optional<payload_hash_check> hash;
    if (auth_.chunked) decoder.emplace(std::move(*auth_.chunked));
    if (auth_.payload == payload_kind::sha256) hash.emplace(auth_.payload_sha256);
    auto devices = server_.backend.devices();
    gateway::chunk_pipeline pipeline(devices, gateway::pipeline_options{});
    std::vector<std::uint8_t> pending;
    pending.reserve(std::min<std::uint64_t>(server_.config.chunk_bytes, 1 << 20));
    shard::object_version version;
    md5_stream md5;
    std::optional<s3_error> failure;
    std::string failure_detail;
    auto flush = [&] {
      if (pending.empty() || failure) return;
      auto r = pipeline.write(self_, *g, pending, version.size - pending.size());
      if (auto* ref = std::get_if<shard::chunk_ref>(&r)) {
        version.chunks.push_back(std::move(*ref));
      } else {
        failure = s3_error::service_unavailable;
        failure_detail = std::get<gateway::pipeline_error>(r).detail;
      }
      pending.clear();
    };
    auto take = [&](std::span<const std::uint8_t> bytes) {
      md5.update(bytes);
      version.size += bytes.size();
      while (!bytes.empty()) {
        const auto room = server_.config.chunk_bytes - pending.size();
        const auto n = std::min<std::uint64_t>(room, bytes.size());
        pending.insert(pending.end(), bytes.begin(), bytes.begin() + static_cast<long>(n));
        bytes = bytes.subspan(n);
        if (pending.size() == server_.config.chunk_bytes) flush();
      }
    };
    std::vector<char> buffer(read_buffer_bytes);
    beast::error_code ec;
    while (!parser.is_done()) {
      parser.get().body().data = buffer.data();
      parser.get().body().size = buffer.size();
      http::read(*socket_, buffer_, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        fail(s3_error::incomplete_body, req);
        return false;
      }
      const std::span<const std::uint8_t> got(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                              buffer.size() - parser.get().body().size);
      if (decoder) {
        const auto f = decoder->feed(got, take);
        if (f.failed() && !failure) {
          failure = s3_error::invalid_request;
          failure_detail = f.detail;
          auth_failure_ = f.reason;
        }
      } else {
        if (hash) hash->update(got);
        take(got);
      }
    }
    if (decoder && !failure) {
      if (const auto f = decoder->finish(); f.failed()) {
        failure = s3_error::invalid_request;
        failure_detail = f.detail;
        auth_failure_ = f.reason;
      }
    }
    if (hash && !failure) {
      if (const auto f = hash->finish(); f.failed()) {
        failure = s3_error::invalid_request;
        failure_detail = f.detail;
        auth_failure_ = f.reason;
      }
    }
    const auto digest = md5.finish();
    if (!failure && !req["Content-MD5"].empty() &&
        base64_of(digest) != std::string(req["Content-MD5"]))
      failure = s3_error::bad_digest;
    if (!failure && parsed.marker && version.size != 0) {
      failure = s3_error::invalid_argument;
      failure_detail = "a key ending in / is a directory marker: its body must be empty";
    }
    if (!failure && !parsed.marker && version.chunks.empty() &&
        version.size <= server_.config.inline_bytes_max) {
      version.inline_sealed = gateway::seal_inline(*g, pending);
      pending.clear();
    }
    flush();
    if (failure) {
      if (auth_failure_ != auth_error::none) {
        send(static_cast<http::status>(http_status(auth_failure_, auth_.method)),
             error_document(s3_error_code(auth_failure_, auth_.method), failure_detail,
                            std::string(req.target()), request_id_),
             req);
        auth_failure_ = auth_error::none;
      } else {
        fail(*failure, req, failure_detail);
      }
      return true;
    }
    version.etag = "\"" + hex_of(digest) + "\"";
    version.content_type = req[http::field::content_type].empty()
                               ? "binary/octet-stream"
                               : std::string(req[http::field::content_type]);
    for (const auto& f : req) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (name.starts_with("x-amz-meta-"))
        version.user_metadata[name.substr(11)] = std::string(f.value());
    }
    shard::put_object_command cmd;
    cmd.bucket = shard::bucket_id{b->bucket};
    cmd.key = t.key;
    cmd.version = std::move(version);
    if (req[http::field::if_none_match] == "*") cmd.condition.if_none_match_any = true;
    if (!req[http::field::if_match].empty())
      cmd.condition.if_match = std::string(req[http::field::if_match]);
    const auto etag = cmd.version.etag;
    shard::ns_command c;
    c.body = std::move(cmd);
    const auto r = propose(b->shard, std::move(c));
    if (!r) {
      fail(s3_error::service_unavailable, req);
      return true;
    }
    if (auto e = status_error(r->status)) {
      fail(*e, req,
           r->status == shard::ns_status::path_conflict ? "in the way: " + r->conflict : "");
      return true;
    }
    send(http::status::ok, {}, req, {{"ETag", etag}});
    return true;
  }

  void get_object(const header& req, const target& t) {
    auto b = own_bucket(req, t.bucket);
    if (!b) return;
    std::optional<shard::object_version> found;
    const bool served = read(b->shard, [&](const shard::namespace_state& ns) {
      const shard::object_version* v = nullptr;
      if (ns.head(shard::bucket_id{b->bucket}, t.key, &v) == shard::ns_status::ok) found = *v;
    });
    if (!served) return fail(s3_error::service_unavailable, req);
    if (!found) return fail(s3_error::no_such_key, req);
    const auto& v = *found;
    // Conditions (RFC 7232 order as S3 applies it).
    const std::string if_match(req[http::field::if_match]);
    const std::string if_none_match(req[http::field::if_none_match]);
    if (!if_match.empty() && if_match != v.etag && if_match != "*")
      return fail(s3_error::precondition_failed, req);
    if (!if_none_match.empty() && (if_none_match == v.etag || if_none_match == "*"))
      return send(http::status::not_modified, {}, req, {{"ETag", v.etag}});
    // Range: bytes=a-b, a-, -n (one range).
    std::uint64_t first = 0, last = v.size ? v.size - 1 : 0;
    bool ranged = false;
    if (const std::string range(req[http::field::range]); !range.empty() && v.size > 0) {
      std::uint64_t a = 0, z = 0;
      const auto dash = range.find('-');
      if (!range.starts_with("bytes=") || dash == std::string::npos ||
          range.find(',') != std::string::npos)
        return fail(s3_error::invalid_range, req);
      const auto lo = range.substr(6, dash - 6), hi = range.substr(dash + 1);
      try {
        if (lo.empty()) {
          z = std::stoull(hi);
          if (z == 0) return fail(s3_error::invalid_range, req);
          first = v.size > z ? v.size - z : 0;
        } else {
          a = std::stoull(lo);
          if (a >= v.size) return fail(s3_error::invalid_range, req);
          first = a;
          if (!hi.empty()) last = std::min<std::uint64_t>(std::stoull(hi), v.size - 1);
          if (!hi.empty() && std::stoull(hi) < a) return fail(s3_error::invalid_range, req);
        }
      } catch (const std::exception&) {
        return fail(s3_error::invalid_range, req);
      }
      ranged = true;
    }
    const std::uint64_t length = v.size == 0 ? 0 : last - first + 1;
    http::response<http::empty_body> res{ranged ? http::status::partial_content : http::status::ok,
                                         req.version()};
    res.set(http::field::server, "cairn");
    res.set("x-amz-request-id", request_id_);
    res.set(http::field::etag, v.etag);
    res.set(http::field::last_modified, http_date(v.mtime_ns));
    res.set(http::field::accept_ranges, "bytes");
    res.set(http::field::content_type, t.get("response-content-type", v.content_type));
    for (const auto& [name, header_field] :
         {std::pair{"response-content-disposition", http::field::content_disposition},
          std::pair{"response-cache-control", http::field::cache_control},
          std::pair{"response-content-encoding", http::field::content_encoding},
          std::pair{"response-content-language", http::field::content_language},
          std::pair{"response-expires", http::field::expires}})
      if (t.has(name)) res.set(header_field, t.get(name));
    for (const auto& [k, val] : v.user_metadata) res.set("x-amz-meta-" + k, val);
    if (ranged)
      res.set(http::field::content_range, "bytes " + std::to_string(first) + "-" +
                                              std::to_string(last) + "/" + std::to_string(v.size));
    res.content_length(length);
    res.keep_alive(keep_alive_);
    beast::error_code ec;
    http::response_serializer<http::empty_body> sr{res};
    http::write_header(*socket_, sr, ec);
    if (ec || req.method() == http::verb::head || length == 0) return;
    // The body, chunk by chunk (S3-3).
    auto send_bytes = [&](std::span<const std::uint8_t> plain, std::uint64_t at) {
      const auto from = std::max(first, at), to = std::min(last + 1, at + plain.size());
      if (from >= to) return;
      asio::write(*socket_, asio::buffer(plain.data() + (from - at), to - from), ec);
    };
    if (!v.inline_sealed.empty()) {
      const auto epoch = gateway::inline_epoch(v.inline_sealed);
      const auto g = epoch ? grant(*epoch) : nullptr;
      const auto plain = g ? gateway::open_inline(*g, v.inline_sealed) : std::nullopt;
      if (!plain) {  // cannot finish the body: cut it (never wrong bytes)
        socket_->close(ec);
        return;
      }
      send_bytes(*plain, 0);
      return;
    }
    gateway::chunk_pipeline pipeline(server_.backend.devices(), gateway::pipeline_options{});
    for (const auto& ref : v.chunks) {
      if (ref.offset + ref.length <= first || ref.offset > last) continue;
      const auto g = grant(ref.key_epoch);
      if (!g) {
        socket_->close(ec);
        return;
      }
      auto r = pipeline.read(self_, *g, ref);
      auto* plain = std::get_if<std::vector<std::uint8_t>>(&r);
      if (!plain) {
        spdlog::error("s3: {} {}: chunk unreadable: {}", t.bucket, t.key,
                      std::get<gateway::pipeline_error>(r).detail);
        socket_->close(ec);  // the client sees a short body, never wrong bytes
        return;
      }
      send_bytes(*plain, ref.offset);
      if (ec) return;
    }
  }

  void delete_object(const header& req, const target& t) {
    auto b = own_bucket(req, t.bucket);
    if (!b) return;
    shard::delete_object_command cmd;
    cmd.bucket = shard::bucket_id{b->bucket};
    cmd.key = t.key;
    if (!req[http::field::if_match].empty()) cmd.if_match = std::string(req[http::field::if_match]);
    shard::ns_command c;
    c.body = std::move(cmd);
    const auto r = propose(b->shard, std::move(c));
    if (!r) return fail(s3_error::service_unavailable, req);
    if (r->status == shard::ns_status::precondition_failed)
      return fail(s3_error::precondition_failed, req);
    // Deleting a key that does not exist (or cannot be a path) is a success in S3.
    send(http::status::no_content, {}, req);
  }

  caf::blocking_actor* self_;
  s3_server::impl& server_;
  std::shared_ptr<tcp::socket> socket_;
  beast::flat_buffer buffer_;
  static_secret secrets_;
  authenticated_request auth_;
  auth_error auth_failure_ = auth_error::none;
  std::string request_id_;
  bool keep_alive_ = true;
  std::map<std::uint64_t, keys::key_grant_ptr> grants_;
};

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

}  // namespace

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
    sys.spawn<caf::detached>(session_actor, this, socket);
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

}  // namespace cairn::s3
