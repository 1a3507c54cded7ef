// sim/stripe_sim.cpp — see stripe_sim.h.
#include "sim/stripe_sim.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include "actors/chunk/device_store.h"
#include "actors/chunk/erasure_code.h"
#include "actors/chunk/stripe_codec.h"
#include "actors/keys/seal.h"
#include "actors/placement/placement.h"
#include "actors/repair/repair_planner.h"
#include "sim/sim_block_device.h"

namespace cairn::sim {
namespace {

using chunk::device_status;

constexpr std::uint32_t device_count = 8;        // on device_count / 2 nodes
constexpr std::uint64_t device_bytes = 8 << 20;  // 31 segments of 256 KiB
constexpr std::uint64_t segment_bytes = 256 * 1024;
constexpr std::uint64_t stripes_max = 40;
constexpr std::uint64_t chunk_bytes_max = 40'000;
constexpr std::uint64_t step_ms = 100;
constexpr std::uint64_t retention_ms = 2'000;
constexpr std::uint64_t tenant_epoch = 1;

class rng {
 public:
  explicit rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

 private:
  std::uint64_t state_;
};

struct sim_device {
  std::uint64_t id = 0;
  std::unique_ptr<sim_block_device> block;
  std::unique_ptr<chunk::memory_chunk_index> index;
  std::unique_ptr<chunk::device_store> store;
  bool lost = false;
  /// Slow (a drive retrying, a saturated link) until this virtual time:
  /// readers treat it as timed out and read parity instead.
  std::uint64_t slow_until_ms = 0;
};

enum class life : std::uint8_t { live, in_bin, purged };

struct stripe {
  keys::chunk_id id{};
  std::vector<std::uint8_t> plaintext;
  placement::shard_devices devices;
  std::vector<std::vector<std::uint8_t>> expected;  // index -> stored bytes
  std::vector<bool> bad;  // index -> a fault hit this copy and repair has not replaced it
  life state = life::live;
  std::uint64_t deleted_at_ms = 0;
};

struct fault_profile {
  double corrupt = 0, read_error = 0, crash = 0, lose_device = 0, misdirect = 0, slow = 0;
};

class stripe_world {
 public:
  explicit stripe_world(const stripe_sim_options& o)
      : options_(o), random_(o.seed), scheme_(draw_scheme()), coder_(scheme_) {
    result_.scheme = std::string(scheme_.name);
    dedup_key_ = keys::secret_bytes(keys::tenant_key_bytes);
    data_key_ = keys::secret_bytes(keys::tenant_key_bytes);
    for (std::size_t i = 0; i < keys::tenant_key_bytes; ++i) {
      dedup_key_.writable()[i] = static_cast<std::uint8_t>(random_.next());
      data_key_.writable()[i] = static_cast<std::uint8_t>(random_.next());
    }
    if (o.faults) {  // swarm: each seed its own rates
      faults_.corrupt = 0.3 * static_cast<double>(random_.below(100)) / 100.0;
      faults_.read_error = 0.1 * static_cast<double>(random_.below(100)) / 100.0;
      faults_.crash = 0.08 * static_cast<double>(random_.below(100)) / 100.0;
      faults_.lose_device = 0.02 * static_cast<double>(random_.below(100)) / 100.0;
      faults_.misdirect = 0.1 * static_cast<double>(random_.below(100)) / 100.0;
      faults_.slow = 0.05 * static_cast<double>(random_.below(100)) / 100.0;
    }
    for (std::uint32_t d = 0; d < device_count; ++d) {
      auto dev = std::make_unique<sim_device>();
      dev->id = d;
      dev->block = std::make_unique<sim_block_device>(device_bytes, random_.next());
      dev->index = std::make_unique<chunk::memory_chunk_index>();
      chunk::format_options f;
      f.segment_bytes = segment_bytes;
      f.device_id = d;
      f.node_id = d / 2;
      auto opened = chunk::device_store::open(*dev->block, *dev->index, device_options(), f);
      dev->store = std::move(std::get<std::unique_ptr<chunk::device_store>>(opened));
      devices_.push_back(std::move(dev));
    }
  }

  stripe_sim_result run() {
    const std::uint64_t fault_steps = options_.steps * 2 / 3;
    for (step_ = 0; step_ < options_.steps && result_.ok; ++step_) {
      now_ms_ += step_ms;
      const bool faulty = options_.faults && step_ < fault_steps;
      if (faulty) inject_faults();
      workload_step(faulty);
      repair_pass(faulty ? 2 : stripes_.size());
      maintenance();
      check_deleted_never_resurrected();
    }
    if (result_.ok) check_redundancy_restored();
    result_.trace_hash = hash_;
    return result_;
  }

 private:
  // --- helpers ----------------------------------------------------------------
  chunk::ec_scheme draw_scheme() {
    static constexpr chunk::scheme_id choices[] = {
        chunk::scheme_id::replicate_3, chunk::scheme_id::rs_4_2, chunk::scheme_id::rs_5_2};
    return *chunk::scheme_by_id(static_cast<std::uint32_t>(choices[random_.below(3)]));
  }
  static chunk::device_options device_options() {
    chunk::device_options o;
    o.retention_ms = retention_ms;
    return o;
  }
  void trace(const std::string& event) {
    if (verbose_)
      std::fprintf(stderr, "[%llu] %s\n", static_cast<unsigned long long>(step_), event.c_str());
    for (char c : event) hash_ = (hash_ ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ull;
    hash_ = (hash_ ^ 0xff) * 0x100000001b3ull;
  }
  void fail(const std::string& checker, const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = checker + ": " + what + " (step " + std::to_string(step_) + ", scheme " +
                      std::string(scheme_.name) + ")";
  }
  chunk::shard_key key_of(const stripe& s, std::uint32_t index) const {
    chunk::shard_key k;
    k.chunk = s.id;
    k.scheme = static_cast<std::uint32_t>(scheme_.id);
    k.index = index;
    return k;
  }
  sim_device& device(placement::device_id id) { return *devices_[id.value]; }
  placement::cluster_view view() const {
    placement::cluster_view v;
    for (const auto& d : devices_) {
      const std::uint64_t used = d->store ? d->store->segments_in_use() * segment_bytes : 0;
      v.devices.push_back(
          {placement::device_id{d->id}, placement::node_id{d->id / 2}, device_bytes,
           device_bytes - std::min(device_bytes, used),
           d->lost ? placement::device_state::failed : placement::device_state::in});
    }
    return v;
  }
  std::string devices_of(const stripe& s) const {
    std::string out;
    for (auto d : s.devices) out += std::to_string(d.value) + ",";
    return out;
  }
  std::uint32_t bad_count(const stripe& s) const {
    return static_cast<std::uint32_t>(std::count(s.bad.begin(), s.bad.end(), true));
  }
  std::vector<std::size_t> stripes_in(life state) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < stripes_.size(); ++i)
      if (stripes_[i].state == state) out.push_back(i);
    return out;
  }

  /// The stored form of a chunk (ADR 0004).
  std::vector<std::vector<std::uint8_t>> encode(const keys::chunk_id& id,
                                                const std::vector<std::uint8_t>& plaintext) {
    return chunk::encode_stripe(coder_, chunk_key_of(id), {id, tenant_epoch}, plaintext);
  }
  keys::secret_bytes chunk_key_of(const keys::chunk_id& id) const {
    return keys::derive_chunk_key(data_key_, id, static_cast<std::uint32_t>(scheme_.id));
  }
  /// Reads one shard copy from its device; nullopt if not readable.
  std::optional<std::vector<std::uint8_t>> read_shard(const stripe& s, std::uint32_t index,
                                                      device_status* status = nullptr) {
    auto& dev = device(s.devices[index]);
    if (dev.lost || !dev.store) {
      if (status) *status = device_status::io_error;
      return std::nullopt;
    }
    std::vector<std::uint8_t> out;
    const auto st = dev.store->read(key_of(s, index), out);
    if (status) *status = st;
    if (st != device_status::ok) return std::nullopt;
    return out;
  }

  /// The read path: data shards first, parity only for missing or bad
  /// ones (stripe_codec authenticates every data shard, rebuilt or not).
  /// Slow devices are hedged: their shards are read last, only when the
  /// others do not make k (a real reader times out and reads parity).
  std::optional<std::vector<std::uint8_t>> read_stripe(const stripe& s, bool* degraded) {
    const auto k = scheme_.data_shards;
    std::vector<std::optional<std::vector<std::uint8_t>>> got(scheme_.width());
    std::vector<bool> tried(scheme_.width(), false);
    std::uint32_t have = 0;
    auto fetch = [&](std::uint32_t i) {
      tried[i] = true;
      if ((got[i] = read_shard(s, i))) ++have;
    };
    // Data shards first, then parity, each pass skipping slow devices; a
    // final pass waits for the slow ones.
    for (const bool wait_for_slow : {false, true}) {
      for (std::uint32_t i = 0; i < scheme_.width() && have < k; ++i)
        if (!tried[i] && (wait_for_slow || !slow(s, i))) fetch(i);
      if (have >= k) break;
    }
    *degraded = false;
    for (std::uint32_t i = 0; i < k; ++i) *degraded |= !got[i].has_value();
    const auto key = chunk_key_of(s.id);
    chunk::decode_report report;
    auto plaintext =
        chunk::decode_stripe(coder_, key, {s.id, tenant_epoch}, s.plaintext.size(), got, &report);
    if (!plaintext) {  // a shard failed its tag: every remaining shard
      *degraded = true;
      for (std::uint32_t i = 0; i < scheme_.width(); ++i)
        if (!tried[i]) fetch(i);
      plaintext =
          chunk::decode_stripe(coder_, key, {s.id, tenant_epoch}, s.plaintext.size(), got, &report);
    }
    for (std::uint32_t i = 0; i < scheme_.width(); ++i)
      if (tried[i] && slow(s, i)) {
        ++result_.reads_waited_on_slow;
        break;
      }
    return plaintext;
  }

  // --- workload ---------------------------------------------------------------
  void workload_step(bool faulty) {
    const auto op = random_.below(10);
    if (op < 3 && stripes_.size() < stripes_max) return write_stripe(faulty);
    if (op < 7) return read_some_stripe();
    if (op == 7) return delete_some_stripe();
    if (op == 8) return restore_some_stripe();
    (void)faulty;
  }

  void write_stripe(bool faulty) {
    stripe s;
    s.plaintext.resize(1 + random_.below(chunk_bytes_max));
    for (auto& b : s.plaintext) b = static_cast<std::uint8_t>(random_.next());
    s.id = keys::chunk_id_of(dedup_key_, s.plaintext);
    placement::stripe_key key;
    key.bytes = s.id;
    auto placed = placement::place(view(), key, scheme_.width());
    if (!placed.ok()) {
      trace("write: no placement");
      return;
    }
    s.devices = placed.value;
    s.expected = encode(s.id, s.plaintext);
    s.bad.assign(scheme_.width(), false);
    // One shard's append may be misdirected (the drive says "written").
    const std::uint32_t misdirected =
        faulty && random_.chance(faults_.misdirect)
            ? static_cast<std::uint32_t>(random_.below(scheme_.width()))
            : scheme_.width();
    std::vector<std::pair<std::size_t, std::uint32_t>> victims;
    bool acked = true;
    for (std::uint32_t i = 0; i < scheme_.width(); ++i) {
      auto& dev = device(s.devices[i]);
      if (dev.lost || !dev.store) {
        acked = false;
        continue;
      }
      bool armed = false;
      if (i == misdirected)
        if (auto v = arm_misdirect(s, i)) {
          victims = std::move(*v);
          armed = true;
        }
      const std::array<chunk::append_request, 1> batch{
          {{key_of(s, i), tenant_epoch, s.expected[i]}}};
      if (dev.store->append(batch)[0] != device_status::ok) acked = false;
      if (armed) {
        const auto m = dev.block->take_misdirected();
        if (!m) {  // the device wrote nothing (dedup): nothing was misdirected
          victims.clear();
          continue;
        }
        s.bad[i] = true;  // its record (or its segment's header) is not where it should be
        for (const auto& [t, j] : victims)
          if (!stripes_[t].bad[j]) stripes_[t].bad[j] = true;
        ++result_.writes_misdirected;
        trace("misdirect shard " + std::to_string(i) + " on " + std::to_string(dev.id) + " from " +
              std::to_string(m->intended) + " to " + std::to_string(m->landed) + ", " +
              std::to_string(victims.size()) + " shard(s) hit");
      }
    }
    trace("write " + std::to_string(stripes_.size()) + (acked ? " acked on " : " failed on ") +
          devices_of(s));
    if (!acked) return;  // never acknowledged: the checkers promise nothing for it
    stripes_.push_back(std::move(s));
    ++result_.stripes_written;
  }

  void read_some_stripe() {
    const auto live = stripes_in(life::live);
    if (live.empty()) return;
    auto& s = stripes_[live[random_.below(live.size())]];
    bool degraded = false;
    const auto got = read_stripe(s, &degraded);
    trace(std::string("read ") + (got ? "ok" : "failed"));
    if (got) {
      if (*got != s.plaintext) return fail("NoCorruptRead", "a read returned other bytes");
      ++result_.reads_ok;
      result_.reads_degraded += degraded;
    } else if (bad_count(s) <= scheme_.parity_shards) {
      return fail("AckedStripeReadable",
                  "a stripe with " + std::to_string(bad_count(s)) + " bad shards did not read");
    }
  }

  void delete_some_stripe() {
    const auto live = stripes_in(life::live);
    if (live.empty()) return;
    auto& s = stripes_[live[random_.below(live.size())]];
    for (std::uint32_t i = 0; i < scheme_.width(); ++i) {
      auto& dev = device(s.devices[i]);
      if (!dev.lost && dev.store) dev.store->remove(key_of(s, i), now_ms_);
    }
    s.state = life::in_bin;
    s.deleted_at_ms = now_ms_;
    trace("delete stripe " + std::to_string(&s - stripes_.data()) + " on " + devices_of(s));
  }

  void restore_some_stripe() {
    const auto binned = stripes_in(life::in_bin);
    if (binned.empty()) return;
    auto& s = stripes_[binned[random_.below(binned.size())]];
    if (now_ms_ >= s.deleted_at_ms + retention_ms - step_ms) return;  // too close to purge
    for (std::uint32_t i = 0; i < scheme_.width(); ++i) {
      auto& dev = device(s.devices[i]);
      if (!dev.lost && dev.store &&
          dev.store->restore(key_of(s, i), now_ms_) != device_status::ok && !s.bad[i])
        return fail("AckedStripeReadable",
                    "restoring shard " + std::to_string(i) + " out of the recycle bin failed");
    }
    s.state = life::live;
    trace("restore stripe " + std::to_string(&s - stripes_.data()));
  }

  // --- faults -------------------------------------------------------------------
  void inject_faults() {
    if (random_.chance(faults_.corrupt)) corrupt_some_shard(false);
    if (random_.chance(faults_.read_error)) corrupt_some_shard(true);
    if (random_.chance(faults_.crash)) crash_some_device();
    if (random_.chance(faults_.lose_device)) lose_some_device();
    if (random_.chance(faults_.slow)) slow_some_device();
  }

  void slow_some_device() {
    auto& dev = *devices_[random_.below(device_count)];
    if (dev.lost) return;
    dev.slow_until_ms = now_ms_ + step_ms * (2 + random_.below(20));
    ++result_.slow_periods;
    trace("slow " + std::to_string(dev.id) + " until " + std::to_string(dev.slow_until_ms));
  }
  bool slow(const stripe& s, std::uint32_t index) {
    return device(s.devices[index]).slow_until_ms > now_ms_;
  }

  /// Arms a misdirected write for the next append of shard `index` of `s`
  /// on its device: it lands on the start of another live shard record of
  /// that device, chosen so that no stripe goes past m bad shards and no
  /// delete mark or restore record is hit (their loss is not in the fault
  /// model: docs/chunk.md). Returns the shards it may overwrite, or nullopt
  /// when no such target exists (then nothing is armed).
  std::optional<std::vector<std::pair<std::size_t, std::uint32_t>>> arm_misdirect(
      const stripe& s, std::uint32_t index) {
    auto& dev = device(s.devices[index]);
    const std::uint64_t span_max =
        chunk::record_blocks(s.expected[index].size()) * chunk::block_bytes;
    struct extent {
      std::uint64_t begin, end;
      std::size_t stripe;
      std::uint32_t index;
      bool shard;  // false: a delete mark or restore record
    };
    std::vector<extent> extents;
    for (std::size_t t = 0; t < stripes_.size(); ++t) {
      for (std::uint32_t j = 0; j < scheme_.width(); ++j) {
        if (stripes_[t].devices[j] != s.devices[index]) continue;
        const auto e = dev.index->get(key_of(stripes_[t], j));
        if (!e) continue;
        extents.push_back(
            {e->data_offset,
             e->data_offset + chunk::record_blocks(e->payload_bytes) * chunk::block_bytes, t, j,
             true});
        if (e->state_offset != e->data_offset)
          extents.push_back({e->state_offset, e->state_offset + chunk::block_bytes, t, j, false});
      }
    }
    std::vector<std::size_t> candidates;
    for (std::size_t x = 0; x < extents.size(); ++x)
      if (extents[x].shard && stripes_[extents[x].stripe].state == life::live)
        candidates.push_back(x);
    if (candidates.empty()) return std::nullopt;
    const auto target = extents[candidates[random_.below(candidates.size())]].begin;
    std::vector<std::pair<std::size_t, std::uint32_t>> victims;
    std::map<std::size_t, std::uint32_t> extra_bad;
    for (const auto& e : extents) {
      if (e.end <= target || e.begin >= target + span_max) continue;
      if (!e.shard) return std::nullopt;
      const auto& t = stripes_[e.stripe];
      if (t.state == life::purged) continue;
      if (!t.bad[e.index] && ++extra_bad[e.stripe] + bad_count(t) > scheme_.parity_shards)
        return std::nullopt;
      victims.emplace_back(e.stripe, e.index);
    }
    dev.block->misdirect_next_write_to(target);
    return victims;
  }

  void corrupt_some_shard(bool read_error) {
    const auto live = stripes_in(life::live);
    if (live.empty()) return;
    auto& s = stripes_[live[random_.below(live.size())]];
    if (bad_count(s) >= scheme_.parity_shards) return;  // the budget: at most m bad
    const auto index = static_cast<std::uint32_t>(random_.below(scheme_.width()));
    auto& dev = device(s.devices[index]);
    if (s.bad[index] || dev.lost || !dev.store) return;
    const auto entry = dev.index->get(key_of(s, index));
    if (!entry || entry->state != chunk::shard_state::live) return;
    const std::uint64_t record = chunk::record_blocks(entry->payload_bytes) * chunk::block_bytes;
    const std::uint64_t at = entry->data_offset + random_.below(record);
    if (read_error) {
      dev.block->fail_reads_of_block(at / chunk::block_bytes);
      ++result_.read_errors_injected;
    } else {
      dev.block->flip_bit(at, static_cast<unsigned>(random_.below(8)));
      ++result_.shards_corrupted;
    }
    s.bad[index] = true;
    trace(std::string(read_error ? "read-error " : "flip ") + "stripe " +
          std::to_string(&s - stripes_.data()) + " shard " + std::to_string(index) + " on " +
          std::to_string(dev.id));
  }

  void crash_some_device() {
    auto& dev = *devices_[random_.below(device_count)];
    if (dev.lost) return;
    dev.store.reset();
    dev.block->crash();
    dev.block->clear_read_failures();  // a restart may read past a transient error...
    dev.index->crash();
    auto opened = chunk::device_store::open(*dev.block, *dev.index, device_options(), std::nullopt);
    if (auto* e = std::get_if<std::string>(&opened))
      return fail("AckedStripeReadable",
                  "device " + std::to_string(dev.id) + " did not reopen after a crash: " + *e);
    dev.store = std::move(std::get<std::unique_ptr<chunk::device_store>>(opened));
    ++result_.crashes;
    trace("crash " + std::to_string(dev.id) + " " +
          std::string(chunk::to_string(dev.store->recovery().how)));
  }

  void lose_some_device() {
    auto& dev = *devices_[random_.below(device_count)];
    if (dev.lost) return;
    // Only within every stripe's budget: it promises to survive m losses.
    for (const auto& s : stripes_) {
      if (s.state == life::purged) continue;
      for (std::uint32_t i = 0; i < scheme_.width(); ++i)
        if (s.devices[i].value == dev.id && !s.bad[i] && bad_count(s) >= scheme_.parity_shards)
          return;
    }
    std::uint32_t alive = 0;
    for (const auto& d : devices_) alive += !d->lost;
    if (alive <= scheme_.width()) return;  // keep room to repair onto
    dev.block->vanish();
    dev.store.reset();
    dev.lost = true;
    for (auto& s : stripes_)
      for (std::uint32_t i = 0; i < scheme_.width(); ++i)
        if (s.devices[i].value == dev.id) s.bad[i] = true;
    ++result_.devices_lost;
    trace("lose " + std::to_string(dev.id));
  }

  // --- repair -------------------------------------------------------------------
  void repair_pass(std::size_t stripes) {
    const auto live = stripes_in(life::live);
    if (live.empty()) return;
    const auto v = view();
    for (std::size_t n = 0; n < std::min(stripes, live.size()); ++n) {
      auto& s = stripes_[live[(repair_cursor_ + n) % live.size()]];
      repair_stripe(s, v);
      if (!result_.ok) return;
    }
    repair_cursor_ += stripes;
  }

  void repair_stripe(stripe& s, const placement::cluster_view& v) {
    repair::stripe_state st;
    st.key.bytes = s.id;
    st.data_shards = scheme_.data_shards;
    st.devices = s.devices;
    std::uint32_t good_before = 0;
    for (std::uint32_t i = 0; i < scheme_.width(); ++i) {
      device_status status = device_status::ok;
      const auto got = read_shard(s, i, &status);
      repair::shard_health h = repair::shard_health::good;
      if (!got) {
        h = status == device_status::not_found ? repair::shard_health::missing
            : device(s.devices[i]).lost        ? repair::shard_health::device_failed
                                               : repair::shard_health::corrupt;
      } else if (*got != s.expected[i]) {
        // The device returned bytes that are not the shard: the record CRC
        // should have caught it.
        return fail("NoCorruptRead",
                    "a device returned wrong bytes for shard " + std::to_string(i));
      } else {
        s.bad[i] = false;  // observed intact (a read error that went away)
      }
      st.health.push_back(h);
      good_before += h == repair::shard_health::good;
    }
    const auto plan = repair::plan_stripe(v, st);
    if (plan.outcome == repair::stripe_plan::verdict::healthy) return;
    if (plan.outcome != repair::stripe_plan::verdict::repair) {
      if (bad_count(s) <= scheme_.parity_shards &&
          plan.outcome == repair::stripe_plan::verdict::unrecoverable)
        fail("AckedStripeReadable", "repair finds a stripe with " + std::to_string(bad_count(s)) +
                                        " injected faults unrecoverable: " + plan.reason);
      return;
    }
    // Execute: read k sources, rebuild, write, switch, then retire.
    std::vector<std::vector<std::uint8_t>> sources(scheme_.width());
    std::vector<std::optional<std::span<const std::uint8_t>>> available(scheme_.width());
    for (auto idx : plan.rebuilds[0].sources) {
      auto got = read_shard(s, idx);
      if (!got) return;  // changed under us: next pass
      sources[idx] = std::move(*got);
      available[idx] = std::span<const std::uint8_t>(sources[idx]);
    }
    for (const auto& r : plan.rebuilds) {
      std::vector<std::uint8_t> rebuilt(s.expected[r.index].size());
      const std::uint32_t wanted[] = {r.index};
      const std::span<std::uint8_t> outs[] = {rebuilt};
      if (!coder_.reconstruct(available, wanted, outs)) return;
      if (rebuilt != s.expected[r.index])
        return fail("NoCorruptRead",
                    "repair rebuilt other bytes for shard " + std::to_string(r.index));
      auto& target = device(r.target);
      if (target.lost || !target.store) return;
      const std::array<chunk::append_request, 1> batch{
          {{key_of(s, r.index), tenant_epoch, rebuilt}}};
      if (target.store->append(batch)[0] != device_status::ok) {
        trace("repair write refused");
        continue;
      }
      const auto old = s.devices[r.index];
      s.devices[r.index] = r.target;  // metadata switch after the sync
      device_status check_status = device_status::ok;
      const auto check = read_shard(s, r.index, &check_status);
      if (!check || *check != s.expected[r.index]) {
        s.devices[r.index] = old;
        return fail("RepairKeepsLastGoodCopy", "a repaired shard did not read back from device " +
                                                   std::to_string(r.target.value) + " (" +
                                                   std::string(chunk::to_string(check_status)) +
                                                   ")");
      }
      if (!r.in_place) {  // retire the old copy, now that the new one reads back
        auto& old_dev = device(old);
        if (!old_dev.lost && old_dev.store) old_dev.store->remove(key_of(s, r.index), now_ms_);
      }
      s.bad[r.index] = false;
      ++result_.shards_rebuilt;
      trace("stripe " + std::to_string(&s - stripes_.data()) + " rebuilt " +
            std::to_string(r.index) + (r.in_place ? " in place" : " moved") + " from " +
            std::to_string(old.value) + " to " + std::to_string(r.target.value));
    }
    std::uint32_t good_after = 0;
    for (std::uint32_t i = 0; i < scheme_.width(); ++i) good_after += read_shard(s, i).has_value();
    if (good_after < good_before)
      fail("RepairKeepsLastGoodCopy", "repair lowered the good shards of a stripe from " +
                                          std::to_string(good_before) + " to " +
                                          std::to_string(good_after));
  }

  // --- background -----------------------------------------------------------------
  void maintenance() {
    for (auto& s : stripes_)
      if (s.state == life::in_bin && now_ms_ >= s.deleted_at_ms + retention_ms) {
        s.state = life::purged;
        ++result_.stripes_purged;
      }
    for (auto& dev : devices_) {
      if (dev->lost || !dev->store) continue;
      dev->store->purge_expired(now_ms_, 100);
      const auto p = dev->store->compact_step(256 * 1024);
      result_.segments_compacted += p.segment_freed;
      if (dev->store->failed()) fail("AckedStripeReadable", "a device failed in maintenance");
    }
  }

  void check_deleted_never_resurrected() {
    for (const auto& s : stripes_) {
      if (s.state != life::purged) continue;
      for (const auto& dev : devices_) {
        if (dev->lost || !dev->store) continue;
        for (std::uint32_t i = 0; i < scheme_.width(); ++i) {
          std::vector<std::uint8_t> out;
          if (dev->store->read(key_of(s, i), out) == device_status::ok)
            return fail("DeletedNeverResurrected",
                        "shard " + std::to_string(i) +
                            " of a purged stripe is readable on device " + std::to_string(dev->id));
        }
      }
    }
  }

  void check_redundancy_restored() {
    for (const auto& s : stripes_) {
      if (s.state != life::live) continue;
      for (std::uint32_t i = 0; i < scheme_.width(); ++i) {
        const auto got = const_cast<stripe_world*>(this)->read_shard(s, i);
        if (!got || *got != s.expected[i])
          return fail(
              "RepairRestoresRedundancy",
              "shard " + std::to_string(i) + " is still missing or bad after faults stopped");
      }
    }
  }

  stripe_sim_options options_;
  rng random_;
  chunk::ec_scheme scheme_;
  chunk::erasure_coder coder_;
  keys::secret_bytes dedup_key_;
  keys::secret_bytes data_key_;
  fault_profile faults_;
  std::vector<std::unique_ptr<sim_device>> devices_;
  std::vector<stripe> stripes_;
  std::uint64_t step_ = 0;
  std::uint64_t now_ms_ = 0;
  std::uint64_t repair_cursor_ = 0;
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
  stripe_sim_result result_;
  bool verbose_ = std::getenv("CAIRN_STRIPE_TRACE") != nullptr;
};

}  // namespace

stripe_sim_result run_stripe_sim(const stripe_sim_options& options) {
  stripe_world world(options);
  return world.run();
}

std::vector<std::string> stripe_checker_names() {
  return {"AckedStripeReadable", "NoCorruptRead", "RepairKeepsLastGoodCopy",
          "DeletedNeverResurrected", "RepairRestoresRedundancy"};
}

}  // namespace cairn::sim
