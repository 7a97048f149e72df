#include "auth/external_keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "auth/tokens.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;

namespace spectra::auth {
namespace {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

PKey make_pkey(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* k = nullptr;
  if (ctx && EVP_PKEY_fromdata_init(ctx) == 1) EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return PKey(k, EVP_PKEY_free);
}

PKey rsa_from_jwk(const std::string& n, const std::string& e) {
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
  auto k = make_pkey("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return k;
}

// RFC 7518 wants each coordinate as its full 32 bytes; some issuers (PyJWT among them) drop leading
// zero bytes, so a shorter one is padded back (about one key in a hundred has one).
PKey ec_from_jwk(const std::string& x, const std::string& y) {
  if (x.empty() || y.empty() || x.size() > 32 || y.size() > 32) return PKey(nullptr, EVP_PKEY_free);
  std::string point = "\x04" + std::string(32 - x.size(), '\0') + x + std::string(32 - y.size(), '\0') + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  auto k = make_pkey("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  return k;
}

// JWS ES256 signatures are r||s; OpenSSL verifies DER.
std::optional<std::string> es256_to_der(const std::string& sig) {
  if (sig.size() != 64) return std::nullopt;
  ECDSA_SIG* s = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
  BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(s, r, ss);
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(s, &der);
  ECDSA_SIG_free(s);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string str(const json::object& o, const char* k) {
  auto it = o.find(k);
  return (it != o.end() && it->value().is_string()) ? std::string(it->value().as_string()) : std::string();
}

}  // namespace

struct ExternalKeys::Key {
  std::string kid;
  std::string alg;  // RS256 or ES256
  PKey pkey{nullptr, EVP_PKEY_free};
};

std::string http_get(const std::string& url, std::chrono::seconds timeout) {
  auto u = boost::urls::parse_uri(url);
  if (!u) throw std::runtime_error("JWKS_URL is not a valid URL");
  const bool tls = u->scheme() == "https";
  if (!tls && u->scheme() != "http") throw std::runtime_error("JWKS_URL must be http or https");
  const std::string host = u->host();
  const std::string port = u->has_port() ? std::string(u->port()) : (tls ? "443" : "80");
  std::string target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query()) target += "?" + std::string(u->encoded_query());

  // Asynchronous operations on a private io_context, so that the stream's deadline applies to every
  // step (synchronous Beast calls ignore it) and a silent provider cannot hang a blocking thread.
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(asio::ssl::verify_peer);
  std::string body;
  std::exception_ptr failure;
  auto fetch = [&]() -> asio::awaitable<void> {
    asio::ip::tcp::resolver resolver(ioc);
    beast::http::request<beast::http::empty_body> req{beast::http::verb::get, target, 11};
    req.set(beast::http::field::host, host);
    req.set(beast::http::field::accept, "application/json");
    req.set(beast::http::field::user_agent, "spectra");
    beast::flat_buffer buffer;
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(1 << 20);
    auto endpoints = co_await resolver.async_resolve(host, port, asio::use_awaitable);
    if (tls) {
      beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
      if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()))
        throw std::runtime_error("cannot set the TLS server name");
      stream.set_verify_callback(asio::ssl::host_name_verification(host));
      beast::get_lowest_layer(stream).expires_after(timeout);
      co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
      co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
      co_await beast::http::async_write(stream, req, asio::use_awaitable);
      co_await beast::http::async_read(stream, buffer, parser, asio::use_awaitable);
    } else {
      beast::tcp_stream stream(ioc);
      stream.expires_after(timeout);
      co_await stream.async_connect(endpoints, asio::use_awaitable);
      co_await beast::http::async_write(stream, req, asio::use_awaitable);
      co_await beast::http::async_read(stream, buffer, parser, asio::use_awaitable);
    }
    if (parser.get().result_int() != 200)
      throw std::runtime_error("JWKS fetch answered HTTP " + std::to_string(parser.get().result_int()));
    body = parser.get().body();
  };
  asio::co_spawn(ioc, fetch, [&](std::exception_ptr e) { failure = e; });
  ioc.run_for(timeout + std::chrono::seconds(1));
  if (failure) std::rethrow_exception(failure);
  if (!ioc.stopped()) throw std::runtime_error("JWKS fetch timed out");
  return body;
}

ExternalKeys::ExternalKeys(const Config& config, BlockingPool& blocking) : config_(config), blocking_(blocking) {
  // Tokens map to users by email, so the provider must be pinned: its issuer, and keys fetched over
  // TLS (plain http only on loopback, for tests and local development).
  if (config_.jwks_issuer.empty()) throw std::runtime_error("JWKS_URL needs JWKS_ISSUER (the provider's iss)");
  auto u = boost::urls::parse_uri(config_.jwks_url);
  if (!u || (u->scheme() != "https" && !(u->scheme() == "http" && (u->host() == "127.0.0.1" || u->host() == "localhost"))))
    throw std::runtime_error("JWKS_URL must be an https:// URL (http:// only on loopback)");
}
ExternalKeys::~ExternalKeys() = default;

std::size_t ExternalKeys::key_count() const {
  std::lock_guard lk(mu_);
  return keys_.size();
}

void ExternalKeys::load_jwks(const std::string& text) {
  auto v = json::parse(text);
  std::vector<std::shared_ptr<Key>> keys;
  for (const auto& item : v.at("keys").as_array()) {
    if (!item.is_object()) continue;
    const auto& o = item.as_object();
    auto k = std::make_shared<Key>();
    k->kid = str(o, "kid");
    const std::string kty = str(o, "kty");
    if (str(o, "use") == "enc") continue;
    if (kty == "RSA") {
      auto n = crypto::base64url_decode(str(o, "n"));
      auto e = crypto::base64url_decode(str(o, "e"));
      if (!n || !e) continue;
      k->alg = "RS256";
      k->pkey = rsa_from_jwk(*n, *e);
    } else if (kty == "EC" && str(o, "crv") == "P-256") {
      auto x = crypto::base64url_decode(str(o, "x"));
      auto y = crypto::base64url_decode(str(o, "y"));
      if (!x || !y) continue;
      k->alg = "ES256";
      k->pkey = ec_from_jwk(*x, *y);
    } else {
      continue;
    }
    if (!str(o, "alg").empty() && str(o, "alg") != k->alg) continue;
    if (k->pkey) keys.push_back(std::move(k));
  }
  std::lock_guard lk(mu_);
  keys_ = std::move(keys);
  fetched_at_ = std::chrono::steady_clock::now();
}

std::shared_ptr<ExternalKeys::Key> ExternalKeys::find(const std::string& kid) const {
  std::lock_guard lk(mu_);
  for (const auto& k : keys_)
    if (k->kid == kid || (kid.empty() && keys_.size() == 1)) return k;
  return nullptr;
}

bool ExternalKeys::may_handle(std::string_view token) const {
  auto parts = split_jwt(token);
  if (!parts) return false;
  boost::system::error_code ec;
  auto h = json::parse(parts->header_json, ec);
  if (ec || !h.is_object()) return false;
  const std::string alg = str(h.as_object(), "alg");
  return alg == "RS256" || alg == "ES256";
}

asio::awaitable<void> ExternalKeys::refresh(bool force) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    const bool stale = keys_.empty() || now - fetched_at_ > std::chrono::minutes(10);
    if (!(stale || force) || now - last_attempt_ < std::chrono::seconds(30)) co_return;
    last_attempt_ = now;
  }
  const std::string url = config_.jwks_url;
  try {
    // Closures that own strings are named locals: GCC 12 destroys such temporaries twice across co_await.
    auto fetch = [url] { return http_get(url, std::chrono::seconds(5)); };
    const WorkShare provider{"", url};  // the one JWKS fetch thread: one share
    auto body = co_await blocking_.run(std::move(fetch), provider);
    load_jwks(body);
  } catch (const std::exception& e) {
    spdlog::warn("fetching JWKS from {} failed: {}", url, e.what());
  }
}

asio::awaitable<std::optional<std::string>> ExternalKeys::verify(std::string_view token) {
  auto parts = split_jwt(token);
  if (!parts) co_return std::nullopt;
  boost::system::error_code ec;
  auto hv = json::parse(parts->header_json, ec);
  if (ec || !hv.is_object()) co_return std::nullopt;
  const std::string alg = str(hv.as_object(), "alg");
  const std::string kid = str(hv.as_object(), "kid");
  if (alg != "RS256" && alg != "ES256") co_return std::nullopt;
  co_await refresh(false);
  auto key = find(kid);
  if (!key) {
    co_await refresh(true);
    key = find(kid);
  }
  if (!key || key->alg != alg) co_return std::nullopt;
  std::string sig = parts->signature;
  if (alg == "ES256") {
    auto der = es256_to_der(sig);
    if (!der) co_return std::nullopt;
    sig = std::move(*der);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key->pkey.get()) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(parts->signing_input.data()),
                                   parts->signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) co_return std::nullopt;
  const std::string& audience = config_.jwks_audience.empty() ? config_.jwt_audience : config_.jwks_audience;
  if (check_registered_claims(parts->payload_json, config_.jwks_issuer, audience, std::chrono::seconds(30),
                              std::chrono::system_clock::now()))
    co_return std::nullopt;
  auto pv = json::parse(parts->payload_json, ec);
  if (ec || !pv.is_object()) co_return std::nullopt;
  const auto& p = pv.as_object();
  std::string email = str(p, "email");
  // Only a verified email maps to a user: the provider must say so.
  auto verified = p.find("email_verified");
  if (verified == p.end() || !verified->value().is_bool() || !verified->value().as_bool()) co_return std::nullopt;
  if (email.empty()) co_return std::nullopt;
  co_return email;
}

}  // namespace spectra::auth
