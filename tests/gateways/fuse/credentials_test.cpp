// tests/gateways/fuse/credentials_test.cpp — the credentials file `cairn
// mount` reads (gateways/fuse/credentials.h): AWS's shared-credentials
// format, the profile asked for, and errors that name the file, the line
// and the field.
#include "gateways/fuse/credentials.h"

#include <gtest/gtest.h>

#include <string>

namespace cairn::fuse {
namespace {

std::string secret_text(const access_credentials& c) {
  const auto s = c.secret.bytes();
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

std::string error_of(std::string_view text, std::string_view profile = "default") {
  try {
    parse_credentials(text, profile, "creds");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Credentials, TheProfileAskedForIsRead) {
  const std::string text =
      "# a comment\n[default]\naws_access_key_id = CKDEFAULT\naws_secret_access_key=s3cr/et+\n\n"
      "[profile other]\r\n  aws_access_key_id =  CKOTHER  \r\naws_secret_access_key = x\r\n"
      "region = us-east-1\n";
  const auto d = parse_credentials(text, "default", "creds");
  EXPECT_EQ(d.key_id, "CKDEFAULT");
  EXPECT_EQ(secret_text(d), "s3cr/et+");
  const auto o = parse_credentials(text, "other", "creds");
  EXPECT_EQ(o.key_id, "CKOTHER");
  EXPECT_EQ(secret_text(o), "x");
}

TEST(Credentials, ProblemsNameTheFileAndTheField) {
  EXPECT_EQ(error_of("[default]\naws_access_key_id = a\n", "nope"), "creds: no [nope] profile");
  EXPECT_EQ(error_of("[default]\naws_secret_access_key = a\n"),
            "creds: [default] has no aws_access_key_id");
  EXPECT_EQ(error_of("[default]\naws_access_key_id = a\n"),
            "creds: [default] has no aws_secret_access_key");
  EXPECT_EQ(error_of("[default]\njust words\n"), "creds:2: expected `name = value`");
  EXPECT_EQ(error_of("[default\n"), "creds:1: a section needs ']'");
}

}  // namespace
}  // namespace cairn::fuse
