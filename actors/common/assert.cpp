// actors/common/assert.cpp — see assert.h.
#include "actors/common/assert.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace cairn {
namespace {

void default_handler(const char* expr, const char* msg, const char* file, int line) {
  std::fprintf(stderr, "cairn: assertion failed: %s %s at %s:%d\n", expr, msg, file, line);
  std::fflush(stderr);
  std::abort();
}

std::atomic<assertion_handler> current_handler{&default_handler};

}  // namespace

assertion_handler set_assertion_handler(assertion_handler h) {
  return current_handler.exchange(h ? h : &default_handler);
}

void assertion_failed(const char* expr, const char* msg, const char* file, int line) {
  current_handler.load()(expr, msg, file, line);
  // A handler must not return; if it does, stop anyway.
  std::abort();
}

}  // namespace cairn
