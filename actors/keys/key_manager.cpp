// actors/keys/key_manager.cpp — see key_manager.h.
#include "actors/keys/key_manager.h"

#include <algorithm>
#include <set>
#include <utility>

#include "actors/common/assert.h"
#include "actors/keys/crypto.h"

namespace cairn::keys {

std::string_view to_string(key_error e) {
  switch (e) {
    case key_error::none:
      return "none";
    case key_error::unknown_tenant:
      return "unknown tenant";
    case key_error::tenant_exists:
      return "tenant exists";
    case key_error::tenant_shredded:
      return "tenant shredded: its keys were destroyed";
    case key_error::unknown_epoch:
      return "unknown key epoch";
    case key_error::not_durable:
      return "key not durable yet";
    case key_error::unwrap_failed:
      return "stored key record refused by the key provider";
    case key_error::tenants_max_reached:
      return "too many tenants";
    case key_error::epochs_max_reached:
      return "too many key epochs for this tenant";
    case key_error::bad_record:
      return "malformed, duplicate or incomplete key records";
  }
  return "unknown";
}

key_manager::key_manager(key_manager_config config, key_provider& provider, random_source& random)
    : config_(config), provider_(provider), random_(random) {
  CAIRN_ASSERT(config_.tenants_max > 0);
  CAIRN_ASSERT(config_.epochs_per_tenant_max > 0);
}

// --- state changes ------------------------------------------------------------------

key_error key_manager::load(std::span<const key_record> records) {
  CAIRN_ASSERT_MSG(tenants_.empty() && queued_.empty() && !in_flight_,
                   "load() rebuilds a fresh core");
  std::map<tenant_id, std::vector<const key_record*>> by_tenant;
  std::set<key_record_id> seen;
  for (const key_record& r : records) {
    if (!well_formed(r.id) || !seen.insert(r.id).second) return key_error::bad_record;
    if (r.id.purpose == key_purpose::shred_mark) {
      if (!r.wrapped.empty()) return key_error::bad_record;
    } else if (r.wrapped.empty() || r.wrapped.size() > wrapped_key_bytes_max) {
      return key_error::bad_record;
    }
    if (r.id.epoch.value > config_.epochs_per_tenant_max) return key_error::bad_record;
    by_tenant[r.id.tenant].push_back(&r);
  }
  if (by_tenant.size() > config_.tenants_max) return key_error::tenants_max_reached;

  std::map<tenant_id, tenant_keys> tenants;
  std::vector<key_record_id> leftovers;
  for (const auto& [tenant, list] : by_tenant) {
    tenant_keys keys;
    keys.shredded = std::any_of(list.begin(), list.end(), [](const key_record* r) {
      return r->id.purpose == key_purpose::shred_mark;
    });
    bool has_dedup = false;
    for (const key_record* r : list) {
      if (keys.shredded) {
        // A shred whose deletes did not all land: finish it (K7).
        if (r->id.purpose != key_purpose::shred_mark) leftovers.push_back(r->id);
        continue;
      }
      stored_key k;
      k.wrapped = r->wrapped;
      k.state = record_state::durable;
      if (r->id.purpose == key_purpose::dedup) {
        keys.dedup = std::move(k);
        has_dedup = true;
      } else {
        keys.data.emplace(r->id.epoch, std::move(k));
      }
    }
    // Records are written a batch at a time, atomically: a live tenant
    // without both kinds of key is a damaged store, not a crash leftover.
    if (!keys.shredded && (!has_dedup || keys.data.empty())) return key_error::bad_record;
    tenants.emplace(tenant, std::move(keys));
  }
  tenants_ = std::move(tenants);
  queued_.deletes = std::move(leftovers);
  check_invariants();
  return key_error::none;
}

key_manager::stored_key key_manager::new_key(const wrap_context& context) {
  stored_key k;
  k.cached = secret_bytes(tenant_key_bytes);
  random_.fill(k.cached.writable());
  k.wrapped = provider_.wrap(context, k.cached.bytes());
  CAIRN_ASSERT_MSG(!k.wrapped.empty() && k.wrapped.size() <= wrapped_key_bytes_max,
                   "key provider returned a wrapping of impossible size");
  k.state = record_state::pending;
  return k;
}

void key_manager::queue_put(const key_record_id& id, const std::vector<std::uint8_t>& wrapped) {
  queued_.puts.push_back(key_record{id, wrapped});
}

key_error key_manager::create_tenant(tenant_id tenant) {
  if (auto it = tenants_.find(tenant); it != tenants_.end())
    return it->second.shredded ? key_error::tenant_shredded : key_error::tenant_exists;
  if (tenants_.size() >= config_.tenants_max) return key_error::tenants_max_reached;
  // Draw and wrap both keys before touching any state: a provider that
  // throws leaves the core as it was.
  tenant_keys keys;
  keys.dedup = new_key(wrap_context{tenant, key_purpose::dedup, no_epoch});
  keys.data.emplace(first_epoch, new_key(wrap_context{tenant, key_purpose::data, first_epoch}));
  queue_put(key_record_id{tenant, key_purpose::dedup, no_epoch}, keys.dedup.wrapped);
  queue_put(key_record_id{tenant, key_purpose::data, first_epoch},
            keys.data.at(first_epoch).wrapped);
  const auto& inserted = tenants_.emplace(tenant, std::move(keys)).first->second;
  check_tenant(tenant, inserted);
  return key_error::none;
}

key_result<key_epoch> key_manager::rotate(tenant_id tenant) {
  auto found = live_tenant(tenant);
  if (!found.ok()) return {found.error, {}};
  tenant_keys& keys = *found.value;
  const key_epoch epoch{keys.data.rbegin()->first.value + 1};
  if (epoch.value > config_.epochs_per_tenant_max) return {key_error::epochs_max_reached, {}};
  stored_key k = new_key(wrap_context{tenant, key_purpose::data, epoch});
  queue_put(key_record_id{tenant, key_purpose::data, epoch}, k.wrapped);
  keys.data.emplace(epoch, std::move(k));
  check_tenant(tenant, keys);
  return {key_error::none, epoch};
}

key_error key_manager::shred(tenant_id tenant) {
  auto found = live_tenant(tenant);
  if (!found.ok()) return found.error;
  tenant_keys& keys = *found.value;
  // Records already handed out in a ready() may be on disk (or about to be):
  // delete them. Queued puts never reach the disk: drop them.
  std::vector<key_record_id> deletes;
  if (keys.dedup.state != record_state::pending)
    deletes.push_back(key_record_id{tenant, key_purpose::dedup, no_epoch});
  for (const auto& [epoch, k] : keys.data)
    if (k.state != record_state::pending)
      deletes.push_back(key_record_id{tenant, key_purpose::data, epoch});
  std::erase_if(queued_.puts, [&](const key_record& r) { return r.id.tenant == tenant; });
  // secret_bytes cleanse themselves as they are destroyed (SB2).
  keys = tenant_keys{};
  keys.shredded = true;
  queue_put(key_record_id{tenant, key_purpose::shred_mark, no_epoch}, {});
  queued_.deletes.insert(queued_.deletes.end(), deletes.begin(), deletes.end());
  check_tenant(tenant, keys);
  return key_error::none;
}

// --- effects -------------------------------------------------------------------------

bool key_manager::has_ready() const {
  return !queued_.empty();
}

key_ready key_manager::ready() {
  CAIRN_ASSERT_MSG(!in_flight_, "ready() again before advance()");
  for (const key_record& r : queued_.puts) {
    if (r.id.purpose == key_purpose::shred_mark) continue;
    tenant_keys& keys = tenants_.at(r.id.tenant);
    stored_key& k = r.id.purpose == key_purpose::dedup ? keys.dedup : keys.data.at(r.id.epoch);
    CAIRN_ASSERT(k.state == record_state::pending);
    k.state = record_state::in_flight;
  }
  in_flight_ = std::exchange(queued_, key_ready{});
  return *in_flight_;
}

void key_manager::advance() {
  CAIRN_ASSERT_MSG(in_flight_, "advance() without an outstanding ready()");
  for (const key_record& r : in_flight_->puts) {
    if (r.id.purpose == key_purpose::shred_mark) continue;
    tenant_keys& keys = tenants_.at(r.id.tenant);
    // Shredded while in flight: the deletes follow in a later ready().
    if (keys.shredded) continue;
    stored_key& k = r.id.purpose == key_purpose::dedup ? keys.dedup : keys.data.at(r.id.epoch);
    CAIRN_ASSERT(k.state == record_state::in_flight);
    k.state = record_state::durable;
  }
  in_flight_.reset();
}

// --- keys ----------------------------------------------------------------------------

key_result<key_manager::tenant_keys*> key_manager::live_tenant(tenant_id tenant) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return {key_error::unknown_tenant, nullptr};
  if (it->second.shredded) return {key_error::tenant_shredded, nullptr};
  return {key_error::none, &it->second};
}

key_result<const key_manager::tenant_keys*> key_manager::live_tenant(tenant_id tenant) const {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return {key_error::unknown_tenant, nullptr};
  if (it->second.shredded) return {key_error::tenant_shredded, nullptr};
  return {key_error::none, &it->second};
}

tenant_state key_manager::state_of(tenant_id tenant) const {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return tenant_state::unknown;
  if (it->second.shredded) return tenant_state::shredded;
  return it->second.dedup.state == record_state::durable ? tenant_state::active
                                                         : tenant_state::pending;
}

key_result<key_epoch> key_manager::current_epoch(tenant_id tenant) const {
  auto found = live_tenant(tenant);
  if (!found.ok()) return {found.error, {}};
  const tenant_keys& keys = *found.value;
  for (auto it = keys.data.rbegin(); it != keys.data.rend(); ++it)
    if (it->second.state == record_state::durable) return {key_error::none, it->first};
  return {key_error::not_durable, {}};
}

key_result<std::vector<key_epoch>> key_manager::epochs(tenant_id tenant) const {
  auto found = live_tenant(tenant);
  if (!found.ok()) return {found.error, {}};
  std::vector<key_epoch> out;
  for (const auto& [epoch, k] : found.value->data)
    if (k.state == record_state::durable) out.push_back(epoch);
  if (out.empty()) return {key_error::not_durable, {}};
  return {key_error::none, std::move(out)};
}

key_result<const secret_bytes*> key_manager::usable_key(tenant_id tenant, key_purpose purpose,
                                                        key_epoch epoch, stored_key& key) {
  if (key.state != record_state::durable) return {key_error::not_durable, nullptr};
  if (key.cached.empty()) {
    std::optional<secret_bytes> unwrapped =
        provider_.unwrap(wrap_context{tenant, purpose, epoch}, key.wrapped);
    if (!unwrapped || unwrapped->size() != tenant_key_bytes)
      return {key_error::unwrap_failed, nullptr};
    key.cached = std::move(*unwrapped);
  }
  return {key_error::none, &key.cached};
}

key_result<chunk_id> key_manager::chunk_id_of(tenant_id tenant,
                                              std::span<const std::uint8_t> plaintext) {
  auto found = live_tenant(tenant);
  if (!found.ok()) return {found.error, {}};
  auto key = usable_key(tenant, key_purpose::dedup, no_epoch, found.value->dedup);
  if (!key.ok()) return {key.error, {}};
  return {key_error::none, keys::chunk_id_of(*key.value, plaintext)};
}

key_result<secret_bytes> key_manager::chunk_key(tenant_id tenant, key_epoch epoch,
                                                const chunk_id& chunk, std::uint32_t scheme) {
  auto data = data_key_ref(tenant, epoch);
  if (!data.ok()) return {data.error, {}};
  return {key_error::none, derive_chunk_key(*data.value, chunk, scheme)};
}

key_result<secret_bytes> key_manager::dedup_key(tenant_id tenant) {
  auto found = live_tenant(tenant);
  if (!found.ok()) return {found.error, {}};
  auto key = usable_key(tenant, key_purpose::dedup, no_epoch, found.value->dedup);
  if (!key.ok()) return {key.error, {}};
  return {key_error::none, key.value->clone()};
}

key_result<secret_bytes> key_manager::data_key(tenant_id tenant, key_epoch epoch) {
  auto data = data_key_ref(tenant, epoch);
  if (!data.ok()) return {data.error, {}};
  return {key_error::none, data.value->clone()};
}

key_result<const secret_bytes*> key_manager::data_key_ref(tenant_id tenant, key_epoch epoch) {
  auto found = live_tenant(tenant);
  if (!found.ok()) return {found.error, nullptr};
  auto it = found.value->data.find(epoch);
  if (it == found.value->data.end()) return {key_error::unknown_epoch, nullptr};
  return usable_key(tenant, key_purpose::data, epoch, it->second);
}

namespace {

/// The wrap context of an access key's secret: the epoch field carries the
/// first 8 bytes of SHA-256(key id), binding the wrapping to the id.
wrap_context access_secret_context(tenant_id tenant, std::string_view key_id) {
  const auto digest = sha256(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(key_id.data()), key_id.size()));
  std::uint64_t bound = 0;
  for (int i = 0; i < 8; ++i) bound = (bound << 8) | digest[static_cast<std::size_t>(i)];
  return {tenant, key_purpose::access_secret, key_epoch{bound}};
}

}  // namespace

key_result<std::vector<std::uint8_t>> key_manager::wrap_access_secret(
    tenant_id tenant, std::string_view key_id, std::span<const std::uint8_t> secret) {
  if (const auto found = live_tenant(tenant); !found.ok()) return {found.error, {}};
  return {key_error::none, provider_.wrap(access_secret_context(tenant, key_id), secret)};
}

key_result<secret_bytes> key_manager::unwrap_access_secret(tenant_id tenant,
                                                           std::string_view key_id,
                                                           std::span<const std::uint8_t> wrapped) {
  if (const auto found = live_tenant(tenant); !found.ok()) return {found.error, {}};
  auto secret = provider_.unwrap(access_secret_context(tenant, key_id), wrapped);
  if (!secret) return {key_error::unwrap_failed, {}};
  return {key_error::none, std::move(*secret)};
}

std::vector<tenant_id> key_manager::tenants() const {
  std::vector<tenant_id> out;
  out.reserve(tenants_.size());
  for (const auto& [t, keys] : tenants_) out.push_back(t);
  return out;
}

void key_manager::forget_cached_keys(tenant_id tenant) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  tenant_keys& keys = it->second;
  // Keys whose records are not durable yet exist nowhere else: keep them.
  if (keys.dedup.state == record_state::durable) keys.dedup.cached.clear();
  for (auto& [epoch, k] : keys.data)
    if (k.state == record_state::durable) k.cached.clear();
}

std::size_t key_manager::cached_key_count() const {
  std::size_t n = 0;
  for (const auto& [tenant, keys] : tenants_) {
    n += keys.dedup.cached.empty() ? 0 : 1;
    for (const auto& [epoch, k] : keys.data) n += k.cached.empty() ? 0 : 1;
  }
  return n;
}

// --- invariants ------------------------------------------------------------------------

void key_manager::check_tenant(tenant_id tenant, const tenant_keys& keys) const {
  if (keys.shredded) {
    // K7: nothing of a shredded tenant's keys is left.
    CAIRN_ASSERT(keys.dedup.wrapped.empty() && keys.dedup.cached.empty());
    CAIRN_ASSERT(keys.data.empty());
    return;
  }
  // K3.
  CAIRN_ASSERT(!keys.dedup.wrapped.empty());
  CAIRN_ASSERT(keys.dedup.cached.empty() || keys.dedup.cached.size() == tenant_key_bytes);
  CAIRN_ASSERT(!keys.data.empty());
  CAIRN_ASSERT(keys.data.begin()->first >= first_epoch);
  CAIRN_ASSERT(keys.data.rbegin()->first.value <= config_.epochs_per_tenant_max);
  for (const auto& [epoch, k] : keys.data) {
    CAIRN_ASSERT(!k.wrapped.empty());
    CAIRN_ASSERT(k.cached.empty() || k.cached.size() == tenant_key_bytes);
    // A key that is not durable has no other copy: it must stay in memory.
    CAIRN_ASSERT(k.state == record_state::durable || !k.cached.empty());
  }
  CAIRN_ASSERT(keys.dedup.state == record_state::durable || !keys.dedup.cached.empty());
  (void)tenant;
}

void key_manager::check_invariants() const {
  CAIRN_ASSERT(tenants_.size() <= config_.tenants_max);
  std::size_t pending = 0;
  std::size_t in_flight = 0;
  for (const auto& [tenant, keys] : tenants_) {
    check_tenant(tenant, keys);
    if (keys.shredded) continue;
    auto count = [&](const stored_key& k) {
      pending += k.state == record_state::pending ? 1 : 0;
      in_flight += k.state == record_state::in_flight ? 1 : 0;
    };
    count(keys.dedup);
    for (const auto& [epoch, k] : keys.data) count(k);
  }
  auto key_puts = [](const key_ready& r) {
    return static_cast<std::size_t>(std::count_if(r.puts.begin(), r.puts.end(), [](const auto& p) {
      return p.id.purpose != key_purpose::shred_mark;
    }));
  };
  // Every queued put is a pending record and the reverse; in-flight records
  // are in the outstanding ready() (some of its puts may belong to tenants
  // shredded since).
  CAIRN_ASSERT(pending == key_puts(queued_));
  CAIRN_ASSERT(in_flight <= (in_flight_ ? key_puts(*in_flight_) : 0));
  // K8.
  auto disjoint = [](const key_ready& r) {
    std::set<key_record_id> puts;
    for (const auto& p : r.puts) puts.insert(p.id);
    return std::none_of(r.deletes.begin(), r.deletes.end(),
                        [&](const key_record_id& d) { return puts.count(d) != 0; });
  };
  CAIRN_ASSERT(disjoint(queued_));
  CAIRN_ASSERT(!in_flight_ || disjoint(*in_flight_));
}

}  // namespace cairn::keys
