// gateways/s3/xml.cpp — see xml.h.
#include "gateways/s3/xml.h"

#include <ctime>
#include <sstream>

namespace cairn::s3 {
namespace {

/// XML 1.0 characters only (SX1): C0 controls other than tab, newline and
/// carriage return become '?'. Bytes of multi-byte UTF-8 pass unchanged.
std::string xml_safe(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && u != '\t' && u != '\n' && u != '\r') c = '?';
  }
  return out;
}

pugi::xml_node root(pugi::xml_document& doc, const char* name) {
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto r = doc.append_child(name);
  r.append_attribute("xmlns") = std::string(xmlns).c_str();
  return r;
}

std::string key_text(std::string_view key, bool url_encoded) {
  return url_encoded ? url_encode_key(key) : std::string(key);
}

void add_owner(pugi::xml_node parent, const owner& o) {
  auto n = parent.append_child("Owner");
  add_text(n, "ID", o.id);
  add_text(n, "DisplayName", o.display_name);
}

const char* boolean(bool b) {
  return b ? "true" : "false";
}

void add_prefixes(pugi::xml_node r, const std::vector<std::string>& prefixes, bool url_encoded) {
  for (const auto& p : prefixes)
    add_text(r.append_child("CommonPrefixes"), "Prefix", key_text(p, url_encoded));
}

/// The body parsed as XML, or MalformedXML (SX2).
std::optional<pugi::xml_document> parse(std::string_view body) {
  if (body.empty() || body.size() > body_bytes_max) return std::nullopt;
  std::optional<pugi::xml_document> doc(std::in_place);
  const auto result =
      doc->load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!result) return std::nullopt;
  return doc;
}

/// The first child element whose local name (namespace prefix ignored) is
/// `name`.
pugi::xml_node child(pugi::xml_node parent, std::string_view name) {
  for (auto c : parent.children()) {
    if (c.type() != pugi::node_element) continue;
    std::string_view n = c.name();
    if (const auto colon = n.find(':'); colon != std::string_view::npos) n = n.substr(colon + 1);
    if (n == name) return c;
  }
  return {};
}

std::string_view local_name(pugi::xml_node n) {
  std::string_view s = n.name();
  if (const auto colon = s.find(':'); colon != std::string_view::npos) s = s.substr(colon + 1);
  return s;
}

}  // namespace

pugi::xml_node add_text(pugi::xml_node parent, const char* name, std::string_view text) {
  auto n = parent.append_child(name);
  n.append_child(pugi::node_pcdata).set_value(xml_safe(text).c_str());
  return n;
}

std::string to_string(const pugi::xml_document& doc) {
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw, pugi::encoding_utf8);
  return out.str();
}

std::string iso8601(std::int64_t unix_ns) {
  const std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  const int ms = static_cast<int>((unix_ns / 1'000'000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms < 0 ? 0 : ms);
  return buf;
}

std::string http_date(std::int64_t unix_ns) {
  const std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string url_encode_key(std::string_view key) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_' || u == '.' || u == '~' || u == '/') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

std::string list_buckets(const std::vector<bucket_entry>& buckets, const owner& o) {
  pugi::xml_document doc;
  auto r = root(doc, "ListAllMyBucketsResult");
  add_owner(r, o);
  auto list = r.append_child("Buckets");
  for (const auto& b : buckets) {
    auto n = list.append_child("Bucket");
    add_text(n, "Name", b.name);
    add_text(n, "CreationDate", iso8601(b.created_ns));
  }
  return to_string(doc);
}

std::string list_objects(const list_objects_result& l) {
  pugi::xml_document doc;
  auto r = root(doc, "ListBucketResult");
  add_text(r, "Name", l.bucket);
  add_text(r, "Prefix", key_text(l.prefix, l.url_encoded));
  if (l.version == 1) {
    add_text(r, "Marker", key_text(l.marker, l.url_encoded));
    if (l.truncated && !l.next_marker.empty())
      add_text(r, "NextMarker", key_text(l.next_marker, l.url_encoded));
  } else {
    if (!l.start_after.empty()) add_text(r, "StartAfter", key_text(l.start_after, l.url_encoded));
    if (!l.continuation_token.empty()) add_text(r, "ContinuationToken", l.continuation_token);
    if (l.truncated) add_text(r, "NextContinuationToken", l.next_continuation_token);
    add_text(r, "KeyCount", std::to_string(l.objects.size() + l.common_prefixes.size()));
  }
  add_text(r, "MaxKeys", std::to_string(l.max_keys));
  if (!l.delimiter.empty()) add_text(r, "Delimiter", key_text(l.delimiter, l.url_encoded));
  add_text(r, "IsTruncated", boolean(l.truncated));
  if (l.url_encoded) add_text(r, "EncodingType", "url");
  for (const auto& o : l.objects) {
    auto n = r.append_child("Contents");
    add_text(n, "Key", key_text(o.key, l.url_encoded));
    add_text(n, "LastModified", iso8601(o.mtime_ns));
    add_text(n, "ETag", o.etag);
    add_text(n, "Size", std::to_string(o.size));
    if (l.fetch_owner) add_owner(n, *l.fetch_owner);
    add_text(n, "StorageClass", "STANDARD");
  }
  add_prefixes(r, l.common_prefixes, l.url_encoded);
  return to_string(doc);
}

std::string list_versions(const list_versions_result& l) {
  pugi::xml_document doc;
  auto r = root(doc, "ListVersionsResult");
  add_text(r, "Name", l.bucket);
  add_text(r, "Prefix", key_text(l.prefix, l.url_encoded));
  add_text(r, "KeyMarker", key_text(l.key_marker, l.url_encoded));
  add_text(r, "VersionIdMarker", l.version_id_marker);
  if (l.truncated) {
    add_text(r, "NextKeyMarker", key_text(l.next_key_marker, l.url_encoded));
    add_text(r, "NextVersionIdMarker", "null");
  }
  add_text(r, "MaxKeys", std::to_string(l.max_keys));
  if (!l.delimiter.empty()) add_text(r, "Delimiter", key_text(l.delimiter, l.url_encoded));
  add_text(r, "IsTruncated", boolean(l.truncated));
  if (l.url_encoded) add_text(r, "EncodingType", "url");
  for (const auto& o : l.objects) {
    auto n = r.append_child("Version");
    add_text(n, "Key", key_text(o.key, l.url_encoded));
    add_text(n, "VersionId", "null");
    add_text(n, "IsLatest", "true");
    add_text(n, "LastModified", iso8601(o.mtime_ns));
    add_text(n, "ETag", o.etag);
    add_text(n, "Size", std::to_string(o.size));
    add_owner(n, l.o);
    add_text(n, "StorageClass", "STANDARD");
  }
  add_prefixes(r, l.common_prefixes, l.url_encoded);
  return to_string(doc);
}

std::string initiate_multipart(std::string_view bucket, std::string_view key,
                               std::string_view upload_id) {
  pugi::xml_document doc;
  auto r = root(doc, "InitiateMultipartUploadResult");
  add_text(r, "Bucket", bucket);
  add_text(r, "Key", key);
  add_text(r, "UploadId", upload_id);
  return to_string(doc);
}

std::string complete_multipart(std::string_view location, std::string_view bucket,
                               std::string_view key, std::string_view etag) {
  pugi::xml_document doc;
  auto r = root(doc, "CompleteMultipartUploadResult");
  add_text(r, "Location", location);
  add_text(r, "Bucket", bucket);
  add_text(r, "Key", key);
  add_text(r, "ETag", etag);
  return to_string(doc);
}

std::string list_parts(const list_parts_result& l) {
  pugi::xml_document doc;
  auto r = root(doc, "ListPartsResult");
  add_text(r, "Bucket", l.bucket);
  add_text(r, "Key", l.key);
  add_text(r, "UploadId", l.upload_id);
  auto initiator = r.append_child("Initiator");  // Owner's fields, another name
  add_text(initiator, "ID", l.o.id);
  add_text(initiator, "DisplayName", l.o.display_name);
  add_owner(r, l.o);
  add_text(r, "StorageClass", "STANDARD");
  add_text(r, "PartNumberMarker", std::to_string(l.part_number_marker));
  add_text(r, "NextPartNumberMarker", std::to_string(l.next_part_number_marker));
  add_text(r, "MaxParts", std::to_string(l.max_parts));
  add_text(r, "IsTruncated", boolean(l.truncated));
  for (const auto& p : l.parts) {
    auto n = r.append_child("Part");
    add_text(n, "PartNumber", std::to_string(p.number));
    add_text(n, "LastModified", iso8601(p.mtime_ns));
    add_text(n, "ETag", p.etag);
    add_text(n, "Size", std::to_string(p.size));
  }
  return to_string(doc);
}

std::string list_uploads(const list_uploads_result& l) {
  pugi::xml_document doc;
  auto r = root(doc, "ListMultipartUploadsResult");
  add_text(r, "Bucket", l.bucket);
  add_text(r, "KeyMarker", key_text(l.key_marker, l.url_encoded));
  add_text(r, "UploadIdMarker", l.upload_id_marker);
  add_text(r, "NextKeyMarker", key_text(l.next_key_marker, l.url_encoded));
  add_text(r, "NextUploadIdMarker", l.next_upload_id_marker);
  if (!l.prefix.empty()) add_text(r, "Prefix", key_text(l.prefix, l.url_encoded));
  if (!l.delimiter.empty()) add_text(r, "Delimiter", key_text(l.delimiter, l.url_encoded));
  add_text(r, "MaxUploads", std::to_string(l.max_uploads));
  add_text(r, "IsTruncated", boolean(l.truncated));
  if (l.url_encoded) add_text(r, "EncodingType", "url");
  for (const auto& u : l.uploads) {
    auto n = r.append_child("Upload");
    add_text(n, "Key", key_text(u.key, l.url_encoded));
    add_text(n, "UploadId", u.upload_id);
    auto initiator = n.append_child("Initiator");
    add_text(initiator, "ID", l.o.id);
    add_text(initiator, "DisplayName", l.o.display_name);
    add_owner(n, l.o);
    add_text(n, "StorageClass", "STANDARD");
    add_text(n, "Initiated", iso8601(u.initiated_ns));
  }
  add_prefixes(r, l.common_prefixes, l.url_encoded);
  return to_string(doc);
}

std::string copy_result(bool part, std::string_view etag, std::int64_t mtime_ns) {
  pugi::xml_document doc;
  auto r = root(doc, part ? "CopyPartResult" : "CopyObjectResult");
  add_text(r, "LastModified", iso8601(mtime_ns));
  add_text(r, "ETag", etag);
  return to_string(doc);
}

std::string delete_result(const std::vector<delete_outcome>& outcomes, bool quiet) {
  pugi::xml_document doc;
  auto r = root(doc, "DeleteResult");
  for (const auto& o : outcomes) {
    if (!o.error) {
      if (!quiet) add_text(r.append_child("Deleted"), "Key", o.key);
      continue;
    }
    auto n = r.append_child("Error");
    add_text(n, "Key", o.key);
    add_text(n, "Code", info(*o.error).code);
    add_text(n, "Message", info(*o.error).message);
  }
  return to_string(doc);
}

std::string location_constraint(std::string_view region) {
  pugi::xml_document doc;
  auto r = root(doc, "LocationConstraint");
  if (!region.empty() && region != "us-east-1")
    r.append_child(pugi::node_pcdata).set_value(std::string(region).c_str());
  return to_string(doc);
}

std::variant<std::vector<std::pair<std::uint32_t, std::string>>, s3_error> parse_complete(
    std::string_view body) {
  const auto doc = parse(body);
  if (!doc) return s3_error::malformed_xml;
  const auto top = doc->document_element();
  if (local_name(top) != "CompleteMultipartUpload") return s3_error::malformed_xml;
  std::vector<std::pair<std::uint32_t, std::string>> parts;
  for (auto p : top.children()) {
    if (p.type() != pugi::node_element) continue;
    if (local_name(p) != "Part") return s3_error::malformed_xml;
    const std::string number = child(p, "PartNumber").text().get();
    const std::string etag = child(p, "ETag").text().get();
    if (number.empty() || number.size() > 5 || etag.empty() ||
        number.find_first_not_of("0123456789") != std::string::npos)
      return s3_error::malformed_xml;
    const auto n = static_cast<std::uint32_t>(std::stoul(number));
    if (n < 1 || n > 10000) return s3_error::invalid_argument;
    // Clients send the ETag with or without its quotes; compare quoted.
    parts.emplace_back(n, etag.front() == '"' ? etag : "\"" + etag + "\"");
    if (parts.size() > 10000) return s3_error::malformed_xml;
  }
  if (parts.empty()) return s3_error::malformed_xml;
  return parts;
}

std::variant<delete_request, s3_error> parse_delete(std::string_view body) {
  const auto doc = parse(body);
  if (!doc) return s3_error::malformed_xml;
  const auto top = doc->document_element();
  if (local_name(top) != "Delete") return s3_error::malformed_xml;
  delete_request out;
  for (auto n : top.children()) {
    if (n.type() != pugi::node_element) continue;
    if (local_name(n) == "Quiet") {
      const std::string q = n.text().get();
      if (q != "true" && q != "false") return s3_error::malformed_xml;
      out.quiet = q == "true";
    } else if (local_name(n) == "Object") {
      const auto key = child(n, "Key");
      if (!key) return s3_error::malformed_xml;
      out.keys.emplace_back(key.text().get());
      if (out.keys.size() > delete_keys_max) return s3_error::malformed_xml;
    } else {
      return s3_error::malformed_xml;
    }
  }
  if (out.keys.empty()) return s3_error::malformed_xml;
  return out;
}

std::variant<std::string, s3_error> parse_create_bucket(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string{};
  const auto doc = parse(body);
  if (!doc) return s3_error::malformed_xml;
  const auto top = doc->document_element();
  if (local_name(top) != "CreateBucketConfiguration") return s3_error::malformed_xml;
  return std::string(child(top, "LocationConstraint").text().get());
}

}  // namespace cairn::s3
