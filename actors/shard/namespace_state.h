// actors/shard/namespace_state.h — the namespace state machine of a data
// shard: the buckets the shard owns, each an inode tree (directories with
// sorted entries, files with versions -> ordered chunk lists, symlinks),
// and the reference count of every chunk the shard's objects use.
//
// Owner: one shard-replica actor applies committed commands in log order;
// gateways read through the replica after a linearizable read. Pure and
// deterministic: no clock (times come in the commands, chosen by the
// proposer), no I/O, no randomness; applying the same commands in the same
// order gives the same state. Not thread-safe.
//
// S3 keys map to paths as ADR 0005 decides: `a/b/c` is file `c` in
// directory `a/b`; a key ending in `/` is a directory marker; keys that are
// not paths are refused (validate_key). Design and invariants:
// docs/namespace.md.
//
// Invariants (checked by check_invariants(), which every command ends with
// in tests; NS numbers as in docs/namespace.md):
//  NS1. Every inode but a bucket root is named by directory entries: a
//       directory by exactly one, a file or symlink by one per hard link
//       (at most links_max). The inode records every name: `parent`/`name`
//       is the least (directory, name) pair, `more_names` the others, and
//       `links` their count; each is an entry of that directory.
//  NS2. A directory's entries are keyed by list key: the name for a file
//       or symlink, the name + '/' for a directory; no name appears twice.
//  NS3. An implicit directory is never empty (it goes with its last entry).
//  NS4. Every chunk's reference count equals the number of references to
//       it from current object versions and from parts of uploads in
//       progress; no count is zero.
//  NS5. Inode numbers are never reused within a bucket.
//  NS6. A command that fails changes nothing.
//  NS7. A copy never raises a chunk's count from zero: a command that
//       reuses chunks (chunks_referenced) applies only if every one of
//       them is still referenced, else source_changed.
//  NS8. Garbage (ADR 0007): every chunk whose count reached zero, or that a
//       gateway reported orphaned, is in the garbage queue until the
//       collector says it is gone; no chunk in the queue is referenced; the
//       chunks being collected are in the queue, and no command that would
//       reference one of them applies (chunk_collecting): a chunk is never
//       deleted from the devices while a version names it.
//  NS9. An inode's extended attributes (FUSE, the user namespace) have
//       names of 1..xattr_name_bytes_max bytes and take at most
//       xattrs_bytes_max bytes, names and values together.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::shard {

struct bucket_id {
  std::uint64_t value = 0;
  friend auto operator<=>(const bucket_id&, const bucket_id&) = default;
};
struct inode_id {
  std::uint64_t value = 0;
  friend auto operator<=>(const inode_id&, const inode_id&) = default;
};

/// The root directory of every bucket.
inline constexpr inode_id root_inode{1};

inline constexpr std::size_t key_bytes_max = 1024;            // S3's limit
inline constexpr std::size_t name_bytes_max = 255;            // NAME_MAX (NFS, FUSE)
inline constexpr std::size_t user_metadata_bytes_max = 2048;  // S3's limit
inline constexpr std::size_t xattr_name_bytes_max = 255;      // XATTR_NAME_MAX
inline constexpr std::size_t xattrs_bytes_max = 64 * 1024;    // per inode (NS9)
inline constexpr std::size_t chunks_per_version_max =
    1 << 18;  // 1 TiB of 4 MiB chunks; bigger objects use bigger chunks
inline constexpr std::size_t list_keys_max = 1000;           // S3's max-keys ceiling
inline constexpr std::uint32_t part_number_max = 10000;      // S3's limit
inline constexpr std::uint64_t part_bytes_min = 5ull << 20;  // all parts but the last
inline constexpr std::size_t uploads_per_bucket_max = 100000;
inline constexpr std::size_t upload_id_bytes_max = 128;
inline constexpr std::uint32_t links_max = 65000;  // per file (ext4's LINK_MAX)

using chunk_hash = std::array<std::uint8_t, 32>;

/// One chunk of an object version: where its plaintext sits in the object,
/// and what a reader needs to find and open its stripe.
struct chunk_ref {
  chunk_hash id{};
  std::uint64_t offset = 0;  // in the object
  std::uint64_t length = 0;  // plaintext bytes
  std::uint32_t scheme = 0;  // chunk::scheme_id
  std::uint64_t key_epoch = 0;
  /// Shard index -> the device it was written to (placement at write
  /// time); readers go there first. Empty: ask placement.
  std::vector<std::uint64_t> devices;
  friend bool operator==(const chunk_ref&, const chunk_ref&) = default;
};

struct object_version {
  /// "null" until versioning exists (ARCHITECTURE §9).
  std::string version_id = "null";
  std::uint64_t size = 0;
  std::string etag;  // with its quotes, as S3 returns it
  std::string content_type;
  std::map<std::string, std::string> user_metadata;  // x-amz-meta-*, names lower-case
  std::vector<chunk_ref> chunks;
  /// A small object stored in the Raft entry instead of chunks: sealed by
  /// the gateway exactly as a chunk is (no plaintext reaches a log).
  std::vector<std::uint8_t> inline_sealed;
  std::int64_t mtime_ns = 0;
  /// Flexible checksums verified at upload ("x-amz-checksum-crc32" ->
  /// base64 value), returned by GET with x-amz-checksum-mode: ENABLED.
  std::map<std::string, std::string> checksums;
  friend bool operator==(const object_version&, const object_version&) = default;
};

enum class inode_kind : std::uint8_t { directory = 1, file = 2, symlink = 3 };

struct inode {
  inode_id id;
  inode_kind kind = inode_kind::file;
  inode_id parent;
  /// Its name in the parent directory (no '/'); "" for a bucket root.
  /// Derived from the parent's entries when a snapshot is restored.
  /// With hard links: the least (parent, name) pair of all its names.
  std::string name;
  /// A file's or symlink's other names (hard links), in order (NS1).
  std::set<std::pair<inode_id, std::string>> more_names;
  /// How many names it has: 1 + more_names (what stat's st_nlink shows of
  /// a file). Set by the state machine; a client reply carries it alone.
  std::uint32_t links = 1;
  std::uint32_t mode = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  // directory
  bool explicit_dir = false;  // mkdir or a "a/" marker; implicit ones vanish when empty
  std::map<std::string, inode_id> entries;  // list key -> child (NS2)
  // file: its current version; explicit directory: its marker's version
  // (size 0; what HEAD of "dir/" answers)
  std::optional<object_version> current;
  // symlink
  std::string target;
  /// Extended attributes, full names ("user.x"), set through FUSE (NS9).
  std::map<std::string, std::string> xattrs;
};

/// Why a key cannot be a path (ADR 0005); `none` when it can.
enum class key_problem : std::uint8_t {
  none,
  empty,
  too_long,            // over key_bytes_max: S3 KeyTooLongError
  empty_component,     // "a//b", "/a"
  dot_component,       // "." or ".."
  component_too_long,  // over name_bytes_max
  bad_character,       // a name (NFS, FUSE) holding '/' or NUL
};
std::string_view to_string(key_problem p);

struct parsed_key {
  std::vector<std::string> components;
  /// The key ends in '/': a directory marker.
  bool marker = false;
};
/// Splits a key into path components; the problem if it is not a path.
key_problem parse_key(std::string_view key, parsed_key& out);
/// Whether `name` can be a directory entry (one path component).
key_problem check_name(std::string_view name);

enum class ns_status : std::uint8_t {
  ok,
  no_such_bucket,
  bucket_exists,
  bucket_not_empty,
  no_such_key,
  invalid_key,          // see key_problem
  path_conflict,        // a file where a directory is needed, or the reverse
  precondition_failed,  // If-Match / If-None-Match
  invalid_argument,     // e.g. a body on a directory marker, too many chunks
  no_such_upload,
  invalid_part,        // CompleteMultipartUpload names a part not uploaded, or another ETag
  invalid_part_order,  // part numbers not ascending
  entity_too_small,    // a part but the last below part_bytes_min
  too_many_uploads,
  source_changed,    // chunks_referenced: a chunk the copy names is no longer referenced
  chunk_collecting,  // a chunk the write names is being deleted by the collector: retry
  // Inode-addressed commands (ADR 0008):
  entry_exists,         // the name is taken
  not_a_directory,      // a directory was needed
  is_a_directory,       // a directory is where a file, symlink or empty name was needed
  directory_not_empty,  // RMDIR, or a rename over a directory with entries
  no_such_inode,        // the inode named is gone (NFS: STALE)
  not_synchronized,     // a SETATTR guard (ctime) did not match
  too_many_links,       // LINK past links_max (EMLINK, NFS3ERR_MLINK)
};
std::string_view to_string(ns_status s);

// --- Inode-addressed commands (NFS, FUSE: ADR 0008) -------------------------

/// How CREATE treats an existing file (NFS createmode3).
enum class create_how : std::uint8_t { unchecked = 0, guarded = 1, exclusive = 2 };

/// A new entry `name` in directory `dir`: an empty file (visible to S3 as
/// an empty object), an explicit directory, or a symlink.
struct make_node_command {
  bucket_id bucket;
  inode_id dir;
  std::string name;
  inode_kind kind = inode_kind::file;
  std::uint32_t mode = 0644, uid = 0, gid = 0;
  std::string target;  // a symlink's
  /// Files only: unchecked answers ok with an existing file; exclusive
  /// answers ok with the file an earlier try made (same verifier, kept
  /// in its atime and mtime until a SETATTR sets them, as knfsd does).
  create_how how = create_how::guarded;
  std::uint64_t verifier = 0;
  std::int64_t now_ns = 0;
  friend bool operator==(const make_node_command&, const make_node_command&) = default;
};

/// REMOVE (a file or symlink) or RMDIR (an empty directory).
struct remove_node_command {
  bucket_id bucket;
  inode_id dir;
  std::string name;
  bool directory = false;
  std::int64_t now_ns = 0;
  friend bool operator==(const remove_node_command&, const remove_node_command&) = default;
};

/// RENAME, with POSIX's rules: an existing target of the same kind is
/// replaced (a directory only if empty); a directory never moves into
/// itself. A directory moves with everything under it in one step.
struct rename_node_command {
  bucket_id bucket;
  inode_id from_dir;
  std::string from_name;
  inode_id to_dir;
  std::string to_name;
  std::int64_t now_ns = 0;
  friend bool operator==(const rename_node_command&, const rename_node_command&) = default;
};

/// LINK: a new name `to_name` in directory `to_dir` for the file or
/// symlink `inode` (a directory answers is_a_directory). The name must be
/// free (entry_exists); the inode's ctime and the directory's times move.
struct link_node_command {
  bucket_id bucket;
  inode_id inode;
  inode_id to_dir;
  std::string to_name;
  std::int64_t now_ns = 0;
  friend bool operator==(const link_node_command&, const link_node_command&) = default;
};

/// setxattr's XATTR_CREATE (entry_exists if the name is set) and
/// XATTR_REPLACE (no_such_key if it is not).
enum class xattr_how : std::uint8_t { either = 0, create = 1, replace = 2 };

/// SETATTR without a size (sizes change with the write path).
struct set_attributes_command {
  bucket_id bucket;
  inode_id inode;
  std::optional<std::uint32_t> mode, uid, gid;
  std::optional<std::int64_t> atime_ns, mtime_ns;
  /// Applies only if the inode's ctime is this (NFS sattrguard3).
  std::optional<std::int64_t> guard_ctime_ns;
  std::int64_t now_ns = 0;
  /// An extended attribute (FUSE setxattr, removexattr): `xattr_value`
  /// set under `xattr_name`, or the name removed when there is no value.
  std::optional<std::string> xattr_name;
  std::optional<std::string> xattr_value;
  xattr_how xattr_mode = xattr_how::either;
  friend bool operator==(const set_attributes_command&, const set_attributes_command&) = default;
};

/// A write into a file (NFS WRITE, SETATTR of the size; FUSE): the chunks
/// that covered [from, to) are replaced by `chunks`, which cover it again
/// (a gap between chunks reads as zeros: files may be sparse), or the whole
/// file becomes `inline_sealed`. The gateway chooses [from, to) to cover
/// whole chunks: no chunk may stick out of it. Applies only if the file's
/// current ETag is still `expected_etag` (the version the gateway read and
/// patched; else precondition_failed and the gateway retries).
struct write_range_command {
  bucket_id bucket;
  inode_id inode;
  std::string expected_etag;
  std::uint64_t from = 0, to = 0;
  std::vector<chunk_ref> chunks;
  std::vector<std::uint8_t> inline_sealed;
  std::uint64_t size = 0;
  std::string etag;
  std::int64_t now_ns = 0;
  friend bool operator==(const write_range_command&, const write_range_command&) = default;
};

/// Conditions on a write, checked atomically with it.
struct write_condition {
  /// If-None-Match: * — only if no object exists at the key.
  bool if_none_match_any = false;
  /// If-Match: <etag> — only if the current object has this ETag.
  std::optional<std::string> if_match;
  /// A copy (CopyObject, UploadPartCopy) reuses the source's chunks: only
  /// if every chunk it names is still referenced here, so a copy never
  /// revives a chunk the collector may already reclaim (NS7).
  bool chunks_referenced = false;
  friend bool operator==(const write_condition&, const write_condition&) = default;
};

struct put_object_command {
  bucket_id bucket;
  std::string key;
  object_version version;  // version_id and mtime_ns are set by apply
  write_condition condition;
  std::int64_t now_ns = 0;
  std::uint32_t mode = 0644, uid = 0, gid = 0;
  friend bool operator==(const put_object_command&, const put_object_command&) = default;
};

struct delete_object_command {
  bucket_id bucket;
  std::string key;
  std::optional<std::string> if_match;
  std::int64_t now_ns = 0;
  friend bool operator==(const delete_object_command&, const delete_object_command&) = default;
};

struct ns_result {
  ns_status status = ns_status::ok;
  key_problem problem = key_problem::none;
  /// For path_conflict: the key (prefix) that is in the way.
  std::string conflict;
  /// Chunks whose last reference went (garbage for the chunk collector).
  std::vector<chunk_hash> unreferenced;
  /// The inode written or removed.
  inode_id inode;
  /// collect_begin: the chunks now marked (the others were referenced
  /// again or are not garbage).
  std::vector<chunk_hash> granted;
};

/// A part of a multipart upload: an object version without metadata.
struct upload_part {
  std::string etag;
  std::uint64_t size = 0;
  std::vector<chunk_ref> chunks;  // offsets within the part
  std::int64_t uploaded_ns = 0;
  friend bool operator==(const upload_part&, const upload_part&) = default;
};

struct multipart_upload {
  std::string id;
  std::string key;
  std::string content_type;
  std::map<std::string, std::string> user_metadata;
  std::int64_t initiated_ns = 0;
  std::map<std::uint32_t, upload_part> parts;
  friend bool operator==(const multipart_upload&, const multipart_upload&) = default;
};

struct create_upload_command {
  bucket_id bucket;
  std::string key;
  /// Chosen by the proposer (unique: e.g. node id, log position, random).
  std::string upload_id;
  std::string content_type;
  std::map<std::string, std::string> user_metadata;
  std::int64_t now_ns = 0;
  friend bool operator==(const create_upload_command&, const create_upload_command&) = default;
};

struct upload_part_command {
  bucket_id bucket;
  std::string upload_id;
  std::uint32_t part_number = 0;  // 1..part_number_max
  upload_part part;
  /// As write_condition::chunks_referenced (UploadPartCopy).
  bool chunks_referenced = false;
  std::int64_t now_ns = 0;
  friend bool operator==(const upload_part_command&, const upload_part_command&) = default;
};

struct complete_upload_command {
  bucket_id bucket;
  std::string upload_id;
  /// As the client listed them: part number and ETag, ascending.
  std::vector<std::pair<std::uint32_t, std::string>> parts;
  /// The multipart ETag ("md5-of-md5s-N", computed by the gateway from the
  /// listed ETags, which apply checks against the stored parts).
  std::string etag;
  write_condition condition;
  std::int64_t now_ns = 0;
  friend bool operator==(const complete_upload_command&, const complete_upload_command&) = default;
};

struct abort_upload_command {
  bucket_id bucket;
  std::string upload_id;
  friend bool operator==(const abort_upload_command&, const abort_upload_command&) = default;
};

/// The chunk collector's commands (ADR 0007). Collection of a chunk:
/// begin (marks it), device deletes, end (forgets it) or abort (unmarks).
struct collect_begin_command {
  std::vector<chunk_hash> chunks;
  friend bool operator==(const collect_begin_command&, const collect_begin_command&) = default;
};
struct collect_end_command {
  std::vector<chunk_hash> chunks;
  friend bool operator==(const collect_end_command&, const collect_end_command&) = default;
};
struct collect_abort_command {
  std::vector<chunk_hash> chunks;
  friend bool operator==(const collect_abort_command&, const collect_abort_command&) = default;
};
/// Chunks a gateway wrote for a write that did not commit (a bad digest,
/// a refused condition): garbage unless something references them.
struct report_orphans_command {
  std::vector<chunk_ref> chunks;
  std::int64_t now_ns = 0;
  friend bool operator==(const report_orphans_command&, const report_orphans_command&) = default;
};
/// A chunk in the garbage queue: where its shards were written.
struct garbage_chunk {
  chunk_ref ref;  // offset and length are meaningless here
  std::int64_t since_ns = 0;
  bool collecting = false;
  friend bool operator==(const garbage_chunk&, const garbage_chunk&) = default;
};
inline constexpr std::size_t collect_batch_max = 1024;

struct list_request {
  std::string prefix;
  std::string delimiter;  // "" or any string; "/" walks the tree without descending
  /// Keys (and common prefixes) strictly after this one (start-after,
  /// marker or a decoded continuation token).
  std::string start_after;
  std::size_t max_keys = list_keys_max;
};

struct list_entry {
  std::string key;
  const object_version* version = nullptr;  // valid until the next command
  bool directory_marker = false;
};

struct list_result {
  std::vector<list_entry> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  /// The last key or common prefix returned (NextMarker / continuation).
  std::string last;
};

class namespace_state {
 public:
  ns_result create_bucket(bucket_id bucket, std::int64_t now_ns);
  /// Only an empty bucket (no keys, no directories).
  ns_result delete_bucket(bucket_id bucket);
  bool has_bucket(bucket_id bucket) const { return buckets_.count(bucket) != 0; }
  std::size_t bucket_count() const { return buckets_.size(); }

  ns_result put_object(const put_object_command& c);
  ns_result delete_object(const delete_object_command& c);

  // Inode-addressed changes (ADR 0008); NS6 holds for each.
  ns_result make_node(const make_node_command& c);
  ns_result remove_node(const remove_node_command& c);
  ns_result rename_node(const rename_node_command& c);
  ns_result link_node(const link_node_command& c);
  ns_result set_attributes(const set_attributes_command& c);
  ns_result write_range(const write_range_command& c);

  // Multipart uploads: parts hold chunk references until the upload is
  // completed (they move into the object) or aborted (released).
  ns_result create_upload(const create_upload_command& c);
  ns_result put_part(const upload_part_command& c);
  /// The object replaces any at the key (with the condition checked); parts
  /// uploaded but not listed are released.
  ns_result complete_upload(const complete_upload_command& c);
  ns_result abort_upload(const abort_upload_command& c);
  const multipart_upload* upload(bucket_id bucket, std::string_view upload_id) const;
  /// Uploads in progress in key order (then upload id), after the given
  /// (key, upload id) marker, at most `max`.
  std::vector<const multipart_upload*> uploads(bucket_id bucket, std::string_view key_marker,
                                               std::string_view upload_id_marker,
                                               std::size_t max) const;

  /// The object at `key` (a file's current version, or a marker's empty
  /// version), or the status saying why there is none.
  ns_status head(bucket_id bucket, std::string_view key, const object_version** out) const;
  ns_status list(bucket_id bucket, const list_request& request, list_result& out) const;

  /// The inode of `key`, or nullptr.
  const inode* find(bucket_id bucket, std::string_view key) const;

  // Inode-addressed reads (NFS, FUSE: ADR 0008).
  /// Inode `id` of `bucket`, or nullptr.
  const inode* inode_of(bucket_id bucket, inode_id id) const;
  /// The entry `name` (file, symlink or directory) of directory `dir`, or
  /// nullptr (also when `dir` is not a directory).
  const inode* lookup(bucket_id bucket, inode_id dir, std::string_view name) const;
  /// The key S3 gives inode `id` ("a/b/c"; a directory's ends in '/'), or
  /// "" for a bucket root or an unknown inode.
  std::string key_of(bucket_id bucket, inode_id id) const;
  enum class page_status : std::uint8_t { ok, no_such_directory, not_a_directory, entry_gone };
  /// An entry of a directory page: its name (a hard-linked file's name
  /// here, which may not be the inode's `name`) and its inode. Valid until
  /// the next command.
  struct named_inode {
    std::string_view name;
    const inode* node = nullptr;
    /// Which of the inode's names in this directory it is (0: its least;
    /// more only for hard links): with the inode, what READDIR resumes at.
    std::uint32_t ordinal = 0;
  };
  /// Up to `max` entries of directory `dir` in name order, after the entry
  /// `after` (an inode in `dir`, and its `after_ordinal`-th name there;
  /// root_inode: from the start). `entry_gone` if that name is no longer
  /// in `dir` (a READDIR cookie that went stale).
  page_status read_directory(bucket_id bucket, inode_id dir, inode_id after,
                             std::uint32_t after_ordinal, std::size_t max,
                             std::vector<named_inode>& out, bool& end) const;

  std::uint64_t references(const chunk_hash& chunk) const;
  // Garbage collection (ADR 0007, NS8).
  ns_result collect_begin(const collect_begin_command& c);
  ns_result collect_end(const collect_end_command& c);
  ns_result collect_abort(const collect_abort_command& c);
  ns_result report_orphans(const report_orphans_command& c);
  const std::map<chunk_hash, garbage_chunk>& garbage() const { return garbage_; }
  /// The time of the command being applied (apply_ns_command sets it; it
  /// stamps chunks entering the garbage queue).
  void set_now(std::int64_t now_ns) { applying_ns_ = now_ns; }
  std::size_t chunk_count() const { return chunk_refs_.size(); }
  std::size_t inode_count(bucket_id bucket) const;

  /// NS1-NS5 over the whole state; O(size). Aborts on a violation.
  void check_invariants() const;
  /// The first violated invariant ("NS3: ..."), or "" when all hold.
  std::string violation() const;

 private:
  struct bucket_tree {
    std::map<inode_id, inode> inodes;
    std::uint64_t next_inode = root_inode.value + 1;
    std::map<std::string, multipart_upload> uploads;  // by upload id
  };

  // Resolution without changes: the directory chain for `components`
  // (all but the last when `to_parent`), or where it breaks.
  struct resolution;
  resolution resolve(const bucket_tree& tree, const parsed_key& key) const;

  inode& new_inode(bucket_tree& tree, inode_kind kind, inode_id parent, std::string name,
                   std::int64_t now_ns);
  void release(const std::vector<chunk_ref>& chunks, std::vector<chunk_hash>& unreferenced);
  void retain(const std::vector<chunk_ref>& chunks);
  bool all_referenced(const std::vector<chunk_ref>& chunks) const;
  /// The checks of put_object (NS6: nothing changes); on success `where`
  /// says what to change.
  struct placement;
  ns_result check_put(const bucket_tree& tree, const std::string& key, const object_version& v,
                      const write_condition& condition, placement& where) const;
  /// Creates the missing directories and stores `v` at the checked place.
  ns_result store(bucket_tree& tree, const placement& where, object_version v, std::int64_t now_ns,
                  std::uint32_t mode, std::uint32_t uid, std::uint32_t gid);
  /// The refusal of a change to entry `name` of directory `dir` (no
  /// bucket, no such directory, not one, not a name), or nullopt.
  std::optional<ns_result> check_entry(bucket_id bucket, inode_id dir,
                                       const std::string& name) const;
  /// Takes entry `name` of directory `dir` away from `n`, which stays
  /// while it has other names; else it goes and its chunks are released.
  /// Returns whether the inode went.
  bool unname(bucket_tree& tree, inode_id dir, const std::string& name, std::int64_t now_ns,
              ns_result& r);
  /// Removes empty implicit directories from `dir` upwards (NS3).
  void prune(bucket_tree& tree, inode_id dir, std::int64_t now_ns);

  friend std::string snapshot_namespace(const namespace_state& state);
  friend bool restore_namespace(namespace_state& state, const std::string& bytes);

  std::map<bucket_id, bucket_tree> buckets_;
  std::map<chunk_hash, std::uint64_t> chunk_refs_;  // NS4
  std::map<chunk_hash, garbage_chunk> garbage_;     // NS8
  /// Set by the command being applied (release() stamps garbage with it).
  std::int64_t applying_ns_ = 0;
  /// True if any of `chunks` is being collected (NS8).
  bool any_collecting(const std::vector<chunk_ref>& chunks) const;
};

}  // namespace cairn::shard
