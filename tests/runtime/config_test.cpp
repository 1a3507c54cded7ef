// tests/runtime/config_test.cpp — node configuration: TOML, CAIRN_*
// environment overrides, and errors that name the field.
#include "runtime/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace cairn::runtime {
namespace {

node_config valid_base() {
  node_config c;
  c.node_id = 1;
  c.listen = "127.0.0.1:7001";
  c.tls = {"/ca.pem", "/node.pem", "/node.key"};
  return c;
}

std::string field_of_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const config_error& e) {
    return e.field();
  }
  return "<no error>";
}

TEST(Config, TomlSetsEveryKindOfOption) {
  node_config c;
  apply_toml(c, R"(
node_id = 7
data_dir = "/var/lib/cairn"
listen = "10.0.0.7:7000"
admin_listen = "127.0.0.1:9097"
peers = ["10.0.0.1:7000", "10.0.0.2:7000"]
log_level = "debug"
[tls]
ca_cert = "/etc/cairn/ca.pem"
cert = "/etc/cairn/node.pem"
key = "/etc/cairn/node.key"
[raft]
tick_ms = 20
election_ticks = 30
)",
             "test.toml");
  EXPECT_EQ(c.node_id, 7u);
  EXPECT_EQ(c.data_dir, "/var/lib/cairn");
  EXPECT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[1], "10.0.0.2:7000");
  EXPECT_EQ(c.tls.key, "/etc/cairn/node.key");
  EXPECT_EQ(c.raft.tick_ms, 20u);
  EXPECT_EQ(c.raft.election_ticks, 30u);
  EXPECT_FALSE(c.bootstrap);
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, EnvironmentOverridesToml) {
  node_config c;
  apply_toml(c, "node_id = 3\n[raft]\ntick_ms = 20\n", "t");
  auto unknown = apply_environment(c, {{"CAIRN_NODE_ID", "4"},
                                       {"CAIRN_RAFT_TICK_MS", "25"},
                                       {"CAIRN_PEERS", "a:1, b:2"},
                                       {"CAIRN_BOOTSTRAP", "true"},
                                       {"CAIRN_NO_SUCH_THING", "x"},
                                       {"PATH", "/bin"}});
  EXPECT_EQ(c.node_id, 4u);
  EXPECT_EQ(c.raft.tick_ms, 25u);
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(c.peers[1], "b:2");
  EXPECT_TRUE(c.bootstrap);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0], "CAIRN_NO_SUCH_THING");
}

TEST(Config, ErrorsNameTheField) {
  node_config c;
  EXPECT_EQ(field_of_error([&] { apply_toml(c, "nodeid = 3\n", "t"); }), "nodeid");
  EXPECT_EQ(field_of_error([&] { apply_toml(c, "[raft]\ntick = 3\n", "t"); }), "raft.tick");
  EXPECT_EQ(field_of_error([&] { apply_toml(c, "node_id = \"three\"\n", "t"); }), "node_id");
  EXPECT_EQ(field_of_error([&] { apply_toml(c, "node_id = -1\n", "t"); }), "node_id");
  EXPECT_EQ(field_of_error([&] { apply_toml(c, "peers = \"a:1\"\n", "t"); }), "peers");
  EXPECT_EQ(field_of_error([&] { apply_toml(c, "bootstrap = 1\n", "t"); }), "bootstrap");
  // A syntax error names the file, line and column.
  EXPECT_EQ(field_of_error([&] {
              apply_toml(c, "node_id = 1\nlisten = \n", "f.toml");
            }).rfind("f.toml:2:", 0),
            0u);
  EXPECT_EQ(field_of_error([&] {
              apply_environment(c, {{"CAIRN_RAFT_TICK_MS", "fast"}});
            }),
            "raft.tick_ms (from CAIRN_RAFT_TICK_MS)");
  EXPECT_EQ(field_of_error([&] { apply_toml_file(c, "/nonexistent/cairn.toml"); }), "--config");
}

TEST(Config, NfsExportsFromToml) {
  node_config c;
  apply_toml(c,
             "nfs_listen = \"0.0.0.0:2049\"\n"
             "[[nfs_exports]]\npath = \"/data\"\nbucket = \"data\"\nclients = [\"10.0.0.0/8\"]\n"
             "read_only = true\nanon_uid = 1000\n"
             "[[nfs_exports]]\npath = \"/scratch\"\nbucket = \"scratch\"\nroot_squash = false\n",
             "t");
  ASSERT_EQ(c.nfs_exports.size(), 2u);
  EXPECT_EQ(c.nfs_listen, "0.0.0.0:2049");
  EXPECT_EQ(c.nfs_exports[0].path, "/data");
  EXPECT_EQ(c.nfs_exports[0].bucket, "data");
  EXPECT_TRUE(c.nfs_exports[0].read_only);
  EXPECT_TRUE(c.nfs_exports[0].root_squash);
  EXPECT_EQ(c.nfs_exports[0].anon_uid, 1000u);
  EXPECT_EQ(c.nfs_exports[0].clients, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_FALSE(c.nfs_exports[1].root_squash);
  auto error = [](const char* text) {
    node_config d;
    return field_of_error([&] { apply_toml(d, text, "t"); });
  };
  EXPECT_EQ(error("[[nfs_exports]]\nbucket = \"b\"\n"), "nfs_exports[0].path");
  EXPECT_EQ(error("[[nfs_exports]]\npath = \"/x\"\n"), "nfs_exports[0].bucket");
  EXPECT_EQ(error("[[nfs_exports]]\npath = \"/x\"\nbucket = \"b\"\nread_only = 1\n"),
            "nfs_exports[0].read_only");
  EXPECT_EQ(error("[[nfs_exports]]\npath = \"/x\"\nbucket = \"b\"\nsquash = true\n"),
            "nfs_exports[0].squash");
  EXPECT_EQ(error("[[nfs_exports]]\npath = \"/x\"\nbucket = \"b\"\nanon_uid = -1\n"),
            "nfs_exports[0].anon_uid");
  EXPECT_EQ(error("[[nfs_exports]]\npath = \"/x\"\nbucket = \"b\"\n"
                  "[[nfs_exports]]\npath = \"/x\"\nbucket = \"c\"\n"),
            "nfs_exports[1].path");
  EXPECT_EQ(error("nfs_exports = \"/x\"\n"), "nfs_exports");
}

TEST(Config, ValidationNamesTheField) {
  auto bad = [](auto mutate) {
    node_config c = valid_base();
    mutate(c);
    return field_of_error([&] { validate(c); });
  };
  EXPECT_EQ(bad([](node_config&) {}), "<no error>");
  EXPECT_EQ(bad([](node_config& c) { c.node_id = 0; }), "node_id");
  EXPECT_EQ(bad([](node_config& c) { c.listen = "nohost"; }), "listen");
  EXPECT_EQ(bad([](node_config& c) { c.listen = "h:70000"; }), "listen");
  EXPECT_EQ(bad([](node_config& c) { c.admin_listen = ""; }), "admin_listen");
  EXPECT_EQ(bad([](node_config& c) { c.peers = {"ok:1", "bad"}; }), "peers[1]");
  EXPECT_EQ(bad([](node_config& c) { c.tls.cert.clear(); }), "tls.cert");
  EXPECT_EQ(bad([](node_config& c) {
              c.bootstrap = true;
              c.peers = {"a:1"};
            }),
            "bootstrap");
  EXPECT_EQ(bad([](node_config& c) { c.log_level = "loud"; }), "log_level");
  EXPECT_EQ(bad([](node_config& c) { c.raft.election_ticks = 2; }), "raft.election_ticks");
  EXPECT_EQ(bad([](node_config& c) { c.raft.tick_ms = 0; }), "raft.tick_ms");
  EXPECT_EQ(bad([](node_config& c) { c.storage_full_percent = 100; }), "storage.full_percent");
  EXPECT_EQ(bad([](node_config& c) { c.transport.frame_bytes_max = 10; }),
            "transport.frame_bytes_max");
  EXPECT_EQ(bad([](node_config& c) { c.transport.dead_after_ms = 1; }), "transport.dead_after_ms");
  EXPECT_EQ(bad([](node_config& c) { c.chunk.device_mb = 8; }), "chunk.device_mb");
  EXPECT_EQ(bad([](node_config& c) { c.chunk.devices = {"/dev/sdb", ""}; }), "chunk.devices");
  EXPECT_EQ(bad([](node_config& c) { c.chunk.dev_devices = 65; }), "chunk.dev_devices");
}

TEST(Config, ChunkDevicesFromTomlAndEnvironment) {
  node_config cfg;
  apply_toml(cfg, "[chunk]\ndevices = [\"/dev/nvme0n1\", \"/dev/nvme1n1\"]\ndevice_mb = 4096\n",
             "test");
  EXPECT_EQ(cfg.chunk.devices, (std::vector<std::string>{"/dev/nvme0n1", "/dev/nvme1n1"}));
  EXPECT_EQ(cfg.chunk.device_mb, 4096u);
  apply_environment(cfg, {{"CAIRN_CHUNK_DEVICES", "/srv/d0, /srv/d1,/srv/d2"}});
  EXPECT_EQ(cfg.chunk.devices.size(), 3u);
  EXPECT_EQ(cfg.chunk.devices[1], "/srv/d1");
}

TEST(Config, HostPort) {
  EXPECT_EQ(parse_host_port("127.0.0.1:80")->port, 80);
  EXPECT_EQ(parse_host_port("[::1]:7000")->host, "::1");
  EXPECT_EQ(parse_host_port("[::1]:7000")->to_string(), "[::1]:7000");
  EXPECT_FALSE(parse_host_port("::1:7000"));
  EXPECT_FALSE(parse_host_port("host:"));
  EXPECT_FALSE(parse_host_port(":80"));
  EXPECT_FALSE(parse_host_port("host:8x"));
}

TEST(Config, EveryOptionHasAnEnvironmentName) {
  for (const auto& name : option_names()) {
    node_config c;
    std::string env = "CAIRN_";
    for (char ch : name) env += ch == '.' ? '_' : static_cast<char>(std::toupper(ch));
    const bool is_list = name == "peers";
    const bool is_bool = name == "bootstrap";
    const bool is_string =
        !is_list && !is_bool &&
        (name.find("dir") != std::string::npos || name.find("tls") == 0 || name == "listen" ||
         name == "advertise" || name == "admin_listen" || name == "log_level");
    const std::string value = is_bool ? "true" : is_string || is_list ? "x:1" : "42";
    auto unknown = apply_environment(c, {{env, value}});
    EXPECT_TRUE(unknown.empty()) << name;
  }
}

}  // namespace
}  // namespace cairn::runtime
