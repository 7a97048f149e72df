// Tokens, passwords, RBAC decisions, throttling and API key format, without a socket or a database.
#include <crypt.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <thread>

#include "auth/api_keys.hpp"
#include "auth/password.hpp"
#include "auth/rbac.hpp"
#include "platform/http/message.hpp"
#include "auth/tokens.hpp"
#include "platform/crypto.hpp"

using namespace spectra;
using namespace spectra::auth;
namespace json = boost::json;

namespace {

Config hs_config(std::string secret = "unit-test-secret-that-is-long-enough-0123456789") {
  Config c;
  c.jwt_algorithm = "HS256";
  c.jwt_secret = std::move(secret);
  return c;
}

Principal someone(Role r = Role::engineer) {
  Principal p;
  p.user_id = "11111111-2222-4333-8444-555555555555";
  p.org_id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
  p.email = "e@example.test";
  p.role = r;
  return p;
}

// Signs arbitrary header/payload JSON with an HMAC key, as a forger or another library would.
std::string sign_hs(const std::string& header, const std::string& payload, const std::string& secret) {
  const std::string input = crypto::base64url_encode(header) + "." + crypto::base64url_encode(payload);
  return input + "." + crypto::base64url_encode(crypto::hmac_sha256(secret, input));
}

long now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string claims(long iat, long exp, const std::string& iss = "spectra-lab", const std::string& aud = "spectra-lab-api") {
  return json::serialize(json::object{{"sub", "11111111-2222-4333-8444-555555555555"},
                                      {"org", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
                                      {"role", "engineer"},
                                      {"email", "e@example.test"},
                                      {"iat", iat},
                                      {"exp", exp},
                                      {"iss", iss},
                                      {"aud", aud},
                                      {"jti", "j"}});
}

std::string write_rsa_key(const std::string& path) {
  EVP_PKEY* k = EVP_RSA_gen(2048);
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  const std::string pub = path + ".pub";
  f = std::fopen(pub.c_str(), "w");
  PEM_write_PUBKEY(f, k);
  std::fclose(f);
  EVP_PKEY_free(k);
  return pub;
}

}  // namespace

TEST(Tokens, Hs256RoundTripCarriesTheClaims) {
  TokenService ts(hs_config());
  auto issued = ts.issue_access_token(someone(Role::pi));
  auto v = ts.verify(issued.token);
  ASSERT_TRUE(v.principal);
  EXPECT_EQ(v.principal->user_id, someone().user_id);
  EXPECT_EQ(v.principal->org_id, someone().org_id);
  EXPECT_EQ(v.principal->role, Role::pi);
  auto parts = split_jwt(issued.token);
  ASSERT_TRUE(parts);
  auto header = json::parse(parts->header_json).as_object();
  EXPECT_EQ(header.at("alg"), "HS256");
  EXPECT_EQ(std::string(header.at("kid").as_string()), ts.signing_kid());
  auto payload = json::parse(parts->payload_json).as_object();
  for (const char* claim : {"sub", "org", "role", "email", "exp", "iat", "iss", "aud", "jti"})
    EXPECT_TRUE(payload.contains(claim)) << claim;
  EXPECT_EQ(payload.at("exp").as_int64() - payload.at("iat").as_int64(), 15 * 60);
}

// Found by the jwt fuzzer: a time claim beyond any representable time (1e300, 2^64 - 1) was converted
// to an integer unchecked (undefined behaviour, or a wrap to the past). Such a token is malformed now,
// whatever the claim; a fractional time within range still counts as its seconds.
TEST(Tokens, TimeClaimsOutsideAnyRepresentableTimeMakeTheTokenMalformed) {
  const auto at = std::chrono::system_clock::now();
  const long now = now_s();
  const std::string base = R"("iss":"spectra-lab","aud":"spectra-lab-api")";
  auto check = [&](const std::string& times) {
    return check_registered_claims("{" + base + "," + times + "}", "spectra-lab", "spectra-lab-api",
                                   std::chrono::seconds(30), at);
  };
  const std::string iat = R"("iat":)" + std::to_string(now);
  EXPECT_EQ(check(iat + R"(,"exp":1e300)"), TokenError::malformed);
  EXPECT_EQ(check(iat + R"(,"exp":18446744073709551615)"), TokenError::malformed);
  EXPECT_EQ(check(iat + R"(,"exp":9223372036854775807)"), TokenError::malformed);
  EXPECT_EQ(check(R"("iat":-1e300,"exp":)" + std::to_string(now + 60)), TokenError::malformed);
  EXPECT_EQ(check(iat + R"(,"nbf":"soon","exp":)" + std::to_string(now + 60)), TokenError::malformed);
  EXPECT_EQ(check(iat + R"(,"exp":)" + std::to_string(now + 60) + ".5"), std::nullopt);
  EXPECT_EQ(check(iat + R"(,"exp":)" + std::to_string(now - 600) + ".5"), TokenError::expired);
}

TEST(Tokens, ShortSecretIsRefusedAtStartUp) {
  EXPECT_THROW(TokenService(hs_config("too-short")), std::runtime_error);
}

TEST(Tokens, ExpiredNotYetValidWrongIssuerAndAudienceAreRefused) {
  const std::string secret = "unit-test-secret-that-is-long-enough-0123456789";
  TokenService ts(hs_config(secret));
  const std::string h = json::serialize(json::object{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", ts.signing_kid()}});
  const long now = now_s();
  EXPECT_TRUE(ts.verify(sign_hs(h, claims(now, now + 60), secret)).principal);
  EXPECT_EQ(ts.verify(sign_hs(h, claims(now - 600, now - 120), secret)).error, TokenError::expired);
  // Within the leeway an expired token still passes.
  EXPECT_TRUE(ts.verify(sign_hs(h, claims(now - 600, now - 10), secret)).principal);
  EXPECT_EQ(ts.verify(sign_hs(h, claims(now + 600, now + 900), secret)).error, TokenError::not_yet_valid);
  EXPECT_EQ(ts.verify(sign_hs(h, claims(now, now + 60, "someone-else"), secret)).error, TokenError::wrong_issuer);
  EXPECT_EQ(ts.verify(sign_hs(h, claims(now, now + 60, "spectra-lab", "other-api"), secret)).error, TokenError::wrong_audience);
}

TEST(Tokens, TamperedNoneAndUnknownKidAreRefused) {
  const std::string secret = "unit-test-secret-that-is-long-enough-0123456789";
  TokenService ts(hs_config(secret));
  const long now = now_s();
  const std::string good = ts.issue_access_token(someone()).token;
  // Change the role in the payload but keep the signature.
  auto parts = split_jwt(good);
  auto payload = json::parse(parts->payload_json).as_object();
  payload["role"] = "admin";
  const std::string forged = good.substr(0, good.find('.')) + "." + crypto::base64url_encode(json::serialize(payload)) +
                             good.substr(good.rfind('.'));
  EXPECT_EQ(ts.verify(forged).error, TokenError::bad_signature);
  // alg none, with and without a signature.
  const std::string none = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                           crypto::base64url_encode(claims(now, now + 60)) + ".";
  EXPECT_FALSE(ts.verify(none).principal);
  EXPECT_EQ(ts.verify(none).error, TokenError::unsupported_algorithm);
  // A kid we do not know, even signed with the right secret.
  const std::string h = json::serialize(json::object{{"alg", "HS256"}, {"kid", "someone-elses-key"}});
  EXPECT_EQ(ts.verify(sign_hs(h, claims(now, now + 60), secret)).error, TokenError::unknown_key);
  // Signed with another secret.
  const std::string h2 = json::serialize(json::object{{"alg", "HS256"}, {"kid", ts.signing_kid()}});
  EXPECT_EQ(ts.verify(sign_hs(h2, claims(now, now + 60), "another-secret-that-is-also-long-enough-000")).error,
            TokenError::bad_signature);
  EXPECT_FALSE(ts.verify("a.b").principal);
  EXPECT_FALSE(ts.verify("").principal);
  EXPECT_FALSE(ts.verify("@@@.###.$$$").principal);
}

TEST(Tokens, RotationKeepsOldTokensValidWhileTheNewKeySigns) {
  const std::string old_secret = "the-old-secret-that-is-long-enough-0123456789";
  TokenService before(hs_config(old_secret));
  const std::string old_token = before.issue_access_token(someone()).token;
  Config c = hs_config("the-new-secret-that-is-long-enough-9876543210");
  c.jwt_previous_secrets = before.signing_kid() + ":" + old_secret;
  TokenService after(c);
  EXPECT_NE(after.signing_kid(), before.signing_kid());
  EXPECT_TRUE(after.verify(old_token).principal);
  EXPECT_TRUE(after.verify(after.issue_access_token(someone()).token).principal);
  // The old service does not know the new key.
  EXPECT_EQ(before.verify(after.issue_access_token(someone()).token).error, TokenError::unknown_key);
}

TEST(Tokens, Rs256RoundTripJwksAndAlgorithmConfusionIsRefused) {
  const std::string dir = ::testing::TempDir();
  const std::string key = dir + "/spectra_rs256_" + std::to_string(::getpid()) + ".pem";
  const std::string pub = write_rsa_key(key);
  Config c;
  c.jwt_algorithm = "RS256";
  c.jwt_private_key_file = key;
  c.jwt_public_key_file = pub;
  TokenService ts(c);
  auto issued = ts.issue_access_token(someone());
  ASSERT_TRUE(ts.verify(issued.token).principal);
  auto jwks = json::parse(ts.jwks_json()).as_object();
  ASSERT_EQ(jwks.at("keys").as_array().size(), 1u);
  const auto& k = jwks.at("keys").as_array()[0].as_object();
  EXPECT_EQ(k.at("kty"), "RSA");
  EXPECT_EQ(std::string(k.at("kid").as_string()), ts.signing_kid());
  EXPECT_EQ(k.at("alg"), "RS256");

  // HS/RS confusion: an HS256 token whose HMAC key is the public key PEM must not pass.
  std::ifstream in(pub);
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const long now = now_s();
  const std::string h = json::serialize(json::object{{"alg", "HS256"}, {"kid", ts.signing_kid()}});
  EXPECT_EQ(ts.verify(sign_hs(h, claims(now, now + 60), pem)).error, TokenError::unsupported_algorithm);

  // And the token verifies in an independent library (PyJWT), given the public key.
  const std::string cmd = "/usr/bin/python3 -c \"import jwt,sys; c=jwt.decode(sys.argv[1], open(sys.argv[2]).read(), algorithms=['RS256'],"
                          " audience='spectra-lab-api', issuer='spectra-lab'); print(c['sub'])\" " + issued.token + " " + pub;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[128] = {};
  const bool read = std::fgets(buf, sizeof buf, p) != nullptr;
  EXPECT_EQ(pclose(p), 0);
  EXPECT_TRUE(read);
  EXPECT_EQ(std::string(buf), someone().user_id + "\n");
  std::remove(key.c_str());
  std::remove(pub.c_str());
}

TEST(Passwords, Argon2idRoundTripAndRehashOfBcrypt) {
  const std::string h = hash_password("a fine password");
  EXPECT_TRUE(h.starts_with("$argon2id$")) << h;
  EXPECT_TRUE(verify_password("a fine password", h).ok);
  EXPECT_FALSE(verify_password("a fine passwore", h).ok);
  EXPECT_FALSE(verify_password("a fine password", h).needs_rehash);
  char salt[64];
  ASSERT_NE(crypt_gensalt_rn("$2b$", 10, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  const std::string bcrypt = crypt_r("legacy-password", salt, &data);
  auto ok = verify_password("legacy-password", bcrypt);
  EXPECT_TRUE(ok.ok);
  EXPECT_TRUE(ok.needs_rehash);
  EXPECT_FALSE(verify_password("legacy-passwore", bcrypt).ok);
  EXPECT_FALSE(verify_password("anything", std::nullopt).ok);
  EXPECT_FALSE(verify_password("anything", std::string("plaintext")).ok);
}

TEST(Passwords, PolicyForPasswordsSetThroughTheApi) {
  EXPECT_TRUE(password_policy_violation("short", "a@b.c"));
  EXPECT_TRUE(password_policy_violation("aaaaaaaaaaaaaaaa", "a@b.c"));
  EXPECT_TRUE(password_policy_violation("jane.doe-rocks-2026", "jane.doe@lab.test"));
  EXPECT_TRUE(password_policy_violation(std::string(200, 'x') + "y", "a@b.c"));
  EXPECT_FALSE(password_policy_violation("correct horse battery", "jane@lab.test"));
}

TEST(Rbac, RoleOrderAdmitsEveryRoleAbove) {
  const std::vector<Role> roles = {Role::viewer, Role::technician, Role::engineer, Role::pi, Role::admin};
  for (auto caller : roles) {
    for (auto needed : roles) {
      const bool expected = static_cast<int>(caller) >= static_cast<int>(needed);
      EXPECT_EQ(decide(someone(caller), minimum(needed)) == Decision::allow, expected)
          << role_name(caller) << " vs " << role_name(needed);
    }
  }
}

TEST(Rbac, ApiKeysNeedBothTheScopeAndTheRole) {
  Principal key = someone(Role::engineer);
  key.kind = CredentialKind::api_key;
  key.scopes = {"samples:write"};
  EXPECT_EQ(decide(key, minimum(Role::engineer, "samples:write")), Decision::allow);
  EXPECT_EQ(decide(key, minimum(Role::viewer, "samples:read")), Decision::allow);  // write implies read
  EXPECT_EQ(decide(key, minimum(Role::engineer, "runs:write")), Decision::forbidden_scope);
  EXPECT_EQ(decide(key, minimum(Role::pi, "samples:write")), Decision::forbidden_role);
  EXPECT_EQ(decide(key, require_admin), Decision::forbidden_api_key);
  // A user's token is not limited by scopes.
  EXPECT_EQ(decide(someone(Role::engineer), minimum(Role::engineer, "runs:write")), Decision::allow);
}

// The failed-password throttle lives in the database (integration/throttle_test.cpp); what it counts
// as one client is decided here.
TEST(ClientAddress, AnIpv6ClientIsItsSlash64) {
  EXPECT_EQ(http::client_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(http::client_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
  EXPECT_NE(http::client_key("2001:db8:1:3::1"), http::client_key("2001:db8:1:2::1"));
  EXPECT_EQ(http::client_key("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(http::client_key("192.0.2.1"), "192.0.2.1");
}

TEST(ClientAddress, ForwardedEntriesWithPortsAndBracketsAreNormalised) {
  const std::vector<std::string> lb = {"10.0.0.5"};
  EXPECT_EQ(http::client_address("10.0.0.5", "198.51.100.7:5678", lb), "198.51.100.7");
  EXPECT_EQ(http::client_address("10.0.0.5", "[2001:db8::1]:443", lb), "2001:db8::1");
  EXPECT_EQ(http::client_address("10.0.0.5", "[2001:DB8:0::1]", lb), "2001:db8::1");
  EXPECT_EQ(http::client_address("10.0.0.5", "::ffff:198.51.100.7", lb), "198.51.100.7");
  EXPECT_EQ(http::client_address("::ffff:10.0.0.5", "198.51.100.8", lb), "198.51.100.8");  // a dual-stack listener
  EXPECT_EQ(http::client_address("10.0.0.5", "[2001:db8::1", lb), "10.0.0.5");
}

TEST(ApiKeyFormat, GeneratedKeysParseAndOthersDoNot) {
  auto k = generate_api_key();
  EXPECT_TRUE(k.key.starts_with("sk_" + k.prefix + "_"));
  auto parsed = parse_api_key(k.key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->prefix, k.prefix);
  EXPECT_EQ(k.hash, crypto::sha256(k.key));
  EXPECT_NE(generate_api_key().key, k.key);
  EXPECT_FALSE(parse_api_key("sk_short"));
  EXPECT_FALSE(parse_api_key("pk_" + k.key.substr(3)));
  std::string bad = k.key;
  bad[5] = 'A';  // upper case is not in the prefix alphabet
  EXPECT_FALSE(parse_api_key(bad));
}
