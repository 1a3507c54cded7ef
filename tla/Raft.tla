------------------------------- MODULE Raft -------------------------------
(***************************************************************************)
(* tla/Raft.tla -- TLA+ specification of cairn's Raft as implemented in   *)
(* actors/raft (core.h, core.cpp, raft_log.cpp).                           *)
(*                                                                         *)
(* Owner: the Raft/verification team (tla/, tests/tla/).  Keep it in step  *)
(* with actors/raft: when the core changes a rule that matters for safety, *)
(* change the matching action here and say so in the commit.               *)
(*                                                                         *)
(* The invariants at the end carry EXACTLY the names of the checkers in    *)
(* sim/ (`cairn-sim --list-checkers`); tests/tla/check_specs.mjs fails CI  *)
(* if a name in Raft.cfg has no simulator checker.  See tla/README.md.     *)
(*                                                                         *)
(* Modelled: pre-vote, elections, AppendEntries with truncation of a       *)
(* conflicting suffix, commitment on a majority of DURABLE logs, a         *)
(* per-server durable index with Persist, crash/restart losing the         *)
(* non-durable suffix and the volatile state, check-quorum step-down, and  *)
(* a network that loses, duplicates and reorders messages.                 *)
(* Not modelled: snapshots/log compaction, membership changes (joint       *)
(* consensus, learners), ReadIndex/leases, leadership transfer other than  *)
(* as an immediate campaign, flow control (probe/replicate/in-flight),     *)
(* heartbeats as a separate message type.                                  *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, TLC

CONSTANTS
    Server,     \* the replicas of one Raft group (model values)
    Value,      \* client payloads (model values)
    MaxTerm,    \* TLC bound: no server campaigns beyond this term
    MaxLogLen,  \* TLC bound: no leader appends beyond this log length
    Nil         \* model value: "no vote" and the payload of a no-op entry

ASSUME /\ Server # {}
       /\ MaxTerm \in Nat
       /\ MaxLogLen \in Nat
       /\ Nil \notin Server
       /\ Nil \notin Value

(* Roles, as `enum class role` in actors/raft/types.h. *)
Follower     == "Follower"
PreCandidate == "PreCandidate"
Candidate    == "Candidate"
Leader       == "Leader"

(* Message types, as `enum class message_type` in actors/raft/types.h.     *)
(* heartbeat(_response) is covered by an AppendRequest without entries;   *)
(* install_snapshot, timeout_now, read_index and forwarding are not        *)
(* modelled.                                                               *)
PreVoteRequest   == "PreVoteRequest"    \* message_type::pre_vote
PreVoteResponse  == "PreVoteResponse"   \* message_type::pre_vote_response
VoteRequest      == "VoteRequest"       \* message_type::vote
VoteResponse     == "VoteResponse"      \* message_type::vote_response
AppendRequest    == "AppendRequest"     \* message_type::append
AppendResponse   == "AppendResponse"    \* message_type::append_response

-----------------------------------------------------------------------------
(* State of each replica *)

VARIABLES
    currentTerm,  \* hard_state.term: survives a crash
    votedFor,     \* hard_state.vote: survives a crash (Nil = none)
    role,         \* soft_state.state: volatile
    log,          \* raft_log entries in memory: a sequence of [term, value]
    durable,      \* raft_log::persisted(): log[i][1..durable[i]] is on disk
    commitIndex,  \* raft_log::committed(): volatile in this model
    lastApplied,  \* raft_log::applied(): volatile
    votes,        \* progress_tracker votes: who granted (pre-)votes to i
    matchIndex,   \* progress.match on a leader, per follower
    pending       \* outbound messages waiting for durability, per sender:
                  \* pairs <<wait_for_persisted_index, message>>

(* The network *)

VARIABLE msgs   \* a set: a sent message can be delivered any number of
                \* times (duplication), in any order (reordering), or be
                \* dropped (loss, DropMessage)

(* History variables: they only record the past, never influence a step,  *)
(* and exist so that every invariant is a plain state predicate.          *)

VARIABLES
    prevTerm,      \* currentTerm in the previous state
    prevCommit,    \* commitIndex in the previous state (0 after a crash)
    leaderLogs,    \* leaderLogs[t]: log of the leader of term t in the
                   \* previous state in which it was leader (<<>> before)
    leaderHist,    \* set of <<term, server>>: every leader ever seen
    committedHist  \* set of <<index, entry, term>>: every entry ever
                   \* committed by some server, with the current term of
                   \* the first server seen committing it

serverVars  == <<currentTerm, votedFor, role, log, durable, commitIndex,
                 lastApplied, votes, matchIndex, pending>>
historyVars == <<prevTerm, prevCommit, leaderLogs, leaderHist, committedHist>>
vars        == <<serverVars, msgs, historyVars>>

-----------------------------------------------------------------------------
(* Helpers *)

Min(a, b) == IF a < b THEN a ELSE b
Max(a, b) == IF a > b THEN a ELSE b
MaxOf(S)  == CHOOSE x \in S : \A y \in S : y <= x
MinOf(S)  == CHOOSE x \in S : \A y \in S : x <= y

(* A majority of the (fixed) voters: quorum.h's majority_config. *)
IsQuorum(S) == 2 * Cardinality(S) > Cardinality(Server)
Quorum      == {Q \in SUBSET Server : IsQuorum(Q)}

LastTerm(l) == IF Len(l) = 0 THEN 0 ELSE l[Len(l)].term

IsPrefix(a, b) == Len(a) <= Len(b) /\ a = SubSeq(b, 1, Len(a))

(* raft_log::is_up_to_date: the candidate's (last term, last index) is at *)
(* least as up to date as the voter's in-memory log (Raft 5.4.1).         *)
UpToDate(lastTerm, lastIndex, l) ==
    \/ lastTerm > LastTerm(l)
    \/ /\ lastTerm = LastTerm(l)
       /\ lastIndex >= Len(l)

(* core::send: messages from a leader (append) leave at once.  Every other *)
(* message (responses, vote requests) is tagged with                      *)
(* wait_for_persisted_index = last_index and wait_for_hard_state, so it    *)
(* leaves only once the sender's whole log is durable.  The hard state     *)
(* (term, vote) is modelled as written atomically with the step.          *)
SendNow(M) == /\ msgs' = msgs \cup M
              /\ UNCHANGED pending

SendAfterPersist(i, M) ==
    IF durable[i] >= Len(log[i])
    THEN /\ msgs' = msgs \cup M
         /\ UNCHANGED pending
    ELSE /\ pending' = [pending EXCEPT ![i] = @ \cup {<<Len(log[i]), m>> : m \in M}]
         /\ UNCHANGED msgs

-----------------------------------------------------------------------------
(* Initial state: a fresh group, every log empty. *)

Init ==
    /\ currentTerm = [i \in Server |-> 0]
    /\ votedFor    = [i \in Server |-> Nil]
    /\ role        = [i \in Server |-> Follower]
    /\ log         = [i \in Server |-> << >>]
    /\ durable     = [i \in Server |-> 0]
    /\ commitIndex = [i \in Server |-> 0]
    /\ lastApplied = [i \in Server |-> 0]
    /\ votes       = [i \in Server |-> {}]
    /\ matchIndex  = [i \in Server |-> [j \in Server |-> 0]]
    /\ pending     = [i \in Server |-> {}]
    /\ msgs        = {}
    /\ prevTerm      = [i \in Server |-> 0]
    /\ prevCommit    = [i \in Server |-> 0]
    /\ leaderLogs    = [t \in 1..MaxTerm |-> << >>]
    /\ leaderHist    = {}
    /\ committedHist = {}

-----------------------------------------------------------------------------
(* Elections *)

(* tick_election -> hup(pre_election) -> become_pre_candidate: the term    *)
(* and the vote stay as they are (thesis 9.6); the pre-vote asks for       *)
(* term + 1.  Check-quorum's leader lease (leader stickiness) only makes   *)
(* voters refuse more often; it is not modelled, so the model allows more  *)
(* behaviours than the code.                                               *)
Timeout(i) ==
    /\ role[i] # Leader
    /\ currentTerm[i] < MaxTerm
    /\ role'  = [role EXCEPT ![i] = PreCandidate]
    /\ votes' = [votes EXCEPT ![i] = {i}]
    /\ SendAfterPersist(i,
         {[mtype         |-> PreVoteRequest,
           mterm         |-> currentTerm[i] + 1,
           mlastLogTerm  |-> LastTerm(log[i]),
           mlastLogIndex |-> Len(log[i]),
           msource       |-> i,
           mdest         |-> j] : j \in Server \ {i}})
    /\ UNCHANGED <<currentTerm, votedFor, log, durable, commitIndex,
                   lastApplied, matchIndex>>

(* become_candidate + run_campaign(election): bump the term, vote for     *)
(* oneself, ask every other voter.                                         *)
BecomeCandidate(i) ==
    /\ currentTerm[i] < MaxTerm
    /\ currentTerm' = [currentTerm EXCEPT ![i] = @ + 1]
    /\ votedFor'    = [votedFor EXCEPT ![i] = i]
    /\ role'        = [role EXCEPT ![i] = Candidate]
    /\ votes'       = [votes EXCEPT ![i] = {i}]
    /\ SendAfterPersist(i,
         {[mtype         |-> VoteRequest,
           mterm         |-> currentTerm[i] + 1,
           mlastLogTerm  |-> LastTerm(log[i]),
           mlastLogIndex |-> Len(log[i]),
           msource       |-> i,
           mdest         |-> j] : j \in Server \ {i}})
    /\ UNCHANGED <<log, durable, commitIndex, lastApplied, matchIndex>>

(* step_candidate: the pre-vote was won by a majority: campaign for real. *)
PreVoteWon(i) ==
    /\ role[i] = PreCandidate
    /\ IsQuorum(votes[i])
    /\ BecomeCandidate(i)

(* core::campaign() and timeout_now (leadership transfer) skip the        *)
(* pre-vote.                                                               *)
Campaign(i) ==
    /\ role[i] # Leader
    /\ BecomeCandidate(i)

(* step_candidate: a majority voted: become_leader appends an empty entry *)
(* of the new term (5.4.2), unless the model's log bound is reached.       *)
BecomeLeader(i) ==
    /\ role[i] = Candidate
    /\ IsQuorum(votes[i])
    /\ role'       = [role EXCEPT ![i] = Leader]
    /\ votes'      = [votes EXCEPT ![i] = {}]
    /\ matchIndex' = [matchIndex EXCEPT ![i] = [j \in Server |-> 0]]
    /\ log' = IF Len(log[i]) < MaxLogLen
              THEN [log EXCEPT ![i] = Append(@, [term |-> currentTerm[i], value |-> Nil])]
              ELSE log
    /\ UNCHANGED <<currentTerm, votedFor, durable, commitIndex, lastApplied,
                   msgs, pending>>

(* tick_heartbeat with check_quorum: a leader that did not hear from a    *)
(* majority steps down in its own term.  Time is not modelled, so a       *)
(* leader may step down at any moment.                                     *)
StepDown(i) ==
    /\ role[i] = Leader
    /\ role' = [role EXCEPT ![i] = Follower]
    /\ UNCHANGED <<currentTerm, votedFor, log, durable, commitIndex,
                   lastApplied, votes, matchIndex, msgs, pending>>

-----------------------------------------------------------------------------
(* Leader: proposals, replication, commitment *)

(* propose -> leader_propose: append to the in-memory log (not yet        *)
(* durable).                                                               *)
ClientRequest(i, v) ==
    /\ role[i] = Leader
    /\ Len(log[i]) < MaxLogLen
    /\ log' = [log EXCEPT ![i] = Append(@, [term |-> currentTerm[i], value |-> v])]
    /\ UNCHANGED <<currentTerm, votedFor, role, durable, commitIndex,
                   lastApplied, votes, matchIndex, msgs, pending>>

(* maybe_send_append: the leader sends the entries after some prevIndex.  *)
(* Any prevIndex may be chosen: this over-approximates probing, reject    *)
(* hints, pipelining, batching and in-flight limits, none of which matter *)
(* for safety.  Entries need not be durable on the leader yet.             *)
AppendEntries(i, j) ==
    /\ role[i] = Leader
    /\ j # i
    /\ \E prev \in 0..Len(log[i]) :
         SendNow({[mtype         |-> AppendRequest,
                   mterm         |-> currentTerm[i],
                   mprevLogIndex |-> prev,
                   mprevLogTerm  |-> IF prev = 0 THEN 0 ELSE log[i][prev].term,
                   mentries      |-> SubSeq(log[i], prev + 1, Len(log[i])),
                   mcommit       |-> commitIndex[i],
                   msource       |-> i,
                   mdest         |-> j]})
    /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, commitIndex,
                   lastApplied, votes, matchIndex>>

(* maybe_commit: the leader's own vote is its DURABLE index (advance()    *)
(* updates self.match to persisted()), a follower's is its match, which   *)
(* it reported only after persisting.  Only an entry of the leader's own  *)
(* term is committed by counting (5.4.2); earlier ones follow.             *)
AdvanceCommitIndex(i) ==
    LET Agree(n) == {k \in Server : IF k = i THEN durable[i] >= n
                                              ELSE matchIndex[i][k] >= n}
        ok       == {n \in 1..Len(log[i]) : /\ IsQuorum(Agree(n))
                                            /\ log[i][n].term = currentTerm[i]}
    IN /\ role[i] = Leader
       /\ ok # {}
       /\ MaxOf(ok) > commitIndex[i]
       /\ commitIndex' = [commitIndex EXCEPT ![i] = MaxOf(ok)]
       /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, lastApplied,
                      votes, matchIndex, msgs, pending>>

-----------------------------------------------------------------------------
(* Disk and crashes *)

(* The host persists the Ready (entries, hard state, fsync) and then      *)
(* sends the messages that waited for it.  A truncated suffix never gets  *)
(* here with its waiting messages: see HandleAppend.                       *)
Persist(i) ==
    /\ durable[i] < Len(log[i]) \/ pending[i] # {}
    /\ durable' = [durable EXCEPT ![i] = Len(log[i])]
    /\ msgs'    = msgs \cup {p[2] : p \in pending[i]}
    /\ pending' = [pending EXCEPT ![i] = {}]
    /\ UNCHANGED <<currentTerm, votedFor, role, log, commitIndex, lastApplied,
                   votes, matchIndex>>

(* Crash and restart (restored_state): the log comes back as far as it    *)
(* was durable, term and vote survive, everything else is volatile:       *)
(* role, commit and applied index, votes, progress, unsent messages.      *)
(* (The core also restores hard_state.commit; starting from 0 is the      *)
(* weaker assumption.)                                                     *)
Restart(i) ==
    /\ role'        = [role EXCEPT ![i] = Follower]
    /\ log'         = [log EXCEPT ![i] = SubSeq(@, 1, durable[i])]
    /\ commitIndex' = [commitIndex EXCEPT ![i] = 0]
    /\ lastApplied' = [lastApplied EXCEPT ![i] = 0]
    /\ votes'       = [votes EXCEPT ![i] = {}]
    /\ matchIndex'  = [matchIndex EXCEPT ![i] = [j \in Server |-> 0]]
    /\ pending'     = [pending EXCEPT ![i] = {}]
    /\ UNCHANGED <<currentTerm, votedFor, durable, msgs>>

(* advance(): committed entries are handed to the state machine in order. *)
Apply(i) ==
    /\ lastApplied[i] < commitIndex[i]
    /\ lastApplied' = [lastApplied EXCEPT ![i] = @ + 1]
    /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, commitIndex,
                   votes, matchIndex, msgs, pending>>

-----------------------------------------------------------------------------
(* Receiving messages (core::step).  A message stays in `msgs` after it   *)
(* is handled, so it may be handled again: duplication.                    *)

(* step_checked: a message with a higher term makes the receiver a        *)
(* follower of that term with no vote, except a pre-vote request and a    *)
(* granted pre-vote response, which never change a term.  The message is *)
(* handled afterwards at the (now equal) term.                             *)
UpdateTerm(m) ==
    LET i == m.mdest IN
    /\ m.mterm > currentTerm[i]
    /\ m.mtype # PreVoteRequest
    /\ ~(m.mtype = PreVoteResponse /\ m.mgranted)
    /\ currentTerm' = [currentTerm EXCEPT ![i] = m.mterm]
    /\ votedFor'    = [votedFor EXCEPT ![i] = Nil]
    /\ role'        = [role EXCEPT ![i] = Follower]
    /\ votes'       = [votes EXCEPT ![i] = {}]
    /\ UNCHANGED <<log, durable, commitIndex, lastApplied, matchIndex,
                   msgs, pending>>

(* handle_vote_request for a pre-vote.  A stale pre-vote (term below ours) *)
(* is rejected with our term.  Otherwise grant if the candidate's log is  *)
(* up to date and either the asked-for term (our term + 1 for a live      *)
(* pre-candidate) is above ours or we could vote for it in this term.     *)
(* A grant carries the asked-for term; the voter's state does not change. *)
HandlePreVote(m) ==
    LET i     == m.mdest
        j     == m.msource
        grant == /\ m.mterm >= currentTerm[i]
                 /\ \/ m.mterm > currentTerm[i]
                    \/ votedFor[i] \in {Nil, j}
                 /\ UpToDate(m.mlastLogTerm, m.mlastLogIndex, log[i])
    IN /\ m.mtype = PreVoteRequest
       /\ SendAfterPersist(i,
            {[mtype    |-> PreVoteResponse,
              mterm    |-> IF grant THEN m.mterm ELSE currentTerm[i],
              mgranted |-> grant,
              msource  |-> i,
              mdest    |-> j]})
       /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, commitIndex,
                      lastApplied, votes, matchIndex>>

(* step_candidate (pre-candidate): count a granted pre-vote.  Rejections  *)
(* are not counted: a pre-candidate that loses simply times out again,    *)
(* which allows the same behaviours for safety.                            *)
HandlePreVoteResponse(m) ==
    LET i == m.mdest IN
    /\ m.mtype = PreVoteResponse
    /\ m.mgranted
    /\ m.mterm >= currentTerm[i]
    /\ role[i] = PreCandidate
    /\ votes' = [votes EXCEPT ![i] = @ \cup {m.msource}]
    /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, commitIndex,
                   lastApplied, matchIndex, msgs, pending>>

(* handle_vote_request for a vote of our term: one vote per term (the vote *)
(* is durable before the response leaves) and the up-to-date check.       *)
(* Stale vote requests are ignored.                                        *)
HandleVote(m) ==
    LET i     == m.mdest
        j     == m.msource
        grant == /\ votedFor[i] \in {Nil, j}
                 /\ UpToDate(m.mlastLogTerm, m.mlastLogIndex, log[i])
    IN /\ m.mtype = VoteRequest
       /\ m.mterm = currentTerm[i]
       /\ votedFor' = [votedFor EXCEPT ![i] = IF grant THEN j ELSE @]
       /\ SendAfterPersist(i,
            {[mtype    |-> VoteResponse,
              mterm    |-> currentTerm[i],
              mgranted |-> grant,
              msource  |-> i,
              mdest    |-> j]})
       /\ UNCHANGED <<currentTerm, role, log, durable, commitIndex,
                      lastApplied, votes, matchIndex>>

HandleVoteResponse(m) ==
    LET i == m.mdest IN
    /\ m.mtype = VoteResponse
    /\ m.mterm = currentTerm[i]
    /\ m.mgranted
    /\ role[i] = Candidate
    /\ votes' = [votes EXCEPT ![i] = @ \cup {m.msource}]
    /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, commitIndex,
                   lastApplied, matchIndex, msgs, pending>>

(* handle_append + raft_log::maybe_append, at the leader's term (a        *)
(* (pre-)candidate becomes a follower first).                              *)
(*  - prevIndex below our commit index: answer with the commit index.     *)
(*  - prev entry matches: skip entries we already hold, truncate the      *)
(*    suffix from the first conflicting one (durable drops with it),      *)
(*    append the rest, commit up to min(leader commit, last new index),   *)
(*    answer "matched up to the last new index" once the log is durable.  *)
(*  - otherwise reject.                                                    *)
(* Pending responses that waited for a truncated entry are dropped: a     *)
(* real host sends them right after persisting their own Ready, before it *)
(* handles the next one, which the model covers by Persist happening      *)
(* first; dropping them here is then just message loss.                    *)
HandleAppend(m) ==
    LET i         == m.mdest
        j         == m.msource
        prev      == m.mprevLogIndex
        ents      == m.mentries
        logOK     == \/ prev = 0
                     \/ /\ prev <= Len(log[i])
                        /\ log[i][prev].term = m.mprevLogTerm
        conflicts == {k \in 1..Len(ents) :
                        \/ prev + k > Len(log[i])
                        \/ log[i][prev + k].term # ents[k].term}
        first     == MinOf(conflicts)
        newLog    == IF conflicts = {}
                     THEN log[i]
                     ELSE SubSeq(log[i], 1, prev + first - 1)
                            \o SubSeq(ents, first, Len(ents))
        truncated == conflicts # {} /\ prev + first <= Len(log[i])
        newDur    == IF truncated THEN Min(durable[i], prev + first - 1)
                                  ELSE durable[i]
        kept      == IF truncated THEN {p \in pending[i] : p[1] < prev + first}
                                  ELSE pending[i]
        lastNew   == prev + Len(ents)
        accept    == [mtype       |-> AppendResponse,
                      mterm       |-> currentTerm[i],
                      msuccess    |-> TRUE,
                      mmatchIndex |-> lastNew,
                      msource     |-> i,
                      mdest       |-> j]
    IN /\ m.mtype = AppendRequest
       /\ m.mterm = currentTerm[i]
       /\ role[i] # Leader
       /\ role'  = [role EXCEPT ![i] = Follower]
       /\ votes' = [votes EXCEPT ![i] = {}]
       /\ \/ /\ prev < commitIndex[i]
             /\ SendAfterPersist(i,
                  {[mtype       |-> AppendResponse,
                    mterm       |-> currentTerm[i],
                    msuccess    |-> TRUE,
                    mmatchIndex |-> commitIndex[i],
                    msource     |-> i,
                    mdest       |-> j]})
             /\ UNCHANGED <<log, durable, commitIndex>>
          \/ /\ prev >= commitIndex[i]
             /\ logOK
             /\ log'         = [log EXCEPT ![i] = newLog]
             /\ durable'     = [durable EXCEPT ![i] = newDur]
             /\ commitIndex' = [commitIndex EXCEPT ![i] = Max(@, Min(m.mcommit, lastNew))]
             /\ IF newDur >= Len(newLog)
                THEN /\ msgs'    = msgs \cup {accept}
                     /\ pending' = [pending EXCEPT ![i] = kept]
                ELSE /\ msgs'    = msgs
                     /\ pending' = [pending EXCEPT ![i] = kept \cup {<<Len(newLog), accept>>}]
          \/ /\ prev >= commitIndex[i]
             /\ ~logOK
             /\ SendAfterPersist(i,
                  {[mtype       |-> AppendResponse,
                    mterm       |-> currentTerm[i],
                    msuccess    |-> FALSE,
                    mmatchIndex |-> prev,
                    msource     |-> i,
                    mdest       |-> j]})
             /\ UNCHANGED <<log, durable, commitIndex>>
       /\ UNCHANGED <<currentTerm, votedFor, lastApplied, matchIndex>>

(* step_checked: an append from a stale leader is answered with our term  *)
(* so that the stale leader steps down (the code leaves `reject` false    *)
(* and index 0; the leader only looks at the term).                        *)
HandleStaleAppend(m) ==
    LET i == m.mdest IN
    /\ m.mtype = AppendRequest
    /\ m.mterm < currentTerm[i]
    /\ SendAfterPersist(i,
         {[mtype       |-> AppendResponse,
           mterm       |-> currentTerm[i],
           msuccess    |-> FALSE,
           mmatchIndex |-> 0,
           msource     |-> i,
           mdest       |-> m.msource]})
    /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, commitIndex,
                   lastApplied, votes, matchIndex>>

(* leader_append_response: progress.maybe_update only raises match.      *)
(* Rejections only steer nextIndex, which the model does not keep.        *)
(* Host contract: a leader sends new entries before they are durable      *)
(* (step 1 of `ready` may overlap step 2), but the host steps no message  *)
(* into the core before it has persisted and advance()d that Ready.  So a *)
(* follower's acknowledgement of index n is handled only once n is        *)
(* durable on the leader: this is what keeps R3 (committed <= persisted   *)
(* on a leader) true.  A host that steps messages while its own write is  *)
(* in flight would break R3 (not safety: the entry is still durable on a  *)
(* majority).                                                              *)
HandleAppendResponse(m) ==
    LET i == m.mdest IN
    /\ m.mtype = AppendResponse
    /\ m.mterm = currentTerm[i]
    /\ role[i] = Leader
    /\ m.msuccess
    /\ m.mmatchIndex <= durable[i]
    /\ matchIndex' = [matchIndex EXCEPT ![i][m.msource] = Max(@, m.mmatchIndex)]
    /\ UNCHANGED <<currentTerm, votedFor, role, log, durable, commitIndex,
                   lastApplied, votes, msgs, pending>>

Receive(m) ==
    \/ UpdateTerm(m)
    \/ HandlePreVote(m)
    \/ HandlePreVoteResponse(m)
    \/ HandleVote(m)
    \/ HandleVoteResponse(m)
    \/ HandleAppend(m)
    \/ HandleStaleAppend(m)
    \/ HandleAppendResponse(m)

(* The network loses a message. *)
DropMessage(m) ==
    /\ msgs' = msgs \ {m}
    /\ UNCHANGED serverVars

-----------------------------------------------------------------------------
(* Next state *)

(* Entries each server currently considers committed, with its term. *)
CommittedNow ==
    UNION {{<<n, log[s][n], currentTerm[s]>> :
                n \in 1..Min(commitIndex[s], Len(log[s]))} : s \in Server}

Step ==
    \/ \E i \in Server :
         \/ Timeout(i)
         \/ PreVoteWon(i)
         \/ Campaign(i)
         \/ BecomeLeader(i)
         \/ StepDown(i)
         \/ AdvanceCommitIndex(i)
         \/ Persist(i)
         \/ Apply(i)
    \/ \E i \in Server, v \in Value : ClientRequest(i, v)
    \/ \E i, j \in Server : AppendEntries(i, j)
    \/ \E m \in msgs : Receive(m) \/ DropMessage(m)

UpdateHistory ==
    /\ prevTerm' = currentTerm
    /\ leaderLogs' = [t \in 1..MaxTerm |->
                        IF \E s \in Server : role[s] = Leader /\ currentTerm[s] = t
                        THEN log[CHOOSE s \in Server : role[s] = Leader /\ currentTerm[s] = t]
                        ELSE leaderLogs[t]]
    /\ leaderHist' = leaderHist \cup
                       {<<currentTerm'[s], s>> : s \in {k \in Server : role'[k] = Leader}}
    /\ committedHist' = committedHist \cup
                          {c \in CommittedNow' :
                             ~\E d \in committedHist : d[1] = c[1] /\ d[2] = c[2]}

(* The commit index is volatile: a crash, and only a crash, may lower it. *)
Next ==
    /\ \/ /\ Step
          /\ prevCommit' = commitIndex
       \/ \E i \in Server :
            /\ Restart(i)
            /\ prevCommit' = [commitIndex EXCEPT ![i] = 0]
    /\ UpdateHistory

Spec == Init /\ [][Next]_vars

(* Servers are interchangeable: TLC may use SYMMETRY Symmetry. *)
Symmetry == Permutations(Server)

-----------------------------------------------------------------------------
(* Type invariant (for local runs; not on CI's INVARIANT list because it  *)
(* has no simulator checker).                                              *)

Entry == [term : 1..MaxTerm, value : Value \cup {Nil}]

TypeOK ==
    /\ currentTerm \in [Server -> 0..MaxTerm]
    /\ votedFor \in [Server -> Server \cup {Nil}]
    /\ role \in [Server -> {Follower, PreCandidate, Candidate, Leader}]
    /\ \A i \in Server : /\ Len(log[i]) <= MaxLogLen
                         /\ \A n \in 1..Len(log[i]) : log[i][n] \in Entry
    /\ \A i \in Server : durable[i] <= Len(log[i])
    /\ votes \in [Server -> SUBSET Server]
    /\ matchIndex \in [Server -> [Server -> 0..MaxLogLen]]

-----------------------------------------------------------------------------
(* Safety invariants.  The names are those of the simulator's checkers    *)
(* (sim/, `cairn-sim --list-checkers`); keep them identical.               *)

(* At most one leader per term, ever. *)
ElectionSafety ==
    \A x, y \in leaderHist : x[1] = y[1] => x[2] = y[2]

(* A leader never removes or changes an entry of its log while it leads:  *)
(* its log in the previous state is a prefix of its log now.              *)
LeaderAppendOnly ==
    \A i \in Server :
        role[i] = Leader => IsPrefix(leaderLogs[currentTerm[i]], log[i])

(* Two logs with an entry of the same index and term are identical up to *)
(* that index.                                                             *)
LogMatching ==
    \A i, j \in Server :
        \A n \in 1..Min(Len(log[i]), Len(log[j])) :
            log[i][n].term = log[j][n].term =>
                SubSeq(log[i], 1, n) = SubSeq(log[j], 1, n)

(* Every entry committed by term t is in the log of every leader of a     *)
(* term >= t.                                                              *)
LeaderCompleteness ==
    \A i \in Server :
        role[i] = Leader =>
            \A c \in committedHist :
                c[3] <= currentTerm[i] =>
                    /\ c[1] <= Len(log[i])
                    /\ log[i][c[1]] = c[2]

(* No two different entries are ever committed at one index, and no two  *)
(* servers apply different entries at one index.                           *)
StateMachineSafety ==
    /\ \A c, d \in committedHist : c[1] = d[1] => c[2] = d[2]
    /\ \A i, j \in Server :
         \A n \in 1..Min(lastApplied[i], lastApplied[j]) :
             /\ n <= Len(log[i])
             /\ n <= Len(log[j])
             /\ log[i][n] = log[j][n]

(* Every entry a server considers committed is durable (and the same) on  *)
(* a majority.                                                             *)
CommittedIsDurable ==
    \A s \in Server :
        \A n \in 1..commitIndex[s] :
            \E Q \in Quorum :
                \A q \in Q :
                    /\ n <= Len(log[s])
                    /\ n <= durable[q]
                    /\ n <= Len(log[q])
                    /\ log[q][n] = log[s][n]

(* Terms never decrease, not even across a crash. *)
MonotonicTerm ==
    \A i \in Server : currentTerm[i] >= prevTerm[i]

(* A server's commit index only falls when it crashes, and what was once  *)
(* committed stays committed: every entry ever committed is still durable *)
(* on a majority, so the set of committed (index, entry) never shrinks    *)
(* even if every server crashes.                                           *)
MonotonicCommit ==
    /\ \A i \in Server : commitIndex[i] >= prevCommit[i]
    /\ \A c \in committedHist :
         \E Q \in Quorum :
             \A q \in Q :
                 /\ c[1] <= durable[q]
                 /\ c[1] <= Len(log[q])
                 /\ log[q][c[1]] = c[2]

(* applied <= committed <= log length on every server, and on a leader    *)
(* committed <= durable (R3 in core.h).                                    *)
AppliedLeqCommittedLeqDurable ==
    \A i \in Server :
        /\ lastApplied[i] <= commitIndex[i]
        /\ commitIndex[i] <= Len(log[i])
        /\ role[i] = Leader => commitIndex[i] <= durable[i]

=============================================================================
