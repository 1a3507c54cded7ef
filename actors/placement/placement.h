// actors/placement/placement.h — where the shards of an erasure-coded stripe
// live: k+m devices on distinct failure domains (node, then device),
// weighted by writable capacity, with minimal movement when devices join or
// leave.
//
// Owner: pure library (no clock, randomness, I/O, threads or CAF); used by
// the gateways' write pipeline (place), the rebalancer (rebalance) and
// repair (replace). Functions only; safe to call from any thread.
//
// The scheme (docs/placement.md): every eligible device d draws, per stripe
// key, an exponential variate E(key, d) from a fixed hash and a fixed-point
// logarithm; its score is E / weight(d) and smaller is better (straw2: the
// best score of a set of devices behaves like one device with their summed
// weight). A stripe's target set is what a greedy pass in score order takes
// when each node may hold at most `shards_per_node_max` shards and the set
// has `width` devices. That set is a function of the view and the key only;
// which shard index sits on which device is history: place() chooses it for
// a new stripe, rebalance() and replace() keep what an existing stripe has.
//
// Invariants (numbered as in docs/placement.md; asserted on every result):
//  PL1. Deterministic: a result depends only on the devices of the view as a
//       set (not their order), the key and the width (and for rebalance and
//       replace the current assignment). Integer arithmetic only; the same
//       answer on every machine and compiler.
//  PL2. Only eligible devices are chosen: state `in` and writable_bytes > 0
//       (free bytes above the reserve the device keeps below its 99% refusal
//       threshold).
//  PL3. The devices of a stripe are distinct.
//  PL4. No node holds more than shards_per_node_max(view, width) shards of a
//       stripe; that limit is 1 when the view has at least `width` eligible
//       nodes (distinct failure domains), else the smallest limit the
//       eligible devices can meet (ceil(width / nodes) when every node has
//       that many eligible devices).
//  PL5. A device's chance to be a key's best choice is its weight over the
//       total weight; within a node, devices are chosen in proportion to
//       their weights.
//  PL6. While the per-node limit stays the same, a joining device changes a
//       target set in at most one member, and that member becomes the new
//       device; a leaving device changes only target sets that held it, by
//       exactly that member.
//  PL7. rebalance() keeps every shard whose device is still in the target
//       set at its index, and its devices are exactly the target set. So
//       with PL6: a join moves at most one shard per stripe, onto the new
//       device; a leave moves only the shard that was on the leaving device.
//  PL8. replace() changes only the given index, to a device not in the
//       stripe, on a node that holds fewer than the per-node limit of the
//       other shards when one exists. When the rest of the stripe is in its
//       target set, that device is the one rebalance() would choose.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::placement {

/// A chunk device, cluster-wide. Enters the placement hash: never renumber.
struct device_id {
  std::uint64_t value = 0;
  constexpr device_id() = default;
  constexpr explicit device_id(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(device_id, device_id) = default;
};

/// A storage node: the outer failure domain.
struct node_id {
  std::uint64_t value = 0;
  constexpr node_id() = default;
  constexpr explicit node_id(std::uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(node_id, node_id) = default;
};

/// Only `in` receives new shards. `draining` keeps its shards readable but
/// is not chosen (rebalance() moves its shards away); `out` and `failed`
/// hold nothing placement counts on.
enum class device_state : std::uint8_t { in, draining, out, failed };

struct device {
  device_id id;
  node_id node;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t free_bytes = 0;
  device_state state = device_state::in;
  friend bool operator==(const device&, const device&) = default;
};

/// A snapshot of the devices placement may use, in any order. Callers should
/// publish free_bytes as a periodically refreshed snapshot (with the cluster
/// map), not as live values: every change of a weight moves some target
/// sets (docs/placement.md, "Limits").
struct cluster_view {
  std::vector<device> devices;
};

/// What a stripe is placed by: a chunk id (HMAC-SHA256, already uniform).
struct stripe_key {
  std::array<std::uint8_t, 32> bytes{};
  /// For tests and tools: `value` little-endian in the first 8 bytes.
  static stripe_key from_u64(std::uint64_t value);
  friend bool operator==(const stripe_key&, const stripe_key&) = default;
};

/// Index i -> the device of shard i.
using shard_devices = std::vector<device_id>;

/// A device refuses writes at this fullness (docs/chunk.md); placement keeps
/// the same reserve: a device's weight is its free bytes above it.
inline constexpr std::uint64_t device_full_percent = 99;
/// Widest stripe: k + m of the widest scheme (29+3).
inline constexpr std::uint32_t width_max = 32;
/// Largest view accepted (devices, every state counted).
inline constexpr std::size_t view_devices_max = std::size_t{1} << 20;

static_assert(device_full_percent > 0 && device_full_percent <= 100);
static_assert(width_max <= view_devices_max);

enum class placement_error : std::uint8_t {
  none,
  /// width is 0 or above width_max, or `current` has the wrong size.
  bad_width,
  /// The view repeats a device id, has free_bytes > capacity_bytes, or is
  /// larger than view_devices_max.
  bad_view,
  /// `current` names a device twice.
  bad_current,
  /// replace(): index >= current.size().
  bad_index,
  /// Fewer eligible devices than the stripe needs.
  not_enough_devices,
};
std::string_view to_string(placement_error e);

template <class T>
struct placement_result {
  placement_error error = placement_error::none;
  /// Why, in a sentence with the numbers (empty when ok).
  std::string message;
  T value{};
  bool ok() const { return error == placement_error::none; }
};

/// Shards of one stripe a node may hold (PL4): 1 with at least `width`
/// eligible nodes; else the smallest c with sum over nodes of
/// min(c, eligible devices on the node) >= width.
/// Fails with not_enough_devices below `width` eligible devices.
placement_result<std::uint32_t> shards_per_node_max(const cluster_view& view, std::uint32_t width);

/// The device set a stripe should live on (PL1-PL6), in preference order
/// (best score first). Most callers want place() or rebalance().
placement_result<std::vector<device_id>> target_devices(const cluster_view& view,
                                                        const stripe_key& key, std::uint32_t width);

/// A new stripe: its target set, one device per shard index.
placement_result<shard_devices> place(const cluster_view& view, const stripe_key& key,
                                      std::uint32_t width);

/// An existing stripe: the assignment it should converge to (PL7). Shards
/// whose device is in the target set stay at their index; each other index
/// gets a device of the target set that the stripe does not use yet,
/// preferring one on the same node as the index's old device (a local
/// copy). Devices in `current` may be missing from the view (removed).
/// REQUIRES: current.size() is the stripe's width.
placement_result<shard_devices> rebalance(const cluster_view& view, const stripe_key& key,
                                          const shard_devices& current);

/// Repair: a new device for shard `index`, every other shard staying where
/// it is (PL8). The device at `index` is never chosen again (it is lost or
/// its copy is bad), nor any other device of the stripe.
placement_result<device_id> replace(const cluster_view& view, const stripe_key& key,
                                    const shard_devices& current, std::uint32_t index);

}  // namespace cairn::placement
