#pragma once
// TCP listening shared by the socket frontends (mssim, swtpm): both serve a pair of ports, the
// second one by convention the first + 1, which their clients assume.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "engine/base/status.h"

namespace tpm2emu::net {

// "127.0.0.1:2321" / "[::1]:2321".
std::string FormatEndpoint(const boost::asio::ip::tcp::endpoint& endpoint);

// Sets an IPPROTO_TCP option (TCP_NODELAY, TCP_QUICKACK) to 1. Latency only: a failure is
// ignored.
void SetTcpOption(boost::asio::ip::tcp::socket& socket, int option);

// Resolves `host` (a numeric address, or a name resolved once) and listens with `first` on
// `port` and `second` on `second_port`, or on port + 1 when it is nullopt. With port 0 and no
// second port, a free adjacent pair (P, P + 1) if one is found quickly, else any two free
// ports. Precondition: port < 65535 when second_port is nullopt. Errors (IoError): "cannot
// resolve HOST (reason)", "cannot listen on HOST:PORT (reason)".
Status ListenPair(boost::asio::io_context& io, const std::string& host, uint16_t port,
                  std::optional<uint16_t> second_port, boost::asio::ip::tcp::acceptor& first,
                  boost::asio::ip::tcp::acceptor& second);

}  // namespace tpm2emu::net
