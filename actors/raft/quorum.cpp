// actors/raft/quorum.cpp — see quorum.h.
#include "actors/raft/quorum.h"

#include <algorithm>
#include <limits>

namespace cairn::raft {

majority_config::majority_config(std::vector<node_id> ids) : ids_(std::move(ids)) {
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

bool majority_config::contains(node_id id) const {
  return std::binary_search(ids_.begin(), ids_.end(), id);
}

void majority_config::insert(node_id id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) ids_.insert(it, id);
}

void majority_config::erase(node_id id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it != ids_.end() && *it == id) ids_.erase(it);
}

log_index majority_config::committed_index(const ack_lookup& acked) const {
  if (ids_.empty()) return log_index{std::numeric_limits<std::uint64_t>::max()};
  // Small groups: a stack buffer would do, but n <= 7 in practice and a
  // vector keeps the code obvious.
  std::vector<log_index> indexes;
  indexes.reserve(ids_.size());
  for (auto id : ids_) {
    log_index idx{0};
    if (!acked(id, idx)) idx = log_index{0};
    indexes.push_back(idx);
  }
  std::sort(indexes.begin(), indexes.end());
  // With n sorted ascending, the element at n - (n/2 + 1) is acknowledged
  // by at least n/2 + 1 voters.
  const std::size_t n = indexes.size();
  return indexes[n - (n / 2 + 1)];
}

vote_result majority_config::vote(const std::function<std::optional<bool>(node_id)>& votes) const {
  if (ids_.empty()) return vote_result::won;
  std::size_t granted = 0, rejected = 0, missing = 0;
  for (auto id : ids_) {
    auto v = votes(id);
    if (!v) {
      ++missing;
    } else if (*v) {
      ++granted;
    } else {
      ++rejected;
    }
  }
  const std::size_t q = ids_.size() / 2 + 1;
  if (granted >= q) return vote_result::won;
  if (granted + missing >= q) return vote_result::pending;
  return vote_result::lost;
}

std::vector<node_id> joint_config::ids() const {
  std::vector<node_id> out = incoming.ids();
  for (auto id : outgoing.ids()) out.push_back(id);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

log_index joint_config::committed_index(const ack_lookup& acked) const {
  return std::min(incoming.committed_index(acked), outgoing.committed_index(acked));
}

vote_result joint_config::vote(const std::function<std::optional<bool>(node_id)>& votes) const {
  auto a = incoming.vote(votes);
  auto b = outgoing.vote(votes);
  if (a == b) return a;
  if (a == vote_result::lost || b == vote_result::lost) return vote_result::lost;
  return vote_result::pending;
}

}  // namespace cairn::raft
