// gateways/nfs/rpc.cpp — see rpc.h.
#include "gateways/nfs/rpc.h"

#include <cstring>

namespace cairn::nfs {

namespace {

constexpr std::uint32_t last_fragment_bit = 0x80000000u;

std::uint32_t read_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
         std::uint32_t{u[3]};
}

void write_be32(char* p, std::uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

/// Encodes a reply message (header, and results through its ar_results)
/// into a record with its mark; `body_bytes` bounds the encoding.
bool encode_reply(rpc_msg& msg, std::size_t body_bytes, std::string& out) {
  out.assign(4 + body_bytes, '\0');
  XDR x;
  xdrmem_create(&x, out.data() + 4, static_cast<u_int>(body_bytes), XDR_ENCODE);
  const bool ok = xdr_replymsg(&x, &msg);
  const std::size_t used = xdr_getpos(&x);
  xdr_destroy(&x);
  if (!ok) return false;
  out.resize(4 + used);
  write_be32(out.data(), last_fragment_bit | static_cast<std::uint32_t>(used));
  return true;
}

rpc_msg accepted(std::uint32_t xid, accept_stat status) {
  rpc_msg msg{};
  msg.rm_xid = xid;
  msg.rm_direction = REPLY;
  msg.rm_reply.rp_stat = MSG_ACCEPTED;
  msg.rm_reply.rp_acpt.ar_verf = _null_auth;
  msg.rm_reply.rp_acpt.ar_stat = status;
  return msg;
}

rpc_msg denied(std::uint32_t xid, reject_stat status) {
  rpc_msg msg{};
  msg.rm_xid = xid;
  msg.rm_direction = REPLY;
  msg.rm_reply.rp_stat = MSG_DENIED;
  msg.rm_reply.rp_rjct.rj_stat = status;
  return msg;
}

constexpr std::size_t reply_header_bytes = 64;  // xid .. accept status, with an empty verifier

/// Decodes an AUTH_SYS credential body; false if it is not exactly one.
bool decode_auth_sys(std::string_view body, auth_sys_credential& out) {
  authunix_parms parms{};
  XDR x;
  xdrmem_create(&x, const_cast<char*>(body.data()), static_cast<u_int>(body.size()), XDR_DECODE);
  const bool ok = xdr_authunix_parms(&x, &parms) && xdr_getpos(&x) == body.size();
  xdr_destroy(&x);
  if (ok) {
    out.stamp = static_cast<std::uint32_t>(parms.aup_time);
    out.machine = parms.aup_machname ? parms.aup_machname : "";
    out.uid = parms.aup_uid;
    out.gid = parms.aup_gid;
    out.gids.assign(parms.aup_gids, parms.aup_gids + parms.aup_len);
  }
  xdr_free(reinterpret_cast<xdrproc_t>(xdr_authunix_parms), reinterpret_cast<char*>(&parms));
  return ok;
}

}  // namespace

record_reader::state record_reader::next(std::string& record) {
  for (;;) {
    if (buffered() < 4) break;
    const std::uint32_t mark = read_be32(buffer_.data() + consumed_);
    const std::size_t length = mark & ~last_fragment_bit;
    if (partial_.size() + length > max_) return state::too_big;  // RPC1: before buffering it
    if (buffered() < 4 + length) break;
    partial_.append(buffer_, consumed_ + 4, length);
    consumed_ += 4 + length;
    if (mark & last_fragment_bit) {
      record = std::move(partial_);
      partial_.clear();
      return state::record;
    }
  }
  // Keep the unconsumed tail only.
  if (consumed_ > 0 && (consumed_ >= buffer_.size() / 2 || consumed_ > (1u << 16))) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return state::need_more;
}

call_outcome parse_call(std::string_view record, rpc_call& call, std::string& reply) {
  // The first three words decide whom to answer and how; xdr_callmsg
  // refuses a version it does not speak without saying so.
  XDR x;
  xdrmem_create(&x, const_cast<char*>(record.data()), static_cast<u_int>(record.size()),
                XDR_DECODE);
  std::uint32_t xid = 0, direction = 0, version = 0, program = 0, program_version = 0,
                procedure = 0;
  const bool head = xdr_u_int32_t(&x, &xid) && xdr_u_int32_t(&x, &direction) &&
                    xdr_u_int32_t(&x, &version) && xdr_u_int32_t(&x, &program) &&
                    xdr_u_int32_t(&x, &program_version) && xdr_u_int32_t(&x, &procedure);
  xdr_destroy(&x);
  if (!head || direction != CALL) return call_outcome::drop;
  if (version != rpc_version) {
    reply = reply_rpc_mismatch(xid);
    return call_outcome::answer;
  }
  char cred_body[MAX_AUTH_BYTES];
  char verf_body[MAX_AUTH_BYTES];
  rpc_msg msg{};
  msg.rm_call.cb_cred.oa_base = cred_body;  // decoded in place, nothing allocated
  msg.rm_call.cb_verf.oa_base = verf_body;
  xdrmem_create(&x, const_cast<char*>(record.data()), static_cast<u_int>(record.size()),
                XDR_DECODE);
  const bool ok = xdr_callmsg(&x, &msg);
  const std::size_t args_at = xdr_getpos(&x);
  xdr_destroy(&x);
  if (!ok) {
    // The credential or the verifier: over 400 bytes, or cut short.
    reply = reply_auth_error(xid, auth_status::badcred);
    return call_outcome::answer;
  }
  call = rpc_call{};
  call.xid = xid;
  call.program = static_cast<std::uint32_t>(msg.rm_call.cb_prog);
  call.version = static_cast<std::uint32_t>(msg.rm_call.cb_vers);
  call.procedure = static_cast<std::uint32_t>(msg.rm_call.cb_proc);
  call.flavor = static_cast<std::uint32_t>(msg.rm_call.cb_cred.oa_flavor);
  if (call.flavor == auth_flavor_sys) {
    if (!decode_auth_sys(std::string_view(cred_body, msg.rm_call.cb_cred.oa_length), call.sys)) {
      reply = reply_auth_error(xid, auth_status::badcred);
      return call_outcome::answer;
    }
  } else if (call.flavor != auth_flavor_none) {
    reply = reply_auth_error(xid, auth_status::badcred);
    return call_outcome::answer;
  }
  call.args = record.substr(args_at);
  return call_outcome::call;
}

std::string reply_success_raw(std::uint32_t xid, xdrproc_t encode, void* results) {
  rpc_msg msg = accepted(xid, SUCCESS);
  msg.rm_reply.rp_acpt.ar_results.where = static_cast<caddr_t>(results);
  msg.rm_reply.rp_acpt.ar_results.proc = encode;
  std::string out;
  if (!encode_reply(msg, reply_header_bytes + xdr_sizeof(encode, results), out))
    return reply_error(xid, accept_status::system_err);
  return out;
}

std::string reply_void(std::uint32_t xid) {
  rpc_msg msg = accepted(xid, SUCCESS);
  msg.rm_reply.rp_acpt.ar_results.where = nullptr;
  msg.rm_reply.rp_acpt.ar_results.proc = void_xdrproc();
  std::string out;
  encode_reply(msg, reply_header_bytes, out);
  return out;
}

std::string reply_error(std::uint32_t xid, accept_status status) {
  rpc_msg msg = accepted(xid, static_cast<accept_stat>(status));
  std::string out;
  encode_reply(msg, reply_header_bytes, out);
  return out;
}

std::string reply_prog_mismatch(std::uint32_t xid, std::uint32_t low, std::uint32_t high) {
  rpc_msg msg = accepted(xid, PROG_MISMATCH);
  msg.rm_reply.rp_acpt.ar_vers.low = low;
  msg.rm_reply.rp_acpt.ar_vers.high = high;
  std::string out;
  encode_reply(msg, reply_header_bytes, out);
  return out;
}

std::string reply_auth_error(std::uint32_t xid, auth_status why) {
  rpc_msg msg = denied(xid, AUTH_ERROR);
  msg.rm_reply.rp_rjct.rj_why = static_cast<auth_stat>(why);
  std::string out;
  encode_reply(msg, reply_header_bytes, out);
  return out;
}

std::string reply_rpc_mismatch(std::uint32_t xid) {
  rpc_msg msg = denied(xid, RPC_MISMATCH);
  msg.rm_reply.rp_rjct.rj_vers.low = rpc_version;
  msg.rm_reply.rp_rjct.rj_vers.high = rpc_version;
  std::string out;
  encode_reply(msg, reply_header_bytes, out);
  return out;
}

}  // namespace cairn::nfs
