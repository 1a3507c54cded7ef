// tests/actors/raft/raft_log_test.cpp — the in-memory log (raft_log.h L1-L5).
#include "actors/raft/raft_log.h"

#include <gtest/gtest.h>

using namespace cairn::raft;

namespace {
std::vector<entry> ents(std::initializer_list<std::pair<std::uint64_t, std::uint64_t>> it) {
  std::vector<entry> out;
  for (auto [i, t] : it) out.push_back(entry{term_t{t}, log_index{i}, entry_type::normal, "x"});
  return out;
}
}  // namespace

TEST(RaftLog, AppendEntriesRejectsAMismatchedPrevious) {
  raft_log log(log_index{0}, term_t{0});
  EXPECT_FALSE(log.maybe_append(log_index{1}, term_t{1}, log_index{0}, ents({{2, 1}})));
  auto last = log.maybe_append(log_index{0}, term_t{0}, log_index{0}, ents({{1, 1}, {2, 1}}));
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, log_index{2});
  EXPECT_EQ(log.last_index(), log_index{2});
}

TEST(RaftLog, Section5_3_ConflictingSuffixIsTruncated) {
  raft_log log(log_index{0}, term_t{0});
  log.maybe_append(log_index{0}, term_t{0}, log_index{0}, ents({{1, 1}, {2, 1}, {3, 1}}));
  log.stable_to(log_index{3}, term_t{1});
  EXPECT_EQ(log.persisted(), log_index{3});
  auto last = log.maybe_append(log_index{1}, term_t{1}, log_index{0}, ents({{2, 2}}));
  ASSERT_TRUE(last);
  EXPECT_EQ(log.last_index(), log_index{2});
  EXPECT_EQ(*log.term(log_index{2}), term_t{2});
  EXPECT_EQ(log.persisted(), log_index{1});  // the replaced entry is unstable again
  log.check_invariants();
}

TEST(RaftLog, DuplicateAppendDoesNotTruncate) {
  raft_log log(log_index{0}, term_t{0});
  log.maybe_append(log_index{0}, term_t{0}, log_index{0}, ents({{1, 1}, {2, 1}, {3, 1}}));
  // A delayed, shorter copy of the same append must not drop entry 3.
  log.maybe_append(log_index{0}, term_t{0}, log_index{0}, ents({{1, 1}}));
  EXPECT_EQ(log.last_index(), log_index{3});
}

TEST(RaftLog, CommitIsLimitedToTheLastNewEntry) {
  raft_log log(log_index{0}, term_t{0});
  log.maybe_append(log_index{0}, term_t{0}, log_index{0}, ents({{1, 1}, {2, 1}, {3, 1}}));
  log.maybe_append(log_index{0}, term_t{0}, log_index{10}, ents({{1, 1}}));
  EXPECT_EQ(log.committed(), log_index{1});
}

TEST(RaftLog, Section5_4_1_UpToDateComparesLastTermThenIndex) {
  raft_log log(log_index{0}, term_t{0});
  log.maybe_append(log_index{0}, term_t{0}, log_index{0}, ents({{1, 1}, {2, 2}}));
  EXPECT_TRUE(log.is_up_to_date(log_index{1}, term_t{3}));
  EXPECT_TRUE(log.is_up_to_date(log_index{2}, term_t{2}));
  EXPECT_FALSE(log.is_up_to_date(log_index{1}, term_t{2}));
  EXPECT_FALSE(log.is_up_to_date(log_index{9}, term_t{1}));
}

TEST(RaftLog, FindConflictByTermSkipsHigherTerms) {
  raft_log log(log_index{0}, term_t{0});
  log.maybe_append(log_index{0}, term_t{0}, log_index{0},
                   ents({{1, 1}, {2, 1}, {3, 3}, {4, 3}, {5, 5}}));
  auto [i, t] = log.find_conflict_by_term(log_index{5}, term_t{2});
  EXPECT_EQ(i, log_index{2});
  EXPECT_EQ(t, term_t{1});
}

TEST(RaftLog, CompactKeepsTheTermOfTheCompactionPoint) {
  raft_log log(log_index{0}, term_t{0});
  log.maybe_append(log_index{0}, term_t{0}, log_index{3}, ents({{1, 1}, {2, 2}, {3, 2}}));
  log.stable_to(log_index{3}, term_t{2});
  log.applied_to(log_index{2});
  log.compact(log_index{2});
  EXPECT_EQ(log.first_index(), log_index{3});
  EXPECT_EQ(*log.term(log_index{2}), term_t{2});
  EXPECT_FALSE(log.term(log_index{1}));
  log.check_invariants();
}
