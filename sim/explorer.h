// sim/explorer.h — exhaustive, bounded exploration of every interleaving of
// a small cluster of pure Raft cores, checking the Raft paper's safety
// properties (Figure 3) on every state reached.
//
// Owner: tests (tests/sim/explorer_test.cpp) and whoever runs a soak. A
// harness, not a product; single-threaded. While explore() runs it installs
// an assertion handler (actors/common/assert.h) that turns a failed core
// assertion into a reported violation, and restores the previous handler
// when it returns.
//
// Model (what one transition is):
//  - deliver(m): one copy of an in-flight message m is stepped into m.to;
//  - drop(m): one copy of an in-flight message is lost;
//  - timeout(i): node i (follower, pre-candidate or candidate) is ticked
//    until its election timer fires, i.e. until its role or term changes or
//    it has something to send (bounded by 2 * election_timeout_ticks + 1
//    ticks). Time is abstracted: a tick that fires no timer changes nothing
//    observable, so only the firing is a transition. Because a follower's
//    timer is only ever run to completion, its hidden election_elapsed
//    counter is 0 at every state boundary and the randomized timeout (the
//    core's only use of its RNG) cannot change what happens, only how many
//    ticks it takes;
//  - expire_lease(i) (option model_lease_expiry): a follower that knows a
//    leader is ticked election_timeout_ticks times without campaigning, so
//    that it grants (pre-)votes again (leader stickiness, thesis §4.2.3,
//    no longer holds). If those ticks made it campaign the action is
//    discarded (timeout(i) covers it). The harness tracks the "lease
//    expired" bit and clears it when the core would reset its timer;
//  - heartbeat(i): the leader i ticks once (heartbeat_interval_ticks is 1,
//    so it broadcasts heartbeats; every election_timeout_ticks-th tick it
//    also runs check-quorum and may step down). The harness tracks the
//    leader's tick count modulo election_timeout_ticks as part of the state;
//  - propose(i): a client proposal at leader i (at most
//    client_entries_max over the whole run);
//  - restart(i) (only when restarts_max > 0): node i crashes and restarts
//    from what it persisted (its applied state machine is rebuilt).
// After every transition each node's Ready is carried out at once: persist
// to sim::memory_storage, messages into the in-flight multiset, committed
// entries applied, advance().
//
// Bounds: states in which a node's term exceeds term_max, or with more than
// in_flight_messages_max messages in flight, are checked but not expanded.
// The in-flight multiset is what makes the space large (every sub-multiset
// of what was sent is reachable through drops): term <= 1 with no client
// entry and 2 messages in flight is already ~50 thousand states, term <= 2
// ~1.5 million. Most useful runs are therefore truncated by states_max;
// breadth-first order (the default) makes a truncated run mean "every
// interleaving of up to exhaustive_depth actions", and finds the shortest
// path to a violation.
//
// Reductions (each exact, or losing coverage only):
//  - symmetry: states equal up to renaming the nodes are one state (the
//    core treats ids symmetrically; the RNG only drives timers, which the
//    timeout abstraction makes irrelevant);
//  - dead messages: a stale response or vote that the receiver would ignore
//    without answering is discarded at once, since delivering it and
//    losing it are the same transition and terms never go back.
//
// States are deduplicated by a 64-bit hash of a canonical serialisation of:
// per node the hard state, role, known leader, log (index, term, type,
// payload), commit, applied, the leader's per-peer progress (match, next,
// state, paused, in-flight count, recent-active), a (pre-)candidate's vote
// tally, and the harness's timer bits; the in-flight messages as a sorted
// multiset; the proposal/restart/forgery counters; and the history
// variables the checkers use (leader per term, entries ever committed).
// Core state outside that list (e.g. which voter a tally came from) is
// treated as equal, so two states that differ only there are merged:
// merging can only lose coverage, never report a false violation, because
// the explorer always continues from a real execution and a reported path
// replays exactly. A 64-bit hash collision would also only lose coverage
// (about 1e-7 probability at 2 million states).
//
// Invariants checked on every state (numbers follow the Raft paper):
//  I1. ElectionSafety: at most one leader per term, over the whole history.
//  I2. LogMatching: two logs with an entry of the same index and term are
//      identical up to that index.
//  I3. LeaderCompleteness: an entry observed committed by any node while
//      that node was in term T is in the log of every leader of a term > T.
//  I4. StateMachineSafety: entries ever committed at one index agree, and
//      the applied sequences of all nodes are prefixes of each other.
//  I5. LeaderAppendOnly: a leader that stays leader in its term only
//      appends to its log.
//  I6. MonotonicTerm and MonotonicCommit per node along every transition.
//  I7. applied <= committed; the harness's applied sequence equals the log
//      prefix up to applied; storage holds what the core considers durable.
//  I8. No core assertion (R1-R6, L1-L4, P1-P4) fails.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/raft/types.h"

namespace cairn::sim {

/// Deliberate breakage of the model, so that tests can show the checkers
/// catch real violations (a checker that never fires proves nothing).
enum class explorer_mutation : std::uint8_t {
  none,
  /// restart(i) loses the node's persisted vote: it may vote twice in a
  /// term. Needs restarts_max > 0.
  forget_vote_on_restart,
  /// forge_ack(i, j): the harness forges an append_response from follower
  /// j to leader i acknowledging i's whole log, so i commits without a
  /// quorum. At most once per run.
  forge_append_ack,
};

enum class explorer_search : std::uint8_t {
  /// Stop at the first violation (tests).
  stop_at_first_violation,
  /// Count every violating transition but keep exploring (soaks).
  continue_after_violation,
};

enum class explorer_order : std::uint8_t {
  /// Every state at depth d before any at depth d+1: a bounded run covers
  /// all short interleavings and reports shortest violating paths. Keeps
  /// the frontier in memory (copy-on-write, ~1-4 KiB per state).
  breadth_first,
  /// Memory proportional to the path length; a bounded run covers a deep,
  /// narrow corner of the space.
  depth_first,
};

struct explorer_options {
  std::uint64_t replicas = 3;
  /// States in which some node's term exceeds this are not explored.
  raft::term_t term_max{3};
  std::uint64_t client_entries_max = 2;
  /// States with more messages in flight than this are not explored.
  std::size_t in_flight_messages_max = 6;
  /// Bound on distinct states; exploration stops when reached.
  std::uint64_t states_max = 2'000'000;
  /// Bound on path length. States at this depth are checked but not
  /// expanded; depth-first expands a state only the first time it is seen,
  /// so there this bound also hides states reachable by shorter paths.
  /// Hitting it makes the search incomplete, and the report says so.
  std::size_t depth_max = 50'000;
  std::uint64_t restarts_max = 0;
  bool model_lease_expiry = true;
  /// Treat states that differ only by a renaming of the nodes as one
  /// (up to replicas! fewer states). Sound because the core treats node
  /// ids symmetrically; see the file comment.
  bool symmetry_reduction = true;
  /// Discard a message as soon as its delivery can no longer change
  /// anything (a stale response or vote that the receiver would ignore):
  /// delivering it and losing it are then the same transition.
  bool discard_dead_messages = true;
  /// Core configuration under test.
  bool pre_vote = true;
  bool check_quorum = true;
  /// The core requires > heartbeat_interval_ticks (1). Small values make
  /// check-quorum step-downs reachable in few transitions.
  std::uint64_t election_timeout_ticks = 2;
  /// Append window per follower; small to keep copies cheap.
  std::size_t inflight_append_messages_max = 4;
  explorer_mutation mutation = explorer_mutation::none;
  explorer_search search = explorer_search::stop_at_first_violation;
  explorer_order order = explorer_order::breadth_first;
};

struct explorer_violation {
  /// Name of the broken invariant (e.g. "ElectionSafety").
  std::string invariant;
  std::string detail;
  /// Actions from the initial state; the last one produced the violation.
  std::vector<std::string> path;
  /// Each node's state after the last action.
  std::string final_state;
};

struct explorer_report {
  std::uint64_t distinct_states = 0;
  /// Successor states computed (including pruned and already seen ones).
  std::uint64_t transitions = 0;
  std::uint64_t pruned_by_term = 0;
  std::uint64_t pruned_by_in_flight = 0;
  std::uint64_t pruned_by_depth = 0;
  std::size_t deepest_path = 0;
  /// Every state reachable (within the term and in-flight bounds) in at
  /// most this many transitions was checked. Breadth-first: the depth
  /// being expanded when a bound stopped the search; depth-first: 0 unless
  /// the search completed.
  std::size_t exhaustive_depth = 0;
  bool states_max_hit = false;
  bool depth_max_hit = false;
  std::uint64_t violations = 0;
  /// The first violation found, if any.
  std::optional<explorer_violation> first_violation;

  bool complete() const { return !states_max_hit && !depth_max_hit; }
  /// A multi-line human summary (counts, bounds hit, the violation path).
  std::string summary() const;
};

/// Explores every interleaving reachable within the bounds.
explorer_report explore(const explorer_options& options);

const char* to_string(explorer_mutation m);

}  // namespace cairn::sim
