// runtime/event_log.h — the node's event log: what an operator must hear
// about (a corrupt shard, a failed device, a full device, repair started
// and finished, a master key created), kept as the last `capacity` events
// in memory for `/v1/events` and `cairn admin events`, appended as JSON
// lines to `<data>/events.log` and logged through spdlog.
//
// Owner: the node creates one at start; device observers (actor threads),
// the repair actor and the HTTP thread call it. Thread-safe (one mutex; an
// event is a few hundred bytes, written rarely: never on a hot path).
//
// Invariants:
//  EL1. Events get consecutive sequence numbers from 1; /v1/events?after=N
//       returns exactly the retained events with seq > N, oldest first.
//  EL2. Memory is bounded: at most `capacity` events are retained; the
//       file is rotated to events.log.1 once it exceeds file_bytes_max, so
//       disk use stays under 2 * file_bytes_max.
//  EL3. A failure to write the file never loses the event in memory and
//       never stops the caller; it is counted (file_errors) and logged once.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace cairn::runtime {

enum class event_severity : std::uint8_t { info, warning, error };

class event_log {
 public:
  /// `path` empty: memory only.
  explicit event_log(std::string path, std::size_t capacity = 1000,
                     std::uint64_t file_bytes_max = 16ull << 20);

  /// Records an event; `fields` (an object) adds machine-readable detail.
  void record(event_severity severity, std::string kind, std::string source, std::string message,
              nlohmann::json fields = nlohmann::json::object());

  /// Retained events with seq > after, oldest first, at most `limit`.
  nlohmann::json since(std::uint64_t after, std::size_t limit) const;
  /// Events recorded so far, by kind (for /metrics).
  std::map<std::string, std::uint64_t> counts() const;
  std::uint64_t last_seq() const;
  std::uint64_t file_errors() const;

 private:
  void append_to_file(const std::string& line);

  mutable std::mutex mutex_;
  std::string path_;
  std::size_t capacity_;
  std::uint64_t file_bytes_max_;
  std::deque<nlohmann::json> events_;
  std::map<std::string, std::uint64_t> counts_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t file_errors_ = 0;
};

std::string_view to_string(event_severity s);

}  // namespace cairn::runtime
