// runtime/client_codec.cpp — see client_codec.h.
#include "runtime/client_codec.h"

#include <kj/exception.h>
#include <openssl/crypto.h>

#include "actors/keys/crypto.h"

#include "runtime/chunk_frames.h"
#include "schema/capnp_frames.h"
#include "schema/client.capnp.h"

namespace cairn::runtime {

namespace {

using schema::as_data;
using schema::to_std_string;

void write_request(schema::Request::Builder r, const client_request& q) {
  r.setId(q.id);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, bucket_query>) {
          r.setBucket(body.name);
        } else if constexpr (std::is_same_v<T, inode_query>) {
          auto b = r.initInode();
          b.setShard(body.shard);
          b.setBucket(body.bucket);
          b.setInode(body.inode);
        } else if constexpr (std::is_same_v<T, lookup_query>) {
          auto b = r.initLookup();
          b.setShard(body.shard);
          b.setBucket(body.bucket);
          b.setDir(body.dir);
          b.setName(as_data(body.name));
        } else if constexpr (std::is_same_v<T, readdir_query>) {
          auto b = r.initReaddir();
          b.setShard(body.shard);
          b.setBucket(body.bucket);
          b.setDir(body.dir);
          b.setAfter(as_data(body.after));
          b.setMax(body.max);
        } else if constexpr (std::is_same_v<T, command_query>) {
          auto b = r.initCommand();
          b.setShard(body.shard);
          b.setCommand(as_data(body.command));
        } else if constexpr (std::is_same_v<T, devices_query>) {
          r.setDevices();
        } else if constexpr (std::is_same_v<T, buckets_query>) {
          r.setBuckets();
        } else if constexpr (std::is_same_v<T, nodes_query>) {
          r.setNodes();
        } else {
          static_assert(std::is_same_v<T, grant_query>);
          r.setGrant(body.epoch);
        }
      },
      q.body);
}

client_request read_request(schema::Request::Reader r) {
  client_request q;
  q.id = r.getId();
  switch (r.which()) {
    case schema::Request::BUCKET:
      q.body = bucket_query{r.getBucket().cStr()};
      break;
    case schema::Request::INODE: {
      auto b = r.getInode();
      q.body = inode_query{b.getShard(), b.getBucket(), b.getInode()};
      break;
    }
    case schema::Request::LOOKUP: {
      auto b = r.getLookup();
      q.body = lookup_query{b.getShard(), b.getBucket(), b.getDir(), to_std_string(b.getName())};
      break;
    }
    case schema::Request::READDIR: {
      auto b = r.getReaddir();
      q.body = readdir_query{b.getShard(), b.getBucket(), b.getDir(), to_std_string(b.getAfter()),
                             b.getMax()};
      break;
    }
    case schema::Request::COMMAND: {
      auto b = r.getCommand();
      q.body = command_query{b.getShard(), to_std_string(b.getCommand())};
      break;
    }
    case schema::Request::DEVICES:
      q.body = devices_query{};
      break;
    case schema::Request::GRANT:
      q.body = grant_query{r.getGrant()};
      break;
    case schema::Request::BUCKETS:
      q.body = buckets_query{};
      break;
    case schema::Request::NODES:
      q.body = nodes_query{};
      break;
    default:
      throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                          kj::heapString("unknown request kind"));
  }
  return q;
}

void write_reply(schema::Reply::Builder r, const client_reply& a) {
  r.setId(a.id);
  r.setStatus(static_cast<std::uint8_t>(a.status));
  r.setMessage(a.message);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          r.setNone();
        } else if constexpr (std::is_same_v<T, bucket_answer>) {
          auto b = r.initBucket();
          b.setShard(body.shard);
          b.setBucket(body.bucket);
        } else if constexpr (std::is_same_v<T, inode_answer>) {
          r.setInode(as_data(body.inode));
        } else if constexpr (std::is_same_v<T, readdir_answer>) {
          auto b = r.initReaddir();
          auto list = b.initEntries(static_cast<unsigned>(body.entries.size()));
          for (unsigned i = 0; i < body.entries.size(); ++i) {
            list[i].setListKey(as_data(body.entries[i].list_key));
            list[i].setInode(as_data(body.entries[i].inode));
          }
          b.setMore(body.more);
        } else if constexpr (std::is_same_v<T, command_answer>) {
          r.setCommand(as_data(body.result));
        } else if constexpr (std::is_same_v<T, devices_answer>) {
          auto list = r.initDevices(static_cast<unsigned>(body.devices.size()));
          for (unsigned i = 0; i < body.devices.size(); ++i) {
            const auto& d = body.devices[i];
            list[i].setId(d.id);
            list[i].setNode(d.node);
            list[i].setCapacityBytes(d.capacity_bytes);
            list[i].setFreeBytes(d.free_bytes);
            list[i].setState(d.state);
          }
        } else if constexpr (std::is_same_v<T, buckets_answer>) {
          auto list = r.initBuckets(static_cast<unsigned>(body.names.size()));
          for (unsigned i = 0; i < body.names.size(); ++i) list.set(i, body.names[i]);
        } else if constexpr (std::is_same_v<T, nodes_answer>) {
          auto list = r.initNodes(static_cast<unsigned>(body.nodes.size()));
          for (unsigned i = 0; i < body.nodes.size(); ++i) {
            list[i].setNode(body.nodes[i].node);
            list[i].setAddress(body.nodes[i].address);
          }
        } else {
          static_assert(std::is_same_v<T, grant_answer>);
          auto b = r.initGrant();
          if (!body.grant) return;
          b.setTenant(body.grant->tenant.value);
          b.setEpoch(body.grant->epoch.value);
          const auto dedup = body.grant->dedup_key.bytes();
          const auto data = body.grant->data_key.bytes();
          b.setDedupKey(kj::arrayPtr(dedup.data(), dedup.size()));
          b.setDataKey(kj::arrayPtr(data.data(), data.size()));
        }
      },
      a.body);
}

client_reply read_reply(schema::Reply::Reader r) {
  client_reply a;
  a.id = r.getId();
  if (r.getStatus() > client_status_max)
    throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                        kj::heapString("unknown reply status"));
  a.status = static_cast<client_status>(r.getStatus());
  a.message = r.getMessage().cStr();
  switch (r.which()) {
    case schema::Reply::NONE:
      break;
    case schema::Reply::BUCKET:
      a.body = bucket_answer{r.getBucket().getShard(), r.getBucket().getBucket()};
      break;
    case schema::Reply::INODE:
      a.body = inode_answer{to_std_string(r.getInode())};
      break;
    case schema::Reply::READDIR: {
      readdir_answer b;
      auto list = r.getReaddir().getEntries();
      if (list.size() > client_readdir_max)
        throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                            kj::heapString("too many directory entries"));
      for (auto e : list)
        b.entries.push_back({to_std_string(e.getListKey()), to_std_string(e.getInode())});
      b.more = r.getReaddir().getMore();
      a.body = std::move(b);
      break;
    }
    case schema::Reply::COMMAND:
      a.body = command_answer{to_std_string(r.getCommand())};
      break;
    case schema::Reply::DEVICES: {
      devices_answer b;
      for (auto d : r.getDevices())
        b.devices.push_back(
            {d.getId(), d.getNode(), d.getCapacityBytes(), d.getFreeBytes(), d.getState()});
      a.body = std::move(b);
      break;
    }
    case schema::Reply::BUCKETS: {
      auto list = r.getBuckets();
      if (list.size() > client_buckets_max)
        throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                            kj::heapString("too many buckets"));
      buckets_answer b;
      for (auto name : list) b.names.emplace_back(name.cStr());
      a.body = std::move(b);
      break;
    }
    case schema::Reply::NODES: {
      auto list = r.getNodes();
      if (list.size() > client_nodes_max)
        throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                            kj::heapString("too many nodes"));
      nodes_answer b;
      for (auto n : list) b.nodes.push_back({n.getNode(), n.getAddress().cStr()});
      a.body = std::move(b);
      break;
    }
    case schema::Reply::GRANT: {
      auto g = r.getGrant();
      auto grant = std::make_shared<keys::key_grant>();
      grant->tenant = keys::tenant_id{g.getTenant()};
      grant->epoch = keys::key_epoch{g.getEpoch()};
      const auto dedup = g.getDedupKey(), data = g.getDataKey();  // CF3
      grant->dedup_key = keys::secret_bytes::copy_of({dedup.begin(), dedup.size()});
      grant->data_key = keys::secret_bytes::copy_of({data.begin(), data.size()});
      a.body = grant_answer{std::move(grant)};
      break;
    }
    default:
      throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                          kj::heapString("unknown reply kind"));
  }
  return a;
}

}  // namespace

std::string client_proof(std::span<const std::uint8_t> secret, std::string_view nonce,
                         std::string_view exporter) {
  std::string message(client_proof_label);
  message += nonce;
  message += exporter;
  const auto digest = keys::hmac_sha256(
      secret, std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

bool client_proof_matches(std::string_view expected, std::string_view given) {
  return expected.size() == given.size() &&
         CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

std::string encode_client_frame(const client_frame& f) {
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::ClientFrame>();
  root.setVersion(client_protocol_version);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, client_challenge>) {
          root.setChallenge(as_data(body.nonce));
        } else if constexpr (std::is_same_v<T, client_hello>) {
          auto h = root.initHello();
          h.setKeyId(body.key_id);
          h.setProof(as_data(body.proof));
        } else if constexpr (std::is_same_v<T, client_welcome>) {
          auto w = root.initWelcome();
          w.setAccepted(body.accepted);
          w.setReason(body.reason);
          w.setTenant(body.tenant);
          w.setNode(body.node);
        } else if constexpr (std::is_same_v<T, client_request>) {
          write_request(root.initRequest(), body);
        } else if constexpr (std::is_same_v<T, client_reply>) {
          write_reply(root.initReply(), body);
        } else if constexpr (std::is_same_v<T, chunk_request>) {
          write_chunk_request(root.initChunkRequest(), body);
        } else {
          static_assert(std::is_same_v<T, chunk_reply>);
          write_chunk_reply(root.initChunkReply(), body);
        }
      },
      f.body);
  return with_length_prefix(mb);
}

std::variant<client_frame, frame_error> decode_client_frame(const std::string& body,
                                                            std::size_t bytes_max) {
  return decode_versioned<schema::ClientFrame, client_frame>(
      body, bytes_max, client_protocol_version, "client protocol",
      [](schema::ClientFrame::Reader root) -> std::variant<client_frame, frame_error> {
        client_frame f;
        switch (root.which()) {
          case schema::ClientFrame::CHALLENGE:
            f.body = client_challenge{to_std_string(root.getChallenge())};
            break;
          case schema::ClientFrame::HELLO:
            f.body = client_hello{root.getHello().getKeyId().cStr(),
                                  to_std_string(root.getHello().getProof())};
            break;
          case schema::ClientFrame::WELCOME: {
            auto w = root.getWelcome();
            f.body =
                client_welcome{w.getAccepted(), w.getReason().cStr(), w.getTenant(), w.getNode()};
            break;
          }
          case schema::ClientFrame::REQUEST:
            f.body = read_request(root.getRequest());
            break;
          case schema::ClientFrame::REPLY:
            f.body = read_reply(root.getReply());
            break;
          case schema::ClientFrame::CHUNK_REQUEST:
            f.body = read_chunk_request(root.getChunkRequest());
            break;
          case schema::ClientFrame::CHUNK_REPLY:
            f.body = read_chunk_reply(root.getChunkReply());
            break;
          default:
            return frame_error{"unknown frame kind"};
        }
        return f;
      });
}

}  // namespace cairn::runtime
