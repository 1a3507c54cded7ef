// gateways/fuse/cache_policy.cpp — see cache_policy.h. Pinned entries are
// kept out of the recency list, so an eviction never walks past them (CC2,
// CC3 in O(1) per victim).
#include "gateways/fuse/cache_policy.h"

#include <cstdio>
#include <cstdlib>

namespace cairn::fuse {

namespace {
[[noreturn]] void broken(const char* invariant, const char* what) {
  std::fprintf(stderr, "cache_policy: %s broken: %s\n", invariant, what);
  std::abort();
}
}  // namespace

cache_policy::cache_policy(cache_mode mode, cache_bounds bounds) : mode_(mode) {
  l1_.bound = l1_.counters.bound = bounds.l1_bytes;
  l2_.bound = l2_.counters.bound = bounds.l2_bytes;
}

bool cache_policy::lookup(cache_tier tier, const chunk_id& id) {
  auto& s = state(tier);
  const auto it = s.entries.find(id);
  if (it == s.entries.end()) {
    ++s.counters.misses;
    return false;
  }
  ++s.counters.hits;
  if (!it->second.pinned) s.recency.splice(s.recency.begin(), s.recency, it->second.at);
  return true;
}

void cache_policy::drop(tier_state& s, std::map<chunk_id, entry>::iterator it) {
  s.bytes -= it->second.bytes;
  if (it->second.pinned)
    s.pinned_bytes -= it->second.bytes;
  else
    s.recency.erase(it->second.at);
  s.entries.erase(it);
}

admission cache_policy::admit(cache_tier tier, const chunk_id& id, std::uint64_t bytes, bool pin) {
  auto& s = state(tier);
  admission out;
  auto refuse = [&](std::string why) {
    ++s.counters.refusals;
    out.refused = std::move(why);
    return out;
  };
  if (mode_ == cache_mode::bypass) return refuse("the cache is in bypass mode");
  pin = pin && mode_ == cache_mode::pinned && tier == cache_tier::l2;
  if (const auto it = s.entries.find(id); it != s.entries.end()) {
    auto& e = it->second;
    if (pin && !e.pinned) {
      if (s.pinned_bytes + e.bytes > s.bound)
        return refuse("pinned chunks fill the cache: " +
                      std::to_string(s.pinned_bytes + e.bytes - s.bound) + " more bytes needed");
      s.recency.erase(e.at);
      e.at = s.recency.end();
      e.pinned = true;
      s.pinned_bytes += e.bytes;
    } else if (!e.pinned) {
      s.recency.splice(s.recency.begin(), s.recency, e.at);
    }
    out.admitted = true;
    return out;
  }
  if (bytes > s.bound)
    return refuse("a chunk of " + std::to_string(bytes) + " bytes is larger than the cache (" +
                  std::to_string(s.bound) + " bytes)");
  if (s.pinned_bytes + bytes > s.bound)
    return refuse("pinned chunks fill the cache: " +
                  std::to_string(s.pinned_bytes + bytes - s.bound) + " more bytes needed");
  // CC3: the least recently used unpinned entries go first; there are
  // enough of them, since pinned bytes + this one fit.
  while (s.bytes + bytes > s.bound) {
    const auto victim = s.entries.find(s.recency.back());
    out.evict.push_back(victim->first);
    drop(s, victim);
    ++s.counters.evictions;
  }
  entry e;
  e.bytes = bytes;
  e.pinned = pin;
  if (pin) {
    e.at = s.recency.end();
    s.pinned_bytes += bytes;
  } else {
    s.recency.push_front(id);
    e.at = s.recency.begin();
  }
  s.entries.emplace(id, e);
  s.bytes += bytes;
  ++s.counters.admissions;
  out.admitted = true;
  return out;
}

void cache_policy::forget(cache_tier tier, const chunk_id& id) {
  auto& s = state(tier);
  if (const auto it = s.entries.find(id); it != s.entries.end()) drop(s, it);
}

std::vector<chunk_id> cache_policy::make_room(cache_tier tier, std::uint64_t bytes) {
  auto& s = state(tier);
  std::vector<chunk_id> out;
  std::uint64_t freed = 0;
  while (freed < bytes && !s.recency.empty()) {
    const auto victim = s.entries.find(s.recency.back());
    freed += victim->second.bytes;
    out.push_back(victim->first);
    drop(s, victim);
    ++s.counters.evictions;
  }
  return out;
}

void cache_policy::release_pins() {
  for (auto* s : {&l1_, &l2_}) {
    for (auto& [id, e] : s->entries) {
      if (!e.pinned) continue;
      e.pinned = false;
      s->recency.push_front(id);  // recently staged: the last to go
      e.at = s->recency.begin();
    }
    s->pinned_bytes = 0;
  }
}

bool cache_policy::contains(cache_tier tier, const chunk_id& id) const {
  return state(tier).entries.count(id) != 0;
}

bool cache_policy::pinned(const chunk_id& id) const {
  const auto it = l2_.entries.find(id);
  return it != l2_.entries.end() && it->second.pinned;
}

tier_stats cache_policy::stats(cache_tier tier) const {
  const auto& s = state(tier);
  tier_stats out = s.counters;
  out.entries = s.entries.size();
  out.bytes = s.bytes;
  out.bound = s.bound;
  out.pinned_bytes = s.pinned_bytes;
  out.pinned_entries = s.entries.size() - s.recency.size();
  return out;
}

void cache_policy::check() const {
  for (const auto* s : {&l1_, &l2_}) {
    std::uint64_t bytes = 0, pinned_bytes = 0, unpinned = 0;
    for (const auto& [id, e] : s->entries) {
      bytes += e.bytes;
      if (e.pinned) {
        pinned_bytes += e.bytes;
      } else {
        ++unpinned;
        if (e.at == s->recency.end() || *e.at != id) broken("CC3", "a recency position is wrong");
      }
    }
    if (unpinned != s->recency.size()) broken("CC3", "the recency list and the entries differ");
    if (bytes != s->bytes) broken("CC4", "the byte count is not the sum of the entries");
    if (pinned_bytes != s->pinned_bytes) broken("CC4", "the pinned byte count is wrong");
    if (s->bytes > s->bound) broken("CC1", "a tier holds more than its bound");
    if (s->pinned_bytes > s->bound) broken("CC2", "pinned bytes exceed the bound");
    if (s == &l1_ && s->pinned_bytes != 0) broken("CC2", "L1 holds a pinned entry");
  }
}

}  // namespace cairn::fuse
