// tests/fuzz/raft_message_corpus_test.cpp — the seed corpus of
// raft_message_fuzz (tests/fuzz/corpus/raft_message/): every seed is a
// valid frame (each also padded with one zero word, which moves it to the
// harness's other fixture), and the fuzz harness runs every file of the corpus without
// crashing, in every build (no clang or libFuzzer needed). Crash
// reproducers found by fuzzing belong in the same directory.
//
// Owner: tests. Regenerate the seeds (then review them as a diff) with
//   CAIRN_REWRITE_CORPUS=1 ./raft_message_corpus_test
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "actors/raft/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using namespace cairn::raft;

const std::filesystem::path corpus_dir =
    std::filesystem::path(CAIRN_SOURCE_DIR) / "tests/fuzz/corpus/raft_message";

message make(message_type type, std::uint64_t from, std::uint64_t to, std::uint64_t term) {
  message m;
  m.type = type;
  m.from = node_id{from};
  m.to = node_id{to};
  m.term = term_t{term};
  return m;
}

entry make_entry(std::uint64_t index, std::uint64_t term, bytes data,
                 entry_type type = entry_type::normal) {
  return entry{term_t{term}, log_index{index}, type, std::move(data)};
}

/// Seeds named after what they exercise; they address the fuzz fixtures
/// (node 1 leads term 1 with entries 1-4 committed).
std::map<std::string, message> seeds() {
  std::map<std::string, message> s;
  {
    message m = make(message_type::append, 1, 2, 1);
    m.index = log_index{4};
    m.log_term = term_t{1};
    m.commit = log_index{4};
    m.entries = {make_entry(5, 1, "d")};
    s["append_next_entry"] = m;
  }
  {
    message m = make(message_type::append, 1, 3, 1);
    m.index = log_index{3};
    m.log_term = term_t{1};
    m.commit = log_index{5};
    m.entries = {make_entry(4, 1, "c"), make_entry(5, 1, "e")};
    s["append_overlapping_entries"] = m;
  }
  {
    conf_change cc;
    cc.changes = {{conf_change_kind::add_learner, node_id{4}}};
    message m = make(message_type::append, 2, 3, 2);
    m.index = log_index{4};
    m.log_term = term_t{1};
    m.commit = log_index{5};
    m.entries = {make_entry(5, 2, encode_conf_change(cc), entry_type::conf_change)};
    s["append_conf_change_from_new_leader"] = m;
  }
  {
    message m = make(message_type::heartbeat, 1, 2, 1);
    m.commit = log_index{4};
    m.context = "read-1";
    s["heartbeat_with_read_context"] = m;
  }
  {
    message m = make(message_type::append_response, 2, 1, 1);
    m.index = log_index{4};
    s["append_response_accept"] = m;
  }
  {
    message m = make(message_type::append_response, 3, 1, 1);
    m.index = log_index{4};
    m.reject = true;
    m.reject_hint = log_index{2};
    m.hint_term = term_t{1};
    s["append_response_reject_with_hint"] = m;
  }
  {
    message m = make(message_type::heartbeat_response, 3, 1, 1);
    m.context = "read-1";
    s["heartbeat_response"] = m;
  }
  {
    message m = make(message_type::vote, 2, 3, 2);
    m.index = log_index{4};
    m.log_term = term_t{1};
    s["vote_request"] = m;
  }
  {
    message m = make(message_type::pre_vote, 3, 1, 2);
    m.index = log_index{4};
    m.log_term = term_t{1};
    s["pre_vote_request"] = m;
  }
  s["vote_response_grant"] = make(message_type::vote_response, 3, 2, 2);
  {
    message m = make(message_type::pre_vote_response, 1, 3, 1);
    m.reject = true;
    s["pre_vote_response_reject"] = m;
  }
  {
    message m = make(message_type::install_snapshot, 1, 3, 1);
    snapshot snap;
    snap.metadata.index = log_index{10};
    snap.metadata.term = term_t{1};
    snap.metadata.conf.voters = {node_id{1}, node_id{2}, node_id{3}};
    snap.data = "state machine at 10";
    m.snap = snap;
    s["install_snapshot"] = m;
  }
  s["timeout_now"] = make(message_type::timeout_now, 1, 2, 1);
  {
    message m = make(message_type::read_index, 2, 1, 0);
    m.context = "read-2";
    s["read_index_forwarded"] = m;
  }
  {
    message m = make(message_type::read_index_response, 1, 2, 1);
    m.index = log_index{4};
    m.context = "read-2";
    s["read_index_response"] = m;
  }
  {
    conf_change cc;
    cc.transition = conf_change_transition::joint_explicit;
    cc.changes = {{conf_change_kind::add_voter, node_id{4}},
                  {conf_change_kind::remove_node, node_id{3}}};
    message m = make(message_type::propose, 3, 1, 0);
    m.entries = {make_entry(0, 0, "p1"),
                 make_entry(0, 0, encode_conf_change(cc), entry_type::conf_change)};
    s["propose_forwarded_with_joint_change"] = m;
  }
  s["transfer_leader_forwarded"] = make(message_type::transfer_leader, 3, 1, 0);
  {
    message m = make(message_type::append, 3, 2, 3);
    m.index = log_index{2};
    m.log_term = term_t{1};
    m.commit = log_index{3};
    m.entries = {make_entry(3, 3, "x")};
    s["append_higher_term_conflicting"] = m;
  }
  return s;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(RaftMessageCorpus, SeedsAreValidFramesOfTheirMessage) {
  if (const char* rewrite = std::getenv("CAIRN_REWRITE_CORPUS"); rewrite && *rewrite == '1') {
    std::filesystem::create_directories(corpus_dir);
    for (const auto& [name, m] : seeds()) {
      const bytes frame = encode_message(m);
      std::ofstream(corpus_dir / (name + ".bin"), std::ios::binary | std::ios::trunc) << frame;
      std::ofstream(corpus_dir / (name + ".padded.bin"), std::ios::binary | std::ios::trunc)
          << frame + bytes(8, '\0');
    }
  }
  for (const auto& [name, m] : seeds()) {
    for (const char* suffix : {".bin", ".padded.bin"}) {
      const auto path = corpus_dir / (name + suffix);
      ASSERT_TRUE(std::filesystem::exists(path))
          << path << " missing: rerun with CAIRN_REWRITE_CORPUS=1";
      auto decoded = decode_message(read_file(path));
      ASSERT_TRUE(std::holds_alternative<message>(decoded)) << path;
      EXPECT_EQ(std::get<message>(decoded), m)
          << path << " is stale: rerun with CAIRN_REWRITE_CORPUS=1";
    }
  }
}

TEST(RaftMessageCorpus, TheHarnessRunsEveryFileOfTheCorpus) {
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(corpus_dir)) {
    if (!e.is_regular_file()) continue;
    const std::string data = read_file(e.path());
    EXPECT_EQ(
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()), 0)
        << e.path();
    ++files;
  }
  EXPECT_GE(files, 2 * seeds().size());
}
