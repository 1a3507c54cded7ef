// gateways/common/file_data.cpp — see file_data.h.
#include "gateways/common/file_data.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "gateways/common/chunk_pipeline.h"

namespace cairn::gateway {

bool copy_range(const shard::object_version& v, std::uint64_t first, std::uint64_t last,
                std::string& out, const chunk_source& source) {
  out.clear();
  if (first >= last) return true;
  out.assign(last - first, '\0');
  auto take = [&](std::span<const std::uint8_t> plain, std::uint64_t at) {
    const auto from = std::max(first, at), to = std::min(last, at + plain.size());
    if (from < to) std::memcpy(out.data() + (from - first), plain.data() + (from - at), to - from);
  };
  if (!v.inline_sealed.empty()) {
    const auto epoch = inline_epoch(v.inline_sealed);
    const auto g = epoch ? source.grant(*epoch) : nullptr;
    const auto plain = g ? open_inline(*g, v.inline_sealed) : std::nullopt;
    if (!plain) return false;
    take(*plain, 0);
    return true;
  }
  for (const auto& ref : v.chunks) {
    if (ref.offset + ref.length <= first || ref.offset >= last) continue;
    const auto plain = source.chunk(ref);
    if (!plain || plain->size() < ref.length) return false;
    take(std::span<const std::uint8_t>(*plain).first(ref.length), ref.offset);
  }
  return true;
}

}  // namespace cairn::gateway
