# schema/client.capnp — frames between a cairn client (`cairn mount`, the
# FUSE client, ADR 0009) and a node's client listener
# (runtime/client_listener.cpp): the access-key handshake, namespace
# requests by inode, key grants, the device directory, and chunk I/O.
#
# Owner: runtime/client_codec.cpp is the only reader and writer.
# Version 1. On the wire each frame is a 4-byte big-endian length followed
# by one flat (unpacked) Cap'n Proto message, as on the node transport.
# Evolution follows Cap'n Proto's rules: new fields at the end, never
# renumber. A receiver closes the connection on a frame of another
# version.

@0xb3f0c6a5e1d27c41;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cairn::schema");

using Transport = import "transport.capnp";

# Handshake (ADR 0009 §2): the node sends a challenge first; the client
# answers with hello; the node answers welcome (accepted or not). Nothing
# else is accepted before welcome.
struct Hello {
  keyId @0 :Text;        # an access key id ("CK...")
  proof @1 :Data;        # HMAC-SHA256(secret, "cairn client v1" | nonce | TLS exporter)
}

struct Welcome {
  accepted @0 :Bool;
  reason @1 :Text;       # why not
  tenant @2 :UInt64;     # the key's tenant
  node @3 :UInt64;       # the answering node's id
}

struct ReaddirQuery {
  shard @0 :UInt64;
  bucket @1 :UInt64;
  dir @2 :UInt64;
  after @3 :Data;        # the list key to continue after ("" from the start)
  max @4 :UInt32;
}

struct InodeQuery {
  shard @0 :UInt64;
  bucket @1 :UInt64;
  inode @2 :UInt64;
}

struct LookupQuery {
  shard @0 :UInt64;
  bucket @1 :UInt64;
  dir @2 :UInt64;
  name @3 :Data;
}

struct CommandQuery {
  shard @0 :UInt64;
  command @1 :Data;      # an NsCommand (schema/namespace.capnp), flat
}

struct Request {
  id @0 :UInt64;         # the client's correlation id, echoed in the reply
  union {
    bucket @1 :Text;     # resolve a bucket of the tenant by name
    inode @2 :InodeQuery;
    lookup @3 :LookupQuery;
    readdir @4 :ReaddirQuery;
    command @5 :CommandQuery;
    devices @6 :Void;
    grant @7 :UInt64;    # a key epoch; 0: the current one
    buckets @8 :Void;    # the names of the tenant's buckets
    nodes @9 :Void;      # the nodes clients connect to for chunk I/O
  }
}

struct BucketAnswer {
  shard @0 :UInt64;
  bucket @1 :UInt64;
}

struct ReaddirEntry {  # not "DirEntry": that is namespace.capnp's, in the same C++ namespace
  listKey @0 :Data;      # the name, with '/' appended for a directory
  inode @1 :Data;        # an Inode (schema/namespace.capnp), flat, without entries
}

struct ReaddirAnswer {
  entries @0 :List(ReaddirEntry);
  more @1 :Bool;
}

struct Device {
  id @0 :UInt64;
  node @1 :UInt64;
  capacityBytes @2 :UInt64;
  freeBytes @3 :UInt64;
  state @4 :UInt8;       # placement::device_state
}

struct NodeEndpoint {
  node @0 :UInt64;
  address @1 :Text;      # its client listener, host:port
}

struct GrantAnswer {
  tenant @0 :UInt64;
  epoch @1 :UInt64;
  dedupKey @2 :Data;
  dataKey @3 :Data;
}

struct Reply {
  id @0 :UInt64;
  status @1 :UInt8;      # runtime::client_status
  message @2 :Text;
  union {
    none @3 :Void;
    bucket @4 :BucketAnswer;
    inode @5 :Data;      # an Inode, flat, without entries
    readdir @6 :ReaddirAnswer;
    command @7 :Data;    # an ns_result as encode_ns_result makes it
    devices @8 :List(Device);
    grant @9 :GrantAnswer;
    buckets @10 :List(Text);  # in name order
    nodes @11 :List(NodeEndpoint);
  }
}

struct ClientFrame {
  version @0 :UInt16;
  union {
    challenge @1 :Data;  # 32 random bytes
    hello @2 :Hello;
    welcome @3 :Welcome;
    request @4 :Request;
    reply @5 :Reply;
    chunkRequest @6 :Transport.ChunkRequest;
    chunkReply @7 :Transport.ChunkReply;
  }
}
