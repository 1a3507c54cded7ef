// tests/actors/raft/expensive_checks.cpp — turns on the expensive assertion
// tier for every Raft unit test in this binary.
#include "actors/raft/raft_log.h"

namespace {
const bool enabled = [] {
  cairn::raft::raft_log::set_expensive_checks(true);
  return true;
}();
}  // namespace
