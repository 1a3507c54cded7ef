# schema/transport.capnp — frames between cairn nodes on the node transport
# (runtime/transport.cpp): Raft messages of many shards batched per node
# pair, liveness pings, the join handshake, and chunk I/O on remote devices.
#
# Owner: runtime/transport_codec.cpp is the only reader and writer.
# Version 1. On the wire each frame is a 4-byte big-endian length followed
# by one flat (unpacked) Cap'n Proto message. Evolution follows Cap'n
# Proto's rules: new fields at the end, never renumber. A receiver rejects
# a frame whose `version` it does not speak and closes the connection.

@0xd9b966fa71e65202;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cairn::schema");

struct ShardMessage {
  shard @0 :UInt64;
  frame @1 :Data;        # a Raft message, encoded by schema/raft.capnp
}

struct NodeAddress {
  id @0 :UInt64;
  transport @1 :Text;    # host:port the node's transport listens on
  admin @2 :Text;        # host:port of the node's admin HTTP endpoint
}

struct JoinRequest {
  node @0 :NodeAddress;  # the node asking to join (its id matches its certificate)
}

struct JoinReply {
  accepted @0 :Bool;
  reason @1 :Text;       # why not, when not accepted
  nodes @2 :List(NodeAddress);  # the members the answering node knows
  clusterKey @3 :Data;   # the cluster master key (ADR 0006), only when accepted
}

# Chunk I/O on another node's device (runtime/remote_devices.h): the
# device actor's messages (actors/chunk/device_actor.h) carried over the
# transport. Requests travel on the asking node's connection, replies on
# the answering node's.
struct ChunkRequest {
  id @0 :UInt64;         # the asker's correlation id, echoed in the reply
  device @1 :UInt64;
  op @2 :UInt8;          # runtime::chunk_op
  key @3 :Data;          # the 40-byte shard key (put/get/delete/restore/stat), or list's after-key
  epoch @4 :UInt64;      # put
  payload @5 :Data;      # put
  limit @6 :UInt32;      # list
}

struct ChunkReply {
  id @0 :UInt64;
  device @1 :UInt64;
  status @2 :UInt8;      # chunk::device_status (stat: the shard_state)
  payload @3 :Data;      # get: the shard; list: the entries
  epoch @4 :UInt64;      # get
}

struct Frame {
  version @0 :UInt16;
  from @1 :UInt64;       # must match the sender's certificate
  union {
    raft @2 :List(ShardMessage);
    ping @3 :UInt64;     # a sequence number, echoed by pong
    pong @4 :UInt64;
    join @5 :JoinRequest;
    joinReply @6 :JoinReply;
    chunkRequest @7 :ChunkRequest;
    chunkReply @8 :ChunkReply;
  }
}
