// runtime/remote_devices.cpp — see remote_devices.h.
#include "runtime/remote_devices.h"

#include <spdlog/spdlog.h>

#include "actors/chunk/device_actor.h"
#include "actors/chunk/device_store.h"
#include "runtime/transport.h"

namespace cairn::runtime {

namespace {

using reply_atom = caf::atom_constant<caf::atom("rdreply")>;
using expire_atom = caf::atom_constant<caf::atom("rdexpire")>;
using peer_down_atom = caf::atom_constant<caf::atom("rddown")>;
using serve_atom = caf::atom_constant<caf::atom("rdserve")>;

struct proxy_state {
  struct pending {
    chunk_op op;
    caf::response_promise promise;
  };
  std::uint64_t device = 0;
  chunk_sender send;
  remote_devices_options options;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, pending> in_flight;
  static const char* name;
};
const char* proxy_state::name = "remote_device";

using proxy_ptr = caf::stateful_actor<proxy_state>*;

caf::error unreachable() {
  return caf::make_error(caf::sec::request_receiver_down);
}

/// Sends one request; the promise is kept until the answer, the peer going
/// down or the timeout (RD1), or refused now (N5, RD2).
caf::response_promise ask(proxy_ptr self, chunk_request req) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (st.in_flight.size() >= st.options.pending_max) {
    rp.deliver(unreachable());
    return rp;
  }
  req.id = st.next_id++;
  req.device = st.device;
  const auto id = req.id;
  const auto op = req.op;
  if (!st.send(std::move(req))) {
    rp.deliver(unreachable());
    return rp;
  }
  st.in_flight.emplace(id, proxy_state::pending{op, rp});
  self->delayed_send(self, st.options.timeout, expire_atom::value, id);
  return rp;
}

void answer(proxy_state::pending& p, std::uint8_t status, std::string& payload,
            std::uint64_t epoch) {
  switch (p.op) {
    case chunk_op::get:
      p.promise.deliver(status, std::move(payload), epoch);
      break;
    case chunk_op::list:
      p.promise.deliver(std::move(payload));
      break;
    default:
      p.promise.deliver(status);
  }
}

caf::behavior remote_device_proxy(proxy_ptr self, std::uint64_t device, chunk_sender send,
                                  remote_devices_options options) {
  self->state.device = device;
  self->state.send = std::move(send);
  self->state.options = options;
  auto fail_all = [self] {
    for (auto& [id, p] : self->state.in_flight) p.promise.deliver(unreachable());
    self->state.in_flight.clear();
  };
  return {
      [self](chunk::put_atom, std::string& key, std::uint64_t epoch, std::string& payload) {
        chunk_request r;
        r.op = chunk_op::put;
        r.key = std::move(key);
        r.epoch = epoch;
        r.payload = std::move(payload);
        return ask(self, std::move(r));
      },
      [self](chunk::get_atom, std::string& key) {
        chunk_request r;
        r.op = chunk_op::get;
        r.key = std::move(key);
        return ask(self, std::move(r));
      },
      [self](chunk::delete_atom, std::string& key) {
        chunk_request r;
        r.op = chunk_op::remove;
        r.key = std::move(key);
        return ask(self, std::move(r));
      },
      [self](chunk::restore_atom, std::string& key) {
        chunk_request r;
        r.op = chunk_op::restore;
        r.key = std::move(key);
        return ask(self, std::move(r));
      },
      [self](chunk::stat_atom, std::string& key) {
        chunk_request r;
        r.op = chunk_op::stat;
        r.key = std::move(key);
        return ask(self, std::move(r));
      },
      [self](chunk::list_atom, std::string& after, std::uint32_t max) {
        chunk_request r;
        r.op = chunk_op::list;
        r.key = std::move(after);
        r.limit = max;
        return ask(self, std::move(r));
      },
      [self](reply_atom, std::uint64_t id, std::uint8_t status, std::string& payload,
             std::uint64_t epoch) {
        auto it = self->state.in_flight.find(id);
        if (it == self->state.in_flight.end()) return;  // expired (RD1)
        answer(it->second, status, payload, epoch);
        self->state.in_flight.erase(it);
      },
      [self](expire_atom, std::uint64_t id) {
        auto it = self->state.in_flight.find(id);
        if (it == self->state.in_flight.end()) return;
        it->second.promise.deliver(caf::make_error(caf::sec::request_timeout));
        self->state.in_flight.erase(it);
      },
      [fail_all](peer_down_atom) { fail_all(); },
  };
}

/// The answering side of the node transport: hands requests to local
/// device actors and their answers back to the asker (one actor per node;
/// it never blocks).
caf::behavior chunk_bridge(caf::event_based_actor* self, transport* net,
                           std::function<caf::actor(std::uint64_t)> local_device,
                           std::chrono::milliseconds timeout) {
  return {
      [=](serve_atom, std::uint64_t from, std::uint64_t id, std::uint64_t device, std::uint8_t op,
          std::string& key, std::uint64_t epoch, std::string& payload, std::uint32_t limit) {
        chunk_request r;
        r.id = id;
        r.device = device;
        r.op = static_cast<chunk_op>(op);
        r.key = std::move(key);
        r.epoch = epoch;
        r.payload = std::move(payload);
        r.limit = limit;
        // Refused (queue full, peer gone): the asker times out or fails on
        // peer-down (RD1).
        serve_chunk_request(
            self, local_device(device), std::move(r),
            [net, from](chunk_reply reply) { net->send_chunk_reply(from, std::move(reply)); },
            timeout);
      },
  };
}

}  // namespace

caf::actor spawn_device_proxy(caf::actor_system& sys, std::uint64_t device, chunk_sender send,
                              remote_devices_options options) {
  return sys.spawn(remote_device_proxy, device, std::move(send), options);
}

void deliver_chunk_reply(const caf::actor& proxy, chunk_reply&& r) {
  caf::anon_send(proxy, reply_atom::value, r.id, r.status, std::move(r.payload), r.epoch);
}

void fail_pending_chunk_requests(const caf::actor& proxy) {
  caf::anon_send(proxy, peer_down_atom::value);
}

void serve_chunk_request(caf::event_based_actor* self, const caf::actor& target, chunk_request&& r,
                         std::function<void(chunk_reply)> send_back,
                         std::chrono::milliseconds timeout) {
  chunk_reply base;
  base.id = r.id;
  base.device = r.device;
  if (!target) {  // RD3
    base.status = static_cast<std::uint8_t>(chunk::device_status::io_error);
    return send_back(std::move(base));
  }
  auto failed = [=](caf::error&) {
    chunk_reply out = base;
    out.status = static_cast<std::uint8_t>(chunk::device_status::io_error);
    send_back(std::move(out));
  };
  auto status_only = [=](std::uint8_t status) {
    chunk_reply out = base;
    out.status = status;
    send_back(std::move(out));
  };
  switch (r.op) {
    case chunk_op::put:
      self->request(target, timeout, chunk::put_atom::value, std::move(r.key), r.epoch,
                    std::move(r.payload))
          .then(status_only, failed);
      break;
    case chunk_op::get:
      self->request(target, timeout, chunk::get_atom::value, std::move(r.key))
          .then(
              [=](std::uint8_t status, std::string& data, std::uint64_t e) {
                chunk_reply out = base;
                out.status = status;
                out.payload = std::move(data);
                out.epoch = e;
                send_back(std::move(out));
              },
              failed);
      break;
    case chunk_op::remove:
      self->request(target, timeout, chunk::delete_atom::value, std::move(r.key))
          .then(status_only, failed);
      break;
    case chunk_op::restore:
      self->request(target, timeout, chunk::restore_atom::value, std::move(r.key))
          .then(status_only, failed);
      break;
    case chunk_op::stat:
      self->request(target, timeout, chunk::stat_atom::value, std::move(r.key))
          .then(status_only, failed);
      break;
    case chunk_op::list:
      self->request(target, timeout, chunk::list_atom::value, std::move(r.key), r.limit)
          .then(
              [=](std::string& entries) {
                chunk_reply out = base;
                out.payload = std::move(entries);
                send_back(std::move(out));
              },
              failed);
      break;
  }
}

remote_devices::remote_devices(caf::actor_system& sys, transport& net,
                               std::function<caf::actor(std::uint64_t)> local_device,
                               remote_devices_options options)
    : sys_(sys), net_(net), local_device_(std::move(local_device)), options_(options) {
  bridge_ = sys_.spawn(chunk_bridge, &net_, local_device_, options_.timeout);
}

remote_devices::~remote_devices() {
  stop();
}

caf::actor remote_devices::proxy(std::uint64_t node, std::uint64_t device) {
  std::lock_guard lock(mutex_);
  if (stopped_) return {};
  auto it = proxies_.find(device);
  if (it != proxies_.end() && it->second.node == node) return it->second.actor;
  if (it != proxies_.end()) caf::anon_send_exit(it->second.actor, caf::exit_reason::user_shutdown);
  auto actor = spawn_device_proxy(
      sys_, device,
      [net = &net_, node](chunk_request r) { return net->send_chunk_request(node, std::move(r)); },
      options_);
  proxies_[device] = proxy_entry{node, actor};
  return actor;
}

void remote_devices::on_request(std::uint64_t from, chunk_request&& r) {
  caf::anon_send(bridge_, serve_atom::value, from, r.id, r.device, static_cast<std::uint8_t>(r.op),
                 std::move(r.key), r.epoch, std::move(r.payload), r.limit);
}

void remote_devices::on_reply(std::uint64_t from, chunk_reply&& r) {
  caf::actor target;
  {
    std::lock_guard lock(mutex_);
    auto it = proxies_.find(r.device);
    // Only the node the proxy asks may answer for it.
    if (it == proxies_.end() || it->second.node != from) return;
    target = it->second.actor;
  }
  deliver_chunk_reply(target, std::move(r));
}

void remote_devices::on_peer_down(std::uint64_t node) {
  std::lock_guard lock(mutex_);
  for (auto& [device, p] : proxies_)
    if (p.node == node) fail_pending_chunk_requests(p.actor);
}

void remote_devices::stop() {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  stopped_ = true;
  for (auto& [device, p] : proxies_) caf::anon_send_exit(p.actor, caf::exit_reason::user_shutdown);
  proxies_.clear();
  caf::anon_send_exit(bridge_, caf::exit_reason::user_shutdown);
}

}  // namespace cairn::runtime
