// actors/raft/raft_log.h — the in-memory Raft log of one replica.
//
// Owner: the Raft core. The log holds every entry after the last compaction
// point; the host persists the same entries (through Ready) and hands them
// back on restart. Memory is bounded by compaction, which the host asks for.
//
// Layout:   [offset] (offset+1 ... last]
//            ^ compaction point: index and term known, entry dropped
//
// Invariants:
//  L1. Entries are contiguous: entries_[i].index == offset + 1 + i.
//  L2. Terms never decrease along the log.
//  L3. offset <= applied <= committed <= last_index.
//  L4. persisted <= last_index; entries after persisted are "unstable" and
//      are handed to the host in the next Ready.
//  L5. snapshot.index >= offset when a snapshot exists (compaction only
//      drops entries already covered by a snapshot).
#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "actors/raft/types.h"

namespace cairn::raft {

class raft_log {
 public:
  /// An empty log starting after the compaction point (offset, offset_term).
  raft_log(log_index offset, term_t offset_term);

  log_index first_index() const { return offset_ + 1; }
  log_index last_index() const { return offset_ + entries_.size(); }
  term_t last_term() const;
  log_index offset() const { return offset_; }
  term_t offset_term() const { return offset_term_; }

  /// Term of the entry at `i`; nullopt if compacted away or beyond the end.
  std::optional<term_t> term(log_index i) const;
  bool match_term(log_index i, term_t t) const;
  /// Raft §5.4.1: is (last_term, last_index) at least as up to date as ours?
  bool is_up_to_date(log_index last, term_t last_term) const;

  /// Follower side of AppendEntries. Returns the last index of the new
  /// entries if (prev_index, prev_term) matched, and nullopt otherwise.
  /// Truncates a conflicting suffix; never truncates committed entries.
  std::optional<log_index> maybe_append(log_index prev_index, term_t prev_term,
                                        log_index leader_commit, std::vector<entry> ents);
  /// Leader side: appends entries that follow last_index().
  void append(std::vector<entry> ents);

  /// Entries in [lo, hi) with payload up to `bytes_max` (at least one entry
  /// is returned when the range is non-empty). Requires lo >= first_index.
  std::vector<entry> slice(log_index lo, log_index hi, std::uint64_t bytes_max) const;
  const entry& at(log_index i) const;

  /// For a rejected append: the largest index <= `index` whose term is
  /// <= `t`, and its term (etcd's findConflictByTerm).
  std::pair<log_index, term_t> find_conflict_by_term(log_index index, term_t t) const;

  log_index committed() const { return committed_; }
  log_index applied() const { return applied_; }
  log_index persisted() const { return persisted_; }

  void commit_to(log_index i);
  /// Commits up to `i` if the entry at `i` has term `t` (§5.4.2).
  bool maybe_commit(log_index i, term_t t);
  void applied_to(log_index i);
  /// Next entries to apply: (applied, committed], up to `bytes_max`.
  std::vector<entry> next_committed(std::uint64_t bytes_max) const;
  bool has_next_committed() const;

  /// Entries not yet handed to the host for persistence.
  std::vector<entry> unstable_entries() const;
  bool has_unstable() const { return persisted_ < last_index(); }
  /// The host persisted entries up to (i, t). Ignored if the entry at i
  /// was since replaced by one of another term.
  void stable_to(log_index i, term_t t);

  /// Replaces the whole log with a snapshot's position (InstallSnapshot).
  void restore(const snapshot_metadata& meta);
  /// Drops entries <= i; requires i <= applied.
  void compact(log_index i);

  /// Used on restart: the host's persisted entries, its persisted commit
  /// index and the index of the snapshot its state machine starts from.
  void load(std::vector<entry> ents, log_index commit, log_index snapshot_index);

  /// Checks L3-L4 (constant time); with expensive checks on, also L1-L2
  /// over the whole log. Aborts on violation.
  void check_invariants() const;

  /// Third assertion tier (STYLE.md): O(log length) checks after every
  /// input. Off by default; unit tests and soaks turn it on.
  static void set_expensive_checks(bool on);
  static bool expensive_checks();

 private:
  log_index offset_;
  term_t offset_term_;
  std::deque<entry> entries_;
  log_index committed_;
  log_index applied_;
  log_index persisted_;
};

}  // namespace cairn::raft
