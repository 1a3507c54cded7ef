--------------------------- MODULE StripeDurability ---------------------------
(***************************************************************************)
(* tla/StripeDurability.tla -- TLA+ specification of cairn's chunk layer:  *)
(* erasure-coded stripes on devices that fail, with deletes and repair.    *)
(* The design is docs/chunk.md (device core, repair, simulation) and ADR   *)
(* 0004; the code is actors/chunk (device_store, stripe_codec),            *)
(* actors/repair (repair_planner) and the simulator's executor in          *)
(* sim/stripe_sim.cpp.                                                     *)
(*                                                                         *)
(* Owner: the chunk-layer/verification team (tla/, tests/tla/).  Keep it   *)
(* in step with sim/stripe_sim.cpp and actors/repair: when a rule that     *)
(* matters for durability changes there, change the matching action here   *)
(* and say so in the commit.                                               *)
(*                                                                         *)
(* The invariants and the property at the end carry EXACTLY the names of   *)
(* the checkers of `cairn-sim --stripes` (stripe_checker_names() in        *)
(* sim/stripe_sim.cpp, printed by `cairn-sim --list-checkers`);            *)
(* tests/tla/check_specs.mjs fails CI if a name in StripeDurability.cfg    *)
(* has no simulator checker.  See tla/README.md.                           *)
(*                                                                         *)
(* Modelled: writes as one append per shard, acknowledged once every       *)
(* shard is durable; reads that decode from any k shards the devices       *)
(* return, with the GCM tag of every data shard checked; deletes into the  *)
(* recycle bin, restores, expiry of the retention window and per-device    *)
(* purge; bit flips and read errors (detected by the record CRC, never     *)
(* returned), lost devices, crashes (read errors may clear, a damaged      *)
(* record header may make a shard missing, a purge comes back as "in the   *)
(* bin"); the fault budget of the simulator (at most m bad shards per      *)
(* stripe); scrubs, and repair of one shard at a time from k good shards,  *)
(* in place or onto a new device.                                          *)
(* Not modelled: byte ranges, segments, compaction and replay as such      *)
(* (their contract, CD1-CD5, is assumed: a device changes a shard key's    *)
(* state only as the actions below say), capacity (device_full), nodes     *)
(* and weights in placement (PL4-PL6), draining/out devices, misdirected   *)
(* writes, damage to delete marks, a device that is down for a while and   *)
(* comes back, rewriting a purged chunk, and repair steps interleaving     *)
(* with other actions (the simulator's executor runs a rebuild without     *)
(* interruption; see tla/README.md).                                       *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, TLC

CONSTANTS
    Stripes,    \* chunks (model values); each is written at most once
    Devices,    \* chunk devices (model values)
    K,          \* data shards per stripe (ec_scheme::data_shards)
    M,          \* parity shards per stripe (ec_scheme::parity_shards)
    Nil         \* model value: "no device yet", "no repair in the last step"

(* The simulator never loses a device when only k + m would be left        *)
(* (lose_some_device: "keep room to repair onto"), so one more device      *)
(* than a stripe is wide is the least that makes a lost device             *)
(* repairable.                                                             *)
ASSUME /\ K \in Nat \ {0}
       /\ M \in Nat
       /\ IsFiniteSet(Devices)
       /\ Cardinality(Devices) > K + M
       /\ Nil \notin Devices

(* Shard indexes, as in the code: shard i < K is data shard i (sealed,     *)
(* with its own GCM tag, ADR 0004), the others are parity over the sealed  *)
(* data shards.  Replication is K = 1 with the copies as "parity".         *)
Idx     == 0..(K + M - 1)
DataIdx == 0..(K - 1)

(* A shard key (chunk::shard_key: chunk id, scheme, index) is what a       *)
(* device stores; the scheme is fixed in a model.                          *)
Keys == Stripes \X Idx

(* Life of a stripe (enum class life in sim/stripe_sim.cpp, plus the two   *)
(* states of a write that the simulator does in one step).                 *)
Unwritten == "Unwritten"  \* not written yet
Writing   == "Writing"    \* placed, shards being appended
Live      == "Live"       \* acknowledged, not deleted: life::live
InBin     == "InBin"      \* deleted, restorable: life::in_bin
Purged    == "Purged"     \* retention window over: life::purged
Abandoned == "Abandoned"  \* the write failed and was never acknowledged

(* State of a shard key in a device's index (shard_state in                *)
(* actors/chunk/chunk_index.h).  shard_state::corrupt is Stored with a     *)
(* damaged medium (see media below).                                       *)
NoEntry == "NoEntry"  \* no entry: never stored here, device vanished, or
                      \* the record's header was unreadable at replay
Stored  == "Stored"   \* shard_state::live (or ::corrupt): a shard record
Binned  == "Binned"   \* shard_state::in_bin: its delete mark is newest
Gone    == "Gone"     \* shard_state::purged: key dropped, mark kept

(* What the medium does to a stored record. *)
Intact    == "Intact"     \* reads back and passes its CRC checks
Flipped   == "Flipped"    \* bits flipped: the CRC check fails (CD2)
ReadError == "ReadError"  \* the block fails reads (until a restart, maybe)

-----------------------------------------------------------------------------
VARIABLES
    life,       \* life[s]: one of the stripe states above
    placement,  \* placement[s][i]: the device of shard i (the stripe's
                \* metadata, `stripe::devices`); Nil before the write
    written,    \* written[s]: shards whose append the device acknowledged
    lost,       \* devices that vanished (device_state::failed); for good
    rec,        \* rec[d][k]: state of shard key k in device d's index
    media,      \* media[d][k]: Intact, Flipped or ReadError
    sound,      \* sound[d][k]: the stored payload is the shard's true bytes
                \* (what encode_stripe produced for that index)
    hit,        \* hit[s]: indexes a fault hit that repair has neither
                \* rebuilt nor seen intact since: `stripe::bad`
    faulty      \* faults are still injected (the simulator's first two
                \* thirds of a run); StopFaults ends them for good

(* History variables: they only record the past, never enable or disable   *)
(* a step, and exist so that every invariant is a state predicate.         *)
VARIABLES
    badRead,    \* some read returned bytes other than the written ones
    lastRepair  \* Nil, or the shard the last step rebuilt, with the
                \* stripe's good shards just before that step

stripeVars == <<life, placement, written, hit>>
deviceVars == <<lost, rec, media, sound>>
vars       == <<stripeVars, deviceVars, faulty, badRead, lastRepair>>

-----------------------------------------------------------------------------
(* Helpers *)

(* device_store::read returns the bytes (status ok): the device is there,  *)
(* the key's state is live and the record passes its checks.  Anything     *)
(* else is not_found, corrupt or io_error, and no bytes (CD2).             *)
Readable(d, k) ==
    /\ d \in Devices \ lost
    /\ rec[d][k] = Stored
    /\ media[d][k] = Intact

(* Through the stripe's metadata: the shards a reader (or a scrub) gets,   *)
(* and those that hold the true bytes.                                     *)
ReadableIdx(s) == {i \in Idx : Readable(placement[s][i], <<s, i>>)}
SoundAt(s, i)  == sound[placement[s][i]][<<s, i>>]
GoodIdx(s)     == {i \in ReadableIdx(s) : SoundAt(s, i)}

FullRedundancy(s) == GoodIdx(s) = Idx

(* Stripes the fault budget protects: the simulator injects a fault only   *)
(* if no acknowledged, not purged stripe gets more than M bad shards       *)
(* (corrupt_some_shard, lose_some_device).  The model extends this to      *)
(* writes in progress, which the simulator does in one step.               *)
Budgeted == {s \in Stripes : life[s] \in {Writing, Live, InBin}}

(* Appends (with its sync) a record for shard key k on device d: the new   *)
(* record has the highest sequence, so it is the key's state (CD4).        *)
StoreCopy(d, k, isSound) ==
    /\ rec'   = [rec   EXCEPT ![d][k] = Stored]
    /\ media' = [media EXCEPT ![d][k] = Intact]
    /\ sound' = [sound EXCEPT ![d][k] = isSound]

-----------------------------------------------------------------------------
(* Initial state: nothing written, every device in, faults on. *)

Init ==
    /\ life       = [s \in Stripes |-> Unwritten]
    /\ placement  = [s \in Stripes |-> [i \in Idx |-> Nil]]
    /\ written    = [s \in Stripes |-> {}]
    /\ lost       = {}
    /\ rec        = [d \in Devices |-> [k \in Keys |-> NoEntry]]
    /\ media      = [d \in Devices |-> [k \in Keys |-> Intact]]
    /\ sound      = [d \in Devices |-> [k \in Keys |-> TRUE]]
    /\ hit        = [s \in Stripes |-> {}]
    /\ faulty     = TRUE
    /\ badRead    = FALSE
    /\ lastRepair = Nil

-----------------------------------------------------------------------------
(* Writes (stripe_sim write_stripe; the gateways' write pipeline) *)

(* placement::place: K + M distinct devices that are in (PL2, PL3).        *)
(* Nodes and weights (PL4, PL5) do not matter here: any choice.            *)
WriteBegin(s) ==
    /\ life[s] = Unwritten
    /\ \E f \in [Idx -> Devices \ lost] :
         /\ \A i, j \in Idx : i # j => f[i] # f[j]
         /\ placement' = [placement EXCEPT ![s] = f]
    /\ life' = [life EXCEPT ![s] = Writing]
    /\ UNCHANGED <<written, hit, deviceVars, faulty, badRead>>

(* device_store::append of shard i (encode_stripe output): write, sync,    *)
(* then the index; acknowledged = on the device and synced.                *)
WriteShard(s, i) ==
    /\ life[s] = Writing
    /\ i \notin written[s]
    /\ placement[s][i] \notin lost
    /\ StoreCopy(placement[s][i], <<s, i>>, TRUE)
    /\ written' = [written EXCEPT ![s] = @ \cup {i}]
    /\ UNCHANGED <<life, placement, hit, lost, faulty, badRead>>

(* The write is acknowledged once the devices acknowledged all K + M       *)
(* appends (write_stripe: `acked` only if every append returned ok).       *)
Ack(s) ==
    /\ life[s] = Writing
    /\ written[s] = Idx
    /\ life' = [life EXCEPT ![s] = Live]
    /\ UNCHANGED <<placement, written, hit, deviceVars, faulty, badRead>>

(* An append was refused or its device is lost: the write fails and is     *)
(* never acknowledged (write_stripe: "the checkers promise nothing for     *)
(* it").  Shards already appended stay behind, unreferenced.               *)
AbandonWrite(s) ==
    /\ life[s] = Writing
    /\ written[s] # Idx
    /\ life' = [life EXCEPT ![s] = Abandoned]
    /\ UNCHANGED <<placement, written, hit, deviceVars, faulty, badRead>>

-----------------------------------------------------------------------------
(* Reads (stripe_sim read_stripe; actors/chunk/stripe_codec decode_stripe) *)

(* The bytes of data shard j when decoding from the shards in S: read      *)
(* directly if j is in S, else reconstructed from S, and then right only   *)
(* if every shard of S is.                                                 *)
DataShardRight(s, S, j) ==
    IF j \in S THEN SoundAt(s, j) ELSE \A x \in S : SoundAt(s, x)

(* AES-GCM (keys::open_shard): the tag of a data shard verifies exactly    *)
(* when its bytes are the sealed ones.  Assumed, as SC1 in                 *)
(* stripe_codec.h does.                                                    *)
TagVerifies(s, S, j) == DataShardRight(s, S, j)

(* A read decodes from K shards that the devices return (data shards       *)
(* first in the code, then parity for a missing one, then all of parity    *)
(* when a tag fails: any K of them here).  It returns the chunk only if    *)
(* the tag of every data shard, read or rebuilt, verifies; the chunk is    *)
(* right if every data shard is.  A read that fails (fewer than K shards   *)
(* returned, or a tag fails) changes nothing and is not a step here.       *)
Read(s) ==
    /\ life[s] = Live
    /\ \E S \in SUBSET ReadableIdx(s) :
         /\ Cardinality(S) = K
         /\ \A j \in DataIdx : TagVerifies(s, S, j)
         /\ badRead' = (badRead \/ \E j \in DataIdx : ~DataShardRight(s, S, j))
    /\ UNCHANGED <<stripeVars, deviceVars, faulty>>

-----------------------------------------------------------------------------
(* Deletes: the recycle bin and the purge (docs/chunk.md step 3) *)

(* Phase 1 on every device of the stripe (device_store::remove): a         *)
(* delete mark, for a live or corrupt entry.  stripe_sim                   *)
(* delete_some_stripe.                                                     *)
Delete(s) ==
    /\ life[s] = Live
    /\ life' = [life EXCEPT ![s] = InBin]
    /\ rec' = [d \in Devices |->
                 [k \in Keys |->
                    IF /\ k[1] = s
                       /\ d = placement[s][k[2]]
                       /\ d \notin lost
                       /\ rec[d][k] = Stored
                    THEN Binned ELSE rec[d][k]]]
    /\ UNCHANGED <<placement, written, hit, lost, media, sound, faulty,
                   badRead>>

(* device_store::restore on every device of the stripe, while the          *)
(* retention window lasts: a restore record makes the entry live again.    *)
(* stripe_sim restore_some_stripe.                                         *)
Restore(s) ==
    /\ life[s] = InBin
    /\ life' = [life EXCEPT ![s] = Live]
    /\ rec' = [d \in Devices |->
                 [k \in Keys |->
                    IF /\ k[1] = s
                       /\ d = placement[s][k[2]]
                       /\ d \notin lost
                       /\ rec[d][k] = Binned
                    THEN Stored ELSE rec[d][k]]]
    /\ UNCHANGED <<placement, written, hit, lost, media, sound, faulty,
                   badRead>>

(* The retention window ends: from now on no device restores the stripe    *)
(* (restore refuses once deleted_at + retention <= now).  stripe_sim       *)
(* maintenance: `s.state = life::purged`.                                  *)
Expire(s) ==
    /\ life[s] = InBin
    /\ life' = [life EXCEPT ![s] = Purged]
    /\ UNCHANGED <<placement, written, hit, deviceVars, faulty, badRead>>

(* Phase 2 on one device, by its own clock (device_store::purge_expired):  *)
(* the entry becomes shard_state::purged; the delete mark stays on the     *)
(* device while it is needed.                                              *)
PurgeCopy(d, k) ==
    /\ life[k[1]] = Purged
    /\ d \notin lost
    /\ rec[d][k] = Binned
    /\ rec' = [rec EXCEPT ![d][k] = Gone]
    /\ UNCHANGED <<stripeVars, lost, media, sound, faulty, badRead>>

-----------------------------------------------------------------------------
(* Faults (stripe_sim inject_faults), within the budget *)

(* A bit flip in a stored shard record (flip_bit) or a block that fails    *)
(* reads (fail_reads_of_block).  The record's CRC (or the failed read)     *)
(* makes the device answer `corrupt`/`io_error`, never the bytes (CD2),    *)
(* and marks the entry corrupt for repair.  corrupt_some_shard: only       *)
(* while the stripe has fewer than M bad shards.                           *)
CorruptShard(s, i, kind) ==
    LET d == placement[s][i] IN
    /\ faulty
    /\ s \in Budgeted
    /\ i \notin hit[s]
    /\ Cardinality(hit[s]) < M
    /\ d \notin lost
    /\ rec[d][<<s, i>>] \in {Stored, Binned}
    /\ media[d][<<s, i>>] = Intact
    /\ media' = [media EXCEPT ![d][<<s, i>>] = kind]
    /\ hit' = [hit EXCEPT ![s] = @ \cup {i}]
    /\ UNCHANGED <<life, placement, written, lost, rec, sound, faulty,
                   badRead>>

(* A device vanishes (sim_block_device::vanish), with every copy on it.    *)
(* lose_some_device: only if every protected stripe with a not yet bad     *)
(* shard on it has fewer than M bad shards, and only while more than       *)
(* K + M devices are left.  Stripes keep one shard per device (PL3, RP1),  *)
(* so this keeps every protected stripe within M bad shards.               *)
LoseDevice(d) ==
    /\ faulty
    /\ d \notin lost
    /\ Cardinality(Devices \ lost) > K + M
    /\ \A s \in Budgeted :
         \A i \in Idx :
           (placement[s][i] = d /\ i \notin hit[s]) => Cardinality(hit[s]) < M
    /\ lost'  = lost \cup {d}
    /\ rec'   = [rec   EXCEPT ![d] = [k \in Keys |-> NoEntry]]
    /\ media' = [media EXCEPT ![d] = [k \in Keys |-> Intact]]
    /\ sound' = [sound EXCEPT ![d] = [k \in Keys |-> TRUE]]
    /\ hit' = [s \in Stripes |->
                 IF s \in Budgeted
                 THEN hit[s] \cup {i \in Idx : placement[s][i] = d}
                 ELSE hit[s]]
    /\ UNCHANGED <<life, placement, written, faulty, badRead>>

(* A crash and restart (crash_some_device: the device and its index lose   *)
(* what was not synced, then device_store::open recovers).  Every step     *)
(* here is synced when it is done, so a crash loses no acknowledged        *)
(* state (CD1, CD3); what it can change:                                   *)
(*  - a read error may be gone (clear_read_failures; the corrupt mark was  *)
(*    not synced): the record reads again;                                 *)
(*  - a flipped record whose header no longer decodes is skipped by        *)
(*    replay: the shard is missing (NoEntry);                              *)
(*  - a purge is not persisted: a purged entry is in the bin again until   *)
(*    the next purge_expired(), and is not restorable (CD3).               *)
CrashRestart(d) ==
    /\ faulty
    /\ d \notin lost
    /\ \E healed   \in SUBSET {k \in Keys : media[d][k] = ReadError},
          skipped  \in SUBSET {k \in Keys : /\ media[d][k] = Flipped
                                          /\ rec[d][k] # NoEntry},
          rebinned \in SUBSET {k \in Keys : rec[d][k] = Gone} :
         /\ media' = [media EXCEPT ![d] =
                        [k \in Keys |-> IF k \in healed \cup skipped
                                        THEN Intact ELSE media[d][k]]]
         /\ rec' = [rec EXCEPT ![d] =
                      [k \in Keys |-> IF k \in skipped THEN NoEntry
                                      ELSE IF k \in rebinned THEN Binned
                                      ELSE rec[d][k]]]
    /\ UNCHANGED <<stripeVars, lost, sound, faulty, badRead>>

(* Faults stop for good (the last third of a simulator run). *)
StopFaults ==
    /\ faulty
    /\ faulty' = FALSE
    /\ UNCHANGED <<stripeVars, deviceVars, badRead>>

-----------------------------------------------------------------------------
(* Repair (actors/repair/repair_planner.cpp plan_stripe; the executor in   *)
(* stripe_sim repair_stripe)                                               *)

(* The scan of repair_stripe: a shard that reads back intact is not bad    *)
(* any more (`s.bad[i] = false`: a read error that went away).             *)
Scrub(s) ==
    /\ life[s] = Live
    /\ hit[s] \cap GoodIdx(s) # {}
    /\ hit' = [hit EXCEPT ![s] = @ \ GoodIdx(s)]
    /\ UNCHANGED <<life, placement, written, deviceVars, faulty, badRead>>

(* One rebuild of a plan, as the executor runs it, without interruption:   *)
(*  plan:    shard i is not good as observed (RP3: a good shard is never   *)
(*           in a plan); the sources are K shards that read back (RP2:     *)
(*           fewer means unrecoverable, nothing is rebuilt; RP1: only      *)
(*           good sources); the target is i's own device if that device    *)
(*           is in (RP4: in place), else a device that is in and holds no  *)
(*           other shard of the stripe (placement::replace, PL8, RP1).     *)
(*  execute: read the sources, erasure_coder::reconstruct (right iff it    *)
(*           had K true shards), append to the target and sync, switch the *)
(*           stripe's metadata to it, read it back, and only then retire   *)
(*           the old copy.  A move happens only off a lost device here     *)
(*           (draining/out are not modelled), whose copy vanished with     *)
(*           it, so the retirement (device_store::remove) changes nothing. *)
(* No key is needed (ADR 0004): the rebuilt data shard is checked by its   *)
(* tag at the next read, a parity shard by nothing but the record CRC.     *)
(* The planner puts every unhealthy shard of a stripe in one plan with     *)
(* the same sources; one shard per step allows more interleavings.         *)
RepairShard(s, i, t, src) ==
    LET old == placement[s][i] IN
    /\ life[s] = Live
    /\ i \notin ReadableIdx(s)
    /\ src \subseteq ReadableIdx(s)
    /\ Cardinality(src) = K
    /\ IF old \in lost
       THEN /\ t \in Devices \ lost
            /\ \A j \in Idx \ {i} : placement[s][j] # t
       ELSE t = old
    /\ StoreCopy(t, <<s, i>>,
                 Cardinality(src) >= K /\ src \subseteq GoodIdx(s))
    /\ placement' = [placement EXCEPT ![s][i] = t]
    /\ hit' = [hit EXCEPT ![s] = @ \ {i}]
    /\ lastRepair' = [stripe |-> s, index |-> i, goodBefore |-> GoodIdx(s)]
    /\ UNCHANGED <<life, written, lost, faulty, badRead>>

RepairStripe(s) ==
    \E i \in Idx, t \in Devices, src \in SUBSET Idx : RepairShard(s, i, t, src)

-----------------------------------------------------------------------------
(* Next state *)

Step ==
    \/ \E s \in Stripes :
         \/ WriteBegin(s)
         \/ Ack(s)
         \/ AbandonWrite(s)
         \/ Read(s)
         \/ Delete(s)
         \/ Restore(s)
         \/ Expire(s)
         \/ Scrub(s)
    \/ \E s \in Stripes, i \in Idx : WriteShard(s, i)
    \/ \E s \in Stripes, i \in Idx, kind \in {Flipped, ReadError} :
         CorruptShard(s, i, kind)
    \/ \E d \in Devices : LoseDevice(d) \/ CrashRestart(d)
    \/ \E d \in Devices, k \in Keys : PurgeCopy(d, k)
    \/ StopFaults

Next ==
    \/ /\ Step
       /\ lastRepair' = Nil
    \/ \E s \in Stripes : RepairStripe(s)

(* Repair runs all the time (repair_pass on every step): weak fairness     *)
(* per stripe.  Nothing else needs to happen: writes, reads, deletes and   *)
(* faults may stop at any point.                                           *)
Fairness == \A s \in Stripes : WF_vars(RepairStripe(s))

Spec == Init /\ [][Next]_vars /\ Fairness

(* Stripes and devices are interchangeable.  Symmetry is sound for the     *)
(* safety invariants only; StripeDurability.cfg checks a liveness          *)
(* property too and therefore leaves it off.                               *)
Symmetry == Permutations(Stripes) \cup Permutations(Devices)

-----------------------------------------------------------------------------
(* Type invariant and two helpers (for local runs; not on CI's list,       *)
(* because they have no simulator checker).                                *)

TypeOK ==
    /\ life \in [Stripes -> {Unwritten, Writing, Live, InBin, Purged,
                             Abandoned}]
    /\ placement \in [Stripes -> [Idx -> Devices \cup {Nil}]]
    /\ written \in [Stripes -> SUBSET Idx]
    /\ lost \subseteq Devices
    /\ rec \in [Devices -> [Keys -> {NoEntry, Stored, Binned, Gone}]]
    /\ media \in [Devices -> [Keys -> {Intact, Flipped, ReadError}]]
    /\ sound \in [Devices -> [Keys -> BOOLEAN]]
    /\ hit \in [Stripes -> SUBSET Idx]
    /\ faulty \in BOOLEAN
    /\ badRead \in BOOLEAN
    /\ lastRepair \in {Nil} \cup [stripe : Stripes, index : Idx,
                                  goodBefore : SUBSET Idx]

(* The budget holds: no protected stripe has more than M bad shards. *)
FaultBudget == \A s \in Budgeted : Cardinality(hit[s]) <= M

(* The layer loses nothing by itself: every shard of a live stripe that    *)
(* no fault hit is good.  With FaultBudget this gives AckedStripeReadable  *)
(* (it is the inductive form of it).                                       *)
UnhitShardsGood ==
    \A s \in Stripes : life[s] = Live => Idx \ hit[s] \subseteq GoodIdx(s)

-----------------------------------------------------------------------------
(* The simulator's checkers (sim/stripe_sim.cpp, stripe_checker_names());  *)
(* keep the names identical.                                               *)

(* An acknowledged, not deleted stripe with at most M bad shards keeps at  *)
(* least K shards that read back with the right bytes, so a read decodes   *)
(* it (CD1; checker AckedStripeReadable: a read, a restore or a repair     *)
(* plan of such a stripe fails).                                           *)
AckedStripeReadable ==
    \A s \in Stripes :
        (life[s] = Live /\ Cardinality(hit[s]) <= M) =>
            Cardinality(GoodIdx(s)) >= K

(* No read ever returned bytes other than those written (SC1), and every   *)
(* record a device returns holds its shard's true bytes: the device never  *)
(* returns a damaged record (CD2) and repair writes exactly the shard      *)
(* (checker NoCorruptRead: a read, a scrub or a rebuild saw other bytes).  *)
NoCorruptRead ==
    /\ ~badRead
    /\ \A d \in Devices, k \in Keys : Readable(d, k) => sound[d][k]

(* A repair step discards no good copy the stripe needs: every shard that  *)
(* was good before it still is, and the rebuilt shard reads back through   *)
(* the switched metadata, so an old copy is retired only once its          *)
(* replacement is durable and in use (RP3; checker                         *)
(* RepairKeepsLastGoodCopy: good shards never fall across repair_stripe,   *)
(* and a rebuilt shard reads back before the old copy goes).               *)
RepairKeepsLastGoodCopy ==
    lastRepair # Nil =>
        lastRepair.goodBefore \cup {lastRepair.index}
            \subseteq GoodIdx(lastRepair.stripe)

(* No shard of a purged stripe is readable on any device that is still     *)
(* there, through any crash and recovery (CD3; checker                     *)
(* DeletedNeverResurrected, every step).                                   *)
DeletedNeverResurrected ==
    \A s \in Stripes :
        life[s] = Purged =>
            \A d \in Devices, i \in Idx : ~Readable(d, <<s, i>>)

(* Once faults have stopped, every acknowledged live stripe gets back all  *)
(* K + M shards good, unless it is deleted first (checker                  *)
(* RepairRestoresRedundancy, at the end of a run, after a third of the     *)
(* steps without faults).  Needs Fairness: a temporal property.            *)
RepairRestoresRedundancy ==
    \A s \in Stripes :
        (~faulty /\ life[s] = Live) ~> (life[s] # Live \/ FullRedundancy(s))

=============================================================================
