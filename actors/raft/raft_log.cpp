// actors/raft/raft_log.cpp — see raft_log.h.
#include "actors/raft/raft_log.h"

#include <algorithm>

#include "actors/common/assert.h"

namespace cairn::raft {

raft_log::raft_log(log_index offset, term_t offset_term)
    : offset_(offset),
      offset_term_(offset_term),
      committed_(offset),
      applied_(offset),
      persisted_(offset) {}

term_t raft_log::last_term() const {
  return entries_.empty() ? offset_term_ : entries_.back().term;
}

std::optional<term_t> raft_log::term(log_index i) const {
  if (i == offset_) return offset_term_;
  if (i < offset_ || i > last_index()) return std::nullopt;
  return entries_[i.value - offset_.value - 1].term;
}

bool raft_log::match_term(log_index i, term_t t) const {
  auto have = term(i);
  return have && *have == t;
}

bool raft_log::is_up_to_date(log_index last, term_t lt) const {
  return lt > last_term() || (lt == last_term() && last >= last_index());
}

const entry& raft_log::at(log_index i) const {
  CAIRN_ASSERT(i > offset_ && i <= last_index());
  return entries_[i.value - offset_.value - 1];
}

std::optional<log_index> raft_log::maybe_append(log_index prev_index, term_t prev_term,
                                                log_index leader_commit, std::vector<entry> ents) {
  if (!match_term(prev_index, prev_term)) return std::nullopt;
  const log_index last_new = prev_index + ents.size();
  // Find the first entry that is not already in the log with the same term.
  std::size_t skip = 0;
  for (; skip < ents.size(); ++skip) {
    const auto& e = ents[skip];
    if (e.index <= offset_) continue;  // already compacted: it is committed
    if (!match_term(e.index, e.term)) break;
  }
  if (skip < ents.size()) {
    const log_index conflict = ents[skip].index;
    CAIRN_ASSERT_MSG(conflict > committed_, "append would overwrite a committed entry");
    if (conflict <= last_index()) {
      // Truncate the conflicting suffix (Raft §5.3).
      entries_.resize(conflict.value - offset_.value - 1);
      if (persisted_ >= conflict) persisted_ = conflict - 1;
    }
    for (std::size_t i = skip; i < ents.size(); ++i) {
      CAIRN_ASSERT_MSG(ents[i].index == last_index() + 1, "L1 appended entry not contiguous");
      CAIRN_ASSERT_MSG(ents[i].term >= last_term(), "L2 appended entry term decreases");
      entries_.push_back(std::move(ents[i]));
    }
  }
  commit_to(std::min(leader_commit, last_new));
  return last_new;
}

void raft_log::append(std::vector<entry> ents) {
  for (auto& e : ents) {
    CAIRN_ASSERT(e.index == last_index() + 1);
    CAIRN_ASSERT(e.term >= last_term());
    entries_.push_back(std::move(e));
  }
}

std::vector<entry> raft_log::slice(log_index lo, log_index hi, std::uint64_t bytes_max) const {
  std::vector<entry> out;
  CAIRN_ASSERT(lo > offset_);
  CAIRN_ASSERT(hi <= last_index() + 1);
  std::uint64_t bytes = 0;
  for (log_index i = lo; i < hi; ++i) {
    const entry& e = at(i);
    bytes += payload_size(e);
    if (!out.empty() && bytes_max != 0 && bytes > bytes_max) break;
    out.push_back(e);
  }
  return out;
}

std::pair<log_index, term_t> raft_log::find_conflict_by_term(log_index index, term_t t) const {
  for (log_index i = index; i >= offset_; i = i - 1) {
    auto ti = term(i);
    if (!ti) break;
    if (*ti <= t) return {i, *ti};
    if (i == log_index{0}) break;
  }
  return {offset_, offset_term_};
}

void raft_log::commit_to(log_index i) {
  if (i <= committed_) return;
  CAIRN_ASSERT_MSG(i <= last_index(), "commit beyond the end of the log");
  committed_ = i;
}

bool raft_log::maybe_commit(log_index i, term_t t) {
  if (i > committed_ && match_term(i, t)) {
    commit_to(i);
    return true;
  }
  return false;
}

void raft_log::applied_to(log_index i) {
  if (i == log_index{0}) return;
  CAIRN_ASSERT(i <= committed_);
  CAIRN_ASSERT(i >= applied_);
  applied_ = i;
}

bool raft_log::has_next_committed() const {
  return committed_ > applied_;
}

std::vector<entry> raft_log::next_committed(std::uint64_t bytes_max) const {
  if (!has_next_committed()) return {};
  return slice(applied_ + 1, committed_ + 1, bytes_max);
}

std::vector<entry> raft_log::unstable_entries() const {
  if (!has_unstable()) return {};
  return slice(persisted_ + 1, last_index() + 1, 0);
}

void raft_log::stable_to(log_index i, term_t t) {
  if (i <= persisted_) return;
  if (!match_term(i, t)) return;
  persisted_ = i;
}

void raft_log::restore(const snapshot_metadata& meta) {
  entries_.clear();
  offset_ = meta.index;
  offset_term_ = meta.term;
  committed_ = meta.index;
  applied_ = meta.index;
  persisted_ = meta.index;
}

void raft_log::compact(log_index i) {
  if (i <= offset_) return;
  CAIRN_ASSERT_MSG(i <= applied_, "compacting unapplied entries");
  CAIRN_ASSERT_MSG(i <= persisted_, "compacting entries not yet persisted");
  const term_t t = *term(i);
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<long>(i.value - offset_.value));
  offset_ = i;
  offset_term_ = t;
}

void raft_log::load(std::vector<entry> ents, log_index commit, log_index snapshot_index) {
  entries_.clear();
  for (auto& e : ents) {
    CAIRN_ASSERT(e.index == last_index() + 1);
    entries_.push_back(std::move(e));
  }
  persisted_ = last_index();
  // The persisted commit index may exceed what survived (it is written
  // without fsync); never claim more than we hold.
  CAIRN_ASSERT(snapshot_index >= offset_ && snapshot_index <= last_index());
  committed_ = std::max(snapshot_index, std::min(commit, last_index()));
  applied_ = snapshot_index;
}

namespace {
bool expensive_checks_on = false;
}  // namespace

void raft_log::set_expensive_checks(bool on) {
  expensive_checks_on = on;
}
bool raft_log::expensive_checks() {
  return expensive_checks_on;
}

void raft_log::check_invariants() const {
  if (!entries_.empty()) {
    // L1 at both ends in constant time; append() and maybe_append() assert
    // contiguity of each addition.
    CAIRN_ASSERT_MSG(entries_.front().index == offset_ + 1, "L1 first entry after offset");
    CAIRN_ASSERT_MSG(entries_.back().index == offset_ + entries_.size(), "L1 last entry index");
    CAIRN_ASSERT_MSG(entries_.front().term >= offset_term_, "L2 first term below offset term");
  }
  if (expensive_checks_on) {
    term_t prev = offset_term_;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      CAIRN_ASSERT_MSG(entries_[i].index == offset_ + 1 + i, "L1 entries not contiguous");
      CAIRN_ASSERT_MSG(entries_[i].term >= prev, "L2 terms decrease");
      prev = entries_[i].term;
    }
  }
  CAIRN_ASSERT_MSG(offset_ <= applied_ && applied_ <= committed_ && committed_ <= last_index(),
                   "L3 offset <= applied <= committed <= last");
  CAIRN_ASSERT_MSG(persisted_ <= last_index() && persisted_ >= offset_, "L4 persisted in range");
}

}  // namespace cairn::raft
