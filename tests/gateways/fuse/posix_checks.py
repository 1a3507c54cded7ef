#!/usr/bin/python3
# tests/gateways/fuse/posix_checks.py — pjdfstest-style checks of a cairn
# FUSE mount (ADR 0009): for each operation the mount serves, the result
# and the errno POSIX gives, as root and as two unprivileged users
# (uids 1000 and 1001, in forked children via setresuid), so the
# permission checks (default_permissions: the kernel checks the mode bits
# the mount reports) are exercised on the mount's attributes and on the
# owners it records for new inodes. Debian's /usr/bin/python3, standard
# library only. Needs root and a mount with --allow-other.
#   posix_checks.py MOUNTED_DIR
import errno
import os
import stat
import sys

root = os.path.join(sys.argv[1], "posix")
failures = []


def check(what, ok, detail=""):
    if not ok:
        failures.append(f"{what}: {detail}")
        print(f"FAIL {what}: {detail}")


def expect_errno(what, want, fn, *args):
    try:
        fn(*args)
    except OSError as e:
        check(what, e.errno == want, f"errno {errno.errorcode.get(e.errno)}, want {errno.errorcode[want]}")
        return
    check(what, False, f"succeeded, want {errno.errorcode[want]}")


def as_user(uid, gid, fn):
    """Runs fn() in a child as uid:gid; its failures come back as text."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            global failures
            failures = []
            fn()
            os.write(w, "\n".join(failures).encode())
        except Exception as e:  # noqa: BLE001 - reported to the parent
            os.write(w, f"exception {e!r}".encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    os.waitpid(pid, 0)
    for line in filter(None, out.decode().split("\n")):
        failures.append(f"as uid {uid}: {line}")
        print(f"FAIL as uid {uid}: {line}")


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode=0o644):
    fd = os.open(path, flags, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# --- as root: every operation and its errors --------------------------------
os.mkdir(root, 0o755)
os.chmod(root, 0o755)
p = lambda *names: os.path.join(root, *names)  # noqa: E731

write_file(p("f"), b"data")
check("create+write+read", read_file(p("f")) == b"data")
check("create: a regular file", stat.S_ISREG(os.stat(p("f")).st_mode))
expect_errno("O_CREAT|O_EXCL of an existing file", errno.EEXIST, os.open, p("f"),
             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
expect_errno("mkdir over a file", errno.EEXIST, os.mkdir, p("f"))
expect_errno("open of a missing file", errno.ENOENT, os.open, p("missing"), os.O_RDONLY)
expect_errno("create under a file", errno.ENOTDIR, os.open, p("f", "x"), os.O_WRONLY | os.O_CREAT)
expect_errno("create of a 256-byte name", errno.ENAMETOOLONG, os.open, p("n" * 256),
             os.O_WRONLY | os.O_CREAT)
write_file(p("n" * 255), b"255")
check("a 255-byte name", read_file(p("n" * 255)) == b"255")
os.unlink(p("n" * 255))

os.mkdir(p("d"), 0o755)
check("mkdir: a directory", stat.S_ISDIR(os.stat(p("d")).st_mode))
expect_errno("open of a directory for writing", errno.EISDIR, os.open, p("d"), os.O_WRONLY)
expect_errno("mkdir of an existing directory", errno.EEXIST, os.mkdir, p("d"))
expect_errno("rmdir of a file", errno.ENOTDIR, os.rmdir, p("f"))
expect_errno("unlink of a directory", errno.EISDIR, os.unlink, p("d"))
write_file(p("d", "inner"), b"i")
expect_errno("rmdir of a non-empty directory", errno.ENOTEMPTY, os.rmdir, p("d"))
expect_errno("rename of a directory into itself", errno.EINVAL, os.rename, p("d"), p("d", "sub"))
os.mkdir(p("d2"))
write_file(p("d2", "x"), b"x")
expect_errno("rename over a non-empty directory", errno.ENOTEMPTY, os.rename, p("d"), p("d2"))
expect_errno("rename of a file over a directory", errno.EISDIR, os.rename, p("f"), p("d"))
expect_errno("rename of a directory over a file", errno.ENOTDIR, os.rename, p("d"), p("f"))
expect_errno("rename of a missing name", errno.ENOENT, os.rename, p("missing"), p("m2"))
os.rename(p("d"), p("moved"))
check("rename of a directory moves its entries", read_file(p("moved", "inner")) == b"i")
write_file(p("g"), b"other")
os.rename(p("g"), p("f"))
check("rename over a file replaces it", read_file(p("f")) == b"other" and not os.path.exists(p("g")))
os.unlink(p("moved", "inner"))
os.rmdir(p("moved"))
expect_errno("stat of a removed directory", errno.ENOENT, os.stat, p("moved"))

os.symlink("f", p("s"))
check("symlink+readlink", os.readlink(p("s")) == "f")
check("a symlink is followed", read_file(p("s")) == b"other")
check("lstat of a symlink", stat.S_ISLNK(os.lstat(p("s")).st_mode))
expect_errno("readlink of a file", errno.EINVAL, os.readlink, p("f"))
expect_errno("symlink over an existing name", errno.EEXIST, os.symlink, "x", p("f"))

os.link(p("f"), p("hard"))
st_f, st_h = os.stat(p("f")), os.stat(p("hard"))
check("link: one inode under two names", st_f.st_ino == st_h.st_ino and st_f.st_nlink == 2,
      f"ino {st_f.st_ino}/{st_h.st_ino} nlink {st_f.st_nlink}")
write_file(p("hard"), b"through the link")
check("a write through one link is read through the other", read_file(p("f")) == b"through the link")
os.mkdir(p("ld"))
expect_errno("link of a directory", errno.EPERM, os.link, p("ld"), p("ld2"))
os.rmdir(p("ld"))
expect_errno("link over an existing name", errno.EEXIST, os.link, p("f"), p("s"))
expect_errno("link of a missing file", errno.ENOENT, os.link, p("missing"), p("x"))
expect_errno("link to a name over 255 bytes", errno.ENAMETOOLONG, os.link, p("f"), p("n" * 256))
os.rename(p("hard"), p("f"))  # two names of one file: nothing happens (POSIX)
check("rename of a link onto its other name changes nothing",
      os.path.exists(p("hard")) and os.stat(p("f")).st_nlink == 2)
write_file(p("hard"), b"other")
os.unlink(p("hard"))
st = os.stat(p("f"))
check("unlink of one link keeps the file", st.st_nlink == 1 and read_file(p("f")) == b"other",
      f"nlink {st.st_nlink}")

os.chmod(p("f"), 0o640)
check("chmod", stat.S_IMODE(os.stat(p("f")).st_mode) == 0o640)
os.chown(p("f"), 1000, 1000)
st = os.stat(p("f"))
check("chown", (st.st_uid, st.st_gid) == (1000, 1000), f"{st.st_uid}:{st.st_gid}")
os.utime(p("f"), ns=(1_000_000_000_123, 2_000_000_000_456))
st = os.stat(p("f"))
check("utimens", (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_000_123, 2_000_000_000_456),
      f"{st.st_atime_ns} {st.st_mtime_ns}")

write_file(p("t"), b"0123456789")
os.truncate(p("t"), 4)
check("truncate down", read_file(p("t")) == b"0123")
os.truncate(p("t"), 8)
check("truncate up reads zeros", read_file(p("t")) == b"0123\0\0\0\0")
fd = os.open(p("t"), os.O_WRONLY)
os.pwrite(fd, b"XY", 2)
os.fsync(fd)
os.close(fd)
check("pwrite in the middle", read_file(p("t")) == b"01XY\0\0\0\0")
fd = os.open(p("t"), os.O_WRONLY | os.O_APPEND)
os.write(fd, b"end")
os.close(fd)
check("O_APPEND", read_file(p("t")) == b"01XY\0\0\0\0end")
fd = os.open(p("t"), os.O_RDWR)
os.ftruncate(fd, 2)
os.close(fd)
check("ftruncate", read_file(p("t")) == b"01")
write_file(p("t"), b"")
check("O_TRUNC", read_file(p("t")) == b"" and os.stat(p("t")).st_size == 0)
os.unlink(p("t"))
expect_errno("stat of an unlinked file", errno.ENOENT, os.stat, p("t"))
expect_errno("unlink of a missing file", errno.ENOENT, os.unlink, p("t"))

# Extended attributes: the user namespace is kept; others are not.
write_file(p("x"), b"x")
os.setxattr(p("x"), "user.label", b"\x00bin\xff")
check("setxattr+getxattr", os.getxattr(p("x"), "user.label") == b"\x00bin\xff")
os.setxattr(p("x"), "user.other", b"")
check("listxattr", sorted(os.listxattr(p("x"))) == ["user.label", "user.other"],
      f"{os.listxattr(p('x'))}")
expect_errno("XATTR_CREATE of a present name", errno.EEXIST, os.setxattr, p("x"), "user.label",
             b"v", os.XATTR_CREATE)
expect_errno("XATTR_REPLACE of a missing name", errno.ENODATA, os.setxattr, p("x"), "user.none",
             b"v", os.XATTR_REPLACE)
os.setxattr(p("x"), "user.label", b"new", os.XATTR_REPLACE)
check("XATTR_REPLACE", os.getxattr(p("x"), "user.label") == b"new")
os.removexattr(p("x"), "user.other")
check("removexattr", os.listxattr(p("x")) == ["user.label"])
expect_errno("getxattr of a missing name", errno.ENODATA, os.getxattr, p("x"), "user.other")
expect_errno("removexattr of a missing name", errno.ENODATA, os.removexattr, p("x"), "user.other")
expect_errno("setxattr outside the user namespace", errno.EOPNOTSUPP, os.setxattr, p("x"),
             "trusted.x", b"v")
expect_errno("a value over 64 KiB", errno.E2BIG, os.setxattr, p("x"), "user.big", b"v" * 65537)
os.setxattr(p("x"), "user.big", b"v" * 60000)
expect_errno("xattrs over 64 KiB on one inode", errno.ENOSPC, os.setxattr, p("x"), "user.big2",
             b"v" * 10000)
os.mkdir(p("xd"))
os.setxattr(p("xd"), "user.dir", b"d")
check("an xattr on a directory", os.getxattr(p("xd"), "user.dir") == b"d")
os.rename(p("x"), p("x2"))
check("xattrs move with a rename", os.getxattr(p("x2"), "user.label") == b"new")
os.chmod(p("x2"), 0o644)

# --- permissions as users 1000 and 1001 -------------------------------------
os.mkdir(p("shared"), 0o777)
os.chmod(p("shared"), 0o1777)  # sticky, like /tmp
os.mkdir(p("closed"), 0o755)


def user_1000():
    expect_errno("create in a 0755 root directory", errno.EACCES, os.open, p("closed", "x"),
                 os.O_WRONLY | os.O_CREAT, 0o644)
    expect_errno("mkdir in a 0755 root directory", errno.EACCES, os.mkdir, p("closed", "x"))
    write_file(p("shared", "mine"), b"mine", mode=0o644)
    st = os.stat(p("shared", "mine"))
    check("a new file is its creator's", (st.st_uid, st.st_gid) == (1000, 1000), f"{st.st_uid}:{st.st_gid}")
    os.mkdir(p("shared", "mydir"), 0o700)
    check("a new directory is its creator's", os.stat(p("shared", "mydir")).st_uid == 1000)
    os.chmod(p("shared", "mine"), 0o644)
    expect_errno("chown to another user", errno.EPERM, os.chown, p("shared", "mine"), 1001, -1)
    write_file(p("shared", "secret"), b"s", mode=0o600)
    os.chmod(p("shared", "secret"), 0o000)
    expect_errno("the owner reads a 0000 file", errno.EACCES, os.open, p("shared", "secret"), os.O_RDONLY)
    os.chmod(p("shared", "secret"), 0o600)


def user_1001():
    check("another user reads a 0644 file", read_file(p("shared", "mine")) == b"mine")
    expect_errno("another user writes a 0644 file", errno.EACCES, os.open, p("shared", "mine"), os.O_WRONLY)
    expect_errno("another user reads a 0600 file", errno.EACCES, os.open, p("shared", "secret"), os.O_RDONLY)
    expect_errno("another user chmods a file", errno.EPERM, os.chmod, p("shared", "mine"), 0o666)
    expect_errno("another user sets an xattr on a 0644 file", errno.EACCES, os.setxattr,
                 p("x2"), "user.mine", b"v")
    check("another user reads an xattr of a 0644 file", os.getxattr(p("x2"), "user.label") == b"new")
    expect_errno("another user lists a 0700 directory", errno.EACCES, os.listdir, p("shared", "mydir"))
    expect_errno("another user unlinks in a sticky directory", errno.EPERM, os.unlink, p("shared", "mine"))
    expect_errno("another user renames in a sticky directory", errno.EPERM, os.rename,
                 p("shared", "mine"), p("shared", "taken"))


as_user(1000, 1000, user_1000)
as_user(1001, 1001, user_1001)

print(f"{'FAIL' if failures else 'ok  '} posix checks: {len(failures)} failures")
sys.exit(1 if failures else 0)
