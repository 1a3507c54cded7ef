// tests/bench/kv_load.cpp — kv_load: a closed-loop HTTP load generator for
// key-value servers, used to compare cairn with etcd side by side
// (tests/bench/etcd_compare.sh drives it).
//
//   kv_load --target etcd|cairn --endpoints http://127.0.0.1:P1,...
//           [--op put|get] [--clients N] [--value-bytes B] [--keys K] [--seed S]
//           [--warmup S] [--duration S | --requests R] [--prefill]
//           [--timeout-ms T] [--reconnects-max M]
//
// Owner: tests (benchmarks). One process, one io_context run on the main
// thread only: the machine it was written for has 2 cores and the servers
// under test need the other one. Every client is one HTTP/1.1 keep-alive
// connection with exactly one request outstanding (closed loop); client i
// talks to endpoint i mod (number of endpoints).
//
// Protocols (one request = one operation):
//   etcd   the v3.4 JSON gateway: POST /v3/kv/put {"key": b64, "value": b64}
//          and POST /v3/kv/range {"key": b64} (linearizable by default).
//          Success is a 200 whose body is a JSON object without "error".
//   cairn  PUT /v1/kv/<key> with the raw value as body (2xx = committed);
//          GET /v1/kv/<key> -> 2xx with the value as body, 404 = absent.
//
// Phases: prefill (optional; every key 0..K-1 written once, spread over all
// clients), then warmup (load, nothing recorded), then measurement (for
// --duration seconds or until --requests operations succeeded). Only
// requests that both start and finish inside the measurement window are
// counted; a latency is steady_clock from just before the write to just
// after the response is read.
//
// Invariants and bounds:
//   1. Memory is bounded: latencies go into a fixed-size log-linear
//      histogram (relative bucket error < 1/64), error texts printed are
//      capped at error_messages_max.
//   2. Every request has a deadline (--timeout-ms); a request that fails
//      (connection error, timeout, non-2xx other than 404 on get, bad body)
//      counts one error and is retried, same key, on a fresh connection
//      after a backoff. A client reconnects after errors at most
//      --reconnects-max times, then gives up and the run fails.
//   3. Exit status is 0 only if no client gave up, at least one operation
//      succeeded and errors <= 1% of attempts in the measurement window.
//
// Output: one JSON line on stdout (fields in a fixed order, see
// print_report); diagnostics go to stderr.
#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

// Errors above this fraction of attempts fail the run.
constexpr double error_fraction_max = 0.01;
// Only the first few error texts are printed; the rest are only counted.
constexpr int error_messages_max = 10;
// Backoff before a reconnect: doubles per consecutive failure up to the cap.
constexpr std::chrono::milliseconds reconnect_backoff_min{10};
constexpr std::chrono::milliseconds reconnect_backoff_max{1000};
// A generous cap on response bodies (a range reply holds one key).
constexpr std::uint64_t response_body_bytes_max = 1 << 20;

enum class target_kind { etcd, cairn };
enum class op_kind { put, get };

// Latency histogram with bounded memory. Values below 2^sub_bucket_bits
// nanoseconds are exact; above, each power of two is split into
// sub_bucket_half linear buckets, so a bucket's width is under 1/64 of its
// lower bound.
class latency_histogram {
 public:
  void record(std::uint64_t ns) {
    ++counts_[index_of(ns)];
    ++total_;
    max_ns_ = std::max(max_ns_, ns);
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t max_ns() const { return max_ns_; }

  // The value at quantile q (0 < q <= 1): the middle of the bucket holding
  // the ceil(q * total)-th smallest sample, never above the exact maximum.
  std::uint64_t quantile_ns(double q) const {
    if (total_ == 0) return 0;
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const std::uint64_t lower = lower_bound_of(i);
        // The bucket after the last one would start at 2^64: use the max.
        if (i + 1 == counts_.size()) return max_ns_;
        const std::uint64_t upper = lower_bound_of(i + 1);
        return std::min(lower + (upper - lower) / 2, max_ns_);
      }
    }
    return max_ns_;
  }

 private:
  static constexpr int sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_bucket_half = 1u << (sub_bucket_bits - 1);
  // The largest shift is 63 - (sub_bucket_bits - 1) = 64 - sub_bucket_bits,
  // and its last index is shift * half + (2 * half - 1).
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

std::string base64_encode(std::string_view in) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t(std::uint8_t(in[i])) << 16) |
                            (std::uint32_t(std::uint8_t(in[i + 1])) << 8) |
                            std::uint32_t(std::uint8_t(in[i + 2]));
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t(std::uint8_t(in[i])) << 16;
    if (rest == 2) n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

struct endpoint {
  std::string host_header;  // "host:port", sent as Host
  tcp::endpoint address;
};

// Parses "http://host:port[/...]" (the scheme is optional) and resolves it.
endpoint parse_endpoint(std::string_view text, asio::io_context& io) {
  std::string_view rest = text;
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (rest.starts_with("https://")) throw std::runtime_error("https is not supported");
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == rest.size())
    throw std::runtime_error("endpoint needs host:port: " + std::string(text));
  const std::string host(rest.substr(0, colon));
  const std::string port(rest.substr(colon + 1));
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, port);
  if (results.empty()) throw std::runtime_error("cannot resolve " + std::string(text));
  return endpoint{std::string(rest), results.begin()->endpoint()};
}

struct options {
  target_kind target = target_kind::cairn;
  op_kind op = op_kind::put;
  std::vector<endpoint> endpoints;
  int clients = 1;
  std::size_t value_bytes = 256;
  std::uint64_t keys = 10000;
  std::uint64_t seed = 1;
  double warmup_s = 2;
  double duration_s = 10;
  std::uint64_t requests = 0;  // 0: run for duration_s
  bool prefill = false;
  int timeout_ms = 5000;
  int reconnects_max = 10;
};

enum class phase { prefill, warmup, measure, done };

// State shared by all clients; touched only from the io_context's thread.
struct run_state {
  const options& opts;
  std::mt19937_64 rng;
  std::uniform_int_distribution<std::uint64_t> key_distribution;
  std::string value;             // the value every put writes (printable bytes)
  std::string value_base64;      // the same, for etcd
  std::string etcd_value_field;  // "value":"<b64>", searched for in range replies

  phase current = phase::prefill;
  std::uint64_t prefill_next_key = 0;
  std::uint64_t requests_left = 0;  // budget in --requests mode
  steady::time_point measure_start{};
  steady::time_point measure_end{};
  steady::time_point last_counted_completion{};

  latency_histogram latencies;
  std::uint64_t ops = 0;
  std::uint64_t not_found = 0;
  std::uint64_t errors = 0;        // inside the measurement window
  std::uint64_t other_errors = 0;  // during prefill and warmup
  std::uint64_t reconnects = 0;    // after errors and server-closed connections
  int clients_failed = 0;
  int error_messages_printed = 0;

  explicit run_state(const options& o) : opts(o), rng(o.seed), key_distribution(0, o.keys - 1) {
    std::mt19937_64 value_rng(o.seed ^ 0x9e3779b97f4a7c15ull);
    std::uniform_int_distribution<int> letter(0, 25);
    value.resize(o.value_bytes);
    for (char& c : value) c = static_cast<char>('a' + letter(value_rng));
    value_base64 = base64_encode(value);
    etcd_value_field = "\"value\":\"" + value_base64 + "\"";
  }

  bool counting() const { return current == phase::measure; }

  void note_error(std::string_view what, steady::time_point started) {
    if (counting() && started >= measure_start) {
      ++errors;
    } else {
      ++other_errors;
    }
    if (error_messages_printed < error_messages_max) {
      ++error_messages_printed;
      std::fprintf(stderr, "kv_load: error: %.*s\n", static_cast<int>(what.size()), what.data());
      if (error_messages_printed == error_messages_max)
        std::fprintf(stderr, "kv_load: further errors are counted, not printed\n");
    }
  }
};

std::string key_name(std::uint64_t n) {
  return "k" + std::to_string(n);
}

// One connection and its closed loop of requests. Lives as long as the run;
// all callbacks run on the io_context's single thread.
class client {
 public:
  client(asio::io_context& io, run_state& st, const endpoint& ep)
      : st_(st), ep_(ep), stream_(io), backoff_(io) {
    res_parser_.emplace();
  }

  // Starts the loop; the client stops by itself when its phase has no more
  // work (prefill keys exhausted, measurement over, request budget spent).
  void start() { next(); }

 private:
  struct work {
    std::uint64_t key = 0;
    op_kind op = op_kind::put;
  };

  void next() {
    if (st_.current == phase::done) return;
    if (st_.current == phase::prefill) {
      if (st_.prefill_next_key >= st_.opts.keys) return;
      current_ = work{st_.prefill_next_key++, op_kind::put};
    } else {
      if (st_.opts.requests > 0 && st_.current == phase::measure) {
        if (st_.requests_left == 0) return;
        --st_.requests_left;
      }
      current_ = work{st_.key_distribution(st_.rng), st_.opts.op};
    }
    issue();
  }

  // Sends current_, connecting first if needed. Also the retry path.
  void issue() {
    build_request();
    if (connected_) {
      send();
      return;
    }
    started_ = steady::now();
    stream_.expires_after(std::chrono::milliseconds(st_.opts.timeout_ms));
    stream_.async_connect(ep_.address, [this](beast::error_code ec) {
      if (ec) return fail("connect " + ep_.host_header + ": " + ec.message());
      stream_.socket().set_option(tcp::no_delay(true));
      connected_ = true;
      send();
    });
  }

  void build_request() {
    const std::string key = key_name(current_.key);
    req_ = {};
    req_.version(11);
    req_.keep_alive(true);
    req_.set(http::field::host, ep_.host_header);
    if (st_.opts.target == target_kind::cairn) {
      req_.target("/v1/kv/" + key);
      if (current_.op == op_kind::put) {
        req_.method(http::verb::put);
        req_.set(http::field::content_type, "application/octet-stream");
        req_.body() = st_.value;
      } else {
        req_.method(http::verb::get);
      }
    } else {
      // Base64 has no characters that need escaping in a JSON string.
      req_.method(http::verb::post);
      req_.set(http::field::content_type, "application/json");
      if (current_.op == op_kind::put) {
        req_.target("/v3/kv/put");
        req_.body() =
            "{\"key\":\"" + base64_encode(key) + "\",\"value\":\"" + st_.value_base64 + "\"}";
      } else {
        req_.target("/v3/kv/range");
        req_.body() = "{\"key\":\"" + base64_encode(key) + "\"}";
      }
    }
    req_.prepare_payload();
  }

  void send() {
    started_ = steady::now();
    stream_.expires_after(std::chrono::milliseconds(st_.opts.timeout_ms));
    http::async_write(stream_, req_, [this](beast::error_code ec, std::size_t) {
      if (ec) return fail("write " + ep_.host_header + ": " + ec.message());
      res_parser_.emplace();
      res_parser_->body_limit(response_body_bytes_max);
      http::async_read(stream_, buffer_, *res_parser_, [this](beast::error_code ec, std::size_t) {
        if (ec) return fail("read " + ep_.host_header + ": " + ec.message());
        on_response();
      });
    });
  }

  enum class outcome { ok, not_found, error };

  void on_response() {
    const steady::time_point finished = steady::now();
    const auto& res = res_parser_->get();
    std::string why;
    const outcome o = judge(res, why);
    if (o == outcome::error) return fail(why);
    consecutive_failures_ = 0;
    if (st_.counting() && started_ >= st_.measure_start) {
      st_.latencies.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(finished - started_).count()));
      ++st_.ops;
      if (o == outcome::not_found) ++st_.not_found;
      st_.last_counted_completion = finished;
    }
    if (!res.keep_alive()) {
      // The server chose to close: not an error, but a new connection.
      close();
      ++st_.reconnects;
    }
    next();
  }

  outcome judge(const http::response<http::string_body>& res, std::string& why) const {
    const unsigned status = res.result_int();
    const std::string& body = res.body();
    const bool is_get = current_.op == op_kind::get;
    // Reads are checked against the value --prefill wrote in this run.
    const bool verify = is_get && st_.opts.prefill;
    if (st_.opts.target == target_kind::cairn) {
      if (is_get && status == 404) return outcome::not_found;
      if (status < 200 || status > 299) {
        why = "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
        return outcome::error;
      }
      if (verify && body != st_.value) {
        why = "GET " + key_name(current_.key) + " returned a different value";
        return outcome::error;
      }
      return outcome::ok;
    }
    // etcd's gateway answers errors with {"error": ..., "code": ...}; keys
    // and values are base64, which cannot contain a quote, so a substring
    // test is exact and much cheaper than parsing every reply.
    if (status != 200 || body.empty() || body.front() != '{' ||
        body.find("\"error\"") != std::string::npos) {
      why = "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
      return outcome::error;
    }
    if (is_get) {
      if (body.find("\"kvs\"") == std::string::npos) return outcome::not_found;
      if (verify && body.find(st_.etcd_value_field) == std::string::npos) {
        why = "range " + key_name(current_.key) + " returned a different value";
        return outcome::error;
      }
    }
    return outcome::ok;
  }

  // Counts the error, drops the connection and retries the same work after
  // a backoff, up to reconnects_max times.
  void fail(std::string_view why) {
    st_.note_error(why, started_);
    close();
    if (reconnects_used_ >= st_.opts.reconnects_max) {
      std::fprintf(stderr, "kv_load: a client to %s gave up after %d reconnects\n",
                   ep_.host_header.c_str(), reconnects_used_);
      ++st_.clients_failed;
      return;
    }
    ++reconnects_used_;
    ++st_.reconnects;
    const auto backoff = std::min(
        reconnect_backoff_max, reconnect_backoff_min * (1 << std::min(consecutive_failures_, 10)));
    ++consecutive_failures_;
    backoff_.expires_after(backoff);
    backoff_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      // A retry outside the window it started in is not needed any more.
      if (st_.current == phase::done) return;
      issue();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  run_state& st_;
  const endpoint& ep_;
  beast::tcp_stream stream_;
  asio::steady_timer backoff_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> res_parser_;
  work current_;
  steady::time_point started_{};
  bool connected_ = false;
  int reconnects_used_ = 0;
  int consecutive_failures_ = 0;
};

// Rounds to `decimals` places; dividing by an exact power of ten (rather
// than multiplying by 0.1) keeps the printed number short.
double round_to(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

void print_report(const options& o, const run_state& st) {
  const double duration_s =
      std::chrono::duration<double>(st.measure_end - st.measure_start).count();
  const auto ms = [&](std::uint64_t ns) { return round_to(static_cast<double>(ns) / 1e6, 3); };
  nlohmann::ordered_json j;
  j["target"] = o.target == target_kind::etcd ? "etcd" : "cairn";
  j["op"] = o.op == op_kind::put ? "put" : "get";
  j["clients"] = o.clients;
  j["ops"] = st.ops;
  j["errors"] = st.errors;
  j["duration_s"] = round_to(duration_s, 3);
  j["ops_per_s"] = duration_s > 0 ? round_to(static_cast<double>(st.ops) / duration_s, 1) : 0.0;
  j["p50_ms"] = ms(st.latencies.quantile_ns(0.50));
  j["p90_ms"] = ms(st.latencies.quantile_ns(0.90));
  j["p99_ms"] = ms(st.latencies.quantile_ns(0.99));
  j["max_ms"] = ms(st.latencies.max_ns());
  j["not_found"] = st.not_found;
  j["other_errors"] = st.other_errors;
  j["reconnects"] = st.reconnects;
  j["clients_failed"] = st.clients_failed;
  j["value_bytes"] = o.value_bytes;
  j["keys"] = o.keys;
  j["endpoints"] = o.endpoints.size();
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

int run(options& o, asio::io_context& io) {
  run_state st(o);
  std::vector<std::unique_ptr<client>> clients;
  clients.reserve(static_cast<std::size_t>(o.clients));
  for (int i = 0; i < o.clients; ++i)
    clients.push_back(std::make_unique<client>(
        io, st, o.endpoints[static_cast<std::size_t>(i) % o.endpoints.size()]));

  // Prefill: all clients share the key counter; run() returns when every
  // client has run out of keys (idle connections keep no work pending).
  if (o.prefill) {
    const steady::time_point t0 = steady::now();
    for (auto& c : clients) c->start();
    io.run();
    io.restart();
    if (st.clients_failed > 0) {
      std::fprintf(stderr, "kv_load: prefill failed\n");
      return 1;
    }
    std::fprintf(stderr, "kv_load: prefilled %llu keys in %.2f s\n",
                 static_cast<unsigned long long>(o.keys),
                 std::chrono::duration<double>(steady::now() - t0).count());
  }

  asio::steady_timer phase_timer(io);
  const auto begin_measure = [&] {
    st.current = phase::measure;
    st.measure_start = steady::now();
    st.requests_left = o.requests;
    if (o.requests > 0) return;  // ends when the budget is spent
    phase_timer.expires_after(
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.duration_s)));
    phase_timer.async_wait([&](beast::error_code) {
      st.current = phase::done;
      st.measure_end = steady::now();
    });
  };
  if (o.warmup_s > 0) {
    st.current = phase::warmup;
    phase_timer.expires_after(
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.warmup_s)));
    phase_timer.async_wait([&](beast::error_code) { begin_measure(); });
  } else {
    begin_measure();
  }
  for (auto& c : clients) c->start();
  io.run();
  if (o.requests > 0) {
    st.current = phase::done;
    st.measure_end = st.ops > 0 ? st.last_counted_completion : st.measure_start;
  }
  print_report(o, st);

  const std::uint64_t attempts = st.ops + st.errors;
  const double error_fraction =
      attempts == 0 ? 1.0 : static_cast<double>(st.errors) / static_cast<double>(attempts);
  if (st.clients_failed > 0 || st.ops == 0 || error_fraction > error_fraction_max) {
    std::fprintf(
        stderr,
        "kv_load: FAILED: %llu errors in %llu attempts (limit %.0f%%), %d clients gave up\n",
        static_cast<unsigned long long>(st.errors), static_cast<unsigned long long>(attempts),
        error_fraction_max * 100, st.clients_failed);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kv_load: closed-loop HTTP load for cairn and etcd; prints one JSON line"};
  options o;
  std::string target = "cairn";
  std::string op = "put";
  std::string endpoints_text;
  app.add_option("--target", target, "server protocol")
      ->check(CLI::IsMember({"etcd", "cairn"}))
      ->required();
  app.add_option("--endpoints", endpoints_text,
                 "comma-separated http://host:port list; clients are spread round-robin")
      ->required();
  app.add_option("--op", op, "operation")
      ->check(CLI::IsMember({"put", "get"}))
      ->capture_default_str();
  app.add_option("--clients", o.clients, "concurrent connections, one request each")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--value-bytes", o.value_bytes, "bytes per value")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--keys", o.keys, "key space: k0 .. k<keys-1>, chosen uniformly")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seeds the key choice and the value bytes")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "seconds of load before measuring")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  auto* duration = app.add_option("--duration", o.duration_s, "seconds measured")
                       ->check(CLI::Range(0.001, 86400.0))
                       ->capture_default_str();
  app.add_option("--requests", o.requests, "measure until this many operations succeeded")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->excludes(duration);
  app.add_flag("--prefill", o.prefill,
               "write every key once before the warmup (and verify values read back)");
  app.add_option("--timeout-ms", o.timeout_ms, "deadline per request, connect included")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  app.add_option("--reconnects-max", o.reconnects_max,
                 "reconnects after errors allowed per client before it gives up")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  o.target = target == "etcd" ? target_kind::etcd : target_kind::cairn;
  o.op = op == "get" ? op_kind::get : op_kind::put;
  asio::io_context io(1);
  try {
    std::string_view rest = endpoints_text;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string_view one = rest.substr(0, comma);
      if (!one.empty()) o.endpoints.push_back(parse_endpoint(one, io));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (o.endpoints.empty()) throw std::runtime_error("no endpoints given");
    return run(o, io);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kv_load: %s\n", e.what());
    return 2;
  }
}
