// tests/gateways/fuse/cache_policy_test.cpp — the FUSE client's cache
// policy (gateways/fuse/cache_policy.h) against a model: random lookups,
// admissions (pinned or not), forgets, ENOSPC room-making and releases in
// every mode; after each step CC1-CC4 hold (check()), and the policy's
// evictions, contents and byte counts are the model's, victim for victim.
#include "gateways/fuse/cache_policy.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <deque>

namespace cairn::fuse {
namespace {

chunk_id id_of(int n) {
  chunk_id id{};
  id[0] = static_cast<std::uint8_t>(n);
  return id;
}

/// One tier as a list in recency order (front: most recent) plus the
/// pinned entries, which are in no order.
struct model_tier {
  std::uint64_t bound = 0;
  std::deque<std::pair<int, std::uint64_t>> recency;
  std::map<int, std::uint64_t> pinned;
  std::uint64_t bytes() const {
    std::uint64_t b = 0;
    for (const auto& [id, n] : recency) b += n;
    for (const auto& [id, n] : pinned) b += n;
    return b;
  }
  std::uint64_t pinned_bytes() const {
    std::uint64_t b = 0;
    for (const auto& [id, n] : pinned) b += n;
    return b;
  }
  auto find(int id) {
    return std::find_if(recency.begin(), recency.end(),
                        [&](const auto& e) { return e.first == id; });
  }
  bool contains(int id) { return pinned.count(id) || find(id) != recency.end(); }
  std::vector<int> evict_lru(std::uint64_t need_free_until) {  // until bytes + x <= bound
    std::vector<int> out;
    while (bytes() > need_free_until) {
      out.push_back(recency.back().first);
      recency.pop_back();
    }
    return out;
  }
};

std::vector<int> ids_of(const std::vector<chunk_id>& ids) {
  std::vector<int> out;
  for (const auto& id : ids) out.push_back(id[0]);
  return out;
}

RC_GTEST_PROP(CachePolicy, MatchesAnLruModelWithPins, ()) {
  const auto mode = *rc::gen::element(cache_mode::organic, cache_mode::pinned, cache_mode::bypass);
  cache_policy policy(mode, {60, 100});
  model_tier model[2];
  model[0].bound = 60;
  model[1].bound = 100;
  const auto steps = *rc::gen::inRange(1, 80);
  for (int step = 0; step < steps; ++step) {
    const int t = *rc::gen::inRange(0, 2);
    const auto tier = t ? cache_tier::l2 : cache_tier::l1;
    auto& m = model[t];
    const int id = *rc::gen::inRange(0, 12);
    switch (*rc::gen::inRange(0, 6)) {
      case 0: {  // lookup
        const bool hit = policy.lookup(tier, id_of(id));
        RC_ASSERT(hit == m.contains(id));
        if (auto it = m.find(id); it != m.recency.end()) {
          const auto e = *it;
          m.recency.erase(it);
          m.recency.push_front(e);
        }
        break;
      }
      case 1:
      case 2: {  // admit
        const auto bytes = *rc::gen::inRange<std::uint64_t>(1, 45);
        const bool pin_asked = *rc::gen::arbitrary<bool>();
        const auto got = policy.admit(tier, id_of(id), bytes, pin_asked);
        const bool pin = pin_asked && mode == cache_mode::pinned && t == 1;
        if (mode == cache_mode::bypass) {
          RC_ASSERT(!got.admitted);
          break;
        }
        if (m.contains(id)) {
          if (pin && !m.pinned.count(id)) {
            const auto it = m.find(id);
            if (m.pinned_bytes() + it->second > m.bound) {
              RC_ASSERT(!got.admitted);
            } else {
              RC_ASSERT(got.admitted);
              m.pinned[id] = it->second;
              m.recency.erase(it);
            }
          } else {
            RC_ASSERT(got.admitted);
            if (auto it = m.find(id); it != m.recency.end()) {
              const auto e = *it;
              m.recency.erase(it);
              m.recency.push_front(e);
            }
          }
          RC_ASSERT(got.evict.empty());
          break;
        }
        if (bytes > m.bound || m.pinned_bytes() + bytes > m.bound) {
          RC_ASSERT(!got.admitted);
          RC_ASSERT(!got.refused.empty());
          break;
        }
        RC_ASSERT(got.admitted);
        RC_ASSERT(ids_of(got.evict) == m.evict_lru(m.bound - bytes));
        if (pin)
          m.pinned[id] = bytes;
        else
          m.recency.emplace_front(id, bytes);
        break;
      }
      case 3: {  // forget
        policy.forget(tier, id_of(id));
        m.pinned.erase(id);
        if (auto it = m.find(id); it != m.recency.end()) m.recency.erase(it);
        break;
      }
      case 4: {  // ENOSPC: free at least `bytes`
        const auto bytes = *rc::gen::inRange<std::uint64_t>(1, 80);
        std::vector<int> want;
        std::uint64_t freed = 0;
        while (freed < bytes && !m.recency.empty()) {
          freed += m.recency.back().second;
          want.push_back(m.recency.back().first);
          m.recency.pop_back();
        }
        RC_ASSERT(ids_of(policy.make_room(tier, bytes)) == want);
        break;
      }
      case 5: {  // stage --release
        policy.release_pins();
        for (auto& mt : model)
          for (const auto& [pid, n] : mt.pinned) mt.recency.emplace_front(pid, n);
        for (auto& mt : model) mt.pinned.clear();
        break;
      }
    }
    policy.check();
    for (int tt = 0; tt < 2; ++tt) {
      const auto s = policy.stats(tt ? cache_tier::l2 : cache_tier::l1);
      RC_ASSERT(s.bytes == model[tt].bytes());
      RC_ASSERT(s.pinned_bytes == model[tt].pinned_bytes());
      RC_ASSERT(s.entries == model[tt].recency.size() + model[tt].pinned.size());
    }
  }
}

TEST(CachePolicy, StagingMoreThanTheCacheHoldsIsRefusedWithTheShortfall) {
  cache_policy policy(cache_mode::pinned, {8, 10});
  EXPECT_TRUE(policy.admit(cache_tier::l2, id_of(1), 6, true).admitted);
  const auto refused = policy.admit(cache_tier::l2, id_of(2), 6, true);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.refused, "pinned chunks fill the cache: 2 more bytes needed");
  // An organic chunk still fits beside the pinned one, and is evicted
  // before it ever would be.
  EXPECT_TRUE(policy.admit(cache_tier::l2, id_of(3), 4).admitted);
  const auto next = policy.admit(cache_tier::l2, id_of(4), 4);
  EXPECT_EQ(ids_of(next.evict), std::vector<int>{3});
  EXPECT_TRUE(policy.pinned(id_of(1)));
  policy.release_pins();
  EXPECT_FALSE(policy.pinned(id_of(1)));
  policy.check();
}

TEST(CachePolicy, BypassKeepsNothing) {
  cache_policy policy(cache_mode::bypass, {100, 100});
  EXPECT_FALSE(policy.admit(cache_tier::l1, id_of(1), 1).admitted);
  EXPECT_FALSE(policy.lookup(cache_tier::l1, id_of(1)));
  EXPECT_EQ(policy.stats(cache_tier::l1).misses, 1u);
}

}  // namespace
}  // namespace cairn::fuse
