// actors/shard/namespace_state.cpp — see namespace_state.h.
#include "actors/shard/namespace_state.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "actors/common/assert.h"

namespace cairn::shard {

std::string_view to_string(key_problem p) {
  switch (p) {
    case key_problem::none:
      return "none";
    case key_problem::empty:
      return "the key is empty";
    case key_problem::too_long:
      return "the key is longer than 1024 bytes";
    case key_problem::empty_component:
      return "the key has an empty path component (// or a leading /)";
    case key_problem::dot_component:
      return "the key has a '.' or '..' path component";
    case key_problem::component_too_long:
      return "the key has a path component longer than 255 bytes";
    case key_problem::bad_character:
      return "the name holds '/' or NUL";
  }
  return "unknown";
}

std::string_view to_string(ns_status s) {
  switch (s) {
    case ns_status::ok:
      return "ok";
    case ns_status::no_such_bucket:
      return "no_such_bucket";
    case ns_status::bucket_exists:
      return "bucket_exists";
    case ns_status::bucket_not_empty:
      return "bucket_not_empty";
    case ns_status::no_such_key:
      return "no_such_key";
    case ns_status::invalid_key:
      return "invalid_key";
    case ns_status::path_conflict:
      return "path_conflict";
    case ns_status::precondition_failed:
      return "precondition_failed";
    case ns_status::invalid_argument:
      return "invalid_argument";
    case ns_status::no_such_upload:
      return "no_such_upload";
    case ns_status::invalid_part:
      return "invalid_part";
    case ns_status::invalid_part_order:
      return "invalid_part_order";
    case ns_status::entity_too_small:
      return "entity_too_small";
    case ns_status::too_many_uploads:
      return "too_many_uploads";
    case ns_status::source_changed:
      return "source_changed";
    case ns_status::chunk_collecting:
      return "chunk_collecting";
    case ns_status::entry_exists:
      return "entry_exists";
    case ns_status::not_a_directory:
      return "not_a_directory";
    case ns_status::is_a_directory:
      return "is_a_directory";
    case ns_status::directory_not_empty:
      return "directory_not_empty";
    case ns_status::no_such_inode:
      return "no_such_inode";
    case ns_status::not_synchronized:
      return "not_synchronized";
    case ns_status::too_many_links:
      return "too_many_links";
  }
  return "unknown";
}

key_problem parse_key(std::string_view key, parsed_key& out) {
  out = {};
  if (key.empty()) return key_problem::empty;
  if (key.size() > key_bytes_max) return key_problem::too_long;
  if (key.back() == '/') {
    out.marker = true;
    key.remove_suffix(1);
    if (key.empty()) return key_problem::empty_component;  // "/"
  }
  std::size_t at = 0;
  while (true) {
    const auto slash = key.find('/', at);
    const auto part = key.substr(at, slash == std::string_view::npos ? key.npos : slash - at);
    if (part.empty()) return key_problem::empty_component;
    if (part == "." || part == "..") return key_problem::dot_component;
    if (part.size() > name_bytes_max) return key_problem::component_too_long;
    out.components.emplace_back(part);
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return key_problem::none;
}

key_problem check_name(std::string_view name) {
  if (name.empty()) return key_problem::empty_component;
  if (name == "." || name == "..") return key_problem::dot_component;
  if (name.size() > name_bytes_max) return key_problem::component_too_long;
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos)
    return key_problem::bad_character;
  return key_problem::none;
}

namespace {

/// The ETag S3 gives an empty object (MD5 of nothing).
constexpr std::string_view empty_etag = "\"d41d8cd98f00b204e9800998ecf8427e\"";
constexpr std::size_t symlink_target_bytes_max = 4096;  // PATH_MAX

std::string list_key(const std::string& name, inode_kind kind) {
  return kind == inode_kind::directory ? name + "/" : name;
}

std::string join(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

ns_result failed(ns_status s) {
  ns_result r;
  r.status = s;
  return r;
}

std::size_t metadata_bytes(const std::map<std::string, std::string>& m) {
  std::size_t n = 0;
  for (const auto& [k, v] : m) n += k.size() + v.size();
  return n;
}

// Hard links (NS1): a file's names are {(parent, name)} + more_names, the
// least pair first; `links` counts them.
using name_pair = std::pair<inode_id, std::string>;

void add_name(inode& n, inode_id dir, const std::string& name) {
  name_pair p{dir, name};
  if (std::tie(p.first, p.second) < std::tie(n.parent, n.name)) {
    n.more_names.emplace(n.parent, std::move(n.name));
    n.parent = p.first;
    n.name = std::move(p.second);
  } else {
    n.more_names.insert(std::move(p));
  }
  ++n.links;
}

void drop_name(inode& n, inode_id dir, const std::string& name) {
  CAIRN_ASSERT_MSG(n.links > 1, "NS1: dropped a file's last name");
  if (n.parent == dir && n.name == name) {
    auto least = n.more_names.extract(n.more_names.begin());
    n.parent = least.value().first;
    n.name = std::move(least.value().second);
  } else {
    CAIRN_ASSERT_MSG(n.more_names.erase({dir, name}) == 1, "NS1: dropped a name it did not have");
  }
  --n.links;
}

/// The `k`-th name (in name order) `n` has in directory `dir`, or nullptr.
const std::string* name_in(const inode& n, inode_id dir, std::uint32_t k) {
  if (n.parent == dir) {  // the least pair overall
    if (k == 0) return &n.name;
    --k;
  }
  auto it = n.more_names.lower_bound({dir, std::string()});
  for (; it != n.more_names.end() && it->first == dir; ++it)
    if (k-- == 0) return &it->second;
  return nullptr;
}

/// How many of `n`'s names in directory `dir` come before `name`.
std::uint32_t ordinal_in(const inode& n, inode_id dir, std::string_view name) {
  if (n.links == 1) return 0;
  std::uint32_t k = n.parent == dir && n.name < name ? 1 : 0;
  for (auto it = n.more_names.lower_bound({dir, std::string()});
       it != n.more_names.end() && it->first == dir && it->second < name; ++it)
    ++k;
  return k;
}

}  // namespace

struct namespace_state::resolution {
  /// dirs[i]: the directory of components[0, i); dirs[0] is the root.
  std::vector<inode_id> dirs;
  /// The parent chain (every component but the last) exists.
  bool parents_exist = false;
  /// A file (or symlink) in the way of the parent chain: its key.
  std::optional<std::string> conflict;
};

namespace_state::resolution namespace_state::resolve(const bucket_tree& tree,
                                                     const parsed_key& key) const {
  resolution r;
  r.dirs.push_back(root_inode);
  const auto parents = key.components.size() - 1;
  for (std::size_t i = 0; i < parents; ++i) {
    const auto& dir = tree.inodes.at(r.dirs.back());
    const auto& name = key.components[i];
    if (dir.entries.count(name)) {
      r.conflict = join(key.components, i + 1);
      return r;
    }
    const auto sub = dir.entries.find(name + "/");
    if (sub == dir.entries.end()) return r;  // the rest is missing
    r.dirs.push_back(sub->second);
  }
  r.parents_exist = true;
  return r;
}

inode& namespace_state::new_inode(bucket_tree& tree, inode_kind kind, inode_id parent,
                                  std::string name, std::int64_t now_ns) {
  const inode_id id{tree.next_inode++};  // NS5: never reused
  auto& n = tree.inodes[id];
  n.id = id;
  n.kind = kind;
  n.parent = parent;
  n.name = std::move(name);
  n.atime_ns = n.mtime_ns = n.ctime_ns = now_ns;
  n.mode = kind == inode_kind::directory ? 0755 : 0644;
  return n;
}

bool namespace_state::all_referenced(const std::vector<chunk_ref>& chunks) const {
  return std::all_of(chunks.begin(), chunks.end(),
                     [&](const chunk_ref& c) { return chunk_refs_.count(c.id) != 0; });
}

bool namespace_state::any_collecting(const std::vector<chunk_ref>& chunks) const {
  if (garbage_.empty()) return false;
  return std::any_of(chunks.begin(), chunks.end(), [&](const chunk_ref& c) {
    const auto g = garbage_.find(c.id);
    return g != garbage_.end() && g->second.collecting;
  });
}

void namespace_state::retain(const std::vector<chunk_ref>& chunks) {
  for (const auto& c : chunks) {
    // Referenced again before the collector took it: no longer garbage.
    // (One being collected never gets here: the command was refused.)
    if (++chunk_refs_[c.id] == 1 && !garbage_.empty()) {
      const auto g = garbage_.find(c.id);
      CAIRN_ASSERT_MSG(g == garbage_.end() || !g->second.collecting,
                       "NS8: a chunk being collected was referenced");
      if (g != garbage_.end()) garbage_.erase(g);
    }
  }
}

void namespace_state::release(const std::vector<chunk_ref>& chunks,
                              std::vector<chunk_hash>& unreferenced) {
  for (const auto& c : chunks) {
    auto it = chunk_refs_.find(c.id);
    CAIRN_ASSERT_MSG(it != chunk_refs_.end() && it->second > 0, "released an unreferenced chunk");
    if (--it->second == 0) {
      unreferenced.push_back(c.id);
      chunk_refs_.erase(it);
      garbage_.emplace(c.id, garbage_chunk{c, applying_ns_, false});
    }
  }
}

bool namespace_state::unname(bucket_tree& tree, inode_id dir_id, const std::string& name,
                             std::int64_t now_ns, ns_result& r) {
  auto& dir = tree.inodes.at(dir_id);
  auto entry = dir.entries.find(name);
  if (entry == dir.entries.end()) entry = dir.entries.find(name + "/");
  CAIRN_ASSERT_MSG(entry != dir.entries.end(), "unname: no such entry");
  const auto id = entry->second;
  dir.entries.erase(entry);
  dir.mtime_ns = dir.ctime_ns = now_ns;
  auto& n = tree.inodes.at(id);
  if (n.links > 1) {  // another hard link keeps it
    drop_name(n, dir_id, name);
    n.ctime_ns = now_ns;
    return false;
  }
  if (n.current) release(n.current->chunks, r.unreferenced);
  tree.inodes.erase(id);
  return true;
}

void namespace_state::prune(bucket_tree& tree, inode_id dir, std::int64_t now_ns) {
  while (dir != root_inode) {
    auto& d = tree.inodes.at(dir);
    if (d.explicit_dir || !d.entries.empty()) return;
    auto& parent = tree.inodes.at(d.parent);
    parent.entries.erase(d.name + "/");
    parent.mtime_ns = parent.ctime_ns = now_ns;
    const auto up = d.parent;
    tree.inodes.erase(dir);
    dir = up;
  }
}

ns_result namespace_state::create_bucket(bucket_id bucket, std::int64_t now_ns) {
  if (buckets_.count(bucket)) return failed(ns_status::bucket_exists);
  auto& tree = buckets_[bucket];
  auto& root = tree.inodes[root_inode];
  root.id = root_inode;
  root.kind = inode_kind::directory;
  root.parent = root_inode;
  root.explicit_dir = true;
  root.mode = 0755;
  root.atime_ns = root.mtime_ns = root.ctime_ns = now_ns;
  return {};
}

ns_result namespace_state::delete_bucket(bucket_id bucket) {
  const auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return failed(ns_status::no_such_bucket);
  if (!it->second.inodes.at(root_inode).entries.empty()) return failed(ns_status::bucket_not_empty);
  // Uploads in progress do not keep a bucket alive (as in S3); their parts go.
  ns_result r;
  for (const auto& [id, u] : it->second.uploads)
    for (const auto& [number, part] : u.parts) release(part.chunks, r.unreferenced);
  buckets_.erase(it);
  return r;
}

struct namespace_state::placement {
  parsed_key key;
  resolution res;
  /// The inode at the key (file, or directory for a marker), if any.
  std::optional<inode_id> existing;
};

ns_result namespace_state::check_put(const bucket_tree& tree, const std::string& key_text,
                                     const object_version& v, const write_condition& condition,
                                     placement& where) const {
  auto& key = where.key;
  if (const auto p = parse_key(key_text, key); p != key_problem::none) {
    auto r = failed(ns_status::invalid_key);
    r.problem = p;
    return r;
  }
  if (key.marker && (v.size != 0 || !v.chunks.empty() || !v.inline_sealed.empty()))
    return failed(ns_status::invalid_argument);
  if (v.chunks.size() > chunks_per_version_max ||
      metadata_bytes(v.user_metadata) > user_metadata_bytes_max ||
      metadata_bytes(v.checksums) > user_metadata_bytes_max)
    return failed(ns_status::invalid_argument);
  where.res = resolve(tree, key);
  if (where.res.conflict) {
    auto r = failed(ns_status::path_conflict);
    r.conflict = *where.res.conflict;
    return r;
  }
  const auto& name = key.components.back();
  const inode* existing = nullptr;
  if (where.res.parents_exist) {
    const auto& dir = tree.inodes.at(where.res.dirs.back());
    const auto as_file = dir.entries.find(name);
    const auto as_dir = dir.entries.find(name + "/");
    if (key.marker ? as_file != dir.entries.end() : as_dir != dir.entries.end()) {
      auto r = failed(ns_status::path_conflict);
      r.conflict = join(key.components, key.components.size()) + (key.marker ? "" : "/");
      return r;
    }
    const auto found = key.marker ? as_dir : as_file;
    if (found != dir.entries.end()) {
      existing = &tree.inodes.at(found->second);
      where.existing = found->second;
      if (existing->kind == inode_kind::symlink) {
        auto r = failed(ns_status::path_conflict);
        r.conflict = key_text;
        return r;
      }
    }
  }
  const object_version* current = existing && existing->current ? &*existing->current : nullptr;
  if (condition.if_none_match_any && current) return failed(ns_status::precondition_failed);
  if (condition.if_match) {
    if (!current) return failed(ns_status::no_such_key);
    if (current->etag != *condition.if_match) return failed(ns_status::precondition_failed);
  }
  if (condition.chunks_referenced && !all_referenced(v.chunks))
    return failed(ns_status::source_changed);
  return {};
}

ns_result namespace_state::store(bucket_tree& tree, const placement& where, object_version v,
                                 std::int64_t now_ns, std::uint32_t mode, std::uint32_t uid,
                                 std::uint32_t gid) {
  const auto& key = where.key;
  ns_result r;
  inode_id dir = where.res.dirs.back();
  for (std::size_t i = where.res.dirs.size() - 1; i + 1 < key.components.size(); ++i) {
    auto& created = new_inode(tree, inode_kind::directory, dir, key.components[i], now_ns);
    const auto id = created.id;
    auto& parent = tree.inodes.at(dir);
    parent.entries.emplace(key.components[i] + "/", id);
    parent.mtime_ns = parent.ctime_ns = now_ns;
    dir = id;
  }
  v.version_id = "null";
  v.mtime_ns = now_ns;
  retain(v.chunks);  // before releasing the old version: a re-put keeps its chunks
  if (where.existing) {
    auto& n = tree.inodes.at(*where.existing);
    if (n.current) release(n.current->chunks, r.unreferenced);
    n.current = std::move(v);
    n.mtime_ns = n.ctime_ns = now_ns;
    if (key.marker) n.explicit_dir = true;
    r.inode = n.id;
    return r;
  }
  auto& n = new_inode(tree, key.marker ? inode_kind::directory : inode_kind::file, dir,
                      key.components.back(), now_ns);
  n.mode = key.marker ? 0755 : mode;
  n.uid = uid;
  n.gid = gid;
  n.explicit_dir = key.marker;
  n.current = std::move(v);
  r.inode = n.id;
  auto& parent = tree.inodes.at(dir);
  parent.entries.emplace(list_key(key.components.back(), n.kind), n.id);
  parent.mtime_ns = parent.ctime_ns = now_ns;
  return r;
}

ns_result namespace_state::put_object(const put_object_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  placement where;
  // Everything is checked before anything changes (NS6).
  if (auto r = check_put(b->second, c.key, c.version, c.condition, where);
      r.status != ns_status::ok)
    return r;
  if (any_collecting(c.version.chunks)) return failed(ns_status::chunk_collecting);
  return store(b->second, where, c.version, c.now_ns, c.mode, c.uid, c.gid);
}

ns_result namespace_state::create_upload(const create_upload_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  auto& tree = b->second;
  parsed_key key;
  if (const auto p = parse_key(c.key, key); p != key_problem::none) {
    auto r = failed(ns_status::invalid_key);
    r.problem = p;
    return r;
  }
  if (key.marker || c.upload_id.empty() || c.upload_id.size() > upload_id_bytes_max ||
      tree.uploads.count(c.upload_id) || metadata_bytes(c.user_metadata) > user_metadata_bytes_max)
    return failed(ns_status::invalid_argument);
  if (tree.uploads.size() >= uploads_per_bucket_max) return failed(ns_status::too_many_uploads);
  auto& u = tree.uploads[c.upload_id];
  u.id = c.upload_id;
  u.key = c.key;
  u.content_type = c.content_type;
  u.user_metadata = c.user_metadata;
  u.initiated_ns = c.now_ns;
  return {};
}

ns_result namespace_state::put_part(const upload_part_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  const auto u = b->second.uploads.find(c.upload_id);
  if (u == b->second.uploads.end()) return failed(ns_status::no_such_upload);
  if (c.part_number < 1 || c.part_number > part_number_max ||
      c.part.chunks.size() > chunks_per_version_max)
    return failed(ns_status::invalid_argument);
  if (c.chunks_referenced && !all_referenced(c.part.chunks))
    return failed(ns_status::source_changed);
  if (any_collecting(c.part.chunks)) return failed(ns_status::chunk_collecting);
  ns_result r;
  retain(c.part.chunks);
  auto& slot = u->second.parts[c.part_number];
  release(slot.chunks, r.unreferenced);  // a part uploaded again replaces the old one
  slot = c.part;
  slot.uploaded_ns = c.now_ns;
  return r;
}

ns_result namespace_state::complete_upload(const complete_upload_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  auto& tree = b->second;
  const auto u = tree.uploads.find(c.upload_id);
  if (u == tree.uploads.end()) return failed(ns_status::no_such_upload);
  const auto& upload = u->second;
  if (c.parts.empty()) return failed(ns_status::invalid_argument);
  // The object: the listed parts in order, every one but the last at least
  // part_bytes_min (S3's rules, checked in S3's order).
  object_version v;
  v.etag = c.etag;
  v.content_type = upload.content_type;
  v.user_metadata = upload.user_metadata;
  std::uint32_t previous = 0;
  for (std::size_t i = 0; i < c.parts.size(); ++i) {
    const auto& [number, etag] = c.parts[i];
    if (number <= previous) return failed(ns_status::invalid_part_order);
    previous = number;
    const auto p = upload.parts.find(number);
    if (p == upload.parts.end() || p->second.etag != etag) return failed(ns_status::invalid_part);
    if (i + 1 < c.parts.size() && p->second.size < part_bytes_min)
      return failed(ns_status::entity_too_small);
    for (auto ref : p->second.chunks) {
      ref.offset += v.size;
      v.chunks.push_back(ref);
    }
    v.size += p->second.size;
  }
  if (v.chunks.size() > chunks_per_version_max) return failed(ns_status::invalid_argument);
  placement where;
  if (auto r = check_put(tree, upload.key, v, c.condition, where); r.status != ns_status::ok)
    return r;
  auto r = store(tree, where, std::move(v), c.now_ns, 0644, 0, 0);
  // The parts' references now belong to the object; drop theirs.
  for (const auto& [number, part] : upload.parts) release(part.chunks, r.unreferenced);
  tree.uploads.erase(u);
  return r;
}

ns_result namespace_state::abort_upload(const abort_upload_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  const auto u = b->second.uploads.find(c.upload_id);
  if (u == b->second.uploads.end()) return failed(ns_status::no_such_upload);
  ns_result r;
  for (const auto& [number, part] : u->second.parts) release(part.chunks, r.unreferenced);
  b->second.uploads.erase(u);
  return r;
}

const multipart_upload* namespace_state::upload(bucket_id bucket,
                                                std::string_view upload_id) const {
  const auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return nullptr;
  const auto u = b->second.uploads.find(std::string(upload_id));
  return u == b->second.uploads.end() ? nullptr : &u->second;
}

std::vector<const multipart_upload*> namespace_state::uploads(bucket_id bucket,
                                                              std::string_view key_marker,
                                                              std::string_view upload_id_marker,
                                                              std::size_t max) const {
  std::vector<const multipart_upload*> out;
  const auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return out;
  for (const auto& [id, u] : b->second.uploads)
    if (u.key > key_marker || (u.key == key_marker && id > upload_id_marker)) out.push_back(&u);
  std::sort(out.begin(), out.end(), [](const auto* x, const auto* y) {
    return std::tie(x->key, x->id) < std::tie(y->key, y->id);
  });
  if (out.size() > max) out.resize(max);
  return out;
}

ns_result namespace_state::delete_object(const delete_object_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  auto& tree = b->second;
  parsed_key key;
  if (const auto p = parse_key(c.key, key); p != key_problem::none) {
    auto r = failed(ns_status::invalid_key);
    r.problem = p;
    return r;
  }
  const auto res = resolve(tree, key);
  if (!res.parents_exist) return failed(ns_status::no_such_key);
  auto& dir = tree.inodes.at(res.dirs.back());
  const auto& name = key.components.back();
  const auto it = dir.entries.find(key.marker ? name + "/" : name);
  if (it == dir.entries.end()) return failed(ns_status::no_such_key);
  const auto id = it->second;
  auto& n = tree.inodes.at(id);
  if (n.kind == inode_kind::symlink || (key.marker && !n.explicit_dir))
    return failed(ns_status::no_such_key);
  if (c.if_match && (!n.current || n.current->etag != *c.if_match))
    return failed(ns_status::precondition_failed);
  ns_result r;
  r.inode = id;
  if (key.marker && !n.entries.empty()) {
    // The marker goes, the keys under it stay: the directory is implicit now.
    if (n.current) release(n.current->chunks, r.unreferenced);
    n.explicit_dir = false;
    n.current.reset();
    n.ctime_ns = c.now_ns;
    return r;
  }
  const auto parent = dir.id;
  unname(tree, parent, name, c.now_ns, r);  // the file stays if hard links name it
  prune(tree, parent, c.now_ns);
  return r;
}

// --- inode-addressed changes (ADR 0008) ---------------------------------------

std::optional<ns_result> namespace_state::check_entry(bucket_id bucket, inode_id dir,
                                                      const std::string& name) const {
  const auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  const auto d = b->second.inodes.find(dir);
  if (d == b->second.inodes.end()) return failed(ns_status::no_such_inode);
  if (d->second.kind != inode_kind::directory) return failed(ns_status::not_a_directory);
  if (const auto p = check_name(name); p != key_problem::none) {
    ns_result r = failed(ns_status::invalid_key);
    r.problem = p;
    return r;
  }
  return std::nullopt;
}

ns_result namespace_state::make_node(const make_node_command& c) {
  if (auto refused = check_entry(c.bucket, c.dir, c.name)) return *refused;
  auto& tree = buckets_.at(c.bucket);
  if (c.kind == inode_kind::symlink &&
      (c.target.empty() || c.target.size() > symlink_target_bytes_max))
    return failed(ns_status::invalid_argument);
  if (const auto* existing = lookup(c.bucket, c.dir, c.name)) {
    ns_result r;
    r.inode = existing->id;
    const bool file = c.kind == inode_kind::file && existing->kind == inode_kind::file;
    if (file && c.how == create_how::unchecked) return r;
    if (file && c.how == create_how::exclusive &&
        existing->mtime_ns == static_cast<std::int64_t>(c.verifier))
      return r;  // the reply to an earlier try was lost
    r.status = ns_status::entry_exists;
    return r;
  }
  auto& n = new_inode(tree, c.kind, c.dir, c.name, c.now_ns);
  n.mode = c.mode & 07777;
  n.uid = c.uid;
  n.gid = c.gid;
  if (c.kind == inode_kind::symlink) {
    n.target = c.target;
  } else {
    // A file is an empty object from its creation; a directory is
    // explicit, with a marker's empty version (ADR 0005).
    object_version v;
    v.etag = empty_etag;
    v.mtime_ns = c.now_ns;
    // What S3 clients that mount buckets (s3fs, goofys) take for a
    // directory when they find a "name/" object.
    if (c.kind == inode_kind::directory) v.content_type = "application/x-directory";
    n.current = std::move(v);
    n.explicit_dir = c.kind == inode_kind::directory;
    if (c.kind == inode_kind::file && c.how == create_how::exclusive)
      n.atime_ns = n.mtime_ns = static_cast<std::int64_t>(c.verifier);
  }
  ns_result r;
  r.inode = n.id;
  auto& dir = tree.inodes.at(c.dir);
  dir.entries.emplace(list_key(c.name, c.kind), n.id);
  dir.mtime_ns = dir.ctime_ns = c.now_ns;
  return r;
}

ns_result namespace_state::remove_node(const remove_node_command& c) {
  if (auto refused = check_entry(c.bucket, c.dir, c.name)) return *refused;
  auto& tree = buckets_.at(c.bucket);
  const auto* child = lookup(c.bucket, c.dir, c.name);
  if (!child) return failed(ns_status::no_such_key);
  const bool is_dir = child->kind == inode_kind::directory;
  if (c.directory && !is_dir) return failed(ns_status::not_a_directory);
  if (!c.directory && is_dir) return failed(ns_status::is_a_directory);
  if (is_dir && !child->entries.empty()) return failed(ns_status::directory_not_empty);
  ns_result r;
  r.inode = child->id;
  unname(tree, c.dir, c.name, c.now_ns, r);
  prune(tree, c.dir, c.now_ns);
  return r;
}

ns_result namespace_state::rename_node(const rename_node_command& c) {
  if (auto refused = check_entry(c.bucket, c.from_dir, c.from_name)) return *refused;
  if (auto refused = check_entry(c.bucket, c.to_dir, c.to_name)) return *refused;
  auto& tree = buckets_.at(c.bucket);
  const auto* src = lookup(c.bucket, c.from_dir, c.from_name);
  if (!src) return failed(ns_status::no_such_key);
  const bool src_dir = src->kind == inode_kind::directory;
  if (src_dir)  // never into itself or below it
    for (auto at = c.to_dir;; at = tree.inodes.at(at).parent) {
      if (at == src->id) return failed(ns_status::invalid_argument);
      if (at == root_inode) break;
    }
  ns_result r;
  r.inode = src->id;
  const auto src_id = src->id;
  if (const auto* dst = lookup(c.bucket, c.to_dir, c.to_name)) {
    if (dst->id == src_id) return r;  // the same entry: nothing to do
    const bool dst_dir = dst->kind == inode_kind::directory;
    if (src_dir && !dst_dir) return failed(ns_status::not_a_directory);
    if (!src_dir && dst_dir) return failed(ns_status::is_a_directory);
    if (dst_dir && !dst->entries.empty()) return failed(ns_status::directory_not_empty);
    // The target's name goes (checked above: nothing fails after this
    // point), and the target with it unless hard links name it too.
    unname(tree, c.to_dir, c.to_name, c.now_ns, r);
  }
  auto& n = tree.inodes.at(src_id);
  auto& from = tree.inodes.at(c.from_dir);
  from.entries.erase(list_key(c.from_name, n.kind));
  from.mtime_ns = from.ctime_ns = c.now_ns;
  if (n.links == 1) {
    n.parent = c.to_dir;
    n.name = c.to_name;
  } else {  // one of its hard links moves
    add_name(n, c.to_dir, c.to_name);
    drop_name(n, c.from_dir, c.from_name);
  }
  n.ctime_ns = c.now_ns;
  auto& to = tree.inodes.at(c.to_dir);
  to.entries.emplace(list_key(c.to_name, n.kind), src_id);
  to.mtime_ns = to.ctime_ns = c.now_ns;
  prune(tree, c.from_dir, c.now_ns);
  return r;
}

ns_result namespace_state::link_node(const link_node_command& c) {
  if (auto refused = check_entry(c.bucket, c.to_dir, c.to_name)) return *refused;
  auto& tree = buckets_.at(c.bucket);
  const auto it = tree.inodes.find(c.inode);
  if (it == tree.inodes.end()) return failed(ns_status::no_such_inode);
  auto& n = it->second;
  if (n.kind == inode_kind::directory) return failed(ns_status::is_a_directory);
  if (lookup(c.bucket, c.to_dir, c.to_name)) return failed(ns_status::entry_exists);
  if (n.links >= links_max) return failed(ns_status::too_many_links);
  add_name(n, c.to_dir, c.to_name);
  n.ctime_ns = c.now_ns;
  auto& dir = tree.inodes.at(c.to_dir);
  dir.entries.emplace(list_key(c.to_name, n.kind), n.id);
  dir.mtime_ns = dir.ctime_ns = c.now_ns;
  ns_result r;
  r.inode = n.id;
  return r;
}

ns_result namespace_state::set_attributes(const set_attributes_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  const auto it = b->second.inodes.find(c.inode);
  if (it == b->second.inodes.end()) return failed(ns_status::no_such_inode);
  auto& n = it->second;
  if (c.guard_ctime_ns && *c.guard_ctime_ns != n.ctime_ns)
    return failed(ns_status::not_synchronized);
  if (c.xattr_name) {  // checked before anything changes (NS6)
    const auto& name = *c.xattr_name;
    if (name.empty() || name.size() > xattr_name_bytes_max)
      return failed(ns_status::invalid_argument);
    const auto found = n.xattrs.find(name);
    if (c.xattr_value) {
      if (found != n.xattrs.end() && c.xattr_mode == xattr_how::create)
        return failed(ns_status::entry_exists);
      if (found == n.xattrs.end() && c.xattr_mode == xattr_how::replace)
        return failed(ns_status::no_such_key);
      std::size_t bytes = name.size() + c.xattr_value->size();
      for (const auto& [k, v] : n.xattrs)
        if (k != name) bytes += k.size() + v.size();
      if (bytes > xattrs_bytes_max) return failed(ns_status::invalid_argument);  // NS9
      n.xattrs[name] = *c.xattr_value;
    } else {
      if (found == n.xattrs.end()) return failed(ns_status::no_such_key);
      n.xattrs.erase(found);
    }
  }
  if (c.mode) n.mode = *c.mode & 07777;
  if (c.uid) n.uid = *c.uid;
  if (c.gid) n.gid = *c.gid;
  if (c.atime_ns) n.atime_ns = *c.atime_ns;
  if (c.mtime_ns) n.mtime_ns = *c.mtime_ns;
  n.ctime_ns = c.now_ns;
  ns_result r;
  r.inode = n.id;
  return r;
}

ns_result namespace_state::write_range(const write_range_command& c) {
  const auto b = buckets_.find(c.bucket);
  if (b == buckets_.end()) return failed(ns_status::no_such_bucket);
  const auto it = b->second.inodes.find(c.inode);
  if (it == b->second.inodes.end()) return failed(ns_status::no_such_inode);
  auto& n = it->second;
  if (n.kind == inode_kind::directory) return failed(ns_status::is_a_directory);
  if (n.kind != inode_kind::file) return failed(ns_status::invalid_argument);
  const object_version empty;
  const object_version& old = n.current ? *n.current : empty;
  if (old.etag != c.expected_etag) return failed(ns_status::precondition_failed);
  if (c.from > c.to || c.chunks.size() > chunks_per_version_max)
    return failed(ns_status::invalid_argument);
  // The new chunk list: the old chunks outside [from, to), then the new.
  std::vector<chunk_ref> keep, gone;
  if (c.inline_sealed.empty()) {
    for (const auto& ref : old.chunks) {
      const auto end = ref.offset + ref.length;
      if (end <= c.from || ref.offset >= c.to)
        keep.push_back(ref);
      else if (ref.offset < c.from || end > c.to)
        return failed(ns_status::invalid_argument);
      else
        gone.push_back(ref);
    }
    for (const auto& ref : c.chunks)
      if (ref.offset < c.from || ref.offset + ref.length > c.to)
        return failed(ns_status::invalid_argument);
  } else {
    gone = old.chunks;  // the whole file becomes inline
  }
  if (any_collecting(c.chunks)) return failed(ns_status::chunk_collecting);
  object_version v = old;
  v.chunks = std::move(keep);
  v.chunks.insert(v.chunks.end(), c.chunks.begin(), c.chunks.end());
  std::sort(v.chunks.begin(), v.chunks.end(),
            [](const chunk_ref& a, const chunk_ref& b) { return a.offset < b.offset; });
  for (std::size_t i = 1; i < v.chunks.size(); ++i)
    if (v.chunks[i - 1].offset + v.chunks[i - 1].length > v.chunks[i].offset)
      return failed(ns_status::invalid_argument);  // overlapping chunks
  if (v.chunks.size() > chunks_per_version_max) return failed(ns_status::invalid_argument);
  // Checked; from here on nothing fails (NS6).
  ns_result r;
  r.inode = n.id;
  retain(c.chunks);  // before releasing: a chunk may be kept with a new offset
  release(gone, r.unreferenced);
  v.inline_sealed = c.inline_sealed;
  v.size = c.size;
  v.etag = c.etag;
  v.mtime_ns = c.now_ns;
  v.checksums.clear();  // they were of the old bytes
  n.current = std::move(v);
  n.mtime_ns = n.ctime_ns = c.now_ns;
  return r;
}

const inode* namespace_state::find(bucket_id bucket, std::string_view key) const {
  const auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return nullptr;
  parsed_key parsed;
  if (parse_key(key, parsed) != key_problem::none) return nullptr;
  const auto res = resolve(b->second, parsed);
  if (!res.parents_exist) return nullptr;
  const auto& dir = b->second.inodes.at(res.dirs.back());
  const auto& name = parsed.components.back();
  const auto it = dir.entries.find(parsed.marker ? name + "/" : name);
  return it == dir.entries.end() ? nullptr : &b->second.inodes.at(it->second);
}

const inode* namespace_state::inode_of(bucket_id bucket, inode_id id) const {
  const auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return nullptr;
  const auto it = b->second.inodes.find(id);
  return it == b->second.inodes.end() ? nullptr : &it->second;
}

const inode* namespace_state::lookup(bucket_id bucket, inode_id dir, std::string_view name) const {
  const auto* d = inode_of(bucket, dir);
  if (!d || d->kind != inode_kind::directory || name.empty() ||
      name.find('/') != std::string_view::npos)
    return nullptr;
  auto it = d->entries.find(std::string(name));
  if (it == d->entries.end()) it = d->entries.find(std::string(name) + "/");
  return it == d->entries.end() ? nullptr : inode_of(bucket, it->second);
}

std::string namespace_state::key_of(bucket_id bucket, inode_id id) const {
  std::vector<const std::string*> names;
  for (const auto* n = inode_of(bucket, id); n && n->id != root_inode;
       n = inode_of(bucket, n->parent)) {
    names.push_back(&n->name);
    if (names.size() > key_bytes_max) return {};  // NS1 makes this unreachable
  }
  std::string key;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!key.empty()) key += '/';
    key += **it;
  }
  const auto* n = inode_of(bucket, id);
  if (n && n->kind == inode_kind::directory && !key.empty()) key += '/';
  return key;
}

namespace_state::page_status namespace_state::read_directory(
    bucket_id bucket, inode_id dir, inode_id after, std::uint32_t after_ordinal, std::size_t max,
    std::vector<named_inode>& out, bool& end) const {
  out.clear();
  end = false;
  const auto* d = inode_of(bucket, dir);
  if (!d) return page_status::no_such_directory;
  if (d->kind != inode_kind::directory) return page_status::not_a_directory;
  auto it = d->entries.begin();
  if (after != root_inode) {
    // A cookie is an inode and which of its names in `dir` (hard links).
    const auto* a = inode_of(bucket, after);
    const auto* name = a && a->id != root_inode ? name_in(*a, dir, after_ordinal) : nullptr;
    if (!name) return page_status::entry_gone;
    it = d->entries.upper_bound(list_key(*name, a->kind));
  }
  for (; it != d->entries.end() && out.size() < max; ++it) {
    std::string_view name = it->first;
    if (name.ends_with('/')) name.remove_suffix(1);
    const auto* child = inode_of(bucket, it->second);
    out.push_back({name, child, ordinal_in(*child, dir, name)});
  }
  end = it == d->entries.end();
  return page_status::ok;
}

ns_status namespace_state::head(bucket_id bucket, std::string_view key,
                                const object_version** out) const {
  if (!buckets_.count(bucket)) return ns_status::no_such_bucket;
  parsed_key parsed;
  if (parse_key(key, parsed) != key_problem::none) return ns_status::no_such_key;
  const auto* n = find(bucket, key);
  if (!n || n->kind == inode_kind::symlink || !n->current) return ns_status::no_such_key;
  *out = &*n->current;
  return ns_status::ok;
}

namespace {

/// Walks a bucket's tree in S3 key order (ADR 0005), emitting what a
/// ListObjects request returns.
struct lister {
  const std::map<inode_id, inode>& inodes;
  const list_request& request;
  list_result& out;
  bool done = false;

  bool full() {
    if (out.objects.size() + out.common_prefixes.size() < request.max_keys) return false;
    out.truncated = true;
    done = true;
    return true;
  }

  /// The common prefix `key` rolls up into, or "" if none.
  std::string rollup(const std::string& key) const {
    if (request.delimiter.empty()) return {};
    const auto at = key.find(request.delimiter, request.prefix.size());
    if (at == std::string::npos) return {};
    return key.substr(0, at + request.delimiter.size());
  }

  void emit_prefix(const std::string& prefix) {
    if (prefix <= request.start_after ||
        (!out.common_prefixes.empty() && out.common_prefixes.back() == prefix))
      return;
    if (full()) return;
    out.common_prefixes.push_back(prefix);
    out.last = prefix;
  }

  void emit_object(const std::string& key, const inode& n) {
    if (key <= request.start_after || !key.starts_with(request.prefix)) return;
    if (const auto p = rollup(key); !p.empty()) return emit_prefix(p);
    if (full()) return;
    out.objects.push_back({key, &*n.current, n.kind == inode_kind::directory});
    out.last = key;
  }

  void walk(const inode& dir, const std::string& path) {
    const auto& prefix = request.prefix;
    const auto& after = request.start_after;
    auto it = dir.entries.begin();
    // Skip to where start-after and the prefix let keys begin.
    auto skip_to = [&](const std::string& bound) {
      if (!bound.starts_with(path)) return;
      const auto rest = bound.substr(path.size());
      auto at = dir.entries.lower_bound(rest);
      if (at != dir.entries.begin()) {
        const auto prev = std::prev(at);
        if (prev->first.back() == '/' && rest.starts_with(prev->first)) at = prev;
      }
      // Only ever forward: both bounds must hold.
      if (it != dir.entries.end() && (at == dir.entries.end() || at->first > it->first)) it = at;
    };
    if (!after.starts_with(path) && after > path) return;  // every key here is <= after
    skip_to(after);
    skip_to(prefix);
    for (; it != dir.entries.end() && !done; ++it) {
      const std::string full_key = path + it->first;
      const bool is_dir = it->first.back() == '/';
      if (!full_key.starts_with(prefix) && !(is_dir && prefix.starts_with(full_key))) {
        if (full_key > prefix) break;  // sorted: nothing later starts with the prefix
        continue;
      }
      const auto& child = inodes.at(it->second);
      if (!is_dir) {
        if (child.kind == inode_kind::file && child.current) emit_object(full_key, child);
        continue;
      }
      // A directory whose whole subtree rolls up into one common prefix
      // (the delimiter "/" past the prefix) is not descended into.
      if (request.delimiter == "/" && full_key.starts_with(prefix) &&
          full_key.size() > prefix.size()) {
        emit_prefix(rollup(full_key));  // full_key ends in '/': never empty
        continue;
      }
      if (child.explicit_dir && child.current) emit_object(full_key, child);
      walk(child, full_key);
    }
  }
};

}  // namespace

ns_status namespace_state::list(bucket_id bucket, const list_request& request,
                                list_result& out) const {
  out = {};
  const auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return ns_status::no_such_bucket;
  if (request.max_keys == 0) return ns_status::ok;
  lister l{b->second.inodes, request, out};
  l.walk(b->second.inodes.at(root_inode), "");
  return ns_status::ok;
}

ns_result namespace_state::collect_begin(const collect_begin_command& c) {
  if (c.chunks.size() > collect_batch_max) return failed(ns_status::invalid_argument);
  ns_result r;
  for (const auto& id : c.chunks) {
    const auto g = garbage_.find(id);
    if (g == garbage_.end() || g->second.collecting) continue;
    g->second.collecting = true;
    r.granted.push_back(id);
  }
  return r;
}

ns_result namespace_state::collect_end(const collect_end_command& c) {
  if (c.chunks.size() > collect_batch_max) return failed(ns_status::invalid_argument);
  for (const auto& id : c.chunks) {
    const auto g = garbage_.find(id);
    if (g != garbage_.end() && g->second.collecting) garbage_.erase(g);
  }
  return {};
}

ns_result namespace_state::collect_abort(const collect_abort_command& c) {
  if (c.chunks.size() > collect_batch_max) return failed(ns_status::invalid_argument);
  for (const auto& id : c.chunks)
    if (const auto g = garbage_.find(id); g != garbage_.end()) g->second.collecting = false;
  return {};
}

ns_result namespace_state::report_orphans(const report_orphans_command& c) {
  if (c.chunks.size() > chunks_per_version_max) return failed(ns_status::invalid_argument);
  for (const auto& ref : c.chunks)
    if (!chunk_refs_.count(ref.id)) garbage_.emplace(ref.id, garbage_chunk{ref, c.now_ns, false});
  return {};
}

std::uint64_t namespace_state::references(const chunk_hash& chunk) const {
  const auto it = chunk_refs_.find(chunk);
  return it == chunk_refs_.end() ? 0 : it->second;
}

std::size_t namespace_state::inode_count(bucket_id bucket) const {
  const auto b = buckets_.find(bucket);
  return b == buckets_.end() ? 0 : b->second.inodes.size();
}

std::string namespace_state::violation() const {
  std::map<chunk_hash, std::uint64_t> counted;
  for (const auto& [bid, tree] : buckets_) {
    for (const auto& [id, u] : tree.uploads) {
      if (!(u.id == id)) return "upload recorded under another id";
      for (const auto& [number, part] : u.parts)
        for (const auto& c : part.chunks) ++counted[c.id];
    }
    const auto root = tree.inodes.find(root_inode);
    if (root == tree.inodes.end() || root->second.kind != inode_kind::directory)
      return "NS1: a bucket without its root directory";
    std::map<inode_id, std::size_t> parents;  // NS1
    for (const auto& [id, n] : tree.inodes) {
      if (!(n.id == id)) return "NS1: inode recorded under another number";
      std::size_t xattr_bytes = 0;
      for (const auto& [k, v] : n.xattrs) {
        if (k.empty() || k.size() > xattr_name_bytes_max) return "NS9: an xattr name's length";
        xattr_bytes += k.size() + v.size();
      }
      if (xattr_bytes > xattrs_bytes_max) return "NS9: xattrs over their bound";
      if (!(id.value < tree.next_inode)) return "NS5: inode number beyond the counter";
      if (n.kind == inode_kind::file && n.current)
        for (const auto& c : n.current->chunks) ++counted[c.id];
      if (n.kind != inode_kind::directory) {
        if (!(n.entries.empty())) return "NS2: a non-directory with entries";
        continue;
      }
      if (!(id == root_inode || n.explicit_dir || !n.entries.empty()))
        return "NS3: an empty implicit directory";
      for (const auto& [lk, child_id] : n.entries) {
        const auto child = tree.inodes.find(child_id);
        if (!(child != tree.inodes.end())) return "NS1: an entry names no inode";
        const bool dir_key = !lk.empty() && lk.back() == '/';
        const auto entry_name = dir_key ? lk.substr(0, lk.size() - 1) : lk;
        const auto& ch = child->second;
        if (!((ch.parent == id && ch.name == entry_name) || ch.more_names.count({id, entry_name})))
          return "NS1: the child does not record this entry as one of its names";
        if (!(dir_key == (child->second.kind == inode_kind::directory)))
          return "NS2: list key does not match the kind";
        const auto name = dir_key ? lk.substr(0, lk.size() - 1) : lk;
        if (!(!name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." &&
              name.size() <= name_bytes_max))
          return "NS2: a malformed name";
        if (!(!(dir_key ? n.entries.count(name) : n.entries.count(name + "/"))))
          return "NS2: one name twice";
        ++parents[child_id];
      }
    }
    for (const auto& [id, n] : tree.inodes)
      if (id != root_inode) {
        if (!(n.links == 1 + n.more_names.size())) return "NS1: a link count that is not its names";
        if (!(parents[id] == n.links)) return "NS1: entries naming an inode are not its names";
        if (!(n.kind != inode_kind::directory || n.links == 1))
          return "NS1: a directory with hard links";
        if (!(n.links <= links_max)) return "NS1: links over links_max";
        if (!(n.more_names.empty() ||
              std::tie(n.parent, n.name) <
                  std::tie(n.more_names.begin()->first, n.more_names.begin()->second)))
          return "NS1: parent and name are not the least of the names";
      }
    // Reachable from the root: one entry each is not enough (a cycle of
    // directories naming each other would pass). A directory is reached
    // once (one entry); a file once per hard link.
    std::vector<inode_id> todo{root_inode};
    std::set<inode_id> reached{root_inode};
    while (!todo.empty()) {
      const auto& d = tree.inodes.at(todo.back());
      todo.pop_back();
      for (const auto& [lk, child] : d.entries) {
        const bool fresh = reached.insert(child).second;
        if (tree.inodes.at(child).kind != inode_kind::directory) continue;
        if (!fresh) return "NS1: a directory cycle";
        todo.push_back(child);
      }
    }
    if (reached.size() != tree.inodes.size()) return "NS1: an inode not reachable from the root";
  }
  if (!(counted == chunk_refs_)) return "NS4: chunk reference counts disagree";
  for (const auto& [id, g] : garbage_) {
    if (chunk_refs_.count(id)) return "NS8: a referenced chunk in the garbage queue";
    if (!(g.ref.id == id)) return "NS8: a garbage entry recorded under another id";
  }
  return {};
}

void namespace_state::check_invariants() const {
  const auto v = violation();
  CAIRN_ASSERT_MSG(v.empty(), v.c_str());
}

}  // namespace cairn::shard
