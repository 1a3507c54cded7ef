# schema/raft.capnp — wire format of Raft messages between replicas of a
# shard, and of membership changes stored in log entries.
#
# Owner: actors/raft/codec.cpp is the only reader and writer. Version 1.
# Evolution follows Cap'n Proto's rules: add fields at the end with new
# ordinals, never renumber or change a field's type. `version` lets a
# receiver reject frames from a future incompatible format.

@0xd90b73dcafd64bfe;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("cairn::schema");

struct Entry {
  term @0 :UInt64;
  index @1 :UInt64;
  type @2 :UInt8;        # 0 normal, 1 conf change
  data @3 :Data;
}

struct ConfState {
  voters @0 :List(UInt64);
  votersOutgoing @1 :List(UInt64);
  learners @2 :List(UInt64);
  learnersNext @3 :List(UInt64);
  autoLeave @4 :Bool;
}

struct Snapshot {
  index @0 :UInt64;
  term @1 :UInt64;
  conf @2 :ConfState;
  data @3 :Data;
}

struct Message {
  version @0 :UInt16;    # 1
  type @1 :UInt8;
  from @2 :UInt64;
  to @3 :UInt64;
  term @4 :UInt64;
  logTerm @5 :UInt64;
  index @6 :UInt64;
  entries @7 :List(Entry);
  commit @8 :UInt64;
  reject @9 :Bool;
  rejectHint @10 :UInt64;
  hintTerm @11 :UInt64;
  context @12 :Data;
  hasSnapshot @13 :Bool;
  snapshot @14 :Snapshot;
}

struct ConfChangeSingle {
  kind @0 :UInt8;        # 0 add voter, 1 add learner, 2 remove
  node @1 :UInt64;
}

struct ConfChange {
  version @0 :UInt16;    # 1
  transition @1 :UInt8;  # 0 automatic, 1 joint implicit, 2 joint explicit
  changes @2 :List(ConfChangeSingle);
  context @3 :Data;
}

# A command of the shard's key-value state machine (actors/shard/kv_state_machine.h).
struct KvCommand {
  version @0 :UInt16;    # 1
  op @1 :UInt8;          # 0 put, 1 compare-and-set, 2 noop, 3 batch
  key @2 :Data;
  value @3 :Data;
  expected @4 :Data;
  expectAbsent @5 :Bool; # compare-and-set: the key must not exist
  requestId @6 :UInt64;  # unique per request; the proposer answers its client
  proposer @7 :UInt64;   # node id of the replica that proposed it
  batch @8 :List(KvWrite); # op 3: applied together, in order
}

# One write of a batch: a put, or a delete of the key.
struct KvWrite {
  key @0 :Data;
  value @1 :Data;
  delete @2 :Bool;
}

# A snapshot of the key-value state machine.
struct KvSnapshot {
  version @0 :UInt16;
  keys @1 :List(Data);
  values @2 :List(Data);
}
