// tests/bench/raft_core_bench.cpp — throughput of the pure Raft core:
// committed 1 KiB proposals per second in an in-memory three-replica
// cluster with instant delivery (Google Benchmark).
//
// Owner: tests (benchmarks); single-threaded. The loop is tighter than
// sim::core_cluster: storage only counts the bytes it would write, applied
// entries are counted and dropped, and every replica compacts its log
// every compact_interval_entries so memory stays bounded over millions of
// entries. What is measured is therefore the cores themselves: propose,
// step, get_ready/advance and their check_invariants().
//
//  raft_core_bench/unbatched     propose one entry, deliver until the leader
//                                commits it, repeat;
//  raft_core_bench/batched/N     propose N entries (N calls of propose()),
//                                then deliver until the leader commits the
//                                last one;
//  raft_core_bench/forwarded_batch/N
//                                the same N entries arrive in one forwarded
//                                `propose` message (what a follower sends;
//                                the core's only multi-entry proposal path):
//                                shows what a batch propose API would give.
// items_per_second = entries committed on the leader per second;
// bytes_per_second = their payload bytes per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <deque>
#include <vector>

#include "actors/common/assert.h"
#include "actors/raft/core.h"

namespace {

using namespace cairn::raft;

constexpr std::size_t replica_count = 3;
constexpr std::size_t entry_size_bytes = 1024;
/// A host compacts once this many entries are applied past its snapshot.
constexpr std::uint64_t compact_interval_entries = 4096;
/// Entries kept behind the snapshot for slow followers.
constexpr std::uint64_t compact_retain_entries = 1024;
static_assert(compact_retain_entries < compact_interval_entries);

class bench_cluster {
 public:
  bench_cluster() {
    conf_state voters;
    for (std::uint64_t i = 1; i <= replica_count; ++i) voters.voters.push_back(node_id{i});
    for (std::uint64_t i = 1; i <= replica_count; ++i) {
      config cfg;
      cfg.id = node_id{i};
      cfg.random_seed = i;
      restored_state st;
      st.initial_conf = voters;
      nodes_.emplace_back(cfg, std::move(st));
    }
    nodes_[0].campaign();
    handle_ready(0);
    deliver_until([] { return false; });
    CAIRN_ASSERT_MSG(nodes_[0].state() == role::leader, "node 1 must win the first election");
  }

  core& leader() { return nodes_[0]; }

  /// Carries out every Ready of replica `i` at once.
  void handle_ready(std::size_t i) {
    core& c = nodes_[i];
    while (c.has_ready()) {
      ready rd = c.get_ready();
      for (const auto& e : rd.entries) persisted_bytes_ += payload_size(e);
      for (auto& om : rd.messages) queue_.push_back(std::move(om.msg));
      applied_entries_ += rd.committed_entries.size();
      c.advance(rd);
      const log_index applied = c.log().applied();
      if (applied.value >= c.latest_snapshot().metadata.index.value + compact_interval_entries) {
        c.compact({}, compact_retain_entries);
      }
    }
  }

  /// Delivers queued messages in FIFO order until `done()` or none is left.
  template <class Done>
  void deliver_until(Done done) {
    while (!queue_.empty() && !done()) {
      message m = std::move(queue_.front());
      queue_.pop_front();
      const std::size_t to = m.to.value - 1;
      nodes_[to].step(m);
      ++delivered_;
      handle_ready(to);
    }
  }

  std::uint64_t delivered() const { return delivered_; }

 private:
  std::vector<core> nodes_;
  std::deque<message> queue_;
  std::uint64_t persisted_bytes_ = 0;
  std::uint64_t applied_entries_ = 0;
  std::uint64_t delivered_ = 0;
};

void report(benchmark::State& state, std::uint64_t committed, const bench_cluster& c) {
  state.SetItemsProcessed(static_cast<std::int64_t>(committed));
  state.SetBytesProcessed(static_cast<std::int64_t>(committed * entry_size_bytes));
  state.counters["messages_per_entry"] =
      committed ? static_cast<double>(c.delivered()) / static_cast<double>(committed) : 0.0;
}

void unbatched(benchmark::State& state) {
  bench_cluster c;
  const bytes payload(entry_size_bytes, 'x');
  std::uint64_t committed = 0;
  for (auto _ : state) {
    core& leader = c.leader();
    if (!leader.propose(payload).ok()) state.SkipWithError("proposal dropped");
    const log_index target = leader.log().last_index();
    c.handle_ready(0);
    c.deliver_until([&] { return leader.log().committed() >= target; });
    if (leader.log().committed() < target) state.SkipWithError("entry not committed");
    ++committed;
  }
  report(state, committed, c);
}

void batched(benchmark::State& state) {
  bench_cluster c;
  const bytes payload(entry_size_bytes, 'x');
  const auto batch = static_cast<std::uint64_t>(state.range(0));
  std::uint64_t committed = 0;
  for (auto _ : state) {
    core& leader = c.leader();
    for (std::uint64_t i = 0; i < batch; ++i) {
      if (!leader.propose(payload).ok()) state.SkipWithError("proposal dropped");
    }
    const log_index target = leader.log().last_index();
    c.handle_ready(0);
    c.deliver_until([&] { return leader.log().committed() >= target; });
    if (leader.log().committed() < target) state.SkipWithError("batch not committed");
    committed += batch;
  }
  report(state, committed, c);
}

void forwarded_batch(benchmark::State& state) {
  bench_cluster c;
  const auto batch = static_cast<std::size_t>(state.range(0));
  message proposal;
  proposal.type = message_type::propose;
  proposal.from = node_id{2};
  proposal.to = node_id{1};
  proposal.entries.assign(
      batch, entry{term_t{0}, log_index{0}, entry_type::normal, bytes(entry_size_bytes, 'x')});
  std::uint64_t committed = 0;
  for (auto _ : state) {
    core& leader = c.leader();
    if (!leader.step(proposal).ok()) state.SkipWithError("proposal dropped");
    const log_index target = leader.log().last_index();
    c.handle_ready(0);
    c.deliver_until([&] { return leader.log().committed() >= target; });
    if (leader.log().committed() < target) state.SkipWithError("batch not committed");
    committed += batch;
  }
  report(state, committed, c);
}

BENCHMARK(unbatched)->Name("raft_core_bench/unbatched");
BENCHMARK(batched)->Name("raft_core_bench/batched")->Arg(64)->Arg(256)->Arg(1024);
BENCHMARK(forwarded_batch)->Name("raft_core_bench/forwarded_batch")->Arg(64)->Arg(256)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
