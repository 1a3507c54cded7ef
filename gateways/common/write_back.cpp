// gateways/common/write_back.cpp — see write_back.h.
#include "gateways/common/write_back.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cairn::gateway {

namespace {
std::uint64_t end_of(const std::pair<const std::uint64_t, std::string>& e) {
  return e.first + e.second.size();
}
}  // namespace

void dirty_file::write(std::uint64_t offset, std::string_view data) {
  if (data.empty()) return;
  const std::uint64_t last = offset + data.size();
  // The first extent that overlaps or touches [offset, last] (WB1).
  auto it = extents_.upper_bound(offset);
  if (it != extents_.begin() && end_of(*std::prev(it)) >= offset) --it;
  auto through = it;
  std::uint64_t start = offset, stop = last;
  while (through != extents_.end() && through->first <= last) {
    start = std::min(start, through->first);
    stop = std::max(stop, end_of(*through));
    ++through;
  }
  std::string merged;
  if (it != through && it->first == start) {
    merged = std::move(it->second);  // sequential appends grow this string in place
    bytes_ -= merged.size();
    it = extents_.erase(it);
  }
  merged.resize(stop - start);
  for (; it != through; it = extents_.erase(it)) {
    std::memcpy(merged.data() + (it->first - start), it->second.data(), it->second.size());
    bytes_ -= it->second.size();
  }
  std::memcpy(merged.data() + (offset - start), data.data(), data.size());
  bytes_ += merged.size();
  extents_.emplace(start, std::move(merged));
}

std::uint64_t dirty_file::end() const {
  return extents_.empty() ? 0 : end_of(*extents_.rbegin());
}

void dirty_file::overlay(std::uint64_t first, std::span<char> out) const {
  const std::uint64_t last = first + out.size();
  auto it = extents_.upper_bound(first);
  if (it != extents_.begin()) --it;
  for (; it != extents_.end() && it->first < last; ++it) {
    const auto from = std::max(first, it->first), to = std::min(last, end_of(*it));
    if (from < to)
      std::memcpy(out.data() + (from - first), it->second.data() + (from - it->first), to - from);
  }
}

std::vector<std::uint64_t> dirty_file::full_slots(std::uint64_t slot_bytes) const {
  std::vector<std::uint64_t> out;
  for (const auto& e : extents_) {
    for (std::uint64_t k = (e.first + slot_bytes - 1) / slot_bytes;
         (k + 1) * slot_bytes <= end_of(e); ++k)
      out.push_back(k);
  }
  return out;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> dirty_file::slot_runs(
    std::uint64_t slot_bytes) const {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  for (const auto& e : extents_) {
    const std::uint64_t a = e.first / slot_bytes, b = (end_of(e) - 1) / slot_bytes;
    if (!runs.empty() && runs.back().second + 1 >= a)
      runs.back().second = std::max(runs.back().second, b);
    else
      runs.emplace_back(a, b);
  }
  return runs;
}

std::vector<dirty_file::extent> dirty_file::take(std::uint64_t from, std::uint64_t to) {
  std::vector<extent> out;
  if (from >= to) return out;
  auto it = extents_.upper_bound(from);
  if (it != extents_.begin() && end_of(*std::prev(it)) > from) --it;
  while (it != extents_.end() && it->first < to) {
    const std::uint64_t start = it->first, stop = end_of(*it);
    if (stop <= from) {
      ++it;
      continue;
    }
    std::string bytes = std::move(it->second);
    bytes_ -= bytes.size();
    it = extents_.erase(it);
    const auto a = std::max(from, start), b = std::min(to, stop);
    if (start < a) {  // the part before `from` stays
      extents_.emplace(start, bytes.substr(0, a - start));
      bytes_ += a - start;
    }
    if (b < stop) {  // the part after `to` stays
      it = extents_.emplace(b, bytes.substr(b - start)).first;
      bytes_ += stop - b;
      ++it;
    }
    if (a == start && b == stop)
      out.emplace_back(a, std::move(bytes));
    else
      out.emplace_back(a, bytes.substr(a - start, b - a));
  }
  return out;
}

void dirty_file::check() const {
  std::uint64_t sum = 0, previous_end = 0;
  bool first = true;
  for (const auto& e : extents_) {
    if (e.second.empty() || (!first && e.first <= previous_end)) {
      std::fprintf(stderr, "WB1 broken: extent at %llu after one ending at %llu\n",
                   static_cast<unsigned long long>(e.first),
                   static_cast<unsigned long long>(previous_end));
      std::abort();
    }
    sum += e.second.size();
    previous_end = end_of(e);
    first = false;
  }
  if (sum != bytes_) {
    std::fprintf(stderr, "WB2 broken: extents hold %llu bytes, counted %llu\n",
                 static_cast<unsigned long long>(sum), static_cast<unsigned long long>(bytes_));
    std::abort();
  }
}

}  // namespace cairn::gateway
