#include "platform/clamd.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace spectra::clamd {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("clamd: " + what + (errno ? std::string(": ") + std::strerror(errno) : std::string()));
}

void send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const auto sent = ::send(fd, data, n, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      fail("send");
    }
    data += sent;
    n -= static_cast<std::size_t>(sent);
  }
}

}  // namespace

Verdict scan(const std::string& socket_path, std::string_view bytes, std::chrono::seconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("clamd: the socket path is too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Socket s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) fail("socket");
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  errno = 0;
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fail("connect to " + socket_path);

  // "zINSTREAM\0", then chunks of <4-byte big-endian length><bytes>, then a zero length.
  send_all(s.fd(), "zINSTREAM", 10);
  constexpr std::size_t chunk = 64 * 1024;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    const auto n = static_cast<std::uint32_t>(std::min(chunk, bytes.size() - at));
    const unsigned char len[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                  static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    send_all(s.fd(), reinterpret_cast<const char*>(len), 4);
    send_all(s.fd(), bytes.data() + at, n);
  }
  const char end[4] = {0, 0, 0, 0};
  send_all(s.fd(), end, 4);

  std::string reply;
  char buf[512];
  for (;;) {
    const auto n = ::recv(s.fd(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("no answer");
    }
    if (n == 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
    if (reply.find('\0') != std::string::npos) break;
  }
  errno = 0;
  if (const auto nul = reply.find('\0'); nul != std::string::npos) reply.resize(nul);
  // "stream: OK", "stream: <signature> FOUND", or "… ERROR".
  if (reply.ends_with(" OK")) return {true, {}};
  if (reply.ends_with(" FOUND")) {
    std::string sig = reply.substr(0, reply.size() - 6);
    if (const auto colon = sig.find(": "); colon != std::string::npos) sig = sig.substr(colon + 2);
    return {false, sig};
  }
  throw std::runtime_error("clamd: unexpected answer '" + reply + "'");
}

}  // namespace spectra::clamd
