// actors/chunk/block_device.cpp — see block_device.h.
#include "actors/chunk/block_device.h"

namespace cairn::chunk {

std::string_view to_string(io_result r) {
  switch (r) {
    case io_result::ok:
      return "ok";
    case io_result::invalid:
      return "invalid request";
    case io_result::io_error:
      return "I/O error";
    case io_result::gone:
      return "device gone";
  }
  return "?";
}

}  // namespace cairn::chunk
