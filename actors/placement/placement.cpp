// actors/placement/placement.cpp — straw2-weighted target sets with per-node
// limits, and the assignment of shard indexes to them (placement.h).
//
// Owner: pure library. Everything here is integer arithmetic over the
// inputs: a fixed 64-bit mixer for hashing, a fixed-point log2 for the
// exponential draws, exact 128-bit cross-multiplication to compare scores.
// No floating point, so no libm or compiler flag can change an answer (PL1).
#include "actors/placement/placement.h"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "actors/common/assert.h"

namespace cairn::placement {
namespace {

// GCC and clang have a 128-bit integer; __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 uint128;

// ---- hashing -------------------------------------------------------------------

/// splitmix64's finalizer (Stafford's variant 13): a bijection of 64-bit
/// words with full avalanche. Fixed here forever: it decides where data is.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/// Domain tags keep the hashes for different purposes independent.
constexpr std::uint64_t tag_key = 0x636169726e2d706cULL;  // "cairn-pl"
constexpr std::uint64_t tag_draw = 1;
constexpr std::uint64_t tag_position = 2;

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// 64 bits of the key (the key is already uniform: a chunk id), then one
/// independent word per purpose.
std::uint64_t key_word(const stripe_key& key, std::uint64_t tag) {
  std::uint64_t state = tag_key;
  for (std::size_t i = 0; i < key.bytes.size(); i += 8) {
    state = mix64(state ^ load_le64(key.bytes.data() + i));
  }
  return mix64(state ^ tag);
}

/// The device's uniform draw for this key, in [1, 2^64).
std::uint64_t draw_bits(std::uint64_t key_draw_word, device_id d) {
  const std::uint64_t u = mix64(key_draw_word ^ mix64(d.value ^ tag_draw));
  return u == 0 ? 1 : u;
}

/// Preference of shard index `index` for device `d` (assignment of indexes).
std::uint64_t position_bits(std::uint64_t key_position_word, std::uint32_t index, device_id d) {
  return mix64(mix64(key_position_word ^ index) ^ mix64(d.value ^ tag_position));
}

// ---- exponential draws -----------------------------------------------------------

constexpr int log_fraction_bits = 32;
constexpr std::uint64_t one_q63 = std::uint64_t{1} << 63;

/// log2(x) in 32.32 fixed point by repeated squaring of the mantissa: each
/// squaring doubles the logarithm, and whether the square reaches 2 is the
/// next bit. Truncates. Slow (a data-dependent branch per bit): it only
/// builds the tables below at compile time and checks log2_fixed().
constexpr std::uint64_t log2_by_squaring(std::uint64_t x) {
  const int exponent = 63 - std::countl_zero(x);
  std::uint64_t mantissa = x << (63 - exponent);  // value mantissa / 2^63, in [1, 2)
  std::uint64_t fraction = 0;
  for (int bit = log_fraction_bits - 1; bit >= 0; --bit) {
    const uint128 square = static_cast<uint128>(mantissa) * mantissa;  // value / 2^126, in [1, 4)
    if (square >> 127) {
      fraction |= std::uint64_t{1} << bit;
      mantissa = static_cast<std::uint64_t>(square >> 64);
    } else {
      mantissa = static_cast<std::uint64_t>(square >> 63);
    }
  }
  return (static_cast<std::uint64_t>(exponent) << log_fraction_bits) | fraction;
}

/// Two levels of reciprocals: multiplying a mantissa in [1, 2) by
/// coarse[i] (i = its next 8 bits) brings it into [1, 1 + 2^-8], then by
/// fine[j] into [1, 1 + 2^-16]; the logs of the reciprocals are tabled.
struct log_tables {
  std::array<std::uint64_t, 256> coarse_reciprocal{};  // ceil(2^63 / (1 + i / 2^8))
  std::array<std::uint64_t, 256> coarse_log{};         // -log2(reciprocal / 2^63), 32.32
  std::array<std::uint64_t, 256> fine_reciprocal{};    // ceil(2^63 / (1 + j / 2^16))
  std::array<std::uint64_t, 256> fine_log{};
};

constexpr log_tables make_log_tables() {
  log_tables t;
  for (std::uint64_t i = 0; i < 256; ++i) {
    const uint128 coarse_numerator = uint128{1} << 71;
    const uint128 fine_numerator = uint128{1} << 79;
    t.coarse_reciprocal[i] =
        static_cast<std::uint64_t>((coarse_numerator + 255 + i) / (256 + i));  // ceil
    t.fine_reciprocal[i] = static_cast<std::uint64_t>((fine_numerator + 65535 + i) / (65536 + i));
    t.coarse_log[i] =
        (std::uint64_t{63} << log_fraction_bits) - log2_by_squaring(t.coarse_reciprocal[i]);
    t.fine_log[i] =
        (std::uint64_t{63} << log_fraction_bits) - log2_by_squaring(t.fine_reciprocal[i]);
  }
  return t;
}

constexpr log_tables tables = make_log_tables();

/// 2^62 / ln 2, rounded.
constexpr std::uint64_t inverse_ln2_q62 = 6653256548922161246ULL;

/// log2(x) in 32.32 fixed point, x >= 1: two table steps and two terms of
/// the series log2(1 + t) = (t - t^2/2 + ...) / ln 2 for t < 2^-15. Within
/// a few units of the last place of log2_by_squaring, and integer-only.
constexpr std::uint64_t log2_fixed(std::uint64_t x) {
  const int exponent = 63 - std::countl_zero(x);
  std::uint64_t mantissa = x << (63 - exponent);  // value mantissa / 2^63, in [1, 2)
  std::uint64_t log = static_cast<std::uint64_t>(exponent) << log_fraction_bits;

  const std::uint64_t i = (mantissa >> 55) & 255;
  mantissa = static_cast<std::uint64_t>(
      (static_cast<uint128>(mantissa) * tables.coarse_reciprocal[i]) >> 63);  // in [1, 1 + 2^-8]
  log += tables.coarse_log[i];

  const std::uint64_t j = std::min<std::uint64_t>((mantissa - one_q63) >> 47, 255);
  mantissa = static_cast<std::uint64_t>(
      (static_cast<uint128>(mantissa) * tables.fine_reciprocal[j]) >> 63);  // in [1, 1 + 2^-15)
  log += tables.fine_log[j];

  const std::uint64_t t = mantissa - one_q63;  // Q0.63
  const auto t_squared_half = static_cast<std::uint64_t>((static_cast<uint128>(t) * t) >> 64);
  const uint128 series = static_cast<uint128>(t - t_squared_half) * inverse_ln2_q62;  // Q.125
  return log + static_cast<std::uint64_t>(series >> (125 - log_fraction_bits));
}

constexpr bool log2_fixed_close_to_reference(std::uint64_t x) {
  const std::uint64_t fast = log2_fixed(x);
  const std::uint64_t slow = log2_by_squaring(x);
  return (fast > slow ? fast - slow : slow - fast) <= 4;
}

static_assert(log2_by_squaring(1) == 0);
static_assert(log2_by_squaring(std::uint64_t{1} << 40) == std::uint64_t{40} << log_fraction_bits);
static_assert(log2_by_squaring(3) == 0x1'95C0'1A39ULL);  // log2(3) = 1.5849625007...
static_assert(log2_fixed(1) == 0);
static_assert(log2_fixed(std::uint64_t{1} << 40) == std::uint64_t{40} << log_fraction_bits);
static_assert(log2_fixed_close_to_reference(3));
static_assert(log2_fixed_close_to_reference(0xFFFF'FFFF'FFFF'FFFFULL));
static_assert(log2_fixed_close_to_reference(0x8000'0000'0000'0001ULL));
static_assert(log2_fixed_close_to_reference(0x9E37'79B9'7F4A'7C15ULL));
static_assert(log2_fixed_close_to_reference(0x80FF'FFFF'FFFF'FFFFULL));
static_assert(log2_fixed_close_to_reference(0xC0FF'EE00'1234'5678ULL));
static_assert(log2_fixed_close_to_reference(12345));

/// -log2(u / 2^64) for u in [1, 2^64): an exponential variate (rate ln 2)
/// in 32.32 fixed point, in [1, 64 * 2^32].
constexpr std::uint64_t exponential_fixed(std::uint64_t u) {
  constexpr std::uint64_t sixty_four = std::uint64_t{64} << log_fraction_bits;
  const std::uint64_t log = log2_fixed(u);
  return log < sixty_four ? sixty_four - log : 1;
}

// ---- candidates ---------------------------------------------------------------------

/// Free bytes a device keeps back: below it the device refuses writes.
std::uint64_t reserve_bytes(std::uint64_t capacity_bytes) {
  const auto writable_max =
      static_cast<std::uint64_t>(static_cast<uint128>(capacity_bytes) * device_full_percent / 100);
  return capacity_bytes - writable_max;
}

/// Weight of a device (0: not eligible, PL2).
std::uint64_t writable_bytes(const device& d) {
  if (d.state != device_state::in) return 0;
  const std::uint64_t reserve = reserve_bytes(d.capacity_bytes);
  return d.free_bytes > reserve ? d.free_bytes - reserve : 0;
}

struct candidate {
  device_id id;
  node_id node;
  std::uint64_t weight = 0;       // writable bytes; 0: not eligible
  std::uint64_t exponential = 0;  // draw for this key, 32.32 fixed point, >= 1
};

/// Straw2: smaller exponential / weight is better. Compared exactly by
/// cross-multiplication (< 2^39 * 2^64); ties by device id, so this is a
/// strict total order and no input order can change a result.
bool better(const candidate& a, const candidate& b) {
  const uint128 lhs = static_cast<uint128>(a.exponential) * b.weight;
  const uint128 rhs = static_cast<uint128>(b.exponential) * a.weight;
  if (lhs != rhs) return lhs < rhs;
  return a.id < b.id;
}

template <class T>
placement_result<T> failure(placement_error error, std::string message) {
  placement_result<T> r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

/// The view for one key: every device with its weight and draw.
struct drawn_view {
  placement_error error = placement_error::none;
  std::string message;
  std::vector<candidate> all;       // every device of the view, sorted by id
  std::vector<candidate> eligible;  // weight > 0, sorted by id

  const candidate* find(device_id id) const {
    auto it = std::lower_bound(all.begin(), all.end(), id,
                               [](const candidate& c, device_id v) { return c.id < v; });
    return it != all.end() && it->id == id ? &*it : nullptr;
  }
  bool is_eligible(device_id id) const {
    const candidate* c = find(id);
    return c != nullptr && c->weight > 0;
  }
};

/// `key` may be null when only weights and nodes are needed (no draws).
drawn_view draw(const cluster_view& view, const stripe_key* key) {
  drawn_view s;
  if (view.devices.size() > view_devices_max) {
    s.error = placement_error::bad_view;
    s.message = "view has " + std::to_string(view.devices.size()) + " devices, more than " +
                std::to_string(view_devices_max);
    return s;
  }
  const std::uint64_t draw_word = key != nullptr ? key_word(*key, tag_draw) : 0;
  s.all.reserve(view.devices.size());
  for (const device& d : view.devices) {
    if (d.free_bytes > d.capacity_bytes) {
      s.error = placement_error::bad_view;
      s.message = "device " + std::to_string(d.id.value) + " has free_bytes " +
                  std::to_string(d.free_bytes) + " above capacity_bytes " +
                  std::to_string(d.capacity_bytes);
      return s;
    }
    const std::uint64_t weight = writable_bytes(d);
    const std::uint64_t exponential =
        key != nullptr && weight > 0 ? exponential_fixed(draw_bits(draw_word, d.id)) : 1;
    s.all.push_back(candidate{d.id, d.node, weight, exponential});
  }
  std::sort(s.all.begin(), s.all.end(),
            [](const candidate& a, const candidate& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < s.all.size(); ++i) {
    if (s.all[i - 1].id == s.all[i].id) {
      s.error = placement_error::bad_view;
      s.message = "view lists device " + std::to_string(s.all[i].id.value) + " twice";
      return s;
    }
  }
  for (const candidate& c : s.all) {
    if (c.weight > 0) s.eligible.push_back(c);
  }
  return s;
}

std::map<node_id, std::uint32_t> eligible_devices_per_node(const drawn_view& s) {
  std::map<node_id, std::uint32_t> m;
  for (const candidate& c : s.eligible) ++m[c.node];
  return m;
}

placement_result<std::uint32_t> node_limit(const drawn_view& s, std::uint32_t width) {
  const auto per_node = eligible_devices_per_node(s);
  if (s.eligible.size() < width) {
    return failure<std::uint32_t>(placement_error::not_enough_devices,
                                  "width " + std::to_string(width) + " needs " +
                                      std::to_string(width) + " eligible devices; the view has " +
                                      std::to_string(s.eligible.size()) + " on " +
                                      std::to_string(per_node.size()) + " nodes");
  }
  // The smallest limit the devices can meet; at least ceil(width / nodes).
  const std::size_t nodes = per_node.size();
  auto limit = static_cast<std::uint32_t>((width + nodes - 1) / nodes);
  for (;; ++limit) {
    std::uint64_t room = 0;
    for (const auto& [node, count] : per_node) room += std::min(count, limit);
    if (room >= width) break;
  }
  CAIRN_ASSERT(limit >= 1 && limit <= width);
  CAIRN_ASSERT(nodes < width || limit == 1);
  placement_result<std::uint32_t> r;
  r.value = limit;
  return r;
}

placement_error check_width(std::size_t width, std::string& message) {
  if (width == 0 || width > width_max) {
    message =
        "width " + std::to_string(width) + " is outside [1, " + std::to_string(width_max) + "]";
    return placement_error::bad_width;
  }
  return placement_error::none;
}

placement_error check_current(const shard_devices& current, std::string& message) {
  if (auto e = check_width(current.size(), message); e != placement_error::none) return e;
  std::vector<device_id> sorted = current;
  std::sort(sorted.begin(), sorted.end());
  auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end()) {
    message = "stripe lists device " + std::to_string(dup->value) + " twice";
    return placement_error::bad_current;
  }
  return placement_error::none;
}

/// Shards per node of a list of devices (devices not in the view count for
/// no node). At most width_max entries: a flat list.
using node_counts = std::vector<std::pair<node_id, std::uint32_t>>;

std::uint32_t count_on(const node_counts& counts, node_id node) {
  for (const auto& [n, c] : counts) {
    if (n == node) return c;
  }
  return 0;
}

void add_to(node_counts& counts, node_id node) {
  for (auto& [n, c] : counts) {
    if (n == node) {
      ++c;
      return;
    }
  }
  counts.emplace_back(node, 1);
}

node_counts count_nodes(const drawn_view& s, const std::vector<device_id>& devices) {
  node_counts counts;
  for (device_id d : devices) {
    if (const candidate* c = s.find(d)) add_to(counts, c->node);
  }
  return counts;
}

/// The greedy pass: best score first, skipping devices whose node is full,
/// until `width` are taken (fewer if the devices run out). Takes the best
/// basis of the (truncated) partition matroid "at most `limit` per node",
/// which is what makes PL6 hold: adding or removing one element changes a
/// matroid's best basis by at most one exchange.
std::vector<candidate> greedy_target(std::vector<candidate> heap, std::uint32_t width,
                                     std::uint32_t limit) {
  // A heap, not a sort: with one shard per node the pass usually stops
  // after a few more than `width` pops.
  auto worse = [](const candidate& a, const candidate& b) { return better(b, a); };
  std::make_heap(heap.begin(), heap.end(), worse);
  std::vector<candidate> chosen;
  chosen.reserve(width);
  node_counts per_node;
  auto end = heap.end();
  while (chosen.size() < width && end != heap.begin()) {
    std::pop_heap(heap.begin(), end, worse);
    --end;
    if (count_on(per_node, end->node) < limit) {
      add_to(per_node, end->node);
      chosen.push_back(*end);
    }
  }
  return chosen;
}

struct target {
  std::vector<candidate> chosen;  // preference order
  std::uint32_t limit = 0;
};

placement_result<target> compute_target(const drawn_view& s, std::uint32_t width) {
  placement_result<target> r;
  if (s.eligible.size() >= width) {
    // One shard per node works exactly when there are `width` eligible
    // nodes, which is when node_limit() is 1: try it without counting.
    r.value.chosen = greedy_target(s.eligible, width, 1);
    r.value.limit = 1;
    if (r.value.chosen.size() == width) return r;
  }
  auto limit = node_limit(s, width);
  if (!limit.ok()) return failure<target>(limit.error, std::move(limit.message));
  CAIRN_ASSERT(limit.value > 1);
  r.value.limit = limit.value;
  r.value.chosen = greedy_target(s.eligible, width, limit.value);
  CAIRN_ASSERT_MSG(r.value.chosen.size() == width, "node_limit() leaves room for width devices");
  return r;
}

/// Gives each index in `open_indexes` one of `open_devices` (same count).
/// An index whose old device was on a node that has an open device takes
/// one of those first (a copy inside the node); otherwise pairs go by the
/// per-key preference hash, highest first. Deterministic and independent of
/// input order.
void assign_open(const stripe_key& key, const drawn_view& s, const shard_devices& current,
                 const std::vector<std::uint32_t>& open_indexes,
                 const std::vector<candidate>& open_devices, shard_devices& out) {
  CAIRN_ASSERT(open_indexes.size() == open_devices.size());
  struct pair_choice {
    bool same_node;
    std::uint64_t preference;
    std::uint32_t index;
    device_id device;
  };
  const std::uint64_t position_word = key_word(key, tag_position);
  std::vector<pair_choice> pairs;
  pairs.reserve(open_indexes.size() * open_devices.size());
  for (std::uint32_t index : open_indexes) {
    const candidate* old = index < current.size() ? s.find(current[index]) : nullptr;
    for (const candidate& c : open_devices) {
      pairs.push_back(pair_choice{old != nullptr && old->node == c.node,
                                  position_bits(position_word, index, c.id), index, c.id});
    }
  }
  // Same node first, then higher preference; index and device break ties.
  std::sort(pairs.begin(), pairs.end(), [](const pair_choice& a, const pair_choice& b) {
    if (a.same_node != b.same_node) return a.same_node;
    if (a.preference != b.preference) return a.preference > b.preference;
    return std::tie(a.index, a.device) < std::tie(b.index, b.device);
  });
  std::vector<bool> index_done(out.size(), false);
  std::vector<device_id> used;
  for (const pair_choice& p : pairs) {
    if (index_done[p.index]) continue;
    if (std::find(used.begin(), used.end(), p.device) != used.end()) continue;
    index_done[p.index] = true;
    used.push_back(p.device);
    out[p.index] = p.device;
  }
  CAIRN_ASSERT(used.size() == open_devices.size());
}

/// PL2-PL4 on a whole assignment.
void assert_valid_assignment(const drawn_view& s, const shard_devices& assignment,
                             std::uint32_t limit) {
  std::vector<device_id> sorted = assignment;
  std::sort(sorted.begin(), sorted.end());
  CAIRN_ASSERT_MSG(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(),
                   "PL3: devices of a stripe are distinct");
  for (device_id d : assignment) {
    CAIRN_ASSERT_MSG(s.is_eligible(d), "PL2: only eligible devices");
  }
  for (const auto& [node, count] : count_nodes(s, assignment)) {
    CAIRN_ASSERT_MSG(count <= limit, "PL4: per-node limit");
  }
}

/// The common path of place() and rebalance(): `current` empty means a new
/// stripe (every index open).
placement_result<shard_devices> assign(const cluster_view& view, const stripe_key& key,
                                       std::uint32_t width, const shard_devices& current) {
  drawn_view s = draw(view, &key);
  if (s.error != placement_error::none) {
    return failure<shard_devices>(s.error, std::move(s.message));
  }
  auto t = compute_target(s, width);
  if (!t.ok()) return failure<shard_devices>(t.error, std::move(t.message));
  const std::vector<candidate>& chosen = t.value.chosen;
  auto in_target = [&](device_id d) {
    return std::any_of(chosen.begin(), chosen.end(), [&](const candidate& c) { return c.id == d; });
  };

  placement_result<shard_devices> r;
  r.value.assign(width, device_id{});
  std::vector<std::uint32_t> open_indexes;
  for (std::uint32_t i = 0; i < width; ++i) {
    if (!current.empty() && in_target(current[i])) {
      r.value[i] = current[i];
    } else {
      open_indexes.push_back(i);
    }
  }
  std::vector<candidate> open_devices;
  for (const candidate& c : chosen) {
    if (current.empty() || std::find(current.begin(), current.end(), c.id) == current.end()) {
      open_devices.push_back(c);
    }
  }
  assign_open(key, s, current, open_indexes, open_devices, r.value);

  assert_valid_assignment(s, r.value, t.value.limit);
  for (std::uint32_t i = 0; i < current.size(); ++i) {
    CAIRN_ASSERT_MSG(!in_target(current[i]) || r.value[i] == current[i],
                     "PL7: shards in the target set stay at their index");
  }
  return r;
}

}  // namespace

stripe_key stripe_key::from_u64(std::uint64_t value) {
  stripe_key k;
  for (int i = 0; i < 8; ++i) k.bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
  return k;
}

std::string_view to_string(placement_error e) {
  switch (e) {
    case placement_error::none:
      return "none";
    case placement_error::bad_width:
      return "bad_width";
    case placement_error::bad_view:
      return "bad_view";
    case placement_error::bad_current:
      return "bad_current";
    case placement_error::bad_index:
      return "bad_index";
    case placement_error::not_enough_devices:
      return "not_enough_devices";
  }
  return "unknown";
}

placement_result<std::uint32_t> shards_per_node_max(const cluster_view& view, std::uint32_t width) {
  std::string message;
  if (auto e = check_width(width, message); e != placement_error::none) {
    return failure<std::uint32_t>(e, std::move(message));
  }
  drawn_view s = draw(view, nullptr);
  if (s.error != placement_error::none) {
    return failure<std::uint32_t>(s.error, std::move(s.message));
  }
  return node_limit(s, width);
}

placement_result<std::vector<device_id>> target_devices(const cluster_view& view,
                                                        const stripe_key& key,
                                                        std::uint32_t width) {
  std::string message;
  if (auto e = check_width(width, message); e != placement_error::none) {
    return failure<std::vector<device_id>>(e, std::move(message));
  }
  drawn_view s = draw(view, &key);
  if (s.error != placement_error::none) {
    return failure<std::vector<device_id>>(s.error, std::move(s.message));
  }
  auto t = compute_target(s, width);
  if (!t.ok()) return failure<std::vector<device_id>>(t.error, std::move(t.message));
  placement_result<std::vector<device_id>> r;
  for (const candidate& c : t.value.chosen) r.value.push_back(c.id);
  assert_valid_assignment(s, r.value, t.value.limit);
  return r;
}

placement_result<shard_devices> place(const cluster_view& view, const stripe_key& key,
                                      std::uint32_t width) {
  std::string message;
  if (auto e = check_width(width, message); e != placement_error::none) {
    return failure<shard_devices>(e, std::move(message));
  }
  return assign(view, key, width, {});
}

placement_result<shard_devices> rebalance(const cluster_view& view, const stripe_key& key,
                                          const shard_devices& current) {
  std::string message;
  if (auto e = check_current(current, message); e != placement_error::none) {
    return failure<shard_devices>(e, std::move(message));
  }
  return assign(view, key, static_cast<std::uint32_t>(current.size()), current);
}

placement_result<device_id> replace(const cluster_view& view, const stripe_key& key,
                                    const shard_devices& current, std::uint32_t index) {
  std::string message;
  if (auto e = check_current(current, message); e != placement_error::none) {
    return failure<device_id>(e, std::move(message));
  }
  if (index >= current.size()) {
    return failure<device_id>(placement_error::bad_index, "index " + std::to_string(index) +
                                                              " of a stripe of width " +
                                                              std::to_string(current.size()));
  }
  drawn_view s = draw(view, &key);
  if (s.error != placement_error::none) {
    return failure<device_id>(s.error, std::move(s.message));
  }
  const auto width = static_cast<std::uint32_t>(current.size());
  // A view too small for a new stripe of this width may still have a spare
  // device for one shard: then only distinct devices bind.
  auto limit_result = node_limit(s, width);
  const std::uint32_t limit = limit_result.ok() ? limit_result.value : width;

  std::vector<device_id> others;
  for (std::uint32_t i = 0; i < width; ++i) {
    if (i != index) others.push_back(current[i]);
  }
  const node_counts others_per_node = count_nodes(s, others);

  // Candidates: eligible and not in the stripe (the replaced device too).
  std::vector<const candidate*> spares;
  for (const candidate& c : s.eligible) {
    if (std::find(current.begin(), current.end(), c.id) == current.end()) spares.push_back(&c);
  }
  if (spares.empty()) {
    return failure<device_id>(placement_error::not_enough_devices,
                              "no eligible device outside the stripe (" +
                                  std::to_string(s.eligible.size()) + " eligible, width " +
                                  std::to_string(width) + ")");
  }
  // Nodes below the limit when there are any; else the least loaded nodes.
  std::uint32_t fewest = width;
  for (const candidate* c : spares) fewest = std::min(fewest, count_on(others_per_node, c->node));
  const std::uint32_t allowed_below = std::max(limit, fewest + 1);
  const candidate* best = nullptr;
  for (const candidate* c : spares) {
    if (count_on(others_per_node, c->node) >= allowed_below) continue;
    if (best == nullptr || better(*c, *best)) best = c;
  }
  CAIRN_ASSERT(best != nullptr);
  CAIRN_ASSERT_MSG(fewest >= limit || count_on(others_per_node, best->node) < limit,
                   "PL8: the node holds fewer than the limit of the other shards");
  CAIRN_ASSERT_MSG(std::find(current.begin(), current.end(), best->id) == current.end(),
                   "PL3: the new device is not in the stripe");
  placement_result<device_id> r;
  r.value = best->id;
  return r;
}

}  // namespace cairn::placement
