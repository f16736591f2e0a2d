#include "frontends/net/listen.h"

#include <netinet/in.h>
#include <sys/socket.h>

namespace tpm2emu::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

std::string FormatEndpoint(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

StatusOr<asio::ip::address> ResolveHost(asio::io_context& io, const std::string& host) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    return address;
  }
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty()) {
    return IoError("cannot resolve " + host + " (" +
                   (ec ? ec.message() : std::string("no address")) + ")");
  }
  return results.begin()->endpoint().address();
}

Status Bind(tcp::acceptor& acceptor, const asio::ip::address& address, uint16_t port,
            const std::string& host) {
  tcp::endpoint endpoint(address, port);
  error_code ec;
  if (acceptor.is_open()) {
    acceptor.close(ec);
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return IoError("cannot listen on " + FormatEndpoint(host, port) + " (" + ec.message() + ")");
  }
  return Status::Ok();
}

}  // namespace

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  std::string host = endpoint.address().to_string();
  if (endpoint.address().is_v6()) {
    host = "[" + host + "]";
  }
  return host + ":" + std::to_string(endpoint.port());
}

void SetTcpOption(tcp::socket& socket, int option) {
  int one = 1;
  (void)::setsockopt(socket.native_handle(), IPPROTO_TCP, option, &one, sizeof(one));
}

Status ListenPair(asio::io_context& io, const std::string& host, uint16_t port,
                  std::optional<uint16_t> second_port, tcp::acceptor& first,
                  tcp::acceptor& second) {
  TRY_ASSIGN(auto address, ResolveHost(io, host));
  if (second_port) {
    TRY(Bind(first, address, port, host));
    return Bind(second, address, *second_port, host);
  }
  if (port != 0) {
    TRY(Bind(first, address, port, host));
    return Bind(second, address, static_cast<uint16_t>(port + 1), host);
  }
  // Port 0: mssim and swtpm clients find the second port at the first + 1, so look for such a
  // pair first; fall back to any free ports.
  for (int attempt = 0; attempt < 32; ++attempt) {
    TRY(Bind(first, address, 0, host));
    uint16_t bound = first.local_endpoint().port();
    if (bound < 65535 && Bind(second, address, static_cast<uint16_t>(bound + 1), host).ok()) {
      return Status::Ok();
    }
    error_code ignored;
    first.close(ignored);
    second.close(ignored);
  }
  TRY(Bind(first, address, 0, host));
  return Bind(second, address, 0, host);
}

}  // namespace tpm2emu::net
