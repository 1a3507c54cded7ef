// actors/raft/codec.cpp — see codec.h.
#include "actors/raft/codec.h"

#include <cstring>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "schema/capnp_frames.h"
#include "schema/raft.capnp.h"

namespace cairn::raft {
namespace {

template <class List>
void put_ids(List list, const std::vector<node_id>& ids) {
  for (unsigned i = 0; i < ids.size(); ++i) list.set(i, ids[i].value);
}

template <class Reader>
std::vector<node_id> get_ids(Reader list) {
  std::vector<node_id> out;
  out.reserve(list.size());
  for (auto v : list) out.push_back(node_id{v});
  return out;
}

void put_conf(schema::ConfState::Builder b, const conf_state& cs) {
  put_ids(b.initVoters(static_cast<unsigned>(cs.voters.size())), cs.voters);
  put_ids(b.initVotersOutgoing(static_cast<unsigned>(cs.voters_outgoing.size())),
          cs.voters_outgoing);
  put_ids(b.initLearners(static_cast<unsigned>(cs.learners.size())), cs.learners);
  put_ids(b.initLearnersNext(static_cast<unsigned>(cs.learners_next.size())), cs.learners_next);
  b.setAutoLeave(cs.auto_leave);
}

conf_state get_conf(schema::ConfState::Reader r) {
  conf_state cs;
  cs.voters = get_ids(r.getVoters());
  cs.voters_outgoing = get_ids(r.getVotersOutgoing());
  cs.learners = get_ids(r.getLearners());
  cs.learners_next = get_ids(r.getLearnersNext());
  cs.auto_leave = r.getAutoLeave();
  return cs;
}

using schema::as_data;
using schema::to_flat_bytes;
using schema::to_std_string;

bool open_frame(const bytes& frame, schema::flat_frame& fr, std::string& why) {
  return fr.open(frame, frame_bytes_max, why);
}

}  // namespace

bytes encode_message(const message& m) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::Message>();
  b.setVersion(wire_version);
  b.setType(static_cast<std::uint8_t>(m.type));
  b.setFrom(m.from.value);
  b.setTo(m.to.value);
  b.setTerm(m.term.value);
  b.setLogTerm(m.log_term.value);
  b.setIndex(m.index.value);
  auto ents = b.initEntries(static_cast<unsigned>(m.entries.size()));
  for (unsigned i = 0; i < m.entries.size(); ++i) {
    const entry& e = m.entries[i];
    auto eb = ents[i];
    eb.setTerm(e.term.value);
    eb.setIndex(e.index.value);
    eb.setType(static_cast<std::uint8_t>(e.type));
    eb.setData(as_data(e.data));
  }
  b.setCommit(m.commit.value);
  b.setReject(m.reject);
  b.setRejectHint(m.reject_hint.value);
  b.setHintTerm(m.hint_term.value);
  b.setContext(as_data(m.context));
  if (m.snap) {
    b.setHasSnapshot(true);
    auto sb = b.initSnapshot();
    sb.setIndex(m.snap->metadata.index.value);
    sb.setTerm(m.snap->metadata.term.value);
    put_conf(sb.initConf(), m.snap->metadata.conf);
    sb.setData(as_data(m.snap->data));
  }
  return to_flat_bytes(mb);
}

std::variant<message, decode_error> decode_message(const bytes& frame) {
  schema::flat_frame fr;
  std::string why;
  try {
    if (!open_frame(frame, fr, why)) return decode_error{why};
    auto r = fr.reader->getRoot<schema::Message>();
    if (r.getVersion() != wire_version) return decode_error{"unsupported wire version"};
    if (r.getType() > message_type_max) return decode_error{"unknown message type"};
    message m;
    m.type = static_cast<message_type>(r.getType());
    m.from = node_id{r.getFrom()};
    m.to = node_id{r.getTo()};
    m.term = term_t{r.getTerm()};
    m.log_term = term_t{r.getLogTerm()};
    m.index = log_index{r.getIndex()};
    auto ents = r.getEntries();
    m.entries.reserve(ents.size());
    for (auto e : ents) {
      if (e.getType() > 1) return decode_error{"unknown entry type"};
      m.entries.push_back(entry{term_t{e.getTerm()}, log_index{e.getIndex()},
                                static_cast<entry_type>(e.getType()), to_std_string(e.getData())});
    }
    m.commit = log_index{r.getCommit()};
    m.reject = r.getReject();
    m.reject_hint = log_index{r.getRejectHint()};
    m.hint_term = term_t{r.getHintTerm()};
    m.context = to_std_string(r.getContext());
    if (r.getHasSnapshot()) {
      auto s = r.getSnapshot();
      snapshot snap;
      snap.metadata.index = log_index{s.getIndex()};
      snap.metadata.term = term_t{s.getTerm()};
      snap.metadata.conf = get_conf(s.getConf());
      snap.data = to_std_string(s.getData());
      m.snap = std::move(snap);
    }
    return m;
  } catch (const kj::Exception& e) {
    return decode_error{std::string("malformed frame: ") + e.getDescription().cStr()};
  }
}

bytes encode_conf_change(const conf_change& cc) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::ConfChange>();
  b.setVersion(wire_version);
  b.setTransition(static_cast<std::uint8_t>(cc.transition));
  auto list = b.initChanges(static_cast<unsigned>(cc.changes.size()));
  for (unsigned i = 0; i < cc.changes.size(); ++i) {
    list[i].setKind(static_cast<std::uint8_t>(cc.changes[i].kind));
    list[i].setNode(cc.changes[i].node.value);
  }
  b.setContext(as_data(cc.context));
  return to_flat_bytes(mb);
}

std::optional<conf_change> decode_conf_change(const bytes& data) {
  schema::flat_frame fr;
  std::string why;
  try {
    if (!open_frame(data, fr, why)) return std::nullopt;
    auto r = fr.reader->getRoot<schema::ConfChange>();
    if (r.getVersion() != wire_version) return std::nullopt;
    if (r.getTransition() > 2) return std::nullopt;
    conf_change cc;
    cc.transition = static_cast<conf_change_transition>(r.getTransition());
    for (auto c : r.getChanges()) {
      if (c.getKind() > 2) return std::nullopt;
      cc.changes.push_back(
          conf_change_single{static_cast<conf_change_kind>(c.getKind()), node_id{c.getNode()}});
    }
    cc.context = to_std_string(r.getContext());
    return cc;
  } catch (const kj::Exception&) {
    return std::nullopt;
  }
}

}  // namespace cairn::raft

namespace cairn::raft {

bytes encode_entry(const entry& e) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::Entry>();
  b.setTerm(e.term.value);
  b.setIndex(e.index.value);
  b.setType(static_cast<std::uint8_t>(e.type));
  b.setData(as_data(e.data));
  return to_flat_bytes(mb);
}

std::optional<entry> decode_entry(const bytes& data) {
  schema::flat_frame fr;
  std::string why;
  try {
    if (!open_frame(data, fr, why)) return std::nullopt;
    auto r = fr.reader->getRoot<schema::Entry>();
    if (r.getType() > 1) return std::nullopt;
    return entry{term_t{r.getTerm()}, log_index{r.getIndex()}, static_cast<entry_type>(r.getType()),
                 to_std_string(r.getData())};
  } catch (const kj::Exception&) {
    return std::nullopt;
  }
}

bytes encode_snapshot(const snapshot& s) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::Snapshot>();
  b.setIndex(s.metadata.index.value);
  b.setTerm(s.metadata.term.value);
  put_conf(b.initConf(), s.metadata.conf);
  b.setData(as_data(s.data));
  return to_flat_bytes(mb);
}

std::optional<snapshot> decode_snapshot(const bytes& data) {
  schema::flat_frame fr;
  std::string why;
  try {
    if (!open_frame(data, fr, why)) return std::nullopt;
    auto r = fr.reader->getRoot<schema::Snapshot>();
    snapshot s;
    s.metadata.index = log_index{r.getIndex()};
    s.metadata.term = term_t{r.getTerm()};
    s.metadata.conf = get_conf(r.getConf());
    s.data = to_std_string(r.getData());
    return s;
  } catch (const kj::Exception&) {
    return std::nullopt;
  }
}

}  // namespace cairn::raft
