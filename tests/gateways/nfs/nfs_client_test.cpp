// tests/gateways/nfs/nfs_client_test.cpp — NFS v3 procedures through a real
// client library: libnfs (Debian's libnfs-dev), its synchronous POSIX-like
// API, against a running cairn NFS gateway. nfs_dev_test.sh starts
// `cairn dev` and runs this with CAIRN_NFS_URL set to the printed nfs-url
// (skipped without it). Each test works under its own directory.
//
// Covered here: MNT, GETATTR, SETATTR (mode, owner, times), LOOKUP, ACCESS,
// READLINK, READ, CREATE (guarded, unchecked, exclusive), MKDIR, SYMLINK,
// REMOVE, RMDIR, RENAME (files, directories with their subtree, over an
// existing target, into itself), READDIRPLUS with hundreds of entries,
// FSSTAT, and the errors POSIX callers see (EEXIST, ENOENT, ENOTDIR,
// EISDIR, ENOTEMPTY, ENAMETOOLONG, EINVAL).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nfsc/libnfs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

class NfsClient : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("CAIRN_NFS_URL");
    if (!url || !*url) GTEST_SKIP() << "CAIRN_NFS_URL is not set (nfs_dev_test.sh sets it)";
    nfs_ = nfs_init_context();
    ASSERT_NE(nfs_, nullptr);
    nfs_url* u = nfs_parse_url_dir(nfs_, url);  // also applies nfsport/mountport
    ASSERT_NE(u, nullptr) << nfs_get_error(nfs_);
    ASSERT_EQ(nfs_mount(nfs_, u->server, u->path), 0) << nfs_get_error(nfs_);
    nfs_destroy_url(u);
    dir_ = std::string("/") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(nfs_mkdir2(nfs_, dir_.c_str(), 0755), 0) << nfs_get_error(nfs_);
  }
  void TearDown() override {
    if (nfs_) nfs_destroy_context(nfs_);
  }
  std::string at(const std::string& rel) const { return dir_ + "/" + rel; }
  int stat(const std::string& rel, nfs_stat_64& st) {
    return nfs_stat64(nfs_, at(rel).c_str(), &st);
  }
  bool exists(const std::string& rel) {
    nfs_stat_64 st{};
    return stat(rel, st) == 0;
  }
  std::set<std::string> names(const std::string& rel) {
    nfsdir* d = nullptr;
    std::set<std::string> out;
    EXPECT_EQ(nfs_opendir(nfs_, at(rel).c_str(), &d), 0) << nfs_get_error(nfs_);
    if (!d) return out;
    while (nfsdirent* e = nfs_readdir(nfs_, d)) out.insert(e->name);
    nfs_closedir(nfs_, d);
    out.erase(".");
    out.erase("..");
    return out;
  }
  void create(const std::string& rel, int mode = 0644) {
    nfsfh* fh = nullptr;
    ASSERT_EQ(nfs_creat(nfs_, at(rel).c_str(), mode, &fh), 0) << rel << ": " << nfs_get_error(nfs_);
    nfs_close(nfs_, fh);
  }

  nfs_context* nfs_ = nullptr;
  std::string dir_;
};

TEST_F(NfsClient, MkdirCreateSymlinkAndTheirAttributes) {
  ASSERT_EQ(nfs_mkdir2(nfs_, at("d").c_str(), 0750), 0) << nfs_get_error(nfs_);
  create("d/f", 0640);
  ASSERT_EQ(nfs_symlink(nfs_, "f", at("d/l").c_str()), 0) << nfs_get_error(nfs_);

  nfs_stat_64 st{};
  ASSERT_EQ(stat("d", st), 0);
  EXPECT_TRUE(S_ISDIR(st.nfs_mode));
  EXPECT_EQ(st.nfs_mode & 07777, 0750u);
  EXPECT_EQ(st.nfs_uid, 0u) << "the caller's uid (root, not squashed in cairn dev)";
  ASSERT_EQ(stat("d/f", st), 0);
  EXPECT_TRUE(S_ISREG(st.nfs_mode));
  EXPECT_EQ(st.nfs_mode & 07777, 0640u);
  EXPECT_EQ(st.nfs_size, 0u);
  ASSERT_EQ(nfs_lstat64(nfs_, at("d/l").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.nfs_mode));
  char target[64] = {};
  ASSERT_EQ(nfs_readlink(nfs_, at("d/l").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "f");
  EXPECT_EQ(names("d"), (std::set<std::string>{"f", "l"}));
  EXPECT_EQ(nfs_access(nfs_, at("d/f").c_str(), R_OK | W_OK), 0);

  // An empty file reads as nothing, and is an empty object for S3.
  nfsfh* fh = nullptr;
  ASSERT_EQ(nfs_open(nfs_, at("d/f").c_str(), O_RDONLY, &fh), 0);
  char buf[16];
  EXPECT_EQ(nfs_read(nfs_, fh, sizeof buf, buf), 0);
  nfs_close(nfs_, fh);
}

TEST_F(NfsClient, ErrorsArePosixErrors) {
  ASSERT_EQ(nfs_mkdir2(nfs_, at("d").c_str(), 0755), 0);
  create("d/f");
  EXPECT_EQ(nfs_mkdir2(nfs_, at("d").c_str(), 0755), -EEXIST);
  nfsfh* fh = nullptr;
  EXPECT_EQ(nfs_create(nfs_, at("d/f").c_str(), O_CREAT | O_EXCL | O_RDWR, 0644, &fh), -EEXIST)
      << "GUARDED/EXCLUSIVE create of an existing name";
  EXPECT_EQ(nfs_rmdir(nfs_, at("d").c_str()), -ENOTEMPTY);
  EXPECT_EQ(nfs_rmdir(nfs_, at("d/f").c_str()), -ENOTDIR);
  EXPECT_EQ(nfs_unlink(nfs_, at("d").c_str()), -EISDIR);
  EXPECT_EQ(nfs_unlink(nfs_, at("d/missing").c_str()), -ENOENT);
  nfs_stat_64 st{};
  EXPECT_EQ(stat("d/missing", st), -ENOENT);
  EXPECT_EQ(nfs_mkdir2(nfs_, at("d/f/sub").c_str(), 0755), -ENOTDIR);
  EXPECT_EQ(nfs_mkdir2(nfs_, at(std::string(256, 'n')).c_str(), 0755), -ENAMETOOLONG);
  EXPECT_EQ(nfs_rename(nfs_, at("d").c_str(), at("d/inside").c_str()), -EINVAL)
      << "a directory never moves into itself";
  EXPECT_EQ(nfs_link(nfs_, at("d").c_str(), at("dirlink").c_str()), -EINVAL)
      << "a directory has one name";
  EXPECT_EQ(nfs_link(nfs_, at("d/f").c_str(), at("d").c_str()), -EEXIST);
  EXPECT_NE(nfs_mknod(nfs_, at("d/dev").c_str(), S_IFCHR | 0600, makedev(1, 3)), 0);
  EXPECT_FALSE(exists("dirlink"));
  EXPECT_FALSE(exists("d/dev"));
}

TEST_F(NfsClient, HardLinksAreOneFileUnderSeveralNames) {
  ASSERT_EQ(nfs_mkdir2(nfs_, at("d").c_str(), 0755), 0);
  nfsfh* fh = nullptr;
  ASSERT_EQ(nfs_creat(nfs_, at("d/f").c_str(), 0644, &fh), 0);
  ASSERT_EQ(nfs_pwrite(nfs_, fh, 0, 5, "hello"), 5);
  ASSERT_EQ(nfs_close(nfs_, fh), 0);
  ASSERT_EQ(nfs_link(nfs_, at("d/f").c_str(), at("d/hard").c_str()), 0) << nfs_get_error(nfs_);
  ASSERT_EQ(nfs_link(nfs_, at("d/f").c_str(), at("top").c_str()), 0) << nfs_get_error(nfs_);
  nfs_stat_64 f{}, hard{}, top{};
  ASSERT_EQ(stat("d/f", f), 0);
  ASSERT_EQ(stat("d/hard", hard), 0);
  ASSERT_EQ(stat("top", top), 0);
  EXPECT_EQ(f.nfs_nlink, 3u);
  EXPECT_EQ(hard.nfs_ino, f.nfs_ino);
  EXPECT_EQ(top.nfs_ino, f.nfs_ino);
  EXPECT_EQ(top.nfs_size, 5u);
  // A write through one name is what every name reads.
  ASSERT_EQ(nfs_open(nfs_, at("top").c_str(), O_WRONLY, &fh), 0);
  ASSERT_EQ(nfs_pwrite(nfs_, fh, 0, 5, "HELLO"), 5);
  ASSERT_EQ(nfs_close(nfs_, fh), 0);
  ASSERT_EQ(nfs_open(nfs_, at("d/hard").c_str(), O_RDONLY, &fh), 0);
  char buf[8] = {};
  EXPECT_EQ(nfs_read(nfs_, fh, sizeof buf, buf), 5);
  EXPECT_STREQ(buf, "HELLO");
  nfs_close(nfs_, fh);
  // The file outlives a name; renaming one link onto another is nothing.
  ASSERT_EQ(nfs_unlink(nfs_, at("d/f").c_str()), 0);
  ASSERT_EQ(stat("d/hard", hard), 0);
  EXPECT_EQ(hard.nfs_nlink, 2u);
  EXPECT_EQ(nfs_link(nfs_, at("d/hard").c_str(), at("top").c_str()), -EEXIST);
  ASSERT_EQ(nfs_rename(nfs_, at("top").c_str(), at("d/hard").c_str()), 0);
  EXPECT_TRUE(exists("top"));
  EXPECT_EQ(names("d"), (std::set<std::string>{"hard"}));
  ASSERT_EQ(nfs_unlink(nfs_, at("top").c_str()), 0);
  ASSERT_EQ(stat("d/hard", hard), 0);
  EXPECT_EQ(hard.nfs_nlink, 1u);
  EXPECT_EQ(hard.nfs_size, 5u);
}

TEST_F(NfsClient, RemoveRmdirAndRename) {
  ASSERT_EQ(nfs_mkdir2(nfs_, at("a").c_str(), 0755), 0);
  ASSERT_EQ(nfs_mkdir2(nfs_, at("a/b").c_str(), 0755), 0);
  create("a/b/deep");
  create("a/one");
  create("two");
  // A file over a file, a file into another directory.
  ASSERT_EQ(nfs_rename(nfs_, at("a/one").c_str(), at("two").c_str()), 0) << nfs_get_error(nfs_);
  EXPECT_FALSE(exists("a/one"));
  EXPECT_TRUE(exists("two"));
  // A directory with its subtree, in one step.
  ASSERT_EQ(nfs_rename(nfs_, at("a").c_str(), at("moved").c_str()), 0) << nfs_get_error(nfs_);
  EXPECT_FALSE(exists("a"));
  EXPECT_TRUE(exists("moved/b/deep"));
  EXPECT_EQ(names(""), (std::set<std::string>{"moved", "two"}));
  // Kinds must match; an empty directory may be replaced.
  EXPECT_EQ(nfs_rename(nfs_, at("two").c_str(), at("moved").c_str()), -EISDIR);
  ASSERT_EQ(nfs_mkdir2(nfs_, at("empty").c_str(), 0755), 0);
  ASSERT_EQ(nfs_rename(nfs_, at("moved/b").c_str(), at("empty").c_str()), 0) << nfs_get_error(nfs_);
  EXPECT_TRUE(exists("empty/deep"));
  ASSERT_EQ(nfs_unlink(nfs_, at("empty/deep").c_str()), 0);
  ASSERT_EQ(nfs_rmdir(nfs_, at("empty").c_str()), 0) << "an emptied mkdir'ed directory stays";
  ASSERT_EQ(nfs_unlink(nfs_, at("two").c_str()), 0);
  ASSERT_EQ(nfs_rmdir(nfs_, at("moved").c_str()), 0);
  EXPECT_TRUE(names("").empty());
}

TEST_F(NfsClient, SetattrChangesModeOwnerAndTimes) {
  create("f", 0644);
  ASSERT_EQ(nfs_chmod(nfs_, at("f").c_str(), 0600), 0) << nfs_get_error(nfs_);
  ASSERT_EQ(nfs_chown(nfs_, at("f").c_str(), 1234, 567), 0) << nfs_get_error(nfs_);
  timeval times[2] = {{1'000'000'000, 0}, {1'600'000'000, 250'000}};
  ASSERT_EQ(nfs_utimes(nfs_, at("f").c_str(), times), 0) << nfs_get_error(nfs_);
  nfs_stat_64 st{};
  ASSERT_EQ(stat("f", st), 0);
  EXPECT_EQ(st.nfs_mode & 07777, 0600u);
  EXPECT_EQ(st.nfs_uid, 1234u);
  EXPECT_EQ(st.nfs_gid, 567u);
  EXPECT_EQ(st.nfs_atime, 1'000'000'000u);
  EXPECT_EQ(st.nfs_mtime, 1'600'000'000u);
  EXPECT_EQ(st.nfs_mtime_nsec, 250'000'000u);
}

TEST_F(NfsClient, ReaddirplusPagesThroughHundredsOfEntries) {
  std::set<std::string> want;
  for (int i = 0; i < 300; ++i) {
    const std::string name = "entry-with-a-longish-name-" + std::to_string(i);
    create(name);
    want.insert(name);
  }
  EXPECT_EQ(names(""), want);
  // A hard link to every file, its name between the file's and the next
  // one's: the pages hold two names of one inode, often across a page
  // boundary, and each name still comes exactly once (the cookie says
  // which of the inode's names it follows).
  for (int i = 0; i < 300; ++i) {
    const std::string name = "entry-with-a-longish-name-" + std::to_string(i);
    ASSERT_EQ(nfs_link(nfs_, at(name).c_str(), at(name + "-link").c_str()), 0)
        << nfs_get_error(nfs_);
    want.insert(name + "-link");
  }
  nfsdir* d = nullptr;
  ASSERT_EQ(nfs_opendir(nfs_, dir_.c_str(), &d), 0) << nfs_get_error(nfs_);
  std::vector<std::string> listed;
  while (nfsdirent* e = nfs_readdir(nfs_, d))
    if (std::string(e->name) != "." && std::string(e->name) != "..") listed.emplace_back(e->name);
  nfs_closedir(nfs_, d);
  EXPECT_EQ(listed.size(), want.size()) << "a name listed twice or not at all";
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), want);
  struct statvfs fs {};
  ASSERT_EQ(nfs_statvfs(nfs_, dir_.c_str(), &fs), 0);
  EXPECT_GT(fs.f_blocks, 0u);  // FSSTAT (libnfs fills f_namemax itself: PATHCONF is checked
                               // by rpc_bad_input.py)
}

/// Deterministic bytes that differ at every offset (a shifted or
/// duplicated chunk would not compare equal).
std::string pattern(std::size_t n, unsigned seed) {
  std::string out(n, '\0');
  std::uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x);
  }
  return out;
}

class NfsFiles : public NfsClient {
 protected:
  void write_at(nfsfh* fh, std::uint64_t offset, const std::string& bytes, std::size_t piece) {
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      const auto n = std::min(piece, bytes.size() - at);
      ASSERT_EQ(nfs_pwrite(nfs_, fh, offset + at, n, bytes.data() + at), static_cast<int>(n))
          << nfs_get_error(nfs_);
    }
  }
  std::string read_all(const std::string& rel) {
    nfsfh* fh = nullptr;
    EXPECT_EQ(nfs_open(nfs_, at(rel).c_str(), O_RDONLY, &fh), 0) << nfs_get_error(nfs_);
    if (!fh) return {};
    std::string out;
    std::vector<char> buf(1 << 20);
    for (;;) {
      const int n = nfs_pread(nfs_, fh, out.size(), buf.size(), buf.data());
      EXPECT_GE(n, 0) << nfs_get_error(nfs_);
      if (n <= 0) break;
      out.append(buf.data(), static_cast<std::size_t>(n));
    }
    nfs_close(nfs_, fh);
    return out;
  }
  nfsfh* open_rw(const std::string& rel) {
    nfsfh* fh = nullptr;
    EXPECT_EQ(nfs_open(nfs_, at(rel).c_str(), O_RDWR, &fh), 0) << nfs_get_error(nfs_);
    return fh;
  }
};

TEST_F(NfsFiles, WritesReadBackSmallAndMultiChunk) {
  create("small");
  nfsfh* fh = open_rw("small");
  ASSERT_NE(fh, nullptr);
  write_at(fh, 0, "hello, ", 1 << 20);
  write_at(fh, 7, "nfs", 1 << 20);
  ASSERT_EQ(nfs_fsync(nfs_, fh), 0) << "COMMIT";
  nfs_close(nfs_, fh);
  EXPECT_EQ(read_all("small"), "hello, nfs");

  // 10 MiB in 1 MiB WRITEs: three 4 MiB chunk slots, the last partial.
  const std::string big = pattern(10 << 20, 1);
  create("big");
  fh = open_rw("big");
  ASSERT_NE(fh, nullptr);
  write_at(fh, 0, big, 1 << 20);
  ASSERT_EQ(nfs_fsync(nfs_, fh), 0);
  nfs_close(nfs_, fh);
  nfs_stat_64 st{};
  ASSERT_EQ(stat("big", st), 0);
  EXPECT_EQ(st.nfs_size, big.size());
  EXPECT_TRUE(read_all("big") == big) << "10 MiB read back differ";
}

TEST_F(NfsFiles, AWriteInTheMiddleChangesOnlyThoseBytes) {
  std::string want = pattern(12 << 20, 2);
  create("f");
  nfsfh* fh = open_rw("f");
  ASSERT_NE(fh, nullptr);
  write_at(fh, 0, want, 1 << 20);
  // Across the boundary of the second and third 4 MiB slots, and a small
  // one inside the first.
  const std::string patch = pattern(300000, 3);
  write_at(fh, (8 << 20) - 1000, patch, 1 << 20);
  want.replace((8 << 20) - 1000, patch.size(), patch);
  write_at(fh, 12345, "XYZ", 1 << 20);
  want.replace(12345, 3, "XYZ");
  nfs_close(nfs_, fh);
  EXPECT_TRUE(read_all("f") == want) << "bytes around the patched ranges changed";
}

TEST_F(NfsFiles, TruncateAndSparseFiles) {
  const std::string body = pattern(9 << 20, 4);
  create("f");
  nfsfh* fh = open_rw("f");
  ASSERT_NE(fh, nullptr);
  write_at(fh, 0, body, 1 << 20);
  // Shrink into the middle of a chunk.
  ASSERT_EQ(nfs_ftruncate(nfs_, fh, (5 << 20) + 7), 0) << nfs_get_error(nfs_);
  nfs_close(nfs_, fh);
  EXPECT_TRUE(read_all("f") == body.substr(0, (5 << 20) + 7));
  // Extend: the new bytes read as zeros.
  ASSERT_EQ(nfs_truncate(nfs_, at("f").c_str(), 16 << 20), 0) << nfs_get_error(nfs_);
  std::string want = body.substr(0, (5 << 20) + 7);
  want.resize(16 << 20, '\0');
  EXPECT_TRUE(read_all("f") == want);
  // A write far past the end leaves a hole.
  fh = open_rw("f");
  ASSERT_NE(fh, nullptr);
  write_at(fh, 40 << 20, "tail", 1 << 20);
  nfs_close(nfs_, fh);
  want.resize(40 << 20, '\0');
  want += "tail";
  nfs_stat_64 st{};
  ASSERT_EQ(stat("f", st), 0);
  EXPECT_EQ(st.nfs_size, want.size());
  EXPECT_TRUE(read_all("f") == want);
  // Down to nothing, and a small file again (inline).
  ASSERT_EQ(nfs_truncate(nfs_, at("f").c_str(), 0), 0);
  EXPECT_EQ(read_all("f"), "");
  fh = open_rw("f");
  write_at(fh, 0, "small again", 1 << 20);
  nfs_close(nfs_, fh);
  EXPECT_EQ(read_all("f"), "small again");
}

TEST_F(NfsFiles, AnInlineFileGrowsIntoChunks) {
  create("g");
  nfsfh* fh = open_rw("g");
  ASSERT_NE(fh, nullptr);
  const std::string head = pattern(1000, 5);
  write_at(fh, 0, head, 1 << 20);  // inline
  const std::string more = pattern(200000, 6);
  write_at(fh, head.size(), more, 65536);  // past the 64 KiB inline bound
  nfs_close(nfs_, fh);
  EXPECT_TRUE(read_all("g") == head + more);
}

// Leaves a tree for nfs_dev_test.sh to check through S3: /S3View/kept/x
// (renamed from /S3View/orig/x; pattern(5 MiB, 7)) and the empty file
// /S3View/empty.
TEST_F(NfsClient, S3View) {
  ASSERT_EQ(nfs_mkdir2(nfs_, at("orig").c_str(), 0755), 0);
  create("orig/x");
  create("empty");
  nfsfh* fh = nullptr;
  ASSERT_EQ(nfs_open(nfs_, at("orig/x").c_str(), O_RDWR, &fh), 0);
  const std::string bytes = pattern(5 << 20, 7);  // two chunks
  ASSERT_EQ(nfs_pwrite(nfs_, fh, 0, bytes.size(), bytes.data()), static_cast<int>(bytes.size()));
  ASSERT_EQ(nfs_fsync(nfs_, fh), 0);  // COMMIT, as a kernel client's close does
  nfs_close(nfs_, fh);
  ASSERT_EQ(nfs_rename(nfs_, at("orig").c_str(), at("kept").c_str()), 0);
}

// --- scale: many connections, a large file, a large tree ---------------------------------

/// A connection of its own (a context of its own: libnfs contexts are not
/// shared between threads).
nfs_context* connect() {
  nfs_context* nfs = nfs_init_context();
  nfs_url* u = nfs_parse_url_dir(nfs, std::getenv("CAIRN_NFS_URL"));
  if (!u || nfs_mount(nfs, u->server, u->path) != 0) {
    if (u) nfs_destroy_url(u);
    nfs_destroy_context(nfs);
    return nullptr;
  }
  nfs_destroy_url(u);
  return nfs;
}

/// On a connection of its own: writes `bytes` at `offset` of `path` in
/// 1 MiB WRITEs and commits them; "" or what failed.
std::string write_on_own_connection(const std::string& path, std::uint64_t offset,
                                    const std::string& bytes) {
  nfs_context* nfs = connect();
  if (!nfs) return "no connection";
  nfsfh* fh = nullptr;
  std::string error;
  if (nfs_open(nfs, path.c_str(), O_RDWR, &fh) != 0) error = nfs_get_error(nfs);
  for (std::size_t at = 0; error.empty() && at < bytes.size(); at += 1 << 20) {
    const auto n = std::min<std::size_t>(1 << 20, bytes.size() - at);
    if (nfs_pwrite(nfs, fh, offset + at, n, bytes.data() + at) != static_cast<int>(n))
      error = nfs_get_error(nfs);
  }
  if (error.empty() && nfs_fsync(nfs, fh) != 0) error = nfs_get_error(nfs);
  if (fh) nfs_close(nfs, fh);
  nfs_destroy_context(nfs);
  return error;
}

// Four connections write four files at once, each in 1 MiB WRITEs, then
// commit; every file reads back as its writer wrote it. Then two
// connections write the two halves of one file at once (their commits race
// on the same inode: write_range's precondition and retry).
TEST_F(NfsFiles, ConcurrentWritersOnTheirOwnConnections) {
  constexpr int writers = 4;
  std::vector<std::string> errors(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    create("w" + std::to_string(w));
    threads.emplace_back([&, w] {
      errors[w] = write_on_own_connection(at("w" + std::to_string(w)), 0, pattern(9 << 20, 20 + w));
    });
  }
  for (auto& t : threads) t.join();
  for (int w = 0; w < writers; ++w) {
    EXPECT_EQ(errors[w], "") << "writer " << w;
    EXPECT_TRUE(read_all("w" + std::to_string(w)) == pattern(9 << 20, 20 + w)) << "file w" << w;
  }

  create("halves");
  const std::string first = pattern(8 << 20, 30), second = pattern(8 << 20, 31);
  threads.clear();
  std::vector<std::string> half_errors(2);
  for (int h = 0; h < 2; ++h)
    threads.emplace_back([&, h] {
      half_errors[h] =
          write_on_own_connection(at("halves"), std::uint64_t(h) * (8 << 20), h ? second : first);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(half_errors[0] + half_errors[1], "");
  EXPECT_TRUE(read_all("halves") == first + second);
}

std::uint64_t large_file_bytes() {
  const char* e = std::getenv("CAIRN_NFS_LARGE_FILE_BYTES");
  return e && *e ? std::strtoull(e, nullptr, 10) : 1ull << 30;
}

// A 1 GiB file (CAIRN_NFS_LARGE_FILE_BYTES) written in 1 MiB WRITEs,
// committed, and read back in 1 MiB READs, every byte compared; left for
// nfs_dev_test.sh to check its size through S3 (/LargeFile/big).
TEST_F(NfsFiles, LargeFile) {
  const std::uint64_t total = large_file_bytes();
  create("big");
  nfsfh* fh = open_rw("big");
  ASSERT_NE(fh, nullptr);
  const std::string block = pattern(1 << 20, 40);
  std::string stamped = block;
  for (std::uint64_t at = 0; at < total; at += block.size()) {
    std::memcpy(stamped.data(), &at, sizeof at);  // every block differs
    const auto n = std::min<std::uint64_t>(block.size(), total - at);
    ASSERT_EQ(nfs_pwrite(nfs_, fh, at, n, stamped.data()), static_cast<int>(n))
        << "at " << at << ": " << nfs_get_error(nfs_);
  }
  ASSERT_EQ(nfs_fsync(nfs_, fh), 0) << nfs_get_error(nfs_);
  nfs_stat_64 st{};
  ASSERT_EQ(nfs_fstat64(nfs_, fh, &st), 0);
  EXPECT_EQ(st.nfs_size, total);
  std::vector<char> got(block.size());
  for (std::uint64_t at = 0; at < total; at += block.size()) {
    std::memcpy(stamped.data(), &at, sizeof at);
    const auto n = std::min<std::uint64_t>(block.size(), total - at);
    ASSERT_EQ(nfs_pread(nfs_, fh, at, n, got.data()), static_cast<int>(n)) << nfs_get_error(nfs_);
    ASSERT_EQ(std::memcmp(got.data(), stamped.data(), n), 0) << "bytes differ in block at " << at;
  }
  nfs_close(nfs_, fh);
}

// A tree of 10,000 files: 10 directories of 1,000 files, each holding its
// own path; every directory lists 1,000 entries and files read back.
// Left for nfs_dev_test.sh to count through S3 (/TreeOf10000Files/).
TEST_F(NfsFiles, TreeOf10000Files) {
  for (int d = 0; d < 10; ++d) {
    const std::string dir = "d" + std::to_string(d);
    ASSERT_EQ(nfs_mkdir2(nfs_, at(dir).c_str(), 0755), 0) << nfs_get_error(nfs_);
    for (int f = 0; f < 1000; ++f) {
      const std::string rel = dir + "/f" + std::to_string(f);
      nfsfh* fh = nullptr;
      ASSERT_EQ(nfs_creat(nfs_, at(rel).c_str(), 0644, &fh), 0)
          << rel << ": " << nfs_get_error(nfs_);
      ASSERT_EQ(nfs_write(nfs_, fh, rel.size(), rel.data()), static_cast<int>(rel.size()));
      ASSERT_EQ(nfs_fsync(nfs_, fh), 0);
      nfs_close(nfs_, fh);
    }
  }
  for (int d = 0; d < 10; ++d) {
    const std::string dir = "d" + std::to_string(d);
    EXPECT_EQ(names(dir).size(), 1000u) << dir;
    for (int f = 0; f < 1000; f += 97) {
      const std::string rel = dir + "/f" + std::to_string(f);
      EXPECT_EQ(read_all(rel), rel);
    }
  }
}

}  // namespace
