// gateways/fuse/credentials.h — the access key a client (cairn mount)
// authenticates with, read from an AWS-style shared credentials file:
//
//   [default]
//   aws_access_key_id = CK...
//   aws_secret_access_key = ...
//
// or from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when no file is given.
// Owner: cairn mount (gateways/fuse/fuse_mount.cpp). Pure parsing, tested
// in fuse_test.
#pragma once

#include <string>
#include <string_view>

#include "actors/keys/secret_bytes.h"

namespace cairn::fuse {

struct access_credentials {
  std::string key_id;
  keys::secret_bytes secret;
};

/// The profile's key from the file's text. Throws std::runtime_error
/// naming the file's problem: no such profile, a missing field, a line
/// that is not `name = value`.
access_credentials parse_credentials(std::string_view text, std::string_view profile,
                                     std::string_view file_name);
/// Reads and parses the file (it must not be readable by others: a
/// warning otherwise); `path` empty: the environment variables.
access_credentials load_credentials(const std::string& path, std::string_view profile);

}  // namespace cairn::fuse
