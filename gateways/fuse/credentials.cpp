// gateways/fuse/credentials.cpp — see credentials.h.
#include "gateways/fuse/credentials.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cairn::fuse {
namespace {

std::string_view trim(std::string_view s) {
  const auto space = " \t\r";
  const auto a = s.find_first_not_of(space);
  if (a == std::string_view::npos) return {};
  const auto b = s.find_last_not_of(space);
  return s.substr(a, b - a + 1);
}

keys::secret_bytes secret_of(std::string_view s) {
  return keys::secret_bytes::copy_of({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

}  // namespace

access_credentials parse_credentials(std::string_view text, std::string_view profile,
                                     std::string_view file_name) {
  const std::string where(file_name);
  bool in_profile = false, seen_profile = false;
  std::string key_id;
  std::string secret;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    const auto line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']')
        throw std::runtime_error(where + ":" + std::to_string(line_no) + ": a section needs ']'");
      auto name = trim(line.substr(1, line.size() - 2));
      if (name.substr(0, 8) == "profile ") name = trim(name.substr(8));  // ~/.aws/config style
      in_profile = name == profile;
      seen_profile |= in_profile;
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos)
      throw std::runtime_error(where + ":" + std::to_string(line_no) + ": expected `name = value`");
    if (!in_profile) continue;
    const auto name = trim(line.substr(0, eq));
    const auto value = trim(line.substr(eq + 1));
    if (name == "aws_access_key_id") key_id = value;
    if (name == "aws_secret_access_key") secret = value;
  }
  if (!seen_profile)
    throw std::runtime_error(where + ": no [" + std::string(profile) + "] profile");
  if (key_id.empty())
    throw std::runtime_error(where + ": [" + std::string(profile) + "] has no aws_access_key_id");
  if (secret.empty())
    throw std::runtime_error(where + ": [" + std::string(profile) +
                             "] has no aws_secret_access_key");
  access_credentials c{key_id, secret_of(secret)};
  // The text held the secret: wipe the local copy.
  std::fill(secret.begin(), secret.end(), '\0');
  return c;
}

access_credentials load_credentials(const std::string& path, std::string_view profile) {
  if (path.empty()) {
    const char* id = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret)
      throw std::runtime_error(
          "no credentials: pass --credentials FILE or set AWS_ACCESS_KEY_ID and "
          "AWS_SECRET_ACCESS_KEY");
    return {id, secret_of(secret)};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    spdlog::warn("{}: readable by others (mode {:o}); chmod 600 it", path, st.st_mode & 0777);
  std::stringstream text;
  text << in.rdbuf();
  auto s = text.str();
  auto c = parse_credentials(s, profile, path);
  std::fill(s.begin(), s.end(), '\0');
  return c;
}

}  // namespace cairn::fuse
