// actors/chunk/device_store.cpp — see device_store.h and docs/chunk.md.
#include "actors/chunk/device_store.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "actors/common/assert.h"

namespace cairn::chunk {
namespace {

std::uint64_t record_bytes(std::uint64_t payload_bytes) {
  return record_blocks(payload_bytes) * block_bytes;
}

bool counts_as_live(shard_state s) {
  return s != shard_state::purged;
}

}  // namespace

std::string_view to_string(device_status s) {
  switch (s) {
    case device_status::ok:
      return "ok";
    case device_status::not_found:
      return "not found";
    case device_status::corrupt:
      return "corrupt";
    case device_status::device_full:
      return "device full";
    case device_status::io_error:
      return "I/O error";
    case device_status::invalid:
      return "invalid request";
  }
  return "?";
}

std::string_view to_string(recovery_report::level l) {
  switch (l) {
    case recovery_report::level::formatted:
      return "formatted";
    case recovery_report::level::clean:
      return "L0 clean";
    case recovery_report::level::superblock_failover:
      return "L1 superblock failover";
    case recovery_report::level::replayed:
      return "L2 replayed";
  }
  return "?";
}

device_store::device_store(block_device& device, chunk_index& index, const device_options& options)
    : device_(device), index_(index), options_(options) {}

std::variant<std::unique_ptr<device_store>, std::string> device_store::open(
    block_device& device, chunk_index& index, const device_options& options,
    const std::optional<format_options>& format) {
  std::unique_ptr<device_store> store(new device_store(device, index, options));
  if (std::string error = store->load_superblock(format); !error.empty()) return error;
  store->check_invariants();
  return store;
}

std::string device_store::load_superblock(const std::optional<format_options>& format) {
  const std::uint64_t size = device_.size_bytes();
  if (size < 3 * block_bytes) return "device smaller than three blocks";
  aligned_buffer primary(block_bytes), backup(block_bytes);
  std::array<read_request, 2> reads{{{primary_superblock_offset(), primary.span()},
                                     {backup_superblock_offset(size), backup.span()}}};
  device_.read(reads);
  superblock from_primary, from_backup;
  const format_error primary_error = reads[0].result == io_result::ok
                                         ? decode_superblock(primary.span(), from_primary)
                                         : format_error::bad_header_crc;
  const format_error backup_error = reads[1].result == io_result::ok
                                        ? decode_superblock(backup.span(), from_backup)
                                        : format_error::bad_header_crc;
  const bool primary_ok = primary_error == format_error::none;
  const bool backup_ok = backup_error == format_error::none;

  if (!primary_ok && !backup_ok) {
    const bool blank =
        primary_error == format_error::bad_magic && backup_error == format_error::bad_magic;
    if (!blank)
      return "both superblocks are unreadable (primary: " + std::string(to_string(primary_error)) +
             ", backup: " + std::string(to_string(backup_error)) + ")";
    if (!format) return "no cairn superblock: the device is blank (format it first)";
    auto planned = plan_device(size, format->segment_bytes);
    if (!planned)
      return "device too small for one segment of " + std::to_string(format->segment_bytes) +
             " bytes";
    sb_ = *planned;
    sb_.device_id = format->device_id;
    sb_.node_id = format->node_id;
    sb_.device_uuid = format->device_uuid;
    segments_.assign(sb_.segment_count, segment_state{});
    index_.clear();
    recovery_.how = recovery_report::level::formatted;
    if (!write_superblocks()) return "cannot write the superblocks of a new device";
    return {};
  }

  // The higher generation wins (RF3); the backup is written after the
  // primary, so it can only be newer if the primary is damaged.
  const bool use_backup =
      !primary_ok || (backup_ok && from_backup.generation > from_primary.generation);
  sb_ = use_backup ? from_backup : from_primary;
  if (sb_.capacity_bytes > size)
    return "the superblock describes " + std::to_string(sb_.capacity_bytes) +
           " bytes but the device has " + std::to_string(size);
  segments_.assign(sb_.segment_count, segment_state{});
  recovery_.used_backup_superblock = use_backup;

  // L0 only from an intact primary that says clean: a backup's clean flag
  // may predate writes whose primary update was torn.
  if (!use_backup && sb_.clean_shutdown) {
    recovery_.how = recovery_report::level::clean;
    scan_segments();
    account_live_bytes();
    next_sequence_ = std::max(next_sequence_, sb_.last_sequence + 1);
  } else {
    recovery_.how =
        use_backup ? recovery_report::level::superblock_failover : recovery_report::level::replayed;
    replay();
  }
  recovery_.segments_in_use = segments_in_use();
  // Clear the L0 marker before anything is appended (and rewrite a damaged
  // primary from the chosen copy).
  sb_.clean_shutdown = false;
  if (!write_superblocks()) return "cannot write the superblocks";
  return {};
}

bool device_store::write_superblocks() {
  ++sb_.generation;
  aligned_buffer block(block_bytes);
  encode_superblock(sb_, block.span());
  for (std::uint64_t offset :
       {primary_superblock_offset(), backup_superblock_offset(sb_.capacity_bytes)}) {
    const std::array<write_request, 1> w{{{offset, block.span()}}};
    if (device_.write(w) != io_result::ok || device_.sync() != io_result::ok) {
      failed_ = true;
      return false;
    }
  }
  return true;
}

// Reads the first block of every segment: a valid segment header (stamped
// with its own sequence) means the segment is in use. The newest one is
// the open segment; its records are walked to find the append offset.
void device_store::scan_segments() {
  // Two blocks per segment: the segment header and the first record. A
  // damaged header is not a free segment: the first record's stamp still
  // names the segment (freeing a segment zeroes both blocks, so a freed
  // segment never looks used).
  std::vector<aligned_buffer> blocks;
  std::vector<read_request> reads;
  blocks.reserve(2 * sb_.segment_count);
  for (std::uint64_t s = 0; s < sb_.segment_count; ++s) {
    for (std::uint64_t b = 0; b < 2; ++b) {
      blocks.emplace_back(block_bytes);
      reads.push_back({segment_offset(s) + b * block_bytes, blocks.back().span()});
    }
  }
  device_.read(reads);
  std::optional<std::uint64_t> newest;
  for (std::uint64_t s = 0; s < sb_.segment_count; ++s) {
    record_header h;
    std::optional<std::uint64_t> stamp;
    if (reads[2 * s].result == io_result::ok &&
        decode_record_header(blocks[2 * s].span(), h) == format_error::none &&
        h.type == record_type::segment_header && h.segment_stamp == h.sequence) {
      stamp = h.sequence;
    } else if (reads[2 * s + 1].result == io_result::ok &&
               decode_record_header(blocks[2 * s + 1].span(), h) == format_error::none &&
               h.type != record_type::segment_header && h.segment_stamp != 0) {
      stamp = h.segment_stamp;
      ++recovery_.damaged_segment_headers;
    }
    if (!stamp) continue;
    segments_[s].phase = segment_state::phase::sealed;
    segments_[s].stamp = *stamp;
    segments_[s].append_offset = sb_.segment_bytes;
    next_sequence_ = std::max(next_sequence_, *stamp + 1);
    if (!newest || *stamp > segments_[*newest].stamp) newest = s;
  }
  if (!newest) return;
  open_segment_ = *newest;
  auto& seg = segments_[*newest];
  seg.phase = segment_state::phase::open;
  // Walk the open segment's records (headers only: it was closed cleanly).
  std::uint64_t at = 0;
  aligned_buffer block(block_bytes);
  while (at + block_bytes <= sb_.segment_bytes) {
    std::array<read_request, 1> r{{{segment_offset(*newest) + at, block.span()}}};
    record_header h;
    if (device_.read(r) != io_result::ok ||
        decode_record_header(block.span(), h) != format_error::none || h.segment_stamp != seg.stamp)
      break;
    next_sequence_ = std::max(next_sequence_, h.sequence + 1);
    at += record_bytes(h.payload_bytes);
  }
  seg.append_offset = std::min(at, sb_.segment_bytes);
}

// L2: the index is rebuilt from the records, segments in the order they
// were opened. Only the two newest segments can hold unsynced (torn)
// records: a batch spans at most the sealed segment and the one it opened.
void device_store::replay() {
  index_.clear();
  scan_segments();
  std::vector<std::uint64_t> order;
  for (std::uint64_t s = 0; s < sb_.segment_count; ++s)
    if (segments_[s].phase != segment_state::phase::free) order.push_back(s);
  std::sort(order.begin(), order.end(),
            [&](auto a, auto b) { return segments_[a].stamp < segments_[b].stamp; });
  for (std::size_t i = 0; i < order.size(); ++i)
    replay_segment(order[i], /*tail=*/i + 2 >= order.size());
  // Marks and restores whose shard record is gone (reclaimed) are spent.
  std::vector<shard_key> spent;
  std::optional<shard_key> after;
  for (;;) {
    auto page = index_.scan(after, 1024);
    if (page.empty()) break;
    for (const auto& [key, e] : page)
      if (e.data_sequence == 0) spent.push_back(key);
    after = page.back().first;
  }
  for (const auto& key : spent) index_.erase(key);
  account_live_bytes();
  index_.flush();
}

// Walks one segment's records. Damage in the middle of the log (a bit flip
// in an old record) and a torn tail (the unsynced end of the last batch)
// look alike record by record; what tells them apart is whether a valid
// record follows. So a record that fails its checks is held back: if a
// valid record comes after it, it was damage and is indexed as corrupt
// (never returned, repaired); if nothing valid follows, it was the torn
// tail and is discarded. Payloads are checked only in the two newest
// segments (`tail`), the only ones an unsynced batch can have touched;
// elsewhere reads find bad payloads.
void device_store::replay_segment(std::uint64_t segment, bool tail) {
  auto& seg = segments_[segment];
  const std::uint64_t base = segment_offset(segment);
  std::uint64_t at = 0;
  std::uint64_t end_of_valid = block_bytes;
  std::uint64_t skipped_run = 0;  // unreadable blocks since the last valid record
  std::vector<std::pair<record_header, std::uint64_t>> held;  // bad payloads, not yet judged
  aligned_buffer block(block_bytes);
  while (at + block_bytes <= sb_.segment_bytes) {
    std::array<read_request, 1> r{{{base + at, block.span()}}};
    record_header h;
    const bool header_ok = device_.read(r) == io_result::ok &&
                           decode_record_header(block.span(), h) == format_error::none &&
                           h.segment_stamp == seg.stamp &&
                           record_bytes(h.payload_bytes) <= sb_.segment_bytes - at;
    if (!header_ok) {  // free space, a torn or a damaged header: look further
      at += block_bytes;
      ++skipped_run;
      continue;
    }
    if (at > 0 && h.type == record_type::segment_header) break;
    bool payload_ok = true;
    if (tail && h.payload_bytes > 0) {
      aligned_buffer whole(record_bytes(h.payload_bytes));
      std::array<read_request, 1> rr{{{base + at, whole.span()}}};
      payload_ok = device_.read(rr) == io_result::ok &&
                   check_payload(h, whole.span().subspan(record_header_bytes, h.payload_bytes)) ==
                       format_error::none;
    }
    if (!payload_ok) {
      held.emplace_back(h, base + at);
      at += record_bytes(h.payload_bytes);
      continue;
    }
    // A valid record: whatever was skipped or held before it was damage.
    recovery_.unreadable_blocks_skipped += skipped_run + held.size();
    skipped_run = 0;
    for (const auto& [bad, offset] : held) apply_replayed(bad, offset, /*corrupt=*/true);
    held.clear();
    apply_replayed(h, base + at, /*corrupt=*/false);
    at += record_bytes(h.payload_bytes);
    end_of_valid = at;
  }
  recovery_.torn_records_discarded += held.size();  // nothing valid after them: the torn tail
  if (seg.phase == segment_state::phase::open) seg.append_offset = end_of_valid;
}

// Replay must give the same index whatever order a key's records are met
// in: compaction copies keep their sequence but move later in the log, so a
// delete mark can come before the shard record it deletes. Each record
// updates only what its sequence says it is newer than; entries created by a
// mark or restore whose shard record never shows up are spent marks and go
// after the replay (replay()).
void device_store::apply_replayed(const record_header& h, std::uint64_t offset, bool corrupt) {
  next_sequence_ = std::max(next_sequence_, h.sequence + 1);
  if (h.type == record_type::segment_header) return;
  ++recovery_.records_replayed;
  auto entry = index_.get(h.key);
  if (h.type == record_type::shard) {
    if (!entry || h.sequence > entry->state_sequence) {
      // The newest thing known about the key: live data.
      index_.put(h.key, index_entry{shard_state::live, offset, h.payload_bytes, h.sequence, h.epoch,
                                    h.sequence, offset, 0});
    } else if (h.sequence >= entry->data_sequence) {
      // Data older than the key's state (a mark or restore came first), or
      // a later copy of the same record: the data the state refers to.
      if (entry->state_sequence == h.sequence) entry->state_offset = offset;
      entry->data_offset = offset;
      entry->payload_bytes = h.payload_bytes;
      entry->data_sequence = h.sequence;
      entry->epoch = h.epoch;
      index_.put(h.key, *entry);
    }
    return;
  }
  // delete_mark or restore
  if (entry && h.sequence < entry->state_sequence) return;  // superseded
  index_entry e = entry.value_or(index_entry{});
  if (!entry) {
    e.data_sequence = 0;  // no shard record seen yet
    e.data_offset = 0;
  }
  if (entry && h.sequence == entry->state_sequence) {
    e.state_offset = offset;  // a later copy of the same record
  } else {
    e.state = h.type == record_type::delete_mark ? shard_state::in_bin : shard_state::live;
    e.state_sequence = h.sequence;
    e.state_offset = offset;
    e.deleted_at_ms = h.type == record_type::delete_mark ? h.timestamp_ms : 0;
  }
  index_.put(h.key, e);
}

void device_store::account_live_bytes() {
  for (auto& s : segments_) s.live_bytes = 0;
  std::optional<shard_key> after;
  for (;;) {
    auto page = index_.scan(after, 1024);
    if (page.empty()) break;
    for (const auto& [key, e] : page) {
      if (!counts_as_live(e.state)) continue;
      if (e.data_offset < sb_.data_offset) continue;
      const auto s = segment_of(e.data_offset);
      if (s >= segments_.size()) continue;
      segments_[s].live_bytes += record_bytes(e.payload_bytes);
      // Never hand out a segment the index still points into, whatever its
      // header block says.
      if (segments_[s].phase == segment_state::phase::free) {
        segments_[s].phase = segment_state::phase::sealed;
        segments_[s].append_offset = sb_.segment_bytes;
      }
    }
    after = page.back().first;
  }
}

std::uint64_t device_store::segments_in_use() const {
  return static_cast<std::uint64_t>(
      std::count_if(segments_.begin(), segments_.end(),
                    [](const auto& s) { return s.phase != segment_state::phase::free; }));
}

// Both thresholds ask whether the next segment would cross the line, so a
// small device that refuses has always warned first.
bool device_store::above_warn_threshold() const {
  return static_cast<double>(segments_in_use() + 1) >
         options_.warn_used_ratio * static_cast<double>(sb_.segment_count);
}

std::optional<std::uint64_t> device_store::reserve(std::uint64_t blocks, reservation who,
                                                   std::vector<aligned_buffer>& buffers,
                                                   std::vector<write_request>& writes) {
  const std::uint64_t bytes = blocks * block_bytes;
  CAIRN_ASSERT(bytes + block_bytes <= sb_.segment_bytes);
  if (open_segment_) {
    auto& seg = segments_[*open_segment_];
    if (seg.append_offset + bytes <= sb_.segment_bytes) {
      const std::uint64_t at = segment_offset(*open_segment_) + seg.append_offset;
      seg.append_offset += bytes;
      return at;
    }
  }
  // Open a new segment, within the refuse threshold for clients (CD6).
  if (who == reservation::client &&
      static_cast<double>(segments_in_use() + 1) >
          options_.refuse_used_ratio * static_cast<double>(sb_.segment_count))
    return std::nullopt;
  std::optional<std::uint64_t> next;
  for (std::uint64_t s = 0; s < sb_.segment_count && !next; ++s)
    if (segments_[s].phase == segment_state::phase::free &&
        !(compaction_ && compaction_->segment == s))
      next = s;
  if (!next) return std::nullopt;
  if (open_segment_) segments_[*open_segment_].phase = segment_state::phase::sealed;
  open_segment_ = *next;
  auto& seg = segments_[*next];
  seg.phase = segment_state::phase::open;
  seg.stamp = next_sequence_++;
  seg.append_offset = block_bytes + bytes;
  seg.live_bytes = 0;
  record_header h;
  h.type = record_type::segment_header;
  h.sequence = seg.stamp;
  h.epoch = seg.stamp;
  h.segment_stamp = seg.stamp;
  buffers.emplace_back(block_bytes);
  encode_record(h, {}, buffers.back().span());
  writes.push_back({segment_offset(*next), buffers.back().span()});
  return segment_offset(*next) + block_bytes;
}

std::vector<device_status> device_store::append(std::span<const append_request> batch) {
  std::vector<device_status> statuses(batch.size(), device_status::ok);
  if (failed_) {
    std::fill(statuses.begin(), statuses.end(), device_status::io_error);
    return statuses;
  }
  struct pending {
    std::size_t request;
    std::uint64_t offset;
    std::uint64_t sequence;
    std::optional<index_entry> previous;
  };
  std::vector<pending> written;
  std::vector<aligned_buffer> buffers;  // segment headers reserve() writes
  std::vector<write_request> writes;
  std::map<shard_key, std::size_t> in_batch;
  buffers.reserve(2 * batch.size() + 2);
  // Each write goes to the device as soon as it is ready (streamed), so
  // the device writes record j while record j + 1 is framed and checksummed.
  std::size_t submitted = 0;
  io_result io = io_result::ok;
  auto submit_ready = [&] {
    for (; submitted < writes.size(); ++submitted)
      if (const auto r = device_.submit_write(writes[submitted]);
          r != io_result::ok && io == io_result::ok)
        io = r;
  };
  std::size_t pooled = 0;  // record buffers of record_pool_ used by this batch
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& r = batch[i];
    if (r.payload.size() > record_payload_bytes_max ||
        record_bytes(r.payload.size()) + block_bytes > sb_.segment_bytes) {
      statuses[i] = device_status::invalid;
      continue;
    }
    auto previous = index_.get(r.key);
    if ((previous && previous->state == shard_state::live) || in_batch.count(r.key)) {
      ++counters_.appends_deduplicated;  // same key, same bytes: already stored
      continue;
    }
    const auto at = reserve(record_blocks(r.payload.size()), reservation::client, buffers, writes);
    if (!at) {
      statuses[i] = device_status::device_full;
      ++counters_.refused_full;
      continue;
    }
    record_header h;
    h.type = record_type::shard;
    h.key = r.key;
    h.payload_bytes = static_cast<std::uint32_t>(r.payload.size());
    h.sequence = next_sequence_++;
    h.epoch = r.epoch;
    h.segment_stamp = segments_[segment_of(*at)].stamp;
    const auto bytes = record_bytes(r.payload.size());
    const auto out = pooled_record_buffer(pooled++, bytes);
    encode_record(h, r.payload, out);
    writes.push_back({*at, out});
    written.push_back({i, *at, h.sequence, previous});
    in_batch.emplace(r.key, i);
    submit_ready();
  }
  submit_ready();
  if (submitted > 0) {
    if (const auto c = device_.complete_writes(); io == io_result::ok) io = c;
    if (io != io_result::ok || device_.sync() != io_result::ok) {
      trim_record_pool();
      fail("append");
      for (const auto& w : written) statuses[w.request] = device_status::io_error;
      return statuses;
    }
    ++counters_.append_batches;
  }
  trim_record_pool();
  // Durable: now the index (CD1).
  for (const auto& w : written) {
    const auto& r = batch[w.request];
    if (w.previous && counts_as_live(w.previous->state)) {
      auto& old = segments_[segment_of(w.previous->data_offset)];
      old.live_bytes -= std::min(old.live_bytes, record_bytes(w.previous->payload_bytes));
    }
    index_.put(r.key, index_entry{shard_state::live, w.offset,
                                  static_cast<std::uint32_t>(r.payload.size()), w.sequence, r.epoch,
                                  w.sequence, w.offset, 0});
    segments_[segment_of(w.offset)].live_bytes += record_bytes(r.payload.size());
    ++counters_.appends;
    counters_.bytes_appended += r.payload.size();
  }
  check_invariants();
  return statuses;
}

device_status device_store::read(const shard_key& key, std::vector<std::uint8_t>& out,
                                 std::uint64_t* epoch) {
  std::span<const std::uint8_t> view;
  const auto status = read_view(key, view, epoch);
  if (status == device_status::ok) out.assign(view.begin(), view.end());
  return status;
}

device_status device_store::read_view(const shard_key& key, std::span<const std::uint8_t>& view,
                                      std::uint64_t* epoch) {
  if (failed_) return device_status::io_error;
  if (read_buffer_.size() > pool_keep_bytes) read_buffer_ = aligned_buffer();  // an outsized one
  ++counters_.reads;
  auto entry = index_.get(key);
  if (!entry || entry->state == shard_state::in_bin || entry->state == shard_state::purged)
    return device_status::not_found;
  if (entry->state == shard_state::corrupt) return device_status::corrupt;
  const auto record = record_bytes(entry->payload_bytes);
  if (read_buffer_.size() < record) read_buffer_ = aligned_buffer(record);
  const std::span<std::uint8_t> buffer(read_buffer_.data(), record);
  std::array<read_request, 1> r{{{entry->data_offset, buffer}}};
  if (const auto io = device_.read(r); io != io_result::ok) {
    ++counters_.io_errors;
    if (io == io_result::gone) return fail("read");
    // A media error on this record: the copy is not to be trusted any more;
    // marking it lets repair rewrite it (an append does not dedup a corrupt
    // shard). A transient error costs one needless rewrite.
    entry->state = shard_state::corrupt;
    index_.put(key, *entry);
    return device_status::io_error;
  }
  record_header h;
  const bool intact =
      decode_record_header(buffer, h) == format_error::none && h.type == record_type::shard &&
      h.key == key && h.sequence == entry->data_sequence &&
      h.payload_bytes == entry->payload_bytes &&
      check_payload(h, buffer.subspan(record_header_bytes, h.payload_bytes)) == format_error::none;
  if (!intact) {  // CD2: never returned; kept marked until repair rewrites it
    ++counters_.corrupt_reads;
    entry->state = shard_state::corrupt;
    index_.put(key, *entry);
    return device_status::corrupt;
  }
  view = buffer.subspan(record_header_bytes, h.payload_bytes);
  if (epoch) *epoch = h.epoch;
  return device_status::ok;
}

std::span<std::uint8_t> device_store::pooled_record_buffer(std::size_t slot, std::uint64_t bytes) {
  if (slot == record_pool_.size()) record_pool_.emplace_back();
  auto& b = record_pool_[slot];
  if (b.size() < bytes) b = aligned_buffer(bytes);
  return {b.data(), bytes};
}

void device_store::trim_record_pool() {
  std::uint64_t kept = 0;
  for (auto& b : record_pool_) {
    if (kept + b.size() > pool_keep_bytes) b = aligned_buffer();
    kept += b.size();
  }
}

std::optional<std::uint64_t> device_store::append_marker(record_type type, const shard_key& key,
                                                         std::uint64_t timestamp_ms,
                                                         std::uint64_t& sequence) {
  if (failed_) return std::nullopt;
  std::vector<aligned_buffer> buffers;
  std::vector<write_request> writes;
  buffers.reserve(2);
  const auto at = reserve(1, reservation::internal, buffers, writes);
  if (!at) return std::nullopt;
  record_header h;
  h.type = type;
  h.key = key;
  h.sequence = next_sequence_++;
  h.timestamp_ms = timestamp_ms;
  h.segment_stamp = segments_[segment_of(*at)].stamp;
  buffers.emplace_back(block_bytes);
  encode_record(h, {}, buffers.back().span());
  writes.push_back({*at, buffers.back().span()});
  if (device_.write(writes) != io_result::ok || device_.sync() != io_result::ok) {
    fail("marker");
    return std::nullopt;
  }
  sequence = h.sequence;
  return *at;
}

device_status device_store::remove(const shard_key& key, std::uint64_t now_ms) {
  if (failed_) return device_status::io_error;
  auto entry = index_.get(key);
  if (!entry || (entry->state != shard_state::live && entry->state != shard_state::corrupt))
    return device_status::not_found;
  std::uint64_t sequence = 0;
  const auto at = append_marker(record_type::delete_mark, key, now_ms, sequence);
  if (!at) return failed_ ? device_status::io_error : device_status::device_full;
  entry->state = shard_state::in_bin;
  entry->state_sequence = sequence;
  entry->state_offset = *at;
  entry->deleted_at_ms = now_ms;
  index_.put(key, *entry);
  ++counters_.deletes;
  check_invariants();
  return device_status::ok;
}

device_status device_store::restore(const shard_key& key, std::uint64_t now_ms) {
  if (failed_) return device_status::io_error;
  auto entry = index_.get(key);
  if (!entry || entry->state != shard_state::in_bin ||
      entry->deleted_at_ms + options_.retention_ms <= now_ms)
    return device_status::not_found;
  std::uint64_t sequence = 0;
  const auto at = append_marker(record_type::restore, key, 0, sequence);
  if (!at) return failed_ ? device_status::io_error : device_status::device_full;
  entry->state = shard_state::live;
  entry->state_sequence = sequence;
  entry->state_offset = *at;
  entry->deleted_at_ms = 0;
  index_.put(key, *entry);
  ++counters_.restores;
  check_invariants();
  return device_status::ok;
}

std::uint64_t device_store::purge_expired(std::uint64_t now_ms, std::size_t max) {
  if (failed_) return 0;
  std::uint64_t purged = 0;
  std::optional<shard_key> after;
  while (purged < max) {
    auto page = index_.scan(after, 1024);
    if (page.empty()) break;
    for (auto& [key, e] : page) {
      if (purged >= max) break;
      if (e.state != shard_state::in_bin || e.deleted_at_ms + options_.retention_ms > now_ms)
        continue;
      auto& seg = segments_[segment_of(e.data_offset)];
      seg.live_bytes -= std::min(seg.live_bytes, record_bytes(e.payload_bytes));
      e.state = shard_state::purged;
      index_.put(key, e);
      ++purged;
      ++counters_.purges;
    }
    after = page.back().first;
  }
  return purged;
}

std::optional<std::uint64_t> device_store::pick_compaction_victim() const {
  std::optional<std::uint64_t> best;
  double best_garbage = 0;
  for (std::uint64_t s = 0; s < sb_.segment_count; ++s) {
    const auto& seg = segments_[s];
    if (seg.phase != segment_state::phase::sealed) continue;
    const double garbage =
        1.0 - static_cast<double>(seg.live_bytes) / static_cast<double>(sb_.segment_bytes);
    if (garbage >= options_.compact_garbage_ratio && (!best || garbage > best_garbage)) {
      best = s;
      best_garbage = garbage;
    }
  }
  return best;
}

bool device_store::older_segment_in_use(std::uint64_t sequence, std::uint64_t except) const {
  for (std::uint64_t s = 0; s < sb_.segment_count; ++s)
    if (s != except && segments_[s].phase != segment_state::phase::free &&
        segments_[s].stamp < sequence)
      return true;
  return false;
}

bool device_store::record_is_live(const record_header& h, std::uint64_t offset) const {
  const auto entry = index_.get(h.key);
  // A spent delete mark (its entry is gone with the shard record it
  // deleted) still shadows any older record of the key in an older segment:
  // kept until no segment older than it is left (CD3).
  if (!entry)
    return h.type == record_type::delete_mark &&
           older_segment_in_use(h.sequence, segment_of(offset));
  switch (h.type) {
    case record_type::shard:
      return entry->data_offset == offset && entry->data_sequence == h.sequence &&
             entry->state != shard_state::purged;
    case record_type::delete_mark:
      // Needed while it is the key's state and the shard it deletes is
      // still in the bin or, purged, still on the device.
      if (entry->state_offset != offset || entry->state_sequence != h.sequence) return false;
      if (entry->state == shard_state::in_bin) return true;
      return entry->state == shard_state::purged &&
             (segment_of(entry->data_offset) != segment_of(offset) ||
              older_segment_in_use(h.sequence, segment_of(offset)));
    case record_type::restore:
      return entry->state_offset == offset && entry->state_sequence == h.sequence;
    case record_type::segment_header:
      return false;
  }
  return false;
}

compaction_progress device_store::compact_step(std::uint64_t copy_bytes_max) {
  compaction_progress progress;
  if (failed_) return progress;
  if (!compaction_) {
    const auto victim = pick_compaction_victim();
    if (!victim) return progress;
    compaction_ = compaction_cursor{*victim, block_bytes, {}};
  }
  auto& c = *compaction_;
  progress.segment = c.segment;
  const auto& victim = segments_[c.segment];
  const std::uint64_t base = segment_offset(c.segment);

  struct copy {
    shard_key key;
    record_type type;
    std::uint64_t from;
    std::uint64_t to;
    std::uint64_t bytes;
  };
  std::vector<copy> copies;
  std::vector<aligned_buffer> buffers;
  std::vector<write_request> writes;
  std::uint64_t budget = 0;
  aligned_buffer block(block_bytes);
  while (c.offset + block_bytes <= sb_.segment_bytes && budget < copy_bytes_max) {
    std::array<read_request, 1> r{{{base + c.offset, block.span()}}};
    record_header h;
    if (device_.read(r) != io_result::ok ||
        decode_record_header(block.span(), h) != format_error::none ||
        h.segment_stamp != victim.stamp ||
        record_bytes(h.payload_bytes) > sb_.segment_bytes - c.offset) {
      c.offset += block_bytes;  // free space or damage: nothing to keep
      continue;
    }
    const std::uint64_t at = base + c.offset;
    const std::uint64_t bytes = record_bytes(h.payload_bytes);
    c.offset += bytes;
    if (h.type == record_type::shard) {
      const auto entry = index_.get(h.key);
      if (entry && entry->state == shard_state::purged && entry->data_offset == at)
        c.spent.push_back(h.key);  // its delete mark may go once this segment is free
    }
    if (!record_is_live(h, at)) continue;
    // Copy with the same sequence (CD4: the state of a key is its newest
    // sequence, wherever the record lies) and the new segment's stamp.
    aligned_buffer whole(bytes);
    std::array<read_request, 1> rr{{{at, whole.span()}}};
    if (device_.read(rr) != io_result::ok ||
        (h.payload_bytes > 0 &&
         check_payload(h, whole.span().subspan(record_header_bytes, h.payload_bytes)) !=
             format_error::none)) {
      // A damaged live shard is not copied: mark it for repair instead.
      if (h.type == record_type::shard) {
        auto entry = index_.get(h.key);
        entry->state = shard_state::corrupt;
        index_.put(h.key, *entry);
      }
      continue;
    }
    buffers.reserve(buffers.size() + 2);
    const auto to = reserve(record_blocks(h.payload_bytes), reservation::internal, buffers, writes);
    if (!to) {  // no free segment to copy into: try again after deletes
      c.offset -= bytes;
      break;
    }
    h.segment_stamp = segments_[segment_of(*to)].stamp;
    encode_record_header(h, whole.span().subspan(record_header_bytes, h.payload_bytes),
                         whole.span());
    buffers.push_back(std::move(whole));
    writes.push_back({*to, buffers.back().span()});
    copies.push_back({h.key, h.type, at, *to, bytes});
    budget += bytes;
  }
  if (!writes.empty()) {
    if (device_.write(writes) != io_result::ok || device_.sync() != io_result::ok) {
      fail("compaction");
      return progress;
    }
  }
  for (const auto& cp : copies) {  // synced: point the index at the copies
    auto entry = index_.get(cp.key);
    if (!entry) continue;
    if (cp.type == record_type::shard && entry->data_offset == cp.from) {
      entry->data_offset = cp.to;
      if (entry->state_offset == cp.from) entry->state_offset = cp.to;
      segments_[c.segment].live_bytes -= std::min(segments_[c.segment].live_bytes, cp.bytes);
      segments_[segment_of(cp.to)].live_bytes += cp.bytes;
    } else if (cp.type != record_type::shard && entry->state_offset == cp.from) {
      entry->state_offset = cp.to;
    }
    index_.put(cp.key, *entry);
    ++progress.records_copied;
    progress.bytes_copied += cp.bytes;
    ++counters_.compaction_records_copied;
  }
  if (c.offset + block_bytes > sb_.segment_bytes) {
    // Every live record has a synced copy the index points at (CD5): the
    // segment's header goes, and with it every record in it.
    for (const auto& key : c.spent) {
      auto entry = index_.get(key);
      if (entry && entry->state == shard_state::purged &&
          segment_of(entry->data_offset) == c.segment)
        index_.erase(key);
    }
    aligned_buffer zero(2 * block_bytes);  // header and first record (scan_segments)
    std::memset(zero.data(), 0, 2 * block_bytes);
    const std::array<write_request, 1> w{{{base, zero.span()}}};
    if (device_.write(w) != io_result::ok || device_.sync() != io_result::ok) {
      fail("compaction");
      return progress;
    }
    segments_[c.segment] = segment_state{};
    progress.segment_freed = true;
    ++counters_.segments_freed;
    compaction_.reset();
  }
  check_invariants();
  return progress;
}

std::optional<shard_state> device_store::state_of(const shard_key& key) const {
  auto e = index_.get(key);
  if (!e) return std::nullopt;
  return e->state;
}

std::vector<std::pair<shard_key, shard_state>> device_store::list(
    const std::optional<shard_key>& after, std::size_t max) const {
  std::vector<std::pair<shard_key, shard_state>> out;
  auto from = after;
  while (out.size() < max) {
    const auto page = index_.scan(from, max - out.size());
    if (page.empty()) break;
    for (const auto& [k, e] : page)
      if (e.state != shard_state::purged) out.emplace_back(k, e.state);
    from = page.back().first;
  }
  return out;
}

device_status device_store::close() {
  if (closed_) return device_status::ok;
  if (failed_) return device_status::io_error;
  if (!index_.flush()) return fail("index flush");
  sb_.clean_shutdown = true;
  sb_.last_sequence = next_sequence_ - 1;
  if (!write_superblocks()) return device_status::io_error;
  closed_ = true;
  failed_ = true;  // no more I/O through this instance (the owner may release the device)
  return device_status::ok;
}

device_status device_store::fail(const char*) {
  failed_ = true;  // BD3: unsynced state is unknown; the actor restarts the device
  ++counters_.io_errors;
  return device_status::io_error;
}

void device_store::check_invariants() const {
  CAIRN_ASSERT(segments_.size() == sb_.segment_count);
  CAIRN_ASSERT(next_sequence_ >= 1);
  std::uint64_t open = 0;
  for (const auto& s : segments_) {
    if (s.phase == segment_state::phase::open) ++open;
    CAIRN_ASSERT_MSG(s.append_offset <= sb_.segment_bytes, "append offset past the segment");
    CAIRN_ASSERT_MSG(s.phase == segment_state::phase::free || s.stamp < next_sequence_,
                     "a segment stamp from the future (CD4)");
  }
  CAIRN_ASSERT_MSG(open <= 1, "more than one open segment");
  if (open_segment_) CAIRN_ASSERT(segments_[*open_segment_].phase == segment_state::phase::open);
}

}  // namespace cairn::chunk
