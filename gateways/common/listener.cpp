// gateways/common/listener.cpp — see listener.h.
#include "gateways/common/listener.h"

#include <boost/asio/ip/address.hpp>
#include <stdexcept>

#include <sys/socket.h>

namespace cairn::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

tcp_listener::tcp_listener(std::string setting, std::string listen, on_accept accept)
    : setting_(std::move(setting)), listen_(std::move(listen)), accept_(std::move(accept)) {}

tcp_listener::~tcp_listener() {
  stop();
}

void tcp_listener::start() {
  const auto colon = listen_.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error(setting_ + ": '" + listen_ + "' is not host:port");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen_.substr(0, colon), ec);
  if (ec) throw std::runtime_error(setting_ + ": " + listen_ + ": " + ec.message());
  unsigned long port = 0;
  try {
    port = std::stoul(listen_.substr(colon + 1));
  } catch (const std::exception&) {
    port = 65536;
  }
  if (port > 65535) throw std::runtime_error(setting_ + ": '" + listen_ + "' has no valid port");
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  const tcp::endpoint ep{address, static_cast<std::uint16_t>(port)};
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error(setting_ + ": cannot listen on " + listen_ + ": " + ec.message());
  port_ = acceptor_->local_endpoint(ec).port();
  thread_ = std::thread([this] { accept_loop(); });
}

void tcp_listener::accept_loop() {
  while (!stopping_) {
    auto socket = std::make_shared<tcp::socket>(io_);
    boost::system::error_code ec;
    acceptor_->accept(*socket, ec);
    if (stopping_) return;
    if (ec) continue;
    socket->set_option(tcp::no_delay(true), ec);
    std::size_t open = 0;
    {
      std::lock_guard lock(mutex_);
      open_.insert(socket);
      open = open_.size();
    }
    accept_(socket, open);
  }
}

void tcp_listener::done(const socket_ptr& socket) {
  boost::system::error_code ec;
  socket->shutdown(tcp::socket::shutdown_both, ec);
  socket->close(ec);
  std::lock_guard lock(mutex_);
  open_.erase(socket);
}

void tcp_listener::stop() {
  if (stopping_.exchange(true) || !acceptor_) return;
  boost::system::error_code ec;
  // shutdown(2) on a listening socket wakes a blocked accept() on Linux
  // (close alone does not); then close it.
  ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  acceptor_->close(ec);
  std::lock_guard lock(mutex_);
  for (auto& s : open_) s->shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace cairn::gateway
