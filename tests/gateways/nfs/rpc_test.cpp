// tests/gateways/nfs/rpc_test.cpp — the NFS gateway's ONC RPC layer
// (gateways/nfs/rpc.h): record marking (RPC1, RPC3), call headers with
// AUTH_NONE and AUTH_SYS, the RPC errors a server sends (RPC2), and the
// rpcgen-generated NFS v3 / MOUNT v3 codecs through decoded<T>. Calls are
// built with libtirpc's client-side encoders, as a real client builds them.
#include "gateways/nfs/rpc.h"

#include <gtest/gtest.h>
#include <mount3_prot.h>
#include <nfs3_prot.h>

#include <cstring>

namespace cairn::nfs {
namespace {

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

/// A call record as a client encodes it: header, credential, then args.
struct call_spec {
  std::uint32_t xid = 0x1234;
  std::uint32_t rpcvers = 2;
  std::uint32_t program = 100003, version = 3, procedure = 1;
  std::uint32_t flavor = auth_flavor_sys;
  std::string cred_body;  // filled from `sys` when empty and flavor is sys
  auth_sys_credential sys{7, "client.example", 1000, 100, {100, 200}};
};

std::string encode_auth_sys(const auth_sys_credential& c) {
  authunix_parms p{};
  p.aup_time = c.stamp;
  p.aup_machname = const_cast<char*>(c.machine.c_str());
  p.aup_uid = c.uid;
  p.aup_gid = c.gid;
  std::vector<gid_t> gids(c.gids.begin(), c.gids.end());
  p.aup_len = static_cast<u_int>(gids.size());
  p.aup_gids = gids.data();
  std::string out(512, '\0');
  XDR x;
  xdrmem_create(&x, out.data(), static_cast<u_int>(out.size()), XDR_ENCODE);
  EXPECT_TRUE(xdr_authunix_parms(&x, &p));
  out.resize(xdr_getpos(&x));
  xdr_destroy(&x);
  return out;
}

std::string encode_call(const call_spec& spec, const std::string& args) {
  std::string cred = spec.cred_body;
  if (cred.empty() && spec.flavor == auth_flavor_sys) cred = encode_auth_sys(spec.sys);
  // Written word by word so tests can also build headers libtirpc would
  // refuse to encode (another RPC version, an oversized credential).
  std::string out = be32(spec.xid) + be32(0 /* CALL */) + be32(spec.rpcvers) + be32(spec.program) +
                    be32(spec.version) + be32(spec.procedure) + be32(spec.flavor) +
                    be32(static_cast<std::uint32_t>(cred.size())) + cred;
  out.append((4 - cred.size() % 4) % 4, '\0');
  out += be32(0) + be32(0);  // verifier: AUTH_NONE, empty
  return out + args;
}

std::string getattr_args(std::string_view handle) {
  GETATTR3args a{};
  a.object.data.data_len = static_cast<u_int>(handle.size());
  a.object.data.data_val = const_cast<char*>(handle.data());
  std::string out;
  EXPECT_TRUE(encode_append(xdr_GETATTR3args, a, out));
  return out;
}

/// Strips the record mark of a single-fragment reply (RPC3).
std::string unmark(const std::string& record) {
  EXPECT_GE(record.size(), 4u);
  const auto mark = static_cast<std::uint32_t>(static_cast<unsigned char>(record[0])) << 24 |
                    static_cast<std::uint32_t>(static_cast<unsigned char>(record[1])) << 16 |
                    static_cast<std::uint32_t>(static_cast<unsigned char>(record[2])) << 8 |
                    static_cast<std::uint32_t>(static_cast<unsigned char>(record[3]));
  EXPECT_TRUE(mark & 0x80000000u) << "a reply is one fragment, marked last";
  EXPECT_EQ(mark & 0x7fffffffu, record.size() - 4);
  return record.substr(4);
}

/// Decodes a reply header as a client would; results land in `results`.
rpc_msg decode_reply(const std::string& body, xdrproc_t proc = nullptr, void* results = nullptr) {
  rpc_msg msg{};
  msg.rm_reply.rp_acpt.ar_results.where = static_cast<caddr_t>(results);
  msg.rm_reply.rp_acpt.ar_results.proc = proc ? proc : void_xdrproc();
  XDR x;
  xdrmem_create(&x, const_cast<char*>(body.data()), static_cast<u_int>(body.size()), XDR_DECODE);
  EXPECT_TRUE(xdr_replymsg(&x, &msg));
  EXPECT_EQ(xdr_getpos(&x), body.size()) << "nothing after the reply";
  xdr_destroy(&x);
  return msg;
}

TEST(RpcRecords, RecordsAreHandedOutWholeWhateverTheSplit) {
  const std::string first = "first-record-payload", second = "2nd";
  // `first` in two fragments, `second` in one; fed one byte at a time.
  const std::string wire = be32(5) + first.substr(0, 5) + be32(0x80000000u | (first.size() - 5)) +
                           first.substr(5) + be32(0x80000000u | second.size()) + second;
  record_reader reader(1024);
  std::vector<std::string> got;
  for (char c : wire) {
    reader.append(std::string_view(&c, 1));
    std::string r;
    while (reader.next(r) == record_reader::state::record) got.push_back(r);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], first);
  EXPECT_EQ(got[1], second);
  EXPECT_EQ(reader.buffered(), 0u);

  // All at once: the same records.
  record_reader whole(1024);
  whole.append(wire);
  std::string r;
  ASSERT_EQ(whole.next(r), record_reader::state::record);
  EXPECT_EQ(r, first);
  ASSERT_EQ(whole.next(r), record_reader::state::record);
  EXPECT_EQ(r, second);
  EXPECT_EQ(whole.next(r), record_reader::state::need_more);
}

TEST(RpcRecords, AnOversizedRecordIsRefusedBeforeItsBytesArrive) {
  // RPC1: the mark announcing too much is enough to refuse.
  record_reader reader(1000);
  reader.append(be32(0x80000000u | 1001));
  std::string r;
  EXPECT_EQ(reader.next(r), record_reader::state::too_big);
  // Fragments that together exceed the bound are refused too.
  record_reader split(1000);
  split.append(be32(600) + std::string(600, 'a') + be32(0x80000000u | 600));
  EXPECT_EQ(split.next(r), record_reader::state::too_big);
}

TEST(RpcCalls, AnAuthSysCallIsParsedWithItsArguments) {
  const std::string handle = "\x01\x02handle-bytes";
  call_spec spec;
  const std::string record = encode_call(spec, getattr_args(handle));
  rpc_call call;
  std::string reply;
  ASSERT_EQ(parse_call(record, call, reply), call_outcome::call);
  EXPECT_EQ(call.xid, spec.xid);
  EXPECT_EQ(call.program, 100003u);
  EXPECT_EQ(call.version, 3u);
  EXPECT_EQ(call.procedure, 1u);
  EXPECT_EQ(call.flavor, auth_flavor_sys);
  EXPECT_EQ(call.sys.stamp, 7u);
  EXPECT_EQ(call.sys.machine, "client.example");
  EXPECT_EQ(call.sys.uid, 1000u);
  EXPECT_EQ(call.sys.gid, 100u);
  EXPECT_EQ(call.sys.gids, (std::vector<std::uint32_t>{100, 200}));
  decoded<GETATTR3args> args(xdr_GETATTR3args);
  ASSERT_TRUE(args.decode(call.args));
  EXPECT_EQ(std::string(args.value().object.data.data_val, args.value().object.data.data_len),
            handle);
}

TEST(RpcCalls, AnAuthNoneCallIsParsed) {
  call_spec spec;
  spec.flavor = auth_flavor_none;
  spec.program = 100005;
  spec.procedure = 0;
  rpc_call call;
  std::string reply;
  ASSERT_EQ(parse_call(encode_call(spec, ""), call, reply), call_outcome::call);
  EXPECT_EQ(call.flavor, auth_flavor_none);
  EXPECT_EQ(call.program, 100005u);
  EXPECT_TRUE(call.args.empty());
}

TEST(RpcCalls, WhatCannotBeAnsweredIsDroppedAndTheRestGetsTheRightRejection) {
  rpc_call call;
  std::string reply;
  // RPC2: too short for a call header, or a reply: nothing to answer.
  EXPECT_EQ(parse_call(be32(1) + be32(0), call, reply), call_outcome::drop);
  EXPECT_EQ(parse_call(be32(1) + be32(1) + be32(0) + be32(0) + be32(0) + be32(0), call, reply),
            call_outcome::drop);

  // Another RPC version: MSG_DENIED, RPC_MISMATCH 2..2.
  call_spec v3;
  v3.rpcvers = 3;
  ASSERT_EQ(parse_call(encode_call(v3, ""), call, reply), call_outcome::answer);
  rpc_msg m = decode_reply(unmark(reply));
  EXPECT_EQ(m.rm_xid, v3.xid);
  EXPECT_EQ(m.rm_reply.rp_stat, MSG_DENIED);
  EXPECT_EQ(m.rm_reply.rp_rjct.rj_stat, RPC_MISMATCH);
  EXPECT_EQ(m.rm_reply.rp_rjct.rj_vers.low, 2u);
  EXPECT_EQ(m.rm_reply.rp_rjct.rj_vers.high, 2u);

  // A flavor this server does not speak (RPCSEC_GSS), a credential over
  // 400 bytes, and an AUTH_SYS body that is not one: AUTH_ERROR, BADCRED.
  call_spec gss;
  gss.flavor = 6;
  gss.cred_body = std::string(20, 'g');
  call_spec huge;
  huge.cred_body = std::string(404, 'h');
  call_spec garbled;
  garbled.cred_body = be32(1) + be32(0xffff);  // a machine name longer than the body
  for (const auto& spec : {gss, huge, garbled}) {
    ASSERT_EQ(parse_call(encode_call(spec, ""), call, reply), call_outcome::answer);
    rpc_msg d = decode_reply(unmark(reply));
    EXPECT_EQ(d.rm_reply.rp_stat, MSG_DENIED);
    EXPECT_EQ(d.rm_reply.rp_rjct.rj_stat, AUTH_ERROR);
    EXPECT_EQ(d.rm_reply.rp_rjct.rj_why, AUTH_BADCRED);
  }
}

TEST(RpcReplies, ResultsAndErrorsDecodeAsAClientReadsThem) {
  // SUCCESS with GETATTR3 results.
  GETATTR3res res{};
  res.status = NFS3_OK;
  res.GETATTR3res_u.resok.obj_attributes.type = NF3DIR;
  res.GETATTR3res_u.resok.obj_attributes.mode = 0755;
  res.GETATTR3res_u.resok.obj_attributes.fileid = 42;
  res.GETATTR3res_u.resok.obj_attributes.size = 1ull << 40;
  const std::string ok = reply_success(99, xdr_GETATTR3res, res);
  GETATTR3res back{};
  rpc_msg m = decode_reply(unmark(ok), reinterpret_cast<xdrproc_t>(xdr_GETATTR3res), &back);
  EXPECT_EQ(m.rm_xid, 99u);
  EXPECT_EQ(m.rm_reply.rp_stat, MSG_ACCEPTED);
  EXPECT_EQ(m.rm_reply.rp_acpt.ar_stat, SUCCESS);
  EXPECT_EQ(back.status, NFS3_OK);
  EXPECT_EQ(back.GETATTR3res_u.resok.obj_attributes.type, NF3DIR);
  EXPECT_EQ(back.GETATTR3res_u.resok.obj_attributes.fileid, 42u);
  EXPECT_EQ(back.GETATTR3res_u.resok.obj_attributes.size, 1ull << 40);

  // A void procedure: SUCCESS and nothing after the header.
  EXPECT_EQ(decode_reply(unmark(reply_void(5))).rm_reply.rp_acpt.ar_stat, SUCCESS);

  for (auto status : {accept_status::prog_unavail, accept_status::proc_unavail,
                      accept_status::garbage_args, accept_status::system_err}) {
    rpc_msg e = decode_reply(unmark(reply_error(7, status)));
    EXPECT_EQ(e.rm_xid, 7u);
    EXPECT_EQ(e.rm_reply.rp_stat, MSG_ACCEPTED);
    EXPECT_EQ(static_cast<std::uint32_t>(e.rm_reply.rp_acpt.ar_stat),
              static_cast<std::uint32_t>(status));
  }
  rpc_msg mismatch = decode_reply(unmark(reply_prog_mismatch(8, 3, 3)));
  EXPECT_EQ(mismatch.rm_reply.rp_acpt.ar_stat, PROG_MISMATCH);
  EXPECT_EQ(mismatch.rm_reply.rp_acpt.ar_vers.low, 3u);
  EXPECT_EQ(mismatch.rm_reply.rp_acpt.ar_vers.high, 3u);
  rpc_msg weak = decode_reply(unmark(reply_auth_error(9, auth_status::tooweak)));
  EXPECT_EQ(weak.rm_reply.rp_rjct.rj_why, AUTH_TOOWEAK);
}

TEST(RpcCodecs, GeneratedDecodersRefuseGarbage) {
  // A file handle over NFS3_FHSIZE, a truncated body, trailing bytes.
  decoded<GETATTR3args> too_long(xdr_GETATTR3args);
  EXPECT_FALSE(too_long.decode(be32(65) + std::string(68, 'x')));
  const std::string good = getattr_args("abcd");
  decoded<GETATTR3args> truncated(xdr_GETATTR3args);
  EXPECT_FALSE(truncated.decode(good.substr(0, good.size() - 1)));
  decoded<GETATTR3args> trailing(xdr_GETATTR3args);
  EXPECT_FALSE(trailing.decode(good + be32(0)));
  decoded<GETATTR3args> fine(xdr_GETATTR3args);
  EXPECT_TRUE(fine.decode(good));

  // MOUNT's dirpath is bounded by MNTPATHLEN.
  decoded<dirpath> path(xdr_dirpath);
  EXPECT_FALSE(path.decode(be32(1025) + std::string(1028, '/')));
  decoded<dirpath> export_path(xdr_dirpath);
  ASSERT_TRUE(export_path.decode(be32(6) + "/cairn" + std::string(2, '\0')));
  EXPECT_STREQ(export_path.value(), "/cairn");
}

}  // namespace
}  // namespace cairn::nfs
