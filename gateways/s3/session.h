// gateways/s3/session.h — internal to the S3 gateway: the server's shared
// state and the gateway-session class that serves one connection. The
// handlers are split by area: server.cpp (connection, dispatch, catalog,
// buckets, listings), objects.cpp (PUT/GET/HEAD/DELETE/copy, bodies) and
// multipart.cpp (multipart uploads). Nothing outside gateways/s3 includes
// this file. Invariants S3-1..S3-7: server.h.
#pragma once

#include <utility>  // before Boost.Asio 1.74 (its awaitable.hpp needs std::exchange)

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "actors/shard/shard_actor.h"
#include "gateways/s3/checksums.h"
#include "gateways/s3/errors.h"
#include "gateways/s3/request.h"
#include "gateways/s3/server.h"
#include "gateways/s3/sigv4.h"
#include "gateways/s3/xml.h"
#include "runtime/catalog.h"

namespace cairn::s3 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

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
  std::uint16_t bound_port = 0;
  /// Ready bucket entries, shared by the sessions for bucket_cache_ttl_ns:
  /// a request need not read the catalog first. Writers of an entry
  /// (create, delete) drop it here.
  std::mutex bucket_cache_mutex;
  std::map<std::string, std::pair<runtime::bucket_entry, std::int64_t>> bucket_cache;

  impl(caf::actor_system& s, s3_config c, s3_backend b)
      : sys(s), config(std::move(c)), backend(std::move(b)) {}

  void accept_loop();
};

namespace detail {

inline constexpr auto reply_timeout = std::chrono::seconds(30);
inline constexpr std::size_t header_bytes_max = 16 * 1024;
inline constexpr std::size_t read_buffer_bytes = 64 * 1024;

std::string_view sv(beast::string_view b);
std::string hex_of(std::span<const std::uint8_t> bytes);
std::string base64_of(std::span<const std::uint8_t> bytes);

/// MD5 as bytes stream by (S3's ETag of a single-part upload and of a part).
class md5_stream {
 public:
  md5_stream();
  ~md5_stream();
  md5_stream(const md5_stream&) = delete;
  md5_stream& operator=(const md5_stream&) = delete;
  void update(std::span<const std::uint8_t> b);
  std::array<std::uint8_t, 16> finish();

 private:
  EVP_MD_CTX* ctx_;
};

class session;

/// The access keys a session accepts: the catalog's (`akey/<id>` in the
/// system shard, secrets unwrapped by the key manager; ADR 0006), through
/// the session's cache.
struct catalog_secrets final : secret_key_source {
  session* owner = nullptr;
  std::optional<keys::secret_bytes> secret_access_key(
      std::string_view access_key_id) const override;
};

/// A request body received and written: its size and MD5, the chunks
/// written, and (for a small object that may go inline) the bytes not
/// written as a chunk.
struct received_body {
  std::uint64_t size = 0;
  std::array<std::uint8_t, 16> md5{};
  std::vector<shard::chunk_ref> chunks;
  std::vector<std::uint8_t> small;
  std::optional<s3_error> failure;
  std::string detail;
  auth_error auth = auth_error::none;
  /// The body could not be read to its end: the connection must close.
  bool connection_lost = false;
  /// x-amz-checksum-* request headers that verified (echoed in the answer).
  std::vector<std::pair<std::string, std::string>> checksum_headers;
};

/// Cuts a stream of plaintext into chunks of `chunk_bytes`, each written
/// through the chunk pipeline as soon as it is full (S3-3), while keeping
/// the size and MD5 of the whole. The first write failure is kept and
/// later bytes are only counted.
class chunk_writer {
 public:
  /// `dedup_scope`: the shard that will reference the chunks (ADR 0007).
  chunk_writer(caf::blocking_actor* self, const keys::key_grant& grant,
               std::shared_ptr<const gateway::device_directory> devices, std::uint64_t chunk_bytes,
               std::uint64_t dedup_scope);
  void take(std::span<const std::uint8_t> bytes);
  /// Writes what is pending. With `keep_small`, a body that never filled a
  /// chunk and is at most `small_max` bytes stays in `small` (inline).
  received_body& finish(bool keep_small, std::uint64_t small_max);
  received_body& body() { return out_; }

 private:
  void flush();
  caf::blocking_actor* self_;
  const keys::key_grant& grant_;
  gateway::chunk_pipeline pipeline_;
  std::uint64_t chunk_bytes_;
  std::vector<std::uint8_t> pending_;
  md5_stream md5_;
  received_body out_;
};

/// One connection: the gateway-session actor's state and request handlers.
class session {
 public:
  session(caf::blocking_actor* self, s3_server::impl& server, std::shared_ptr<tcp::socket> socket);
  void run();
  /// Creates a bucket for `tenant` outside any request (s3_server::create_bucket).
  s3_error create_for(std::uint64_t tenant, const std::string& name);
  /// The secret of an access key from the catalog (cached for
  /// secret_cache_ttl); remembers its tenant as the request's.
  std::optional<keys::secret_bytes> lookup_secret(std::string_view access_key_id);

  using request_parser = http::request_parser<http::buffer_body>;
  using header = http::request_header<>;

 private:
  // server.cpp: responses, entry, catalog, buckets, listings
  void send(http::status status, std::string body, const header& req,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            const char* type = "application/xml");
  void fail(s3_error e, const header& req, std::string message = {});
  bool handle(request_parser& parser);
  bool dispatch(request_parser& parser, const target& t);
  bool drain(request_parser& parser);
  std::optional<std::string> small_body(request_parser& parser);

  caf::actor system_shard();
  /// One catalog entry read from the system shard (nullopt: no answer or
  /// no entry; a malformed entry parses to an empty catalog).
  std::optional<runtime::catalog> catalog_entry(const std::string& key);
  /// The catalog entry of bucket `name` (cached when ready).
  std::optional<runtime::bucket_entry> find_bucket(const std::string& name);
  void forget_bucket(const std::string& name);
  std::optional<runtime::bucket_entry> own_bucket(const header& req, const std::string& name);
  bool put_catalog(const std::string& key, const std::string& value);
  std::optional<shard::ns_result> propose(std::uint64_t shard_id, shard::ns_command c);
  bool read(std::uint64_t shard_id, std::function<void(const shard::namespace_state&)> query);
  s3_error create(const std::string& name);
  owner owner_() const;
  std::optional<s3_error> status_error(shard::ns_status s);
  /// Proposes `body` to the shard; answers the failure (no answer: 503; a
  /// refused command: its S3 error) and returns nullopt unless it applied
  /// or was refused with `pass_through` (which the caller handles).
  std::optional<shard::ns_result> commit(const header& req, std::uint64_t shard_id,
                                         decltype(shard::ns_command::body) body,
                                         shard::ns_status pass_through = shard::ns_status::ok);
  /// If-None-Match: * and If-Match of a write.
  static shard::write_condition write_condition_of(const header& req);
  keys::key_grant_ptr grant(std::uint64_t epoch);

  void list_buckets(const header& req);
  bool create_bucket(request_parser& parser, const target& t);
  void head_bucket(const header& req, const target& t);
  void location(const header& req, const target& t);
  void delete_bucket(const header& req, const target& t);
  void list_objects(const header& req, const target& t);
  void list_versions(const header& req, const target& t);

  // objects.cpp
  /// The body, written as chunks for the bucket's shard `shard_id`.
  received_body receive_body(request_parser& parser, const keys::key_grant& g, bool allow_inline,
                             std::uint64_t shard_id);
  /// Chunks written for a write that did not commit: reported to the
  /// shard's garbage queue (NS8), so the collector reclaims them.
  void orphan(std::uint64_t shard_id, std::vector<shard::chunk_ref> chunks);
  /// Commits a write whose chunks (`written`) are on the devices: 200 with
  /// the ETag and the verified checksums, or the failure answered and the
  /// chunks reported orphaned.
  void commit_written(const header& req, std::uint64_t shard_id,
                      decltype(shard::ns_command::body) body, std::vector<shard::chunk_ref> written,
                      const std::string& etag,
                      std::vector<std::pair<std::string, std::string>> checksums);
  /// Content-Type, or S3's default.
  static std::string content_type_of(const header& req);
  void fail_body(const received_body& body, const header& req);
  std::map<std::string, std::string> user_metadata(const header& req) const;
  bool put_object(request_parser& parser, const target& t);
  void get_object(const header& req, const target& t);
  void delete_object(const header& req, const target& t);
  bool delete_objects(request_parser& parser, const target& t);
  void copy_object(const header& req, const target& t);
  /// The copy source's bucket and current version after its
  /// x-amz-copy-source-if-* checks; nullopt after answering the failure.
  struct copied {
    copy_source source;
    runtime::bucket_entry bucket;
    shard::object_version version;
  };
  std::optional<copied> read_copy_source(const header& req);
  /// The version a copy stores in `to`: the source's chunks when both
  /// buckets share a shard (NS7 guards them), else its bytes [first, last]
  /// written again; nullopt after answering the failure.
  std::optional<shard::object_version> copy_bytes(const header& req, const copied& from,
                                                  const runtime::bucket_entry& to,
                                                  std::uint64_t first, std::uint64_t last,
                                                  bool as_part);
  /// Answers GET/HEAD and copy-source conditions: nullopt when they hold.
  std::optional<s3_error> check_conditions(const header& req, const shard::object_version& v,
                                           std::string_view prefix);
  /// The bytes [first, last] of `v` to `out` (chunk by chunk); false when
  /// a chunk cannot be read.
  bool stream_version(const shard::object_version& v, std::uint64_t first, std::uint64_t last,
                      const std::function<bool(std::span<const std::uint8_t>)>& out);

  // multipart.cpp
  void create_upload(const header& req, const target& t);
  bool upload_part(request_parser& parser, const target& t);
  void upload_part_copy(const header& req, const target& t);
  bool complete_upload(request_parser& parser, const target& t);
  void abort_upload(const header& req, const target& t);
  void list_parts(const header& req, const target& t);
  void list_uploads(const header& req, const target& t);
  /// The part number of ?partNumber=, or nullopt after answering the error.
  std::optional<std::uint32_t> part_number(const header& req, const target& t);
  /// The bucket of a request on the upload ?uploadId= when that upload
  /// exists for the request's key; nullopt after answering the failure.
  std::optional<runtime::bucket_entry> upload_bucket(const header& req, const target& t,
                                                     shard::multipart_upload* copy = nullptr);

  caf::blocking_actor* self_;
  s3_server::impl& server_;
  std::shared_ptr<tcp::socket> socket_;
  beast::flat_buffer buffer_;
  catalog_secrets secrets_;
  struct cached_secret {
    std::uint64_t tenant = 0;
    keys::secret_bytes secret;
    std::int64_t expires_ns = 0;
  };
  std::map<std::string, cached_secret, std::less<>> secret_cache_;
  /// The tenant of the request's access key (set by authentication).
  std::uint64_t tenant_ = 0;
  authenticated_request auth_;
  std::string request_id_;
  bool keep_alive_ = true;
  std::map<std::pair<std::uint64_t, std::uint64_t>, keys::key_grant_ptr>
      grants_;  // (tenant, epoch)
};

}  // namespace detail
}  // namespace cairn::s3
