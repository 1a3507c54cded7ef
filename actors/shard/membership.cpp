// actors/shard/membership.cpp — see membership.h.
#include "actors/shard/membership.h"

#include <algorithm>

namespace cairn::shard {

using namespace cairn::raft;

namespace {

bool contains(const std::vector<node_id>& v, node_id id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

conf_change single(conf_change_kind kind, node_id id) {
  conf_change cc;
  cc.changes.push_back(conf_change_single{kind, id});
  return cc;
}

}  // namespace

std::optional<membership_step> plan_membership_step(const core& c, const membership_target& target,
                                                    std::uint64_t lag_entries) {
  if (c.state() != role::leader) return std::nullopt;  // M1
  const status st = c.get_status();
  if (!st.conf.voters_outgoing.empty()) return std::nullopt;
  if (c.pending_conf_index() > st.applied) return std::nullopt;
  if (target.voters.empty()) return std::nullopt;  // refuse to plan an empty group

  const auto& voters = st.conf.voters;
  const auto& learners = st.conf.learners;
  auto member = [&](node_id id) { return contains(voters, id) || contains(learners, id); };
  auto caught_up = [&](node_id id) {
    auto it = c.tracker().nodes.find(id);
    if (it == c.tracker().nodes.end()) return false;
    const progress& pr = it->second;
    return pr.state == progress_state::replicate &&
           pr.match.value + lag_entries >= st.last_index.value;
  };

  // 1. Every wanted node joins as a learner first.
  for (node_id id : target.voters)
    if (!member(id))
      return membership_step{single(conf_change_kind::add_learner, id),
                             "add node " + std::to_string(id.value) + " as a learner"};
  for (node_id id : target.learners)
    if (!member(id))
      return membership_step{single(conf_change_kind::add_learner, id),
                             "add node " + std::to_string(id.value) + " as a learner"};

  // 2. Promote caught-up learners (M2); swap out an unwanted voter in the
  //    same joint change so the group keeps its size.
  std::vector<node_id> unwanted_voters;
  for (node_id id : voters)
    if (!contains(target.voters, id)) unwanted_voters.push_back(id);
  for (node_id id : learners) {
    if (!contains(target.voters, id) || !caught_up(id)) continue;
    conf_change cc = single(conf_change_kind::add_voter, id);
    std::string why = "promote caught-up learner " + std::to_string(id.value);
    if (!unwanted_voters.empty()) {
      const node_id out = unwanted_voters.front();
      const auto kind = contains(target.learners, out) ? conf_change_kind::add_learner
                                                       : conf_change_kind::remove_node;
      cc.changes.push_back(conf_change_single{kind, out});
      why += kind == conf_change_kind::remove_node ? " and remove voter " : " and demote voter ";
      why += std::to_string(out.value);
    }
    return membership_step{std::move(cc), std::move(why)};
  }

  // 3. Remove (or demote) unwanted voters once every wanted voter is one
  //    (M3), never the last voter.
  const bool all_target_voters_in = std::all_of(target.voters.begin(), target.voters.end(),
                                                [&](node_id id) { return contains(voters, id); });
  if (all_target_voters_in && !unwanted_voters.empty() && voters.size() > 1) {
    const node_id out = unwanted_voters.front();
    if (contains(target.learners, out))
      return membership_step{single(conf_change_kind::add_learner, out),
                             "demote voter " + std::to_string(out.value) + " to learner"};
    return membership_step{single(conf_change_kind::remove_node, out),
                           "remove voter " + std::to_string(out.value)};
  }

  // 4. Learners nobody wants.
  for (node_id id : learners)
    if (!contains(target.voters, id) && !contains(target.learners, id))
      return membership_step{single(conf_change_kind::remove_node, id),
                             "remove learner " + std::to_string(id.value)};
  return std::nullopt;
}

}  // namespace cairn::shard
