// gateways/s3/multipart.cpp — the S3 session's multipart uploads:
// CreateMultipartUpload, UploadPart (streamed into chunks), UploadPartCopy,
// CompleteMultipartUpload (ETag md5-of-md5s-N), AbortMultipartUpload,
// ListParts and ListMultipartUploads. Parts hold chunk references in the
// namespace until the upload completes or is aborted (NS4). Part of the S3
// gateway (session.h); invariants S3-1..S3-7 in server.h.
#include <openssl/rand.h>

#include "gateways/s3/session.h"

namespace cairn::s3::detail {

namespace {

/// A part's ETag as the 16 bytes the multipart ETag hashes: its MD5 when
/// it is one (32 hex digits), else the MD5 of its text (a part copied from
/// a multipart object carries that object's "md5-N" ETag).
std::array<std::uint8_t, 16> etag_bytes(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  std::array<std::uint8_t, 16> out{};
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  bool hex = etag.size() == 32;
  for (std::size_t i = 0; hex && i < 16; ++i) {
    const int hi = nibble(etag[2 * i]), lo = nibble(etag[2 * i + 1]);
    if (hi < 0 || lo < 0)
      hex = false;
    else
      out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  if (hex) return out;
  md5_stream md5;
  md5.update(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(etag.data()),
                                           etag.size()));
  return md5.finish();
}

}  // namespace

std::optional<std::uint32_t> session::part_number(const header& req, const target& t) {
  const auto text = t.get("partNumber");
  if (!text.empty() && text.size() <= 5 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    const auto n = std::stoul(text);
    if (n >= 1 && n <= shard::part_number_max) return static_cast<std::uint32_t>(n);
  }
  fail(s3_error::invalid_argument, req,
       "Part number must be an integer between 1 and 10000, inclusive");
  return std::nullopt;
}

std::optional<runtime::bucket_entry> session::upload_bucket(const header& req, const target& t,
                                                            shard::multipart_upload* copy) {
  auto b = own_bucket(req, t.bucket);
  if (!b) return std::nullopt;
  const auto id = t.get("uploadId");
  bool found = false;
  const bool served = read(b->shard, [&](const shard::namespace_state& ns) {
    const auto* u = ns.upload(shard::bucket_id{b->bucket}, id);
    if (!u || u->key != t.key) return;
    found = true;
    if (copy) *copy = *u;
  });
  if (!served) {
    fail(s3_error::service_unavailable, req);
    return std::nullopt;
  }
  if (!found) {
    fail(s3_error::no_such_upload, req);
    return std::nullopt;
  }
  return b;
}

void session::create_upload(const header& req, const target& t) {
  auto b = own_bucket(req, t.bucket);
  if (!b) return;
  if (t.key.size() > shard::key_bytes_max) return fail(s3_error::key_too_long, req);
  shard::parsed_key parsed;
  if (const auto p = shard::parse_key(t.key, parsed); p != shard::key_problem::none)
    return fail(s3_error::invalid_argument, req, std::string(shard::to_string(p)));
  if (parsed.marker)
    return fail(s3_error::invalid_argument, req,
                "a key ending in / is a directory marker: it cannot be uploaded in parts");
  std::array<std::uint8_t, 16> random{};
  RAND_bytes(random.data(), static_cast<int>(random.size()));
  shard::create_upload_command cmd;
  cmd.bucket = shard::bucket_id{b->bucket};
  cmd.key = t.key;
  cmd.upload_id = hex_of(random);
  cmd.content_type = content_type_of(req);
  cmd.user_metadata = user_metadata(req);
  const auto id = cmd.upload_id;
  if (!commit(req, b->shard, std::move(cmd))) return;
  send(http::status::ok, initiate_multipart(t.bucket, t.key, id), req);
}

bool session::upload_part(request_parser& parser, const target& t) {
  const header& req = parser.get().base();
  const auto number = part_number(req, t);
  if (!number) return drain(parser);
  // The upload must exist before any chunk is written for it.
  const auto b = upload_bucket(req, t);
  if (!b) return drain(parser);
  const auto g = grant(0);
  if (!g) {
    fail(s3_error::service_unavailable, req);
    return drain(parser);
  }
  auto body = receive_body(parser, *g, false, b->shard);
  if (body.connection_lost) {
    orphan(b->shard, std::move(body.chunks));
    fail(s3_error::incomplete_body, req);
    return false;
  }
  if (body.failure) {
    orphan(b->shard, std::move(body.chunks));
    fail_body(body, req);
    return true;
  }
  shard::upload_part_command cmd;
  cmd.bucket = shard::bucket_id{b->bucket};
  cmd.upload_id = t.get("uploadId");
  cmd.part_number = *number;
  cmd.part.etag = "\"" + hex_of(body.md5) + "\"";
  cmd.part.size = body.size;
  cmd.part.chunks = std::move(body.chunks);
  auto written = cmd.part.chunks;
  const auto etag = cmd.part.etag;
  commit_written(req, b->shard, std::move(cmd), std::move(written), etag, body.checksum_headers);
  return true;
}

void session::upload_part_copy(const header& req, const target& t) {
  const auto number = part_number(req, t);
  if (!number) return;
  const auto b = upload_bucket(req, t);
  if (!b) return;
  for (int attempt = 0; attempt < 2; ++attempt) {  // as copy_object: NS7
    auto from = read_copy_source(req);
    if (!from) return;
    const auto size = from->version.size;
    std::uint64_t first = 0, last = size ? size - 1 : 0;
    if (const std::string range(req["x-amz-copy-source-range"]); !range.empty()) {
      // bytes=first-last, both given and inside the source.
      const auto dash = range.find('-');
      std::uint64_t a = 0, z = 0;
      bool ok = range.starts_with("bytes=") && dash != std::string::npos && dash > 6 &&
                dash + 1 < range.size() && range.find_first_not_of("0123456789", 6) == dash &&
                range.find_first_not_of("0123456789", dash + 1) == std::string::npos &&
                dash - 6 <= 19 && range.size() - dash - 1 <= 19;
      if (ok) {
        a = std::stoull(range.substr(6, dash - 6));
        z = std::stoull(range.substr(dash + 1));
        ok = a <= z;
      }
      if (!ok)
        return fail(s3_error::invalid_argument, req,
                    "The x-amz-copy-source-range value must be of the form bytes=first-last "
                    "where first and last are the zero-based offsets of the first and last "
                    "bytes to copy");
      if (z >= size) return fail(s3_error::invalid_range, req);
      first = a;
      last = z;
    }
    auto version = copy_bytes(req, *from, *b, first, last, true);
    if (!version) return;
    shard::upload_part_command cmd;
    cmd.bucket = shard::bucket_id{b->bucket};
    cmd.upload_id = t.get("uploadId");
    cmd.part_number = *number;
    cmd.part.etag = version->etag;
    cmd.part.size = version->size;
    cmd.part.chunks = std::move(version->chunks);
    // Reused chunks (not written again) must still be referenced (NS7).
    cmd.chunks_referenced = !cmd.part.chunks.empty() && cmd.part.chunks == from->version.chunks;
    const auto etag = cmd.part.etag;
    const auto now = server_.backend.clock();
    auto written = cmd.chunks_referenced ? std::vector<shard::chunk_ref>{} : cmd.part.chunks;
    const auto r = commit(req, b->shard, std::move(cmd), shard::ns_status::source_changed);
    if (!r) return orphan(b->shard, std::move(written));
    if (r->status == shard::ns_status::source_changed) continue;
    return send(http::status::ok, copy_result(true, etag, now), req);
  }
  fail(s3_error::service_unavailable, req, "the copy source changed during the copy; try again");
}

bool session::complete_upload(request_parser& parser, const target& t) {
  const header& req = parser.get().base();
  const auto body = small_body(parser);
  if (!body) {
    fail(s3_error::malformed_xml, req);
    return false;
  }
  const auto b = upload_bucket(req, t);
  if (!b) return true;
  const auto parsed = parse_complete(*body);
  if (const auto* e = std::get_if<s3_error>(&parsed)) {
    fail(*e, req);
    return true;
  }
  const auto& parts = std::get<std::vector<std::pair<std::uint32_t, std::string>>>(parsed);
  // The ETag: MD5 of the parts' MD5s, then "-N" (S3's convention).
  md5_stream md5;
  for (const auto& [number, etag] : parts) md5.update(etag_bytes(etag));
  shard::complete_upload_command cmd;
  cmd.bucket = shard::bucket_id{b->bucket};
  cmd.upload_id = t.get("uploadId");
  cmd.parts = parts;
  cmd.etag = "\"" + hex_of(md5.finish()) + "-" + std::to_string(parts.size()) + "\"";
  cmd.condition = write_condition_of(req);
  const auto etag = cmd.etag;
  if (!commit(req, b->shard, std::move(cmd))) return true;
  const std::string host(req[http::field::host]);
  send(http::status::ok,
       complete_multipart("http://" + host + "/" + t.bucket + "/" + url_encode_key(t.key), t.bucket,
                          t.key, etag),
       req);
  return true;
}

void session::abort_upload(const header& req, const target& t) {
  const auto b = upload_bucket(req, t);
  if (!b) return;
  if (!commit(req, b->shard,
              shard::abort_upload_command{shard::bucket_id{b->bucket}, t.get("uploadId")}))
    return;
  send(http::status::no_content, {}, req);
}

void session::list_parts(const header& req, const target& t) {
  list_parts_result out;
  shard::multipart_upload upload;
  const auto b = upload_bucket(req, t, &upload);
  if (!b) return;
  out.bucket = t.bucket;
  out.key = t.key;
  out.upload_id = upload.id;
  out.o = owner_();
  const auto marker = parse_count(t, "part-number-marker", 0, 0xffffffffu);
  const auto max = parse_count(t, "max-parts", 1000, 1000);
  if (!marker || !max)
    return fail(s3_error::invalid_argument, req,
                "part-number-marker and max-parts must be numbers");
  out.part_number_marker = static_cast<std::uint32_t>(*marker);
  out.max_parts = *max;
  for (auto it = upload.parts.upper_bound(out.part_number_marker); it != upload.parts.end(); ++it) {
    if (out.parts.size() == out.max_parts) {
      out.truncated = true;
      break;
    }
    out.parts.push_back({it->first, it->second.uploaded_ns, it->second.etag, it->second.size});
    out.next_part_number_marker = it->first;
  }
  send(http::status::ok, s3::list_parts(out), req);
}

void session::list_uploads(const header& req, const target& t) {
  auto b = own_bucket(req, t.bucket);
  if (!b) return;
  list_uploads_result out;
  out.bucket = t.bucket;
  out.prefix = t.get("prefix");
  out.delimiter = t.get("delimiter");
  out.key_marker = t.get("key-marker");
  out.upload_id_marker = t.get("upload-id-marker");
  out.url_encoded = t.get("encoding-type") == "url";
  out.o = owner_();
  if (t.has("encoding-type") && !out.url_encoded)
    return fail(s3_error::invalid_argument, req, "encoding-type must be url");
  const auto max_uploads = parse_count(t, "max-uploads", 1000, 1000);
  if (!max_uploads) return fail(s3_error::invalid_argument, req, "max-uploads must be a number");
  out.max_uploads = *max_uploads;
  // Without an upload-id marker, the key marker skips every upload of that key.
  const std::string id_marker =
      out.upload_id_marker.empty() ? std::string(1, '\x7f') : out.upload_id_marker;
  const bool served = read(b->shard, [&](const shard::namespace_state& ns) {
    const auto all = ns.uploads(shard::bucket_id{b->bucket}, out.key_marker, id_marker,
                                shard::uploads_per_bucket_max);
    std::string last_prefix;
    for (const auto* u : all) {
      if (!u->key.starts_with(out.prefix)) continue;
      // A key marker that is a common prefix (the last page ended on it)
      // covers every key under it.
      if (!out.delimiter.empty() && out.key_marker.ends_with(out.delimiter) &&
          u->key.starts_with(out.key_marker))
        continue;
      std::string common;
      if (!out.delimiter.empty()) {
        const auto at = u->key.find(out.delimiter, out.prefix.size());
        if (at != std::string::npos) common = u->key.substr(0, at + out.delimiter.size());
      }
      if (!common.empty() && common == last_prefix) continue;
      if (out.uploads.size() + out.common_prefixes.size() == out.max_uploads) {
        out.truncated = true;
        break;
      }
      if (!common.empty()) {
        out.common_prefixes.push_back(common);
        last_prefix = common;
        out.next_key_marker = common;
        out.next_upload_id_marker.clear();
      } else {
        out.uploads.push_back({u->key, u->id, u->initiated_ns});
        out.next_key_marker = u->key;
        out.next_upload_id_marker = u->id;
      }
    }
  });
  if (!served) return fail(s3_error::service_unavailable, req);
  send(http::status::ok, s3::list_uploads(out), req);
}

}  // namespace cairn::s3::detail
