// actors/chunk/device_actor.cpp — see device_actor.h.
#include "actors/chunk/device_actor.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

namespace cairn::chunk {
namespace {

std::uint8_t code(device_status s) {
  return static_cast<std::uint8_t>(s);
}

void put_be32(char* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * (3 - i)));
}
std::uint32_t get_be32(const char* in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  return v;
}

device_stats stats_of(const device_store& store) {
  device_stats s;
  s.device_id = store.super().device_id;
  s.counters = store.counters();
  s.segment_bytes = store.super().segment_bytes;
  s.segment_count = store.segment_count();
  s.segments_in_use = store.segments_in_use();
  s.above_warn_threshold = store.above_warn_threshold();
  s.failed = store.failed();
  return s;
}

/// Tells the observer what changed: events on transitions, then figures.
void report(device_actor_state& st, const std::optional<shard_key>& corrupt = std::nullopt) {
  if (!st.options.observer) return;
  auto& obs = *st.options.observer;
  const auto stats = stats_of(*st.store);
  auto event = [&](device_event::kind k, std::optional<shard_key> key = std::nullopt) {
    obs.on_event(device_event{k, stats.device_id, key});
  };
  if (corrupt) event(device_event::kind::corrupt_shard, corrupt);
  if (stats.failed && !st.reported_failed) event(device_event::kind::device_failed);
  if (stats.above_warn_threshold && !st.reported_warn) event(device_event::kind::capacity_warning);
  // Refusals: one event until usage drops below the warn threshold again.
  if (stats.counters.refused_full > st.refused_seen && !st.reported_refusing) {
    event(device_event::kind::capacity_refused);
    st.reported_refusing = true;
  }
  if (!stats.above_warn_threshold) st.reported_refusing = false;
  st.reported_failed = stats.failed;
  st.reported_warn = stats.above_warn_threshold;
  st.refused_seen = stats.counters.refused_full;
  obs.on_stats(stats);
}

void flush_pending(device_actor_state& st) {
  if (st.pending.empty()) return;
  std::vector<append_request> batch;
  batch.reserve(st.pending.size());
  for (const auto& p : st.pending)
    batch.push_back(
        {p.key, p.epoch,
         std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(p.payload.data()),
                                       p.payload.size())});
  const auto statuses = st.store->append(batch);
  report(st);  // before the replies: whoever hears "ok" finds the figures current
  for (std::size_t i = 0; i < st.pending.size(); ++i)
    st.pending[i].reply.deliver(code(statuses[i]));
  st.pending.clear();
  st.pending_bytes = 0;
}

}  // namespace

const char* device_actor_state::name = "chunk_device";

std::string_view to_string(device_event::kind k) {
  switch (k) {
    case device_event::kind::corrupt_shard:
      return "corrupt_shard";
    case device_event::kind::device_failed:
      return "device_failed";
    case device_event::kind::capacity_warning:
      return "capacity_warning";
    case device_event::kind::capacity_refused:
      return "capacity_refused";
  }
  return "unknown";
}

std::string encode_shard_key(const shard_key& key) {
  std::string out(shard_key_bytes, '\0');
  std::memcpy(out.data(), key.chunk.data(), key.chunk.size());
  put_be32(out.data() + 32, key.scheme);
  put_be32(out.data() + 36, key.index);
  return out;
}

std::optional<shard_key> decode_shard_key(const std::string& bytes) {
  if (bytes.size() != shard_key_bytes) return std::nullopt;
  shard_key key;
  std::memcpy(key.chunk.data(), bytes.data(), key.chunk.size());
  key.scheme = get_be32(bytes.data() + 32);
  key.index = get_be32(bytes.data() + 36);
  return key;
}

std::string describe_device_json(const device_store& store) {
  const auto& sb = store.super();
  const auto& r = store.recovery();
  const auto& c = store.counters();
  nlohmann::json j;
  j["device_id"] = sb.device_id;
  j["node_id"] = sb.node_id;
  j["capacity_bytes"] = sb.capacity_bytes;
  j["segment_bytes"] = sb.segment_bytes;
  j["segment_count"] = sb.segment_count;
  j["segments_in_use"] = store.segments_in_use();
  j["above_warn_threshold"] = store.above_warn_threshold();
  j["failed"] = store.failed();
  j["recovery"] = {{"level", std::string(to_string(r.how))},
                   {"used_backup_superblock", r.used_backup_superblock},
                   {"records_replayed", r.records_replayed},
                   {"torn_records_discarded", r.torn_records_discarded},
                   {"unreadable_blocks_skipped", r.unreadable_blocks_skipped}};
  j["counters"] = {{"appends", c.appends},
                   {"appends_deduplicated", c.appends_deduplicated},
                   {"append_batches", c.append_batches},
                   {"bytes_appended", c.bytes_appended},
                   {"reads", c.reads},
                   {"corrupt_reads", c.corrupt_reads},
                   {"deletes", c.deletes},
                   {"restores", c.restores},
                   {"purges", c.purges},
                   {"refused_full", c.refused_full},
                   {"compaction_records_copied", c.compaction_records_copied},
                   {"segments_freed", c.segments_freed},
                   {"io_errors", c.io_errors}};
  return j.dump();
}

caf::behavior device_actor(caf::stateful_actor<device_actor_state>* self,
                           std::shared_ptr<device_store> store, device_actor_options options) {
  if (!options.clock)
    options.clock = [] {
      return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
    };
  self->state.store = store;
  self->state.options = std::move(options);
  // A clean close (L0 marker) when the actor goes, whatever the reason.
  self->attach_functor([store](const caf::error&) {
    if (!store->failed() && !store->closed()) store->close();
  });
  self->delayed_send(self, self->state.options.maintain_interval, maintain_timer_atom::value);
  report(self->state);  // the figures after recovery
  auto maintain = [self] {
    auto& st = self->state;
    st.store->purge_expired(st.options.clock(), st.options.purge_step_max);
    st.store->compact_step(st.options.compaction_step_bytes);
    report(st);
  };
  return {
      [self](put_atom, const std::string& key, std::uint64_t epoch,
             std::string& payload) -> caf::result<std::uint8_t> {
        auto& st = self->state;
        auto k = decode_shard_key(key);
        if (!k) return code(device_status::invalid);
        auto rp = self->make_response_promise();
        st.pending_bytes += payload.size();
        st.pending.push_back({*k, epoch, std::move(payload), rp});
        if (st.pending.size() >= st.options.batch_appends_max ||
            st.pending_bytes >= st.options.batch_bytes_max) {
          flush_pending(st);
        } else if (!st.flush_scheduled) {
          st.flush_scheduled = true;
          self->send(self, flush_atom::value);  // after what is already queued
        }
        return caf::delegated<std::uint8_t>{};
      },
      [self](flush_atom) {
        self->state.flush_scheduled = false;
        flush_pending(self->state);
      },
      [self](get_atom,
             const std::string& key) -> caf::result<std::uint8_t, std::string, std::uint64_t> {
        auto k = decode_shard_key(key);
        if (!k) return {code(device_status::invalid), std::string{}, std::uint64_t{0}};
        std::span<const std::uint8_t> out;  // into the store's buffer: copied once, below
        std::uint64_t epoch = 0;
        const auto s = self->state.store->read_view(*k, out, &epoch);
        if (s == device_status::corrupt)
          report(self->state, k);
        else if (s == device_status::io_error)
          report(self->state);
        return {code(s), std::string(reinterpret_cast<const char*>(out.data()), out.size()), epoch};
      },
      [self](delete_atom, const std::string& key) -> std::uint8_t {
        auto k = decode_shard_key(key);
        if (!k) return code(device_status::invalid);
        flush_pending(self->state);  // a delete never overtakes a queued put
        const auto s = self->state.store->remove(*k, self->state.options.clock());
        report(self->state);
        return code(s);
      },
      [self](restore_atom, const std::string& key) -> std::uint8_t {
        auto k = decode_shard_key(key);
        if (!k) return code(device_status::invalid);
        return code(self->state.store->restore(*k, self->state.options.clock()));
      },
      [maintain](maintain_atom) { maintain(); },
      [self, maintain](maintain_timer_atom) {
        maintain();
        self->delayed_send(self, self->state.options.maintain_interval, maintain_timer_atom::value);
      },
      [self](describe_atom) { return describe_device_json(*self->state.store); },
      [self](stat_atom, const std::string& key) -> std::uint8_t {
        auto k = decode_shard_key(key);
        if (!k) return 0;
        const auto state = self->state.store->state_of(*k);
        return state ? static_cast<std::uint8_t>(*state) : 0;
      },
      [self](list_atom, const std::string& after, std::uint32_t max) -> std::string {
        std::optional<shard_key> from;
        if (!after.empty()) {
          from = decode_shard_key(after);
          if (!from) return {};
        }
        std::string out;
        for (const auto& [k, state] :
             self->state.store->list(from, std::min(max, list_entries_max))) {
          out += encode_shard_key(k);
          out.push_back(static_cast<char>(state));
        }
        return out;
      },
      [self](close_atom) -> std::uint8_t {
        flush_pending(self->state);
        return code(self->state.store->close());
      },
  };
}

}  // namespace cairn::chunk
