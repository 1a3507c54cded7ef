// tests/runtime/certs_test.cpp — runtime/certs: the cluster CA and node
// certificates (checked with OpenSSL's verifier and the openssl CLI), node ids
// read back from certificates, and mutual TLS 1.3 handshakes over 127.0.0.1
// between nodes of one CA, a node of another CA, and a client without a
// certificate. Each test works in its own directory under /tmp and removes it.
#include "runtime/certs.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <thread>

namespace cairn::runtime {
namespace {

namespace fs = std::filesystem;
namespace ssl = boost::asio::ssl;
using boost::asio::ip::tcp;

constexpr auto handshake_timeout = std::chrono::seconds(10);

struct x509_deleter {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

x509_ptr load_certificate(const fs::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "r"), &std::fclose);
  if (!file) return nullptr;
  return x509_ptr(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
}

// X509_V_OK if `certificate` chains to the CA in `ca_certificate`.
int verify_with_openssl(const fs::path& ca_certificate, const fs::path& certificate) {
  x509_ptr ca = load_certificate(ca_certificate);
  x509_ptr leaf = load_certificate(certificate);
  if (!ca || !leaf) return X509_V_ERR_UNSPECIFIED;
  std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store(X509_STORE_new(), &X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> context(X509_STORE_CTX_new(),
                                                                     &X509_STORE_CTX_free);
  X509_STORE_add_cert(store.get(), ca.get());
  X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(context.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(context.get());
}

int run_shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

mode_t file_mode(const fs::path& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return 0;
  return status.st_mode & 07777;
}

std::string error_message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "<no error>";
}

// What each end of one connection saw.
struct handshake_outcome {
  boost::system::error_code server_error;            // accept or handshake
  boost::system::error_code client_handshake_error;  // connect or handshake
  boost::system::error_code client_read_error;       // reading the server's greeting
  std::optional<std::uint64_t> server_saw_peer;      // peer_node_id on the server
  std::optional<std::uint64_t> client_saw_peer;      // peer_node_id on the client
  int server_protocol_version = 0;
  std::string greeting;  // what the client read
};

// One connection on 127.0.0.1: a server thread accepts, handshakes and sends
// "hello"; the client connects, handshakes and reads. With TLS 1.3 a client
// finishes its handshake before the server has judged its certificate, so a
// rejected client learns of it on its first read.
handshake_outcome connect_once(ssl::context& server_context, ssl::context& client_context) {
  handshake_outcome outcome;
  boost::asio::io_context server_io;
  tcp::acceptor acceptor(server_io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const tcp::endpoint server_endpoint = acceptor.local_endpoint();
  static const std::string greeting = "hello";

  std::thread server([&] {
    ssl::stream<tcp::socket> stream(server_io, server_context);
    acceptor.async_accept(stream.next_layer(), [&](const boost::system::error_code& error) {
      if (error) {
        outcome.server_error = error;
        return;
      }
      stream.async_handshake(ssl::stream_base::server, [&](const boost::system::error_code& error) {
        outcome.server_error = error;
        if (error) return;
        outcome.server_saw_peer = peer_node_id(stream);
        outcome.server_protocol_version = SSL_version(stream.native_handle());
        boost::asio::async_write(stream, boost::asio::buffer(greeting),
                                 [](const boost::system::error_code&, std::size_t) {});
      });
    });
    server_io.run_for(handshake_timeout);
  });

  boost::asio::io_context client_io;
  ssl::stream<tcp::socket> client(client_io, client_context);
  std::string received(greeting.size(), '\0');
  client.next_layer().async_connect(server_endpoint, [&](const boost::system::error_code& error) {
    if (error) {
      outcome.client_handshake_error = error;
      return;
    }
    client.async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& error) {
      outcome.client_handshake_error = error;
      if (error) return;
      outcome.client_saw_peer = peer_node_id(client);
      boost::asio::async_read(client, boost::asio::buffer(received),
                              [&](const boost::system::error_code& error, std::size_t count) {
                                outcome.client_read_error = error;
                                if (!error) outcome.greeting = received.substr(0, count);
                              });
    });
  });
  client_io.run_for(handshake_timeout);
  server.join();
  return outcome;
}

class Certs : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/cairn-certs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  fs::path ca_dir() const { return root_ / "ca"; }
  fs::path other_ca_dir() const { return root_ / "other-ca"; }
  fs::path node_dir(std::uint64_t node_id) const {
    return root_ / ("node-" + std::to_string(node_id));
  }
  tls_paths node_paths(std::uint64_t node_id) const {
    return {node_dir(node_id) / "ca.pem", node_dir(node_id) / "node.pem",
            node_dir(node_id) / "node.key"};
  }
  void make_ca_and_nodes(std::initializer_list<std::uint64_t> node_ids) {
    generate_cluster_ca(ca_dir(), "test");
    for (std::uint64_t node_id : node_ids) {
      generate_node_certificate(ca_dir(), node_dir(node_id), node_id, {"127.0.0.1", "localhost"});
    }
  }
  // A certificate made by the openssl CLI, for names generate_* never writes.
  x509_ptr openssl_cli_certificate(const std::string& subject, const std::string& san = "") {
    // In -subj, '+' separates the parts of a multi-valued name: escape it.
    std::string escaped_subject;
    for (char c : subject) {
      if (c == '+') escaped_subject += '\\';
      escaped_subject += c;
    }
    const fs::path certificate = root_ / "cli.pem";
    const fs::path key = root_ / "cli.key";
    fs::remove(certificate);
    fs::remove(key);
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -keyout " +
        key.string() + " -out " + certificate.string() + " -subj '" + escaped_subject + "'";
    if (!san.empty()) command += " -addext 'subjectAltName=" + san + "'";
    EXPECT_EQ(run_shell(command), 0) << command;
    return load_certificate(certificate);
  }

  fs::path root_;
};

TEST_F(Certs, ClusterCaIsASelfSignedP256CertificateAuthority) {
  generate_cluster_ca(ca_dir(), "alpha");
  x509_ptr ca = load_certificate(ca_dir() / "ca.pem");
  ASSERT_TRUE(ca);
  EXPECT_EQ(file_mode(ca_dir() / "ca.key"), 0600u);

  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_CRL_SIGN);
  int critical = 0;
  BASIC_CONSTRAINTS* constraints = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(ca.get(), NID_basic_constraints, &critical, nullptr));
  ASSERT_NE(constraints, nullptr);
  EXPECT_TRUE(constraints->ca);
  EXPECT_EQ(critical, 1);
  BASIC_CONSTRAINTS_free(constraints);

  std::array<char, 128> common_name{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, common_name.data(),
                            common_name.size());
  EXPECT_STREQ(common_name.data(), "cairn-ca alpha");

  EVP_PKEY* key = X509_get0_pubkey(ca.get());
  EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
  std::array<char, 64> group{};
  ASSERT_EQ(EVP_PKEY_get_group_name(key, group.data(), group.size(), nullptr), 1);
  EXPECT_STREQ(group.data(), "prime256v1");

  // A random serial of up to 128 bits: two CAs do not share one.
  generate_cluster_ca(other_ca_dir(), "alpha");
  x509_ptr other = load_certificate(other_ca_dir() / "ca.pem");
  ASSERT_TRUE(other);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(other.get())),
            0);
  std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(ca.get()), nullptr), &BN_free);
  EXPECT_LE(BN_num_bits(serial.get()), 128);
  EXPECT_FALSE(BN_is_negative(serial.get()));
}

TEST_F(Certs, NodeCertificatesVerifyAgainstTheirCaAndNameTheirNode) {
  make_ca_and_nodes({1, 2});
  for (std::uint64_t node_id : {1u, 2u}) {
    SCOPED_TRACE("node " + std::to_string(node_id));
    const tls_paths paths = node_paths(node_id);
    EXPECT_EQ(file_mode(paths.key), 0600u);
    EXPECT_EQ(run_shell("cmp " + (ca_dir() / "ca.pem").string() + " " + paths.ca_cert.string()), 0);
    EXPECT_EQ(verify_with_openssl(paths.ca_cert, paths.cert), X509_V_OK);
    EXPECT_EQ(
        run_shell("openssl verify -CAfile " + paths.ca_cert.string() + " " + paths.cert.string()),
        0);
    x509_ptr certificate = load_certificate(paths.cert);
    ASSERT_TRUE(certificate);
    EXPECT_EQ(node_id_of_certificate(certificate.get()), node_id);
    EXPECT_EQ(X509_check_ca(certificate.get()), 0);
    EXPECT_EQ(X509_get_extended_key_usage(certificate.get()) & (XKU_SSL_SERVER | XKU_SSL_CLIENT),
              static_cast<std::uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
    std::array<char, 128> common_name{};
    X509_NAME_get_text_by_NID(X509_get_subject_name(certificate.get()), NID_commonName,
                              common_name.data(), common_name.size());
    EXPECT_EQ(std::string(common_name.data()), "cairn-node-" + std::to_string(node_id));
  }
  // Verification is not vacuous: node 1 does not verify against another CA.
  generate_cluster_ca(other_ca_dir(), "other");
  EXPECT_NE(verify_with_openssl(other_ca_dir() / "ca.pem", node_paths(1).cert), X509_V_OK);
  EXPECT_NE(run_shell("openssl verify -CAfile " + (other_ca_dir() / "ca.pem").string() + " " +
                      node_paths(1).cert.string()),
            0);
}

TEST_F(Certs, HostsBecomeIpOrDnsSubjectAltNamesBesideTheNodeUri) {
  generate_cluster_ca(ca_dir(), "test");
  generate_node_certificate(ca_dir(), node_dir(3), 3, {"10.1.2.3", "::1", "node-3.cairn.test"});
  x509_ptr certificate = load_certificate(node_paths(3).cert);
  ASSERT_TRUE(certificate);
  EXPECT_EQ(X509_check_ip_asc(certificate.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(certificate.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_host(certificate.get(), "node-3.cairn.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(certificate.get(), "10.1.2.3", 0, 0, nullptr), 0);

  GENERAL_NAMES* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  std::vector<std::string> uris;
  int addresses = 0, dns_names = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_IPADD) ++addresses;
    if (name->type == GEN_DNS) ++dns_names;
    if (name->type == GEN_URI) {
      const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
      uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                        ASN1_STRING_length(uri));
    }
  }
  GENERAL_NAMES_free(names);
  EXPECT_EQ(addresses, 2);
  EXPECT_EQ(dns_names, 1);
  EXPECT_EQ(uris, std::vector<std::string>{"cairn://node/3"});
}

TEST_F(Certs, HostThatIsNeitherAddressNorDnsNameIsRefused) {
  generate_cluster_ca(ca_dir(), "test");
  for (const std::string host :
       {"", "bad host", "a.example,DNS:evil.example", "fe80::1%eth0", "-lead.example", "a..b"}) {
    const std::string message = error_message_of([&] {
      generate_node_certificate(ca_dir(), node_dir(4), 4, {"127.0.0.1", host});
    });
    EXPECT_NE(message.find("'" + host + "'"), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(node_paths(4).key)) << host;
  }
}

TEST_F(Certs, ExistingFilesAreNeverOverwritten) {
  make_ca_and_nodes({1});
  x509_ptr ca = load_certificate(ca_dir() / "ca.pem");
  x509_ptr node = load_certificate(node_paths(1).cert);

  std::string message = error_message_of([&] { generate_cluster_ca(ca_dir(), "test"); });
  EXPECT_NE(message.find((ca_dir() / "ca.pem").string()), std::string::npos) << message;
  message =
      error_message_of([&] { generate_node_certificate(ca_dir(), node_dir(1), 1, {"127.0.0.1"}); });
  EXPECT_NE(message.find((node_dir(1) / "node.pem").string()), std::string::npos) << message;

  // Only the key in the way: still refused, and nothing new is left behind.
  fs::create_directories(node_dir(2));
  {
    std::FILE* file = std::fopen((node_dir(2) / "node.key").c_str(), "w");
    std::fclose(file);
  }
  message =
      error_message_of([&] { generate_node_certificate(ca_dir(), node_dir(2), 2, {"127.0.0.1"}); });
  EXPECT_NE(message.find((node_dir(2) / "node.key").string()), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(node_dir(2) / "node.pem"));
  EXPECT_EQ(fs::file_size(node_dir(2) / "node.key"), 0u);

  // The refused calls changed nothing.
  EXPECT_EQ(X509_cmp(load_certificate(ca_dir() / "ca.pem").get(), ca.get()), 0);
  EXPECT_EQ(X509_cmp(load_certificate(node_paths(1).cert).get(), node.get()), 0);
}

TEST_F(Certs, MissingCaDirectoryIsNamedInTheError) {
  const fs::path missing = root_ / "no-such-ca";
  const std::string message =
      error_message_of([&] { generate_node_certificate(missing, node_dir(1), 1, {"127.0.0.1"}); });
  EXPECT_NE(message.find((missing / "ca.pem").string()), std::string::npos) << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(node_dir(1) / "node.key"));
}

TEST_F(Certs, NodeIdIsReadFromUriThenCommonNameStrictly) {
  EXPECT_EQ(node_id_of_certificate(nullptr), std::nullopt);
  EXPECT_EQ(node_id_of_certificate(openssl_cli_certificate("/CN=cairn-node-42").get()), 42u);
  EXPECT_EQ(node_id_of_certificate(
                openssl_cli_certificate("/CN=cairn-node-42", "URI:cairn://node/7").get()),
            7u);
  EXPECT_EQ(node_id_of_certificate(
                openssl_cli_certificate("/CN=cairn-node-9", "URI:cairn://node/abc").get()),
            9u);
  EXPECT_EQ(node_id_of_certificate(
                openssl_cli_certificate("/CN=x", "URI:cairn://node/1,URI:cairn://node/2").get()),
            std::nullopt);
  EXPECT_EQ(
      node_id_of_certificate(openssl_cli_certificate("/CN=cairn-node-18446744073709551615").get()),
      18446744073709551615u);
  for (const std::string bad_name :
       {"cairn-node-18446744073709551616", "cairn-node-0", "cairn-node-007", "cairn-node-+5",
        "cairn-node-5x", "cairn-node-", "cairn-node- 5", "cairn-ca test", "node-5"}) {
    EXPECT_EQ(node_id_of_certificate(openssl_cli_certificate("/CN=" + bad_name).get()),
              std::nullopt)
        << bad_name;
  }
  EXPECT_EQ(node_id_of_certificate(
                openssl_cli_certificate("/CN=cairn-node-5", "URI:cairn://node/05").get()),
            5u);
}

TEST_F(Certs, NodesOfOneCaCompleteAMutualTls13HandshakeAndSeeEachOthersId) {
  make_ca_and_nodes({1, 2});
  ssl::context server_context = make_node_tls_context(node_paths(1));
  ssl::context client_context = make_node_tls_context(node_paths(2));

  const handshake_outcome outcome = connect_once(server_context, client_context);
  EXPECT_FALSE(outcome.server_error) << outcome.server_error.message();
  EXPECT_FALSE(outcome.client_handshake_error) << outcome.client_handshake_error.message();
  EXPECT_FALSE(outcome.client_read_error) << outcome.client_read_error.message();
  EXPECT_EQ(outcome.greeting, "hello");
  EXPECT_EQ(outcome.server_protocol_version, TLS1_3_VERSION);
  EXPECT_EQ(outcome.server_saw_peer, 2u);
  EXPECT_EQ(outcome.client_saw_peer, 1u);

  // The same context serves both roles: node 1 now dials node 2.
  const handshake_outcome reverse = connect_once(client_context, server_context);
  EXPECT_FALSE(reverse.server_error) << reverse.server_error.message();
  EXPECT_EQ(reverse.server_saw_peer, 1u);
  EXPECT_EQ(reverse.client_saw_peer, 2u);
}

TEST_F(Certs, ClientWithCertificateOfAnotherCaIsRejectedByTheServer) {
  make_ca_and_nodes({1});
  generate_cluster_ca(other_ca_dir(), "other");
  generate_node_certificate(other_ca_dir(), node_dir(2), 2, {"127.0.0.1"});
  ssl::context server_context = make_node_tls_context(node_paths(1));

  // The intruder trusts our CA (so it accepts the server) but holds a
  // certificate of its own CA: only the server's check can stop it.
  ssl::context intruder(ssl::context::tlsv13_client);
  intruder.load_verify_file((ca_dir() / "ca.pem").string());
  intruder.use_certificate_chain_file(node_paths(2).cert.string());
  intruder.use_private_key_file(node_paths(2).key.string(), ssl::context::pem);
  intruder.set_verify_mode(ssl::verify_peer);

  const handshake_outcome outcome = connect_once(server_context, intruder);
  EXPECT_EQ(outcome.server_error.message(), "certificate verify failed");
  EXPECT_EQ(outcome.server_saw_peer, std::nullopt);
  // TLS 1.3: the client's handshake ends before the server judges its
  // certificate; the server's alert arrives on the client's first read.
  EXPECT_TRUE(outcome.client_handshake_error || outcome.client_read_error);
  EXPECT_EQ(outcome.greeting, "");
}

TEST_F(Certs, ClientWithoutCertificateIsRejectedByTheServer) {
  make_ca_and_nodes({1});
  ssl::context server_context = make_node_tls_context(node_paths(1));
  ssl::context anonymous(ssl::context::tlsv13_client);
  anonymous.load_verify_file((ca_dir() / "ca.pem").string());
  anonymous.set_verify_mode(ssl::verify_peer);

  const handshake_outcome outcome = connect_once(server_context, anonymous);
  EXPECT_EQ(outcome.server_error.message(), "peer did not return a certificate");
  EXPECT_EQ(outcome.server_saw_peer, std::nullopt);
  EXPECT_TRUE(outcome.client_handshake_error || outcome.client_read_error);
  EXPECT_EQ(outcome.greeting, "");
}

TEST_F(Certs, Tls12ClientIsRejected) {
  make_ca_and_nodes({1, 2});
  ssl::context server_context = make_node_tls_context(node_paths(1));
  ssl::context old_client(ssl::context::tlsv12_client);
  old_client.load_verify_file(node_paths(2).ca_cert.string());
  old_client.use_certificate_chain_file(node_paths(2).cert.string());
  old_client.use_private_key_file(node_paths(2).key.string(), ssl::context::pem);
  old_client.set_verify_mode(ssl::verify_peer);

  const handshake_outcome outcome = connect_once(server_context, old_client);
  EXPECT_TRUE(outcome.server_error);
  EXPECT_TRUE(outcome.client_handshake_error);
  EXPECT_EQ(outcome.server_saw_peer, std::nullopt);
}

TEST_F(Certs, KeyThatDoesNotMatchTheCertificateIsNamed) {
  make_ca_and_nodes({1, 2});
  tls_paths mismatched = node_paths(1);
  mismatched.key = node_paths(2).key;
  const std::string message = error_message_of([&] { make_node_tls_context(mismatched); });
  EXPECT_NE(message.find(mismatched.key.string()), std::string::npos) << message;
  EXPECT_NE(message.find("does not match"), std::string::npos) << message;
}

TEST_F(Certs, TlsContextErrorsNameTheFileAndTheReason) {
  make_ca_and_nodes({1});
  tls_paths missing = node_paths(1);
  missing.cert = root_ / "absent.pem";
  std::string message = error_message_of([&] { make_node_tls_context(missing); });
  EXPECT_NE(message.find(missing.cert.string()), std::string::npos) << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;

  tls_paths not_pem = node_paths(1);
  not_pem.ca_cert = root_ / "garbage.pem";
  {
    std::FILE* file = std::fopen(not_pem.ca_cert.c_str(), "w");
    std::fputs("garbage\n", file);
    std::fclose(file);
  }
  message = error_message_of([&] { make_node_tls_context(not_pem); });
  EXPECT_NE(message.find(not_pem.ca_cert.string()), std::string::npos) << message;
  EXPECT_NE(message.find("no start line"), std::string::npos) << message;

  tls_paths key_is_a_certificate = node_paths(1);
  key_is_a_certificate.key = node_paths(1).cert;
  message = error_message_of([&] { make_node_tls_context(key_is_a_certificate); });
  EXPECT_NE(message.find("node key " + key_is_a_certificate.key.string()), std::string::npos)
      << message;

  // A certificate another CA issued is refused at start, not at every peer.
  generate_cluster_ca(other_ca_dir(), "other");
  generate_node_certificate(other_ca_dir(), node_dir(2), 2, {"127.0.0.1"});
  tls_paths foreign = node_paths(2);
  foreign.ca_cert = ca_dir() / "ca.pem";
  message = error_message_of([&] { make_node_tls_context(foreign); });
  EXPECT_NE(message.find(foreign.cert.string()), std::string::npos) << message;
  EXPECT_NE(message.find("unable to get local issuer certificate"), std::string::npos) << message;
}

}  // namespace
}  // namespace cairn::runtime
