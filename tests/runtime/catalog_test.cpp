// tests/runtime/catalog_test.cpp — the cluster catalog (runtime/catalog.h):
// S3 bucket name rules (CT2), entries round-trip through the system shard's
// key-value form and malformed ones are reported (CT1), shard choice is
// deterministic (CT3), access key ids and secrets have their formats.
#include "runtime/catalog.h"

#include <gtest/gtest.h>

#include <set>

namespace cairn::runtime {
namespace {

TEST(Catalog, BucketNamesFollowS3Rules) {
  for (const char* ok : {"abc", "my-bucket", "my.bucket.2026", "0bucket9",
                         "a23456789012345678901234567890123456789012345678901234567890123"})
    EXPECT_EQ(bucket_name_problem(ok), "") << ok;
  for (const char* bad :
       {"ab", "ABC", "my_bucket", "-abc", "abc-", ".abc", "a..b", "192.168.5.4", "xn--abc",
        "sthree-x", "abc-s3alias", "abc--ol-s3", "abc.mrap",
        "a234567890123456789012345678901234567890123456789012345678901234", "my bucket", ""})
    EXPECT_NE(bucket_name_problem(bad), "") << bad;
  EXPECT_EQ(bucket_name_problem("192.168.5.4x"), "") << "only a whole IPv4 address is refused";
}

TEST(Catalog, EntriesRoundTripAndMalformedOnesAreReported) {
  tenant_entry t{7, "acme", entry_state::ready};
  bucket_entry b{"photos", 7, 3, 0xabcdef, 1'700'000'000'000'000'000, entry_state::creating};
  access_key_entry k{"CKABCDEFGHIJKLMNOPQR", 7, entry_state::ready, {1, 2, 0xfe}, "ci", 42};
  const std::vector<std::pair<std::string, std::string>> kv = {
      {tenant_key(7), encode(t)},
      {bucket_key("photos"), encode(b)},
      {access_key_key(k.id), encode(k)},
      {"node/1", "{\"id\":1}"},  // the cluster map's: ignored here
      {"bucket/Bad_Name", encode(bucket_entry{"Bad_Name", 7, 3, 1, 0, entry_state::ready})},
      {"bucket/other", encode(b)},  // the name does not match the key
      {"tenant/9", "not json"},
      {"akey/CKX", encode(access_key_entry{"CKX", 7, entry_state::ready, {}, "", 0})},
      {"tenant/8", "{\"id\":8,\"name\":\"x\",\"state\":\"bogus\"}"},
      {"tenant/10", "{\"id\":10,\"state\":\"ready\"}"},
  };
  std::vector<std::string> problems;
  const auto c = catalog::parse(kv, &problems);
  ASSERT_EQ(c.tenants.size(), 1u);
  EXPECT_EQ(c.tenants.at(7), t);
  ASSERT_EQ(c.buckets.size(), 1u);
  EXPECT_EQ(c.buckets.at("photos"), b);
  ASSERT_EQ(c.access_keys.size(), 1u);
  EXPECT_EQ(c.access_keys.at(k.id), k);
  EXPECT_EQ(problems.size(), 6u);
  for (const auto& p : problems) std::cout << "reported: " << p << "\n";
  EXPECT_EQ(c.next_tenant_id(), 8u);
}

TEST(Catalog, NewBucketsGoToTheShardWithTheFewest) {
  catalog c;
  EXPECT_EQ(c.choose_shard({}), std::nullopt);
  EXPECT_EQ(c.choose_shard({5, 2, 9}), 2u) << "ties: the lowest id";
  c.buckets["a"] = {"a", 1, 2, 1, 0, entry_state::ready};
  c.buckets["b"] = {"b", 1, 5, 2, 0, entry_state::ready};
  EXPECT_EQ(c.choose_shard({5, 2, 9}), 9u);
  c.buckets["c"] = {"c", 2, 9, 3, 0, entry_state::ready};
  EXPECT_EQ(c.choose_shard({9, 5, 2}), 2u);
  EXPECT_EQ(c.buckets_of(1).size(), 2u);
  EXPECT_EQ(c.buckets_of(1)[0]->name, "a");
}

TEST(Catalog, AccessKeysHaveTheirFormats) {
  keys::deterministic_random_source random(3);
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    const auto id = new_access_key_id(random);
    EXPECT_TRUE(well_formed_access_key_id(id)) << id;
    ids.insert(id);
    const auto secret = new_access_key_secret(random);
    EXPECT_EQ(secret.size(), access_key_secret_bytes);
    EXPECT_EQ(secret.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
              std::string::npos);
  }
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_FALSE(well_formed_access_key_id("AKIAIOSFODNN7EXAMPLE"));
  EXPECT_FALSE(well_formed_access_key_id("CKabcdefghijklmnopqr"));
}

}  // namespace
}  // namespace cairn::runtime

namespace cairn::runtime {
namespace {

TEST(Catalog, NfsExportsRoundTripAndBadPathsAreRefused) {
  for (const char* ok : {"/", "/data", "/a/b.c/d-e"}) EXPECT_EQ(export_path_problem(ok), "") << ok;
  for (const char* bad : {"", "data", "/data/", "//data", "/a//b", "/a/./b", "/a/..", "/."})
    EXPECT_NE(export_path_problem(bad), "") << bad;
  EXPECT_NE(export_path_problem("/" + std::string(1024, 'x')), "");

  nfs_export_entry e;
  e.path = "/projects/ml";
  e.bucket = "datasets";
  e.read_only = true;
  e.root_squash = false;
  e.anon_uid = 1000;
  e.anon_gid = 1001;
  e.clients = {"10.0.0.0/8", "::1"};
  e.allow_auth_none = true;
  e.created_ns = 42;
  std::vector<std::string> problems;
  const auto c = catalog::parse({{nfs_export_key(e.path), encode(e)},
                                 {nfs_export_key("/other"), encode(e)},  // path != key
                                 {nfs_export_key("/x"), R"({"path":"/x","state":"ready"})"}},
                                &problems);
  ASSERT_EQ(c.nfs_exports.size(), 1u);
  EXPECT_EQ(c.nfs_exports.at("/projects/ml"), e);
  EXPECT_EQ(problems.size(), 2u);
}

}  // namespace
}  // namespace cairn::runtime
