// tests/gateways/fuse/client_transport_test.cpp — the client protocol end
// to end (ADR 0009 increments 2-3): a real `cairn dev` node in this process
// with its client listener (runtime/client_listener.h), and the FUSE
// client's connection (gateways/fuse/cluster_client.h) over TLS with the
// dev access key. A file is created and written through the client
// protocol with the gateways' chunk pipeline running here over device
// proxies, read back, listed; the handshake refuses wrong secrets, unknown
// keys and an untrusted CA (CL1); requests outside the tenant's resolved
// buckets are denied (CL3); garbage closes only its own connection (CL5);
// a lost connection answers `unavailable` at once and the next call
// reconnects (CC-1, CC-2).
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <random>

#include "actors/shard/namespace_codec.h"
#include "gateways/fuse/cluster_client.h"
#include "runtime/certs.h"
#include "runtime/node.h"

namespace cairn::fuse {
namespace {

namespace fs = std::filesystem;
using namespace cairn::runtime;

struct dev_node {
  fs::path dir;
  std::unique_ptr<node> n;
  std::pair<std::string, std::string> credentials;

  dev_node() {
    dir = fs::temp_directory_path() / ("cairn-client-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(std::random_device{}()));
    node_config cfg;
    cfg.node_id = 1;
    cfg.data_dir = dir.string();
    cfg.admin_listen = "127.0.0.1:0";
    cfg.s3_listen = "127.0.0.1:0";
    cfg.client_listen = "127.0.0.1:0";
    cfg.raft.tick_ms = 10;
    cfg.raft.election_ticks = 10;
    cfg.raft.heartbeat_ticks = 1;
    cfg.chunk.device_mb = 64;
    cfg.bootstrap = true;
    cfg.log_level = "warn";
    n = std::make_unique<node>(cfg, node_mode{true});
    n->start();
    credentials = n->s3_credentials();
  }
  ~dev_node() {
    n->stop();
    n.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  cluster_client_options options(std::string secret = "") const {
    cluster_client_options o;
    o.endpoint = "127.0.0.1:" + std::to_string(n->client_port());
    o.ca_cert = n->client_ca();
    o.access_key_id = credentials.first;
    const auto& s = secret.empty() ? credentials.second : secret;
    o.secret =
        keys::secret_bytes::copy_of({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    o.timeout = std::chrono::seconds(10);
    return o;
  }
};

class ClientTransport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { node_ = new dev_node(); }
  static void TearDownTestSuite() {
    delete node_;
    node_ = nullptr;
  }
  static dev_node* node_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
};
dev_node* ClientTransport::node_ = nullptr;

template <class T>
const T& body_of(const client_reply& r) {
  EXPECT_EQ(r.status, client_status::ok) << to_string(r.status) << ": " << r.message;
  return std::get<T>(r.body);
}

TEST_F(ClientTransport, TheHandshakeAdmitsTheKeyAndRefusesEverythingElse) {
  cluster_client good(sys_, node_->options());
  ASSERT_NO_THROW(good.connect());
  EXPECT_NE(good.tenant(), 0u);
  EXPECT_EQ(good.node(), 1u);

  cluster_client wrong_secret(sys_, node_->options(std::string(40, 'x')));
  try {
    wrong_secret.connect();
    ADD_FAILURE() << "a wrong secret was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("refused the access key"), std::string::npos) << e.what();
  }
  auto unknown = node_->options();
  unknown.access_key_id = "CKAAAAAAAAAAAAAAAAAA";
  cluster_client unknown_key(sys_, std::move(unknown));
  EXPECT_THROW(unknown_key.connect(), std::runtime_error);

  // A CA the node's certificate does not chain to: TLS fails, no secret sent.
  const auto other = node_->dir / "other-ca";
  generate_cluster_ca(other, "someone-else");
  auto untrusted = node_->options();
  untrusted.ca_cert = other / "ca.pem";
  cluster_client wrong_ca(sys_, std::move(untrusted));
  try {
    wrong_ca.connect();
    ADD_FAILURE() << "an untrusted node was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("TLS"), std::string::npos) << e.what();
  }
  // Without a connection a call answers at once, it does not hang (CC-1).
  auto o = node_->options(std::string(40, 'x'));
  cluster_client never(sys_, std::move(o));
  EXPECT_EQ(never.call(devices_query{}).status, client_status::unavailable);
}

TEST_F(ClientTransport, AFileWrittenThroughTheClientReadsBackAndIsListed) {
  cluster_client c(sys_, node_->options());
  c.connect();
  const auto b = body_of<bucket_answer>(c.call(bucket_query{"cairn"}));
  // A new file in the bucket's root.
  const std::string name = "client-" + std::to_string(std::random_device{}()) + ".bin";
  shard::ns_command make;
  shard::make_node_command m;
  m.bucket = shard::bucket_id{b.bucket};
  m.dir = shard::root_inode;
  m.name = name;
  m.mode = 0644;
  make.body = m;
  const auto made =
      body_of<command_answer>(c.call(command_query{b.shard, shard::encode_ns_command(make)}));
  const auto result = shard::decode_ns_result(made.result);
  ASSERT_TRUE(result.has_value());
  ASSERT_EQ(result->status, shard::ns_status::ok);
  const auto file = result->inode;

  // Ten MiB in three chunks, written from here: sealed and erasure-coded
  // on this side, shards to the devices over the client connection.
  const auto g = std::get<grant_answer>(c.call(grant_query{0}).body).grant;
  ASSERT_NE(g, nullptr);
  const auto devices = c.devices();
  ASSERT_EQ(devices->devices.size(), 6u);
  gateway::pipeline_options po;
  po.dedup_scope = b.shard;
  gateway::chunk_pipeline pipeline(devices, po);
  caf::scoped_actor self{sys_};
  std::vector<std::uint8_t> data(10 << 20);
  std::mt19937_64 random(7);
  for (auto& x : data) x = static_cast<std::uint8_t>(random());
  const auto before = shard::decode_inode(
      body_of<inode_answer>(c.call(inode_query{b.shard, b.bucket, file.value})).inode);
  ASSERT_TRUE(before.has_value());
  shard::write_range_command w;
  w.bucket = shard::bucket_id{b.bucket};
  w.inode = file;
  w.expected_etag = before->current ? before->current->etag : "";
  for (std::uint64_t at = 0; at < data.size(); at += gateway::chunk_bytes_default) {
    const auto n = std::min<std::uint64_t>(gateway::chunk_bytes_default, data.size() - at);
    auto r = pipeline.write(self.ptr(), *g, {data.data() + at, n}, at);
    ASSERT_TRUE(std::holds_alternative<shard::chunk_ref>(r))
        << std::get<gateway::pipeline_error>(r).detail;
    w.chunks.push_back(std::get<shard::chunk_ref>(r));
  }
  w.from = 0;
  w.to = w.size = data.size();
  w.etag = "\"client-test-1\"";
  shard::ns_command write;
  write.body = w;
  const auto wrote = shard::decode_ns_result(
      body_of<command_answer>(c.call(command_query{b.shard, shard::encode_ns_command(write)}))
          .result);
  ASSERT_TRUE(wrote.has_value());
  ASSERT_EQ(wrote->status, shard::ns_status::ok);

  // Looked up by name and read back, chunk by chunk, through the proxies.
  const auto found = shard::decode_inode(
      body_of<inode_answer>(c.call(lookup_query{b.shard, b.bucket, shard::root_inode.value, name}))
          .inode);
  ASSERT_TRUE(found.has_value());
  ASSERT_TRUE(found->current.has_value());
  EXPECT_EQ(found->current->size, data.size());
  std::vector<std::uint8_t> back;
  for (const auto& ref : found->current->chunks) {
    auto r = pipeline.read(self.ptr(), *g, ref);
    ASSERT_TRUE(std::holds_alternative<std::vector<std::uint8_t>>(r));
    const auto& bytes = std::get<std::vector<std::uint8_t>>(r);
    back.insert(back.end(), bytes.begin(), bytes.end());
  }
  EXPECT_TRUE(back == data);

  // Listed in the root, a page at a time.
  bool listed = false;
  std::string after;
  for (int pages = 0; pages < 100; ++pages) {
    const auto page = body_of<readdir_answer>(
        c.call(readdir_query{b.shard, b.bucket, shard::root_inode.value, after, 2}));
    for (const auto& e : page.entries) {
      listed |= e.list_key == name;
      after = e.list_key;
      EXPECT_TRUE(shard::decode_inode(e.inode).has_value());
    }
    if (!page.more) break;
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(c.call(lookup_query{b.shard, b.bucket, shard::root_inode.value, "no-such-name"}).status,
            client_status::not_found);
}

TEST_F(ClientTransport, RequestsOutsideTheResolvedBucketsAreDenied) {
  cluster_client c(sys_, node_->options());
  c.connect();
  EXPECT_EQ(c.call(bucket_query{"no-such-bucket"}).status, client_status::not_found);
  // Not resolved on this connection yet.
  EXPECT_EQ(c.call(inode_query{2, 1, 1}).status, client_status::denied);
  const auto b = body_of<bucket_answer>(c.call(bucket_query{"cairn"}));
  EXPECT_EQ(c.call(inode_query{b.shard, b.bucket, 1}).status, client_status::ok);
  EXPECT_EQ(c.call(inode_query{b.shard, b.bucket + 1, 1}).status, client_status::denied);
  // A bucket-level command is never a client's.
  shard::ns_command del;
  del.body = shard::delete_bucket_command{shard::bucket_id{b.bucket}};
  EXPECT_EQ(c.call(command_query{b.shard, shard::encode_ns_command(del)}).status,
            client_status::denied);
  EXPECT_EQ(c.call(command_query{b.shard, "garbage"}).status, client_status::invalid);
}

TEST_F(ClientTransport, GarbageClosesOnlyItsOwnConnectionAndALostOneReconnects) {
  auto opts = node_->options();
  opts.reconnect_interval = std::chrono::milliseconds(0);
  cluster_client c(sys_, std::move(opts));
  c.connect();
  // A raw TLS connection that sends a frame of garbage after the challenge.
  namespace asio = boost::asio;
  asio::io_context io;
  auto tls = make_client_tls_context(node_->n->client_ca());
  asio::ssl::stream<asio::ip::tcp::socket> raw(io, tls);
  raw.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), node_->n->client_port()});
  raw.handshake(asio::ssl::stream_base::client);
  // A listener that kept the connection would leave the reads below
  // waiting: they give up after 5 s with EAGAIN, which fails the test.
  const timeval five_seconds{5, 0};
  ::setsockopt(raw.lowest_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five_seconds,
               sizeof five_seconds);
  std::array<char, 4096> buffer{};
  boost::system::error_code ec;
  raw.read_some(asio::buffer(buffer), ec);  // the challenge
  ASSERT_FALSE(ec) << ec.message();
  const std::string junk = std::string("\0\0\0\x10", 4) + std::string(16, '\x7f');
  asio::write(raw, asio::buffer(junk), ec);
  std::size_t n = 0;
  for (int i = 0; i < 10 && !ec; ++i) n = raw.read_some(asio::buffer(buffer), ec);
  EXPECT_TRUE(ec) << "the connection stayed open (" << n << " bytes read)";
  EXPECT_NE(ec, asio::error::would_block) << "the connection stayed open";
  EXPECT_NE(ec, asio::error::try_again) << "the connection stayed open";
  // The good client is untouched.
  EXPECT_EQ(c.call(bucket_query{"cairn"}).status, client_status::ok);
  // Dropped: the next call connects again and is served.
  c.disconnect();
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.call(bucket_query{"cairn"}).status, client_status::ok);
  EXPECT_TRUE(c.connected());
}

}  // namespace
}  // namespace cairn::fuse
