// gateways/fuse/stager.cpp — see stager.h.
#include "gateways/fuse/stager.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "runtime/admin_cli.h"

namespace cairn::fuse {

using runtime::human_bytes;

std::string_view to_string(stage_progress::state s) {
  switch (s) {
    case stage_progress::state::idle:
      return "idle";
    case stage_progress::state::counting:
      return "counting";
    case stage_progress::state::fetching:
      return "fetching";
    case stage_progress::state::done:
      return "done";
    case stage_progress::state::failed:
      return "failed";
  }
  return "unknown";
}

stage_progress stager::status() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void stager::release() {
  fs_.cache().release_pins();
}

stage_progress stager::run(const std::string& path,
                           const std::function<void(const stage_progress&)>& report) {
  std::unique_lock running(running_, std::try_to_lock);
  if (!running.owns_lock()) {
    stage_progress busy = status();
    busy.what = stage_progress::state::failed;
    busy.error = "another stage is running (" + busy.path + ")";
    return busy;
  }
  const auto started = std::chrono::steady_clock::now();
  stage_progress p;
  p.path = path;
  p.what = stage_progress::state::counting;
  auto publish = [&](bool final_report) {
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    {
      std::lock_guard lock(mutex_);
      last_ = p;
    }
    static thread_local auto last_report = std::chrono::steady_clock::time_point{};
    const auto now = std::chrono::steady_clock::now();
    if (final_report || now - last_report >= std::chrono::milliseconds(250)) {
      last_report = now;
      report(p);
    }
  };
  auto fail = [&](std::string why) {
    p.what = stage_progress::state::failed;
    p.error = std::move(why);
    publish(true);
    return p;
  };

  // 1. What to fetch: every chunk of every file under the path.
  shard::inode top;
  if (const int e = fs_.resolve(path, top)) return fail(path + ": " + std::strerror(e));
  struct file_chunks {
    std::uint64_t bytes = 0;
    std::vector<shard::chunk_ref> chunks;
  };
  std::vector<file_chunks> files;
  const int walked = fs_.walk_files(top, [&](const shard::inode& n) {
    file_chunks f;
    if (n.current) {
      f.bytes = n.current->size;
      f.chunks = n.current->chunks;  // inline files have none: their bytes live in the namespace
    }
    p.files_total += 1;
    p.bytes_total += f.bytes;
    files.push_back(std::move(f));
    publish(false);
    return true;
  });
  if (walked) return fail(path + ": listing failed: " + std::strerror(walked));

  // ST2: the pinned bytes must fit L2's bound.
  const auto cache_stats = fs_.cache().stats();
  if (fs_.cache().mode() == cache_mode::bypass)
    return fail("the mount's cache is in bypass mode: nothing can be staged");
  std::uint64_t to_pin = 0;  // what is not pinned yet (a stage again needs no more room)
  for (const auto& f : files)
    for (const auto& c : f.chunks)
      if (!fs_.cache().pinned(c)) to_pin += c.length;
  if (fs_.cache().mode() == cache_mode::pinned &&
      cache_stats.l2.pinned_bytes + to_pin > cache_stats.l2.bound)
    return fail("needs " + human_bytes(to_pin) + " pinned, but the L2 cache (" +
                human_bytes(cache_stats.l2.bound) + ") has " +
                human_bytes(static_cast<std::uint64_t>(cache_stats.l2.bound -
                                                       cache_stats.l2.pinned_bytes)) +
                " left for pins: raise --cache-l2-max or `cairn stage --release`");

  // 2. Fetch, `parallel_` chunks at a time (ST3).
  p.what = stage_progress::state::fetching;
  publish(true);
  const auto fetches_before = fs_.reader().stats().fetches;
  std::vector<std::pair<std::size_t, const shard::chunk_ref*>> work;  // (file, chunk)
  for (std::size_t i = 0; i < files.size(); ++i)
    for (const auto& c : files[i].chunks) work.emplace_back(i, &c);
  std::vector<std::atomic<std::size_t>> left(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) left[i] = files[i].chunks.size();
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> bytes_done{0}, files_done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;
  for (std::size_t i = 0; i < files.size(); ++i)
    if (files[i].chunks.empty()) {
      ++files_done;
      bytes_done += files[i].bytes;
    }
  auto worker = [&] {
    for (;;) {
      const auto k = next++;
      if (k >= work.size() || failed) return;
      const auto& [file, ref] = work[k];
      const bool pin = fs_.cache().mode() == cache_mode::pinned;
      if (!fs_.reader().get(*ref, true) || (pin && !fs_.cache().pinned(*ref))) {
        std::lock_guard lock(error_mutex);
        error = "a chunk at offset " + std::to_string(ref->offset) +
                (pin ? " could not be read or pinned" : " could not be read");
        failed = true;
        return;
      }
      bytes_done += ref->length;
      if (--left[file] == 0) ++files_done;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < parallel_; ++i) threads.emplace_back(worker);
  for (;;) {
    const bool finished = next >= work.size() + parallel_ || failed;
    p.bytes_done = bytes_done;
    p.files_done = files_done;
    p.chunks_fetched = fs_.reader().stats().fetches - fetches_before;
    publish(false);
    if (finished) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& t : threads) t.join();
  p.bytes_done = bytes_done;
  p.files_done = files_done;
  p.chunks_fetched = fs_.reader().stats().fetches - fetches_before;
  if (failed) return fail(error);
  p.bytes_done = p.bytes_total;  // every chunk is cached; holes read as zeros anyway
  p.what = stage_progress::state::done;
  publish(true);
  return p;
}

}  // namespace cairn::fuse
