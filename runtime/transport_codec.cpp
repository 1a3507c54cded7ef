// runtime/transport_codec.cpp — see transport_codec.h.
#include "runtime/transport_codec.h"

#include <capnp/serialize.h>
#include <kj/exception.h>
#include <kj/io.h>

#include "runtime/chunk_frames.h"
#include "schema/capnp_frames.h"
#include "schema/transport.capnp.h"

namespace cairn::runtime {

namespace {

void set_address(schema::NodeAddress::Builder b, const node_address& a) {
  b.setId(a.id);
  b.setTransport(a.transport);
  b.setAdmin(a.admin);
}

node_address get_address(schema::NodeAddress::Reader r) {
  return node_address{r.getId(), r.getTransport().cStr(), r.getAdmin().cStr()};
}

}  // namespace

std::string with_length_prefix(capnp::MessageBuilder& mb) {
  // The segments go straight behind the prefix: one copy of a shard's
  // bytes, where a flat array, a string of it and the concatenation
  // made three (the frames carry 1 MiB shards for every client read).
  const auto segments = mb.getSegmentsForOutput();
  const auto n = capnp::computeSerializedSizeInWords(segments) * sizeof(capnp::word);
  std::string out(frame_prefix_bytes + n, '\0');
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
  kj::ArrayOutputStream stream(
      kj::arrayPtr(reinterpret_cast<kj::byte*>(out.data() + frame_prefix_bytes), n));
  capnp::writeMessage(stream, segments);
  return out;
}

void write_chunk_request(schema::ChunkRequest::Builder r, const chunk_request& c) {
  r.setId(c.id);
  r.setDevice(c.device);
  r.setOp(static_cast<std::uint8_t>(c.op));
  r.setKey(schema::as_data(c.key));
  r.setEpoch(c.epoch);
  r.setPayload(schema::as_data(c.payload));
  r.setLimit(c.limit);
}

void write_chunk_reply(schema::ChunkReply::Builder r, const chunk_reply& c) {
  r.setId(c.id);
  r.setDevice(c.device);
  r.setStatus(c.status);
  r.setPayload(schema::as_data(c.payload));
  r.setEpoch(c.epoch);
}

chunk_request read_chunk_request(schema::ChunkRequest::Reader r) {
  if (r.getOp() > chunk_op_max)
    throw kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                        kj::str("unknown chunk operation ", r.getOp()));
  chunk_request c;
  c.id = r.getId();
  c.device = r.getDevice();
  c.op = static_cast<chunk_op>(r.getOp());
  c.key = schema::to_std_string(r.getKey());
  c.epoch = r.getEpoch();
  c.payload = schema::to_std_string(r.getPayload());
  c.limit = r.getLimit();
  return c;
}

chunk_reply read_chunk_reply(schema::ChunkReply::Reader r) {
  chunk_reply c;
  c.id = r.getId();
  c.device = r.getDevice();
  c.status = r.getStatus();
  c.payload = schema::to_std_string(r.getPayload());
  c.epoch = r.getEpoch();
  return c;
}

std::size_t shard_message_wire_bytes(const shard_message& m) {
  // Pointer + struct words + data rounded up to words.
  return 32 + (m.frame.size() + 7) / 8 * 8;
}

std::string encode_frame(const transport_frame& f) {
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::Frame>();
  root.setVersion(transport_version);
  root.setFrom(f.from);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, raft_batch>) {
          auto list = root.initRaft(static_cast<unsigned>(body.messages.size()));
          for (unsigned i = 0; i < body.messages.size(); ++i) {
            list[i].setShard(body.messages[i].shard);
            list[i].setFrame(schema::as_data(body.messages[i].frame));
          }
        } else if constexpr (std::is_same_v<T, ping>) {
          root.setPing(body.sequence);
        } else if constexpr (std::is_same_v<T, pong>) {
          root.setPong(body.sequence);
        } else if constexpr (std::is_same_v<T, join_request>) {
          set_address(root.initJoin().initNode(), body.node);
        } else if constexpr (std::is_same_v<T, join_reply>) {
          auto r = root.initJoinReply();
          r.setAccepted(body.accepted);
          r.setReason(body.reason);
          auto nodes = r.initNodes(static_cast<unsigned>(body.nodes.size()));
          for (unsigned i = 0; i < body.nodes.size(); ++i) set_address(nodes[i], body.nodes[i]);
          if (!body.cluster_key.empty()) r.setClusterKey(schema::as_data(body.cluster_key));
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

std::uint32_t decode_frame_length(const unsigned char p[frame_prefix_bytes]) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::variant<transport_frame, frame_error> decode_frame(const std::string& body,
                                                        std::size_t bytes_max) {
  return decode_versioned<schema::Frame, transport_frame>(
      body, bytes_max, transport_version, "transport",
      [](schema::Frame::Reader root) -> std::variant<transport_frame, frame_error> {
        transport_frame f;
        f.from = root.getFrom();
        switch (root.which()) {
          case schema::Frame::RAFT: {
            raft_batch b;
            auto list = root.getRaft();
            b.messages.reserve(list.size());
            for (auto m : list)
              b.messages.push_back(
                  shard_message{m.getShard(), schema::to_std_string(m.getFrame())});
            f.body = std::move(b);
            break;
          }
          case schema::Frame::PING:
            f.body = ping{root.getPing()};
            break;
          case schema::Frame::PONG:
            f.body = pong{root.getPong()};
            break;
          case schema::Frame::JOIN:
            f.body = join_request{get_address(root.getJoin().getNode())};
            break;
          case schema::Frame::JOIN_REPLY: {
            auto r = root.getJoinReply();
            join_reply jr;
            jr.accepted = r.getAccepted();
            jr.reason = r.getReason().cStr();
            for (auto n : r.getNodes()) jr.nodes.push_back(get_address(n));
            jr.cluster_key = schema::to_std_string(r.getClusterKey());
            f.body = std::move(jr);
            break;
          }
          case schema::Frame::CHUNK_REQUEST:
            f.body = read_chunk_request(root.getChunkRequest());
            break;
          case schema::Frame::CHUNK_REPLY:
            f.body = read_chunk_reply(root.getChunkReply());
            break;
          default:
            return frame_error{"unknown frame kind"};
        }
        return f;
      });
}

}  // namespace cairn::runtime
