#include "frontends/net/accept.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <chrono>
#include <exception>
#include <utility>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "frontends/net/listen.h"

namespace tpm2emu::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

asio::awaitable<void> AcceptLoop(tcp::acceptor& acceptor, AcceptHandler handler) {
  asio::steady_timer backoff(acceptor.get_executor());
  while (!handler.stopped()) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (handler.stopped() || ec == asio::error::operation_aborted) {
      co_return;
    }
    if (ec) {
      handler.warn("accept failed: " + ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (handler.full()) {
      handler.warn("too many connections, refusing one");
      socket.close(ec);
      continue;
    }
    SetTcpOption(socket, TCP_NODELAY);
    SetTcpOption(socket, TCP_QUICKACK);
    try {
      handler.start(std::move(socket));
    } catch (const std::exception& e) {
      handler.warn(std::string("connection setup failed: ") + e.what());
    }
  }
}

}  // namespace tpm2emu::net
