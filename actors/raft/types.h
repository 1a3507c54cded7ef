// actors/raft/types.h — value types of the pure Raft core.
//
// Owner: the Raft core (actors/raft). Plain values, no behaviour beyond
// comparison; safe to copy between threads once constructed.
//
// Strong types keep terms, log indexes and node ids from being mixed up:
// `term_t{3} == log_index{3}` does not compile.
#pragma once

#include <compare>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cairn::raft {

/// A 64-bit unsigned value with a tag so that different meanings do not mix.
/// Arithmetic with plain integers is allowed (index + 1), arithmetic between
/// two strong values is not.
template <class Tag>
struct strong_u64 {
  std::uint64_t value = 0;

  constexpr strong_u64() = default;
  constexpr explicit strong_u64(std::uint64_t v) : value(v) {}

  friend constexpr auto operator<=>(strong_u64, strong_u64) = default;
  friend constexpr strong_u64 operator+(strong_u64 a, std::uint64_t n) {
    return strong_u64{a.value + n};
  }
  friend constexpr strong_u64 operator-(strong_u64 a, std::uint64_t n) {
    return strong_u64{a.value - n};
  }
  constexpr strong_u64& operator++() {
    ++value;
    return *this;
  }
};

struct term_tag {};
struct index_tag {};

using term_t = strong_u64<term_tag>;
using log_index = strong_u64<index_tag>;

/// Largest index and term accepted from the wire: far beyond any real log
/// (2^62 entries), and far enough from 2^64 that `+ n` cannot overflow.
inline constexpr log_index index_max{std::uint64_t{1} << 62};
inline constexpr term_t term_max{std::uint64_t{1} << 62};

/// A replica's identity inside one Raft group. 0 means "none".
struct node_id {
  std::uint64_t value = 0;
  constexpr node_id() = default;
  constexpr explicit node_id(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(node_id, node_id) = default;
  constexpr bool is_none() const { return value == 0; }
};

inline constexpr node_id no_node{};

/// Bytes. std::string is used as a byte container: it is compact, has SSO
/// for tiny payloads and is what Cap'n Proto's Data converts to cheaply.
using bytes = std::string;

/// Immutable bytes shared by reference: an entry's payload is copied into
/// the log, the Ready, every follower's append and the apply queue, and
/// each copy is a reference count, not a memcpy. Thread-compatible (the
/// count is atomic; the bytes never change).
class shared_bytes {
 public:
  shared_bytes() = default;
  shared_bytes(std::string s)  // NOLINT: implicit, a payload is bytes
      : p_(s.empty() ? nullptr : std::make_shared<const std::string>(std::move(s))) {}
  shared_bytes(const char* s) : shared_bytes(std::string(s)) {}  // NOLINT

  const std::string& str() const { return p_ ? *p_ : empty_string(); }
  operator const std::string&() const { return str(); }  // NOLINT
  std::size_t size() const { return p_ ? p_->size() : 0; }
  bool empty() const { return size() == 0; }
  const char* data() const { return str().data(); }

  friend bool operator==(const shared_bytes& a, const shared_bytes& b) {
    return a.p_ == b.p_ || a.str() == b.str();
  }
  friend bool operator==(const shared_bytes& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const shared_bytes& a, const char* b) { return a.str() == b; }

 private:
  static const std::string& empty_string() {
    static const std::string empty;
    return empty;
  }
  std::shared_ptr<const std::string> p_;
};

/// For test output; defined outside the core (sim/core_cluster.cpp).
std::ostream& operator<<(std::ostream& os, const shared_bytes& b);

enum class entry_type : std::uint8_t {
  normal = 0,
  conf_change = 1,
};

struct entry {
  term_t term;
  log_index index;
  entry_type type = entry_type::normal;
  shared_bytes data;

  friend bool operator==(const entry&, const entry&) = default;
};

/// Bytes an entry counts for against size limits (payload only, as in etcd).
inline std::uint64_t payload_size(const entry& e) {
  return e.data.size();
}

/// The persistent state every replica writes before answering.
struct hard_state {
  term_t term;
  node_id vote;
  log_index commit;
  friend bool operator==(const hard_state&, const hard_state&) = default;
};

enum class role : std::uint8_t { follower, pre_candidate, candidate, leader };

const char* to_string(role r);

/// Volatile state that hosts like to observe (metrics, routing).
struct soft_state {
  node_id leader;
  role state = role::follower;
  friend bool operator==(const soft_state&, const soft_state&) = default;
};

/// Membership. During a joint configuration, `voters_outgoing` is non-empty
/// and decisions need majorities of both `voters` and `voters_outgoing`.
struct conf_state {
  std::vector<node_id> voters;
  std::vector<node_id> voters_outgoing;
  std::vector<node_id> learners;
  /// Voters of the outgoing config that become learners when the joint
  /// config is left (a demotion in one step).
  std::vector<node_id> learners_next;
  bool auto_leave = false;
  friend bool operator==(const conf_state&, const conf_state&) = default;
};

struct snapshot_metadata {
  log_index index;
  term_t term;
  conf_state conf;
  friend bool operator==(const snapshot_metadata&, const snapshot_metadata&) = default;
};

struct snapshot {
  snapshot_metadata metadata;
  shared_bytes data;
  bool empty() const { return metadata.index == log_index{0}; }
  friend bool operator==(const snapshot&, const snapshot&) = default;
};

enum class conf_change_kind : std::uint8_t {
  add_voter = 0,
  add_learner = 1,
  remove_node = 2,
};

struct conf_change_single {
  conf_change_kind kind = conf_change_kind::add_voter;
  node_id node;
  friend bool operator==(const conf_change_single&, const conf_change_single&) = default;
};

enum class conf_change_transition : std::uint8_t {
  /// One change: simple; several: joint, left automatically.
  automatic = 0,
  /// Joint, left automatically once committed.
  joint_implicit = 1,
  /// Joint, left only by an explicit empty conf change.
  joint_explicit = 2,
};

/// A membership change (etcd's ConfChangeV2). An empty `changes` list means
/// "leave the joint configuration".
struct conf_change {
  conf_change_transition transition = conf_change_transition::automatic;
  std::vector<conf_change_single> changes;
  bytes context;
  bool leaves_joint() const { return changes.empty(); }
  friend bool operator==(const conf_change&, const conf_change&) = default;
};

enum class message_type : std::uint8_t {
  append = 0,           // leader -> follower: entries + commit
  append_response = 1,  // follower -> leader
  vote = 2,             // candidate -> all
  vote_response = 3,
  pre_vote = 4,  // pre-candidate -> all, term not bumped
  pre_vote_response = 5,
  heartbeat = 6,  // leader -> follower: commit, read context
  heartbeat_response = 7,
  install_snapshot = 8,  // leader -> follower
  timeout_now = 9,       // leader -> transferee: campaign now
  read_index = 10,       // follower -> leader: forwarded ReadIndex
  read_index_response = 11,
  propose = 12,          // follower -> leader: forwarded proposal
  transfer_leader = 13,  // follower -> leader: forwarded transfer request
};

inline constexpr std::uint8_t message_type_max = 13;

const char* to_string(message_type t);

/// One Raft message between replicas of a group. Which fields mean
/// something depends on `type`; docs/raft.md has the table.
struct message {
  message_type type = message_type::append;
  node_id from;
  node_id to;
  term_t term;
  /// append: term of the entry at `index` (prev log term).
  /// vote/pre_vote: candidate's last log term.
  term_t log_term;
  /// append: index preceding `entries`; append_response: last matched
  /// (or rejected) index; vote: candidate's last index.
  log_index index;
  std::vector<entry> entries;
  log_index commit;
  bool reject = false;
  /// append_response with reject: the follower's hint of where to retry.
  log_index reject_hint;
  /// Used with reject_hint: term of the follower's entry at reject_hint.
  term_t hint_term;
  /// heartbeat(+response), read_index(+response): the read request id.
  bytes context;
  std::optional<snapshot> snap;

  friend bool operator==(const message&, const message&) = default;
};

/// A message that the core wants sent, and what must be durable first.
struct outbound_message {
  message msg;
  /// The local log must be durable up to this index before sending.
  /// 0 when the message does not depend on local log writes.
  log_index wait_for_persisted_index;
  /// The hard state of the same Ready must be durable before sending
  /// (votes, responses that reveal a new term).
  bool wait_for_hard_state = false;
};

/// Answer to a ReadIndex request: reads with `context` may be served once
/// the local state machine has applied `index`.
struct read_state {
  log_index index;
  bytes context;
  friend bool operator==(const read_state&, const read_state&) = default;
};

}  // namespace cairn::raft
