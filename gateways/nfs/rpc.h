// gateways/nfs/rpc.h — ONC RPC version 2 (RFC 5531) for the NFS gateway:
// record marking over TCP (section 11), call headers with AUTH_NONE and
// AUTH_SYS credentials, and every reply form a server sends (SUCCESS,
// PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR,
// RPC_MISMATCH, AUTH_ERROR). Headers and credentials are encoded and
// decoded by libtirpc's XDR routines (xdr_callmsg, xdr_replymsg,
// xdr_authunix_parms).
//
// Owner: the NFS gateway's sessions (gateways/nfs/server). Pure: bytes in,
// bytes out; no I/O, no clock. Not thread-safe (one reader per connection).
//
// Invariants:
//  RPC1. A record is handed out only when complete; a record (all its
//        fragments) over the reader's bound is refused before its bytes are
//        buffered, so a connection holds at most one bound's worth of input.
//  RPC2. Every record that carries a decodable call header gets exactly one
//        answer from the gateway (a result or an RPC error); a record
//        without one (too short, or a reply) is dropped: there is no xid to
//        answer.
//  RPC3. Replies are single-fragment records, marked last.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateways/nfs/xdr.h"

namespace cairn::nfs {

inline constexpr std::uint32_t rpc_version = 2;
inline constexpr std::uint32_t auth_flavor_none = 0;
inline constexpr std::uint32_t auth_flavor_sys = 1;

/// Reassembles records from the bytes of one TCP connection (RPC1).
class record_reader {
 public:
  explicit record_reader(std::size_t record_bytes_max) : max_(record_bytes_max) {}

  void append(std::string_view bytes) { buffer_.append(bytes); }

  enum class state : std::uint8_t { need_more, record, too_big };
  /// The next complete record into `record`, if one is buffered.
  state next(std::string& record);

  /// Bytes received and not yet handed out.
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::size_t max_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ already handed out
  std::string partial_;       // fragments of the record being assembled
};

/// An AUTH_SYS credential (RFC 5531 appendix A).
struct auth_sys_credential {
  std::uint32_t stamp = 0;
  std::string machine;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> gids;  // at most 16
};

struct rpc_call {
  std::uint32_t xid = 0;
  std::uint32_t program = 0;
  std::uint32_t version = 0;
  std::uint32_t procedure = 0;
  std::uint32_t flavor = auth_flavor_none;
  auth_sys_credential sys;  // when flavor == auth_flavor_sys
  /// The procedure's arguments: a view into the record parse_call read.
  std::string_view args;
};

enum class call_outcome : std::uint8_t {
  call,    // `call` holds it
  drop,    // no call header to answer (RPC2)
  answer,  // `reply` holds the rejection to send (RPC_MISMATCH, AUTH_ERROR)
};

/// Parses a record's call header and credential.
call_outcome parse_call(std::string_view record, rpc_call& call, std::string& reply);

enum class accept_status : std::uint32_t {
  success = 0,
  prog_unavail = 1,
  prog_mismatch = 2,
  proc_unavail = 3,
  garbage_args = 4,
  system_err = 5,
};

enum class auth_status : std::uint32_t {
  ok = 0,
  badcred = 1,
  rejectedcred = 2,
  badverf = 3,
  rejectedverf = 4,
  tooweak = 5,
};

// Replies, each a complete record with its mark (RPC3).

/// SUCCESS with the results `encode` writes; SYSTEM_ERR if they do not encode.
std::string reply_success_raw(std::uint32_t xid, xdrproc_t encode, void* results);
template <class T>
std::string reply_success(std::uint32_t xid, xdr_routine<T> encode, const T& results) {
  return reply_success_raw(xid, as_xdrproc(encode), const_cast<T*>(&results));
}
/// SUCCESS with no results (a void procedure).
std::string reply_void(std::uint32_t xid);
/// PROG_UNAVAIL, PROC_UNAVAIL, GARBAGE_ARGS or SYSTEM_ERR.
std::string reply_error(std::uint32_t xid, accept_status status);
/// PROG_MISMATCH with the versions served.
std::string reply_prog_mismatch(std::uint32_t xid, std::uint32_t low, std::uint32_t high);
/// MSG_DENIED: AUTH_ERROR with the reason.
std::string reply_auth_error(std::uint32_t xid, auth_status why);
/// MSG_DENIED: RPC_MISMATCH (this server speaks version 2 only).
std::string reply_rpc_mismatch(std::uint32_t xid);

}  // namespace cairn::nfs
