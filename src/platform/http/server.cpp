#include "platform/http/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <array>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "platform/config.hpp"
#include "platform/crypto.hpp"
#include "platform/metrics.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using asio::use_awaitable;

namespace spectra {

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& ioc;
  http::Handler service;
  const Config& config;
  tcp::acceptor acceptor;
  tcp::endpoint endpoint;
  std::atomic<int> active_requests{0};
  std::atomic<int> open_connections{0};
  std::atomic<bool> stopping{false};
  // Open connections per client (an IPv4 address or an IPv6 /64); trusted proxies are not capped.
  std::mutex clients_mutex;
  std::unordered_map<std::string, int> per_client;
  std::unique_ptr<asio::ssl::context> tls;  // set when TLS_CERT_FILE and TLS_KEY_FILE are
  metrics::Counter* requests = nullptr;      // with a metrics registry
  metrics::Histogram* durations = nullptr;

  Impl(asio::io_context& io, http::Handler s, const Config& c, tcp::endpoint ep, metrics::Registry* m)
      : ioc(io), service(std::move(s)), config(c), acceptor(io), endpoint(ep) {
    if (m) {
      requests = &m->counter("spectra_http_requests_total", "HTTP requests answered, by route template and status",
                             {"service", "method", "route", "status"});
      durations = &m->histogram("spectra_http_request_duration_seconds",
                                "Time from a request's last byte read to its answer's last byte written",
                                {"service", "method", "route"}, metrics::latency_buckets());
    }
    if (config.tls_cert_file.empty() != config.tls_key_file.empty())
      throw std::runtime_error("TLS needs both TLS_CERT_FILE and TLS_KEY_FILE");
    if (!config.tls_cert_file.empty()) {
      tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      boost::system::error_code ec;
      tls->use_certificate_chain_file(config.tls_cert_file, ec);
      if (ec) throw std::runtime_error("cannot load TLS_CERT_FILE " + config.tls_cert_file + ": " + ec.message());
      tls->use_private_key_file(config.tls_key_file, asio::ssl::context::pem, ec);
      if (ec) throw std::runtime_error("cannot load TLS_KEY_FILE " + config.tls_key_file + ": " + ec.message());
    }
  }

  // One line per request: the route template (not the path, which may hold ids and tokens) when a
  // route took it, else the still percent-encoded path; the organization and user; never a body.
  void access_log(const http::Request& req, const http::Response& res, double ms) {
    const unsigned status = res.status;
    const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
    if (config.log_format == "json") {
      boost::json::object o{{"msg", "request"},   {"service", service.name}, {"method", http::method_name(req.method)},
                            {"status", status},   {"duration_ms", ms},       {"request_id", req.request_id},
                            {"remote", req.remote_addr}};
      if (!res.route.empty())
        o["route"] = res.route;
      else
        o["path"] = path;
      if (!res.organization.empty()) o["organization"] = res.organization;
      if (!res.actor.empty()) o["user"] = res.actor;
      spdlog::info("{}", boost::json::serialize(o));
    } else {
      spdlog::info("{} {} {} {} {:.2f}ms rid={} from={}{}{}{}{}", service.name, http::method_name(req.method),
                   res.route.empty() ? path : std::string_view(res.route), status, ms, req.request_id, req.remote_addr,
                   res.organization.empty() ? "" : " org=", res.organization, res.actor.empty() ? "" : " user=",
                   res.actor);
    }
    if (requests) {
      // Paths no route took (the web app's files, 404s) are one series, whatever they were.
      const std::string_view route = res.route.empty() ? std::string_view("(other)") : std::string_view(res.route);
      const std::string code = std::to_string(status);
      requests->add({service.name, http::method_name(req.method), route, code});
      durations->observe({service.name, http::method_name(req.method), route}, ms / 1000);
    }
  }

  // An answer to a request we could not parse: problem+json, then the connection closes.
  template <class Stream>
  asio::awaitable<void> reject(Stream& stream, unsigned status, std::string detail) {
    ErrorCode code = status == 413   ? ErrorCode::payload_too_large
                     : status == 431 ? ErrorCode::headers_too_large
                     : status == 408 ? ErrorCode::request_timeout
                     : status == 503 ? ErrorCode::unavailable
                                     : ErrorCode::bad_request;
    const std::string request_id = crypto::uuid_v4();
    auto p = http::problem_response(ApiError(code, std::move(detail)), request_id);
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
    res.set("X-Request-Id", request_id);
    res.set(bhttp::field::content_type, p.content_type);
    res.set(bhttp::field::connection, "close");
    res.body() = std::move(p.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    boost::system::error_code ec;
    co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  }

  // Counts a connection against its client; false when the client already holds its share.
  bool admit_client(const std::string& key) {
    std::lock_guard lock(clients_mutex);
    return ++per_client[key] <= config.max_connections_per_client;
  }
  void release_client(const std::string& key) {
    std::lock_guard lock(clients_mutex);
    auto it = per_client.find(key);
    if (it != per_client.end() && --it->second <= 0) per_client.erase(it);
  }

  // A lingering close: the client may still be sending a body the server refused (a 413 on its
  // Content-Length). Closing a socket with unread bytes makes the kernel answer with a reset, which
  // can destroy the answer before the client reads it; so what still comes is read and dropped for a
  // moment (a second of silence, three at most). A client that has closed ends this at once.
  asio::awaitable<void> linger(beast::tcp_stream& stream) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::array<char, 16 * 1024> sink;
    boost::system::error_code ec;
    while (!ec) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      stream.expires_after(std::min<std::chrono::steady_clock::duration>(left, std::chrono::seconds(1)));
      co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto self = shared_from_this();
    struct Count {
      std::atomic<int>& n;
      ~Count() { --n; }
    } count{open_connections};
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    const std::string remote_addr = ec ? std::string("unknown") : remote.address().to_string();
    const bool proxy = std::find(config.trusted_proxies.begin(), config.trusted_proxies.end(), remote_addr) !=
                       config.trusted_proxies.end();
    std::string client;  // empty: not counted
    if (!proxy) client = http::client_key(remote_addr);
    struct Client {
      Impl& s;
      const std::string& key;
      ~Client() {
        if (!key.empty()) s.release_client(key);
      }
    } counted{*this, client};
    const bool over_share = !client.empty() && !admit_client(client);
    beast::flat_buffer buffer;
    if (!tls) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream, buffer, remote_addr, over_share);
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (!stopping.load()) co_await linger(stream);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    beast::get_lowest_layer(stream).expires_after(config.tls_handshake_timeout);
    co_await stream.async_handshake(asio::ssl::stream_base::server, buffer.data(),
                                    asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;  // not TLS, or a failed handshake: nothing to answer in plain text
    co_await serve(stream, buffer, remote_addr, over_share);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }

  template <class Stream>
  asio::awaitable<void> write_response(Stream& stream, const http::Request& req, http::Response& res, unsigned version,
                                       bool keep, boost::system::error_code& ec) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
    out.set(bhttp::field::server, "spectra");
    out.set("X-Request-Id", req.request_id);
    if (!res.content_type.empty() && res.status != 204) out.set(bhttp::field::content_type, res.content_type);
    for (const auto& [k, v] : res.headers) out.set(k, v);
    out.keep_alive(keep);
    if (res.status == 204) {
      out.prepare_payload();
    } else if (res.stream) {
      // chunked below (a HEAD answers the head alone)
    } else if (req.method == http::Method::HEAD) {
      out.content_length(res.body.size());
    } else {
      out.body() = std::move(res.body);
      out.prepare_payload();
    }
    beast::get_lowest_layer(stream).expires_after(config.read_timeout);
    if (res.stream && res.status != 204 && req.method != http::Method::HEAD) {
      // HTTP/1.0 has no chunks: its client reads the body until the connection closes.
      const bool framed = version >= 11;
      if (framed) out.chunked(true);
      co_await write_chunks(stream, out, *res.stream, framed, ec);
    } else if (req.method == http::Method::HEAD) {
      bhttp::response_serializer<bhttp::string_body> sr{out};
      co_await bhttp::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
    } else {
      co_await bhttp::async_write(stream, out, asio::redirect_error(use_awaitable, ec));
    }
  }

  // The head, then each piece of a streamed body as one chunk, then the last chunk. A piece that
  // fails leaves ec set: the connection closes without the last chunk.
  template <class Stream>
  asio::awaitable<void> write_chunks(Stream& stream, bhttp::response<bhttp::string_body>& head, http::BodyStream& body,
                                     bool framed, boost::system::error_code& ec) {
    bhttp::response_serializer<bhttp::string_body> sr{head};
    co_await bhttp::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
    while (!ec) {
      std::optional<std::string> piece;
      try {
        piece = co_await body.next();
      } catch (const std::exception& e) {
        spdlog::error("{}: a streamed body failed after its head was sent: {}", service.name, e.what());
        ec = asio::error::operation_aborted;
        co_return;
      }
      beast::get_lowest_layer(stream).expires_after(config.read_timeout);
      if (!piece) {
        if (framed) co_await asio::async_write(stream, bhttp::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
        co_return;
      }
      if (piece->empty()) continue;  // an empty chunk would end the body
      if (framed)
        co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(*piece)), asio::redirect_error(use_awaitable, ec));
      else
        co_await asio::async_write(stream, asio::buffer(*piece), asio::redirect_error(use_awaitable, ec));
    }
  }

  // Requests on one connection until it closes: keep-alive, limits and timeouts.
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, beast::flat_buffer& buffer, const std::string& remote_addr,
                              bool over_client_share) {
    boost::system::error_code ec;
    // One client must not take every connection: beyond its share it is refused, others are not.
    if (over_client_share) {
      co_await reject(stream, 503, "Too many connections from your address; try again later");
      co_return;
    }
    if (open_connections.load() > config.max_connections) {
      co_await reject(stream, 503, "Too many connections; try again later");
      co_return;
    }

    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(16 * 1024);
      // Beast checks Content-Length against this while reading the head; the route sets the real limit.
      parser.body_limit(std::max(config.upload_limit, config.body_limit));
      beast::get_lowest_layer(stream).expires_after(config.idle_timeout);
      co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
        break;
      if (ec == bhttp::error::header_limit) {
        co_await reject(stream, 431, "Request headers are too large");
        break;
      }
      if (ec == bhttp::error::body_limit) {
        co_await reject(stream, 413, "The request body is larger than this server accepts");
        break;
      }
      if (ec) {
        co_await reject(stream, 400, "Malformed HTTP request");
        break;
      }
      // The limit is the matched route's: uploads may be larger than JSON bodies.
      const std::size_t limit =
          service.body_limit(http::parse_method(parser.get().method_string()), parser.get().target());
      if (parser.content_length() && *parser.content_length() > limit) {
        co_await reject(stream, 413, "The request body is larger than this endpoint accepts");
        break;
      }
      parser.body_limit(limit);

      // The request as handlers see it, from its head; the body follows.
      http::Request req;
      {
        const auto& head = parser.get();
        std::vector<std::pair<std::string_view, std::string_view>> fields;
        for (const auto& f : head) fields.emplace_back(f.name_string(), f.value());
        req = http::request_from_head(head.method_string(), head.target(), fields, remote_addr, config.trusted_proxies);
      }

      // A body beyond the JSON limit (an upload) is read only once its sender is known to be allowed
      // to send it: credentials and role are checked on the head alone.
      if (limit > config.body_limit && (!parser.content_length() || *parser.content_length() > config.body_limit)) {
        if (auto refusal = co_await service.admit(req)) {
          refusal->header("Connection", "close");
          co_await write_response(stream, req, *refusal, parser.get().version(), false, ec);
          break;
        }
      }
      // curl and others wait for "100 Continue" before sending a larger body.
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        co_await bhttp::async_write(stream, cont, asio::redirect_error(use_awaitable, ec));
        if (ec) break;
      }
      beast::get_lowest_layer(stream).expires_after(config.read_timeout);
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == bhttp::error::body_limit) {
        co_await reject(stream, 413, "The request body is larger than this endpoint accepts");
        break;
      }
      if (ec == beast::error::timeout) break;  // the stream closed the socket: nothing can be answered
      if (ec) {
        co_await reject(stream, 400, "Malformed HTTP request");
        break;
      }

      ++active_requests;
      struct Active {
        std::atomic<int>& n;
        ~Active() { --n; }
      } active{active_requests};
      const auto started = std::chrono::steady_clock::now();
      auto breq = parser.release();
      req.body = std::move(breq.body());

      http::Response res;
      if (!http::decode_target(req))
        res = http::problem_response(spectra::bad_request("The request target is not a valid path"), req.request_id);
      else
        res = co_await service.handle(req);

      // A streamed body to an HTTP/1.0 client ends with the connection (it has no chunks).
      const bool keep = breq.keep_alive() && !stopping.load() && !(res.stream && breq.version() < 11);
      co_await write_response(stream, req, res, breq.version(), keep, ec);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      access_log(req, res, ms);
      if (ec || !keep) break;
    }
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    asio::steady_timer pause(ioc);
    auto backoff = std::chrono::milliseconds(10);
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(asio::make_strand(ioc));
      co_await acceptor.async_accept(socket, asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
          ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
        // Out of file descriptors: the pending connection stays queued, so retrying at once would spin.
        // Wait, longer each time (up to a second), while connections in flight finish and free some.
        if (backoff == std::chrono::milliseconds(10)) spdlog::warn("accept failed: {}; backing off", ec.message());
        pause.expires_after(backoff);
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(1));
        continue;
      }
      if (ec) {
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      backoff = std::chrono::milliseconds(10);
      ++open_connections;
      auto ex = socket.get_executor();
      asio::co_spawn(ex, session(std::move(socket)), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("connection ended by an exception: {}", ex.what());
        }
      });
    }
  }
};

HttpServer::HttpServer(asio::io_context& ioc, http::Handler handler, const Config& config, const std::string& host,
                       std::uint16_t port, metrics::Registry* metrics)
    : impl_(std::make_shared<Impl>(ioc, std::move(handler), config, tcp::endpoint(asio::ip::make_address(host), port),
                                   metrics)) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  auto& a = impl_->acceptor;
  try {
    a.open(impl_->endpoint.protocol());
    a.set_option(asio::socket_base::reuse_address(true));
    a.bind(impl_->endpoint);
    a.listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + impl_->endpoint.address().to_string() + ":" +
                             std::to_string(impl_->endpoint.port()) + " for the " + impl_->service.name +
                             " API: " + e.code().message());
  }
  impl_->endpoint = a.local_endpoint();
  asio::co_spawn(a.get_executor(), impl_->accept_loop(), asio::detached);
}

void HttpServer::stop_accepting() {
  impl_->stopping = true;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
  });
}

std::uint16_t HttpServer::port() const noexcept { return impl_->endpoint.port(); }
int HttpServer::in_flight() const noexcept { return impl_->active_requests.load(); }
int HttpServer::connections() const noexcept { return impl_->open_connections.load(); }

}  // namespace spectra
