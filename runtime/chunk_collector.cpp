// runtime/chunk_collector.cpp — see chunk_collector.h.
#include "runtime/chunk_collector.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "actors/chunk/device_actor.h"
#include "actors/chunk/erasure_code.h"
#include "actors/shard/shard_actor.h"

namespace cairn::runtime {

namespace {

/// Chunks whose shard deletes are in flight at once (bounds the requests
/// outstanding: group x width x devices).
constexpr std::size_t delete_group = 16;

class collector {
 public:
  collector(caf::blocking_actor* self, collector_backend backend, collector_options options,
            std::shared_ptr<collector_stats> stats)
      : self_(self), backend_(std::move(backend)), options_(options), stats_(std::move(stats)) {}

  void run() {
    bool running = true;
    while (running) {
      self_->receive([&](collect_now_atom) { pass(); },
                     [&](collector_stop_atom) { running = false; },
                     [&](caf::exit_msg&) { running = false; },
                     caf::after(options_.interval) >> [&] { pass(); });
    }
  }

 private:
  void pass() {
    // The pass's requests go through an actor that lives for this pass:
    // CAF 0.17 keeps the late timeout message of every request(...,
    // timeout) in a blocking actor's mailbox, which would grow forever in
    // this long-lived one (the S3 sessions' S3-8).
    caf::scoped_actor per_pass{self_->home_system()};
    struct restore {
      caf::blocking_actor*& self;
      caf::blocking_actor* const saved;
      ~restore() { self = saved; }
    } restore_self{self_, self_};
    self_ = per_pass.ptr();
    ++stats_->passes;
    std::uint64_t pending = 0;
    for (const auto& [id, actor] : backend_.led_data_shards()) pending += collect_shard(id, actor);
    stats_->pending = pending;
  }

  std::optional<shard::ns_result> propose(const caf::actor& shard, shard::ns_command c) {
    c.now_ns = backend_.clock();
    std::optional<shard::ns_result> out;
    self_->request(shard, options_.timeout, shard::ns_atom::value, shard::encode_ns_command(c))
        .receive(
            [&](std::uint8_t code, const std::string& value) {
              if (code == 0) out = shard::decode_ns_result(value);
            },
            [](caf::error&) {});
    return out;
  }

  /// One batch of one shard; returns how many chunks are garbage there.
  std::size_t collect_shard(std::uint64_t shard_id, const caf::actor& shard) {
    const bool first_visit = visited_.insert(shard_id).second;
    const auto cutoff = backend_.clock() - std::chrono::nanoseconds(options_.grace).count();
    std::vector<shard::garbage_chunk> ready;
    std::vector<shard::chunk_hash> stale;
    std::size_t pending = 0;
    auto query = std::make_shared<const shard::replica::namespace_query>(
        [&](const shard::namespace_state& ns) {
          pending = ns.garbage().size();
          for (const auto& [id, g] : ns.garbage()) {
            if (g.collecting) {
              if (first_visit && stale.size() < shard::collect_batch_max) stale.push_back(id);
            } else if (g.since_ns <= cutoff && ready.size() < options_.batch) {
              ready.push_back(g);
            }
          }
          return std::string();
        });
    bool read = false;
    self_
        ->request(shard, options_.timeout, shard::ns_read_atom::value,
                  shard::namespace_query_ptr{query})
        .receive([&](std::uint8_t code, const std::string&) { read = code == 0; },
                 [](caf::error&) {});
    if (!read) return 0;
    if (!stale.empty()) {
      // A collector that stopped mid-batch left these marked: unmark them
      // (they are collected again on a later pass).
      shard::ns_command c;
      c.body = shard::collect_abort_command{stale};
      propose(shard, std::move(c));
      stats_->chunks_retried += stale.size();
    }
    if (ready.empty()) return pending;
    shard::collect_begin_command begin;
    for (const auto& g : ready) begin.chunks.push_back(g.ref.id);
    shard::ns_command c;
    c.body = std::move(begin);
    const auto granted = propose(shard, std::move(c));
    if (!granted || granted->status != shard::ns_status::ok) return pending;
    const std::set<shard::chunk_hash> mine(granted->granted.begin(), granted->granted.end());
    std::vector<shard::chunk_ref> todo;
    for (const auto& g : ready)
      if (mine.count(g.ref.id)) todo.push_back(g.ref);  // GC1
    std::vector<shard::chunk_hash> done, failed;
    const auto devices = backend_.devices();
    for (std::size_t at = 0; at < todo.size(); at += delete_group) {
      const auto end = std::min(todo.size(), at + delete_group);
      delete_shards(*devices, std::span(todo).subspan(at, end - at), done, failed);
    }
    if (!done.empty()) {
      shard::ns_command e;
      e.body = shard::collect_end_command{done};
      if (propose(shard, std::move(e))) stats_->chunks_collected += done.size();
    }
    if (!failed.empty()) {
      shard::ns_command a;
      a.body = shard::collect_abort_command{failed};
      propose(shard, std::move(a));
      stats_->chunks_retried += failed.size();
    }
    return pending;
  }

  /// Deletes every shard of `chunks` from every device (a shard may sit on
  /// another device than the one recorded, after a repair); a chunk is
  /// done when every device answered every delete with ok or not_found.
  void delete_shards(const gateway::device_directory& devices,
                     std::span<const shard::chunk_ref> chunks, std::vector<shard::chunk_hash>& done,
                     std::vector<shard::chunk_hash>& failed) {
    using handle = decltype(self_->request(caf::actor{}, options_.timeout,
                                           chunk::delete_atom::value, std::string()));
    struct asked {
      std::size_t chunk;
      handle h;
    };
    std::vector<asked> out;
    std::vector<bool> ok(chunks.size(), true);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      const auto scheme = chunk::scheme_by_id(chunks[i].scheme);
      if (!scheme) {
        ok[i] = false;
        continue;
      }
      for (std::uint32_t index = 0; index < scheme->width(); ++index)
        for (const auto& d : devices.devices) {
          if (!d.actor) {
            ok[i] = false;  // a device we cannot reach may hold a shard
            continue;
          }
          out.push_back({i, self_->request(
                                d.actor, options_.timeout, chunk::delete_atom::value,
                                chunk::encode_shard_key({chunks[i].id, chunks[i].scheme, index}))});
        }
    }
    for (auto& a : out)
      a.h.receive(
          [&](std::uint8_t status) {
            const auto s = static_cast<chunk::device_status>(status);
            if (s == chunk::device_status::ok) ++stats_->shard_deletes;
            if (s != chunk::device_status::ok && s != chunk::device_status::not_found)
              ok[a.chunk] = false;
          },
          [&](caf::error&) { ok[a.chunk] = false; });
    for (std::size_t i = 0; i < chunks.size(); ++i) (ok[i] ? done : failed).push_back(chunks[i].id);
  }

  caf::blocking_actor* self_;
  collector_backend backend_;
  collector_options options_;
  std::shared_ptr<collector_stats> stats_;
  std::set<std::uint64_t> visited_;
};

void collector_actor(caf::blocking_actor* self, std::shared_ptr<collector_backend> backend,
                     collector_options options, std::shared_ptr<collector_stats> stats) {
  collector(self, std::move(*backend), options, std::move(stats)).run();
}

}  // namespace

caf::actor spawn_chunk_collector(caf::actor_system& sys, collector_backend backend,
                                 collector_options options,
                                 std::shared_ptr<collector_stats> stats) {
  return sys.spawn<caf::detached>(collector_actor,
                                  std::make_shared<collector_backend>(std::move(backend)), options,
                                  std::move(stats));
}

}  // namespace cairn::runtime
