#include "platform/outbound.hpp"

#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <cstring>
#include <memory>
#include <mutex>

#include "platform/utf8.hpp"

namespace spectra::outbound {
namespace {

constexpr std::size_t answer_cap = 64 * 1024;
constexpr std::size_t excerpt_cap = 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Easy {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  curl_slist* resolve = nullptr;
  curl_slist* recipients = nullptr;
  ~Easy() {
    curl_slist_free_all(headers);
    curl_slist_free_all(resolve);
    curl_slist_free_all(recipients);
    if (h) curl_easy_cleanup(h);
  }
};

bool v4_restricted(const std::array<unsigned char, 4>& b) {
  const auto in = [&](unsigned a0, unsigned a1, int bits) {
    const std::uint32_t ip = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
    const std::uint32_t net = (std::uint32_t(a0) << 24) | (std::uint32_t(a1) << 16);
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t(0) << (32 - bits);
    return (ip & mask) == (net & mask);
  };
  const auto in24 = [&](unsigned a0, unsigned a1, unsigned a2) { return b[0] == a0 && b[1] == a1 && b[2] == a2; };
  return in(0, 0, 8) || in(10, 0, 8) || in(100, 64, 10) || in(127, 0, 8) || in(169, 254, 16) || in(172, 16, 12) ||
         in24(192, 0, 0) || in24(192, 0, 2) || in(192, 168, 16) || in(198, 18, 15) || in24(198, 51, 100) ||
         in24(203, 0, 113) || in(224, 0, 4) || in(240, 0, 4);
}

std::size_t keep_answer(char* data, std::size_t size, std::size_t n, void* user) {
  auto& out = *static_cast<std::string*>(user);
  const std::size_t bytes = size * n;
  if (out.size() + bytes > answer_cap) {
    out.append(data, answer_cap - out.size());
    return 0;  // enough: curl stops reading (CURLE_WRITE_ERROR, taken as an answer)
  }
  out.append(data, bytes);
  return bytes;
}

std::string excerpt_of(const std::string& answer) {
  // Cut at a character's start (never inside one), then refuse anything that is not text.
  std::size_t end = std::min(excerpt_cap, answer.size());
  while (end < answer.size() && end > 0 && (static_cast<unsigned char>(answer[end]) & 0xC0) == 0x80) --end;
  std::string e = answer.substr(0, end);
  if (utf8::first_invalid(e) != std::string::npos) return "(an answer that is not UTF-8 text)";
  return e;
}

struct Upload {
  const std::string* text;
  std::size_t at = 0;
};
std::size_t read_upload(char* out, std::size_t size, std::size_t n, void* user) {
  auto& u = *static_cast<Upload*>(user);
  const std::size_t len = std::min(size * n, u.text->size() - u.at);
  std::memcpy(out, u.text->data() + u.at, len);
  u.at += len;
  return len;
}

}  // namespace

std::optional<std::string> url_problem(std::string_view url) {
  if (url.size() > 2000) return "must be at most 2,000 characters";
  auto u = boost::urls::parse_uri(url);
  if (!u) return "must be an absolute http or https URL";
  if (u->scheme() != "http" && u->scheme() != "https") return "must use http or https";
  if (u->has_userinfo()) return "must not carry credentials (user:password@)";
  if (!u->has_authority() || u->encoded_host().empty()) return "must name a host";
  if (u->has_fragment()) return "must not have a fragment";
  if (u->has_port() && (u->port_number() == 0)) return "must name a port from 1 to 65535";
  return std::nullopt;
}

bool is_restricted_address(std::string_view text) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return true;
  if (a.is_v4()) return v4_restricted(a.to_v4().to_bytes());
  const auto v6 = a.to_v6();
  const auto b = v6.to_bytes();
  if (v6.is_v4_mapped() || (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b))  // ::ffff:a.b.c.d, 64:ff9b::/96
    return v4_restricted({b[12], b[13], b[14], b[15]});
  if (v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || v6.is_link_local()) return true;
  if ((b[0] & 0xfe) == 0xfc) return true;                                   // unique local fc00::/7
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;  // documentation 2001:db8::/32
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;                   // site-local fec0::/10 (deprecated)
  bool compat = true;  // ::a.b.c.d (deprecated v4-compatible)
  for (int i = 0; i < 12; ++i) compat = compat && b[i] == 0;
  return compat;
}

Resolution resolve(std::string_view url, bool allow_private) {
  Resolution r;
  if (auto problem = url_problem(url)) {
    r.problem = *problem;
    return r;
  }
  auto u = boost::urls::parse_uri(url);
  r.port = u->has_port() ? u->port_number() : (u->scheme() == "https" ? 443 : 80);
  r.host = std::string(u->host_address());  // an IPv6 literal without its brackets
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(r.host.c_str(), nullptr, &hints, &found) != 0 || !found) {
    r.problem = "names a host that does not resolve";
    return r;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  for (auto* a = found; a; a = a->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) continue;
    // Every address the name has is checked: a name that also points inside is refused as a whole.
    if (!allow_private && is_restricted_address(text)) {
      r.address.clear();
      r.problem = "points to a private, loopback or link-local address, which webhooks may not reach";
      return r;
    }
    if (r.address.empty()) r.address = text;
  }
  if (r.address.empty()) r.problem = "names a host that does not resolve";
  return r;
}

PostResult post(std::string_view url, const std::vector<std::pair<std::string, std::string>>& headers,
                const std::string& body, bool allow_private, std::chrono::milliseconds timeout) {
  global_init();
  PostResult out;
  const auto started = std::chrono::steady_clock::now();
  const auto finish = [&] {
    out.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    return out;
  };
  const auto where = resolve(url, allow_private);
  if (!where.problem.empty()) {
    out.error = "the URL " + where.problem;
    return finish();
  }
  Easy e;
  if (!e.h) {
    out.error = "could not start a transfer";
    return finish();
  }
  const std::string url_text(url);
  const bool v6 = where.address.find(':') != std::string::npos;
  const std::string pin = (where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host) + ":" +
                          std::to_string(where.port) + ":" + (v6 ? "[" + where.address + "]" : where.address);
  e.resolve = curl_slist_append(e.resolve, pin.c_str());
  for (const auto& [name, value] : headers) e.headers = curl_slist_append(e.headers, (name + ": " + value).c_str());
  e.headers = curl_slist_append(e.headers, "Expect:");
  std::string answer;
  curl_easy_setopt(e.h, CURLOPT_URL, url_text.c_str());
  curl_easy_setopt(e.h, CURLOPT_RESOLVE, e.resolve);
  curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e.h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
  curl_easy_setopt(e.h, CURLOPT_POST, 1L);
  curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, keep_answer);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(e.h, CURLOPT_USERAGENT, "SPECTRA-Lab-Webhooks/1");
  const CURLcode rc = curl_easy_perform(e.h);
  long status = 0;
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &status);
  if (status > 0 && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)) {
    out.status = static_cast<int>(status);
    out.excerpt = excerpt_of(answer);
  } else {
    out.error = curl_easy_strerror(rc);
  }
  return finish();
}

std::string send_mail(const std::string& smtp_url, const std::string& from, const std::string& to,
                      const std::string& message, std::chrono::milliseconds timeout) {
  global_init();
  Easy e;
  if (!e.h) return "could not start a transfer";
  // The envelope's addresses: the part in angle brackets when there is one.
  const auto address = [](const std::string& s) {
    const auto open = s.find('<'), close = s.rfind('>');
    return open != std::string::npos && close != std::string::npos && close > open ? s.substr(open, close - open + 1)
                                                                                   : "<" + s + ">";
  };
  const std::string mail_from = address(from);
  e.recipients = curl_slist_append(e.recipients, address(to).c_str());
  Upload up{&message};
  curl_easy_setopt(e.h, CURLOPT_URL, smtp_url.c_str());
  curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(e.h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(e.h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(e.h, CURLOPT_MAIL_RCPT, e.recipients);
  curl_easy_setopt(e.h, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(e.h, CURLOPT_READDATA, &up);
  curl_easy_setopt(e.h, CURLOPT_UPLOAD, 1L);
  const CURLcode rc = curl_easy_perform(e.h);
  return rc == CURLE_OK ? std::string() : std::string(curl_easy_strerror(rc));
}

}  // namespace spectra::outbound
