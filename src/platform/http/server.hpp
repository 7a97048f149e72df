#pragma once
// The HTTP/1.1 listener: one coroutine per connection, a fresh parser per request with a body limit,
// read and idle timeouts, keep-alive, a bounded number of connections, graceful stop.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "platform/http/handler.hpp"

namespace spectra {
struct Config;
namespace metrics {
class Registry;
}

class HttpServer {
 public:
  // With `metrics`, every request is counted and timed by service, method, route template and status.
  HttpServer(boost::asio::io_context& ioc, http::Handler handler, const Config& config, const std::string& host,
             std::uint16_t port, metrics::Registry* metrics = nullptr);
  ~HttpServer();
  // Binds (throws when the port is taken) and starts accepting.
  void start();
  // Stops accepting; requests in flight finish, and their connections close after answering.
  void stop_accepting();
  std::uint16_t port() const noexcept;
  int in_flight() const noexcept;
  int connections() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace spectra
