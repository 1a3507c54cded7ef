// tests/actors/shard/namespace_state_test.cpp — the namespace state machine
// (actors/shard/namespace_state.h): keys as paths (ADR 0005), implicit and
// explicit directories, conditional writes, chunk reference counts, S3
// listing order, and a model-based property: the tree answers every
// put/delete/head/list exactly as a flat S3 key map with the ADR's rules
// does, and NS1-NS6 hold after every command.
#include "actors/shard/namespace_state.h"
#include "actors/shard/namespace_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <rapidcheck/gtest.h>
#include "schema/capnp_frames.h"
#include "schema/namespace.capnp.h"

#include <set>

namespace cairn::shard {
namespace {

constexpr bucket_id bucket{7};

chunk_hash chunk_of(std::uint8_t n) {
  chunk_hash h{};
  h[0] = n;
  return h;
}

object_version version_of(std::string etag, std::vector<std::uint8_t> chunks = {}) {
  object_version v;
  v.etag = std::move(etag);
  std::uint64_t offset = 0;
  for (auto c : chunks) {
    v.chunks.push_back({chunk_of(c), offset, 100, 0x0402, 1, {}});
    offset += 100;
  }
  v.size = offset;
  return v;
}

struct fixture {
  namespace_state ns;
  std::int64_t now = 1000;
  fixture() { EXPECT_EQ(ns.create_bucket(bucket, now).status, ns_status::ok); }
  ns_result put(const std::string& key, object_version v = version_of("\"e\""),
                write_condition cond = {}) {
    put_object_command c;
    c.bucket = bucket;
    c.key = key;
    c.version = std::move(v);
    c.condition = std::move(cond);
    c.now_ns = ++now;
    auto r = ns.put_object(c);
    ns.check_invariants();
    return r;
  }
  ns_result del(const std::string& key, std::optional<std::string> if_match = {}) {
    delete_object_command c{bucket, key, std::move(if_match), ++now};
    auto r = ns.delete_object(c);
    ns.check_invariants();
    return r;
  }
  std::vector<std::string> keys(const std::string& prefix = "", const std::string& delimiter = "",
                                std::vector<std::string>* prefixes = nullptr) {
    list_result out;
    EXPECT_EQ(ns.list(bucket, {prefix, delimiter, "", 1000}, out), ns_status::ok);
    std::vector<std::string> k;
    for (const auto& o : out.objects) k.push_back(o.key);
    if (prefixes) *prefixes = out.common_prefixes;
    return k;
  }
};

TEST(NamespaceKeys, KeysThatAreNotPathsAreRefusedWithTheRule) {
  parsed_key p;
  EXPECT_EQ(parse_key("a/b/c.bin", p), key_problem::none);
  EXPECT_EQ(p.components, (std::vector<std::string>{"a", "b", "c.bin"}));
  EXPECT_FALSE(p.marker);
  EXPECT_EQ(parse_key("a/b/", p), key_problem::none);
  EXPECT_TRUE(p.marker);
  EXPECT_EQ(p.components, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parse_key("", p), key_problem::empty);
  EXPECT_EQ(parse_key("/", p), key_problem::empty_component);
  EXPECT_EQ(parse_key("a//b", p), key_problem::empty_component);
  EXPECT_EQ(parse_key("/a", p), key_problem::empty_component);
  EXPECT_EQ(parse_key("a//", p), key_problem::empty_component);
  EXPECT_EQ(parse_key("a/./b", p), key_problem::dot_component);
  EXPECT_EQ(parse_key("..", p), key_problem::dot_component);
  EXPECT_EQ(parse_key(std::string(256, 'n'), p), key_problem::component_too_long);
  EXPECT_EQ(parse_key(std::string(255, 'n'), p), key_problem::none);
  std::string long_key;
  while (long_key.size() <= key_bytes_max) long_key += "abcdefgh/";
  EXPECT_EQ(parse_key(long_key, p), key_problem::too_long);
  EXPECT_EQ(parse_key("a/.../b", p), key_problem::none) << "only . and .. are special";

  fixture f;
  const auto r = f.put("a//b");
  EXPECT_EQ(r.status, ns_status::invalid_key);
  EXPECT_EQ(r.problem, key_problem::empty_component);
  EXPECT_EQ(f.ns.inode_count(bucket), 1u) << "nothing was written";
}

TEST(Namespace, DeepKeysCreateImplicitDirectoriesThatGoWithTheirLastKey) {
  fixture f;
  ASSERT_EQ(f.put("a/b/c.bin").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_count(bucket), 4u);  // root, a, b, c.bin
  const auto* dir = f.ns.find(bucket, "a/b/");
  ASSERT_TRUE(dir);
  EXPECT_EQ(dir->kind, inode_kind::directory);
  EXPECT_FALSE(dir->explicit_dir);
  const object_version* v = nullptr;
  EXPECT_EQ(f.ns.head(bucket, "a/b/", &v), ns_status::no_such_key) << "implicit: no marker object";
  EXPECT_EQ(f.ns.head(bucket, "a/b/c.bin", &v), ns_status::ok);
  const auto c_inode = f.ns.find(bucket, "a/b/c.bin")->id;
  ASSERT_EQ(f.put("a/b/c.bin", version_of("\"f\"")).inode, c_inode) << "stable inode on overwrite";
  ASSERT_EQ(f.del("a/b/c.bin").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_count(bucket), 1u) << "empty implicit directories are pruned (NS3)";
  EXPECT_EQ(f.ns.delete_bucket(bucket).status, ns_status::ok);
}

TEST(Namespace, MarkersAreExplicitDirectoriesAndDeletingOneKeepsItsKeys) {
  fixture f;
  ASSERT_EQ(f.put("photos/").status, ns_status::ok);
  const object_version* v = nullptr;
  EXPECT_EQ(f.ns.head(bucket, "photos/", &v), ns_status::ok);
  EXPECT_EQ(v->size, 0u);
  EXPECT_EQ(f.put("docs/", version_of("\"x\"", {1})).status, ns_status::invalid_argument)
      << "a marker has no body";
  ASSERT_EQ(f.put("photos/cat.jpg").status, ns_status::ok);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"photos/", "photos/cat.jpg"}));
  ASSERT_EQ(f.del("photos/").status, ns_status::ok);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"photos/cat.jpg"})) << "the keys under it stay";
  EXPECT_EQ(f.del("photos/").status, ns_status::no_such_key);
  ASSERT_EQ(f.del("photos/cat.jpg").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_count(bucket), 1u);
  ASSERT_EQ(f.put("empty/").status, ns_status::ok);
  ASSERT_EQ(f.del("empty/").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_count(bucket), 1u);
}

TEST(Namespace, AKeyThatIsAFileAndADirectoryAtOnceIsAConflictNamingTheKey) {
  fixture f;
  ASSERT_EQ(f.put("a").status, ns_status::ok);
  auto r = f.put("a/b");
  EXPECT_EQ(r.status, ns_status::path_conflict);
  EXPECT_EQ(r.conflict, "a");
  ASSERT_EQ(f.put("x/y/z").status, ns_status::ok);
  r = f.put("x/y");
  EXPECT_EQ(r.status, ns_status::path_conflict);
  EXPECT_EQ(r.conflict, "x/y/");
  EXPECT_EQ(f.put("a/").status, ns_status::path_conflict);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"a", "x/y/z"})) << "nothing half-written (NS6)";
}

TEST(Namespace, ConditionalWritesAreAtomicWithTheWrite) {
  fixture f;
  write_condition absent;
  absent.if_none_match_any = true;
  EXPECT_EQ(f.put("k", version_of("\"1\""), absent).status, ns_status::ok);
  EXPECT_EQ(f.put("k", version_of("\"2\""), absent).status, ns_status::precondition_failed);
  write_condition match;
  match.if_match = "\"9\"";
  EXPECT_EQ(f.put("k", version_of("\"2\""), match).status, ns_status::precondition_failed);
  match.if_match = "\"1\"";
  EXPECT_EQ(f.put("k", version_of("\"2\""), match).status, ns_status::ok);
  EXPECT_EQ(f.put("missing", version_of("\"2\""), match).status, ns_status::no_such_key);
  EXPECT_EQ(f.del("k", "\"1\"").status, ns_status::precondition_failed);
  EXPECT_EQ(f.del("k", "\"2\"").status, ns_status::ok);
}

TEST(Namespace, ChunkReferencesFollowCurrentVersionsAndReportGarbage) {
  fixture f;
  ASSERT_EQ(f.put("a", version_of("\"a\"", {1, 2})).status, ns_status::ok);
  ASSERT_EQ(f.put("b", version_of("\"b\"", {2, 2, 3})).status, ns_status::ok);
  EXPECT_EQ(f.ns.references(chunk_of(2)), 3u);
  auto r = f.put("a", version_of("\"a2\"", {1, 4}));  // 2 loses a reference, 1 keeps its own
  EXPECT_TRUE(r.unreferenced.empty());
  EXPECT_EQ(f.ns.references(chunk_of(1)), 1u);
  r = f.del("b");
  EXPECT_EQ(std::set<chunk_hash>(r.unreferenced.begin(), r.unreferenced.end()),
            (std::set<chunk_hash>{chunk_of(2), chunk_of(3)}));
  EXPECT_EQ(f.ns.chunk_count(), 2u);
}

TEST(Namespace, ACopyReusesChunksOnlyWhileTheyAreStillReferenced) {
  fixture f;
  ASSERT_EQ(f.put("src", version_of("\"s\"", {1, 2})).status, ns_status::ok);
  write_condition copy;
  copy.chunks_referenced = true;
  ASSERT_EQ(f.put("dst", version_of("\"s\"", {1, 2}), copy).status, ns_status::ok);
  EXPECT_EQ(f.ns.references(chunk_of(1)), 2u);
  // The source goes and its copy with it: their chunks reach zero.
  ASSERT_EQ(f.del("src").status, ns_status::ok);
  auto r = f.del("dst");
  EXPECT_EQ(r.unreferenced.size(), 2u);
  // A copy that read the source before it went must not revive its chunks (NS7).
  r = f.put("late", version_of("\"s\"", {1, 2}), copy);
  EXPECT_EQ(r.status, ns_status::source_changed);
  EXPECT_EQ(f.ns.find(bucket, "late"), nullptr) << "NS6: nothing changed";
  EXPECT_EQ(f.ns.chunk_count(), 0u);
  // The same for a part copied into an upload.
  ASSERT_EQ(f.ns.create_upload({bucket, "up", "u1", "", {}, 1}).status, ns_status::ok);
  upload_part_command part;
  part.bucket = bucket;
  part.upload_id = "u1";
  part.part_number = 1;
  part.part = {"\"s\"", 100, version_of("", {1}).chunks, 0};
  part.chunks_referenced = true;
  EXPECT_EQ(f.ns.put_part(part).status, ns_status::source_changed);
  part.chunks_referenced = false;  // freshly written chunks need no source
  EXPECT_EQ(f.ns.put_part(part).status, ns_status::ok);
  f.ns.check_invariants();
}

TEST(NamespaceGarbage, UnreferencedChunksQueueUntilTheCollectorIsDone) {
  fixture f;
  ASSERT_EQ(f.put("a", version_of("\"a\"", {1, 2})).status, ns_status::ok);
  ASSERT_EQ(f.put("b", version_of("\"b\"", {2})).status, ns_status::ok);
  EXPECT_TRUE(f.ns.garbage().empty());
  f.ns.set_now(5000);
  ASSERT_EQ(f.del("a").status, ns_status::ok);  // 1 goes, 2 is still b's
  ASSERT_EQ(f.ns.garbage().size(), 1u);
  EXPECT_EQ(f.ns.garbage().begin()->first, chunk_of(1));
  EXPECT_EQ(f.ns.garbage().begin()->second.since_ns, 5000);
  // Referenced again before the collector takes it: no longer garbage.
  ASSERT_EQ(f.put("c", version_of("\"c\"", {1})).status, ns_status::ok);
  EXPECT_TRUE(f.ns.garbage().empty());
  ASSERT_EQ(f.del("c").status, ns_status::ok);
  ASSERT_EQ(f.del("b").status, ns_status::ok);
  ASSERT_EQ(f.ns.garbage().size(), 2u);
  // The collector takes chunk 1 (and asks for one that is not garbage).
  auto r = f.ns.collect_begin({{chunk_of(1), chunk_of(9)}});
  EXPECT_EQ(r.granted, std::vector<chunk_hash>{chunk_of(1)});
  EXPECT_TRUE(f.ns.collect_begin({{chunk_of(1)}}).granted.empty()) << "granted once";
  f.ns.check_invariants();
  // NS8: while it is collected, nothing may reference it; nothing changes.
  EXPECT_EQ(f.put("d", version_of("\"d\"", {1})).status, ns_status::chunk_collecting);
  EXPECT_EQ(f.ns.find(bucket, "d"), nullptr);
  EXPECT_EQ(f.put("e", version_of("\"e\"", {2})).status, ns_status::ok)
      << "chunk 2 is garbage but not being collected: taken back";
  EXPECT_EQ(f.ns.garbage().size(), 1u);
  ASSERT_EQ(f.ns.create_upload({bucket, "up", "u1", "", {}, 1}).status, ns_status::ok);
  upload_part_command part;
  part.bucket = bucket;
  part.upload_id = "u1";
  part.part_number = 1;
  part.part = {"\"p\"", 100, version_of("", {1}).chunks, 0};
  EXPECT_EQ(f.ns.put_part(part).status, ns_status::chunk_collecting);
  // An aborted collection leaves it queued; an ended one forgets it.
  f.ns.collect_abort({{chunk_of(1)}});
  EXPECT_FALSE(f.ns.garbage().at(chunk_of(1)).collecting);
  EXPECT_EQ(f.ns.collect_begin({{chunk_of(1)}}).granted.size(), 1u);
  f.ns.collect_end({{chunk_of(1)}});
  EXPECT_TRUE(f.ns.garbage().empty());
  // Written again after the collection: a fresh chunk, referenced as usual.
  EXPECT_EQ(f.put("d", version_of("\"d\"", {1})).status, ns_status::ok);
  f.ns.check_invariants();
}

TEST(NamespaceGarbage, OrphansOfFailedWritesAreQueuedUnlessReferenced) {
  fixture f;
  ASSERT_EQ(f.put("a", version_of("\"a\"", {1})).status, ns_status::ok);
  report_orphans_command c;
  c.chunks = version_of("", {1, 3}).chunks;  // 1 is a's: not an orphan
  c.now_ns = 77;
  EXPECT_EQ(f.ns.report_orphans(c).status, ns_status::ok);
  ASSERT_EQ(f.ns.garbage().size(), 1u);
  EXPECT_EQ(f.ns.garbage().begin()->first, chunk_of(3));
  EXPECT_EQ(f.ns.garbage().begin()->second.since_ns, 77);
  f.ns.check_invariants();
}

TEST(NamespaceInodes, LookupKeysAndDirectoryPagesByInode) {
  // ADR 0008: what NFS and FUSE ask, by inode.
  fixture f;
  for (const char* k : {"d/a", "d/b", "d/c/", "d/c/x", "d/e", "top"}) f.put(k);
  const auto* d = f.ns.lookup(bucket, root_inode, "d");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, inode_kind::directory);
  EXPECT_EQ(d->name, "d");
  EXPECT_EQ(f.ns.key_of(bucket, d->id), "d/");
  const auto* c = f.ns.lookup(bucket, d->id, "c");
  ASSERT_TRUE(c);
  EXPECT_EQ(f.ns.key_of(bucket, f.ns.lookup(bucket, c->id, "x")->id), "d/c/x");
  EXPECT_EQ(f.ns.lookup(bucket, d->id, "c/"), nullptr) << "names never hold '/'";
  EXPECT_EQ(f.ns.lookup(bucket, d->id, "zz"), nullptr);
  EXPECT_EQ(f.ns.lookup(bucket, f.ns.lookup(bucket, root_inode, "top")->id, "a"), nullptr)
      << "a file has no entries";
  EXPECT_EQ(f.ns.inode_of(bucket, d->id), d);
  EXPECT_EQ(f.ns.key_of(bucket, root_inode), "");

  // Pages of two, resumed after the last entry of each page.
  std::vector<std::string> names;
  std::vector<namespace_state::named_inode> page;
  bool end = false;
  inode_id after = root_inode;
  for (int pages = 0; !end; ++pages) {
    ASSERT_LT(pages, 4);
    ASSERT_EQ(f.ns.read_directory(bucket, d->id, after, 0, 2, page, end),
              namespace_state::page_status::ok);
    for (const auto& e : page) names.emplace_back(e.name);
    if (!page.empty()) after = page.back().node->id;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "e"}));

  // A cookie stays good while other entries come and go, and goes stale
  // when its own entry leaves.
  const auto b_id = f.ns.lookup(bucket, d->id, "b")->id;
  f.put("d/bb");
  f.del("d/a");
  ASSERT_EQ(f.ns.read_directory(bucket, d->id, b_id, 0, 10, page, end),
            namespace_state::page_status::ok);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].name, "bb");
  EXPECT_TRUE(end);
  f.del("d/b");
  EXPECT_EQ(f.ns.read_directory(bucket, d->id, b_id, 0, 10, page, end),
            namespace_state::page_status::entry_gone);
  EXPECT_EQ(f.ns.read_directory(bucket, f.ns.lookup(bucket, root_inode, "top")->id, root_inode, 0,
                                10, page, end),
            namespace_state::page_status::not_a_directory);
  EXPECT_EQ(f.ns.read_directory(bucket, inode_id{999}, root_inode, 0, 10, page, end),
            namespace_state::page_status::no_such_directory);

  // Names survive a snapshot (they are derived from the entries).
  namespace_state restored;
  ASSERT_TRUE(restore_namespace(restored, snapshot_namespace(f.ns)));
  const auto* rd = restored.lookup(bucket, root_inode, "d");
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->name, "d");
  EXPECT_EQ(restored.key_of(bucket, restored.lookup(bucket, rd->id, "bb")->id), "d/bb");
}

TEST(NamespaceInodes, MakeRemoveRenameAndSetAttributesByInode) {
  // ADR 0008: NFS and FUSE change the tree by inode and name.
  fixture f;
  auto run = [&](auto command) {
    command.now_ns = ++f.now;
    ns_command c;
    c.now_ns = command.now_ns;
    c.body = command;
    auto r = apply_ns_command(f.ns, c);
    f.ns.check_invariants();
    return r;
  };
  auto node = [](inode_id dir, std::string name, inode_kind kind, std::uint32_t mode = 0644,
                 std::uint32_t uid = 0, std::uint32_t gid = 0) {
    make_node_command m;
    m.bucket = bucket;
    m.dir = dir;
    m.name = std::move(name);
    m.kind = kind;
    m.mode = mode;
    m.uid = uid;
    m.gid = gid;
    return m;
  };
  // mkdir d; create d/f (an empty object for S3); symlink d/l.
  auto d = run(node(root_inode, "d", inode_kind::directory, 0750, 7, 8));
  ASSERT_EQ(d.status, ns_status::ok);
  auto file = run(node(d.inode, "f", inode_kind::file, 0640, 7, 8));
  ASSERT_EQ(file.status, ns_status::ok);
  auto link = node(d.inode, "l", inode_kind::symlink, 0777, 7, 8);
  link.target = "f";
  ASSERT_EQ(run(link).status, ns_status::ok);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"d/", "d/f"})) << "a symlink is no object";
  const object_version* v = nullptr;
  ASSERT_EQ(f.ns.head(bucket, "d/f", &v), ns_status::ok);
  EXPECT_EQ(v->size, 0u);
  EXPECT_EQ(f.ns.inode_of(bucket, file.inode)->mode, 0640u);
  EXPECT_EQ(f.ns.lookup(bucket, d.inode, "l")->target, "f");

  // Names that are taken, and names that are not names.
  auto again = node(d.inode, "f", inode_kind::file);
  EXPECT_EQ(run(again).status, ns_status::entry_exists) << "guarded";
  again.how = create_how::unchecked;
  auto unchecked = run(again);
  EXPECT_EQ(unchecked.status, ns_status::ok);
  EXPECT_EQ(unchecked.inode, file.inode);
  EXPECT_EQ(run(node(d.inode, "f", inode_kind::directory)).status, ns_status::entry_exists);
  for (const char* bad : {"", ".", "..", "a/b"}) {
    auto r = run(node(d.inode, bad, inode_kind::file));
    EXPECT_EQ(r.status, ns_status::invalid_key) << bad;
  }
  EXPECT_EQ(run(node(d.inode, std::string(256, 'n'), inode_kind::file)).problem,
            key_problem::component_too_long);
  EXPECT_EQ(run(node(file.inode, "x", inode_kind::file)).status, ns_status::not_a_directory);
  EXPECT_EQ(run(node(inode_id{9999}, "x", inode_kind::file)).status, ns_status::no_such_inode);

  // EXCLUSIVE: a retry with the same verifier gets the same file.
  auto excl = node(d.inode, "e", inode_kind::file);
  excl.how = create_how::exclusive;
  excl.verifier = 77;
  auto first = run(excl);
  ASSERT_EQ(first.status, ns_status::ok);
  EXPECT_EQ(run(excl).inode, first.inode);
  excl.verifier = 78;
  EXPECT_EQ(run(excl).status, ns_status::entry_exists);

  // SETATTR, with a guard.
  set_attributes_command sa;
  sa.bucket = bucket;
  sa.inode = first.inode;
  sa.mode = 0600;
  sa.mtime_ns = 5;
  sa.guard_ctime_ns = 1;  // not its ctime
  EXPECT_EQ(run(sa).status, ns_status::not_synchronized);
  sa.guard_ctime_ns = f.ns.inode_of(bucket, first.inode)->ctime_ns;
  EXPECT_EQ(run(sa).status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, first.inode)->mode, 0600u);
  EXPECT_EQ(f.ns.inode_of(bucket, first.inode)->mtime_ns, 5);

  // Extended attributes (NS9): create, replace, remove, and their bound;
  // a refused change changes nothing (NS6).
  set_attributes_command xa;
  xa.bucket = bucket;
  xa.inode = first.inode;
  xa.xattr_name = "user.a";
  xa.xattr_value = "1";
  xa.xattr_mode = xattr_how::replace;
  EXPECT_EQ(run(xa).status, ns_status::no_such_key) << "replace of a missing name";
  xa.xattr_mode = xattr_how::create;
  EXPECT_EQ(run(xa).status, ns_status::ok);
  EXPECT_EQ(run(xa).status, ns_status::entry_exists) << "create of a present name";
  xa.xattr_mode = xattr_how::replace;
  xa.xattr_value = "2";
  xa.mode = 0640;
  EXPECT_EQ(run(xa).status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, first.inode)->xattrs.at("user.a"), "2");
  EXPECT_EQ(f.ns.inode_of(bucket, first.inode)->mode, 0640u);
  xa.xattr_name = "user.big";
  xa.xattr_value = std::string(xattrs_bytes_max, 'x');
  xa.xattr_mode = xattr_how::either;
  xa.mode = 0600;
  EXPECT_EQ(run(xa).status, ns_status::invalid_argument) << "over the inode's bound";
  EXPECT_EQ(f.ns.inode_of(bucket, first.inode)->mode, 0640u) << "NS6: nothing changed";
  EXPECT_EQ(f.ns.inode_of(bucket, first.inode)->xattrs.size(), 1u);
  xa.mode.reset();
  xa.xattr_name = std::string(xattr_name_bytes_max + 1, 'n');
  xa.xattr_value = "v";
  EXPECT_EQ(run(xa).status, ns_status::invalid_argument) << "a name too long";
  xa.xattr_name = "user.a";
  xa.xattr_value.reset();
  EXPECT_EQ(run(xa).status, ns_status::ok);
  EXPECT_EQ(run(xa).status, ns_status::no_such_key) << "removed twice";
  EXPECT_TRUE(f.ns.inode_of(bucket, first.inode)->xattrs.empty());

  // A directory rename moves its subtree in one step: S3 sees new keys.
  f.put("d/sub/deep.txt");
  ASSERT_EQ(run(rename_node_command{bucket, root_inode, "d", root_inode, "renamed"}).status,
            ns_status::ok);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"renamed/", "renamed/e", "renamed/f",
                                                "renamed/sub/deep.txt"}));
  const auto renamed = f.ns.lookup(bucket, root_inode, "renamed")->id;
  EXPECT_EQ(renamed, d.inode) << "same inode, new name";
  EXPECT_EQ(run(rename_node_command{bucket, root_inode, "renamed", renamed, "inside"}).status,
            ns_status::invalid_argument)
      << "a directory never moves into itself";
  const auto sub = f.ns.lookup(bucket, renamed, "sub")->id;
  EXPECT_EQ(run(rename_node_command{bucket, root_inode, "renamed", sub, "x"}).status,
            ns_status::invalid_argument);

  // A file over a file replaces it and frees its chunks; kinds must match.
  f.put("renamed/big", version_of("\"b\"", {42}));
  ASSERT_EQ(f.ns.references(chunk_of(42)), 1u);
  auto over = run(rename_node_command{bucket, renamed, "f", renamed, "big"});
  ASSERT_EQ(over.status, ns_status::ok);
  EXPECT_EQ(over.unreferenced, (std::vector<chunk_hash>{chunk_of(42)}));
  EXPECT_EQ(f.ns.lookup(bucket, renamed, "big")->id, file.inode);
  EXPECT_EQ(run(rename_node_command{bucket, renamed, "big", root_inode, "renamed"}).status,
            ns_status::is_a_directory);
  EXPECT_EQ(run(rename_node_command{bucket, root_inode, "renamed", renamed, "big"}).status,
            ns_status::invalid_argument);
  EXPECT_EQ(run(rename_node_command{bucket, renamed, "nope", renamed, "x"}).status,
            ns_status::no_such_key);

  // REMOVE and RMDIR.
  EXPECT_EQ(run(remove_node_command{bucket, renamed, "sub", false}).status,
            ns_status::is_a_directory);
  EXPECT_EQ(run(remove_node_command{bucket, renamed, "sub", true}).status,
            ns_status::directory_not_empty);
  EXPECT_EQ(run(remove_node_command{bucket, renamed, "big", true}).status,
            ns_status::not_a_directory);
  EXPECT_EQ(run(remove_node_command{bucket, renamed, "big", false}).status, ns_status::ok);
  EXPECT_EQ(run(remove_node_command{bucket, renamed, "l", false}).status, ns_status::ok);
  // The implicit directory "sub" goes with its last entry (NS3); "renamed"
  // is explicit and stays when emptied.
  auto sub_dir = f.ns.lookup(bucket, renamed, "sub")->id;
  EXPECT_EQ(run(remove_node_command{bucket, sub_dir, "deep.txt", false}).status, ns_status::ok);
  EXPECT_EQ(f.ns.lookup(bucket, renamed, "sub"), nullptr);
  EXPECT_EQ(run(remove_node_command{bucket, renamed, "e", false}).status, ns_status::ok);
  EXPECT_EQ(run(remove_node_command{bucket, root_inode, "renamed", true}).status, ns_status::ok);
  EXPECT_TRUE(f.keys().empty());
}

TEST(NamespaceInodes, WriteRangeReplacesOnlyTheChunksItCovers) {
  fixture f;
  auto chunk = [](std::uint8_t id, std::uint64_t offset, std::uint64_t length) {
    chunk_ref r;
    r.id = chunk_of(id);
    r.offset = offset;
    r.length = length;
    return r;
  };
  constexpr std::uint64_t mib = 1 << 20;
  object_version v = version_of("\"v1\"");
  v.chunks = {chunk(1, 0, 4 * mib), chunk(2, 4 * mib, 4 * mib), chunk(3, 8 * mib, 2 * mib)};
  v.size = 10 * mib;
  const auto file = f.put("big", v).inode;
  auto run = [&](write_range_command w) {
    w.bucket = bucket;
    w.inode = file;
    w.now_ns = ++f.now;
    ns_command c;
    c.now_ns = w.now_ns;
    c.body = w;
    auto r = apply_ns_command(f.ns, c);
    f.ns.check_invariants();
    return r;
  };
  write_range_command w;
  w.expected_etag = "\"v1\"";
  w.from = 4 * mib;
  w.to = 8 * mib;
  w.chunks = {chunk(9, 4 * mib, 4 * mib)};
  w.size = 10 * mib;
  w.etag = "\"v2-3\"";
  // Refused: another version than read, a range cutting a chunk, a chunk
  // outside the range.
  auto stale = w;
  stale.expected_etag = "\"v0\"";
  EXPECT_EQ(run(stale).status, ns_status::precondition_failed);
  auto cut = w;
  cut.from = 5 * mib;
  cut.chunks = {chunk(9, 5 * mib, 3 * mib)};
  EXPECT_EQ(run(cut).status, ns_status::invalid_argument);
  auto outside = w;
  outside.chunks = {chunk(9, 8 * mib, 4 * mib)};
  EXPECT_EQ(run(outside).status, ns_status::invalid_argument);
  EXPECT_EQ(f.ns.references(chunk_of(2)), 1u) << "refused writes change nothing";

  // The middle chunk is replaced; the others stay.
  auto r = run(w);
  ASSERT_EQ(r.status, ns_status::ok);
  EXPECT_EQ(r.unreferenced, (std::vector<chunk_hash>{chunk_of(2)}));
  const object_version* now = nullptr;
  ASSERT_EQ(f.ns.head(bucket, "big", &now), ns_status::ok);
  ASSERT_EQ(now->chunks.size(), 3u);
  EXPECT_EQ(now->chunks[0].id, chunk_of(1));
  EXPECT_EQ(now->chunks[1].id, chunk_of(9));
  EXPECT_EQ(now->chunks[2].id, chunk_of(3));
  EXPECT_EQ(now->etag, "\"v2-3\"");

  // Grown sparse: a chunk far past the end, a gap before it.
  write_range_command grow;
  grow.expected_etag = "\"v2-3\"";
  grow.from = grow.to = 10 * mib;
  grow.to = 20 * mib;
  grow.chunks = {chunk(10, 16 * mib, 4 * mib)};
  grow.size = 20 * mib;
  grow.etag = "\"v3-4\"";
  ASSERT_EQ(run(grow).status, ns_status::ok);
  ASSERT_EQ(f.ns.head(bucket, "big", &now), ns_status::ok);
  EXPECT_EQ(now->size, 20 * mib);
  EXPECT_EQ(now->chunks.back().offset, 16 * mib);

  // Small again: the whole file goes inline and every chunk is released.
  write_range_command tiny;
  tiny.expected_etag = "\"v3-4\"";
  tiny.inline_sealed = {1, 2, 3};
  tiny.size = 3;
  tiny.etag = "\"v4\"";
  auto t = run(tiny);
  ASSERT_EQ(t.status, ns_status::ok);
  EXPECT_EQ(t.unreferenced.size(), 4u);
  EXPECT_EQ(f.ns.chunk_count(), 0u);
  // A directory is no file.
  write_range_command on_dir;
  on_dir.bucket = bucket;
  on_dir.inode = root_inode;
  EXPECT_EQ(f.ns.write_range(on_dir).status, ns_status::is_a_directory);
}

TEST(Namespace, ListingFollowsS3ByteOrderNotTreeOrder) {
  fixture f;
  for (const auto* k : {"a/b", "a-c", "a/a/x", "b", "a0"})
    ASSERT_EQ(f.put(k).status, ns_status::ok);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"a-c", "a/a/x", "a/b", "a0", "b"}));
  std::vector<std::string> prefixes;
  EXPECT_EQ(f.keys("", "/", &prefixes), (std::vector<std::string>{"a-c", "a0", "b"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"a/"}));
  EXPECT_EQ(f.keys("a/", "/", &prefixes), (std::vector<std::string>{"a/b"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"a/a/"}));
  EXPECT_EQ(f.keys("a", "", nullptr), (std::vector<std::string>{"a-c", "a/a/x", "a/b", "a0"}));
  // Pages of two, each starting after the last key or prefix of the page before.
  std::vector<std::string> seen;
  list_request req{"", "/", "", 2};
  for (int page = 0; page < 10; ++page) {
    list_result out;
    ASSERT_EQ(f.ns.list(bucket, req, out), ns_status::ok);
    for (const auto& o : out.objects) seen.push_back(o.key);
    for (const auto& p : out.common_prefixes) seen.push_back(p);
    if (!out.truncated) break;
    req.start_after = out.last;
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"a-c", "a/", "a0", "b"}));
}

TEST(NamespaceMultipart, PartsMoveIntoTheObjectAndTheRestIsReleased) {
  fixture f;
  const auto big = 6ull << 20;
  auto part = [&](std::uint32_t n, std::string etag, std::uint64_t size,
                  std::vector<std::uint8_t> chunks) {
    upload_part_command c;
    c.bucket = bucket;
    c.upload_id = "u1";
    c.part_number = n;
    c.part.etag = std::move(etag);
    c.part.size = size;
    for (auto ch : chunks) c.part.chunks.push_back({chunk_of(ch), 0, size, 0x0402, 1, {}});
    auto r = f.ns.put_part(c);
    f.ns.check_invariants();
    return r;
  };
  EXPECT_EQ(f.ns.create_upload({bucket, "big/file.bin", "u1", "application/x", {}, 1}).status,
            ns_status::ok);
  EXPECT_EQ(f.ns.create_upload({bucket, "big/", "u2", "", {}, 1}).status,
            ns_status::invalid_argument);
  EXPECT_EQ(part(1, "\"p1\"", big, {1}).status, ns_status::ok);
  EXPECT_EQ(part(2, "\"p2\"", big, {2}).status, ns_status::ok);
  EXPECT_EQ(part(2, "\"p2b\"", big, {3}).status, ns_status::ok);  // replaces part 2
  EXPECT_EQ(f.ns.references(chunk_of(2)), 0u);
  EXPECT_EQ(part(3, "\"p3\"", 10, {4}).status, ns_status::ok);
  EXPECT_EQ(part(0, "\"x\"", 1, {}).status, ns_status::invalid_argument);
  EXPECT_EQ(part(10001, "\"x\"", 1, {}).status, ns_status::invalid_argument);
  auto complete = [&](std::vector<std::pair<std::uint32_t, std::string>> parts) {
    complete_upload_command c;
    c.bucket = bucket;
    c.upload_id = "u1";
    c.parts = std::move(parts);
    c.etag = "\"abc-2\"";
    auto r = f.ns.complete_upload(c);
    f.ns.check_invariants();
    return r;
  };
  EXPECT_EQ(complete({{2, "\"p2b\""}, {1, "\"p1\""}}).status, ns_status::invalid_part_order);
  EXPECT_EQ(complete({{1, "\"p1\""}, {2, "\"p2\""}}).status, ns_status::invalid_part);
  EXPECT_EQ(complete({{1, "\"p1\""}, {4, "\"p4\""}}).status, ns_status::invalid_part);
  EXPECT_EQ(complete({{3, "\"p3\""}, {4, "\"p4\""}}).status, ns_status::entity_too_small)
      << "parts are checked in the order listed";
  // Part 3 (10 bytes) only as the last part.
  auto r = complete({{1, "\"p1\""}, {3, "\"p3\""}});
  EXPECT_EQ(r.status, ns_status::ok);
  EXPECT_EQ(std::set<chunk_hash>(r.unreferenced.begin(), r.unreferenced.end()),
            (std::set<chunk_hash>{chunk_of(3)}))
      << "the part not listed is released";
  const object_version* v = nullptr;
  ASSERT_EQ(f.ns.head(bucket, "big/file.bin", &v), ns_status::ok);
  EXPECT_EQ(v->size, big + 10);
  EXPECT_EQ(v->etag, "\"abc-2\"");
  EXPECT_EQ(v->content_type, "application/x");
  ASSERT_EQ(v->chunks.size(), 2u);
  EXPECT_EQ(v->chunks[1].offset, big);
  EXPECT_FALSE(f.ns.upload(bucket, "u1"));
  EXPECT_EQ(complete({{1, "\"p1\""}}).status, ns_status::no_such_upload);

  EXPECT_EQ(f.ns.create_upload({bucket, "other", "u3", "", {}, 1}).status, ns_status::ok);
  upload_part_command small;
  small.bucket = bucket;
  small.upload_id = "u3";
  small.part_number = 1;
  small.part.etag = "\"s\"";
  small.part.size = 100;
  small.part.chunks.push_back({chunk_of(9), 0, 100, 0x0402, 1, {}});
  ASSERT_EQ(f.ns.put_part(small).status, ns_status::ok);
  EXPECT_EQ(f.ns.uploads(bucket, "", "", 10).size(), 1u);
  r = f.ns.abort_upload({bucket, "u3"});
  EXPECT_EQ(r.unreferenced, std::vector<chunk_hash>{chunk_of(9)});
  EXPECT_EQ(f.ns.abort_upload({bucket, "u3"}).status, ns_status::no_such_upload);
  f.ns.check_invariants();
}

// --- the model: a flat S3 key map with ADR 0005's rules -----------------------

struct flat_model {
  std::map<std::string, std::pair<std::string, std::vector<std::uint8_t>>> objects;
  struct model_part {
    std::string etag;
    std::uint64_t size = 0;
    std::vector<std::uint8_t> chunks;
  };
  struct model_upload {
    std::string key;
    std::map<std::uint32_t, model_part> parts;
  };
  std::map<std::string, model_upload> uploads;

  ns_status create(const std::string& key, const std::string& id) {
    parsed_key p;
    if (parse_key(key, p) != key_problem::none) return ns_status::invalid_key;
    if (p.marker || uploads.count(id)) return ns_status::invalid_argument;
    uploads[id].key = key;
    return ns_status::ok;
  }
  ns_status part(const std::string& id, std::uint32_t n, model_part part) {
    const auto u = uploads.find(id);
    if (u == uploads.end()) return ns_status::no_such_upload;
    u->second.parts[n] = std::move(part);
    return ns_status::ok;
  }
  ns_status complete(const std::string& id,
                     const std::vector<std::pair<std::uint32_t, std::string>>& list,
                     const std::string& etag, const write_condition& cond) {
    const auto u = uploads.find(id);
    if (u == uploads.end()) return ns_status::no_such_upload;
    if (list.empty()) return ns_status::invalid_argument;
    std::vector<std::uint8_t> chunks;
    std::uint32_t previous = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (list[i].first <= previous) return ns_status::invalid_part_order;
      previous = list[i].first;
      const auto p = u->second.parts.find(list[i].first);
      if (p == u->second.parts.end() || p->second.etag != list[i].second)
        return ns_status::invalid_part;
      if (i + 1 < list.size() && p->second.size < part_bytes_min)
        return ns_status::entity_too_small;
      chunks.insert(chunks.end(), p->second.chunks.begin(), p->second.chunks.end());
    }
    const auto s = put(u->second.key, etag, chunks, cond);
    if (s == ns_status::ok) uploads.erase(u);
    return s;
  }
  ns_status abort(const std::string& id) {
    return uploads.erase(id) ? ns_status::ok : ns_status::no_such_upload;
  }

  bool conflicts(const std::string& key, const parsed_key& p) const {
    // A file on the key's path, or (for a file key) keys below it.
    std::string path;
    for (std::size_t i = 0; i + 1 < p.components.size() + (p.marker ? 1 : 0); ++i) {
      path += p.components[i];
      if (objects.count(path)) return true;
      path += '/';
    }
    if (!p.marker) {
      const auto below = key + "/";
      const auto it = objects.lower_bound(below);
      if (it != objects.end() && it->first.starts_with(below)) return true;
    }
    return false;
  }
  ns_status put(const std::string& key, const std::string& etag, std::vector<std::uint8_t> chunks,
                const write_condition& cond) {
    parsed_key p;
    if (parse_key(key, p) != key_problem::none) return ns_status::invalid_key;
    if (p.marker && !chunks.empty()) return ns_status::invalid_argument;
    if (conflicts(key, p)) return ns_status::path_conflict;
    const auto it = objects.find(key);
    if (cond.if_none_match_any && it != objects.end()) return ns_status::precondition_failed;
    if (cond.if_match) {
      if (it == objects.end()) return ns_status::no_such_key;
      if (it->second.first != *cond.if_match) return ns_status::precondition_failed;
    }
    objects[key] = {etag, std::move(chunks)};
    return ns_status::ok;
  }
  ns_status del(const std::string& key) {
    parsed_key p;
    if (parse_key(key, p) != key_problem::none) return ns_status::invalid_key;
    return objects.erase(key) ? ns_status::ok : ns_status::no_such_key;
  }
  std::uint64_t references(std::uint8_t chunk) const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : objects) n += std::count(v.second.begin(), v.second.end(), chunk);
    for (const auto& [id, u] : uploads)
      for (const auto& [number, p] : u.parts)
        n += std::count(p.chunks.begin(), p.chunks.end(), chunk);
    return n;
  }
  list_result list(const list_request& r) const {
    list_result out;
    if (r.max_keys == 0) return out;
    for (const auto& [key, v] : objects) {
      if (key <= r.start_after || !key.starts_with(r.prefix)) continue;
      std::string cp;
      if (!r.delimiter.empty())
        if (const auto at = key.find(r.delimiter, r.prefix.size()); at != std::string::npos)
          cp = key.substr(0, at + r.delimiter.size());
      if (!cp.empty() && (cp <= r.start_after ||
                          (!out.common_prefixes.empty() && out.common_prefixes.back() == cp)))
        continue;
      if (out.objects.size() + out.common_prefixes.size() == r.max_keys) {
        out.truncated = true;
        break;
      }
      if (cp.empty()) {
        out.objects.push_back({key, nullptr, key.back() == '/'});
        out.last = key;
      } else {
        out.common_prefixes.push_back(cp);
        out.last = cp;
      }
    }
    return out;
  }
};

std::string key_from(std::uint32_t r) {
  static const char* names[] = {"a", "b", "a-c", "a0", "x", "a.b"};
  static const char* bad[] = {"a//b", "./a", "", "a/../b", "/a"};
  if (r % 23 == 0) return bad[(r / 23) % 5];
  std::string key;
  const auto depth = 1 + r % 3;
  for (std::uint32_t i = 0; i < depth; ++i) {
    if (i) key += '/';
    key += names[(r >> (4 + 3 * i)) % 6];
  }
  if ((r >> 20) % 5 == 0) key += '/';
  return key;
}

RC_GTEST_PROP(NamespaceModel, TheTreeAnswersLikeAFlatS3KeyMapWithTheAdrRules,
              (std::vector<std::uint32_t> ops)) {
  namespace_state ns;
  RC_ASSERT(ns.create_bucket(bucket, 1).status == ns_status::ok);
  flat_model model;
  std::int64_t now = 1;
  for (const auto op : ops) {
    const auto key = key_from(op >> 3);
    const auto kind = op % 11;
    const std::string upload_id = (op >> 30) % 4 == 0 ? "u1" : "u0";
    if (kind == 8) {
      RC_ASSERT(ns.create_upload({bucket, key, upload_id, "", {}, ++now}).status ==
                model.create(key, upload_id));
    } else if (kind == 9) {
      upload_part_command c;
      c.bucket = bucket;
      c.upload_id = upload_id;
      c.part_number = 1 + (op >> 4) % 3;
      c.part.etag = (op >> 5) % 4 ? "\"p0\"" : "\"p1\"";
      c.part.size = (op >> 7) % 4 ? 6ull << 20 : 1ull << 20;
      flat_model::model_part mp{c.part.etag, c.part.size, {}};
      for (std::uint32_t i = 0; i < (op >> 8) % 3; ++i) {
        const auto ch = static_cast<std::uint8_t>((op >> (10 + i)) % 4);
        mp.chunks.push_back(ch);
        c.part.chunks.push_back({chunk_of(ch), 0, c.part.size, 0x0402, 1, {}});
      }
      c.now_ns = ++now;
      RC_ASSERT(ns.put_part(c).status == model.part(upload_id, c.part_number, mp));
    } else if (kind == 10 && (op >> 4) % 4 == 0) {
      RC_ASSERT(ns.abort_upload({bucket, upload_id}).status == model.abort(upload_id));
    } else if (kind == 10) {
      complete_upload_command c;
      c.bucket = bucket;
      c.upload_id = upload_id;
      for (std::uint32_t n = 1; n <= 3; ++n)
        if ((op >> (5 + n)) % 2)
          c.parts.emplace_back(n, (op >> (9 + 2 * n)) % 4 ? "\"p0\"" : "\"p1\"");
      if ((op >> 16) % 5 == 0) std::reverse(c.parts.begin(), c.parts.end());
      c.etag = "\"m-" + std::to_string(c.parts.size()) + "\"";
      c.condition.if_none_match_any = (op >> 17) % 4 == 0;
      c.now_ns = ++now;
      RC_ASSERT(ns.complete_upload(c).status ==
                model.complete(upload_id, c.parts, c.etag, c.condition));
    } else if (kind < 4) {  // put, sometimes conditional
      write_condition cond;
      if (kind == 1) cond.if_none_match_any = true;
      if (kind == 2) cond.if_match = "\"" + std::to_string((op >> 9) % 3) + "\"";
      const auto etag = "\"" + std::to_string((op >> 11) % 3) + "\"";
      std::vector<std::uint8_t> chunks;
      if (key.back() != '/')
        for (std::uint32_t c = 0; c < (op >> 13) % 3; ++c)
          chunks.push_back(static_cast<std::uint8_t>((op >> (15 + c)) % 4));
      const auto expected = model.put(key, etag, chunks, cond);
      put_object_command c;
      c.bucket = bucket;
      c.key = key;
      c.version = version_of(etag, chunks);
      c.condition = cond;
      c.now_ns = ++now;
      const auto got = ns.put_object(c);
      RC_ASSERT(got.status == expected);
    } else if (kind < 6) {
      const auto expected = model.del(key);
      const auto got = ns.delete_object({bucket, key, std::nullopt, ++now});
      RC_ASSERT(got.status == expected);
    } else {  // list, with a page walk
      static const char* delimiters[] = {"", "/", "-"};
      list_request req;
      req.prefix = (op >> 5) % 3 == 0 ? "" : key_from(op >> 7).substr(0, (op >> 9) % 4);
      req.delimiter = delimiters[(op >> 12) % 3];
      req.start_after = (op >> 14) % 3 == 0 ? key_from(op >> 16) : "";
      req.max_keys = 1 + (op >> 18) % 4;
      for (int page = 0; page < 50; ++page) {
        list_result got;
        RC_ASSERT(ns.list(bucket, req, got) == ns_status::ok);
        const auto want = model.list(req);
        std::vector<std::string> got_keys, want_keys;
        for (const auto& o : got.objects) got_keys.push_back(o.key);
        for (const auto& o : want.objects) want_keys.push_back(o.key);
        RC_ASSERT(got_keys == want_keys);
        RC_ASSERT(got.common_prefixes == want.common_prefixes);
        RC_ASSERT(got.truncated == want.truncated);
        if (!got.truncated) break;
        RC_ASSERT(got.last == want.last);
        req.start_after = got.last;
      }
    }
    ns.check_invariants();
    for (std::uint8_t c = 0; c < 4; ++c)
      RC_ASSERT(ns.references(chunk_of(c)) == model.references(c));
    for (const auto& [k, v] : model.objects) {
      const object_version* got = nullptr;
      RC_ASSERT(ns.head(bucket, k, &got) == ns_status::ok);
      RC_ASSERT(got->etag == v.first);
    }
  }
}

// --- Hard links (NS1) ----------------------------------------------------------

struct link_fixture : fixture {
  template <class C>
  ns_result run(C command) {
    command.now_ns = ++now;
    ns_command c;
    c.now_ns = command.now_ns;
    c.body = command;
    auto r = apply_ns_command(ns, *decode_ns_command(encode_ns_command(c)));
    ns.check_invariants();
    return r;
  }
  ns_result link(inode_id file, inode_id dir, std::string name) {
    return run(link_node_command{bucket, file, dir, std::move(name), 0});
  }
  ns_result unlink(inode_id dir, std::string name) {
    return run(remove_node_command{bucket, dir, std::move(name), false, 0});
  }
  ns_result rename(inode_id from, std::string a, inode_id to, std::string b) {
    return run(rename_node_command{bucket, from, std::move(a), to, std::move(b), 0});
  }
};

TEST(NamespaceLinks, AFileLivesWhileAnyOfItsNamesDoes) {
  link_fixture f;
  ASSERT_EQ(f.put("d/f", version_of("\"v1\"", {1, 2})).status, ns_status::ok);
  const auto d = f.ns.find(bucket, "d/")->id;
  const auto file = f.ns.find(bucket, "d/f")->id;
  // ln d/f g; ln d/f d/h: one inode, three names, one set of chunks.
  ASSERT_EQ(f.link(file, root_inode, "g").status, ns_status::ok);
  ASSERT_EQ(f.link(file, d, "h").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, file)->links, 3u);
  EXPECT_EQ(f.ns.lookup(bucket, root_inode, "g")->id, file);
  EXPECT_EQ(f.ns.lookup(bucket, d, "h")->id, file);
  EXPECT_EQ(f.ns.references(chunk_of(1)), 1u);
  // S3 sees each name as a key holding the same object.
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"d/f", "d/h", "g"}));
  const object_version* v = nullptr;
  ASSERT_EQ(f.ns.head(bucket, "g", &v), ns_status::ok);
  EXPECT_EQ(v->etag, "\"v1\"");
  // An S3 overwrite through one name changes the file every name shows
  // (the inode stays, as a write through any link would).
  ASSERT_EQ(f.put("d/h", version_of("\"v2\"", {3})).status, ns_status::ok);
  ASSERT_EQ(f.ns.head(bucket, "d/f", &v), ns_status::ok);
  EXPECT_EQ(v->etag, "\"v2\"");
  EXPECT_EQ(f.ns.references(chunk_of(1)), 0u);
  // Refusals change nothing (NS6).
  EXPECT_EQ(f.link(d, root_inode, "dirlink").status, ns_status::is_a_directory);
  EXPECT_EQ(f.link(file, root_inode, "g").status, ns_status::entry_exists);
  EXPECT_EQ(f.link(file, root_inode, "d").status, ns_status::entry_exists);  // a directory's name
  EXPECT_EQ(f.link(inode_id{999}, root_inode, "x").status, ns_status::no_such_inode);
  EXPECT_EQ(f.link(file, file, "x").status, ns_status::not_a_directory);
  EXPECT_EQ(f.link(file, root_inode, std::string(256, 'n')).status, ns_status::invalid_key);
  // rm d/f: the least name goes, another becomes parent and name.
  ASSERT_EQ(f.unlink(d, "f").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, file)->links, 2u);
  EXPECT_EQ(f.ns.key_of(bucket, file), "g");  // (root, "g") < (d, "h")
  EXPECT_EQ(f.ns.references(chunk_of(3)), 1u);
  // mv g d/h: both names are the file; POSIX says nothing happens.
  ASSERT_EQ(f.rename(root_inode, "g", d, "h").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, file)->links, 2u);
  // mv g d/k: one link moves.
  ASSERT_EQ(f.rename(root_inode, "g", d, "k").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, file)->links, 2u);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"d/h", "d/k"}));
  // Another file renamed over d/k takes that name only: the file keeps d/h.
  ASSERT_EQ(f.put("other", version_of("\"o\"", {4})).status, ns_status::ok);
  ASSERT_EQ(f.rename(root_inode, "other", d, "k").status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, file)->links, 1u);
  EXPECT_EQ(f.ns.references(chunk_of(3)), 1u);
  // Directory pages with two names of one file: a page of one entry at a
  // time lists each name once, in order, resuming at the (inode, ordinal)
  // the last entry carried (an NFS cookie).
  ASSERT_EQ(f.link(file, d, "a").status, ns_status::ok);  // d: a, h -> file; k
  std::vector<namespace_state::named_inode> page;
  bool end = false;
  std::vector<std::string> names;
  inode_id after = root_inode;
  std::uint32_t ordinal = 0;
  for (int pages = 0; !end; ++pages) {
    ASSERT_LT(pages, 5);
    ASSERT_EQ(f.ns.read_directory(bucket, d, after, ordinal, 1, page, end),
              namespace_state::page_status::ok);
    for (const auto& e : page) names.emplace_back(e.name);
    if (!page.empty()) after = page.back().node->id, ordinal = page.back().ordinal;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "h", "k"}));
  ASSERT_EQ(f.ns.read_directory(bucket, d, file, 1, 10, page, end),
            namespace_state::page_status::ok);
  ASSERT_EQ(page.size(), 1u);  // after the file's second name, "h": k
  EXPECT_EQ(page[0].name, "k");
  EXPECT_EQ(f.ns.read_directory(bucket, d, file, 2, 10, page, end),
            namespace_state::page_status::entry_gone);  // it has two names here
  // The last names go through S3 and NFS: then the chunks are garbage.
  ASSERT_EQ(f.del("d/h").status, ns_status::ok);
  EXPECT_EQ(f.ns.references(chunk_of(3)), 1u);
  const auto gone = f.unlink(d, "a");
  ASSERT_EQ(gone.status, ns_status::ok);
  EXPECT_EQ(f.ns.inode_of(bucket, file), nullptr);
  EXPECT_EQ(gone.unreferenced, std::vector<chunk_hash>{chunk_of(3)});
  // Symlinks may be linked too (linkat without AT_SYMLINK_FOLLOW).
  make_node_command sl;
  sl.bucket = bucket;
  sl.dir = root_inode;
  sl.name = "sl";
  sl.kind = inode_kind::symlink;
  sl.target = "d/k";
  const auto sym = f.run(sl);
  ASSERT_EQ(sym.status, ns_status::ok);
  ASSERT_EQ(f.link(sym.inode, d, "sl2").status, ns_status::ok);
  EXPECT_EQ(f.ns.lookup(bucket, d, "sl2")->target, "d/k");
}

TEST(NamespaceLinks, ASnapshotKeepsEveryNameAndRefusesAWrongCount) {
  link_fixture f;
  ASSERT_EQ(f.put("a/f", version_of("\"v\"", {1})).status, ns_status::ok);
  const auto file = f.ns.find(bucket, "a/f")->id;
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(f.link(file, root_inode, "n" + std::to_string(i)).status, ns_status::ok);
  const auto bytes = snapshot_namespace(f.ns);
  namespace_state back;
  ASSERT_TRUE(restore_namespace(back, bytes));
  EXPECT_EQ(namespace_fingerprint(back), namespace_fingerprint(f.ns));
  const auto* n = back.inode_of(bucket, file);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->links, 6u);
  EXPECT_EQ(n->more_names, f.ns.inode_of(bucket, file)->more_names);
  EXPECT_EQ(back.references(chunk_of(1)), 1u);
  // A snapshot whose stored count is not the entries naming the inode is
  // refused, and the state it would have replaced stays.
  schema::flat_frame frame;
  std::string why;
  ASSERT_TRUE(frame.open(bytes, ns_snapshot_bytes_max, why)) << why;
  capnp::MallocMessageBuilder mb;
  mb.setRoot(frame.reader->getRoot<schema::NsSnapshot>());
  bool changed = false;
  for (auto b : mb.getRoot<schema::NsSnapshot>().getBuckets())
    for (auto n : b.getInodes())
      if (n.getId() == file.value) {
        n.setLinks(5);
        changed = true;
      }
  ASSERT_TRUE(changed);
  EXPECT_FALSE(restore_namespace(back, schema::to_flat_bytes(mb)));
  EXPECT_EQ(namespace_fingerprint(back), namespace_fingerprint(f.ns));
}

TEST(NamespaceLinks, AFileTakesAtMostLinksMaxNames) {
  namespace_state ns;
  ASSERT_EQ(ns.create_bucket(bucket, 1).status, ns_status::ok);
  make_node_command m;
  m.bucket = bucket;
  m.dir = root_inode;
  m.name = "f";
  const auto file = ns.make_node(m).inode;
  for (std::uint32_t i = 1; i < links_max; ++i)
    ASSERT_EQ(ns.link_node({bucket, file, root_inode, "l" + std::to_string(i), 2}).status,
              ns_status::ok);
  EXPECT_EQ(ns.link_node({bucket, file, root_inode, "one-more", 3}).status,
            ns_status::too_many_links);
  EXPECT_EQ(ns.inode_of(bucket, file)->links, links_max);
  ns.check_invariants();
}

// A model of a two-directory tree with hard links: every name is a
// (directory, name) pair naming a file, a file is an ETag and a chunk.
// Random creates and overwrites (S3 PUT), links, unlinks, renames and S3
// deletes give the same statuses, the same sharing of inodes between
// names, the same link counts and chunk references as the model.
RC_GTEST_PROP(NamespaceModel, HardLinksAnswerLikeAModelOfNamesAndFiles,
              (std::vector<std::uint32_t> ops)) {
  link_fixture f;
  make_node_command mk;
  mk.bucket = bucket;
  mk.dir = root_inode;
  mk.name = "d";
  mk.kind = inode_kind::directory;
  const auto d = f.run(mk).inode;
  const std::array<inode_id, 2> dirs{root_inode, d};
  const std::array<const char*, 3> names{"a", "b", "c"};
  using place = std::pair<int, int>;  // (dir index, name index)
  std::map<place, int> model;         // name -> file number
  std::map<int, std::uint8_t> chunk_of_file;
  int next_file = 0;
  std::uint8_t next_chunk = 10;
  auto key = [&](place p) { return std::string(p.first ? "d/" : "") + names[p.second]; };
  auto place_of = [](std::uint32_t r) {
    return place{static_cast<int>(r % 2), static_cast<int>((r / 2) % 3)};
  };
  for (const auto op : ops) {
    const auto a = place_of(op >> 4), b = place_of(op >> 8);
    switch (op % 5) {
      case 0: {  // S3 PUT: a new file, or a new version of the named one
        if (next_chunk == 255) break;
        const auto chunk = next_chunk++;
        RC_ASSERT(f.put(key(a), version_of("\"" + std::to_string(chunk) + "\"", {chunk})).status ==
                  ns_status::ok);
        if (!model.count(a)) model[a] = next_file++;
        chunk_of_file[model[a]] = chunk;
        break;
      }
      case 1: {  // LINK a -> b
        const auto* src = f.ns.lookup(bucket, dirs[a.first], names[a.second]);
        RC_ASSERT((src != nullptr) == (model.count(a) != 0));
        if (!src) break;
        const auto r = f.link(src->id, dirs[b.first], names[b.second]);
        RC_ASSERT(r.status == (model.count(b) ? ns_status::entry_exists : ns_status::ok));
        if (!model.count(b)) model[b] = model[a];
        break;
      }
      case 2: {  // unlink a
        const auto r = f.unlink(dirs[a.first], names[a.second]);
        RC_ASSERT(r.status == (model.count(a) ? ns_status::ok : ns_status::no_such_key));
        model.erase(a);
        break;
      }
      case 3: {  // rename a -> b
        const auto r = f.rename(dirs[a.first], names[a.second], dirs[b.first], names[b.second]);
        RC_ASSERT(r.status == (model.count(a) ? ns_status::ok : ns_status::no_such_key));
        if (!model.count(a)) break;
        if (model.count(b) && model[b] == model[a]) break;  // POSIX: nothing happens
        model[b] = model[a];
        model.erase(a);
        break;
      }
      default: {  // S3 DELETE a
        const auto r = f.del(key(a));
        RC_ASSERT(r.status == (model.count(a) ? ns_status::ok : ns_status::no_such_key));
        model.erase(a);
      }
    }
    // Every name answers as the model: the same file behind the same
    // names, its link count, its version; chunks referenced once per live
    // file, never for a file that went.
    std::map<int, inode_id> inode_of_file;
    std::map<int, std::uint32_t> links;
    for (const auto& [p, file] : model) ++links[file];
    for (int di = 0; di < 2; ++di)
      for (int ni = 0; ni < 3; ++ni) {
        const place p{di, ni};
        const auto* n = f.ns.lookup(bucket, dirs[di], names[ni]);
        RC_ASSERT((n != nullptr) == (model.count(p) != 0));
        if (!n) continue;
        const auto file = model[p];
        const auto [it, fresh] = inode_of_file.emplace(file, n->id);
        RC_ASSERT(it->second == n->id);
        RC_ASSERT(n->links == links[file]);
        RC_ASSERT(n->current->etag == "\"" + std::to_string(chunk_of_file[file]) + "\"");
      }
    RC_ASSERT(inode_of_file.size() == links.size());  // different files, different inodes
    std::set<std::uint8_t> live;
    for (const auto& [file, n] : links) live.insert(chunk_of_file[file]);
    for (std::uint8_t c = 10; c < next_chunk; ++c)
      RC_ASSERT(f.ns.references(chunk_of(c)) == (live.count(c) ? 1u : 0u));
  }
  // And a snapshot of wherever it got to restores to the same state.
  namespace_state back;
  RC_ASSERT(restore_namespace(back, snapshot_namespace(f.ns)));
  RC_ASSERT(namespace_fingerprint(back) == namespace_fingerprint(f.ns));
}

}  // namespace
}  // namespace cairn::shard
