// actors/shard/shard_actor.h — the shard-replica actor: a thin CAF wrapper
// that turns messages into calls on one `replica` (replica.h).
//
// Owner: spawned by the node runtime (runtime/) or the simulator (sim/);
// one actor per replica of a shard. The actor holds no protocol decisions.
//
// Messages (CAF 0.17 atoms, built-in types only so nothing needs
// registering):
//   (tick)                               -> ()      one Raft tick
//   (raft, std::string frame)            -> ()      a frame from a peer
//   (raft, uint64 sender, std::string frame) -> ()  one the transport
//                                           authenticated as from `sender`
//   (put, key, value)                    -> (uint8 code, std::string value)
//   (cas, key, bool expect_absent, expected, value) -> (code, value)
//   (get, key)                           -> (code, value)   linearizable
//   (campaign)                           -> ()
//   (conf, uint8 kind1, uint64 node1, uint8 kind2, uint64 node2)
//                                        -> (code, reason)  one change, or
//                                           two as a joint change
//   (status)                             -> (term, commit, applied, last,
//                                            leader, role, proposals,
//                                            fsyncs, rejected) as uint64
//   (scan, prefix, uint64 limit)         -> (std::vector<std::string>
//                                            k0, v0, k1, v1...) local,
//                                           possibly stale state
//   (reconcile, voters, learners)        -> (std::string what, "" = nothing)
//   (describe)                           -> (std::string JSON) status,
//                                           membership, progress, metrics
//   (wake)                               -> ()      re-check wants_ticks
//   (ns, std::string encoded command)    -> (code, encoded ns_result) a
//                                           namespace command
//                                           (namespace_codec.h), answered
//                                           once applied
//   (nsread, namespace_query_ptr)        -> (code, the query's string)
//                                           linearizable namespace read
//                                           (a local-only message type)
// With replica_options::batch_inputs the actor queues inputs in the core
// and sends itself one (flush) per batch: every message already in the
// mailbox shares one Ready and one fsync.
// After an fsync failure the actor quits (fail-stop); its host restarts it.
#pragma once

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/shard/replica.h"

namespace cairn::shard {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using raft_atom = caf::atom_constant<caf::atom("raft")>;
using put_atom = caf::atom_constant<caf::atom("put")>;
using cas_atom = caf::atom_constant<caf::atom("cas")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using campaign_atom = caf::atom_constant<caf::atom("campaign")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using conf_atom = caf::atom_constant<caf::atom("conf")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using scan_atom = caf::atom_constant<caf::atom("scan")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using describe_atom = caf::atom_constant<caf::atom("describe")>;
/// (batch, [op, key, value, op, key, value, ...]) with op "put" or
/// "delete" (value ignored): replica::write_batch; answers (uint8 code,
/// string detail) once applied.
using batch_atom = caf::atom_constant<caf::atom("batch")>;
using ns_atom = caf::atom_constant<caf::atom("ns")>;
using ns_read_atom = caf::atom_constant<caf::atom("nsread")>;
/// A namespace query for (nsread): runs on the replica's thread, after
/// ReadIndex, against the applied state. Local only (never serialised).
using namespace_query_ptr = std::shared_ptr<const replica::namespace_query>;

/// `kind` values of a conf message; `none` leaves the second change out.
enum class membership_kind : std::uint8_t {
  add_voter = 0,
  add_learner = 1,
  remove = 2,
  none = 255
};

using ticker_add_atom = caf::atom_constant<caf::atom("add")>;
using ticker_remove_atom = caf::atom_constant<caf::atom("remove")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;

struct shard_actor_state {
  std::unique_ptr<replica> rep;
  bool flush_pending = false;
  caf::actor ticker;     // invalid: ticks are managed by the host
  bool ticking = false;  // registered with the ticker
  static inline const char* name = "cairn.shard";
};

caf::behavior shard_actor(caf::stateful_actor<shard_actor_state>* self, replica_options opts,
                          environment env);

/// A shard actor that registers itself with `ticker` ((add, self) and
/// (remove, self)) whenever replica::wants_ticks changes, so idle shards
/// get no tick messages at all. (wake) makes it look again (the host sends
/// it when a peer node goes down).
caf::behavior ticked_shard_actor(caf::stateful_actor<shard_actor_state>* self, replica_options opts,
                                 environment env, caf::actor ticker);

/// The JSON `describe` returns (exposed for tests and the admin API).
std::string describe_replica(const replica_summary& s);
nlohmann::json describe_replica_json(const replica_summary& s);

}  // namespace cairn::shard

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cairn::shard::namespace_query_ptr)
