// actors/raft/progress.cpp — see progress.h.
#include "actors/raft/progress.h"

#include <algorithm>

#include "actors/common/assert.h"

namespace cairn::raft {

inflights::inflights(std::size_t messages_max, std::uint64_t bytes_max)
    : ring_(messages_max), messages_max_(messages_max), bytes_max_(bytes_max) {
  CAIRN_ASSERT(messages_max > 0);
}

void inflights::add(log_index last_index, std::uint64_t bytes) {
  CAIRN_ASSERT(count_ < messages_max_);
  std::size_t pos = (start_ + count_) % messages_max_;
  ring_[pos] = slot{last_index, bytes};
  ++count_;
  bytes_ += bytes;
}

void inflights::free_le(log_index to) {
  while (count_ > 0 && ring_[start_].last <= to) {
    bytes_ -= ring_[start_].bytes;
    start_ = (start_ + 1) % messages_max_;
    --count_;
  }
  if (count_ == 0) start_ = 0;
}

void inflights::free_first_one() {
  if (count_ == 0) return;
  bytes_ -= ring_[start_].bytes;
  start_ = (start_ + 1) % messages_max_;
  --count_;
  if (count_ == 0) start_ = 0;
}

void inflights::reset() {
  start_ = 0;
  count_ = 0;
  bytes_ = 0;
}

bool inflights::full() const {
  return count_ == messages_max_ || (bytes_max_ != 0 && bytes_ >= bytes_max_);
}

const char* to_string(progress_state s) {
  switch (s) {
    case progress_state::probe:
      return "probe";
    case progress_state::replicate:
      return "replicate";
    case progress_state::snapshot:
      return "snapshot";
  }
  return "?";
}

void progress::become_probe() {
  // After a snapshot, the follower has at least the snapshot: resume from
  // just past it rather than from match.
  if (state == progress_state::snapshot) {
    log_index pending = pending_snapshot;
    state = progress_state::probe;
    next = std::max(match + 1, pending + 1);
  } else {
    state = progress_state::probe;
    next = match + 1;
  }
  msg_app_flow_paused = false;
  pending_snapshot = log_index{0};
  inflight.reset();
}

void progress::become_replicate() {
  state = progress_state::replicate;
  next = match + 1;
  msg_app_flow_paused = false;
  pending_snapshot = log_index{0};
  inflight.reset();
}

void progress::become_snapshot(log_index snapshot_index) {
  state = progress_state::snapshot;
  msg_app_flow_paused = false;
  pending_snapshot = snapshot_index;
  snapshot_elapsed_ticks = 0;
  inflight.reset();
}

void progress::sent_entries(std::size_t count, std::uint64_t bytes, log_index last) {
  switch (state) {
    case progress_state::replicate:
      if (count > 0) {
        next = last + 1;
        inflight.add(last, bytes);
      }
      msg_app_flow_paused = inflight.full();
      break;
    case progress_state::probe:
      // One probe per heartbeat round, whether or not it carried entries.
      msg_app_flow_paused = true;
      break;
    case progress_state::snapshot:
      CAIRN_ASSERT_MSG(false, "sending entries to a follower in snapshot state");
  }
}

bool progress::maybe_update(log_index n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    msg_app_flow_paused = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool progress::maybe_decrease_to(log_index rejected, log_index hint) {
  if (state == progress_state::replicate) {
    // Stale rejection: we already know the follower matches past it.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // Probe: only the rejection of the latest probe counts.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, hint + 1), match + 1);
  if (next < log_index{1}) next = log_index{1};
  msg_app_flow_paused = false;
  return true;
}

bool progress::is_paused() const {
  switch (state) {
    case progress_state::probe:
      return msg_app_flow_paused;
    case progress_state::replicate:
      return msg_app_flow_paused;
    case progress_state::snapshot:
      return true;
  }
  return true;
}

progress_tracker::progress_tracker(std::size_t inflight_messages_max,
                                   std::uint64_t inflight_bytes_max)
    : inflight_messages_max_(inflight_messages_max), inflight_bytes_max_(inflight_bytes_max) {}

conf_state progress_tracker::to_conf_state() const {
  conf_state cs;
  cs.voters = voters.incoming.ids();
  cs.voters_outgoing = voters.outgoing.ids();
  cs.learners = learners;
  cs.learners_next = learners_next;
  cs.auto_leave = auto_leave;
  return cs;
}

bool progress_tracker::is_learner(node_id id) const {
  return std::binary_search(learners.begin(), learners.end(), id);
}

bool progress_tracker::is_singleton() const {
  return voters.incoming.size() == 1 && voters.outgoing.empty();
}

log_index progress_tracker::committed() const {
  return voters.committed_index([this](node_id id, log_index& out) {
    auto it = nodes.find(id);
    if (it == nodes.end()) return false;
    out = it->second.match;
    return true;
  });
}

bool progress_tracker::quorum_active() const {
  auto result = voters.vote([this](node_id id) -> std::optional<bool> {
    auto it = nodes.find(id);
    if (it == nodes.end()) return std::nullopt;
    return it->second.recent_active;
  });
  return result == vote_result::won;
}

void progress_tracker::record_vote(node_id id, bool granted) {
  votes_.emplace(id, granted);  // first answer wins
}

vote_result progress_tracker::tally(std::size_t* granted, std::size_t* rejected) const {
  std::size_t g = 0, r = 0;
  for (auto id : voters.ids()) {
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    (it->second ? g : r)++;
  }
  if (granted) *granted = g;
  if (rejected) *rejected = r;
  return voters.vote([this](node_id id) -> std::optional<bool> {
    auto it = votes_.find(id);
    if (it == votes_.end()) return std::nullopt;
    return it->second;
  });
}

}  // namespace cairn::raft
