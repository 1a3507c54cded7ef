// gateways/common/chunk_pipeline.cpp — see chunk_pipeline.h.
#include "gateways/common/chunk_pipeline.h"

#include <optional>

#include "actors/chunk/device_actor.h"
#include "actors/chunk/stripe_codec.h"

namespace cairn::gateway {
namespace {

chunk::shard_key key_of(const keys::chunk_id& id, std::uint32_t scheme, std::uint32_t index) {
  chunk::shard_key k;
  k.chunk = id;
  k.scheme = scheme;
  k.index = index;
  return k;
}

pipeline_error error(pipeline_error::kind k, std::string detail) {
  return pipeline_error{k, std::move(detail)};
}

}  // namespace

std::string_view to_string(pipeline_error::kind k) {
  switch (k) {
    case pipeline_error::kind::no_placement:
      return "no_placement";
    case pipeline_error::kind::device_refused:
      return "device_refused";
    case pipeline_error::kind::timeout:
      return "timeout";
    case pipeline_error::kind::unreadable:
      return "unreadable";
    case pipeline_error::kind::too_large:
      return "too_large";
  }
  return "unknown";
}

placement::cluster_view device_directory::view() const {
  placement::cluster_view v;
  for (const auto& d : devices) {
    auto entry = d.device;
    if (!d.actor) entry.state = placement::device_state::failed;
    v.devices.push_back(entry);
  }
  return v;
}

const device_endpoint* device_directory::find(placement::device_id id) const {
  for (const auto& d : devices)
    if (d.device.id == id) return &d;
  return nullptr;
}

chunk_pipeline::chunk_pipeline(std::shared_ptr<const device_directory> devices,
                               pipeline_options options)
    : devices_(std::move(devices)), options_(options) {}

std::variant<shard::chunk_ref, pipeline_error> chunk_pipeline::write(
    caf::blocking_actor* self, const keys::key_grant& grant,
    std::span<const std::uint8_t> plaintext, std::uint64_t offset) const {
  if (plaintext.size() > chunk_bytes_max)
    return error(pipeline_error::kind::too_large, std::to_string(plaintext.size()) + " bytes");
  const auto scheme_value = static_cast<std::uint32_t>(options_.scheme);
  const chunk::erasure_coder coder(*chunk::scheme_by_id(scheme_value));
  const auto id = keys::chunk_id_of(grant.dedup_key, options_.dedup_scope, plaintext);
  const auto key = keys::derive_chunk_key(grant.data_key, id, scheme_value);
  const auto shards = chunk::encode_stripe(coder, key, {id, grant.epoch.value}, plaintext);
  placement::stripe_key sk;
  sk.bytes = id;
  const auto placed = placement::place(devices_->view(), sk, coder.width());
  if (!placed.ok()) return error(pipeline_error::kind::no_placement, placed.message);

  // Every shard's put in flight at once (CP2: one per distinct device).
  using handle =
      decltype(self->request(caf::actor{}, options_.device_timeout, chunk::put_atom::value,
                             std::string{}, std::uint64_t{0}, std::string{}));
  std::vector<handle> pending;
  pending.reserve(coder.width());
  for (std::uint32_t i = 0; i < coder.width(); ++i) {
    const auto* dev = devices_->find(placed.value[i]);
    if (!dev || !dev->actor)
      return error(pipeline_error::kind::no_placement, "device vanished from the directory");
    pending.push_back(self->request(dev->actor, options_.device_timeout, chunk::put_atom::value,
                                    chunk::encode_shard_key(key_of(id, scheme_value, i)),
                                    grant.epoch.value,
                                    std::string(shards[i].begin(), shards[i].end())));
  }
  std::optional<pipeline_error> failure;
  for (std::uint32_t i = 0; i < pending.size(); ++i)
    pending[i].receive(
        [&](std::uint8_t status) {
          if (status != static_cast<std::uint8_t>(chunk::device_status::ok) && !failure)
            failure =
                error(pipeline_error::kind::device_refused,
                      "shard " + std::to_string(i) + ": " +
                          std::string(chunk::to_string(static_cast<chunk::device_status>(status))));
        },
        [&](caf::error& e) {
          if (!failure)
            failure = error(pipeline_error::kind::timeout,
                            "shard " + std::to_string(i) + ": " + caf::to_string(e));
        });
  if (failure) return *failure;
  shard::chunk_ref ref;
  ref.id = id;
  ref.offset = offset;
  ref.length = plaintext.size();
  ref.scheme = scheme_value;
  ref.key_epoch = grant.epoch.value;
  for (const auto d : placed.value) ref.devices.push_back(d.value);
  return ref;
}

/// A chunk read in progress (see start_read): the stripe's geometry, key
/// and placement, the shards found, and the requests of the round in
/// flight.
struct chunk_pipeline::pending_read {
  using handle = decltype(std::declval<caf::blocking_actor*>()->request(
      caf::actor{}, std::chrono::milliseconds{}, chunk::get_atom::value, std::string{}));
  struct asked {
    std::uint32_t index;
    handle h;
  };

  pending_read(const shard::chunk_ref& r, const chunk::ec_scheme& scheme)
      : ref(r), coder(scheme), width(coder.width()), k(coder.data_shards()), shards(width) {}

  shard::chunk_ref ref;
  chunk::erasure_coder coder;
  std::uint32_t width, k;
  keys::secret_bytes key;
  chunk::stripe_identity identity{};
  placement::placement_result<placement::shard_devices> placed;
  /// The device replies as they came (moved, never copied: a 64 MiB
  /// object is 16 chunks of 6 shards).
  std::vector<std::optional<std::string>> shards;
  std::vector<asked> in_flight;
  std::optional<pipeline_error> failed;

  /// Asks for shards; every request of a round goes out before the first
  /// answer is awaited (collect()).
  void ask(caf::blocking_actor* self, const device_directory& devices,
           std::chrono::milliseconds timeout,
           const std::vector<std::pair<std::uint32_t, placement::device_id>>& round) {
    for (const auto& [index, device] : round) {
      const auto* dev = devices.find(device);
      if (!dev || !dev->actor) continue;
      in_flight.push_back(
          {index, self->request(dev->actor, timeout, chunk::get_atom::value,
                                chunk::encode_shard_key(key_of(ref.id, ref.scheme, index)))});
    }
  }
  void collect() {
    for (auto& a : in_flight)
      a.h.receive(
          [&](std::uint8_t status, std::string& bytes, std::uint64_t) {
            if (status == static_cast<std::uint8_t>(chunk::device_status::ok) && !shards[a.index])
              shards[a.index] = std::move(bytes);
          },
          [](caf::error&) {});
    in_flight.clear();
  }
  std::uint32_t have() const {
    std::uint32_t n = 0;
    for (const auto& s : shards) n += s.has_value();
    return n;
  }
  std::vector<std::pair<std::uint32_t, placement::device_id>> from_placement(std::uint32_t first,
                                                                             std::uint32_t last) {
    std::vector<std::pair<std::uint32_t, placement::device_id>> round;
    if (!placed.ok()) return round;
    for (std::uint32_t i = first; i < last; ++i) round.emplace_back(i, placed.value[i]);
    return round;
  }
};

chunk_pipeline::pending_read_ptr chunk_pipeline::start_read(caf::blocking_actor* self,
                                                            const keys::key_grant& grant,
                                                            const shard::chunk_ref& ref) const {
  ++stats_.reads;
  const auto scheme = chunk::scheme_by_id(ref.scheme);
  if (!scheme) {
    // Any scheme will do to carry the failure.
    pending_read_ptr p(
        new pending_read(ref, *chunk::scheme_by_id(static_cast<std::uint32_t>(options_.scheme))));
    p->failed = pipeline_error{pipeline_error::kind::unreadable, "unknown scheme"};
    return p;
  }
  pending_read_ptr p(new pending_read(ref, *scheme));
  if (grant.epoch.value != ref.key_epoch) {
    p->failed =
        pipeline_error{pipeline_error::kind::unreadable, "the grant is for another key epoch"};
    return p;
  }
  p->key = keys::derive_chunk_key(grant.data_key, ref.id, ref.scheme);
  p->identity = chunk::stripe_identity{ref.id, ref.key_epoch};
  // Where the shards were written (recorded in the reference), else where
  // placement would put them now.
  if (ref.devices.size() == p->width) {
    for (const auto d : ref.devices) p->placed.value.push_back(placement::device_id{d});
  } else {
    placement::stripe_key sk;
    sk.bytes = ref.id;
    p->placed = placement::place(devices_->view(), sk, p->width);
  }
  // 1. Data shards from where placement puts them (in flight on return).
  p->ask(self, *devices_, options_.device_timeout, p->from_placement(0, p->k));
  return p;
}

std::variant<std::vector<std::uint8_t>, pipeline_error> chunk_pipeline::finish_read(
    caf::blocking_actor* self, pending_read& p) const {
  if (p.failed) return *p.failed;
  const auto decode = [&]() -> std::optional<std::vector<std::uint8_t>> {
    if (p.have() < p.k) return std::nullopt;
    std::vector<chunk::shard_view> views(p.width);
    for (std::uint32_t i = 0; i < p.width; ++i)
      if (p.shards[i])
        views[i] = std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(p.shards[i]->data()), p.shards[i]->size());
    return chunk::decode_stripe(p.coder, p.key, p.identity, p.ref.length, views);
  };
  p.collect();
  std::optional<std::vector<std::uint8_t>> plain;
  if (p.have() == p.k) plain = decode();
  // 2. Parity, when a data shard is missing or failed its tag.
  if (!plain) {
    ++stats_.degraded;
    p.ask(self, *devices_, options_.device_timeout, p.from_placement(p.k, p.width));
    p.collect();
    plain = decode();
  }
  // 3. Shards not where placement says: every other live device.
  if (!plain) {
    ++stats_.searched;
    std::vector<std::pair<std::uint32_t, placement::device_id>> round;
    for (std::uint32_t i = 0; i < p.width; ++i) {
      if (p.shards[i]) continue;
      for (const auto& d : devices_->devices) {
        if (!d.actor || (p.placed.ok() && p.placed.value[i] == d.device.id)) continue;
        round.emplace_back(i, d.device.id);
      }
    }
    p.ask(self, *devices_, options_.device_timeout, round);
    p.collect();
    plain = decode();
  }
  if (!plain)
    return error(pipeline_error::kind::unreadable, std::to_string(p.have()) + " of " +
                                                       std::to_string(p.width) + " shards found, " +
                                                       std::to_string(p.k) + " good ones needed");
  return std::move(*plain);
}

void chunk_pipeline::pending_read_deleter::operator()(pending_read* p) const {
  delete p;
}

std::variant<std::vector<std::uint8_t>, pipeline_error> chunk_pipeline::read(
    caf::blocking_actor* self, const keys::key_grant& grant, const shard::chunk_ref& ref) const {
  auto p = start_read(self, grant, ref);
  return finish_read(self, *p);
}

namespace {
constexpr std::size_t inline_header_bytes = 32 + 8;
constexpr auto inline_scheme = static_cast<std::uint32_t>(chunk::scheme_id::replicate_1);
}  // namespace

std::vector<std::uint8_t> seal_inline(const keys::key_grant& grant,
                                      std::span<const std::uint8_t> plaintext) {
  const auto id = keys::chunk_id_of(grant.dedup_key, plaintext);
  const auto key = keys::derive_chunk_key(grant.data_key, id, inline_scheme);
  const auto sealed = keys::seal_shard(key, {id, inline_scheme, 0, grant.epoch}, plaintext);
  std::vector<std::uint8_t> out(id.begin(), id.end());
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<std::uint8_t>(grant.epoch.value >> (8 * i)));
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

std::optional<std::uint64_t> inline_epoch(std::span<const std::uint8_t> stored) {
  if (stored.size() < inline_header_bytes) return std::nullopt;
  std::uint64_t epoch = 0;
  for (std::size_t i = 32; i < inline_header_bytes; ++i) epoch = (epoch << 8) | stored[i];
  return epoch;
}

std::optional<std::vector<std::uint8_t>> open_inline(const keys::key_grant& grant,
                                                     std::span<const std::uint8_t> stored) {
  const auto epoch = inline_epoch(stored);
  if (!epoch || *epoch != grant.epoch.value) return std::nullopt;
  keys::chunk_id id{};
  std::copy(stored.begin(), stored.begin() + 32, id.begin());
  const auto key = keys::derive_chunk_key(grant.data_key, id, inline_scheme);
  auto opened = keys::open_shard(key, {id, inline_scheme, 0, grant.epoch},
                                 stored.subspan(inline_header_bytes));
  if (!opened.ok()) return std::nullopt;
  // The id is the plaintext's HMAC: a stored id that does not match it
  // cannot have been sealed with it (the tag binds the id), but check the
  // dedup relation as well.
  if (keys::chunk_id_of(grant.dedup_key, opened.plaintext) != id) return std::nullopt;
  return std::move(opened.plaintext);
}

}  // namespace cairn::gateway
