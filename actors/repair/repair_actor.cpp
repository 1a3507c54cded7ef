// actors/repair/repair_actor.cpp — see repair_actor.h.
#include "actors/repair/repair_actor.h"

#include <map>

#include "actors/chunk/device_actor.h"
#include "actors/chunk/erasure_code.h"

namespace cairn::repair {
namespace {

using chunk::device_status;
using chunk::shard_key;
using chunk::shard_state;

constexpr auto reply_timeout = std::chrono::seconds(30);

struct found_shard {
  placement::device_id device;
  shard_state state = shard_state::live;
};

/// One stripe of a slice's inventory: index -> where it was found.
struct stripe_inventory {
  std::uint32_t scheme = 0;
  std::map<std::uint32_t, found_shard> shards;
};

class pass {
 public:
  pass(caf::blocking_actor* self, repair_shared& shared, const std::vector<repair_device>& devices)
      : self_(self), shared_(shared), devices_(devices) {
    for (const auto& d : devices_)
      view_.devices.push_back({d.id, d.node, d.capacity_bytes, d.free_bytes,
                               d.actor ? d.state : placement::device_state::failed});
  }

  void run() {
    for (std::uint32_t slice = 0; slice < repair_status::slices && !shared_.stop.load(); ++slice) {
      repair_slice(static_cast<std::uint8_t>(slice));
      std::lock_guard lock(shared_.mutex);
      shared_.status.slices_done = slice + 1;
    }
  }

 private:
  const repair_device* device(placement::device_id id) const {
    for (const auto& d : devices_)
      if (d.id == id) return d.actor ? &d : nullptr;
    return nullptr;
  }

  /// A request expecting one uint8 (status or state); nullopt on no answer.
  template <class... Ts>
  std::optional<std::uint8_t> ask_u8(const caf::actor& a, Ts&&... args) {
    std::optional<std::uint8_t> out;
    self_->request(a, reply_timeout, std::forward<Ts>(args)...)
        .receive([&](std::uint8_t v) { out = v; }, [&](caf::error&) {});
    return out;
  }
  std::optional<std::string> ask_list(const caf::actor& a, const std::string& after) {
    std::optional<std::string> out;
    self_->request(a, reply_timeout, chunk::list_atom::value, after, chunk::list_entries_max)
        .receive([&](std::string& page) { out = std::move(page); }, [&](caf::error&) {});
    return out;
  }

  void inventory(std::uint8_t slice,
                 std::map<std::array<std::uint8_t, 32>, stripe_inventory>& out) {
    for (const auto& d : devices_) {
      if (!d.actor) continue;
      std::string after;
      if (slice > 0) {
        shard_key start;
        start.chunk.fill(0xff);
        start.chunk[0] = static_cast<std::uint8_t>(slice - 1);
        start.scheme = 0xffffffff;
        start.index = 0xffffffff;
        after = chunk::encode_shard_key(start);
      }
      for (bool more = true; more;) {
        const auto reply = ask_list(d.actor, after);
        if (!reply) break;  // a device that does not answer: its shards look missing
        const std::string& page = *reply;
        more = page.size() == chunk::list_entries_max * chunk::list_entry_bytes;
        for (std::size_t at = 0; at + chunk::list_entry_bytes <= page.size();
             at += chunk::list_entry_bytes) {
          const auto key_bytes = page.substr(at, chunk::shard_key_bytes);
          const auto key = chunk::decode_shard_key(key_bytes);
          if (!key || key->chunk[0] != slice) {
            more = false;
            break;
          }
          auto& inv = out[key->chunk];
          inv.scheme = key->scheme;
          inv.shards[key->index] =
              found_shard{d.id, static_cast<shard_state>(page[at + chunk::shard_key_bytes])};
          after = key_bytes;
        }
      }
    }
  }

  void repair_slice(std::uint8_t slice) {
    std::map<std::array<std::uint8_t, 32>, stripe_inventory> stripes;
    inventory(slice, stripes);
    for (const auto& [chunk_id, inv] : stripes) {
      if (shared_.stop.load()) return;
      repair_stripe(chunk_id, inv);
    }
  }

  shard_key key_of(const std::array<std::uint8_t, 32>& chunk_id, std::uint32_t scheme,
                   std::uint32_t index) const {
    shard_key k;
    k.chunk = chunk_id;
    k.scheme = scheme;
    k.index = index;
    return k;
  }

  /// Reads one shard; nullopt unless the device returns it verified.
  std::optional<std::vector<std::uint8_t>> read(placement::device_id dev, const shard_key& key,
                                                std::uint64_t* epoch) {
    const auto* d = device(dev);
    if (!d) return std::nullopt;
    std::optional<std::vector<std::uint8_t>> out;
    self_->request(d->actor, reply_timeout, chunk::get_atom::value, chunk::encode_shard_key(key))
        .receive(
            [&](std::uint8_t status, const std::string& bytes, std::uint64_t e) {
              if (status != static_cast<std::uint8_t>(device_status::ok)) return;
              out.emplace(bytes.begin(), bytes.end());
              if (epoch) *epoch = e;
            },
            [&](caf::error&) {});
    return out;
  }

  void repair_stripe(const std::array<std::uint8_t, 32>& chunk_id, const stripe_inventory& inv) {
    const auto scheme = chunk::scheme_by_id(inv.scheme);
    if (!scheme) return;  // not a stripe this build knows: leave it alone
    for (const auto& [index, s] : inv.shards)
      if (s.state == shard_state::in_bin || index >= scheme->width()) return;  // RA2
    stripe_state st;
    st.key.bytes = chunk_id;
    st.data_shards = scheme->data_shards;
    // Where an index found nowhere should be: placement's choice, unless
    // that device holds another index of this stripe (then an id no device
    // has, which the planner treats as lost).
    const auto placed = placement::place(view_, st.key, scheme->width());
    for (std::uint32_t i = 0; i < scheme->width(); ++i) {
      const auto it = inv.shards.find(i);
      if (it != inv.shards.end()) {
        st.devices.push_back(it->second.device);
        st.health.push_back(!device(it->second.device)                 ? shard_health::device_failed
                            : it->second.state == shard_state::corrupt ? shard_health::corrupt
                                                                       : shard_health::good);
        continue;
      }
      placement::device_id where{~std::uint64_t{0} - i};
      if (placed.ok()) {
        bool taken = false;
        for (const auto& [j, s] : inv.shards) taken |= s.device == placed.value[i];
        if (!taken) where = placed.value[i];
      }
      st.devices.push_back(where);
      st.health.push_back(device(where) ? shard_health::missing : shard_health::device_failed);
    }
    const auto plan = plan_stripe(view_, st);
    {
      std::lock_guard lock(shared_.mutex);
      shared_.status.progress.count(plan);
    }
    if (plan.outcome == stripe_plan::verdict::unrecoverable ||
        plan.outcome == stripe_plan::verdict::no_target) {
      if (shared_.on_event) shared_.on_event("stripe_unrecoverable", plan.reason);
      return;
    }
    if (plan.outcome != stripe_plan::verdict::repair) return;
    execute(chunk_id, inv.scheme, *scheme, st, plan);
  }

  void failed_rebuild() {
    std::lock_guard lock(shared_.mutex);
    ++shared_.status.rebuild_failures;
  }

  void execute(const std::array<std::uint8_t, 32>& chunk_id, std::uint32_t scheme_id,
               const chunk::ec_scheme& scheme, const stripe_state& st, const stripe_plan& plan) {
    const chunk::erasure_coder coder(scheme);
    std::vector<std::vector<std::uint8_t>> sources(scheme.width());
    std::vector<std::optional<std::span<const std::uint8_t>>> available(scheme.width());
    std::uint64_t epoch = 0;
    std::optional<std::size_t> shard_bytes;
    for (const auto idx : plan.rebuilds[0].sources) {
      auto got = read(st.devices[idx], key_of(chunk_id, scheme_id, idx), &epoch);
      // RA1: a source that no longer reads, or of another length: next pass.
      if (!got || (shard_bytes && got->size() != *shard_bytes)) return failed_rebuild();
      shard_bytes = got->size();
      sources[idx] = std::move(*got);
      available[idx] = std::span<const std::uint8_t>(sources[idx]);
    }
    for (const auto& r : plan.rebuilds) {
      std::vector<std::uint8_t> rebuilt(*shard_bytes);
      const std::uint32_t wanted[] = {r.index};
      const std::span<std::uint8_t> outs[] = {rebuilt};
      if (!coder.reconstruct(available, wanted, outs)) return failed_rebuild();
      const auto key = key_of(chunk_id, scheme_id, r.index);
      const auto* target = device(r.target);
      if (!target) return failed_rebuild();
      const auto status =
          ask_u8(target->actor, chunk::put_atom::value, chunk::encode_shard_key(key), epoch,
                 std::string(rebuilt.begin(), rebuilt.end()));
      if (status != static_cast<std::uint8_t>(device_status::ok)) {
        failed_rebuild();
        continue;
      }
      // RA1: the new copy reads back before anything old is retired.
      const auto check = read(r.target, key, nullptr);
      if (!check || *check != rebuilt) {
        failed_rebuild();
        continue;
      }
      // RA2: a delete that started while we rebuilt wins; take our copy back.
      if (stripe_deleted_meanwhile(chunk_id, scheme_id, scheme, st, r.index)) {
        ask_u8(target->actor, chunk::delete_atom::value, chunk::encode_shard_key(key));
        return;
      }
      if (!r.in_place)
        if (const auto* old = device(st.devices[r.index]))
          ask_u8(old->actor, chunk::delete_atom::value, chunk::encode_shard_key(key));
      std::lock_guard lock(shared_.mutex);
      ++shared_.status.progress.shards_rebuilt;
      ++shared_.status.shards_rebuilt_total;
      shared_.status.bytes_rebuilt += rebuilt.size();
      shared_.status.bytes_rebuilt_total += rebuilt.size();
    }
  }

  bool stripe_deleted_meanwhile(const std::array<std::uint8_t, 32>& chunk_id,
                                std::uint32_t scheme_id, const chunk::ec_scheme& scheme,
                                const stripe_state& st, std::uint32_t except) {
    for (std::uint32_t i = 0; i < scheme.width(); ++i) {
      if (i == except || st.health[i] != shard_health::good) continue;
      const auto* d = device(st.devices[i]);
      if (!d) continue;
      const auto state = ask_u8(d->actor, chunk::stat_atom::value,
                                chunk::encode_shard_key(key_of(chunk_id, scheme_id, i)))
                             .value_or(0);
      if (state != static_cast<std::uint8_t>(shard_state::live) &&
          state != static_cast<std::uint8_t>(shard_state::corrupt))
        return true;
    }
    return false;
  }

  caf::blocking_actor* self_;
  repair_shared& shared_;
  const std::vector<repair_device>& devices_;
  placement::cluster_view view_;
};

}  // namespace

void repair_actor(caf::blocking_actor* self, std::shared_ptr<repair_shared> shared) {
  repair_devices devices = std::make_shared<const std::vector<repair_device>>();
  bool running = true;
  bool start_requested = false;
  auto on_start = [&](repair_start_atom) { start_requested = true; };
  auto on_devices = [&](repair_devices_atom, repair_devices d) {
    if (d) devices = std::move(d);
  };
  // Blocking actors get exit messages as ordinary messages.
  auto on_exit = [&](caf::exit_msg& m) {
    running = false;
    self->fail_state(std::move(m.reason));
  };
  while (running) {
    self->receive(on_start, on_devices, on_exit);
    // Fold everything already queued (several starts are one pass).
    while (running && !self->mailbox().empty()) self->receive(on_start, on_devices, on_exit);
    if (!running || !start_requested) continue;
    start_requested = false;
    {
      std::lock_guard lock(shared->mutex);
      auto& s = shared->status;
      s.running = true;
      ++s.passes_started;
      s.slices_done = 0;
      s.progress = {};
      s.bytes_rebuilt = 0;
      s.rebuild_failures = 0;
    }
    const auto snapshot = devices;  // the set stays fixed for the pass
    pass(self, *shared, *snapshot).run();
    std::string summary;
    {
      std::lock_guard lock(shared->mutex);
      auto& s = shared->status;
      s.running = false;
      ++s.passes_finished;
      summary = s.progress.render();
    }
    if (shared->on_event) shared->on_event("repair_pass_finished", summary);
  }
}

}  // namespace cairn::repair
