# schema/namespace.capnp — the namespace state machine's commands (stored in
# Raft log entries) and snapshots (sent with InstallSnapshot and kept by the
# Raft storage).
#
# Owner: actors/shard/namespace_codec.cpp is the only reader and writer.
# Version 1. Evolution follows Cap'n Proto's rules: add fields at the end
# with new ordinals, never renumber or change a field's type; `version`
# lets a replica refuse a command from a future incompatible format.
# Strings from clients (keys, metadata, ETags) are Data: byte-exact, no
# UTF-8 or NUL rules imposed by the wire format.

@0xb6f1d64c2a9e7d13;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cairn::schema");

struct ChunkRef {
  id @0 :Data;          # 32 bytes
  offset @1 :UInt64;    # in the object (or part)
  length @2 :UInt64;    # plaintext bytes
  scheme @3 :UInt32;    # chunk::scheme_id
  keyEpoch @4 :UInt64;
  devices @5 :List(UInt64);  # shard index -> device id, as written
}

struct MetaEntry {
  name @0 :Data;
  value @1 :Data;
}

struct ObjectVersion {
  versionId @0 :Data;
  size @1 :UInt64;
  etag @2 :Data;
  contentType @3 :Data;
  userMetadata @4 :List(MetaEntry);
  chunks @5 :List(ChunkRef);
  inlineSealed @6 :Data;
  mtimeNs @7 :Int64;
  checksums @8 :List(MetaEntry);  # verified x-amz-checksum-* header -> value
}

struct WriteCondition {
  ifNoneMatchAny @0 :Bool;
  hasIfMatch @1 :Bool;
  ifMatch @2 :Data;
  chunksReferenced @3 :Bool;  # copies: every chunk named must still be referenced
}

struct UploadPart {
  number @0 :UInt32;
  etag @1 :Data;
  size @2 :UInt64;
  chunks @3 :List(ChunkRef);
  uploadedNs @4 :Int64;
}

struct PartListing {
  number @0 :UInt32;
  etag @1 :Data;
}

struct NsCommand {
  version @0 :UInt16;     # 1
  requestId @1 :UInt64;   # unique per request; the proposer answers its client
  proposer @2 :UInt64;    # node id of the replica that proposed it
  nowNs @3 :Int64;        # the proposer's clock: every replica applies the same time
  bucket @4 :UInt64;
  union {
    createBucket @5 :Void;
    deleteBucket @6 :Void;
    putObject :group {
      key @7 :Data;
      version @8 :ObjectVersion;
      condition @9 :WriteCondition;
      mode @10 :UInt32;
      uid @11 :UInt32;
      gid @12 :UInt32;
    }
    deleteObject :group {
      key @13 :Data;
      hasIfMatch @14 :Bool;
      ifMatch @15 :Data;
    }
    createUpload :group {
      key @16 :Data;
      uploadId @17 :Data;
      contentType @18 :Data;
      userMetadata @19 :List(MetaEntry);
    }
    putPart :group {
      uploadId @20 :Data;
      part @21 :UploadPart;
      chunksReferenced @27 :Bool;
    }
    completeUpload :group {
      uploadId @22 :Data;
      parts @23 :List(PartListing);
      etag @24 :Data;
      condition @25 :WriteCondition;
    }
    abortUpload :group {
      uploadId @26 :Data;
    }
    # The chunk collector (ADR 0007); bucket unused (garbage is shard-wide).
    collectBegin @28 :List(Data);   # chunk ids
    collectEnd @29 :List(Data);
    collectAbort @30 :List(Data);
    reportOrphans @31 :List(ChunkRef);
    # Inode-addressed commands (NFS, FUSE: ADR 0008).
    makeNode :group {
      dir @32 :UInt64;
      name @33 :Data;
      kind @34 :UInt8;
      mode @35 :UInt32;
      uid @36 :UInt32;
      gid @37 :UInt32;
      target @38 :Data;
      how @39 :UInt8;
      verifier @40 :UInt64;
    }
    removeNode :group {
      dir @41 :UInt64;
      name @42 :Data;
      directory @43 :Bool;
    }
    renameNode :group {
      fromDir @44 :UInt64;
      fromName @45 :Data;
      toDir @46 :UInt64;
      toName @47 :Data;
    }
    setAttributes :group {
      inode @48 :UInt64;
      setMode @49 :Bool;
      mode @50 :UInt32;
      setUid @51 :Bool;
      uid @52 :UInt32;
      setGid @53 :Bool;
      gid @54 :UInt32;
      setAtime @55 :Bool;
      atimeNs @56 :Int64;
      setMtime @57 :Bool;
      mtimeNs @58 :Int64;
      hasGuard @59 :Bool;
      guardCtimeNs @60 :Int64;
      hasXattr @69 :Bool;          # an extended attribute (FUSE, NS9)
      xattrName @70 :Data;
      hasXattrValue @71 :Bool;     # false: remove the name
      xattrValue @72 :Data;
      xattrHow @73 :UInt8;         # 0 either, 1 create, 2 replace
    }
    writeRange :group {
      inode @61 :UInt64;
      expectedEtag @62 :Data;
      from @63 :UInt64;
      to @64 :UInt64;
      chunks @65 :List(ChunkRef);
      inlineSealed @66 :Data;
      size @67 :UInt64;
      etag @68 :Data;
    }
    linkNode :group {              # a hard link (NS1)
      inode @74 :UInt64;
      toDir @75 :UInt64;
      toName @76 :Data;
    }
  }
}

struct DirEntry {
  listKey @0 :Data;       # the name, with '/' appended for a directory
  inode @1 :UInt64;
}

struct Inode {
  id @0 :UInt64;
  kind @1 :UInt8;         # 1 directory, 2 file, 3 symlink
  parent @2 :UInt64;
  mode @3 :UInt32;
  uid @4 :UInt32;
  gid @5 :UInt32;
  atimeNs @6 :Int64;
  mtimeNs @7 :Int64;
  ctimeNs @8 :Int64;
  explicitDir @9 :Bool;
  entries @10 :List(DirEntry);
  hasCurrent @11 :Bool;
  current @12 :ObjectVersion;
  target @13 :Data;
  xattrs @14 :List(MetaEntry);   # extended attributes (NS9)
  # Its number of names (hard links, NS1). A snapshot's is checked against
  # the entries that name it; a client reply carries it instead of them.
  links @15 :UInt32 = 1;
}

struct Upload {
  id @0 :Data;
  key @1 :Data;
  contentType @2 :Data;
  userMetadata @3 :List(MetaEntry);
  initiatedNs @4 :Int64;
  parts @5 :List(UploadPart);
}

struct BucketTree {
  bucket @0 :UInt64;
  nextInode @1 :UInt64;
  inodes @2 :List(Inode);
  uploads @3 :List(Upload);
}

struct GarbageChunk {
  ref @0 :ChunkRef;
  sinceNs @1 :Int64;
  collecting @2 :Bool;
}

# Chunk reference counts are not stored: restore recomputes them (NS4).
struct NsSnapshot {
  version @0 :UInt16;     # 1
  buckets @1 :List(BucketTree);
  garbage @2 :List(GarbageChunk);  # NS8
}
