// tests/gateways/s3/xml_test.cpp — S3's XML documents and error codes
// (gateways/s3/xml.h, errors.h): responses are well-formed with the
// elements clients read (SX1), keys with awkward bytes survive (escaped or
// url-encoded), request bodies are parsed strictly (SX2), and every error
// has its code and status (SE1).
#include "gateways/s3/xml.h"

#include <gtest/gtest.h>

namespace cairn::s3 {
namespace {

pugi::xml_document parsed(const std::string& text) {
  pugi::xml_document doc;
  const auto r = doc.load_string(text.c_str());
  EXPECT_TRUE(r) << r.description() << " in " << text;
  return doc;
}

TEST(S3Xml, ErrorDocumentsCarryCodeMessageResourceAndRequestId) {
  const auto doc = parsed(error_document(s3_error::no_such_key, "", "/b/k", "req-1"));
  const auto e = doc.child("Error");
  EXPECT_STREQ(e.child_value("Code"), "NoSuchKey");
  EXPECT_STREQ(e.child_value("Message"), "The specified key does not exist.");
  EXPECT_STREQ(e.child_value("Resource"), "/b/k");
  EXPECT_STREQ(e.child_value("RequestId"), "req-1");
  EXPECT_EQ(info(s3_error::no_such_key).status, 404u);
  EXPECT_EQ(info(s3_error::invalid_range).status, 416u);
  EXPECT_EQ(info(s3_error::precondition_failed).status, 412u);
  EXPECT_EQ(info(s3_error::bucket_not_empty).code, "BucketNotEmpty");
  EXPECT_EQ(info(s3_error::key_too_long).code, "KeyTooLongError");
  EXPECT_EQ(info(s3_error::missing_content_length).status, 411u);
  EXPECT_EQ(info(s3_error::not_modified).status, 304u);
}

TEST(S3Xml, AwkwardKeysStayWellFormedAndUrlEncodingIsByteExact) {
  list_objects_result l;
  l.bucket = "b";
  l.objects.push_back({std::string("a<&>\"'\x01\x7f\xc3\xa9 b", 12), 0, "\"e\"", 5});
  l.common_prefixes.push_back("p q/");
  auto doc = parsed(list_objects(l));
  auto r = doc.child("ListBucketResult");
  EXPECT_STREQ(r.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_STREQ(r.child("Contents").child_value("Key"), "a<&>\"'?\x7f\xc3\xa9 b")
      << "escaped, with the control character replaced";
  EXPECT_STREQ(r.child_value("KeyCount"), "2");
  l.url_encoded = true;
  doc = parsed(list_objects(l));
  r = doc.child("ListBucketResult");
  EXPECT_STREQ(r.child("Contents").child_value("Key"), "a%3C%26%3E%22%27%01%7F%C3%A9%20b");
  EXPECT_STREQ(r.child("CommonPrefixes").child_value("Prefix"), "p%20q/");
  EXPECT_STREQ(r.child_value("EncodingType"), "url");
}

TEST(S3Xml, ListingsHaveTheirVersionSpecificMarkers) {
  list_objects_result v2;
  v2.bucket = "b";
  v2.truncated = true;
  v2.next_continuation_token = "tok";
  v2.max_keys = 2;
  auto doc = parsed(list_objects(v2));
  EXPECT_STREQ(doc.child("ListBucketResult").child_value("NextContinuationToken"), "tok");
  EXPECT_STREQ(doc.child("ListBucketResult").child_value("IsTruncated"), "true");
  EXPECT_FALSE(doc.child("ListBucketResult").child("Marker"));
  list_objects_result v1 = v2;
  v1.version = 1;
  v1.marker = "m";
  v1.next_marker = "n";
  v1.delimiter = "/";
  doc = parsed(list_objects(v1));
  EXPECT_STREQ(doc.child("ListBucketResult").child_value("Marker"), "m");
  EXPECT_STREQ(doc.child("ListBucketResult").child_value("NextMarker"), "n");
  EXPECT_FALSE(doc.child("ListBucketResult").child("KeyCount"));

  list_versions_result lv;
  lv.bucket = "b";
  lv.objects.push_back({"k", 1'700'000'000'123'000'000, "\"e\"", 3});
  doc = parsed(list_versions(lv));
  const auto v = doc.child("ListVersionsResult").child("Version");
  EXPECT_STREQ(v.child_value("VersionId"), "null");
  EXPECT_STREQ(v.child_value("IsLatest"), "true");
  EXPECT_STREQ(v.child_value("LastModified"), "2023-11-14T22:13:20.123Z");
}

TEST(S3Xml, CompleteMultipartBodiesAreParsedStrictly) {
  auto ok = parse_complete(
      "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Part><ETag>\"a\"</ETag><PartNumber>1</PartNumber></Part>"
      "<Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>");
  ASSERT_EQ(ok.index(), 0u);
  const auto& parts = std::get<0>(ok);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], (std::pair<std::uint32_t, std::string>{1, "\"a\""}));
  EXPECT_EQ(parts[1], (std::pair<std::uint32_t, std::string>{2, "\"b\""})) << "quotes added";
  for (const char* bad :
       {"", "<CompleteMultipartUpload/>", "<CompleteMultipartUpload><Part><PartNumber>1",
        "<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>",
        "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Junk/></CompleteMultipartUpload>"}) {
    const auto r = parse_complete(bad);
    ASSERT_TRUE(std::holds_alternative<s3_error>(r)) << bad;
    EXPECT_EQ(std::get<s3_error>(r), s3_error::malformed_xml) << bad;
  }
  const auto big = parse_complete(std::string(body_bytes_max + 1, ' '));
  EXPECT_TRUE(std::holds_alternative<s3_error>(big));
  const auto zero = parse_complete(
      "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part>"
      "</CompleteMultipartUpload>");
  EXPECT_EQ(std::get<s3_error>(zero), s3_error::invalid_argument);
}

TEST(S3Xml, DeleteBodiesAreBoundedAndQuietIsHonoured) {
  auto r = parse_delete(
      "<Delete><Quiet>true</Quiet><Object><Key>a/b</Key></Object><Object><Key>c</Key>"
      "<VersionId>null</VersionId></Object></Delete>");
  ASSERT_TRUE(std::holds_alternative<delete_request>(r));
  EXPECT_TRUE(std::get<delete_request>(r).quiet);
  EXPECT_EQ(std::get<delete_request>(r).keys, (std::vector<std::string>{"a/b", "c"}));
  std::string many = "<Delete>";
  for (int i = 0; i <= 1000; ++i) many += "<Object><Key>k" + std::to_string(i) + "</Key></Object>";
  many += "</Delete>";
  EXPECT_TRUE(std::holds_alternative<s3_error>(parse_delete(many))) << "1001 keys";
  EXPECT_TRUE(std::holds_alternative<s3_error>(parse_delete("<Delete></Delete>")));
  EXPECT_TRUE(
      std::holds_alternative<s3_error>(parse_delete("<Delete><Quiet>yes</Quiet></Delete>")));
  const auto doc =
      parsed(delete_result({{"a", std::nullopt}, {"b", s3_error::access_denied}}, true));
  EXPECT_FALSE(doc.child("DeleteResult").child("Deleted")) << "quiet: only errors";
  EXPECT_STREQ(doc.child("DeleteResult").child("Error").child_value("Code"), "AccessDenied");
}

TEST(S3Xml, CreateBucketConfigurationAndLocation) {
  EXPECT_EQ(std::get<std::string>(parse_create_bucket("")), "");
  EXPECT_EQ(std::get<std::string>(parse_create_bucket(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                "<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>")),
            "eu-west-1");
  EXPECT_TRUE(std::holds_alternative<s3_error>(parse_create_bucket("<nope")));
  EXPECT_STREQ(parsed(location_constraint("us-east-1")).child_value("LocationConstraint"), "");
  EXPECT_STREQ(parsed(location_constraint("eu-west-1")).child_value("LocationConstraint"),
               "eu-west-1");
  EXPECT_EQ(http_date(1'700'000'000'000'000'000), "Tue, 14 Nov 2023 22:13:20 GMT");
}

}  // namespace
}  // namespace cairn::s3
