// runtime/system_key_store.cpp — see system_key_store.h.
#include "runtime/system_key_store.h"

#include <charconv>
#include <thread>

#include "actors/shard/shard_actor.h"

namespace cairn::runtime {
namespace {

constexpr std::uint64_t scan_limit = std::uint64_t{1} << 24;  // > tenants_max * 2 records

std::optional<std::vector<std::uint8_t>> unhex(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, v, 16);
    if (ec != std::errc() || end != text.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

}  // namespace

std::string system_key_of(const keys::key_record_id& id) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(key_record_prefix);
  for (const auto b : keys::encode_record_id(id)) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

system_key_store::system_key_store(caf::actor_system& sys, caf::actor system_shard,
                                   std::chrono::milliseconds timeout)
    : system_key_store(
          sys, [shard = std::move(system_shard)] { return shard; }, timeout) {}

system_key_store::system_key_store(caf::actor_system& sys, std::function<caf::actor()> system_shard,
                                   std::chrono::milliseconds timeout)
    : sys_(sys), shard_(std::move(system_shard)), timeout_(timeout) {}

caf::actor system_key_store::shard_or_wait() {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    if (auto a = shard_()) return a;
    if (std::chrono::steady_clock::now() >= deadline)
      throw keys::key_store_error("system key store: this node has no system shard replica yet");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::vector<keys::key_record> system_key_store::load_all() {
  auto shard = shard_();
  if (!shard) return {};  // not a member yet: nothing to load (reloaded on a miss)
  caf::scoped_actor self{sys_};
  std::vector<std::string> flat;
  std::optional<std::string> failure;
  self->request(shard, timeout_, shard::scan_atom::value, std::string(key_record_prefix),
                scan_limit)
      .receive([&](std::vector<std::string>& kv) { flat = std::move(kv); },
               [&](caf::error& e) { failure = sys_.render(e); });
  if (failure) throw keys::key_store_error("system key store: scan failed: " + *failure);
  std::vector<keys::key_record> out;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
    const auto bytes = unhex(std::string_view(flat[i]).substr(key_record_prefix.size()));
    const auto id = bytes ? keys::decode_record_id(*bytes) : std::nullopt;
    if (!id || flat[i + 1].size() > keys::wrapped_key_bytes_max)
      throw keys::key_store_error("system key store: malformed record " + flat[i]);
    out.push_back({*id, std::vector<std::uint8_t>(flat[i + 1].begin(), flat[i + 1].end())});
  }
  return out;
}

void system_key_store::apply(const keys::key_ready& ready) {
  std::vector<std::string> flat;
  for (const auto& id : ready.deletes) {
    flat.emplace_back("delete");
    flat.push_back(system_key_of(id));
    flat.emplace_back();
  }
  for (const auto& r : ready.puts) {
    flat.emplace_back("put");
    flat.push_back(system_key_of(r.id));
    flat.emplace_back(r.wrapped.begin(), r.wrapped.end());
  }
  if (flat.empty()) return;
  auto shard = shard_or_wait();
  caf::scoped_actor self{sys_};
  std::optional<std::string> failure;
  self->request(shard, timeout_, shard::batch_atom::value, std::move(flat))
      .receive(
          [&](std::uint8_t code, const std::string& detail) {
            if (code != static_cast<std::uint8_t>(shard::reply_code::ok))
              failure = std::string(shard::to_string(static_cast<shard::reply_code>(code))) +
                        (detail.empty() ? "" : ": " + detail);
          },
          [&](caf::error& e) { failure = sys_.render(e); });
  if (failure) throw keys::key_store_error("system key store: batch not applied: " + *failure);
}

}  // namespace cairn::runtime
