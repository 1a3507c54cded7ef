// runtime/certs.h — the cluster's certificates and the mutual-TLS context of
// the node transport.
//
// Owner: `cairn certs` (the operator's command) generates a cluster CA once and
// one certificate per node; the node process builds one TLS context at start
// (make_node_tls_context) and the transport reads each connection's peer
// node id from the verified certificate (peer_node_id). Functions here hold
// no state and may be called from any thread.
//
// Identity. A node is who the cluster CA says it is: its certificate carries
// the URI SAN `cairn://node/<id>` and the CN `cairn-node-<id>`. Host names and
// addresses in the certificate are informational (the transport checks the
// node id, not the host name), so a node may move to a new address without a
// new certificate.
//
// Invariants:
//  C1. Nothing here overwrites an existing file: generation refuses and
//      names the file, so a CA key is never silently replaced.
//  C2. Private keys are written with mode 0600 and are created that way
//      (never briefly readable by others).
//  C3. A context from make_node_tls_context speaks TLS 1.3 only, trusts
//      the configured CA only (no system roots), presents a certificate
//      that the CA issued, and fails any handshake whose peer presents no
//      certificate or one the CA did not issue.
#pragma once

#include <openssl/types.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::runtime {

/// Validity of a new cluster CA (ten years) and of a new node certificate
/// (825 days, the longest that common TLS clients accept for a leaf).
inline constexpr int cluster_ca_validity_days_default = 3650;
inline constexpr int node_certificate_validity_days_default = 825;

/// Creates `dir` if needed (mode 0700 when created here) and writes
/// `dir/ca.pem` (self-signed CA certificate, subject CN `cairn-ca
/// <cluster_name>`) and `dir/ca.key` (its EC P-256 private key, mode 0600).
/// Throws std::runtime_error naming the file if either already exists or
/// anything fails; on failure no partly written files are left behind.
void generate_cluster_ca(const std::filesystem::path& dir, std::string_view cluster_name,
                         int days = cluster_ca_validity_days_default);

/// Reads `ca_dir/ca.pem` and `ca_dir/ca.key` and writes `out_dir/node.pem`
/// (CN `cairn-node-<node_id>`; SANs: each of `hosts` as an IP address if it
/// parses as one, else as a DNS name, plus the URI `cairn://node/<node_id>`;
/// extended key usage serverAuth and clientAuth; signed by the CA with
/// SHA-256), `out_dir/node.key` (EC P-256, mode 0600) and a copy of the CA
/// certificate as `out_dir/ca.pem` (skipped when out_dir is ca_dir).
/// REQUIRES: node_id >= 1; each host is an IP address or a DNS name.
/// Throws std::runtime_error naming the file and OpenSSL's reason on any
/// failure, and if any output file already exists.
void generate_node_certificate(const std::filesystem::path& ca_dir,
                               const std::filesystem::path& out_dir, std::uint64_t node_id,
                               const std::vector<std::string>& hosts,
                               int days = node_certificate_validity_days_default);

/// The node id a certificate names: from its URI SAN `cairn://node/<id>`
/// (preferred), else from its CN `cairn-node-<id>`. The id is canonical
/// decimal (no sign, no leading zero), fits 64 bits and is at least 1.
/// nullopt if `certificate` is null, if neither form parses, or if the
/// certificate carries several cairn URIs naming different ids.
/// Checks the text only: whether the CA issued the certificate is the TLS
/// handshake's business.
std::optional<std::uint64_t> node_id_of_certificate(const X509* certificate);

/// Where a node's TLS material lives (see runtime/config.h tls_config).
struct tls_paths {
  std::filesystem::path ca_cert;  // the cluster CA: the only trust anchor
  std::filesystem::path cert;     // this node's certificate (then any intermediates)
  std::filesystem::path key;      // this node's private key
};

/// One context for both accepting and dialling peers: TLS 1.3 only, the
/// CA in `paths.ca_cert` as the only trust anchor, this node's chain and
/// key, verify_peer | verify_fail_if_no_peer_cert. No session resumption
/// (connections between nodes are long-lived).
/// Throws std::runtime_error naming the path that failed and why: missing
/// or unreadable file, no PEM in it, a key that does not match the
/// certificate, or a certificate the CA did not issue (or that has expired).
boost::asio::ssl::context make_node_tls_context(const tls_paths& paths);

/// The context of a node's client listener (ADR 0009 §2): as the node's
/// own (TLS 1.3, this node's certificate), but it asks clients for no
/// certificate; clients prove themselves with an access key instead.
boost::asio::ssl::context make_client_listener_tls_context(const tls_paths& paths);

/// A client's context (`cairn mount`): TLS 1.3 only, the cluster CA in
/// `ca_cert` as the only trust anchor, verify_peer, no certificate of its
/// own. The caller then checks that the peer names a node id
/// (peer_node_id). Throws std::runtime_error naming the file.
boost::asio::ssl::context make_client_tls_context(const std::filesystem::path& ca_cert);

/// The node id of the peer at the other end of `stream`, whose handshake
/// has completed: taken from the certificate the peer presented, if it was
/// verified against the CA. nullopt before a successful handshake, or if
/// the certificate names no node id.
std::optional<std::uint64_t> peer_node_id(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream);

}  // namespace cairn::runtime
