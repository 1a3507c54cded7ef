// tests/bench/s3_load.cpp — s3_load: a closed-loop S3 load generator
// (PUT, GET, HEAD of objects of one size; ListObjectsV2 paging), and the
// loopback HTTP sink it is measured against (tests/bench/s3_compare.sh
// drives both against cairn, radosgw and the sink).
//
//   s3_load --endpoint http://127.0.0.1:P --access-key AK --secret-key SK
//           --op put|get|head|list [--size BYTES] [--connections N]
//           [--bucket B] [--prefix P] [--keys K] [--prefill] [--verify]
//           [--create-bucket] [--warmup S] [--duration S] [--count N]
//           [--max-keys M] [--region R] [--timeout-ms T] [--seed S] [--label L]
//   s3_load --sink PORT [--size BYTES]       serve the sink until SIGTERM
//   s3_load --self-sink --op ...             the sink in this process, the
//                                            load against it (smoke test)
//
// Owner: tests (benchmarks). Every connection is one thread with one
// HTTP/1.1 keep-alive socket and one request outstanding (closed loop),
// synchronous Boost.Beast. Requests are signed with AWS Signature Version 4
// in the Authorization header (host;x-amz-content-sha256;x-amz-date signed,
// x-amz-content-sha256: UNSIGNED-PAYLOAD) through cairn's own helpers in
// gateways/s3/sigv4.h; path-style addressing (/bucket/key).
//
// Object contents. One random pool of `size` bytes is made at start from
// --seed (the same in every process, so the sink serves what a prefill
// wrote). An object is the pool with the first 16 bytes of every 4 KiB block
// replaced by a tag (the object's 64-bit stamp, the block's index): no two
// PUTs of a run send the same 4 KiB block (stamp = a counter mixed with a
// per-process nonce), so a store that derives chunk ids from content (cairn
// does) or deduplicates cannot skip work, and nothing is zeros or repeats.
// Prefilled objects (--prefill) have stamp f(seed, size, path): --verify
// checks every GET byte against it as it streams by (and HEAD's length).
// Bodies are sent from the pool and the connection's tag table by gather
// writes and received into a 256 KiB buffer and discarded: a connection
// holds the tags of one object (16 bytes per 4 KiB) and one receive buffer,
// never an object.
//
// Phases: prefill (optional: keys 0..K-1 written once, spread over the
// connections), then load: warmup (--warmup seconds, not counted), then the
// window (--duration seconds, or until --count operations in all have been
// issued, warmup included, whichever comes first). Keys are chosen uniformly
// from 0..K-1 (named <prefix>k%08u). At the end of the window no new request
// starts; those in flight finish (and are not counted).
//
// What is counted:
//   ops      requests that completed successfully inside the window (their
//            start may be in the warmup): completion rate, ops/s.
//   bytes    payload bytes moved inside the window, sampled from per-
//            connection counters at the window's start and end (body bytes
//            handed to the socket for PUT, read for GET, response bytes for
//            list): MB/s stays exact when few large objects complete.
//   latency  of each counted op, from just before the request is written to
//            just after the whole response is read; log-linear histogram
//            (relative error < 1/64), p50/p99/max.
//   errors   failed requests completed inside the window (non-2xx, socket
//            errors, short or wrong bodies, --timeout-ms exceeded); each one
//            drops the connection and retries after a backoff. The first ten
//            are printed in full (request and response) on stderr.
//
// Exit status: 0 when at least one operation succeeded, errors <= 1% of
// attempts and no connection gave up (after 20 consecutive failures); 1
// otherwise; 2 on bad arguments or setup failures. Output: one JSON line on
// stdout (print_report), diagnostics on stderr.
//
// The sink (--sink PORT, or in process with --self-sink): one thread per
// connection, reads and discards request bodies, answers PUT with 200 and
// an ETag, GET with `--size` bytes of what a prefill writes at that path
// (from memory; so --verify holds), HEAD with the length,
// GET ?list-type=2 with a page of --max-keys keys, anything else with 200.
// It checks no signature and stores nothing: the same client's ceiling on
// loopback HTTP on this machine.
#include <sys/socket.h>
#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateways/s3/sigv4.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace sigv4 = cairn::s3;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

constexpr std::size_t block_bytes = 4096;  // one tag per block
constexpr std::size_t tag_bytes = 16;
// Bytes of body one writer step hands to the serializer (64 blocks, 128 buffers).
constexpr std::size_t write_batch_bytes = 64 * block_bytes;
constexpr std::size_t receive_buffer_bytes = 256 * 1024;
constexpr std::uint64_t small_body_bytes_max = 16 << 20;  // PUT replies, listings, errors
// "No limit" for object bodies. Not boost::none: Boost 1.74's basic_parser
// compares the Content-Length with the optional limit, and every length is
// greater than none.
constexpr std::uint64_t no_body_limit = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t error_text_bytes_max = 2048;
constexpr int error_details_max = 10;
constexpr int consecutive_failures_max = 20;
constexpr double error_fraction_max = 0.01;
constexpr std::chrono::milliseconds backoff_min{10};
constexpr std::chrono::milliseconds backoff_max{1000};
constexpr char unsigned_payload[] = "UNSIGNED-PAYLOAD";
constexpr char signed_headers[] = "host;x-amz-content-sha256;x-amz-date";

// --- latency histogram (as in kv_load.cpp) -------------------------------------------

// Values below 2^sub_bucket_bits ns are exact; above, each power of two is
// split into sub_bucket_half linear buckets (width < 1/64 of the lower bound).
class latency_histogram {
 public:
  void record(std::uint64_t ns) {
    ++counts_[index_of(ns)];
    ++total_;
    max_ns_ = std::max(max_ns_, ns);
  }
  void merge(const latency_histogram& o) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ns_ = std::max(max_ns_, o.max_ns_);
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t max_ns() const { return max_ns_; }
  std::uint64_t quantile_ns(double q) const {
    if (total_ == 0) return 0;
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        if (i + 1 == counts_.size()) return max_ns_;
        const std::uint64_t lower = lower_bound_of(i);
        const std::uint64_t upper = lower_bound_of(i + 1);
        return std::min(lower + (upper - lower) / 2, max_ns_);
      }
    }
    return max_ns_;
  }

 private:
  static constexpr int sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_bucket_half = 1u << (sub_bucket_bits - 1);
  static constexpr std::size_t bucket_count = (64 - sub_bucket_bits + 2) * sub_bucket_half;
  static std::size_t index_of(std::uint64_t v) {
    if (v < 2 * sub_bucket_half) return static_cast<std::size_t>(v);
    const int exponent = std::bit_width(v) - 1;
    const int shift = exponent - (sub_bucket_bits - 1);
    return static_cast<std::size_t>(shift) * sub_bucket_half + (v >> shift);
  }
  static std::uint64_t lower_bound_of(std::size_t i) {
    if (i < 2 * sub_bucket_half) return i;
    const std::size_t shift = i / sub_bucket_half - 1;
    const std::uint64_t mantissa = i - shift * sub_bucket_half;
    return mantissa << shift;
  }
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ns_ = 0;
};

// --- object contents ---------------------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

using tag = std::array<std::uint8_t, tag_bytes>;

tag make_tag(std::uint64_t stamp, std::uint64_t block) {
  tag t{};
  const std::uint64_t words[2] = {stamp, splitmix64(stamp ^ block) ^ block};
  std::memcpy(t.data(), words, sizeof words);
  return t;
}

// The stamp of the prefilled object at `path` ("/bucket/key" as sent) of
// `size` bytes: what GET --verify and the sink expect. Differs by key,
// prefix, bucket and size, so no two prefilled objects share a block.
std::uint64_t prefill_stamp(std::uint64_t seed, std::uint64_t size, std::string_view path) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char ch : path) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
  return splitmix64(splitmix64(seed ^ 0x5ca1ab1e00000000ull) ^ splitmix64(h + size));
}

// The read-only random pool objects are cut from (shared by all threads).
struct content {
  std::uint64_t seed = 1;
  std::uint64_t size = 0;
  std::vector<std::uint8_t> pool;  // size bytes, at least one

  content(std::uint64_t seed_, std::uint64_t size_) : seed(seed_), size(size_) {
    pool.resize(std::max<std::uint64_t>(size, 8) + 8);
    std::uint64_t state = splitmix64(seed ^ 0x706f6f6cull);
    for (std::size_t i = 0; i + 8 <= pool.size(); i += 8) {
      state = splitmix64(state);
      std::memcpy(pool.data() + i, &state, 8);
    }
  }
  std::size_t blocks() const {
    return static_cast<std::size_t>((size + block_bytes - 1) / block_bytes);
  }
  void fill_tags(std::uint64_t stamp, std::vector<tag>& tags) const {
    tags.resize(blocks());
    for (std::size_t b = 0; b < tags.size(); ++b) tags[b] = make_tag(stamp, b);
  }
};

// An object to send: the pool with `tags` over the start of each block.
struct object_source {
  const content* c = nullptr;
  const std::vector<tag>* tags = nullptr;
  std::atomic<std::uint64_t>* progress = nullptr;  // body bytes handed to the socket
};

// A Beast body that sends an object_source by gather writes, from memory.
struct stamped_body {
  using value_type = object_source;
  static std::uint64_t size(const value_type& v) { return v.c->size; }

  class writer {
   public:
    using const_buffers_type = std::span<const asio::const_buffer>;
    template <bool is_request, class Fields>
    writer(const http::header<is_request, Fields>&, const value_type& v) : v_(v) {}
    void init(beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      const std::uint64_t size = v_.c->size;
      if (offset_ >= size) return boost::none;
      buffers_.clear();
      const std::uint64_t start = offset_;
      const std::uint64_t end = std::min<std::uint64_t>(size, offset_ + write_batch_bytes);
      while (offset_ < end) {
        const std::uint64_t b = offset_ / block_bytes;  // offset_ is block-aligned here
        const std::uint64_t block_end = std::min<std::uint64_t>(size, (b + 1) * block_bytes);
        const std::uint64_t t = std::min<std::uint64_t>(tag_bytes, block_end - offset_);
        buffers_.emplace_back((*v_.tags)[b].data(), t);
        if (block_end > offset_ + t)
          buffers_.emplace_back(v_.c->pool.data() + offset_ + t, block_end - offset_ - t);
        offset_ = block_end;
      }
      if (v_.progress) v_.progress->fetch_add(offset_ - start, std::memory_order_relaxed);
      return {{const_buffers_type(buffers_), offset_ < size}};
    }

   private:
    const value_type& v_;
    std::uint64_t offset_ = 0;
    std::vector<asio::const_buffer> buffers_;
  };
};

// Checks a body streaming by against the object with `stamp`.
class body_check {
 public:
  body_check(const content& c, std::uint64_t stamp) : c_(c), stamp_(stamp) {}
  // Bytes [offset, offset + n) of the body; false at the first difference.
  bool feed(const std::uint8_t* data, std::size_t n, std::uint64_t offset) {
    while (n > 0) {
      if (offset >= c_.size) return false;
      const std::uint64_t b = offset / block_bytes;
      const std::uint64_t in_block = offset % block_bytes;
      const std::uint64_t block_end = std::min<std::uint64_t>(c_.size, (b + 1) * block_bytes);
      std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, block_end - offset));
      if (in_block < tag_bytes) {
        if (b != tag_block_) {
          tag_ = make_tag(stamp_, b);
          tag_block_ = b;
        }
        const std::size_t t = std::min<std::size_t>(take, tag_bytes - in_block);
        if (std::memcmp(data, tag_.data() + in_block, t) != 0) return false;
        data += t;
        n -= t;
        offset += t;
        take -= t;
      }
      if (take > 0 && std::memcmp(data, c_.pool.data() + offset, take) != 0) return false;
      data += take;
      n -= take;
      offset += take;
    }
    return true;
  }

 private:
  const content& c_;
  std::uint64_t stamp_;
  tag tag_{};
  std::uint64_t tag_block_ = ~std::uint64_t{0};
};

std::string key_name(const std::string& prefix, std::uint64_t index) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "k%08llu", static_cast<unsigned long long>(index));
  return prefix + digits;
}

// --- options -----------------------------------------------------------------------------

enum class op_kind { put, get, head, list };

std::string_view to_string(op_kind op) {
  switch (op) {
    case op_kind::put:
      return "put";
    case op_kind::get:
      return "get";
    case op_kind::head:
      return "head";
    case op_kind::list:
      return "list";
  }
  return "?";
}

struct options {
  op_kind op = op_kind::put;
  std::string endpoint;
  std::string host_header;  // host:port
  tcp::endpoint address;
  std::string access_key = "sink";
  std::string secret_key = "sink";
  std::string region = "us-east-1";
  std::string bucket = "cairn";
  std::string prefix = "s3load/";
  std::string label;
  std::uint64_t size = 4096;
  int connections = 8;
  std::uint64_t keys = 1000;
  bool prefill = false;
  bool verify = false;
  bool create_bucket = false;
  double warmup_s = 2;
  double duration_s = 10;
  bool duration_given = false;
  std::uint64_t count = 0;  // 0: no limit
  int max_keys = 1000;
  int timeout_ms = 120000;
  std::uint64_t seed = 1;
};

void parse_endpoint(options& o) {
  std::string_view rest = o.endpoint;
  if (rest.starts_with("https://")) throw std::runtime_error("https is not supported");
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == rest.size())
    throw std::runtime_error("endpoint needs host:port: " + o.endpoint);
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results =
      resolver.resolve(std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1)));
  if (results.empty()) throw std::runtime_error("cannot resolve " + o.endpoint);
  o.host_header = std::string(rest);
  o.address = results.begin()->endpoint();
}

// --- SigV4 -------------------------------------------------------------------------------

// Signs requests with cairn's helpers; one per connection (not shared).
class signer {
 public:
  signer(const options& o) : o_(o) {}

  // Adds x-amz-date, x-amz-content-sha256 and Authorization to `h`, whose
  // method and target (path already uri-encoded, query in canonical form)
  // are set.
  template <class Fields>
  void sign(http::request_header<Fields>& h, std::string_view path, std::string_view query) {
    const std::string timestamp =
        sigv4::format_amz_date(static_cast<std::int64_t>(std::time(nullptr)));
    const std::string date = timestamp.substr(0, 8);
    if (date != key_date_) {
      key_ = sigv4::derive_signing_key(
          std::span(reinterpret_cast<const std::uint8_t*>(o_.secret_key.data()),
                    o_.secret_key.size()),
          date, o_.region, "s3");
      key_date_ = date;
      scope_ = date + "/" + o_.region + "/s3/aws4_request";
    }
    const auto uri = sigv4::canonical_uri(path);
    if (!uri) throw std::runtime_error("cannot sign path " + std::string(path));
    std::string canonical;
    canonical.reserve(512);
    canonical.append(h.method_string().data(), h.method_string().size());
    canonical += '\n';
    canonical += *uri;
    canonical += '\n';
    canonical += query;
    canonical += "\nhost:";
    canonical += sigv4::canonical_header_value(o_.host_header);
    canonical += "\nx-amz-content-sha256:";
    canonical += unsigned_payload;
    canonical += "\nx-amz-date:";
    canonical += timestamp;
    canonical += "\n\n";
    canonical += signed_headers;
    canonical += '\n';
    canonical += unsigned_payload;
    const auto signature = sigv4::sign(key_, sigv4::string_to_sign(timestamp, scope_, canonical));
    h.set(http::field::host, o_.host_header);
    h.set("x-amz-date", timestamp);
    h.set("x-amz-content-sha256", unsigned_payload);
    std::string auth = "AWS4-HMAC-SHA256 Credential=";
    auth += o_.access_key;
    auth += '/';
    auth += scope_;
    auth += ", SignedHeaders=";
    auth += signed_headers;
    auth += ", Signature=";
    auth += sigv4::to_hex(signature);
    h.set(http::field::authorization, auth);
  }

 private:
  const options& o_;
  std::string key_date_;
  std::string scope_;
  cairn::keys::secret_bytes key_;
};

// "name=value&..." in canonical order (what is both sent and signed).
std::string query_of(std::vector<sigv4::query_parameter> params) {
  return sigv4::canonical_query_string(params, sigv4::signature_parameter::include);
}

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (const auto& [name, c] : entities) {
      if (s.substr(i).starts_with(name)) {
        out += c;
        i += name.size() - 1;
        done = true;
        break;
      }
    }
    if (!done) out += '&';
  }
  return out;
}

std::string_view xml_element(std::string_view doc, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">";
  const std::string close = "</" + std::string(name) + ">";
  const auto a = doc.find(open);
  if (a == std::string_view::npos) return {};
  const auto b = doc.find(close, a + open.size());
  if (b == std::string_view::npos) return {};
  return doc.substr(a + open.size(), b - a - open.size());
}

std::uint64_t count_occurrences(std::string_view doc, std::string_view needle) {
  std::uint64_t n = 0;
  for (auto at = doc.find(needle); at != std::string_view::npos; at = doc.find(needle, at + 1)) ++n;
  return n;
}

// --- the run -----------------------------------------------------------------------------

std::int64_t ns_since_epoch(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Shared by all connections.
struct run_state {
  const options& o;
  const content& c;
  std::uint64_t nonce = 0;  // per process: PUT stamps never repeat across runs

  // The current phase: set before its threads start.
  bool prefill = false;
  steady::time_point window_start{};
  steady::time_point window_end = steady::time_point::max();
  std::atomic<std::uint64_t> next_prefill_key{0};
  std::atomic<std::uint64_t> issued{0};  // against --count
  std::atomic<std::uint64_t> put_counter{0};
  std::atomic<bool> stop{false};

  std::mutex mutex;  // guards the fields below
  std::condition_variable done_cv;
  int running = 0;
  std::string first_error;
  int error_details_printed = 0;

  run_state(const options& o_, const content& c_) : o(o_), c(c_) {
    std::random_device rd;
    nonce = (std::uint64_t{rd()} << 32) ^ rd() ^
            static_cast<std::uint64_t>(steady::now().time_since_epoch().count());
  }

  void note_error(const std::string& summary, const std::string& detail) {
    std::lock_guard lock(mutex);
    if (first_error.empty()) first_error = summary;
    if (error_details_printed < error_details_max) {
      ++error_details_printed;
      std::fprintf(stderr, "s3_load: error: %s\n%s\n", summary.c_str(), detail.c_str());
      if (error_details_printed == error_details_max)
        std::fprintf(stderr, "s3_load: further errors are counted, not printed\n");
    }
  }
};

// Per-connection results, merged by the main thread after join.
struct connection_stats {
  latency_histogram latencies;
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;        // inside the window
  std::uint64_t other_errors = 0;  // prefill, warmup, after the window
  std::uint64_t keys_listed = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t prefilled = 0;
  steady::time_point last_completion{};
  bool gave_up = false;
};

class connection {
 public:
  connection(run_state& st, int id)
      : st_(st),
        o_(st.o),
        id_(id),
        socket_(io_),
        signer_(st.o),
        rng_(splitmix64(st.o.seed ^ st.nonce ^ static_cast<std::uint64_t>(id))),
        receive_(receive_buffer_bytes) {}

  std::atomic<std::uint64_t> progress{0};      // payload bytes moved
  std::atomic<std::int64_t> busy_since_ns{0};  // 0: no request in flight
  connection_stats stats;

  // The thread body of one phase.
  void run() {
    int failures = 0;
    std::optional<std::uint64_t> retry;  // a prefill key whose PUT failed
    while (!st_.stop.load(std::memory_order_relaxed)) {
      std::uint64_t key = 0;
      op_kind op = o_.op;
      if (st_.prefill) {
        if (retry) {
          key = *retry;
        } else {
          key = st_.next_prefill_key.fetch_add(1);
          if (key >= o_.keys) break;
        }
        op = op_kind::put;
      } else {
        if (o_.count > 0 && st_.issued.fetch_add(1) >= o_.count) break;
        key = std::uniform_int_distribution<std::uint64_t>(0, o_.keys - 1)(rng_);
      }
      const steady::time_point started = steady::now();
      busy_since_ns.store(ns_since_epoch(started));
      std::string summary, detail;
      const bool ok = request(op, key, summary, detail);
      busy_since_ns.store(0);
      const steady::time_point finished = steady::now();
      const bool in_window =
          !st_.prefill && finished >= st_.window_start && finished <= st_.window_end;
      if (ok) {
        failures = 0;
        retry.reset();
        if (st_.prefill) ++stats.prefilled;
        if (in_window) {
          ++stats.ops;
          stats.latencies.record(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(finished - started).count()));
          stats.last_completion = std::max(stats.last_completion, finished);
          stats.keys_listed += page_keys_;
        }
        continue;
      }
      if (aborted_.exchange(false)) summary += " (timed out after --timeout-ms)";
      (in_window ? stats.errors : stats.other_errors) += 1;
      st_.note_error(summary, detail);
      close();
      if (st_.prefill) retry = key;
      if (++failures > consecutive_failures_max) {
        std::fprintf(stderr, "s3_load: connection %d gave up after %d consecutive failures\n", id_,
                     failures - 1);
        stats.gave_up = true;
        break;
      }
      ++stats.reconnects;
      std::this_thread::sleep_for(
          std::min(backoff_max, backoff_min * (1 << std::min(failures - 1, 10))));
    }
    close();
  }

  // Asks a blocked request to fail (watchdog, another thread).
  void abort() {
    std::lock_guard lock(socket_mutex_);
    if (socket_.is_open()) {
      aborted_ = true;
      ::shutdown(socket_.native_handle(), SHUT_RDWR);
    }
  }

  // One request, synchronously; false with a summary and details on failure.
  bool request(op_kind op, std::uint64_t key, std::string& summary, std::string& detail) {
    page_keys_ = 0;
    beast::error_code ec;
    if (!socket_.is_open()) {
      {
        std::lock_guard lock(socket_mutex_);
        socket_.open(o_.address.protocol(), ec);
      }
      if (!ec) socket_.connect(o_.address, ec);
      if (ec) {
        summary = "connect " + o_.host_header + ": " + ec.message();
        return false;
      }
      socket_.set_option(tcp::no_delay(true), ec);
      buffer_.clear();
    }
    switch (op) {
      case op_kind::put:
        return put(key, summary, detail);
      case op_kind::get:
      case op_kind::head:
        return get(op, key, summary, detail);
      case op_kind::list:
        return list(summary, detail);
    }
    return false;
  }

  void close() {
    std::lock_guard lock(socket_mutex_);
    beast::error_code ignored;
    if (socket_.is_open()) {
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);
    }
    buffer_.clear();
  }

 private:
  std::string object_path(std::uint64_t key) const {
    return "/" + sigv4::uri_encode(o_.bucket, sigv4::slash_encoding::encode) + "/" +
           sigv4::uri_encode(key_name(o_.prefix, key), sigv4::slash_encoding::keep);
  }

  template <class Fields>
  static std::string describe_request(const http::request_header<Fields>& h) {
    std::ostringstream s;
    s << "  request: " << h;
    return s.str();
  }

  template <class Fields>
  static std::string describe_response(const http::response_header<Fields>& h,
                                       std::string_view body) {
    std::ostringstream s;
    s << "  response: " << h << body.substr(0, error_text_bytes_max) << "\n";
    return s.str();
  }

  // Reads a small response (PUT reply, listing, error) into `body`.
  bool read_small(http::response_parser<http::string_body>& parser, const std::string& what,
                  std::string& summary) {
    beast::error_code ec;
    parser.body_limit(small_body_bytes_max);
    http::read(socket_, buffer_, parser, ec);
    if (ec) {
      summary = what + ": read: " + ec.message();
      return false;
    }
    return true;
  }

  bool put(std::uint64_t key, std::string& summary, std::string& detail) {
    const std::string path = object_path(key);
    const std::uint64_t stamp = st_.prefill ? prefill_stamp(o_.seed, o_.size, path)
                                            : splitmix64(st_.nonce + st_.put_counter.fetch_add(1));
    st_.c.fill_tags(stamp, tags_);
    http::request<stamped_body> req{http::verb::put, path, 11};
    req.keep_alive(true);
    req.set(http::field::content_type, "application/octet-stream");
    req.body() = object_source{&st_.c, &tags_, &progress};
    req.prepare_payload();
    signer_.sign(req.base(), path, "");
    const std::string what = "PUT " + path;
    beast::error_code ec;
    http::write(socket_, req, ec);
    http::response_parser<http::string_body> parser;
    if (ec) {
      // The server may have answered early (an error) and closed: show it.
      summary = what + ": write: " + ec.message();
      std::string ignored;
      if (read_small(parser, what, ignored)) {
        summary += "; the server answered HTTP " + std::to_string(parser.get().result_int());
        detail = describe_request(req.base()) +
                 describe_response(parser.get().base(), parser.get().body());
      } else {
        detail = describe_request(req.base());
      }
      return false;
    }
    if (!read_small(parser, what, summary)) {
      detail = describe_request(req.base());
      return false;
    }
    const auto& res = parser.get();
    if (res.result_int() / 100 != 2) {
      summary =
          what + ": HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 300);
      detail = describe_request(req.base()) + describe_response(res.base(), res.body());
      return false;
    }
    if (!res.keep_alive()) close();
    return true;
  }

  bool get(op_kind op, std::uint64_t key, std::string& summary, std::string& detail) {
    const std::string path = object_path(key);
    http::request<http::empty_body> req{op == op_kind::head ? http::verb::head : http::verb::get,
                                        path, 11};
    req.keep_alive(true);
    signer_.sign(req.base(), path, "");
    const std::string what =
        std::string(req.method_string().data(), req.method_string().size()) + " " + path;
    beast::error_code ec;
    http::write(socket_, req, ec);
    if (ec) {
      summary = what + ": write: " + ec.message();
      detail = describe_request(req.base());
      return false;
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(no_body_limit);
    if (op == op_kind::head) parser.skip(true);
    http::read_header(socket_, buffer_, parser, ec);
    if (ec) {
      summary = what + ": read header: " + ec.message();
      detail = describe_request(req.base());
      return false;
    }
    const unsigned status = parser.get().result_int();
    const bool success = status / 100 == 2;
    std::string error_body;
    std::uint64_t offset = 0;
    std::optional<body_check> check;
    if (success && o_.verify && op == op_kind::get)
      check.emplace(st_.c, prefill_stamp(o_.seed, o_.size, path));
    bool mismatch = false;
    while (!parser.is_done()) {
      auto& body = parser.get().body();
      body.data = receive_.data();
      body.size = receive_.size();
      http::read(socket_, buffer_, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        summary = what + ": read body at byte " + std::to_string(offset) + ": " + ec.message();
        detail = describe_request(req.base()) + describe_response(parser.get().base(), error_body);
        return false;
      }
      const std::size_t n = receive_.size() - parser.get().body().size;
      if (success) {
        if (check && !mismatch && !check->feed(receive_.data(), n, offset)) {
          mismatch = true;
          summary = what + ": body differs from what was written, at or after byte " +
                    std::to_string(offset);
        }
        progress.fetch_add(n, std::memory_order_relaxed);
      } else if (error_body.size() < error_text_bytes_max) {
        error_body.append(reinterpret_cast<const char*>(receive_.data()),
                          std::min(n, error_text_bytes_max - error_body.size()));
      }
      offset += n;
    }
    const auto& res = parser.get();
    if (!success) {
      summary = what + ": HTTP " + std::to_string(status) + ": " + error_body.substr(0, 300);
      detail = describe_request(req.base()) + describe_response(res.base(), error_body);
      if (!res.keep_alive()) close();
      return false;
    }
    if (mismatch) {
      detail = describe_request(req.base()) + describe_response(res.base(), "");
      return false;
    }
    if (op == op_kind::get && offset != o_.size) {
      summary = what + ": body of " + std::to_string(offset) + " bytes, expected " +
                std::to_string(o_.size);
      detail = describe_request(req.base()) + describe_response(res.base(), "");
      return false;
    }
    if (op == op_kind::head && o_.verify) {
      const auto length = res[http::field::content_length];
      if (length != std::to_string(o_.size)) {
        summary = what + ": Content-Length " + std::string(length.data(), length.size()) +
                  ", expected " + std::to_string(o_.size);
        detail = describe_request(req.base()) + describe_response(res.base(), "");
        return false;
      }
    }
    if (!res.keep_alive()) close();
    return true;
  }

  // One page of ListObjectsV2; the next call continues, then starts over.
  bool list(std::string& summary, std::string& detail) {
    std::vector<sigv4::query_parameter> params = {
        {"list-type", "2"}, {"max-keys", std::to_string(o_.max_keys)}, {"prefix", o_.prefix}};
    if (!continuation_.empty()) params.push_back({"continuation-token", continuation_});
    const std::string path = "/" + sigv4::uri_encode(o_.bucket, sigv4::slash_encoding::encode);
    const std::string query = query_of(params);
    http::request<http::empty_body> req{http::verb::get, path + "?" + query, 11};
    req.keep_alive(true);
    signer_.sign(req.base(), path, query);
    const std::string what = "GET " + path + "?" + query;
    beast::error_code ec;
    http::write(socket_, req, ec);
    if (ec) {
      summary = what + ": write: " + ec.message();
      detail = describe_request(req.base());
      return false;
    }
    http::response_parser<http::string_body> parser;
    if (!read_small(parser, what, summary)) {
      detail = describe_request(req.base());
      return false;
    }
    const auto& res = parser.get();
    if (res.result_int() != 200) {
      summary =
          what + ": HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 300);
      detail = describe_request(req.base()) + describe_response(res.base(), res.body());
      return false;
    }
    const std::string_view doc = res.body();
    progress.fetch_add(doc.size(), std::memory_order_relaxed);
    page_keys_ = count_occurrences(doc, "<Key>");
    if (xml_element(doc, "IsTruncated") == "true") {
      continuation_ = xml_unescape(xml_element(doc, "NextContinuationToken"));
      if (continuation_.empty()) {
        summary = what + ": truncated listing without NextContinuationToken";
        detail = describe_request(req.base()) + describe_response(res.base(), res.body());
        return false;
      }
    } else {
      continuation_.clear();
    }
    if (!res.keep_alive()) close();
    return true;
  }

  run_state& st_;
  const options& o_;
  int id_;
  asio::io_context io_;
  tcp::socket socket_;
  std::mutex socket_mutex_;  // open/close against abort() from the watchdog
  std::atomic<bool> aborted_{false};
  signer signer_;
  std::mt19937_64 rng_;
  beast::flat_buffer buffer_;
  std::vector<std::uint8_t> receive_;
  std::vector<tag> tags_;
  std::string continuation_;
  std::uint64_t page_keys_ = 0;
};

// Runs one phase on all connections; the main thread watches timeouts and
// samples the byte counters at the window's edges. Returns the bytes moved
// in the window and the window's end.
struct phase_result {
  std::uint64_t bytes = 0;
  steady::time_point end{};
};

std::uint64_t progress_sum(const std::vector<std::unique_ptr<connection>>& conns) {
  std::uint64_t sum = 0;
  for (const auto& c : conns) sum += c->progress.load(std::memory_order_relaxed);
  return sum;
}

phase_result run_phase(run_state& st, std::vector<std::unique_ptr<connection>>& conns) {
  st.stop = false;
  {
    std::lock_guard lock(st.mutex);
    st.running = static_cast<int>(conns.size());
  }
  std::vector<std::thread> threads;
  threads.reserve(conns.size());
  for (auto& c : conns) {
    threads.emplace_back([&st, conn = c.get()] {
      conn->run();
      std::lock_guard lock(st.mutex);
      --st.running;
      st.done_cv.notify_all();
    });
  }
  const auto timeout = std::chrono::milliseconds(st.o.timeout_ms);
  // Waits until `deadline` or until every thread finished; true if all did.
  const auto wait_until = [&](steady::time_point deadline) {
    std::unique_lock lock(st.mutex);
    while (st.running > 0) {
      const auto now = steady::now();
      if (now >= deadline) return false;
      const auto step = std::min<steady::duration>(deadline - now, std::chrono::milliseconds(100));
      if (st.done_cv.wait_for(lock, step, [&] { return st.running == 0; })) break;
      lock.unlock();
      const std::int64_t now_ns = ns_since_epoch(steady::now());
      for (auto& c : conns) {
        const std::int64_t since = c->busy_since_ns.load();
        if (since != 0 && now_ns - since > std::chrono::nanoseconds(timeout).count()) c->abort();
      }
      lock.lock();
    }
    return true;
  };
  phase_result r;
  if (st.prefill) {
    wait_until(steady::time_point::max());
  } else {
    bool all_done = wait_until(st.window_start);
    const std::uint64_t at_start = progress_sum(conns);
    all_done = all_done || wait_until(st.window_end);
    if (all_done) {
      r.end = st.window_start;
      for (auto& c : conns) r.end = std::max(r.end, c->stats.last_completion);
    } else {
      r.end = st.window_end;
    }
    r.bytes = progress_sum(conns) - at_start;
    st.stop = true;
    wait_until(steady::time_point::max());
  }
  for (auto& t : threads) t.join();
  return r;
}

double round_to(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// PUT /bucket; 200, or 409 BucketAlreadyOwnedByYou, is fine.
void create_bucket(run_state& st) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(st.o.address);
  signer sg(st.o);
  const std::string path = "/" + sigv4::uri_encode(st.o.bucket, sigv4::slash_encoding::encode);
  http::request<http::empty_body> req{http::verb::put, path, 11};
  req.keep_alive(false);
  req.prepare_payload();
  sg.sign(req.base(), path, "");
  http::write(s, req);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  http::read(s, b, res);
  if (res.result_int() == 200 ||
      (res.result_int() == 409 && res.body().find("BucketAlreadyOwnedByYou") != std::string::npos))
    return;
  throw std::runtime_error("create bucket " + st.o.bucket + ": HTTP " +
                           std::to_string(res.result_int()) + ": " + res.body().substr(0, 300));
}

int run_load(const options& o, const content& c) {
  run_state st(o, c);
  if (o.create_bucket) create_bucket(st);
  std::vector<std::unique_ptr<connection>> conns;
  for (int i = 0; i < o.connections; ++i) conns.push_back(std::make_unique<connection>(st, i));

  double prefill_s = 0;
  std::uint64_t prefill_errors = 0;
  if (o.prefill) {
    const auto t0 = steady::now();
    st.prefill = true;
    run_phase(st, conns);
    // A failed PUT is retried (same key) until its connection gives up.
    for (auto& conn : conns) {
      prefill_errors += conn->stats.other_errors;
      if (conn->stats.gave_up) {
        std::fprintf(stderr, "s3_load: prefill failed\n");
        return 1;
      }
    }
    prefill_s = std::chrono::duration<double>(steady::now() - t0).count();
    std::fprintf(stderr, "s3_load: prefilled %llu objects of %llu bytes in %.2f s\n",
                 static_cast<unsigned long long>(o.keys), static_cast<unsigned long long>(o.size),
                 prefill_s);
    for (auto& conn : conns) conn->stats = connection_stats{};
  }

  st.prefill = false;
  const auto start = steady::now();
  st.window_start = start + std::chrono::duration_cast<steady::duration>(
                                std::chrono::duration<double>(o.warmup_s));
  st.window_end = o.duration_given
                      ? st.window_start + std::chrono::duration_cast<steady::duration>(
                                              std::chrono::duration<double>(o.duration_s))
                      : steady::time_point::max();
  const phase_result r = run_phase(st, conns);

  connection_stats total;
  int gave_up = 0;
  for (auto& conn : conns) {
    total.latencies.merge(conn->stats.latencies);
    total.ops += conn->stats.ops;
    total.errors += conn->stats.errors;
    total.other_errors += conn->stats.other_errors;
    total.keys_listed += conn->stats.keys_listed;
    total.reconnects += conn->stats.reconnects;
    gave_up += conn->stats.gave_up ? 1 : 0;
  }
  const double seconds =
      std::max(0.0, std::chrono::duration<double>(r.end - st.window_start).count());
  const auto ms = [](std::uint64_t ns) { return round_to(static_cast<double>(ns) / 1e6, 3); };
  const auto per_s = [&](double v, int d) { return seconds > 0 ? round_to(v / seconds, d) : 0.0; };
  nlohmann::ordered_json j;
  j["label"] = o.label;
  j["op"] = to_string(o.op);
  j["size"] = o.size;
  j["connections"] = o.connections;
  j["ops"] = total.ops;
  j["bytes"] = r.bytes;
  j["seconds"] = round_to(seconds, 3);
  j["ops_per_s"] = per_s(static_cast<double>(total.ops), 1);
  j["MB_per_s"] = per_s(static_cast<double>(r.bytes) / 1e6, 2);
  j["p50_ms"] = ms(total.latencies.quantile_ns(0.50));
  j["p99_ms"] = ms(total.latencies.quantile_ns(0.99));
  j["max_ms"] = ms(total.latencies.max_ns());
  j["errors"] = total.errors;
  j["first_error"] = st.first_error;
  if (o.op == op_kind::list) {
    j["keys_listed"] = total.keys_listed;
    j["keys_per_s"] = per_s(static_cast<double>(total.keys_listed), 1);
  }
  j["other_errors"] = total.other_errors + prefill_errors;
  j["reconnects"] = total.reconnects;
  j["connections_gave_up"] = gave_up;
  j["keys"] = o.keys;
  j["verify"] = o.verify;
  j["warmup_s"] = o.warmup_s;
  j["prefill_s"] = round_to(prefill_s, 3);
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  std::fflush(stdout);

  const std::uint64_t attempts = total.ops + total.errors;
  const double fraction = attempts == 0 ? 1.0 : static_cast<double>(total.errors) / attempts;
  if (gave_up > 0 || total.ops == 0 || fraction > error_fraction_max) {
    std::fprintf(stderr, "s3_load: FAILED: %llu errors in %llu attempts, %d connections gave up\n",
                 static_cast<unsigned long long>(total.errors),
                 static_cast<unsigned long long>(attempts), gave_up);
    return 1;
  }
  return 0;
}

// --- the sink ----------------------------------------------------------------------------

// One sink connection: reads requests, discards bodies, answers from memory.
void sink_session(tcp::socket socket, std::shared_ptr<const content> c, int max_keys) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  beast::flat_buffer buffer;
  std::vector<std::uint8_t> discard(receive_buffer_bytes);
  std::vector<tag> tags;
  for (;;) {
    http::request_parser<http::buffer_body> parser;
    parser.body_limit(no_body_limit);
    http::read_header(socket, buffer, parser, ec);
    if (ec) break;
    while (!parser.is_done()) {
      parser.get().body().data = discard.data();
      parser.get().body().size = discard.size();
      http::read(socket, buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) break;
    }
    if (ec) break;
    const auto& req = parser.get();
    const bool keep_alive = req.keep_alive();
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const std::string_view query = target.find('?') == std::string_view::npos
                                       ? std::string_view{}
                                       : target.substr(target.find('?') + 1);
    if (req.method() == http::verb::get && query.find("list-type=2") != std::string_view::npos) {
      http::response<http::string_body> res{http::status::ok, 11};
      std::string body =
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>sink</Name>"
          "<IsTruncated>false</IsTruncated>";
      for (int i = 0; i < max_keys; ++i)
        body += "<Contents><Key>" + key_name("sink/", static_cast<std::uint64_t>(i)) +
                "</Key><Size>" + std::to_string(c->size) + "</Size></Contents>";
      body += "<KeyCount>" + std::to_string(max_keys) + "</KeyCount></ListBucketResult>";
      res.body() = std::move(body);
      res.set(http::field::content_type, "application/xml");
      res.keep_alive(keep_alive);
      res.prepare_payload();
      http::write(socket, res, ec);
    } else if (req.method() == http::verb::get) {
      c->fill_tags(prefill_stamp(c->seed, c->size, path), tags);
      http::response<stamped_body> res{http::status::ok, 11};
      res.body() = object_source{c.get(), &tags, nullptr};
      res.set(http::field::content_type, "application/octet-stream");
      res.keep_alive(keep_alive);
      res.prepare_payload();
      http::write(socket, res, ec);
    } else {
      http::response<http::empty_body> res{
          req.method() == http::verb::delete_ ? http::status::no_content : http::status::ok, 11};
      if (req.method() == http::verb::head) {
        res.content_length(c->size);
      } else {
        res.content_length(0);
      }
      if (req.method() == http::verb::put) res.set(http::field::etag, "\"sink\"");
      res.keep_alive(keep_alive);
      http::write(socket, res, ec);
    }
    if (ec || !keep_alive) break;
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

// Accepts forever on `acceptor`, a thread per connection.
void sink_accept(std::shared_ptr<asio::io_context> io, std::shared_ptr<tcp::acceptor> acceptor,
                 std::shared_ptr<const content> c, int max_keys) {
  for (;;) {
    beast::error_code ec;
    tcp::socket socket(*io);
    acceptor->accept(socket, ec);
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    std::thread(sink_session, std::move(socket), c, max_keys).detach();
  }
}

// Binds 127.0.0.1:port (0: any) and returns the port.
unsigned short start_sink(unsigned short port, std::shared_ptr<const content> c, int max_keys,
                          bool detach) {
  auto io = std::make_shared<asio::io_context>();
  auto acceptor = std::make_shared<tcp::acceptor>(*io);
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port);
  acceptor->open(at.protocol());
  acceptor->set_option(asio::socket_base::reuse_address(true));
  acceptor->bind(at);
  acceptor->listen(asio::socket_base::max_listen_connections);
  const unsigned short bound = acceptor->local_endpoint().port();
  if (detach) {
    std::thread(sink_accept, io, acceptor, c, max_keys).detach();
  } else {
    sink_accept(io, acceptor, c, max_keys);
  }
  return bound;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "s3_load: closed-loop S3 load (SigV4, keep-alive, a thread per connection) and "
      "a loopback HTTP sink; prints one JSON line per run"};
  options o;
  std::string op = "put";
  int sink_port = -1;
  bool self_sink = false;
  app.add_option("--endpoint", o.endpoint, "http://host:port of the S3 server (path-style)");
  app.add_option("--access-key", o.access_key, "SigV4 access key id")->capture_default_str();
  app.add_option("--secret-key", o.secret_key, "SigV4 secret access key");
  app.add_option("--region", o.region, "region of the credential scope")->capture_default_str();
  app.add_option("--op", op, "operation")
      ->check(CLI::IsMember({"put", "get", "head", "list"}))
      ->capture_default_str();
  app.add_option("--size", o.size, "object bytes (PUT, GET, HEAD; the sink's GET replies)")
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{5} << 30))
      ->capture_default_str();
  app.add_option("--connections", o.connections, "concurrent connections, a thread each")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--bucket", o.bucket, "bucket")->capture_default_str();
  app.add_option("--prefix", o.prefix, "key prefix (keys are <prefix>k%08u; list pages it)")
      ->capture_default_str();
  app.add_option("--keys", o.keys, "key space 0..K-1, chosen uniformly")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32))
      ->capture_default_str();
  app.add_flag("--prefill", o.prefill, "PUT every key once (known contents) before the load");
  app.add_flag("--verify", o.verify,
               "check GET bodies (and HEAD lengths) against the prefilled contents");
  app.add_flag("--create-bucket", o.create_bucket, "PUT the bucket first (exists is fine)");
  auto* warmup = app.add_option("--warmup", o.warmup_s, "seconds of load before the window")
                     ->check(CLI::Range(0.0, 3600.0))
                     ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds in the window")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--count", o.count,
                 "issue at most this many operations in all (warmup included); without "
                 "--duration the window ends at the last completion")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  app.add_option("--max-keys", o.max_keys, "list: keys per page (the sink's page size too)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "deadline per request (then the socket is shut)")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  app.add_option("--seed", o.seed,
                 "seeds the pool and the prefilled contents (sink and client "
                 "must agree)")
      ->capture_default_str();
  app.add_option("--label", o.label, "copied into the JSON line");
  app.add_option("--sink", sink_port, "serve the sink on 127.0.0.1:PORT (0: any) until killed")
      ->check(CLI::Range(0, 65535));
  app.add_flag("--self-sink", self_sink, "run the sink in this process and load it");
  CLI11_PARSE(app, argc, argv);

  o.op = op == "get"    ? op_kind::get
         : op == "head" ? op_kind::head
         : op == "list" ? op_kind::list
                        : op_kind::put;
  o.duration_given = app.count("--duration") > 0 || o.count == 0;
  if (!o.duration_given && warmup->count() == 0) o.warmup_s = 0;
  try {
    auto c = std::make_shared<const content>(o.seed, o.size);
    if (sink_port >= 0) {
      std::signal(SIGPIPE, SIG_IGN);
      // The port line is printed once bound; serving runs on this thread.
      auto io = std::make_shared<asio::io_context>();
      auto acceptor = std::make_shared<tcp::acceptor>(*io);
      const tcp::endpoint at(asio::ip::make_address("127.0.0.1"),
                             static_cast<unsigned short>(sink_port));
      acceptor->open(at.protocol());
      acceptor->set_option(asio::socket_base::reuse_address(true));
      acceptor->bind(at);
      acceptor->listen(asio::socket_base::max_listen_connections);
      std::printf("sink-endpoint: http://127.0.0.1:%u\n", acceptor->local_endpoint().port());
      std::fflush(stdout);
      sink_accept(io, acceptor, c, o.max_keys);
      return 0;
    }
    if (self_sink) {
      const unsigned short port = start_sink(0, c, o.max_keys, true);
      o.endpoint = "http://127.0.0.1:" + std::to_string(port);
    }
    if (o.endpoint.empty())
      throw std::runtime_error("--endpoint (or --sink / --self-sink) is required");
    if (o.secret_key.empty()) throw std::runtime_error("--secret-key is empty");
    std::signal(SIGPIPE, SIG_IGN);
    parse_endpoint(o);
    if (o.label.empty()) o.label = o.endpoint;
    const int rc = run_load(o, *c);
    // Sink threads (--self-sink) may still be tearing down: leave at once.
    std::fflush(nullptr);
    std::_Exit(rc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3_load: %s\n", e.what());
    return 2;
  }
}
