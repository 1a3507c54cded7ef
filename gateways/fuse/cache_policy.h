// gateways/fuse/cache_policy.h — which chunks the FUSE client's two-tier
// cache keeps (ADR 0009 §5): L1 (plaintext in memory) and L2 (sealed
// shards in a local directory), each bounded by bytes, content-addressed
// by chunk id, LRU within a tier, with pinned (staged) entries that are
// never evicted. Pure: it decides and accounts; the caller moves the bytes
// (it reads, writes and deletes cache files and memory) and tells it what
// happened.
//
// Owner: the mount's cache actor (issue 7); one per mount.
//
// Invariants (check() verifies them; the property test runs it after
// every step):
//  CC1. A tier's bytes never exceed its bound once admit() has returned,
//       counting the evictions it asked for as done.
//  CC2. A pinned entry is never chosen for eviction; pinned bytes of L2
//       never exceed L2's bound (a pin that would is refused).
//  CC3. Within a tier, evictions take the least recently used unpinned
//       entries first.
//  CC4. A tier's byte count is the sum of its entries' sizes.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cairn::fuse {

using chunk_id = std::array<std::uint8_t, 32>;

enum class cache_tier : std::uint8_t { l1, l2 };

enum class cache_mode : std::uint8_t {
  organic,  // LRU over both tiers
  pinned,   // staged chunks stay; others as organic
  bypass,   // nothing is kept
};

struct cache_bounds {
  std::uint64_t l1_bytes = 0;
  std::uint64_t l2_bytes = 0;
};

/// What admit() decided.
struct admission {
  bool admitted = false;
  /// The entries the caller must drop first (from the admitted tier).
  std::vector<chunk_id> evict;
  /// Why it was refused (for a stage's error message), or "".
  std::string refused;
};

struct tier_stats {
  std::uint64_t entries = 0, bytes = 0, bound = 0;
  std::uint64_t pinned_entries = 0, pinned_bytes = 0;
  std::uint64_t hits = 0, misses = 0, evictions = 0, admissions = 0, refusals = 0;
};

class cache_policy {
 public:
  cache_policy(cache_mode mode, cache_bounds bounds);

  cache_mode mode() const { return mode_; }

  /// Looks `id` up in `tier`: true (and now most recently used) if it is
  /// there. Counts a hit or a miss.
  bool lookup(cache_tier tier, const chunk_id& id);

  /// Makes room for `bytes` of `id` in `tier` and records it, pinned or
  /// not (`pin` only in pinned mode, and only in L2). Refused when the
  /// mode is bypass, the entry is larger than the tier, or the tier's
  /// pinned bytes leave no room (CC2). An entry already there is touched
  /// (and pinned if asked) instead.
  admission admit(cache_tier tier, const chunk_id& id, std::uint64_t bytes, bool pin = false);

  /// The entry is gone from `tier` (its file vanished, it failed to
  /// authenticate, or the caller dropped it).
  void forget(cache_tier tier, const chunk_id& id);

  /// L2's directory is full although its bound is not reached (ENOSPC):
  /// the unpinned entries to delete, least recently used first, to free at
  /// least `bytes`. They count as evicted.
  std::vector<chunk_id> make_room(cache_tier tier, std::uint64_t bytes);

  /// Unpins every entry (`cairn stage --release`): they stay, as organic.
  void release_pins();

  bool contains(cache_tier tier, const chunk_id& id) const;
  bool pinned(const chunk_id& id) const;
  tier_stats stats(cache_tier tier) const;

  /// Aborts naming the invariant that does not hold.
  void check() const;

 private:
  struct entry {
    std::uint64_t bytes = 0;
    bool pinned = false;
    std::list<chunk_id>::iterator at;  // in the tier's recency list
  };
  struct tier_state {
    std::uint64_t bound = 0, bytes = 0, pinned_bytes = 0;
    std::list<chunk_id> recency;  // front: most recently used
    std::map<chunk_id, entry> entries;
    tier_stats counters;
  };
  tier_state& state(cache_tier t) { return t == cache_tier::l1 ? l1_ : l2_; }
  const tier_state& state(cache_tier t) const { return t == cache_tier::l1 ? l1_ : l2_; }
  void drop(tier_state& s, std::map<chunk_id, entry>::iterator it);

  cache_mode mode_;
  tier_state l1_, l2_;
};

}  // namespace cairn::fuse
