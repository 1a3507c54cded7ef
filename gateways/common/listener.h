// gateways/common/listener.h — the TCP side every gateway shares: bind
// "host:port", accept on a thread of its own, hand each connection to the
// gateway (which serves it in a session actor), keep count of the open
// ones, and on stop wake the acceptor and shut every open socket down so
// blocked sessions return.
//
// Owner: one per gateway server. Thread-safe: sessions call done() from
// their own threads.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace cairn::gateway {

class tcp_listener {
 public:
  using socket_ptr = std::shared_ptr<boost::asio::ip::tcp::socket>;
  /// Called on the accept thread for each connection; `open` is the number
  /// of connections open including this one. The callee owns serving it
  /// and calls done() when it is finished.
  using on_accept = std::function<void(socket_ptr socket, std::size_t open)>;

  /// `setting` names the option in errors ("nfs.listen").
  tcp_listener(std::string setting, std::string listen, on_accept accept);
  ~tcp_listener();
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;

  /// Binds and starts accepting; throws std::runtime_error naming the
  /// setting and the address when it cannot.
  void start();
  /// Stops accepting and shuts every open connection down. Idempotent.
  void stop();
  bool stopping() const { return stopping_; }
  std::uint16_t port() const { return port_; }
  /// A session is finished with its socket (closes it).
  void done(const socket_ptr& socket);

 private:
  void accept_loop();

  std::string setting_, listen_;
  on_accept accept_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::set<socket_ptr> open_;
};

}  // namespace cairn::gateway
