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
#include <set>
#include <string>

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
  EXPECT_NE(nfs_link(nfs_, at("d/f").c_str(), at("d/hard").c_str()), 0)
      << "no hard links yet (ADR 0008 section 7)";
  EXPECT_NE(nfs_mknod(nfs_, at("d/dev").c_str(), S_IFCHR | 0600, makedev(1, 3)), 0);
  EXPECT_FALSE(exists("d/hard"));
  EXPECT_FALSE(exists("d/dev"));
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
  struct statvfs fs {};
  ASSERT_EQ(nfs_statvfs(nfs_, dir_.c_str(), &fs), 0);
  EXPECT_GT(fs.f_blocks, 0u);  // FSSTAT (libnfs fills f_namemax itself: PATHCONF is checked
                               // by rpc_bad_input.py)
}

// Leaves a tree for nfs_dev_test.sh to check through S3: /S3View/kept/x
// (renamed from /S3View/orig/x) and the empty file /S3View/empty.
TEST_F(NfsClient, S3View) {
  ASSERT_EQ(nfs_mkdir2(nfs_, at("orig").c_str(), 0755), 0);
  create("orig/x");
  create("empty");
  ASSERT_EQ(nfs_rename(nfs_, at("orig").c_str(), at("kept").c_str()), 0);
}

}  // namespace
