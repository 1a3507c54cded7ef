// gateways/common/file_data.cpp — see file_data.h.
#include "gateways/common/file_data.h"

#include <algorithm>
#include <cstring>
#include <span>

#include <spdlog/spdlog.h>

#include "actors/keys/crypto.h"
#include "gateways/common/chunk_pipeline.h"

namespace cairn::gateway {

bool copy_range(const shard::object_version& v, std::uint64_t first, std::uint64_t last,
                std::string& out, const chunk_source& source) {
  out.clear();
  if (first >= last) return true;
  out.assign(last - first, '\0');
  auto take = [&](std::span<const std::uint8_t> plain, std::uint64_t at) {
    const auto from = std::max(first, at), to = std::min(last, at + plain.size());
    if (from < to) std::memcpy(out.data() + (from - first), plain.data() + (from - at), to - from);
  };
  if (!v.inline_sealed.empty()) {
    const auto epoch = inline_epoch(v.inline_sealed);
    const auto g = epoch ? source.grant(*epoch) : nullptr;
    const auto plain = g ? open_inline(*g, v.inline_sealed) : std::nullopt;
    if (!plain) return false;
    take(*plain, 0);
    return true;
  }
  for (const auto& ref : v.chunks) {
    if (ref.offset + ref.length <= first || ref.offset >= last) continue;
    const auto plain = source.chunk(ref);
    if (!plain || plain->size() < ref.length) return false;
    take(std::span<const std::uint8_t>(*plain).first(ref.length), ref.offset);
  }
  return true;
}

}  // namespace cairn::gateway

namespace cairn::gateway {

std::string etag_after(const shard::write_range_command& w) {
  keys::sha256_hasher h;
  auto put = [&](const void* p, std::size_t n) {
    h.update({static_cast<const std::uint8_t*>(p), n});
  };
  put(w.expected_etag.data(), w.expected_etag.size());
  for (const auto x : {w.from, w.to, w.size}) put(&x, sizeof x);
  for (const auto& c : w.chunks) put(c.id.data(), c.id.size());
  put(w.inline_sealed.data(), w.inline_sealed.size());
  const auto d = h.finish();
  static const char* hex = "0123456789abcdef";
  std::string e = "\"";
  for (std::size_t i = 0; i < 16; ++i) {
    e += hex[d[i] >> 4];
    e += hex[d[i] & 15];
  }
  return e + "-1\"";
}

namespace {

void report_orphans(file_store& store, std::vector<shard::chunk_ref> chunks) {
  if (chunks.empty()) return;
  shard::report_orphans_command o;
  o.chunks = std::move(chunks);
  shard::ns_command c;
  c.body = std::move(o);
  store.propose(std::move(c));  // best effort: the collector finds them later too
}

constexpr int write_attempts = 5;

}  // namespace

write_outcome write_patches(file_store& store, std::uint64_t inode,
                            std::span<const file_patch> patches,
                            std::optional<std::uint64_t> new_size,
                            const std::function<bool(const shard::inode&)>& allowed) {
  using kind = write_outcome::kind;
  write_outcome out;
  if (patches.empty() && !new_size) return out;
  for (int attempt = 0; attempt < write_attempts; ++attempt) {
    shard::inode n;
    switch (store.read_inode(inode, n)) {
      case file_store::lookup::found:
        break;
      case file_store::lookup::gone:
        out.what = kind::gone;
        return out;
      case file_store::lookup::unavailable:
        out.what = kind::unavailable;
        return out;
    }
    if (attempt == 0) out.before = n;
    if (n.kind == shard::inode_kind::directory) {
      out.what = kind::is_directory;
      return out;
    }
    if (n.kind != shard::inode_kind::file) {
      out.what = kind::not_a_file;
      return out;
    }
    if (allowed && !allowed(n)) {
      out.what = kind::refused;
      return out;
    }
    const shard::object_version v = n.current.value_or(shard::object_version{});
    const std::uint64_t old_size = v.size;
    const std::uint64_t first = patches.empty() ? 0 : patches.front().offset;
    const std::uint64_t last =
        patches.empty() ? 0 : patches.back().offset + patches.back().bytes.size();
    const std::uint64_t size = new_size ? *new_size : std::max(old_size, last);
    if (size > shard::chunks_per_version_max * file_slot_bytes) {
      out.what = kind::too_big;
      return out;
    }
    const auto g = store.grant(0);
    if (!g) {
      out.what = kind::unavailable;
      return out;
    }
    shard::write_range_command w;
    w.bucket = shard::bucket_id{store.bucket()};
    w.inode = shard::inode_id{inode};
    w.expected_etag = v.etag;
    w.size = size;
    // The bytes to produce: [from, to) of the new file, and the old chunks
    // that range must cover whole.
    std::uint64_t from = 0, to = 0;
    const bool small = size <= inline_bytes_max;
    if (small || !v.inline_sealed.empty()) {
      from = 0;
      to = size;  // small: all of it inline; inline growing past it: all of it as chunks
    } else {
      const std::uint64_t a = new_size ? std::min(size, old_size) : first;
      const std::uint64_t b = new_size ? std::max(size, old_size) : last;
      from = a;
      to = b;
      for (const auto& ref : v.chunks)
        if (ref.offset < b && ref.offset + ref.length > a) {
          from = std::min(from, ref.offset);
          to = std::max(to, ref.offset + ref.length);
        }
      if (new_size && size > old_size) from = to = old_size;  // extending: a hole, no bytes
    }
    const std::uint64_t produce_to = std::min(to, size);
    // The old bytes are read only where the patches leave a gap.
    const std::uint64_t old_to = std::min(produce_to, old_size);
    std::uint64_t covered = from;
    for (const auto& p : patches) {
      if (p.offset > covered) break;
      covered = std::max(covered, p.offset + p.bytes.size());
    }
    std::string bytes;
    if (covered < old_to && !copy_range(v, from, old_to, bytes, store.source())) {
      out.what = kind::io;
      return out;
    }
    bytes.resize(produce_to > from ? produce_to - from : 0, '\0');
    for (const auto& p : patches) {
      if (p.offset >= produce_to || p.offset < from) continue;
      const auto n_bytes = std::min<std::uint64_t>(p.bytes.size(), produce_to - p.offset);
      std::memcpy(bytes.data() + (p.offset - from), p.bytes.data(), n_bytes);
    }
    const auto* u8 = reinterpret_cast<const std::uint8_t*>(bytes.data());
    if (small) {
      w.inline_sealed = seal_inline(*g, {u8, bytes.size()});
    } else {
      pipeline_options o;
      o.dedup_scope = store.shard();
      chunk_pipeline pipeline(store.devices(), o);
      for (std::uint64_t at = from; at < produce_to;) {
        const std::uint64_t end =
            std::min(produce_to, (at / file_slot_bytes + 1) * file_slot_bytes);
        auto r = pipeline.write(store.self(), *g, {u8 + (at - from), end - at}, at);
        auto* ref = std::get_if<shard::chunk_ref>(&r);
        if (!ref) {
          spdlog::error("writing a chunk of inode {} failed: {}", inode,
                        std::get<pipeline_error>(r).detail);
          report_orphans(store, std::move(w.chunks));
          out.what = kind::io;
          return out;
        }
        w.chunks.push_back(std::move(*ref));
        at = end;
      }
      w.from = from;
      w.to = to;
    }
    w.etag = etag_after(w);
    auto written = w.chunks;
    shard::ns_command c;
    c.body = std::move(w);
    auto r = store.propose(std::move(c));
    if (r && r->status == shard::ns_status::precondition_failed) {
      report_orphans(store, std::move(written));
      continue;  // another writer came first: read again
    }
    if (!r || r->status != shard::ns_status::ok) report_orphans(store, std::move(written));
    if (!r)
      out.what = kind::unavailable;
    else if (r->status == shard::ns_status::no_such_inode)
      out.what = kind::gone;
    else if (r->status != shard::ns_status::ok)
      out.what = kind::rejected;
    out.result = std::move(r);
    return out;
  }
  out.what = kind::unavailable;  // lost the race every time: the caller retries later
  return out;
}

write_outcome commit_dirty(file_store& store, std::uint64_t inode, dirty_file& dirty,
                           bool everything) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  if (everything) {
    runs = dirty.slot_runs(file_slot_bytes);
  } else {
    for (const auto k : dirty.full_slots(file_slot_bytes)) {
      if (!runs.empty() && runs.back().second + 1 == k)
        runs.back().second = k;
      else
        runs.emplace_back(k, k);
    }
  }
  write_outcome first;
  bool seen = false;
  for (const auto& [a, b] : runs) {
    auto extents = dirty.take(a * file_slot_bytes, (b + 1) * file_slot_bytes);
    std::vector<file_patch> patches;
    for (const auto& [offset, bytes] : extents) patches.push_back({offset, bytes});
    auto r = write_patches(store, inode, patches, std::nullopt);
    if (!seen) {
      first.before = r.before;
      seen = true;
    }
    if (r.what == write_outcome::kind::gone) {
      // Removed: its dirty bytes go with it (FD3).
      for (const auto& [lo, hi] : dirty.slot_runs(file_slot_bytes))
        (void)dirty.take(lo * file_slot_bytes, (hi + 1) * file_slot_bytes);
      r.before = first.before;
      return r;
    }
    if (r.what != write_outcome::kind::ok) {
      for (const auto& [offset, bytes] : extents) dirty.write(offset, bytes);  // FD3
      r.before = first.before;
      return r;
    }
  }
  return first;
}

}  // namespace cairn::gateway
