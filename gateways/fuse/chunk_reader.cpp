// gateways/fuse/chunk_reader.cpp — see chunk_reader.h.
#include "gateways/fuse/chunk_reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace cairn::fuse {

chunk_reader::chunk_reader(caf::actor_system& sys, chunk_cache& cache, grant_source grants,
                           device_source devices, chunk_reader_options options)
    : sys_(sys),
      cache_(cache),
      grants_(std::move(grants)),
      devices_(std::move(devices)),
      options_(options) {
  for (unsigned i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker(); });
}

chunk_reader::~chunk_reader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& w : workers_) w.join();
}

chunk_reader_stats chunk_reader::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

chunk_reader::plaintext chunk_reader::get(const shard::chunk_ref& ref, bool pin) {
  std::shared_ptr<flight> mine;
  plaintext found;
  {
    std::unique_lock lock(mutex_);
    for (const auto& [id, bytes] : ready_)
      if (id == ref.id) {
        ++stats_.ahead_hits;
        found = bytes;
        break;
      }
    if (!found) {
      if (const auto it = flights_.find(ref.id); it != flights_.end()) {
        const auto theirs = it->second;  // CR1: wait for that fetch
        ++stats_.shared_fetches;
        changed_.wait(lock, [&] { return theirs->done; });
        found = theirs->result;
        if (!found) return nullptr;
      } else {
        mine = std::make_shared<flight>();
        flights_.emplace(ref.id, mine);
      }
    }
  }
  if (found) {
    if (pin && !cache_.pinned(ref))
      if (const auto g = grants_(ref.key_epoch)) cache_.put(*g, ref, found, true);
    return found;
  }
  caf::scoped_actor self{sys_};
  return fetch(self.ptr(), ref, pin, false);
}

chunk_reader::plaintext chunk_reader::fetch(caf::blocking_actor* self, const shard::chunk_ref& ref,
                                            bool pin, bool keep_ready) {
  // The caller registered a flight for ref.id; this completes it.
  plaintext result;
  bool from_cache = false, degraded = false, fetched = false;
  if (const auto g = grants_(ref.key_epoch)) {
    result = cache_.get(*g, ref);
    from_cache = result != nullptr;
    if (result && pin && !cache_.pinned(ref))
      cache_.put(*g, ref, result, true);  // already cached: pinned where it is
    if (!result) {
      gateway::pipeline_options o;
      o.device_timeout = options_.device_timeout;
      gateway::chunk_pipeline pipeline(devices_(), o);
      auto r = pipeline.read(self, *g, ref);
      fetched = true;
      if (auto* bytes = std::get_if<std::vector<std::uint8_t>>(&r)) {
        result = std::make_shared<const std::vector<std::uint8_t>>(std::move(*bytes));
        degraded = pipeline.stats().degraded != 0;
        cache_.put(*g, ref, result, pin);
      } else {
        spdlog::warn("mount: chunk at offset {} unreadable: {}", ref.offset,
                     std::get<gateway::pipeline_error>(r).detail);
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    const auto it = flights_.find(ref.id);
    if (it != flights_.end()) {
      it->second->done = true;
      it->second->result = result;
      flights_.erase(it);
    }
    if (from_cache) ++stats_.cache_hits;
    if (fetched) ++(result ? stats_.fetches : stats_.fetch_failures);
    if (degraded) ++stats_.degraded;
    if (keep_ready && result) {
      ready_.emplace_back(ref.id, result);
      while (ready_.size() > options_.ready_max) ready_.pop_front();  // CR2
    }
  }
  changed_.notify_all();
  return result;
}

void chunk_reader::prefetch(const shard::chunk_ref& ref) {
  {
    std::lock_guard lock(mutex_);
    if (flights_.count(ref.id)) return;
    for (const auto& r : ready_)
      if (r.first == ref.id) return;
    for (const auto& q : queue_)
      if (q.id == ref.id) return;
    if (queue_.size() >= options_.ahead_queue_max) {
      ++stats_.ahead_dropped;  // CR2
      return;
    }
    queue_.push_back(ref);
  }
  changed_.notify_all();
}

void chunk_reader::worker() {
  caf::scoped_actor self{sys_};
  for (;;) {
    shard::chunk_ref ref;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      ref = std::move(queue_.front());
      queue_.pop_front();
      if (flights_.count(ref.id)) continue;  // a reader got to it first
      flights_.emplace(ref.id, std::make_shared<flight>());
    }
    fetch(self.ptr(), ref, false, true);
  }
}

}  // namespace cairn::fuse
