// gateways/s3/request.cpp — see request.h.
#include "gateways/s3/request.h"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace cairn::s3 {

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

std::optional<std::int64_t> parse_condition_date(std::string_view text) {
  const std::string s(text);
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %e %H:%M:%S %Y", "%Y-%m-%dT%H:%M:%S"}) {
    std::tm tm{};
    const char* end = strptime(s.c_str(), format, &tm);
    if (!end) continue;
    // ISO 8601 may carry fractional seconds and a 'Z'; the others end here.
    std::string_view rest(end);
    if (std::string_view(format).starts_with("%Y")) {
      if (rest.starts_with('.')) {
        const auto digits_end = rest.find_first_not_of("0123456789", 1);
        rest = digits_end == std::string_view::npos ? std::string_view() : rest.substr(digits_end);
      }
      if (rest == "Z") rest = {};
    }
    if (!rest.empty()) continue;
    return static_cast<std::int64_t>(timegm(&tm));
  }
  return std::nullopt;
}

std::optional<target> parse_target(std::string_view raw, std::string_view host_bucket) {
  target t;
  const auto q = raw.find('?');
  const auto path = percent_decode(raw.substr(0, q), false);
  if (!path || path->empty() || path->front() != '/') return std::nullopt;
  if (!host_bucket.empty()) {
    t.bucket = std::string(host_bucket);
    t.key = path->substr(1);
  } else {
    const auto slash = path->find('/', 1);
    t.bucket = path->substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    if (slash != std::string::npos) t.key = path->substr(slash + 1);
  }
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

std::optional<std::uint64_t> parse_count(const target& t, const std::string& name,
                                         std::uint64_t absent, std::uint64_t cap) {
  if (!t.has(name)) return absent;
  const auto text = t.get(name);
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::min<std::uint64_t>(std::stoull(text), cap);
}

std::string host_bucket(std::string_view host, std::string_view base_domain) {
  if (base_domain.empty()) return {};
  if (const auto colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']') == std::string_view::npos)
    host = host.substr(0, colon);
  if (host.size() <= base_domain.size() + 1 || !host.ends_with(base_domain) ||
      host[host.size() - base_domain.size() - 1] != '.')
    return {};
  std::string bucket(host.substr(0, host.size() - base_domain.size() - 1));
  std::transform(bucket.begin(), bucket.end(), bucket.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return bucket;
}

std::string_view unquoted(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return etag;
}

/// If-Match / If-None-Match: "*" or a comma-separated list of ETags.
bool etag_matches(std::string_view list, std::string_view etag) {
  const auto want = unquoted(etag);
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "*" || unquoted(item) == want) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

/// Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against an object of
/// `size` bytes (one range: S3 serves no multipart/byteranges).
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view range,
                                                                   std::uint64_t size) {
  const auto dash = range.find('-');
  if (!range.starts_with("bytes=") || dash == std::string_view::npos ||
      range.find(',') != std::string_view::npos || size == 0)
    return std::nullopt;
  const auto lo = range.substr(6, dash - 6), hi = range.substr(dash + 1);
  auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    return std::stoull(std::string(s));
  };
  if (lo.empty()) {
    const auto n = number(hi);
    if (!n || *n == 0) return std::nullopt;
    return std::pair{size > *n ? size - *n : 0, size - 1};
  }
  const auto a = number(lo);
  if (!a || *a >= size) return std::nullopt;
  if (hi.empty()) return std::pair{*a, size - 1};
  const auto z = number(hi);
  if (!z || *z < *a) return std::nullopt;
  return std::pair{*a, std::min(*z, size - 1)};
}

std::optional<copy_source> parse_copy_source(std::string_view header) {
  const auto q = header.find('?');
  auto path = percent_decode(header.substr(0, q), false);
  if (!path) return std::nullopt;
  std::string_view p(*path);
  if (p.starts_with('/')) p.remove_prefix(1);
  const auto slash = p.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == p.size()) return std::nullopt;
  if (q != std::string_view::npos) {
    // Only the one version every object has.
    const auto query = header.substr(q + 1);
    if (query != "versionId=null") return std::nullopt;
  }
  return copy_source{std::string(p.substr(0, slash)), std::string(p.substr(slash + 1))};
}

}  // namespace cairn::s3
