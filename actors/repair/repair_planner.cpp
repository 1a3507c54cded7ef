// actors/repair/repair_planner.cpp — see repair_planner.h.
#include "actors/repair/repair_planner.h"

#include <algorithm>

#include "actors/common/assert.h"

namespace cairn::repair {
namespace {

const placement::device* find_device(const placement::cluster_view& view, placement::device_id id) {
  for (const auto& d : view.devices)
    if (d.id == id) return &d;
  return nullptr;
}

}  // namespace

stripe_plan plan_stripe(const placement::cluster_view& view, const stripe_state& stripe) {
  const auto width = static_cast<std::uint32_t>(stripe.devices.size());
  CAIRN_ASSERT(stripe.health.size() == width && stripe.data_shards >= 1 &&
               stripe.data_shards <= width);
  stripe_plan plan;
  std::vector<std::uint32_t> good;
  for (std::uint32_t i = 0; i < width; ++i)
    if (stripe.health[i] == shard_health::good) good.push_back(i);
  if (good.size() == width) return plan;
  if (good.size() < stripe.data_shards) {  // RP2
    plan.outcome = stripe_plan::verdict::unrecoverable;
    plan.reason = std::to_string(good.size()) + " good shards of " + std::to_string(width) + ", " +
                  std::to_string(stripe.data_shards) + " needed";
    return plan;
  }
  const std::vector<std::uint32_t> sources(good.begin(), good.begin() + stripe.data_shards);
  placement::shard_devices current = stripe.devices;
  plan.outcome = stripe_plan::verdict::repair;
  for (std::uint32_t i = 0; i < width; ++i) {
    if (stripe.health[i] == shard_health::good) continue;  // RP3
    shard_rebuild r;
    r.index = i;
    r.sources = sources;
    const auto* dev = find_device(view, current[i]);
    const bool device_usable = dev && dev->state == placement::device_state::in &&
                               stripe.health[i] != shard_health::device_failed;
    if (device_usable) {  // RP4: rewrite in place
      r.target = current[i];
      r.in_place = true;
    } else {
      auto chosen = placement::replace(view, stripe.key, current, i);
      if (chosen.error != placement::placement_error::none) {
        plan.outcome = stripe_plan::verdict::no_target;
        plan.reason = "shard " + std::to_string(i) + ": " + chosen.message;
        plan.rebuilds.clear();
        return plan;
      }
      r.target = chosen.value;
      current[i] = chosen.value;  // later indexes avoid it (RP1)
    }
    plan.rebuilds.push_back(std::move(r));
  }
  // RP1: targets are distinct from every other shard's device.
  for (const auto& r : plan.rebuilds)
    for (std::uint32_t j = 0; j < width; ++j)
      CAIRN_ASSERT_MSG(j == r.index || current[j] != r.target,
                       "a repair target already holds a shard of the stripe");
  return plan;
}

void repair_progress::count(const stripe_plan& plan) {
  ++stripes_seen;
  switch (plan.outcome) {
    case stripe_plan::verdict::healthy:
      ++stripes_healthy;
      break;
    case stripe_plan::verdict::repair:
      ++stripes_degraded;
      shards_planned += plan.rebuilds.size();
      break;
    case stripe_plan::verdict::unrecoverable:
    case stripe_plan::verdict::no_target:
      ++stripes_unrecoverable;
      break;
  }
}

std::string repair_progress::render() const {
  return "repair: " + std::to_string(stripes_seen) + " stripes seen, " +
         std::to_string(stripes_degraded) + " degraded, " + std::to_string(stripes_unrecoverable) +
         " unrecoverable, " + std::to_string(shards_rebuilt) + "/" +
         std::to_string(shards_planned) + " shards rebuilt";
}

}  // namespace cairn::repair
