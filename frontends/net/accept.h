#pragma once
// The accept loop shared by the socket frontends (mssim, swtpm).

#include <functional>
#include <string>
#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace tpm2emu::net {

// What an accept loop needs from its server. The functions run on the acceptor's executor and
// should keep the server's state alive (capture its shared state).
struct AcceptHandler {
  std::function<bool()> stopped;                            // the server is closing
  std::function<bool()> full;                               // at the connection limit
  std::function<void(const std::string&)> warn;             // "accept failed: ..." and the like
  std::function<void(boost::asio::ip::tcp::socket)> start;  // owns the connection from here
};

// Accepts on `acceptor` until `stopped` or the acceptor is closed. An accept error (e.g. out of
// file descriptors) backs off 100 ms instead of spinning; a connection beyond the limit is
// closed at once; the others get TCP_NODELAY and TCP_QUICKACK and go to `start` (an exception
// from it is warned about and drops that connection only).
boost::asio::awaitable<void> AcceptLoop(boost::asio::ip::tcp::acceptor& acceptor,
                                        AcceptHandler handler);

}  // namespace tpm2emu::net
