// actors/chunk/device_store.h — the core of one chunk device: an append-only
// log of 4 KiB-aligned records in segments, an index from shard key to
// record, and recovery on open.
//
// Owner: the chunk device actor (one per device); single-threaded. Pure in
// the project's sense: storage comes in through block_device and
// chunk_index, time as now_ms arguments, randomness (the device uuid) in
// the format options; the simulator runs it over a faulty in-memory device.
//
// Design, formats, protocol steps and invariants CD1-CD6: docs/chunk.md.
// Checked here on every call that changes state: CD4 (sequences strictly
// increase), CD6 (segments in use never exceed the device), the open
// segment's append offset stays inside it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "actors/chunk/block_device.h"
#include "actors/chunk/chunk_index.h"
#include "actors/chunk/record.h"

namespace cairn::chunk {

enum class device_status : std::uint8_t {
  ok,
  not_found,    // never stored, deleted (in the bin) or purged
  corrupt,      // the stored record failed its checks: never returned
  device_full,  // refused: above the refuse threshold or no free segment
  io_error,     // the device failed; it is now failed (fail-stop)
  invalid,      // a request this device can never serve (too large)
};
std::string_view to_string(device_status s);

struct device_options {
  /// How long a deleted shard stays restorable before purge (phase 2).
  std::uint64_t retention_ms = 24ull * 3600 * 1000;
  /// Share of segments in use above which the device warns, and above
  /// which it refuses new shards (compaction and deletes still run). Both
  /// are checked as "opening one more segment would cross it".
  double warn_used_ratio = 0.95;
  double refuse_used_ratio = 0.99;
  /// A sealed segment whose share of dead bytes reaches this is compacted.
  double compact_garbage_ratio = 0.5;
};

/// What one compaction step did.
struct compaction_progress {
  std::optional<std::uint64_t> segment;  // the segment being compacted, if any
  std::uint64_t records_copied = 0;
  std::uint64_t bytes_copied = 0;
  bool segment_freed = false;  // the step finished the segment
};

struct format_options {
  std::uint64_t segment_bytes = 64ull << 20;
  std::uint64_t device_id = 0;
  std::uint64_t node_id = 0;
  std::array<std::uint8_t, 16> device_uuid{};  // from the caller's random source
};

/// What open() had to do (for logs, metrics and tests).
struct recovery_report {
  enum class level : std::uint8_t { formatted, clean, superblock_failover, replayed };
  level how = level::clean;
  bool used_backup_superblock = false;  // L1
  std::uint64_t records_replayed = 0;   // L2
  std::uint64_t torn_records_discarded = 0;
  std::uint64_t unreadable_blocks_skipped = 0;
  std::uint64_t damaged_segment_headers = 0;  // in use, found by their first record
  std::uint64_t segments_in_use = 0;
};
std::string_view to_string(recovery_report::level l);

struct append_request {
  shard_key key;
  std::uint64_t epoch = 0;
  std::span<const std::uint8_t> payload;
};

struct device_counters {
  std::uint64_t appends = 0;
  std::uint64_t appends_deduplicated = 0;
  std::uint64_t append_batches = 0;
  std::uint64_t bytes_appended = 0;
  std::uint64_t reads = 0;
  std::uint64_t corrupt_reads = 0;
  std::uint64_t deletes = 0;
  std::uint64_t restores = 0;
  std::uint64_t purges = 0;
  std::uint64_t refused_full = 0;
  std::uint64_t compaction_records_copied = 0;
  std::uint64_t segments_freed = 0;
  std::uint64_t io_errors = 0;
};

class device_store {
 public:
  /// Opens the device, recovering as needed; formats it first if it holds
  /// no superblock at all and `format` is given. The error string names
  /// what is wrong (for the operator).
  static std::variant<std::unique_ptr<device_store>, std::string> open(
      block_device& device, chunk_index& index, const device_options& options,
      const std::optional<format_options>& format);

  /// Appends a batch: one write of all records, one sync, then the index.
  /// A shard already stored and live is not written again (dedup: same key,
  /// same bytes). Statuses in request order; all ok means all durable.
  std::vector<device_status> append(std::span<const append_request> batch);

  /// The shard's bytes, verified (CD2), and the key epoch they were sealed
  /// under; `corrupt` marks the shard for repair.
  device_status read(const shard_key& key, std::vector<std::uint8_t>& out,
                     std::uint64_t* epoch = nullptr);
  /// As read(), without copying: `view` points into the store's read
  /// buffer and stays valid until the next call on this store.
  device_status read_view(const shard_key& key, std::span<const std::uint8_t>& view,
                          std::uint64_t* epoch = nullptr);

  /// Phase 1 of a delete: into the recycle bin (durable before returning).
  device_status remove(const shard_key& key, std::uint64_t now_ms);
  /// Back out of the recycle bin, while its retention window lasts (a
  /// purge is not persisted: after a crash an expired shard is in the bin
  /// again until the next purge_expired(), and must not be restorable).
  device_status restore(const shard_key& key, std::uint64_t now_ms);
  /// Phase 2: purges up to `max` shards whose retention ended. Returns how
  /// many were purged.
  std::uint64_t purge_expired(std::uint64_t now_ms, std::size_t max);

  /// Background compaction, bounded: copies at most about `copy_bytes_max`
  /// of live records out of the sealed segment with the most garbage (at
  /// least compact_garbage_ratio), then frees it once empty (CD5). Appends
  /// may run between steps. A step with nothing to do returns no segment.
  compaction_progress compact_step(std::uint64_t copy_bytes_max);

  std::optional<shard_state> state_of(const shard_key& key) const;
  /// Up to `max` stored shards in key order, strictly after `after` if
  /// given, with their states (the repair actor's inventory). Purged
  /// entries (kept only for their delete marks) are skipped.
  std::vector<std::pair<shard_key, shard_state>> list(const std::optional<shard_key>& after,
                                                      std::size_t max) const;

  /// Clean shutdown: flushes the index and sets the L0 marker. Afterwards
  /// the store does no more I/O (every call answers io_error); a second
  /// close() is a no-op.
  device_status close();
  bool closed() const { return closed_; }

  bool failed() const { return failed_; }
  bool above_warn_threshold() const;
  std::uint64_t segments_in_use() const;
  std::uint64_t segment_count() const { return sb_.segment_count; }
  const recovery_report& recovery() const { return recovery_; }
  const device_counters& counters() const { return counters_; }
  const superblock& super() const { return sb_; }

 private:
  struct segment_state {
    enum class phase : std::uint8_t { free, open, sealed } phase = phase::free;
    std::uint64_t stamp = 0;          // open sequence (segment header's sequence)
    std::uint64_t append_offset = 0;  // bytes used from the segment start
    std::uint64_t live_bytes = 0;     // record bytes still referenced by the index
  };

  device_store(block_device& device, chunk_index& index, const device_options& options);

  /// Record buffer `slot` of the append pool, at least `bytes` long. Reused
  /// across batches: a fresh buffer per record cost more in page faults
  /// than the CRC (docs/benchmarks.md).
  std::span<std::uint8_t> pooled_record_buffer(std::size_t slot, std::uint64_t bytes);
  /// Releases pool buffers beyond pool_keep_bytes (memory stays bounded
  /// after one large batch).
  void trim_record_pool();
  static constexpr std::uint64_t pool_keep_bytes = 64ull << 20;

  std::string load_superblock(const std::optional<format_options>& format);
  bool write_superblocks();
  void scan_segments();
  void replay();
  void replay_segment(std::uint64_t segment, bool tail);
  /// `corrupt`: the record's payload failed its check (damage, not the tail).
  void apply_replayed(const record_header& h, std::uint64_t offset, bool corrupt);
  void account_live_bytes();

  std::uint64_t segment_offset(std::uint64_t segment) const {
    return sb_.data_offset + segment * sb_.segment_bytes;
  }
  std::uint64_t segment_of(std::uint64_t device_offset) const {
    return (device_offset - sb_.data_offset) / sb_.segment_bytes;
  }
  /// Who asks for space: client shards respect the refuse threshold;
  /// delete marks and compaction copies may use any free segment, or a
  /// full device could never free space.
  enum class reservation : std::uint8_t { client, internal };
  /// Reserves room for `blocks` in the open segment, opening a new one
  /// (whose header goes into `writes`) when needed; nullopt when full.
  std::optional<std::uint64_t> reserve(std::uint64_t blocks, reservation who,
                                       std::vector<aligned_buffer>& buffers,
                                       std::vector<write_request>& writes);
  std::optional<std::uint64_t> pick_compaction_victim() const;
  /// Whether the record at `offset` is still needed (see docs/chunk.md).
  bool record_is_live(const record_header& h, std::uint64_t offset) const;
  /// Whether a segment other than `except`, opened before `sequence`, is in use.
  bool older_segment_in_use(std::uint64_t sequence, std::uint64_t except) const;
  /// Writes one small record (delete mark, restore) durably.
  std::optional<std::uint64_t> append_marker(record_type type, const shard_key& key,
                                             std::uint64_t timestamp_ms, std::uint64_t& sequence);
  device_status fail(const char* what);
  void check_invariants() const;

  block_device& device_;
  chunk_index& index_;
  std::vector<aligned_buffer> record_pool_;  // append: one per record of a batch
  aligned_buffer read_buffer_;               // read: the record being verified
  device_options options_;
  superblock sb_;
  std::vector<segment_state> segments_;
  std::optional<std::uint64_t> open_segment_;
  std::uint64_t next_sequence_ = 1;
  struct compaction_cursor {
    std::uint64_t segment = 0;
    std::uint64_t offset = block_bytes;  // next record to look at
    std::vector<shard_key> spent;        // purged keys whose data was here
  };
  std::optional<compaction_cursor> compaction_;
  bool failed_ = false;
  bool closed_ = false;
  recovery_report recovery_;
  device_counters counters_;
};

}  // namespace cairn::chunk
