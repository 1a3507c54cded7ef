// tests/fuzz/nfs_rpc_fuzz.cpp — libFuzzer target for the NFS gateway's
// request path before any state is touched: record marking (record_reader
// with a 64 KiB bound), the call header and AUTH_SYS credential
// (parse_call), the arguments of every MOUNT v3 and NFS v3 procedure
// through the rpcgen-generated decoders (decoded<T>, which frees what a
// partial decode allocated), file handle verification, and the encoding of
// the error replies. Run: nfs_rpc_fuzz -max_total_time=180 <scratch dir>
// tests/fuzz/corpus/nfs_rpc. nfs_rpc_corpus_test replays the seeds in
// every build.
//
// Owner: tests.
#include <mount3_prot.h>
#include <nfs3_prot.h>

#include <cstdint>
#include <string>

#include "gateways/nfs/handles.h"
#include "gateways/nfs/rpc.h"

using namespace cairn::nfs;

namespace {

template <class T>
int decode_as(xdr_routine<T> routine, std::string_view args) {
  decoded<T> d(routine);
  return d.decode(args) ? 1 : 0;
}

/// Decodes the arguments as the procedure's; 1 if they decode.
int decode_args(const cairn::nfs::rpc_call& call) {
  if (call.program == 100005 && call.version == 3) {
    switch (call.procedure) {
      case 1:
      case 3:
        return decode_as(xdr_dirpath, call.args);
      default:
        return call.args.empty() ? 1 : 0;
    }
  }
  if (call.program != 100003 || call.version != 3) return 0;
  switch (call.procedure) {
    case 1:
      return decode_as(xdr_GETATTR3args, call.args);
    case 2:
      return decode_as(xdr_SETATTR3args, call.args);
    case 3:
      return decode_as(xdr_LOOKUP3args, call.args);
    case 4:
      return decode_as(xdr_ACCESS3args, call.args);
    case 5:
      return decode_as(xdr_READLINK3args, call.args);
    case 6:
      return decode_as(xdr_READ3args, call.args);
    case 7:
      return decode_as(xdr_WRITE3args, call.args);
    case 8:
      return decode_as(xdr_CREATE3args, call.args);
    case 9:
      return decode_as(xdr_MKDIR3args, call.args);
    case 10:
      return decode_as(xdr_SYMLINK3args, call.args);
    case 11:
      return decode_as(xdr_MKNOD3args, call.args);
    case 12:
      return decode_as(xdr_REMOVE3args, call.args);
    case 13:
      return decode_as(xdr_RMDIR3args, call.args);
    case 14:
      return decode_as(xdr_RENAME3args, call.args);
    case 15:
      return decode_as(xdr_LINK3args, call.args);
    case 16:
      return decode_as(xdr_READDIR3args, call.args);
    case 17:
      return decode_as(xdr_READDIRPLUS3args, call.args);
    case 18:
      return decode_as(xdr_FSSTAT3args, call.args);
    case 19:
      return decode_as(xdr_FSINFO3args, call.args);
    case 20:
      return decode_as(xdr_PATHCONF3args, call.args);
    case 21:
      return decode_as(xdr_COMMIT3args, call.args);
    default:
      return call.args.empty() ? 1 : 0;
  }
}

const handle_codec& codec() {
  static const std::uint8_t key[32] = {1, 2, 3};
  static const handle_codec c = handle_codec::from_cluster_key(key);
  return c;
}

}  // namespace

/// Runs one input; returns how deep it got (0 no record, 1 a record,
/// 2 a call, 3 arguments that decode), which the corpus test checks.
int cairn_nfs_fuzz_one(const std::uint8_t* data, std::size_t size) {
  record_reader reader(64 * 1024);
  reader.append(std::string_view(reinterpret_cast<const char*>(data), size));
  int depth = 0;
  std::string record, reply;
  while (reader.next(record) == record_reader::state::record) {
    depth = std::max(depth, 1);
    cairn::nfs::rpc_call call;
    if (parse_call(record, call, reply) != call_outcome::call) continue;
    depth = std::max(depth, 2);
    if (decode_args(call)) depth = 3;
    // A handle at the front of most arguments: verify never accepts one
    // it did not mint.
    if (call.args.size() >= 4 + handle_bytes && codec().verify(call.args.substr(4, handle_bytes)))
      __builtin_trap();
    (void)reply_error(call.xid, accept_status::garbage_args);
    (void)reply_prog_mismatch(call.xid, 3, 3);
  }
  return depth;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn_nfs_fuzz_one(data, size);
  return 0;
}
