// runtime/event_log.cpp — see event_log.h.
#include "runtime/event_log.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace cairn::runtime {

std::string_view to_string(event_severity s) {
  switch (s) {
    case event_severity::info:
      return "info";
    case event_severity::warning:
      return "warning";
    case event_severity::error:
      return "error";
  }
  return "unknown";
}

event_log::event_log(std::string path, std::size_t capacity, std::uint64_t file_bytes_max)
    : path_(std::move(path)), capacity_(capacity), file_bytes_max_(file_bytes_max) {}

void event_log::record(event_severity severity, std::string kind, std::string source,
                       std::string message, nlohmann::json fields) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  char when[80];
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count() % 1000));
  const auto level = severity == event_severity::error     ? spdlog::level::err
                     : severity == event_severity::warning ? spdlog::level::warn
                                                           : spdlog::level::info;
  spdlog::log(level, "event {}: {}: {}", kind, source, message);
  std::lock_guard lock(mutex_);
  nlohmann::json e{{"seq", next_seq_++},
                   {"time", when},
                   {"severity", std::string(to_string(severity))},
                   {"kind", kind},
                   {"source", std::move(source)},
                   {"message", std::move(message)}};
  if (fields.is_object() && !fields.empty()) e["fields"] = std::move(fields);
  ++counts_[kind];
  if (!path_.empty()) append_to_file(e.dump() + "\n");
  events_.push_back(std::move(e));
  while (events_.size() > capacity_) events_.pop_front();
}

void event_log::append_to_file(const std::string& line) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path_, ec);
  if (!ec && size + line.size() > file_bytes_max_)
    std::filesystem::rename(path_, path_ + ".1", ec);  // EL2: one old file kept
  std::ofstream out(path_, std::ios::app | std::ios::binary);
  out << line;
  out.flush();
  if (!out && file_errors_++ == 0)
    spdlog::error("event log {}: cannot append (events stay in memory)", path_);
}

nlohmann::json event_log::since(std::uint64_t after, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : events_) {
    if (out.size() >= limit) break;
    if (e["seq"].get<std::uint64_t>() > after) out.push_back(e);
  }
  return out;
}

std::map<std::string, std::uint64_t> event_log::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::uint64_t event_log::last_seq() const {
  std::lock_guard lock(mutex_);
  return next_seq_ - 1;
}

std::uint64_t event_log::file_errors() const {
  std::lock_guard lock(mutex_);
  return file_errors_;
}

}  // namespace cairn::runtime
