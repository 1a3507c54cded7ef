// tests/actors/shard/replica_namespace_test.cpp — the namespace state
// machine inside a shard replica (actors/shard/replica.h): commands are
// proposed, committed and applied through Raft with their results as the
// reply; linearizable namespace reads; and after snapshots and a restart
// the replica comes back with the same namespace (the combined snapshot of
// both state machines, NC3).
#include <gtest/gtest.h>

#include "actors/shard/replica.h"
#include "actors/shard/shard_actor.h"
#include "sim/sim_disk.h"

namespace cairn::shard {
namespace {

constexpr bucket_id bucket{1};

struct no_network final : network {
  void send(raft::node_id, raft::bytes) override {}
};
struct counter_random final : random_source {
  std::uint64_t next() override { return ++n * 0x9e3779b97f4a7c15ull; }
  std::uint64_t n = 0;
};

class ReplicaNamespace : public ::testing::Test {
 protected:
  std::unique_ptr<replica> start(std::uint64_t snapshot_log_percent = 0) {
    replica_options o;
    o.snapshot_log_percent = snapshot_log_percent;
    o.raft.id = raft::node_id{1};
    o.raft.election_timeout_ticks = 10;
    o.raft.heartbeat_interval_ticks = 2;
    o.snapshot_every_entries = 20;
    o.retain_entries_after_snapshot = 5;
    o.incarnation = ++incarnation_;
    environment env;
    env.storage = &disk_;
    env.net = &net_;
    env.random = &random_;
    auto r = std::make_unique<replica>(o, env);
    r->campaign();
    for (int i = 0; i < 50 && r->core().leader() != raft::node_id{1}; ++i) r->tick();
    EXPECT_EQ(r->core().leader(), raft::node_id{1});
    return r;
  }
  ns_result propose(replica& r, ns_command c) {
    std::optional<client_reply> got;
    r.propose_namespace(std::move(c), [&](client_reply reply) { got = std::move(reply); });
    EXPECT_TRUE(got) << "a single voter commits and applies at once";
    if (!got) return {};
    EXPECT_EQ(got->code, reply_code::ok) << got->value;
    auto result = decode_ns_result(got->value);
    EXPECT_TRUE(result);
    return result.value_or(ns_result{});
  }
  std::string head_etag(replica& r, const std::string& key) {
    std::optional<client_reply> got;
    r.read_namespace(
        [key](const namespace_state& ns) {
          const object_version* v = nullptr;
          return ns.head(bucket, key, &v) == ns_status::ok ? v->etag : std::string("-");
        },
        [&](client_reply reply) { got = std::move(reply); });
    for (int i = 0; i < 20 && !got; ++i) r.tick();
    EXPECT_TRUE(got);
    return got ? got->value : "";
  }
  static ns_command put(const std::string& key, const std::string& etag, std::int64_t now) {
    ns_command c;
    c.now_ns = now;
    put_object_command p;
    p.bucket = bucket;
    p.key = key;
    p.version.etag = etag;
    p.version.size = 4 << 20;
    chunk_ref ref;
    ref.id[0] = static_cast<std::uint8_t>(now);
    ref.length = 4 << 20;
    p.version.chunks = {ref};
    p.now_ns = now;
    c.body = p;
    return c;
  }

  sim::sim_disk disk_{raft::conf_state{{raft::node_id{1}}, {}, {}, {}, false}, 7};
  no_network net_;
  counter_random random_;
  std::uint64_t incarnation_ = 0;
};

TEST_F(ReplicaNamespace, SnapshotsFollowTheLogsShareOfTheStateNotAFixedCount) {
  // With snapshot_log_percent, a growing namespace is snapshotted at
  // geometrically spaced points: the bytes snapshots write stay
  // proportional to the log's bytes instead of growing with its square.
  auto run = [&](std::uint64_t percent, std::uint64_t& snapshot_bytes) {
    disk_ = sim::sim_disk{raft::conf_state{{raft::node_id{1}}, {}, {}, {}, false}, 7};
    auto r = start(percent);
    ns_command create;
    create.now_ns = 1;
    create.body = create_bucket_command{bucket};
    EXPECT_EQ(propose(*r, create).status, ns_status::ok);
    snapshot_bytes = 0;
    std::uint64_t taken = 0;
    for (int i = 0; i < 2000; ++i) {
      EXPECT_EQ(propose(*r, put("k" + std::to_string(i), "\"e\"", 10 + i)).status, ns_status::ok);
      if (r->metrics().snapshots_taken != taken) {
        taken = r->metrics().snapshots_taken;
        snapshot_bytes += r->core().latest_snapshot().data.size();
      }
    }
    const auto fingerprint = namespace_fingerprint(r->names());
    r.reset();
    r = start(percent);
    EXPECT_EQ(namespace_fingerprint(r->names()), fingerprint) << "percent " << percent;
    return taken;
  };
  std::uint64_t fixed_bytes = 0, shared_bytes = 0;
  const auto fixed = run(0, fixed_bytes);
  const auto shared = run(50, shared_bytes);
  EXPECT_GE(fixed, 99u);  // one per 20 entries
  EXPECT_GT(shared, 3u);
  EXPECT_LT(shared, 20u);
  EXPECT_LT(shared_bytes * 5, fixed_bytes) << shared_bytes << " vs " << fixed_bytes;
}

TEST_F(ReplicaNamespace, CommandsApplyThroughRaftAndSurviveSnapshotsAndRestart) {
  auto r = start();
  ns_command create;
  create.now_ns = 1;
  create.body = create_bucket_command{bucket};
  EXPECT_EQ(propose(*r, create).status, ns_status::ok);
  EXPECT_EQ(propose(*r, create).status, ns_status::bucket_exists) << "a result, not a failure";
  for (int i = 0; i < 60; ++i)  // enough for several snapshots
    ASSERT_EQ(propose(*r, put("d" + std::to_string(i % 4) + "/k" + std::to_string(i),
                              "\"" + std::to_string(i) + "\"", 10 + i))
                  .status,
              ns_status::ok);
  EXPECT_EQ(propose(*r, put("d1", "\"x\"", 99)).status, ns_status::path_conflict);
  EXPECT_EQ(head_etag(*r, "d2/k42"), "\"42\"");
  EXPECT_EQ(head_etag(*r, "d2/k43"), "-");
  EXPECT_GT(r->metrics().snapshots_taken, 0u);
  const auto before = namespace_fingerprint(r->names());
  const auto keys_before = r->names().inode_count(bucket);

  // Restart from what the disk holds: the snapshot, then the log after it.
  r.reset();
  r = start();
  EXPECT_EQ(namespace_fingerprint(r->names()), before);
  EXPECT_EQ(r->names().inode_count(bucket), keys_before);
  EXPECT_EQ(head_etag(*r, "d2/k42"), "\"42\"");
  // The key-value machine lives on beside it.
  std::optional<client_reply> stored;
  r->put("plain-key", "v", [&](client_reply reply) { stored = reply; });
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->code, reply_code::ok);
  EXPECT_EQ(r->state().get("plain-key"), "v");
}

/// The same through the shard actor's messages, as a gateway session uses
/// them: (ns, encoded command) and (nsread, query).
TEST_F(ReplicaNamespace, TheShardActorTakesNamespaceCommandsAndReads) {
  replica_options o;
  o.raft.id = raft::node_id{1};
  o.raft.election_timeout_ticks = 10;
  o.raft.heartbeat_interval_ticks = 2;
  environment env;
  env.storage = &disk_;
  env.net = &net_;
  env.random = &random_;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto shard = sys.spawn(shard_actor, o, env);
  self->send(shard, campaign_atom::value);
  auto propose = [&](const ns_command& c) {
    std::optional<ns_result> out;
    for (int attempt = 0; attempt < 100 && !out; ++attempt) {
      self->request(shard, caf::infinite, ns_atom::value, encode_ns_command(c))
          .receive(
              [&](std::uint8_t code, const std::string& value) {
                if (code == 0) out = decode_ns_result(value);
              },
              [](caf::error&) {});
      if (!out) self->send(shard, tick_atom::value);  // not leader yet
    }
    return out;
  };
  ns_command create;
  create.body = create_bucket_command{bucket};
  const auto created = propose(create);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, ns_status::ok);
  const auto put_result = propose(put("photos/cat.jpg", "\"c\"", 5));
  ASSERT_TRUE(put_result);
  EXPECT_EQ(put_result->status, ns_status::ok);
  EXPECT_EQ(propose(put("photos", "\"x\"", 6))->status, ns_status::path_conflict);

  auto query = std::make_shared<const replica::namespace_query>([](const namespace_state& ns) {
    list_result out;
    ns.list(bucket, {"photos/", "/", "", 10}, out);
    std::string keys;
    for (const auto& o : out.objects) keys += o.key + "=" + o.version->etag + ";";
    return keys;
  });
  std::string listed;
  self->request(shard, caf::infinite, ns_read_atom::value, namespace_query_ptr{query})
      .receive(
          [&](std::uint8_t code, const std::string& value) {
            EXPECT_EQ(code, 0);
            listed = value;
          },
          [](caf::error&) { FAIL(); });
  EXPECT_EQ(listed, "photos/cat.jpg=\"c\";");
  self->request(shard, caf::infinite, ns_atom::value, std::string("garbage!"))
      .receive(
          [](std::uint8_t code, const std::string&) {
            EXPECT_EQ(code, static_cast<std::uint8_t>(reply_code::invalid));
          },
          [](caf::error&) { FAIL(); });
  self->send_exit(shard, caf::exit_reason::user_shutdown);
  self->wait_for(shard);
}

}  // namespace
}  // namespace cairn::shard
