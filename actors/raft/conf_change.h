// actors/raft/conf_change.h — applies membership changes to a tracker
// (joint consensus, Raft thesis §4.3, as in etcd's confchange package).
//
// Owner: the Raft core. Pure; works on a copy and returns an error string
// instead of changing anything when a change is not allowed.
//
// Rules:
//  C1. Entering a joint config requires not being in one; the outgoing half
//      becomes a copy of the current voters.
//  C2. A simple change alters the voter set by at most one node.
//  C3. Leaving a joint config turns learners_next into learners and drops
//      nodes that are in neither half nor learners.
//  C4. The incoming voter set is never empty.
//  C5. P4 of progress.h holds after every change.
#pragma once

#include <string>

#include "actors/raft/progress.h"

namespace cairn::raft {

class conf_changer {
 public:
  conf_changer(const progress_tracker& tracker, log_index last_index)
      : tracker_(tracker), last_index_(last_index) {}

  /// Each returns an empty string on success and the new tracker in `out`.
  std::string enter_joint(bool auto_leave, const std::vector<conf_change_single>& changes,
                          progress_tracker& out) const;
  std::string leave_joint(progress_tracker& out) const;
  std::string simple(const std::vector<conf_change_single>& changes, progress_tracker& out) const;

  /// Builds a tracker from a persisted configuration (restart, snapshot).
  static progress_tracker restore(const conf_state& cs, log_index last_index,
                                  std::size_t inflight_messages_max,
                                  std::uint64_t inflight_bytes_max);

 private:
  std::string apply(const std::vector<conf_change_single>& changes, progress_tracker& t) const;
  void make_voter(progress_tracker& t, node_id id) const;
  void make_learner(progress_tracker& t, node_id id) const;
  void remove(progress_tracker& t, node_id id) const;
  void init_progress(progress_tracker& t, node_id id, bool learner) const;
  static std::string check(const progress_tracker& t);

  const progress_tracker& tracker_;
  log_index last_index_;
};

}  // namespace cairn::raft
