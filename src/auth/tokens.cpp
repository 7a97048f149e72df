#include "auth/tokens.hpp"

#include <cmath>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "platform/crypto.hpp"

namespace json = boost::json;

namespace spectra::auth {
namespace {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

PKey load_private(const std::string& path) {
  const std::string pem = read_file(path);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!k) throw std::runtime_error("JWT_PRIVATE_KEY_FILE " + path + " is not a PEM private key");
  return PKey(k, EVP_PKEY_free);
}

PKey load_public(const std::string& path) {
  const std::string pem = read_file(path);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!k) throw std::runtime_error("public key file " + path + " is not a PEM public key");
  return PKey(k, EVP_PKEY_free);
}

std::string bn_param(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(k, name, &bn)) return {};
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// A NumericDate claim (RFC 7519 section 2): seconds, maybe fractional. Absent: nullopt. Present but not a
// number within +-2^53 seconds (where a double is exact, and adding a leeway cannot overflow): nullopt
// with `invalid` set, so that the token is refused rather than the claim ignored.
constexpr std::int64_t max_numeric_date = std::int64_t{1} << 53;
std::optional<std::int64_t> int_claim(const json::object& o, const char* name, bool& invalid) {
  auto it = o.find(name);
  if (it == o.end()) return std::nullopt;
  const auto& v = it->value();
  std::optional<std::int64_t> out;
  if (v.is_int64()) out = v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(max_numeric_date))
    out = static_cast<std::int64_t>(v.as_uint64());
  if (v.is_double() && std::isfinite(v.as_double()) && std::fabs(v.as_double()) <= static_cast<double>(max_numeric_date))
    out = static_cast<std::int64_t>(v.as_double());
  if (!out || *out > max_numeric_date || *out < -max_numeric_date) {
    invalid = true;
    return std::nullopt;
  }
  return out;
}

std::string str_claim(const json::object& o, const char* name) {
  auto it = o.find(name);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

}  // namespace

struct TokenService::Key {
  std::string kid;
  std::string alg;     // HS256 or RS256
  std::string secret;  // HS256
  PKey pkey{nullptr, EVP_PKEY_free};  // RS256: private for the signer, public otherwise
  bool can_sign = false;
};

std::string_view describe(TokenError e) noexcept {
  switch (e) {
    case TokenError::malformed: return "The token is malformed";
    case TokenError::unsupported_algorithm: return "The token's algorithm is not accepted";
    case TokenError::unknown_key: return "The token was signed by an unknown key";
    case TokenError::bad_signature: return "The token's signature is invalid";
    case TokenError::expired: return "The token has expired";
    case TokenError::not_yet_valid: return "The token is not yet valid";
    case TokenError::wrong_issuer: return "The token was issued by someone else";
    case TokenError::wrong_audience: return "The token is meant for another audience";
    case TokenError::missing_claim: return "The token lacks a required claim";
  }
  return "The token is invalid";
}

std::optional<JwtParts> split_jwt(std::string_view token) {
  const auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  const auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return std::nullopt;
  auto h = crypto::base64url_decode(token.substr(0, d1));
  auto p = crypto::base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto s = crypto::base64url_decode(token.substr(d2 + 1));
  if (!h || !p || !s) return std::nullopt;
  return JwtParts{std::move(*h), std::move(*p), std::string(token.substr(0, d2)), std::move(*s)};
}

std::optional<TokenError> check_registered_claims(const std::string& payload_json, const std::string& issuer,
                                                  const std::string& audience, std::chrono::seconds leeway,
                                                  std::chrono::system_clock::time_point now_tp) {
  boost::system::error_code ec;
  auto v = json::parse(payload_json, ec);
  if (ec || !v.is_object()) return TokenError::malformed;
  const auto& o = v.as_object();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(now_tp.time_since_epoch()).count();
  bool invalid = false;
  const auto exp = int_claim(o, "exp", invalid);
  const auto nbf = int_claim(o, "nbf", invalid);
  const auto iat = int_claim(o, "iat", invalid);
  if (invalid) return TokenError::malformed;
  if (!exp) return TokenError::missing_claim;
  if (now > *exp + leeway.count()) return TokenError::expired;
  if (nbf && now + leeway.count() < *nbf) return TokenError::not_yet_valid;
  if (iat && now + leeway.count() < *iat) return TokenError::not_yet_valid;
  if (!issuer.empty() && str_claim(o, "iss") != issuer) return TokenError::wrong_issuer;
  if (!audience.empty()) {
    auto it = o.find("aud");
    bool ok = false;
    if (it != o.end() && it->value().is_string()) ok = it->value().as_string() == audience;
    if (it != o.end() && it->value().is_array())
      for (const auto& a : it->value().as_array())
        if (a.is_string() && a.as_string() == audience) ok = true;
    if (!ok) return TokenError::wrong_audience;
  }
  return std::nullopt;
}

TokenService::TokenService(const Config& c)
    : algorithm_(c.jwt_algorithm), issuer_(c.jwt_issuer), audience_(c.jwt_audience),
      ttl_(std::chrono::minutes(c.access_token_minutes)) {
  if (algorithm_ == "HS256") {
    if (c.jwt_secret.size() < 32)
      throw std::runtime_error("JWT_SECRET must be at least 32 bytes for HS256 (it is " +
                               std::to_string(c.jwt_secret.size()) + "); generate one with `openssl rand -base64 48`");
    auto k = std::make_shared<Key>();
    k->alg = "HS256";
    k->secret = c.jwt_secret;
    k->kid = "hs-" + crypto::to_hex(crypto::sha256(c.jwt_secret)).substr(0, 16);
    k->can_sign = true;
    keys_.push_back(k);
    // Previous secrets verify tokens issued before a rotation: "kid:secret,kid:secret".
    for (const auto& entry : split(c.jwt_previous_secrets, ',')) {
      auto colon = entry.find(':');
      auto prev = std::make_shared<Key>();
      prev->alg = "HS256";
      prev->secret = colon == std::string::npos ? entry : entry.substr(colon + 1);
      if (prev->secret.size() < 32) throw std::runtime_error("every JWT_PREVIOUS_SECRETS entry must be at least 32 bytes");
      prev->kid = colon == std::string::npos ? "hs-" + crypto::to_hex(crypto::sha256(prev->secret)).substr(0, 16)
                                             : entry.substr(0, colon);
      keys_.push_back(prev);
    }
  } else {
    if (c.jwt_private_key_file.empty())
      throw std::runtime_error("JWT_ALGORITHM=RS256 needs JWT_PRIVATE_KEY_FILE (PEM)");
    auto add_rsa = [&](PKey pkey, bool sign) {
      if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pkey.get()) < 2048)
        throw std::runtime_error("RS256 keys must be RSA keys of at least 2048 bits");
      auto k = std::make_shared<Key>();
      k->alg = "RS256";
      // RFC 7638 thumbprint as the key id.
      const std::string n = crypto::base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N));
      const std::string e = crypto::base64url_encode(bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E));
      k->kid = crypto::base64url_encode(crypto::sha256("{\"e\":\"" + e + "\",\"kty\":\"RSA\",\"n\":\"" + n + "\"}"));
      k->pkey = std::move(pkey);
      k->can_sign = sign;
      keys_.push_back(k);
    };
    add_rsa(load_private(c.jwt_private_key_file), true);
    if (!c.jwt_public_key_file.empty()) {
      // The configured public key must be the signing key's (a mismatch is a deployment error).
      PKey pub = load_public(c.jwt_public_key_file);
      if (EVP_PKEY_eq(pub.get(), keys_[0]->pkey.get()) != 1)
        throw std::runtime_error("JWT_PUBLIC_KEY_FILE does not match JWT_PRIVATE_KEY_FILE");
    }
    for (const auto& f : split(c.jwt_previous_public_key_files, ',')) add_rsa(load_public(f), false);
  }
}

TokenService::~TokenService() = default;

const std::string& TokenService::signing_kid() const { return keys_[0]->kid; }

bool TokenService::knows_kid(std::string_view kid) const {
  for (const auto& k : keys_)
    if (k->kid == kid) return true;
  return false;
}

IssuedToken TokenService::issue_access_token(const Principal& who) const {
  const Key& k = *keys_[0];
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  IssuedToken out;
  out.jti = crypto::uuid_v4();
  out.expires_in = ttl_.count();
  json::object header{{"alg", k.alg}, {"typ", "JWT"}, {"kid", k.kid}};
  json::object payload{{"sub", who.user_id},   {"org", who.org_id}, {"role", role_name(who.role)},
                       {"email", who.email},   {"iat", now},        {"nbf", now},
                       {"exp", now + ttl_.count()}, {"iss", issuer_}, {"aud", audience_},
                       {"jti", out.jti}};
  const std::string input =
      crypto::base64url_encode(json::serialize(header)) + "." + crypto::base64url_encode(json::serialize(payload));
  std::string sig;
  if (k.alg == "HS256") {
    sig = crypto::hmac_sha256(k.secret, input);
  } else {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k.pkey.get()) != 1 ||
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      EVP_MD_CTX_free(ctx);
      throw std::runtime_error("RS256 signing failed");
    }
    sig.resize(len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
  }
  out.token = input + "." + crypto::base64url_encode(sig);
  return out;
}

TokenService::Verified TokenService::verify(std::string_view token) const {
  Verified out;
  auto parts = split_jwt(token);
  if (!parts) return out;
  boost::system::error_code ec;
  auto hv = json::parse(parts->header_json, ec);
  if (ec || !hv.is_object()) return out;
  const auto& h = hv.as_object();
  const std::string alg = str_claim(h, "alg");
  // The accepted algorithm is the configured one; "none", HS/RS confusion and anything else are refused.
  if (alg != algorithm_) {
    out.error = TokenError::unsupported_algorithm;
    return out;
  }
  if (h.contains("crit")) return out;  // we understand no critical extensions
  const std::string kid = str_claim(h, "kid");
  const Key* key = nullptr;
  for (const auto& k : keys_)
    if ((kid.empty() && k->can_sign) || (!kid.empty() && k->kid == kid)) key = k.get();
  if (!key || key->alg != alg) {
    out.error = TokenError::unknown_key;
    return out;
  }
  bool valid = false;
  if (alg == "HS256") {
    valid = crypto::constant_time_equal(crypto::hmac_sha256(key->secret, parts->signing_input), parts->signature);
  } else {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    valid = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key->pkey.get()) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(parts->signature.data()), parts->signature.size(),
                             reinterpret_cast<const unsigned char*>(parts->signing_input.data()),
                             parts->signing_input.size()) == 1;
    EVP_MD_CTX_free(ctx);
  }
  if (!valid) {
    out.error = TokenError::bad_signature;
    return out;
  }
  if (auto err = check_registered_claims(parts->payload_json, issuer_, audience_, leeway_, std::chrono::system_clock::now())) {
    out.error = *err;
    return out;
  }
  auto pv = json::parse(parts->payload_json, ec);
  const auto& p = pv.as_object();
  Principal who;
  who.user_id = str_claim(p, "sub");
  who.org_id = str_claim(p, "org");
  who.email = str_claim(p, "email");
  auto role = parse_role(str_claim(p, "role"));
  bool bad_time = false;
  if (!crypto::is_uuid(who.user_id) || !crypto::is_uuid(who.org_id) || !role || !int_claim(p, "iat", bad_time)) {
    out.error = TokenError::missing_claim;
    return out;
  }
  who.role = *role;
  who.kind = CredentialKind::access_token;
  out.principal = std::move(who);
  return out;
}

std::string TokenService::jwks_json() const {
  json::array keys;
  for (const auto& k : keys_) {
    if (k->alg != "RS256") continue;
    keys.push_back(json::object{{"kty", "RSA"},
                                {"use", "sig"},
                                {"alg", "RS256"},
                                {"kid", k->kid},
                                {"n", crypto::base64url_encode(bn_param(k->pkey.get(), OSSL_PKEY_PARAM_RSA_N))},
                                {"e", crypto::base64url_encode(bn_param(k->pkey.get(), OSSL_PKEY_PARAM_RSA_E))}});
  }
  return json::serialize(json::object{{"keys", std::move(keys)}});
}

}  // namespace spectra::auth
