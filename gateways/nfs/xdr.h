// gateways/nfs/xdr.h — C++ helpers over libtirpc's XDR streams, for the
// types rpcgen generates from schema/nfs3_prot.x and schema/mount3_prot.x:
// decode a byte range into a generated struct (freed by RAII), encode one
// into a string.
//
// Owner: the NFS gateway; included only by gateways/nfs sources (libtirpc's
// headers define macros such as rm_call and enum values such as SUCCESS at
// global scope, so they stay out of every other header). Pure: no I/O.
#pragma once

#include <rpc/rpc.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::nfs {

/// A generated XDR routine, as libtirpc's xdr_free and xdr_sizeof take it.
template <class T>
using xdr_routine = bool_t (*)(XDR*, T*);

template <class T>
xdrproc_t as_xdrproc(xdr_routine<T> routine) {
  return reinterpret_cast<xdrproc_t>(routine);
}

/// libtirpc's xdr_void as an xdrproc_t (it is declared with no parameters;
/// the cast goes through void(*)(), the generic function pointer type).
inline xdrproc_t void_xdrproc() {
  return reinterpret_cast<xdrproc_t>(reinterpret_cast<void (*)()>(xdr_void));
}

/// A value decoded by a generated routine; its allocations (strings,
/// variable-length arrays, lists) are released with xdr_free when it goes.
template <class T>
class decoded {
 public:
  explicit decoded(xdr_routine<T> routine) : routine_(routine) {}
  decoded(const decoded&) = delete;
  decoded& operator=(const decoded&) = delete;
  ~decoded() {
    if (filled_) xdr_free(as_xdrproc(routine_), reinterpret_cast<char*>(&value_));
  }

  /// Decodes `bytes`, which must hold exactly one value (trailing bytes
  /// beyond XDR's 4-byte padding are garbage too). False if they do not.
  bool decode(std::string_view bytes) {
    XDR x;
    xdrmem_create(&x, const_cast<char*>(bytes.data()), static_cast<u_int>(bytes.size()),
                  XDR_DECODE);
    filled_ = true;  // a partial decode leaves allocations to free
    const bool ok = routine_(&x, &value_) && xdr_getpos(&x) == bytes.size();
    xdr_destroy(&x);
    return ok;
  }
  T& value() { return value_; }
  const T& value() const { return value_; }

 private:
  xdr_routine<T> routine_;
  T value_{};
  bool filled_ = false;
};

/// Appends the XDR encoding of `value` to `out`; false if the routine
/// refuses it (a string or array over its bound).
template <class T>
bool encode_append(xdr_routine<T> routine, const T& value, std::string& out) {
  T& v = const_cast<T&>(value);  // XDR_ENCODE does not change it
  const auto size = xdr_sizeof(as_xdrproc(routine), &v);
  const auto at = out.size();
  out.resize(at + size);
  XDR x;
  xdrmem_create(&x, out.data() + at, static_cast<u_int>(size), XDR_ENCODE);
  const bool ok = routine(&x, &v) && xdr_getpos(&x) == size;
  xdr_destroy(&x);
  if (!ok) out.resize(at);
  return ok;
}

}  // namespace cairn::nfs
