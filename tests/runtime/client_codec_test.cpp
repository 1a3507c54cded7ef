// tests/runtime/client_codec_test.cpp — the client protocol's frames
// (runtime/client_codec.h): every kind round-trips field by field (CF2), a
// grant's keys arrive intact (CF3), and truncated, bit-flipped, oversized
// and other-version frames are errors, never crashes (CF1). It also
// replays the fuzz target's seed corpus (tests/fuzz/corpus/client_frame),
// which it writes when CAIRN_WRITE_CLIENT_SEEDS=1.
#include "runtime/client_codec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "actors/keys/secret_bytes.h"
#include "actors/shard/namespace_codec.h"

int cairn_client_frame_fuzz_one(const std::uint8_t* data, std::size_t size);

namespace cairn::runtime {
namespace {

keys::key_grant_ptr sample_grant() {
  auto g = std::make_shared<keys::key_grant>();
  g->tenant = keys::tenant_id{42};
  g->epoch = keys::key_epoch{3};
  std::array<std::uint8_t, 32> a{}, b{};
  for (int i = 0; i < 32; ++i)
    a[i] = static_cast<std::uint8_t>(i), b[i] = static_cast<std::uint8_t>(200 - i);
  g->dedup_key = keys::secret_bytes::copy_of(a);
  g->data_key = keys::secret_bytes::copy_of(b);
  return g;
}

/// One frame of every kind and variant, named for the seed corpus.
std::vector<std::pair<std::string, client_frame>> samples() {
  std::vector<std::pair<std::string, client_frame>> out;
  auto add = [&](std::string name, auto body) {
    out.push_back({std::move(name), client_frame{body}});
  };
  add("challenge", client_challenge{std::string(client_nonce_bytes, 'n')});
  add("hello", client_hello{"CKAAAAAAAAAAAAAAAAAA", std::string(32, 'p')});
  add("welcome", client_welcome{true, "", 7, 1});
  add("welcome-refused", client_welcome{false, "unknown access key", 0, 1});
  add("request-bucket", client_request{1, bucket_query{"cairn"}});
  add("request-inode", client_request{2, inode_query{5, 6, 1}});
  add("request-lookup", client_request{3, lookup_query{5, 6, 1, "a.txt"}});
  add("request-readdir", client_request{4, readdir_query{5, 6, 1, "b/", 100}});
  add("request-command", client_request{5, command_query{5, std::string(64, 'c')}});
  add("request-devices", client_request{6, devices_query{}});
  add("request-grant", client_request{7, grant_query{3}});
  add("reply-none", client_reply{8, client_status::not_found, "no such bucket", std::monostate{}});
  add("reply-bucket", client_reply{9, client_status::ok, "", bucket_answer{5, 6}});
  add("reply-inode", client_reply{10, client_status::ok, "", inode_answer{std::string(40, 'i')}});
  readdir_answer dir;
  dir.entries = {{"a", std::string(16, 'x')}, {"b/", std::string(24, 'y')}};
  dir.more = true;
  add("reply-readdir", client_reply{11, client_status::ok, "", dir});
  add("reply-command", client_reply{12, client_status::ok, "", command_answer{"{\"status\":0}"}});
  add("reply-devices",
      client_reply{13, client_status::ok, "",
                   devices_answer{{{1, 1, 1 << 30, 1 << 29, 0}, {2, 3, 5, 4, 2}}}});
  add("reply-grant", client_reply{14, client_status::ok, "", grant_answer{sample_grant()}});
  chunk_request cq;
  cq.id = 15, cq.device = 2, cq.op = chunk_op::put, cq.key = std::string(40, 'k'), cq.epoch = 3,
  cq.payload = "shard bytes";
  add("chunk-request", cq);
  chunk_reply cr;
  cr.id = 15, cr.device = 2, cr.status = 0, cr.payload = "shard bytes", cr.epoch = 3;
  add("chunk-reply", cr);
  add("request-buckets", client_request{16, buckets_query{}});
  add("reply-buckets", client_reply{17, client_status::ok, "", buckets_answer{{"alpha", "beta"}}});
  add("request-nodes", client_request{18, nodes_query{}});
  add("reply-nodes", client_reply{19, client_status::ok, "",
                                  nodes_answer{{{1, "10.0.0.1:9400"}, {3, "[::1]:9400"}}}});
  return out;
}

client_frame round_trip(const client_frame& f) {
  const auto wire = encode_client_frame(f);
  EXPECT_EQ(decode_frame_length(reinterpret_cast<const unsigned char*>(wire.data())),
            wire.size() - frame_prefix_bytes);
  auto decoded = decode_client_frame(wire.substr(frame_prefix_bytes), client_frame_bytes_max);
  if (auto* err = std::get_if<frame_error>(&decoded)) ADD_FAILURE() << err->reason;
  return std::get<client_frame>(decoded);
}

TEST(ClientCodec, EveryKindRoundTrips) {
  for (const auto& [name, f] : samples()) {
    SCOPED_TRACE(name);
    const auto back = round_trip(f);
    ASSERT_EQ(back.body.index(), f.body.index());
    // Field by field, through a second encoding: equal frames, equal bytes.
    EXPECT_EQ(encode_client_frame(back), encode_client_frame(f));
  }
  const auto lookup = std::get<client_request>(round_trip(samples()[6].second).body);
  EXPECT_EQ(lookup.id, 3u);
  const auto& q = std::get<lookup_query>(lookup.body);
  EXPECT_EQ(q.shard, 5u);
  EXPECT_EQ(q.bucket, 6u);
  EXPECT_EQ(q.dir, 1u);
  EXPECT_EQ(q.name, "a.txt");
  const auto dir = std::get<client_reply>(round_trip(samples()[14].second).body);
  const auto& d = std::get<readdir_answer>(dir.body);
  ASSERT_EQ(d.entries.size(), 2u);
  EXPECT_EQ(d.entries[1].list_key, "b/");
  EXPECT_TRUE(d.more);
  const auto buckets =
      std::get<client_reply>(round_trip(samples()[samples().size() - 3].second).body);
  EXPECT_EQ(std::get<buckets_answer>(buckets.body).names,
            (std::vector<std::string>{"alpha", "beta"}));
}

TEST(ClientCodec, AGrantsKeysArriveIntact) {
  const auto original = sample_grant();
  const auto back = std::get<client_reply>(
      round_trip(client_frame{client_reply{1, client_status::ok, "", grant_answer{original}}})
          .body);
  const auto& g = std::get<grant_answer>(back.body).grant;
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->tenant.value, 42u);
  EXPECT_EQ(g->epoch.value, 3u);
  EXPECT_TRUE(std::ranges::equal(g->dedup_key.bytes(), original->dedup_key.bytes()));
  EXPECT_TRUE(std::ranges::equal(g->data_key.bytes(), original->data_key.bytes()));
}

TEST(ClientCodec, DamagedFramesAreErrorsWithReasons) {
  const auto wire = encode_client_frame(samples()[4].second);
  const auto body = wire.substr(frame_prefix_bytes);
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto d = decode_client_frame(body.substr(0, n), client_frame_bytes_max);
    if (auto* err = std::get_if<frame_error>(&d)) {
      EXPECT_FALSE(err->reason.empty());
    }
  }
  auto big = decode_client_frame(body, body.size() - 8);
  ASSERT_TRUE(std::holds_alternative<frame_error>(big));
  EXPECT_NE(std::get<frame_error>(big).reason.find("too large"), std::string::npos);
  auto other = body;
  other[16] = 9;  // the version: after the segment table and the root pointer
  auto v = decode_client_frame(other, client_frame_bytes_max);
  ASSERT_TRUE(std::holds_alternative<frame_error>(v));
  EXPECT_NE(std::get<frame_error>(v).reason.find("version"), std::string::npos);
}

TEST(ClientCodec, MutatedSeedsNeverCrashTheDecoder) {
  std::mt19937_64 random(20261205);
  std::size_t decoded = 0, runs = 0;
  for (const auto& [name, f] : samples()) {
    const auto body = encode_client_frame(f).substr(frame_prefix_bytes);
    for (int i = 0; i < 400; ++i) {
      auto m = body;
      const int flips = 1 + static_cast<int>(random() % 4);
      for (int k = 0; k < flips; ++k)
        m[random() % m.size()] ^= static_cast<char>(1 << (random() % 8));
      if (random() % 4 == 0) m.resize(random() % m.size());
      decoded +=
          cairn_client_frame_fuzz_one(reinterpret_cast<const std::uint8_t*>(m.data()), m.size());
      ++runs;
    }
  }
  EXPECT_GT(decoded, 0u);
  EXPECT_LT(decoded, runs);
}

TEST(ClientCodec, TheSeedCorpusDecodes) {
  const std::filesystem::path dir =
      std::filesystem::path(CAIRN_SOURCE_DIR) / "tests/fuzz/corpus/client_frame";
  if (const char* w = std::getenv("CAIRN_WRITE_CLIENT_SEEDS"); w && std::string(w) == "1") {
    std::filesystem::create_directories(dir);
    for (const auto& [name, f] : samples())
      std::ofstream(dir / name, std::ios::binary)
          << encode_client_frame(f).substr(frame_prefix_bytes);
  }
  std::size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(cairn_client_frame_fuzz_one(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                          bytes.size()),
              1)
        << entry.path().filename() << " should decode";
    ++seeds;
  }
  EXPECT_GE(seeds, samples().size());
}

}  // namespace
}  // namespace cairn::runtime

// This binary links every schema (the client protocol and the namespace).
// Two schemas once declared a struct of one name in one C++ namespace
// (DirEntry): the linker kept one layout for both, and namespace snapshots
// written by such a binary did not decode (a node could not restart). A
// snapshot of a tree with directories must restore here.
TEST(ClientCodec, ANamespaceSnapshotRestoresInABinaryWithEverySchema) {
  using namespace cairn::shard;
  namespace_state s;
  ASSERT_EQ(s.create_bucket(bucket_id{1}, 0).status, ns_status::ok);
  for (const auto* name : {"a", "b", "c"}) {
    make_node_command m;
    m.bucket = bucket_id{1};
    m.dir = root_inode;
    m.name = name;
    m.kind = inode_kind::directory;
    ASSERT_EQ(s.make_node(m).status, ns_status::ok);
  }
  namespace_state restored;
  ASSERT_TRUE(restore_namespace(restored, snapshot_namespace(s)));
  EXPECT_EQ(namespace_fingerprint(restored), namespace_fingerprint(s));
}
