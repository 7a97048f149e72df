// HTTPS with TLS_CERT_FILE / TLS_KEY_FILE: a client that trusts the certificate gets answers; a plain
// HTTP client on the TLS port gets nothing and the server stays up.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "server/runtime.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;

TEST(Tls, ServesHttpsWithTheConfiguredCertificate) {
  const auto dir = std::filesystem::temp_directory_path() / ("spectra_tls_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  int st = 0;
  run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " +
          key + " -out " + cert + " 2>&1",
      &st);
  ASSERT_EQ(st, 0);

  Config cfg = Harness::get().config();
  cfg.tls_cert_file = cert;
  cfg.tls_key_file = key;
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  const std::string url = "https://127.0.0.1:" + std::to_string(rt.lims_port());
  auto body = run_command("curl -s --cacert " + cert + " " + url + "/health", &st);
  EXPECT_EQ(st, 0);
  EXPECT_NE(body.find("\"status\":\"ok\""), std::string::npos) << body;
  auto login = run_command("curl -s -o /dev/null -w '%{http_code}' --cacert " + cert + " -X POST -H 'Content-Type: application/json' -d '{}' " +
                       url + "/api/auth/login",
                   &st);
  EXPECT_EQ(login, "422");
  // Plain HTTP to the TLS port: no answer, and the server is unharmed.
  EXPECT_THROW(http_request(rt.lims_port(), "GET", "/health"), std::exception);
  body = run_command("curl -s --cacert " + cert + " " + url + "/health", &st);
  EXPECT_NE(body.find("\"status\":\"ok\""), std::string::npos) << body;
  rt.stop();

  // A client that connects and never starts the handshake is let go at the handshake deadline, not
  // kept for the read timeout.
  Config quick = cfg;
  quick.tls_handshake_timeout = std::chrono::seconds(1);
  quick.read_timeout = std::chrono::seconds(60);
  Runtime rt2(quick, ServeOptions{true, false});
  rt2.start();
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket silent(io);
    silent.connect({boost::asio::ip::make_address("127.0.0.1"), rt2.lims_port()});
    const auto started = std::chrono::steady_clock::now();
    char byte;
    boost::system::error_code ec;
    silent.read_some(boost::asio::buffer(&byte, 1), ec);  // returns when the server closes
    EXPECT_TRUE(ec);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  }
  rt2.stop();

  // Half a configuration is refused at start-up.
  cfg.tls_key_file.clear();
  Runtime half(cfg, ServeOptions{true, false});
  EXPECT_THROW(half.start(), std::runtime_error);
  std::filesystem::remove_all(dir);
}
