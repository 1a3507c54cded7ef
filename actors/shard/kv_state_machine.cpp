// actors/shard/kv_state_machine.cpp — see kv_state_machine.h.
#include "actors/shard/kv_state_machine.h"

#include <cstring>
#include <limits>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "schema/capnp_frames.h"
#include "schema/raft.capnp.h"

namespace cairn::shard {
namespace {

using schema::as_data;
using schema::to_flat_bytes;
using schema::to_std_string;

/// No size limit of its own: commands and snapshots reach the state machine
/// inside Raft frames, which the Raft codec already bounds.
constexpr std::size_t kv_frame_bytes_max = std::numeric_limits<std::size_t>::max();

template <class Root, class F>
auto read_flat(const raft::bytes& data, F&& f)
    -> decltype(f(std::declval<typename Root::Reader>())) {
  using result = decltype(f(std::declval<typename Root::Reader>()));
  try {
    schema::flat_frame frame;
    std::string why;
    if (!frame.open(data, kv_frame_bytes_max, why)) return result{};
    return f(frame.reader->getRoot<Root>());
  } catch (const kj::Exception&) {
    return result{};
  }
}

}  // namespace

raft::bytes encode_kv_command(const kv_command& c) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::KvCommand>();
  b.setVersion(1);
  b.setOp(static_cast<std::uint8_t>(c.op));
  b.setKey(as_data(c.key));
  b.setValue(as_data(c.value));
  b.setExpected(as_data(c.expected));
  b.setExpectAbsent(c.expect_absent);
  b.setRequestId(c.request_id);
  b.setProposer(c.proposer);
  if (c.op == kv_op::batch) {
    auto writes = b.initBatch(static_cast<unsigned>(c.batch.size()));
    for (std::size_t i = 0; i < c.batch.size(); ++i) {
      auto w = writes[static_cast<unsigned>(i)];
      w.setKey(as_data(c.batch[i].key));
      w.setDelete(!c.batch[i].value.has_value());
      if (c.batch[i].value) w.setValue(as_data(*c.batch[i].value));
    }
  }
  return to_flat_bytes(mb);
}

std::optional<kv_command> decode_kv_command(const raft::bytes& data) {
  return read_flat<schema::KvCommand>(
      data, [](schema::KvCommand::Reader r) -> std::optional<kv_command> {
        if (r.getVersion() != 1 || r.getOp() > 3) return std::nullopt;
        if (r.getKey().size() > kv_key_bytes_max || r.getValue().size() > kv_value_bytes_max ||
            r.getExpected().size() > kv_value_bytes_max)
          return std::nullopt;
        kv_command c;
        c.op = static_cast<kv_op>(r.getOp());
        c.key = to_std_string(r.getKey());
        c.value = to_std_string(r.getValue());
        c.expected = to_std_string(r.getExpected());
        c.expect_absent = r.getExpectAbsent();
        c.request_id = r.getRequestId();
        c.proposer = r.getProposer();
        if (c.op == kv_op::batch) {
          if (r.getBatch().size() > kv_batch_writes_max) return std::nullopt;
          for (auto w : r.getBatch()) {
            if (w.getKey().size() > kv_key_bytes_max || w.getValue().size() > kv_value_bytes_max)
              return std::nullopt;
            kv_write write{to_std_string(w.getKey()), std::nullopt};
            if (!w.getDelete()) write.value = to_std_string(w.getValue());
            c.batch.push_back(std::move(write));
          }
        }
        return c;
      });
}

kv_result kv_state_machine::apply(const kv_command& c) {
  kv_result r;
  if (c.op == kv_op::noop) return r;
  if (c.op == kv_op::batch) {
    for (const auto& w : c.batch) {
      if (w.value)
        map_[w.key] = *w.value;
      else
        map_.erase(w.key);
    }
    return r;
  }
  auto it = map_.find(c.key);
  if (it != map_.end()) r.previous = it->second;
  if (c.op == kv_op::compare_and_set) {
    const bool matches =
        c.expect_absent ? it == map_.end() : (it != map_.end() && it->second == c.expected);
    if (!matches) {
      r.ok = false;
      return r;
    }
  }
  map_[c.key] = c.value;
  return r;
}

std::optional<std::string> kv_state_machine::get(const std::string& key) const {
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> kv_state_machine::scan(const std::string& prefix,
                                                                        std::size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = map_.lower_bound(prefix);
       it != map_.end() && out.size() < limit && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it)
    out.emplace_back(it->first, it->second);
  return out;
}

raft::bytes kv_state_machine::snapshot() const {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::KvSnapshot>();
  b.setVersion(1);
  auto keys = b.initKeys(static_cast<unsigned>(map_.size()));
  auto values = b.initValues(static_cast<unsigned>(map_.size()));
  unsigned i = 0;
  for (const auto& [k, v] : map_) {
    keys.set(i, as_data(k));
    values.set(i, as_data(v));
    ++i;
  }
  return to_flat_bytes(mb);
}

bool kv_state_machine::restore(const raft::bytes& data) {
  if (data.empty()) {
    map_.clear();
    return true;
  }
  auto loaded = read_flat<schema::KvSnapshot>(
      data, [](schema::KvSnapshot::Reader r) -> std::optional<std::map<std::string, std::string>> {
        // Each get of a list counts its words against the traversal limit:
        // read both lists once.
        const auto keys = r.getKeys();
        const auto values = r.getValues();
        if (r.getVersion() != 1 || keys.size() != values.size()) return std::nullopt;
        std::map<std::string, std::string> m;
        for (unsigned i = 0; i < keys.size(); ++i)
          m.emplace(to_std_string(keys[i]), to_std_string(values[i]));
        return m;
      });
  if (!loaded) return false;
  map_ = std::move(*loaded);
  return true;
}

std::uint64_t kv_state_machine::fingerprint() const {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const std::string& s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (const auto& [k, v] : map_) {
    mix(k);
    mix(v);
  }
  return h;
}

}  // namespace cairn::shard
