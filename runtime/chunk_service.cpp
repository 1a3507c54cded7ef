// runtime/chunk_service.cpp — see chunk_service.h.
#include "runtime/chunk_service.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <mutex>
#include <sstream>

#include "actors/chunk/device_actor.h"
#include "actors/keys/internal_key_provider.h"
#include "actors/keys/key_manager_actor.h"
#include "actors/keys/openssl_random_source.h"
#include "actors/repair/repair_actor.h"
#include "runtime/file_block_device.h"
#include "runtime/lmdb_chunk_index.h"
#include "runtime/lmdb_key_store.h"
#include "runtime/master_key_file.h"
#include "runtime/system_key_store.h"

namespace cairn::runtime {
namespace {

/// Device ids are cluster-wide (they enter placement): node id in the high
/// bits, the device's position in the node's list in the low 16.
std::uint64_t device_id_of(std::uint64_t node, std::size_t position) {
  return (node << 16) | static_cast<std::uint64_t>(position);
}

/// Smaller devices get smaller segments, so that a test device still has
/// enough segments for compaction to have room (docs/chunk.md).
std::uint64_t segment_bytes_for(std::uint64_t device_bytes) {
  if (device_bytes >= (std::uint64_t{4} << 30)) return 64ull << 20;
  if (device_bytes >= (std::uint64_t{256} << 20)) return 16ull << 20;
  return 4ull << 20;
}

/// Index map size: generous (sparse), the index of a device is ~100 bytes
/// per shard.
constexpr std::uint64_t index_map_bytes = 1ull << 30;

}  // namespace

struct chunk_service::impl {
  struct device_slot {
    std::uint64_t id = 0;
    std::string path;
    std::unique_ptr<file_block_device> block;
    std::unique_ptr<lmdb_chunk_index> index;
    std::shared_ptr<chunk::device_store> store;
    caf::actor actor;
    /// Under `mutex`:
    std::string error;  // why it is failed (open error or I/O failure)
    bool failed = false;
    chunk::device_stats stats;
    std::string recovery;
  };

  /// Hears one device (on its actor's thread). Holds the slot itself, not
  /// its position: the actor reports before its slot joins `slots`.
  struct observer final : chunk::device_observer {
    observer(impl& owner, device_slot& slot) : owner(owner), slot(slot) {}
    void on_event(const chunk::device_event& e) override { owner.device_event(slot, e); }
    void on_stats(const chunk::device_stats& s) override {
      std::lock_guard lock(owner.mutex);
      slot.stats = s;
    }
    impl& owner;
    device_slot& slot;
  };

  impl(caf::actor_system& sys, chunk_service_options options, event_log& events)
      : sys(sys), options(std::move(options)), events(events) {}

  caf::actor_system& sys;
  chunk_service_options options;
  event_log& events;
  caf::actor key_manager;
  keys::secret_bytes cluster_key;
  caf::actor repairer;
  std::shared_ptr<repair::repair_shared> repair_shared = std::make_shared<repair::repair_shared>();
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<device_slot>> slots;
  bool stopped = false;

  void start_keys() {
    auto parts = std::make_shared<keys::key_manager_parts>();
    parts->random = std::make_unique<keys::openssl_random_source>();
    const auto dir = std::filesystem::path(options.data_dir) / "keys";
    auto master = load_or_create_master_key((dir / "master.key").string(), *parts->random);
    if (master.created)
      events.record(event_severity::warning, "master_key_created", "keys",
                    "a new node master key was created at " + (dir / "master.key").string() +
                        ": back it up; every tenant key on this node is wrapped under it");
    cluster_key = keys::secret_bytes::copy_of(master.key.bytes());
    parts->provider =
        std::make_unique<keys::internal_key_provider>(std::move(master.key), *parts->random);
    if (options.system_shard) {
      // ADR 0006: every node's key manager over the same records.
      parts->store = std::make_unique<system_key_store>(sys, options.system_shard);
      parts->reload_on_miss = true;
    } else {
      parts->store = std::make_unique<lmdb_key_store>((dir / "records").string());
    }
    keys::load_key_manager(*parts);
    key_manager = sys.spawn<caf::detached>(keys::key_manager_actor, parts);
  }

  std::vector<std::string> device_paths() const {
    if (!options.devices.empty()) return options.devices;
    std::vector<std::string> out;
    for (std::uint64_t i = 0; i < options.dev_devices; ++i)
      out.push_back(
          (std::filesystem::path(options.data_dir) / "devices" / ("dev" + std::to_string(i)))
              .string());
    return out;
  }

  void open_device(std::size_t position, const std::string& path) {
    auto slot = std::make_unique<device_slot>();
    slot->id = device_id_of(options.node_id, position);
    slot->path = path;
    const std::string source = "device " + std::to_string(slot->id);
    try {
      std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      const bool fresh = !std::filesystem::exists(path);
      file_block_device_options fo;
      fo.create_bytes = fresh ? options.device_mb << 20 : 0;
      slot->block = std::make_unique<file_block_device>(path, fo);
      slot->index = std::make_unique<lmdb_chunk_index>(path + ".index", index_map_bytes);
      std::optional<chunk::format_options> format;
      if (fresh) {
        format.emplace();
        format->segment_bytes = segment_bytes_for(slot->block->size_bytes());
        format->device_id = slot->id;
        format->node_id = options.node_id;
        keys::openssl_random_source random;
        random.fill(format->device_uuid);
      }
      auto opened = chunk::device_store::open(*slot->block, *slot->index, {}, format);
      if (auto* error = std::get_if<std::string>(&opened)) throw std::runtime_error(*error);
      slot->store = std::move(std::get<std::unique_ptr<chunk::device_store>>(opened));
      const auto& r = slot->store->recovery();
      std::ostringstream how;
      how << chunk::to_string(r.how);
      if (r.used_backup_superblock) how << ", backup superblock";
      if (r.records_replayed) how << ", " << r.records_replayed << " records replayed";
      if (r.torn_records_discarded) how << ", " << r.torn_records_discarded << " torn discarded";
      slot->recovery = how.str();
      events.record(r.used_backup_superblock || r.damaged_segment_headers ? event_severity::warning
                                                                          : event_severity::info,
                    "device_opened", source, path + ": " + slot->recovery,
                    {{"path", path}, {"device", slot->id}});
      // Figures from the start (the actor's first report may come later).
      slot->stats.device_id = slot->id;
      slot->stats.segment_bytes = slot->store->super().segment_bytes;
      slot->stats.segment_count = slot->store->segment_count();
      slot->stats.segments_in_use = slot->store->segments_in_use();
      chunk::device_actor_options ao;
      ao.observer = std::make_shared<observer>(*this, *slot);
      slot->actor = sys.spawn<caf::detached>(chunk::device_actor, slot->store, ao);
    } catch (const std::exception& e) {
      // CS1: reported, and the node carries on without it.
      slot->failed = true;
      slot->error = e.what();
      slot->store.reset();
      slot->index.reset();
      slot->block.reset();
      events.record(event_severity::error, "device_open_failed", source,
                    path + ": " + e.what() + " (the device stays out of service)",
                    {{"path", path}, {"device", slot->id}});
    }
    std::lock_guard lock(mutex);
    slots.push_back(std::move(slot));
  }

  void device_event(device_slot& slot, const chunk::device_event& e) {
    const std::string source = "device " + std::to_string(e.device_id);
    bool repair_now = false;
    switch (e.what) {
      case chunk::device_event::kind::corrupt_shard: {
        std::string key = "-";
        if (e.key) {
          static constexpr char hex[] = "0123456789abcdef";
          key.clear();
          for (int i = 0; i < 8; ++i) {
            key += hex[e.key->chunk[i] >> 4];
            key += hex[e.key->chunk[i] & 15];
          }
          key += "... shard " + std::to_string(e.key->index);
        }
        events.record(event_severity::warning, "corrupt_shard", source,
                      "shard " + key + " failed its check: not returned, queued for repair",
                      {{"device", e.device_id}});
        repair_now = true;
        break;
      }
      case chunk::device_event::kind::device_failed: {
        {
          std::lock_guard lock(mutex);
          slot.failed = true;
          slot.error = "I/O failure: the device stopped (fail-stop)";
        }
        events.record(event_severity::error, "device_failed", source,
                      "an I/O failed; the device stopped and its shards will be rebuilt elsewhere",
                      {{"device", e.device_id}});
        repair_now = true;
        break;
      }
      case chunk::device_event::kind::capacity_warning:
        events.record(event_severity::warning, "device_capacity_warning", source, "above 95% full",
                      {{"device", e.device_id}});
        break;
      case chunk::device_event::kind::capacity_refused:
        events.record(event_severity::error, "device_full", source,
                      "writes refused: the device is full (99%)", {{"device", e.device_id}});
        break;
    }
    if (repair_now) {
      publish_repair_devices();
      caf::anon_send(repairer, repair::repair_start_atom::value);
    }
  }

  /// Every device as placement sees it, with its actor (null when failed).
  std::vector<std::pair<placement::device, caf::actor>> endpoints() const {
    std::lock_guard lock(mutex);
    std::vector<std::pair<placement::device, caf::actor>> out;
    for (const auto& s : slots) {
      const bool up = !s->failed && s->actor;
      const auto capacity = s->stats.segment_count * s->stats.segment_bytes;
      const auto used = s->stats.segments_in_use * s->stats.segment_bytes;
      out.emplace_back(
          placement::device{placement::device_id{s->id}, placement::node_id{options.node_id},
                            capacity, capacity > used ? capacity - used : 0,
                            up ? placement::device_state::in : placement::device_state::failed},
          up ? s->actor : caf::actor{});
    }
    return out;
  }

  void publish_repair_devices() {
    auto list = std::make_shared<std::vector<repair::repair_device>>();
    for (const auto& [d, actor] : endpoints())
      list->push_back({d.id, d.node, actor, d.capacity_bytes, d.free_bytes, d.state});
    caf::anon_send(repairer, repair::repair_devices_atom::value,
                   repair::repair_devices{std::move(list)});
  }
};

chunk_service::chunk_service(caf::actor_system& sys, chunk_service_options options,
                             event_log& events)
    : impl_(std::make_unique<impl>(sys, std::move(options), events)) {}

chunk_service::~chunk_service() {
  stop();
}

void chunk_service::start() {
  auto& d = *impl_;
  d.start_keys();
  d.repair_shared->on_event = [&d](const std::string& kind, const std::string& message) {
    constexpr std::string_view prefix = "repair: ";  // repair_progress::render()'s
    d.events.record(kind == "stripe_unrecoverable" ? event_severity::error : event_severity::info,
                    kind, "repair",
                    message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message);
  };
  d.repairer = d.sys.spawn<caf::detached>(repair::repair_actor, d.repair_shared);
  const auto paths = d.device_paths();
  for (std::size_t i = 0; i < paths.size(); ++i) d.open_device(i, paths[i]);
  d.publish_repair_devices();
}

void chunk_service::stop() {
  auto& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  caf::scoped_actor self{d.sys};
  if (d.repairer) {
    d.repair_shared->stop = true;
    self->send_exit(d.repairer, caf::exit_reason::user_shutdown);
    self->wait_for(d.repairer);
  }
  for (auto& s : d.slots) {
    if (!s->actor) continue;
    self->request(s->actor, std::chrono::seconds(60), chunk::close_atom::value)
        .receive([](std::uint8_t) {}, [](caf::error&) {});
    self->send_exit(s->actor, caf::exit_reason::user_shutdown);
    self->wait_for(s->actor);
    s->actor = caf::actor{};
  }
  if (d.key_manager) {
    self->send_exit(d.key_manager, caf::exit_reason::user_shutdown);
    self->wait_for(d.key_manager);
  }
  std::lock_guard lock(d.mutex);
  for (auto& s : d.slots) {
    s->store.reset();
    s->index.reset();
    s->block.reset();
  }
}

caf::actor chunk_service::key_manager() const {
  return impl_->key_manager;
}

std::vector<std::pair<std::uint64_t, caf::actor>> chunk_service::devices() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::pair<std::uint64_t, caf::actor>> out;
  for (const auto& s : impl_->slots)
    if (!s->failed && s->actor) out.emplace_back(s->id, s->actor);
  return out;
}

keys::secret_bytes chunk_service::cluster_key() const {
  return keys::secret_bytes::copy_of(impl_->cluster_key.bytes());
}

std::vector<std::pair<placement::device, caf::actor>> chunk_service::device_endpoints() const {
  return impl_->endpoints();
}

nlohmann::json chunk_service::devices_json() const {
  std::lock_guard lock(impl_->mutex);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : impl_->slots) {
    const auto& st = s->stats;
    nlohmann::json j{{"id", s->id},
                     {"path", s->path},
                     {"state", s->failed ? "failed" : "up"},
                     {"capacity_bytes", st.segment_count * st.segment_bytes},
                     {"used_bytes", st.segments_in_use * st.segment_bytes},
                     {"above_warn_threshold", st.above_warn_threshold},
                     {"recovery", s->recovery},
                     {"shards_written", st.counters.appends},
                     {"bytes_written", st.counters.bytes_appended},
                     {"reads", st.counters.reads},
                     {"corrupt_reads", st.counters.corrupt_reads},
                     {"io_errors", st.counters.io_errors},
                     {"refused_full", st.counters.refused_full}};
    if (!s->error.empty()) j["error"] = s->error;
    list.push_back(std::move(j));
  }
  return {{"devices", list}};
}

nlohmann::json chunk_service::repair_json() const {
  const auto s = impl_->repair_shared->snapshot();
  return {{"running", s.running},
          {"passes_started", s.passes_started},
          {"passes_finished", s.passes_finished},
          {"slices_done", s.slices_done},
          {"slices", repair::repair_status::slices},
          {"stripes_seen", s.progress.stripes_seen},
          {"stripes_healthy", s.progress.stripes_healthy},
          {"stripes_degraded", s.progress.stripes_degraded},
          {"stripes_unrecoverable", s.progress.stripes_unrecoverable},
          {"shards_planned", s.progress.shards_planned},
          {"shards_rebuilt", s.progress.shards_rebuilt},
          {"bytes_rebuilt", s.bytes_rebuilt},
          {"rebuild_failures", s.rebuild_failures},
          {"shards_rebuilt_total", s.shards_rebuilt_total},
          {"bytes_rebuilt_total", s.bytes_rebuilt_total},
          {"summary", s.progress.render()}};
}

void chunk_service::start_repair() {
  impl_->publish_repair_devices();
  caf::anon_send(impl_->repairer, repair::repair_start_atom::value);
}

std::string chunk_service::metrics_text() const {
  std::ostringstream o;
  auto family = [&](const char* name, const char* help, const char* type) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  std::vector<std::tuple<std::uint64_t, bool, chunk::device_stats>> devs;
  {
    std::lock_guard lock(impl_->mutex);
    for (const auto& s : impl_->slots) devs.emplace_back(s->id, s->failed, s->stats);
  }
  auto per_device = [&](const char* name, const char* help, const char* type, auto get) {
    family(name, help, type);
    for (const auto& [id, failed, st] : devs)
      o << name << "{device=\"" << id << "\"} " << get(failed, st) << '\n';
  };
  using stats = chunk::device_stats;
  per_device("cairn_device_up", "1 while the chunk device serves, 0 once failed.", "gauge",
             [](bool failed, const stats&) { return failed ? 0 : 1; });
  per_device("cairn_device_capacity_bytes", "Bytes of the device's data segments.", "gauge",
             [](bool, const stats& s) { return s.segment_count * s.segment_bytes; });
  per_device("cairn_device_used_bytes", "Bytes of segments in use.", "gauge",
             [](bool, const stats& s) { return s.segments_in_use * s.segment_bytes; });
  per_device("cairn_device_shards_written_total", "Shard records appended.", "counter",
             [](bool, const stats& s) { return s.counters.appends; });
  per_device("cairn_device_written_bytes_total", "Payload bytes appended.", "counter",
             [](bool, const stats& s) { return s.counters.bytes_appended; });
  per_device("cairn_device_reads_total", "Shard reads.", "counter",
             [](bool, const stats& s) { return s.counters.reads; });
  per_device("cairn_device_corrupt_reads_total",
             "Shard reads that failed their CRC (never returned).", "counter",
             [](bool, const stats& s) { return s.counters.corrupt_reads; });
  per_device("cairn_device_io_errors_total", "I/O errors.", "counter",
             [](bool, const stats& s) { return s.counters.io_errors; });
  per_device("cairn_device_refused_full_total", "Writes refused because the device was full.",
             "counter", [](bool, const stats& s) { return s.counters.refused_full; });
  per_device("cairn_device_segments_freed_total", "Segments freed by compaction.", "counter",
             [](bool, const stats& s) { return s.counters.segments_freed; });
  const auto r = impl_->repair_shared->snapshot();
  family("cairn_repair_running", "1 while a repair pass runs.", "gauge");
  o << "cairn_repair_running " << (r.running ? 1 : 0) << '\n';
  family("cairn_repair_passes_total", "Repair passes finished.", "counter");
  o << "cairn_repair_passes_total " << r.passes_finished << '\n';
  family("cairn_repair_shards_rebuilt_total", "Shards rebuilt by repair.", "counter");
  o << "cairn_repair_shards_rebuilt_total " << r.shards_rebuilt_total << '\n';
  family("cairn_repair_stripes_degraded", "Degraded stripes seen by the last pass.", "gauge");
  o << "cairn_repair_stripes_degraded " << r.progress.stripes_degraded << '\n';
  family("cairn_repair_stripes_unrecoverable", "Unrecoverable stripes seen by the last pass.",
         "gauge");
  o << "cairn_repair_stripes_unrecoverable " << r.progress.stripes_unrecoverable << '\n';
  family("cairn_events_total", "Events written to the event log, by kind.", "counter");
  for (const auto& [kind, n] : impl_->events.counts())
    o << "cairn_events_total{kind=\"" << kind << "\"} " << n << '\n';
  return o.str();
}

}  // namespace cairn::runtime
