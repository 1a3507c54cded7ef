// actors/shard/namespace_codec.cpp — see namespace_codec.h.
#include "actors/shard/namespace_codec.h"

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "schema/capnp_frames.h"
#include "schema/namespace.capnp.h"

namespace cairn::shard {
namespace {

using schema::as_data;
using schema::to_std_string;

constexpr std::uint16_t format_version = 1;
constexpr std::size_t stripe_width_max = 32;  // placement::width_max (29 + 3)

// --- writing ---------------------------------------------------------------------

void write_chunk(schema::ChunkRef::Builder c, const chunk_ref& in) {
  c.setId(kj::ArrayPtr<const kj::byte>(in.id.data(), in.id.size()));
  c.setOffset(in.offset);
  c.setLength(in.length);
  c.setScheme(in.scheme);
  c.setKeyEpoch(in.key_epoch);
  auto devices = c.initDevices(static_cast<unsigned>(in.devices.size()));
  for (std::size_t d = 0; d < in.devices.size(); ++d)
    devices.set(static_cast<unsigned>(d), in.devices[d]);
}

void write_chunks(capnp::List<schema::ChunkRef>::Builder out, const std::vector<chunk_ref>& in) {
  for (std::size_t i = 0; i < in.size(); ++i) write_chunk(out[static_cast<unsigned>(i)], in[i]);
}

void write_metadata(capnp::List<schema::MetaEntry>::Builder out,
                    const std::map<std::string, std::string>& in) {
  unsigned i = 0;
  for (const auto& [k, v] : in) {
    out[i].setName(as_data(k));
    out[i].setValue(as_data(v));
    ++i;
  }
}

void write_version(schema::ObjectVersion::Builder b, const object_version& v) {
  b.setVersionId(as_data(v.version_id));
  b.setSize(v.size);
  b.setEtag(as_data(v.etag));
  b.setContentType(as_data(v.content_type));
  write_metadata(b.initUserMetadata(static_cast<unsigned>(v.user_metadata.size())),
                 v.user_metadata);
  write_chunks(b.initChunks(static_cast<unsigned>(v.chunks.size())), v.chunks);
  b.setInlineSealed(kj::ArrayPtr<const kj::byte>(v.inline_sealed.data(), v.inline_sealed.size()));
  b.setMtimeNs(v.mtime_ns);
  write_metadata(b.initChecksums(static_cast<unsigned>(v.checksums.size())), v.checksums);
}

void write_condition_to(schema::WriteCondition::Builder b, const write_condition& c) {
  b.setIfNoneMatchAny(c.if_none_match_any);
  b.setHasIfMatch(c.if_match.has_value());
  if (c.if_match) b.setIfMatch(as_data(*c.if_match));
  b.setChunksReferenced(c.chunks_referenced);
}

void write_part(schema::UploadPart::Builder b, std::uint32_t number, const upload_part& p) {
  b.setNumber(number);
  b.setEtag(as_data(p.etag));
  b.setSize(p.size);
  write_chunks(b.initChunks(static_cast<unsigned>(p.chunks.size())), p.chunks);
  b.setUploadedNs(p.uploaded_ns);
}

// --- reading (untrusted: every size is checked before use) -----------------------

/// Thrown inside the readers for malformed input; caught at the entry points.
struct malformed {};

std::string text(capnp::Data::Reader d, std::size_t max) {
  if (d.size() > max) throw malformed{};
  return to_std_string(d);
}

std::vector<chunk_hash> read_ids(capnp::List<capnp::Data>::Reader in) {
  if (in.size() > collect_batch_max) throw malformed{};
  std::vector<chunk_hash> out;
  out.reserve(in.size());
  for (auto d : in) {
    chunk_hash h{};
    if (d.size() != h.size()) throw malformed{};
    std::memcpy(h.data(), d.begin(), h.size());
    out.push_back(h);
  }
  return out;
}

chunk_ref read_chunk(schema::ChunkRef::Reader c) {
  chunk_ref r;
  if (c.getId().size() != r.id.size()) throw malformed{};
  std::memcpy(r.id.data(), c.getId().begin(), r.id.size());
  r.offset = c.getOffset();
  r.length = c.getLength();
  r.scheme = c.getScheme();
  r.key_epoch = c.getKeyEpoch();
  if (c.getDevices().size() > stripe_width_max) throw malformed{};
  for (auto d : c.getDevices()) r.devices.push_back(d);
  return r;
}

std::vector<chunk_ref> read_chunks(capnp::List<schema::ChunkRef>::Reader in) {
  if (in.size() > chunks_per_version_max) throw malformed{};
  std::vector<chunk_ref> out;
  out.reserve(in.size());
  for (auto c : in) out.push_back(read_chunk(c));
  return out;
}

std::map<std::string, std::string> read_metadata(capnp::List<schema::MetaEntry>::Reader in,
                                                 std::size_t bytes_max = user_metadata_bytes_max) {
  std::map<std::string, std::string> out;
  std::size_t bytes = 0;
  for (auto e : in) {
    auto k = text(e.getName(), bytes_max);
    auto v = text(e.getValue(), bytes_max);
    bytes += k.size() + v.size();
    if (bytes > bytes_max || !out.emplace(std::move(k), std::move(v)).second) throw malformed{};
  }
  return out;
}

constexpr std::size_t field_bytes_max = 4096;         // ETags, content types, version ids
constexpr std::size_t inline_bytes_max = 1ull << 20;  // sealed inline objects

object_version read_version(schema::ObjectVersion::Reader r) {
  object_version v;
  v.version_id = text(r.getVersionId(), field_bytes_max);
  v.size = r.getSize();
  v.etag = text(r.getEtag(), field_bytes_max);
  v.content_type = text(r.getContentType(), field_bytes_max);
  v.user_metadata = read_metadata(r.getUserMetadata());
  v.chunks = read_chunks(r.getChunks());
  const auto sealed = r.getInlineSealed();
  if (sealed.size() > inline_bytes_max) throw malformed{};
  v.inline_sealed.assign(sealed.begin(), sealed.end());
  v.mtime_ns = r.getMtimeNs();
  v.checksums = read_metadata(r.getChecksums());
  return v;
}

write_condition read_condition(schema::WriteCondition::Reader r) {
  write_condition c;
  c.if_none_match_any = r.getIfNoneMatchAny();
  if (r.getHasIfMatch()) c.if_match = text(r.getIfMatch(), field_bytes_max);
  c.chunks_referenced = r.getChunksReferenced();
  return c;
}

upload_part read_part(schema::UploadPart::Reader r) {
  upload_part p;
  p.etag = text(r.getEtag(), field_bytes_max);
  p.size = r.getSize();
  p.chunks = read_chunks(r.getChunks());
  p.uploaded_ns = r.getUploadedNs();
  return p;
}

/// One inode (a snapshot's, or a client reply's without its entries).
void write_inode(schema::Inode::Builder o, const inode& n, bool with_entries) {
  o.setId(n.id.value);
  o.setKind(static_cast<std::uint8_t>(n.kind));
  o.setParent(n.parent.value);
  o.setMode(n.mode);
  o.setUid(n.uid);
  o.setGid(n.gid);
  o.setAtimeNs(n.atime_ns);
  o.setMtimeNs(n.mtime_ns);
  o.setCtimeNs(n.ctime_ns);
  o.setExplicitDir(n.explicit_dir);
  o.setLinks(n.links);
  if (with_entries) {
    auto entries = o.initEntries(static_cast<unsigned>(n.entries.size()));
    unsigned ei = 0;
    for (const auto& [lk, child] : n.entries) {
      entries[ei].setListKey(as_data(lk));
      entries[ei].setInode(child.value);
      ++ei;
    }
  }
  o.setHasCurrent(n.current.has_value());
  if (n.current) write_version(o.initCurrent(), *n.current);
  o.setTarget(as_data(n.target));
  write_metadata(o.initXattrs(static_cast<unsigned>(n.xattrs.size())), n.xattrs);
}

std::optional<inode> read_inode(schema::Inode::Reader o) {
  inode n;
  n.id = inode_id{o.getId()};
  if (o.getKind() < 1 || o.getKind() > 3) return std::nullopt;
  n.kind = static_cast<inode_kind>(o.getKind());
  n.parent = inode_id{o.getParent()};
  n.mode = o.getMode();
  n.uid = o.getUid();
  n.gid = o.getGid();
  n.atime_ns = o.getAtimeNs();
  n.mtime_ns = o.getMtimeNs();
  n.ctime_ns = o.getCtimeNs();
  n.explicit_dir = o.getExplicitDir();
  n.links = o.getLinks();
  for (auto e : o.getEntries())
    if (!n.entries.emplace(text(e.getListKey(), name_bytes_max + 1), inode_id{e.getInode()}).second)
      return std::nullopt;
  if (o.getHasCurrent()) n.current = read_version(o.getCurrent());
  n.target = text(o.getTarget(), key_bytes_max);
  n.xattrs = read_metadata(o.getXattrs(), xattrs_bytes_max);
  return n;
}

/// Opens an untrusted flat frame and reads its root with `f`; nullopt-like
/// failure for anything malformed.
template <class Root, class F>
auto read_flat(const std::string& bytes, std::size_t bytes_max, F&& f)
    -> decltype(f(std::declval<typename Root::Reader>())) {
  using result = decltype(f(std::declval<typename Root::Reader>()));
  try {
    schema::flat_frame frame;
    std::string why;
    if (!frame.open(bytes, bytes_max, why)) return result{};
    return f(frame.reader->template getRoot<Root>());
  } catch (const kj::Exception&) {
    return result{};
  } catch (const malformed&) {
    return result{};
  }
}

}  // namespace

std::string encode_ns_command(const ns_command& c) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::NsCommand>();
  b.setVersion(format_version);
  b.setRequestId(c.request_id);
  b.setProposer(c.proposer);
  b.setNowNs(c.now_ns);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (requires { body.bucket; }) b.setBucket(body.bucket.value);
        auto write_ids = [](auto list, const std::vector<chunk_hash>& ids) {
          for (unsigned i = 0; i < ids.size(); ++i)
            list.set(i, kj::ArrayPtr<const kj::byte>(ids[i].data(), ids[i].size()));
        };
        if constexpr (std::is_same_v<T, create_bucket_command>) {
          b.setCreateBucket();
        } else if constexpr (std::is_same_v<T, delete_bucket_command>) {
          b.setDeleteBucket();
        } else if constexpr (std::is_same_v<T, put_object_command>) {
          auto g = b.initPutObject();
          g.setKey(as_data(body.key));
          write_version(g.initVersion(), body.version);
          write_condition_to(g.initCondition(), body.condition);
          g.setMode(body.mode);
          g.setUid(body.uid);
          g.setGid(body.gid);
        } else if constexpr (std::is_same_v<T, delete_object_command>) {
          auto g = b.initDeleteObject();
          g.setKey(as_data(body.key));
          g.setHasIfMatch(body.if_match.has_value());
          if (body.if_match) g.setIfMatch(as_data(*body.if_match));
        } else if constexpr (std::is_same_v<T, create_upload_command>) {
          auto g = b.initCreateUpload();
          g.setKey(as_data(body.key));
          g.setUploadId(as_data(body.upload_id));
          g.setContentType(as_data(body.content_type));
          write_metadata(g.initUserMetadata(static_cast<unsigned>(body.user_metadata.size())),
                         body.user_metadata);
        } else if constexpr (std::is_same_v<T, upload_part_command>) {
          auto g = b.initPutPart();
          g.setUploadId(as_data(body.upload_id));
          write_part(g.initPart(), body.part_number, body.part);
          g.setChunksReferenced(body.chunks_referenced);
        } else if constexpr (std::is_same_v<T, complete_upload_command>) {
          auto g = b.initCompleteUpload();
          g.setUploadId(as_data(body.upload_id));
          auto parts = g.initParts(static_cast<unsigned>(body.parts.size()));
          for (std::size_t i = 0; i < body.parts.size(); ++i) {
            parts[static_cast<unsigned>(i)].setNumber(body.parts[i].first);
            parts[static_cast<unsigned>(i)].setEtag(as_data(body.parts[i].second));
          }
          g.setEtag(as_data(body.etag));
          write_condition_to(g.initCondition(), body.condition);
        } else if constexpr (std::is_same_v<T, abort_upload_command>) {
          b.initAbortUpload().setUploadId(as_data(body.upload_id));
        } else if constexpr (std::is_same_v<T, collect_begin_command>) {
          write_ids(b.initCollectBegin(static_cast<unsigned>(body.chunks.size())), body.chunks);
        } else if constexpr (std::is_same_v<T, collect_end_command>) {
          write_ids(b.initCollectEnd(static_cast<unsigned>(body.chunks.size())), body.chunks);
        } else if constexpr (std::is_same_v<T, collect_abort_command>) {
          write_ids(b.initCollectAbort(static_cast<unsigned>(body.chunks.size())), body.chunks);
        } else if constexpr (std::is_same_v<T, report_orphans_command>) {
          write_chunks(b.initReportOrphans(static_cast<unsigned>(body.chunks.size())), body.chunks);
        } else if constexpr (std::is_same_v<T, make_node_command>) {
          auto g = b.initMakeNode();
          g.setDir(body.dir.value);
          g.setName(as_data(body.name));
          g.setKind(static_cast<std::uint8_t>(body.kind));
          g.setMode(body.mode);
          g.setUid(body.uid);
          g.setGid(body.gid);
          g.setTarget(as_data(body.target));
          g.setHow(static_cast<std::uint8_t>(body.how));
          g.setVerifier(body.verifier);
        } else if constexpr (std::is_same_v<T, remove_node_command>) {
          auto g = b.initRemoveNode();
          g.setDir(body.dir.value);
          g.setName(as_data(body.name));
          g.setDirectory(body.directory);
        } else if constexpr (std::is_same_v<T, rename_node_command>) {
          auto g = b.initRenameNode();
          g.setFromDir(body.from_dir.value);
          g.setFromName(as_data(body.from_name));
          g.setToDir(body.to_dir.value);
          g.setToName(as_data(body.to_name));
        } else if constexpr (std::is_same_v<T, link_node_command>) {
          auto g = b.initLinkNode();
          g.setInode(body.inode.value);
          g.setToDir(body.to_dir.value);
          g.setToName(as_data(body.to_name));
        } else if constexpr (std::is_same_v<T, write_range_command>) {
          auto g = b.initWriteRange();
          g.setInode(body.inode.value);
          g.setExpectedEtag(as_data(body.expected_etag));
          g.setFrom(body.from);
          g.setTo(body.to);
          write_chunks(g.initChunks(static_cast<unsigned>(body.chunks.size())), body.chunks);
          g.setInlineSealed(
              kj::ArrayPtr<const kj::byte>(body.inline_sealed.data(), body.inline_sealed.size()));
          g.setSize(body.size);
          g.setEtag(as_data(body.etag));
        } else {
          static_assert(std::is_same_v<T, set_attributes_command>);
          auto g = b.initSetAttributes();
          g.setInode(body.inode.value);
          g.setSetMode(body.mode.has_value());
          g.setMode(body.mode.value_or(0));
          g.setSetUid(body.uid.has_value());
          g.setUid(body.uid.value_or(0));
          g.setSetGid(body.gid.has_value());
          g.setGid(body.gid.value_or(0));
          g.setSetAtime(body.atime_ns.has_value());
          g.setAtimeNs(body.atime_ns.value_or(0));
          g.setSetMtime(body.mtime_ns.has_value());
          g.setMtimeNs(body.mtime_ns.value_or(0));
          g.setHasGuard(body.guard_ctime_ns.has_value());
          g.setGuardCtimeNs(body.guard_ctime_ns.value_or(0));
          g.setHasXattr(body.xattr_name.has_value());
          g.setXattrName(as_data(body.xattr_name.value_or("")));
          g.setHasXattrValue(body.xattr_value.has_value());
          g.setXattrValue(as_data(body.xattr_value.value_or("")));
          g.setXattrHow(static_cast<std::uint8_t>(body.xattr_mode));
        }
      },
      c.body);
  return schema::to_flat_bytes(mb);
}

std::optional<ns_command> decode_ns_command(const std::string& bytes) {
  return read_flat<schema::NsCommand>(
      bytes, ns_command_bytes_max, [](schema::NsCommand::Reader r) -> std::optional<ns_command> {
        if (r.getVersion() != format_version) return std::nullopt;
        ns_command c;
        c.request_id = r.getRequestId();
        c.proposer = r.getProposer();
        c.now_ns = r.getNowNs();
        const bucket_id bucket{r.getBucket()};
        switch (r.which()) {
          case schema::NsCommand::CREATE_BUCKET:
            c.body = create_bucket_command{bucket};
            break;
          case schema::NsCommand::DELETE_BUCKET:
            c.body = delete_bucket_command{bucket};
            break;
          case schema::NsCommand::PUT_OBJECT: {
            const auto g = r.getPutObject();
            put_object_command p;
            p.bucket = bucket;
            p.key = text(g.getKey(), key_bytes_max);
            p.version = read_version(g.getVersion());
            p.condition = read_condition(g.getCondition());
            p.now_ns = c.now_ns;
            p.mode = g.getMode();
            p.uid = g.getUid();
            p.gid = g.getGid();
            c.body = std::move(p);
            break;
          }
          case schema::NsCommand::DELETE_OBJECT: {
            const auto g = r.getDeleteObject();
            delete_object_command d;
            d.bucket = bucket;
            d.key = text(g.getKey(), key_bytes_max);
            if (g.getHasIfMatch()) d.if_match = text(g.getIfMatch(), field_bytes_max);
            d.now_ns = c.now_ns;
            c.body = std::move(d);
            break;
          }
          case schema::NsCommand::CREATE_UPLOAD: {
            const auto g = r.getCreateUpload();
            create_upload_command u;
            u.bucket = bucket;
            u.key = text(g.getKey(), key_bytes_max);
            u.upload_id = text(g.getUploadId(), upload_id_bytes_max);
            u.content_type = text(g.getContentType(), field_bytes_max);
            u.user_metadata = read_metadata(g.getUserMetadata());
            u.now_ns = c.now_ns;
            c.body = std::move(u);
            break;
          }
          case schema::NsCommand::PUT_PART: {
            const auto g = r.getPutPart();
            upload_part_command p;
            p.bucket = bucket;
            p.upload_id = text(g.getUploadId(), upload_id_bytes_max);
            p.part_number = g.getPart().getNumber();
            p.part = read_part(g.getPart());
            p.chunks_referenced = g.getChunksReferenced();
            p.now_ns = c.now_ns;
            c.body = std::move(p);
            break;
          }
          case schema::NsCommand::COMPLETE_UPLOAD: {
            const auto g = r.getCompleteUpload();
            complete_upload_command u;
            u.bucket = bucket;
            u.upload_id = text(g.getUploadId(), upload_id_bytes_max);
            if (g.getParts().size() > part_number_max) return std::nullopt;
            for (auto p : g.getParts())
              u.parts.emplace_back(p.getNumber(), text(p.getEtag(), field_bytes_max));
            u.etag = text(g.getEtag(), field_bytes_max);
            u.condition = read_condition(g.getCondition());
            u.now_ns = c.now_ns;
            c.body = std::move(u);
            break;
          }
          case schema::NsCommand::ABORT_UPLOAD:
            c.body = abort_upload_command{
                bucket, text(r.getAbortUpload().getUploadId(), upload_id_bytes_max)};
            break;
          case schema::NsCommand::COLLECT_BEGIN:
            c.body = collect_begin_command{read_ids(r.getCollectBegin())};
            break;
          case schema::NsCommand::COLLECT_END:
            c.body = collect_end_command{read_ids(r.getCollectEnd())};
            break;
          case schema::NsCommand::COLLECT_ABORT:
            c.body = collect_abort_command{read_ids(r.getCollectAbort())};
            break;
          case schema::NsCommand::REPORT_ORPHANS:
            c.body = report_orphans_command{read_chunks(r.getReportOrphans()), c.now_ns};
            break;
          case schema::NsCommand::MAKE_NODE: {
            const auto g = r.getMakeNode();
            if (g.getKind() < 1 || g.getKind() > 3 || g.getHow() > 2) return std::nullopt;
            make_node_command m;
            m.bucket = bucket;
            m.dir = inode_id{g.getDir()};
            m.name = text(g.getName(), name_bytes_max + 1);
            m.kind = static_cast<inode_kind>(g.getKind());
            m.mode = g.getMode();
            m.uid = g.getUid();
            m.gid = g.getGid();
            m.target = text(g.getTarget(), field_bytes_max);
            m.how = static_cast<create_how>(g.getHow());
            m.verifier = g.getVerifier();
            m.now_ns = c.now_ns;
            c.body = std::move(m);
            break;
          }
          case schema::NsCommand::REMOVE_NODE: {
            const auto g = r.getRemoveNode();
            c.body = remove_node_command{bucket, inode_id{g.getDir()},
                                         text(g.getName(), name_bytes_max + 1), g.getDirectory(),
                                         c.now_ns};
            break;
          }
          case schema::NsCommand::RENAME_NODE: {
            const auto g = r.getRenameNode();
            c.body = rename_node_command{bucket,
                                         inode_id{g.getFromDir()},
                                         text(g.getFromName(), name_bytes_max + 1),
                                         inode_id{g.getToDir()},
                                         text(g.getToName(), name_bytes_max + 1),
                                         c.now_ns};
            break;
          }
          case schema::NsCommand::LINK_NODE: {
            const auto g = r.getLinkNode();
            c.body = link_node_command{bucket, inode_id{g.getInode()}, inode_id{g.getToDir()},
                                       text(g.getToName(), name_bytes_max + 1), c.now_ns};
            break;
          }
          case schema::NsCommand::WRITE_RANGE: {
            const auto g = r.getWriteRange();
            write_range_command w;
            w.bucket = bucket;
            w.inode = inode_id{g.getInode()};
            w.expected_etag = text(g.getExpectedEtag(), field_bytes_max);
            w.from = g.getFrom();
            w.to = g.getTo();
            w.chunks = read_chunks(g.getChunks());
            const auto sealed = g.getInlineSealed();
            w.inline_sealed.assign(sealed.begin(), sealed.end());
            w.size = g.getSize();
            w.etag = text(g.getEtag(), field_bytes_max);
            w.now_ns = c.now_ns;
            c.body = std::move(w);
            break;
          }
          case schema::NsCommand::SET_ATTRIBUTES: {
            const auto g = r.getSetAttributes();
            set_attributes_command s;
            s.bucket = bucket;
            s.inode = inode_id{g.getInode()};
            if (g.getSetMode()) s.mode = g.getMode();
            if (g.getSetUid()) s.uid = g.getUid();
            if (g.getSetGid()) s.gid = g.getGid();
            if (g.getSetAtime()) s.atime_ns = g.getAtimeNs();
            if (g.getSetMtime()) s.mtime_ns = g.getMtimeNs();
            if (g.getHasGuard()) s.guard_ctime_ns = g.getGuardCtimeNs();
            if (g.getHasXattr()) {
              s.xattr_name = text(g.getXattrName(), xattr_name_bytes_max);
              if (g.getHasXattrValue()) s.xattr_value = text(g.getXattrValue(), xattrs_bytes_max);
              if (g.getXattrHow() > static_cast<std::uint8_t>(xattr_how::replace))
                return std::nullopt;
              s.xattr_mode = static_cast<xattr_how>(g.getXattrHow());
            }
            s.now_ns = c.now_ns;
            c.body = std::move(s);
            break;
          }
          default:
            return std::nullopt;  // a command kind from a newer format
        }
        return c;
      });
}

ns_result apply_ns_command(namespace_state& state, const ns_command& c) {
  state.set_now(c.now_ns);  // garbage is stamped with the command's time
  return std::visit(
      [&](const auto& body) -> ns_result {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, create_bucket_command>) {
          return state.create_bucket(body.bucket, c.now_ns);
        } else if constexpr (std::is_same_v<T, delete_bucket_command>) {
          return state.delete_bucket(body.bucket);
        } else if constexpr (std::is_same_v<T, put_object_command>) {
          return state.put_object(body);
        } else if constexpr (std::is_same_v<T, delete_object_command>) {
          return state.delete_object(body);
        } else if constexpr (std::is_same_v<T, create_upload_command>) {
          return state.create_upload(body);
        } else if constexpr (std::is_same_v<T, upload_part_command>) {
          return state.put_part(body);
        } else if constexpr (std::is_same_v<T, complete_upload_command>) {
          return state.complete_upload(body);
        } else if constexpr (std::is_same_v<T, abort_upload_command>) {
          return state.abort_upload(body);
        } else if constexpr (std::is_same_v<T, collect_begin_command>) {
          return state.collect_begin(body);
        } else if constexpr (std::is_same_v<T, collect_end_command>) {
          return state.collect_end(body);
        } else if constexpr (std::is_same_v<T, collect_abort_command>) {
          return state.collect_abort(body);
        } else if constexpr (std::is_same_v<T, report_orphans_command>) {
          return state.report_orphans(body);
        } else if constexpr (std::is_same_v<T, make_node_command>) {
          return state.make_node(body);
        } else if constexpr (std::is_same_v<T, remove_node_command>) {
          return state.remove_node(body);
        } else if constexpr (std::is_same_v<T, rename_node_command>) {
          return state.rename_node(body);
        } else if constexpr (std::is_same_v<T, link_node_command>) {
          return state.link_node(body);
        } else if constexpr (std::is_same_v<T, write_range_command>) {
          return state.write_range(body);
        } else {
          static_assert(std::is_same_v<T, set_attributes_command>);
          return state.set_attributes(body);
        }
      },
      c.body);
}

std::string snapshot_namespace(const namespace_state& state) {
  capnp::MallocMessageBuilder mb;
  auto snap = mb.initRoot<schema::NsSnapshot>();
  snap.setVersion(format_version);
  auto buckets = snap.initBuckets(static_cast<unsigned>(state.buckets_.size()));
  unsigned bi = 0;
  for (const auto& [id, tree] : state.buckets_) {
    auto b = buckets[bi++];
    b.setBucket(id.value);
    b.setNextInode(tree.next_inode);
    auto inodes = b.initInodes(static_cast<unsigned>(tree.inodes.size()));
    unsigned ii = 0;
    for (const auto& [iid, n] : tree.inodes) {
      write_inode(inodes[ii++], n, true);
    }
    auto uploads = b.initUploads(static_cast<unsigned>(tree.uploads.size()));
    unsigned ui = 0;
    for (const auto& [uid, u] : tree.uploads) {
      auto o = uploads[ui++];
      o.setId(as_data(u.id));
      o.setKey(as_data(u.key));
      o.setContentType(as_data(u.content_type));
      write_metadata(o.initUserMetadata(static_cast<unsigned>(u.user_metadata.size())),
                     u.user_metadata);
      o.setInitiatedNs(u.initiated_ns);
      auto parts = o.initParts(static_cast<unsigned>(u.parts.size()));
      unsigned pi = 0;
      for (const auto& [number, part] : u.parts) write_part(parts[pi++], number, part);
    }
  }
  auto garbage = snap.initGarbage(static_cast<unsigned>(state.garbage_.size()));
  unsigned gi = 0;
  for (const auto& [id, g] : state.garbage_) {
    auto o = garbage[gi++];
    write_chunk(o.initRef(), g.ref);
    o.setSinceNs(g.since_ns);
    o.setCollecting(g.collecting);
  }
  return schema::to_flat_bytes(mb);
}

std::string encode_inode(const inode& n) {
  capnp::MallocMessageBuilder mb;
  write_inode(mb.initRoot<schema::Inode>(), n, false);
  return schema::to_flat_bytes(mb);
}

std::optional<inode> decode_inode(const std::string& bytes) {
  return read_flat<schema::Inode>(bytes, ns_command_bytes_max,
                                  [](schema::Inode::Reader r) { return read_inode(r); });
}

bool restore_namespace(namespace_state& state, const std::string& bytes) {
  auto restored = read_flat<schema::NsSnapshot>(
      bytes, ns_snapshot_bytes_max,
      [](schema::NsSnapshot::Reader r) -> std::optional<namespace_state> {
        if (r.getVersion() != format_version) return std::nullopt;
        namespace_state s;
        for (auto b : r.getBuckets()) {
          auto [it, fresh] = s.buckets_.try_emplace(bucket_id{b.getBucket()});
          if (!fresh) return std::nullopt;
          auto& tree = it->second;
          tree.next_inode = b.getNextInode();
          for (auto o : b.getInodes()) {
            auto n = read_inode(o);
            if (!n) return std::nullopt;
            const auto id = n->id;
            if (!tree.inodes.emplace(id, std::move(*n)).second) return std::nullopt;
          }
          for (auto o : b.getUploads()) {
            multipart_upload u;
            u.id = text(o.getId(), upload_id_bytes_max);
            u.key = text(o.getKey(), key_bytes_max);
            u.content_type = text(o.getContentType(), field_bytes_max);
            u.user_metadata = read_metadata(o.getUserMetadata());
            u.initiated_ns = o.getInitiatedNs();
            for (auto p : o.getParts()) {
              const auto number = p.getNumber();
              if (number < 1 || number > part_number_max ||
                  !u.parts.emplace(number, read_part(p)).second)
                return std::nullopt;
            }
            auto id = u.id;
            if (!tree.uploads.emplace(std::move(id), std::move(u)).second) return std::nullopt;
          }
          // Names are not stored: each is an entry naming the inode (NS1;
          // the least is parent and name, hard links the rest). An entry
          // naming a missing inode, or a count that is not the entries',
          // is left to violation() below.
          std::map<inode_id, std::set<std::pair<inode_id, std::string>>> names;
          for (const auto& [iid, n] : tree.inodes)
            for (const auto& [lk, child] : n.entries)
              names[child].emplace(iid, lk.ends_with('/') ? lk.substr(0, lk.size() - 1) : lk);
          for (auto& [child, all] : names) {
            const auto c = tree.inodes.find(child);
            if (c == tree.inodes.end() || child == root_inode) continue;
            auto least = all.extract(all.begin());
            c->second.parent = least.value().first;
            c->second.name = std::move(least.value().second);
            c->second.more_names = std::move(all);
          }
          // NS4 by construction: the counts are recomputed, never trusted.
          for (const auto& [iid, n] : tree.inodes)
            if (n.kind == inode_kind::file && n.current) s.retain(n.current->chunks);
          for (const auto& [uid, u] : tree.uploads)
            for (const auto& [number, part] : u.parts) s.retain(part.chunks);
        }
        for (auto o : r.getGarbage()) {
          garbage_chunk g{read_chunk(o.getRef()), o.getSinceNs(), o.getCollecting()};
          if (!s.garbage_.emplace(g.ref.id, g).second) return std::nullopt;
        }
        if (!s.violation().empty()) return std::nullopt;
        return s;
      });
  if (!restored) return false;
  state = std::move(*restored);
  return true;
}

namespace {

std::string hex_id(const chunk_hash& c) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string h;
  for (auto b : c) {
    h += hex[b >> 4];
    h += hex[b & 15];
  }
  return h;
}

std::optional<chunk_hash> id_of_hex(const std::string& text) {
  chunk_hash c{};
  if (text.size() != 2 * c.size() ||
      text.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  for (std::size_t i = 0; i < c.size(); ++i)
    c[i] = static_cast<std::uint8_t>(std::stoi(text.substr(2 * i, 2), nullptr, 16));
  return c;
}

}  // namespace

std::string encode_ns_result(const ns_result& r) {
  nlohmann::json unreferenced = nlohmann::json::array();
  for (const auto& c : r.unreferenced) unreferenced.push_back(hex_id(c));
  nlohmann::json granted = nlohmann::json::array();
  for (const auto& c : r.granted) granted.push_back(hex_id(c));
  return nlohmann::json{{"status", static_cast<int>(r.status)},
                        {"problem", static_cast<int>(r.problem)},
                        {"conflict", r.conflict},
                        {"inode", r.inode.value},
                        {"unreferenced", unreferenced},
                        {"granted", granted}}
      .dump();
}

std::optional<ns_result> decode_ns_result(const std::string& bytes) {
  const auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    ns_result r;
    r.status = static_cast<ns_status>(j.at("status").get<int>());
    r.problem = static_cast<key_problem>(j.at("problem").get<int>());
    r.conflict = j.at("conflict").get<std::string>();
    r.inode = inode_id{j.at("inode").get<std::uint64_t>()};
    for (const auto& h : j.at("unreferenced")) {
      const auto c = id_of_hex(h.get<std::string>());
      if (!c) return std::nullopt;
      r.unreferenced.push_back(*c);
    }
    for (const auto& h : j.value("granted", nlohmann::json::array())) {
      const auto c = id_of_hex(h.get<std::string>());
      if (!c) return std::nullopt;
      r.granted.push_back(*c);
    }
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::uint64_t namespace_fingerprint(const namespace_state& state) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char c : snapshot_namespace(state)) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace cairn::shard
