// gateways/s3/objects.cpp — the S3 session's object operations: PUT
// (streamed into chunks or sealed inline), GET/HEAD (conditions, ranges,
// response-* overrides), DELETE, DeleteObjects and CopyObject. Part of the
// S3 gateway (session.h); invariants S3-1..S3-7 in server.h.
#include <spdlog/spdlog.h>

#include "gateways/s3/session.h"

namespace cairn::s3::detail {

// --- chunk_writer ----------------------------------------------------------------------

chunk_writer::chunk_writer(caf::blocking_actor* self, const keys::key_grant& grant,
                           std::shared_ptr<const gateway::device_directory> devices,
                           std::uint64_t chunk_bytes, std::uint64_t dedup_scope)
    : self_(self),
      grant_(grant),
      pipeline_(std::move(devices),
                [&] {
                  gateway::pipeline_options o;
                  o.dedup_scope = dedup_scope;
                  return o;
                }()),
      chunk_bytes_(chunk_bytes) {
  pending_.reserve(std::min<std::uint64_t>(chunk_bytes_, 1 << 20));
}

void chunk_writer::take(std::span<const std::uint8_t> bytes) {
  md5_.update(bytes);
  out_.size += bytes.size();
  while (!bytes.empty()) {
    const auto room = chunk_bytes_ - pending_.size();
    const auto n = std::min<std::uint64_t>(room, bytes.size());
    pending_.insert(pending_.end(), bytes.begin(), bytes.begin() + static_cast<long>(n));
    bytes = bytes.subspan(n);
    if (pending_.size() == chunk_bytes_) flush();
  }
}

void chunk_writer::flush() {
  if (pending_.empty()) return;
  if (!out_.failure) {
    auto r = pipeline_.write(self_, grant_, pending_, out_.size - pending_.size());
    if (auto* ref = std::get_if<shard::chunk_ref>(&r)) {
      out_.chunks.push_back(std::move(*ref));
    } else {
      out_.failure = s3_error::service_unavailable;
      out_.detail = std::get<gateway::pipeline_error>(r).detail;
    }
  }
  pending_.clear();
}

received_body& chunk_writer::finish(bool keep_small, std::uint64_t small_max) {
  out_.md5 = md5_.finish();
  if (keep_small && out_.chunks.empty() && out_.size <= small_max) {
    out_.small = std::move(pending_);
    pending_.clear();
  } else {
    flush();
  }
  return out_;
}

// --- helpers ---------------------------------------------------------------------------

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::map<std::string, std::string> session::user_metadata(const header& req) const {
  std::map<std::string, std::string> out;
  for (const auto& f : req) {
    const auto name = lower(sv(f.name_string()));
    if (name.starts_with("x-amz-meta-")) out[name.substr(11)] = std::string(f.value());
  }
  return out;
}

std::optional<s3_error> session::check_conditions(const header& req, const shard::object_version& v,
                                                  std::string_view prefix) {
  auto field = [&](std::string_view name) {
    return std::string(req[std::string(prefix) + std::string(name)]);
  };
  const auto mtime_s = v.mtime_ns / 1'000'000'000;
  // RFC 7232 §6 as S3 applies it: If-Match decides over
  // If-Unmodified-Since, If-None-Match over If-Modified-Since.
  if (const auto im = field("if-match"); !im.empty()) {
    if (!etag_matches(im, v.etag)) return s3_error::precondition_failed;
  } else if (const auto ius = field("if-unmodified-since"); !ius.empty()) {
    const auto t = parse_condition_date(ius);
    if (t && mtime_s > *t) return s3_error::precondition_failed;
  }
  if (const auto inm = field("if-none-match"); !inm.empty()) {
    if (etag_matches(inm, v.etag)) return s3_error::not_modified;
  } else if (const auto ims = field("if-modified-since"); !ims.empty()) {
    const auto t = parse_condition_date(ims);
    if (t && mtime_s <= *t) return s3_error::not_modified;
  }
  return std::nullopt;
}

// --- bodies ----------------------------------------------------------------------------

std::string session::content_type_of(const header& req) {
  const auto type = req[http::field::content_type];
  return type.empty() ? "binary/octet-stream" : std::string(type);
}

void session::commit_written(const header& req, std::uint64_t shard_id,
                             decltype(shard::ns_command::body) body,
                             std::vector<shard::chunk_ref> written, const std::string& etag,
                             std::vector<std::pair<std::string, std::string>> checksums) {
  if (!commit(req, shard_id, std::move(body))) return orphan(shard_id, std::move(written));
  checksums.emplace_back("ETag", etag);
  send(http::status::ok, {}, req, checksums);
}

void session::orphan(std::uint64_t shard_id, std::vector<shard::chunk_ref> chunks) {
  if (chunks.empty()) return;
  shard::ns_command c;
  c.body = shard::report_orphans_command{std::move(chunks), 0};
  // Best effort: a report that does not arrive leaves chunks that only a
  // device-wide sweep finds (docs/gateways.md).
  propose(shard_id, std::move(c));
}

received_body session::receive_body(request_parser& parser, const keys::key_grant& g,
                                    bool allow_inline, std::uint64_t shard_id) {
  const header& req = parser.get().base();
  // The body: through the aws-chunked decoder or a hash check (S3-2),
  // into chunks of config.chunk_bytes, each written as soon as full (S3-3).
  std::optional<chunked_body_decoder> decoder;
  std::optional<payload_hash_check> hash;
  std::vector<std::string> trailer_checksums;  // computed too, to keep with the object
  if (auth_.chunked)
    for (const auto a : auth_.chunked->trailers) trailer_checksums.emplace_back(trailer_name(a));
  if (auth_.chunked) decoder.emplace(std::move(*auth_.chunked));
  auth_.chunked.reset();
  if (auth_.payload == payload_kind::sha256) hash.emplace(auth_.payload_sha256);
  chunk_writer writer(self_, g, server_.backend.devices(), server_.config.chunk_bytes, shard_id);
  auto& out = writer.body();
  auto auth_failed = [&](const auto& f) {
    if (!f.failed() || out.auth != auth_error::none) return;
    out.failure = s3_error::invalid_request;
    out.detail = f.detail;
    out.auth = f.reason;
  };
  // Flexible checksums sent as headers (CK1): over the decoded body.
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& f : req)
    fields.emplace_back(std::string(sv(f.name_string())), std::string(sv(f.value())));
  auto parsed_checksums = header_checksums::from(fields, trailer_checksums);
  if (auto* problem = std::get_if<std::string>(&parsed_checksums)) {
    out.failure = s3_error::invalid_request;
    out.detail = *problem;
  }
  auto* checksums = std::get_if<header_checksums>(&parsed_checksums);
  auto take = [&](std::span<const std::uint8_t> bytes) {
    if (checksums) checksums->update(bytes);
    writer.take(bytes);
  };
  std::vector<char> buffer(read_buffer_bytes);
  beast::error_code ec;
  while (!parser.is_done()) {
    parser.get().body().data = buffer.data();
    parser.get().body().size = buffer.size();
    http::read(*socket_, buffer_, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      out.failure = s3_error::incomplete_body;
      out.connection_lost = true;
      return std::move(out);
    }
    const std::span<const std::uint8_t> got(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                            buffer.size() - parser.get().body().size);
    if (decoder) {
      auth_failed(decoder->feed(got, take));
    } else {
      if (hash) hash->update(got);
      take(got);
    }
  }
  if (decoder) auth_failed(decoder->finish());
  if (hash) auth_failed(hash->finish());
  writer.finish(allow_inline, server_.config.inline_bytes_max);
  if (checksums && !checksums->empty() && !out.failure) {
    if (const auto bad = checksums->mismatch(); !bad.empty()) {
      out.failure = s3_error::bad_digest;
      out.detail =
          "The " + bad.substr(15) + " you specified did not match the calculated checksum.";
    } else {
      out.checksum_headers = checksums->results();
    }
  }
  if (const std::string content_md5(req["Content-MD5"]); !content_md5.empty() && !out.failure) {
    if (content_md5.size() != 24)
      out.failure = s3_error::invalid_digest;
    else if (base64_of(out.md5) != content_md5)
      out.failure = s3_error::bad_digest;
  }
  return std::move(out);
}

void session::fail_body(const received_body& body, const header& req) {
  if (body.auth != auth_error::none) {
    send(static_cast<http::status>(http_status(body.auth, auth_.method)),
         error_document(s3_error_code(body.auth, auth_.method), body.detail,
                        std::string(req.target()), request_id_),
         req);
    return;
  }
  fail(body.failure.value_or(s3_error::internal_error), req, body.detail);
}

// --- PUT ---------------------------------------------------------------------------------

bool session::put_object(request_parser& parser, const target& t) {
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
  auto body = receive_body(parser, *g, !parsed.marker, b->shard);
  if (body.connection_lost) {
    orphan(b->shard, std::move(body.chunks));
    fail(s3_error::incomplete_body, req);
    return false;
  }
  if (!body.failure && parsed.marker && body.size != 0) {
    body.failure = s3_error::invalid_argument;
    body.detail = "a key ending in / is a directory marker: its body must be empty";
  }
  if (body.failure) {
    orphan(b->shard, std::move(body.chunks));
    fail_body(body, req);
    return true;
  }
  shard::object_version version;
  version.size = body.size;
  version.chunks = std::move(body.chunks);
  if (!parsed.marker && version.chunks.empty())
    version.inline_sealed = gateway::seal_inline(*g, body.small);
  version.etag = "\"" + hex_of(body.md5) + "\"";
  version.content_type = content_type_of(req);
  version.user_metadata = user_metadata(req);
  version.checksums.insert(body.checksum_headers.begin(), body.checksum_headers.end());
  shard::put_object_command cmd;
  cmd.bucket = shard::bucket_id{b->bucket};
  cmd.key = t.key;
  cmd.version = std::move(version);
  cmd.condition = write_condition_of(req);
  auto written = cmd.version.chunks;
  const auto etag = cmd.version.etag;
  commit_written(req, b->shard, std::move(cmd), std::move(written), etag, body.checksum_headers);
  return true;
}

// --- GET / HEAD ----------------------------------------------------------------------------

bool session::stream_version(const shard::object_version& v, std::uint64_t first,
                             std::uint64_t last,
                             const std::function<bool(std::span<const std::uint8_t>)>& out) {
  auto send_bytes = [&](std::span<const std::uint8_t> plain, std::uint64_t at) {
    const auto from = std::max(first, at), to = std::min(last + 1, at + plain.size());
    if (from >= to) return true;
    return out(plain.subspan(from - at, to - from));
  };
  if (!v.inline_sealed.empty()) {
    const auto epoch = gateway::inline_epoch(v.inline_sealed);
    const auto g = epoch ? grant(*epoch) : nullptr;
    const auto plain = g ? gateway::open_inline(*g, v.inline_sealed) : std::nullopt;
    return plain && send_bytes(*plain, 0);
  }
  // Chunk n + 1 is asked for before chunk n is sent: the devices read
  // while the socket drains (two chunks in memory at most, S3-3).
  gateway::chunk_pipeline pipeline(server_.backend.devices(), gateway::pipeline_options{});
  std::vector<const shard::chunk_ref*> wanted;
  for (const auto& ref : v.chunks)
    if (ref.offset + ref.length > first && ref.offset <= last) wanted.push_back(&ref);
  auto start = [&](std::size_t i) -> gateway::chunk_pipeline::pending_read_ptr {
    if (i >= wanted.size()) return nullptr;
    const auto g = grant(wanted[i]->key_epoch);
    if (!g) return nullptr;
    return pipeline.start_read(self_, *g, *wanted[i]);
  };
  // A file written through NFS may be sparse: where no chunk is, the
  // object reads as zeros.
  std::uint64_t sent_to = first;  // everything before this is sent
  auto send_zeros = [&](std::uint64_t until) {
    static const std::vector<std::uint8_t> zeros(64 * 1024, 0);
    while (sent_to < until) {
      const auto n = std::min<std::uint64_t>(zeros.size(), until - sent_to);
      if (!out(std::span<const std::uint8_t>(zeros).first(n))) return false;
      sent_to += n;
    }
    return true;
  };
  auto next = start(0);
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    auto current = std::move(next);
    if (!current) return false;  // no grant for its key epoch
    next = start(i + 1);
    auto r = pipeline.finish_read(self_, *current);
    auto* plain = std::get_if<std::vector<std::uint8_t>>(&r);
    if (!plain || plain->size() < wanted[i]->length) {
      spdlog::error(
          "s3: chunk at offset {} unreadable: {}", wanted[i]->offset,
          plain ? "shorter than its reference" : std::get<gateway::pipeline_error>(r).detail);
      return false;
    }
    if (!send_zeros(std::min(wanted[i]->offset, last + 1))) return false;
    const std::span<const std::uint8_t> used(plain->data(), wanted[i]->length);
    if (!send_bytes(used, wanted[i]->offset)) return false;
    sent_to = std::max(sent_to, std::min(last + 1, wanted[i]->offset + wanted[i]->length));
  }
  return send_zeros(last + 1);
}

void session::get_object(const header& req, const target& t) {
  if (t.has("partNumber"))
    return fail(s3_error::not_implemented, req, "GET of one part is not implemented");
  if (t.has("versionId") && t.get("versionId") != "null")
    return fail(s3_error::no_such_version, req);
  auto b = own_bucket(req, t.bucket);
  if (!b) return;
  std::optional<shard::object_version> found;
  bool bucket_gone = false;
  const bool served = read(b->shard, [&](const shard::namespace_state& ns) {
    const shard::object_version* v = nullptr;
    bucket_gone = !ns.has_bucket(shard::bucket_id{b->bucket});
    if (ns.head(shard::bucket_id{b->bucket}, t.key, &v) == shard::ns_status::ok) found = *v;
  });
  if (!served) return fail(s3_error::service_unavailable, req);
  if (bucket_gone) return forget_bucket(t.bucket), fail(s3_error::no_such_bucket, req);
  if (!found) return fail(s3_error::no_such_key, req);
  const auto& v = *found;
  if (const auto e = check_conditions(req, v, "")) {
    if (*e == s3_error::not_modified)
      return send(http::status::not_modified, {}, req,
                  {{"ETag", v.etag}, {"Last-Modified", http_date(v.mtime_ns)}});
    return fail(*e, req);
  }
  std::uint64_t first = 0, last = v.size ? v.size - 1 : 0;
  bool ranged = false;
  if (const std::string range(req[http::field::range]); !range.empty()) {
    const auto r = parse_range(range, v.size);
    if (!r) return fail(s3_error::invalid_range, req);
    std::tie(first, last) = *r;
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
  // Checksums of the whole object, when asked for (not for a range).
  if (!ranged && beast::iequals(req["x-amz-checksum-mode"], "ENABLED"))
    for (const auto& [name, value] : v.checksums) res.set(name, value);
  if (ranged)
    res.set(http::field::content_range, "bytes " + std::to_string(first) + "-" +
                                            std::to_string(last) + "/" + std::to_string(v.size));
  res.content_length(length);
  res.keep_alive(keep_alive_);
  beast::error_code ec;
  http::response_serializer<http::empty_body> sr{res};
  http::write_header(*socket_, sr, ec);
  if (ec || req.method() == http::verb::head || length == 0) return;
  // The body, chunk by chunk (S3-3). A chunk that cannot be read cuts the
  // body: the client sees a short body, never wrong bytes.
  const bool complete = stream_version(v, first, last, [&](std::span<const std::uint8_t> bytes) {
    asio::write(*socket_, asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  });
  if (!complete) {
    if (!ec) spdlog::error("s3: {} {}: body cut short", t.bucket, t.key);
    keep_alive_ = false;
    socket_->close(ec);
  }
}

// --- DELETE ------------------------------------------------------------------------------

void session::delete_object(const header& req, const target& t) {
  if (t.has("versionId") && t.get("versionId") != "null")
    return fail(s3_error::no_such_version, req);
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

bool session::delete_objects(request_parser& parser, const target& t) {
  const header& req = parser.get().base();
  const auto body = small_body(parser);
  if (!body) {
    fail(s3_error::malformed_xml, req);
    return false;
  }
  if (const std::string content_md5(req["Content-MD5"]); !content_md5.empty()) {
    md5_stream md5;
    md5.update(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(body->data()),
                                             body->size()));
    if (base64_of(md5.finish()) != content_md5) {
      fail(s3_error::bad_digest, req);
      return true;
    }
  }
  auto b = own_bucket(req, t.bucket);
  if (!b) return true;
  const auto parsed = parse_delete(*body);
  if (const auto* e = std::get_if<s3_error>(&parsed)) {
    fail(*e, req);
    return true;
  }
  const auto& request = std::get<delete_request>(parsed);
  std::vector<delete_outcome> outcomes;
  for (const auto& key : request.keys) {
    shard::delete_object_command cmd;
    cmd.bucket = shard::bucket_id{b->bucket};
    cmd.key = key;
    shard::ns_command c;
    c.body = std::move(cmd);
    const auto r = propose(b->shard, std::move(c));
    delete_outcome o{key, std::nullopt};
    if (!r) o.error = s3_error::service_unavailable;
    outcomes.push_back(std::move(o));
  }
  send(http::status::ok, delete_result(outcomes, request.quiet), req);
  return true;
}

// --- CopyObject ----------------------------------------------------------------------------

std::optional<session::copied> session::read_copy_source(const header& req) {
  const auto source = parse_copy_source(sv(req["x-amz-copy-source"]));
  if (!source) {
    fail(s3_error::invalid_argument, req,
         "x-amz-copy-source must be bucket/key (URL-encoded), optionally ?versionId=null");
    return std::nullopt;
  }
  auto bucket = own_bucket(req, source->bucket);
  if (!bucket) return std::nullopt;
  std::optional<shard::object_version> found;
  const bool served = read(bucket->shard, [&](const shard::namespace_state& ns) {
    const shard::object_version* v = nullptr;
    if (ns.head(shard::bucket_id{bucket->bucket}, source->key, &v) == shard::ns_status::ok)
      found = *v;
  });
  if (!served) {
    fail(s3_error::service_unavailable, req);
    return std::nullopt;
  }
  if (!found) {
    fail(s3_error::no_such_key, req);
    return std::nullopt;
  }
  if (check_conditions(req, *found, "x-amz-copy-source-")) {
    fail(s3_error::precondition_failed, req);  // a copy answers 412 for all four
    return std::nullopt;
  }
  return copied{*source, *bucket, std::move(*found)};
}

std::optional<shard::object_version> session::copy_bytes(const header& req, const copied& from,
                                                         const runtime::bucket_entry& to,
                                                         std::uint64_t first, std::uint64_t last,
                                                         bool as_part) {
  const auto& v = from.version;
  const bool whole = first == 0 && (v.size == 0 || last + 1 == v.size);
  if (whole && v.inline_sealed.empty() && from.bucket.shard == to.shard) {
    // Same shard: reuse the chunks (the command carries chunks_referenced,
    // NS7).
    return v;
  }
  if (whole && !v.inline_sealed.empty() && !as_part) {
    return v;  // an inline object's sealed bytes are self-contained
  }
  // Another shard, or a part of the object: write the bytes again (the
  // chunk ids come out equal, so the devices keep one copy).
  const auto g = grant(0);
  if (!g) {
    fail(s3_error::service_unavailable, req);
    return std::nullopt;
  }
  chunk_writer writer(self_, *g, server_.backend.devices(), server_.config.chunk_bytes, to.shard);
  const bool read_all =
      v.size == 0 || stream_version(v, first, last, [&](std::span<const std::uint8_t> bytes) {
        writer.take(bytes);
        return !writer.body().failure;
      });
  const bool keep_small = whole && !as_part;
  auto& body = writer.finish(keep_small, server_.config.inline_bytes_max);
  if (!read_all || body.failure) {
    orphan(to.shard, std::move(body.chunks));
    fail(s3_error::service_unavailable, req, read_all ? body.detail : "the source is unreadable");
    return std::nullopt;
  }
  shard::object_version out;
  out.size = body.size;
  out.chunks = std::move(body.chunks);
  if (keep_small && out.chunks.empty()) out.inline_sealed = gateway::seal_inline(*g, body.small);
  out.etag = whole && !as_part ? v.etag : "\"" + hex_of(body.md5) + "\"";
  out.content_type = v.content_type;
  out.user_metadata = v.user_metadata;
  if (whole) out.checksums = v.checksums;
  return out;
}

void session::copy_object(const header& req, const target& t) {
  auto dest = own_bucket(req, t.bucket);
  if (!dest) return;
  if (t.key.size() > shard::key_bytes_max) return fail(s3_error::key_too_long, req);
  const auto directive = std::string(req["x-amz-metadata-directive"]);
  if (!directive.empty() && directive != "COPY" && directive != "REPLACE")
    return fail(s3_error::invalid_argument, req, "Unknown metadata directive (COPY or REPLACE).");
  const bool replace = directive == "REPLACE";
  // Twice at most: a source replaced between our read and our command
  // (source_changed, NS7) is read again once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto from = read_copy_source(req);
    if (!from) return;
    if (from->bucket.bucket == dest->bucket && from->source.key == t.key && !replace)
      return fail(s3_error::invalid_request, req,
                  "This copy request is illegal because it is trying to copy an object to "
                  "itself without changing the object's metadata, storage class, website "
                  "redirect location or encryption attributes.");
    const auto size = from->version.size;
    auto version = copy_bytes(req, *from, *dest, 0, size ? size - 1 : 0, false);
    if (!version) return;
    if (replace) {
      version->content_type = content_type_of(req);
      version->user_metadata = user_metadata(req);
    }
    shard::put_object_command cmd;
    cmd.bucket = shard::bucket_id{dest->bucket};
    cmd.key = t.key;
    cmd.version = std::move(*version);
    cmd.condition = write_condition_of(req);
    // Reused chunks (not written again) must still be referenced (NS7).
    cmd.condition.chunks_referenced =
        !cmd.version.chunks.empty() && cmd.version.chunks == from->version.chunks;
    const auto etag = cmd.version.etag;
    const auto now = server_.backend.clock();
    const bool rewritten = !cmd.condition.chunks_referenced;
    auto written = rewritten ? cmd.version.chunks : std::vector<shard::chunk_ref>{};
    const auto r = commit(req, dest->shard, std::move(cmd), shard::ns_status::source_changed);
    if (!r) return orphan(dest->shard, std::move(written));
    if (r->status == shard::ns_status::source_changed) continue;
    return send(http::status::ok, copy_result(false, etag, now), req);
  }
  fail(s3_error::service_unavailable, req, "the copy source changed during the copy; try again");
}

}  // namespace cairn::s3::detail
