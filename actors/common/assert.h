// actors/common/assert.h — always-on assertions for the pure cores.
//
// Owner: shared by every pure core. A failed assertion is a bug in cairn,
// never a reaction to bad input (bad input is rejected with an error).
// Assertions stay on in release builds: a replica that continues after a
// broken invariant can corrupt replicated state, which is worse than a
// crash. The failure handler is replaceable so that the simulator can turn
// an assertion into a reported failure with the seed that replays it.
#pragma once

namespace cairn {

using assertion_handler = void (*)(const char* expr, const char* msg, const char* file, int line);

/// Installs a handler; returns the previous one. The default prints to
/// stderr and aborts. The handler must not return.
assertion_handler set_assertion_handler(assertion_handler h);

[[noreturn]] void assertion_failed(const char* expr, const char* msg, const char* file, int line);

}  // namespace cairn

#define CAIRN_ASSERT(expr)                                                 \
  do {                                                                     \
    if (!(expr)) ::cairn::assertion_failed(#expr, "", __FILE__, __LINE__); \
  } while (0)

#define CAIRN_ASSERT_MSG(expr, msg)                                           \
  do {                                                                        \
    if (!(expr)) ::cairn::assertion_failed(#expr, (msg), __FILE__, __LINE__); \
  } while (0)
