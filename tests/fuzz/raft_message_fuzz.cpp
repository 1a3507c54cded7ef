// tests/fuzz/raft_message_fuzz.cpp — libFuzzer target: arbitrary bytes go
// to raft::decode_message; a frame that decodes is stepped into a replica
// of a small in-memory cluster, so that core::step's validation and every
// handler behind it are fuzzed too, then the cluster runs on with the
// consequences (responses, commits, conf changes) for a bounded number of
// deliveries. Nothing may crash, leak or trip an assertion.
//
// Owner: tests (fuzzing). Single-threaded. The cluster is built once (two
// fixtures) and copied for every input, so inputs are independent and a
// crash replays from its input alone:
//   fixture A (frames of an even number of 8-byte words): node 1 leads
//     term 1, every replica holds and has committed [noop a b c]
//     (indexes 1-4);
//   fixture B (an odd number of words): node 1 still leads term 1 but has
//     compacted its log to a snapshot at 4 and holds an uncommitted entry
//     5 nobody else has; node 2 is a candidate of term 2; node 3 is a
//     pre-candidate.
// (Cap'n Proto ignores words after the message, so one appended word moves
// the same message to the other fixture.) The frame is stepped into node m.to (node 1 when m.to is
// not 1-3, which exercises the "addressed to another node" rejection).
//
// Built with clang and -fsanitize=fuzzer,address,undefined when CAIRN_FUZZ
// is ON (tests/helper_targets.cmake); also linked into
// raft_message_corpus_test, which replays the seed corpus in every build.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <variant>
#include <vector>

#include "actors/common/assert.h"
#include "actors/raft/codec.h"
#include "actors/raft/core.h"
#include "actors/raft/raft_log.h"

namespace {

using namespace cairn::raft;

constexpr std::uint64_t replica_count = 3;
/// Deliveries after the fuzzed message; bounds the work per input.
constexpr std::size_t deliveries_max = 256;

/// Three cores and the messages between them; Ready is carried out at once.
struct cluster {
  std::vector<core> nodes;
  std::deque<message> queue;

  core& node(std::uint64_t id) { return nodes[id - 1]; }

  void handle_ready(core& c) {
    while (c.has_ready()) {
      ready rd = c.get_ready();
      for (auto& om : rd.messages) {
        if (om.msg.to.value >= 1 && om.msg.to.value <= replica_count) {
          queue.push_back(std::move(om.msg));
        }
      }
      for (const auto& e : rd.committed_entries) {
        if (e.type != entry_type::conf_change) continue;
        // What every host does with a committed membership change.
        if (auto cc = decode_conf_change(e.data)) c.apply_conf_change(*cc);
      }
      c.advance(rd);
    }
  }

  void handle_all_ready() {
    for (auto& c : nodes) handle_ready(c);
  }

  void deliver(std::size_t deliveries) {
    handle_all_ready();
    for (std::size_t n = 0; n < deliveries && !queue.empty(); ++n) {
      message m = std::move(queue.front());
      queue.pop_front();
      core& to = node(m.to.value);
      to.step(m);
      handle_ready(to);
    }
  }
};

cluster fresh_cluster() {
  cluster c;
  conf_state voters;
  for (std::uint64_t i = 1; i <= replica_count; ++i) voters.voters.push_back(node_id{i});
  for (std::uint64_t i = 1; i <= replica_count; ++i) {
    config cfg;
    cfg.id = node_id{i};
    cfg.random_seed = i;
    restored_state st;
    st.initial_conf = voters;
    c.nodes.emplace_back(cfg, std::move(st));
  }
  return c;
}

cluster make_fixture_a() {
  cluster c = fresh_cluster();
  c.node(1).campaign();
  c.deliver(1000);
  for (const char* d : {"a", "b", "c"}) {
    c.node(1).propose(d);
    c.deliver(1000);
  }
  CAIRN_ASSERT_MSG(c.node(1).state() == role::leader, "fixture A: node 1 must lead");
  CAIRN_ASSERT_MSG(c.node(3).log().committed() == log_index{4}, "fixture A: 4 entries committed");
  return c;
}

cluster make_fixture_b() {
  cluster c = make_fixture_a();
  c.node(1).compact("state machine at 4", 0);
  c.node(1).propose("d");
  c.handle_all_ready();
  c.queue.clear();  // node 1's appends of entry 5 are lost
  c.node(2).campaign();
  c.handle_all_ready();
  c.queue.clear();  // and so are node 2's vote requests
  for (int i = 0; i < 100 && c.node(3).state() != role::pre_candidate; ++i) {
    c.node(3).tick();
    c.handle_all_ready();
    c.queue.clear();
  }
  CAIRN_ASSERT_MSG(c.node(1).state() == role::leader, "fixture B: node 1 must still lead");
  CAIRN_ASSERT_MSG(c.node(2).state() == role::candidate, "fixture B: node 2 must campaign");
  CAIRN_ASSERT_MSG(c.node(3).state() == role::pre_candidate, "fixture B: node 3 must pre-campaign");
  return c;
}

struct fixtures {
  cluster a;
  cluster b;
};

const fixtures& pristine() {
  static const fixtures f = [] {
    raft_log::set_expensive_checks(true);
    return fixtures{make_fixture_a(), make_fixture_b()};
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fixtures& f = pristine();
  const bytes frame(reinterpret_cast<const char*>(data), size);
  auto decoded = decode_message(frame);
  if (!std::holds_alternative<message>(decoded)) return 0;
  const message& m = std::get<message>(decoded);
  cluster c = (size / 8) % 2 == 0 ? f.a : f.b;
  const std::uint64_t target = m.to.value >= 1 && m.to.value <= replica_count ? m.to.value : 1;
  c.node(target).step(m);
  c.deliver(deliveries_max);
  return 0;
}
