// JWKS_URL: tokens of an external OpenID Connect provider, verified against its published keys and
// mapped to a user by email. The "provider" is a static JWKS served on loopback by Python.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/runtime.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;

namespace {

// The token printed by the Python "provider", without its newline.
std::string run(const std::string& cmd) {
  std::string out = run_command(cmd);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

TEST(Oidc, ExternalTokensAreVerifiedAgainstTheProvidersKeys) {
  auto org = make_org();
  const auto dir = std::filesystem::temp_directory_path() / ("spectra_oidc_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto script = dir / "idp.py";
  {
    std::ofstream f(script);
    f << R"PY(import base64, json, sys, time, jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives import serialization
d = sys.argv[1]
if sys.argv[2] == 'keys':
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # A key with a coordinate whose first byte is zero: PyJWT publishes it shorter than 32 bytes
    # (about one key in a hundred), as some providers do.
    def coordinate_bytes(k, c):
        return len(base64.urlsafe_b64decode(json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k.public_key()))[c] + '=='))
    while True:
        short_key = ec.generate_private_key(ec.SECP256R1())
        if coordinate_bytes(short_key, 'x') < 32 or coordinate_bytes(short_key, 'y') < 32:
            break
    for name, k in (('ec', ec_key), ('rsa', rsa_key), ('ec-short', short_key)):
        open(f'{d}/{name}.pem', 'wb').write(k.private_bytes(serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    e = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())); e.update(kid='ec-1', alg='ES256', use='sig')
    r = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())); r.update(kid='rsa-1', alg='RS256', use='sig')
    s = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(short_key.public_key())); s.update(kid='ec-short', alg='ES256', use='sig')
    json.dump({'keys': [e, r, s]}, open(f'{d}/jwks.json', 'w'))
else:
    kind, email, aud = sys.argv[3], sys.argv[4], sys.argv[5]
    key = open(f'{d}/{kind if kind in ("rsa", "ec-short") else "ec"}.pem').read()
    now = int(time.time())
    alg = 'RS256' if kind == 'rsa' else 'ES256'
    kid = {'rsa': 'rsa-1', 'ec-short': 'ec-short', 'unknown-kid': 'ec-2'}.get(kind, 'ec-1')
    exp = now - 3600 if kind == 'expired' else now + 300
    claims = {'sub': 'ext-123', 'email': email, 'email_verified': kind != 'unverified',
              'iss': 'https://other-idp.example.test' if kind == 'wrong-iss' else 'https://idp.example.test',
              'aud': aud, 'iat': now, 'exp': exp}
    if kind == 'no-verified-claim':
        del claims['email_verified']
    print(jwt.encode(claims, key, algorithm=alg, headers={'kid': kid}))
)PY";
  }
  const std::string py = "/usr/bin/python3 " + script.string() + " " + dir.string();
  run(py + " keys");
  ASSERT_TRUE(std::filesystem::exists(dir / "jwks.json"));

  // Serve the JWKS on a free loopback port (asked of the kernel, then handed to Python).
  int port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  pid_t server = fork();
  if (server == 0) {
    execl("/usr/bin/python3", "python3", "-m", "http.server", std::to_string(port).c_str(), "--bind", "127.0.0.1",
          "--directory", dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Stopped however the test ends (a failed ASSERT returns early; a server left running would keep
  // CTest's output pipe open).
  struct Reap {
    pid_t pid;
    ~Reap() {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  } reap{server};
  bool serving = false;
  for (int i = 0; i < 100 && !serving; ++i) {
    try {
      serving = http_request(static_cast<std::uint16_t>(port), "GET", "/jwks.json").status == 200;
    } catch (...) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(serving) << "the JWKS server did not start";

  Config cfg = Harness::get().config();
  cfg.jwks_url = "http://127.0.0.1:" + std::to_string(port) + "/jwks.json";
  cfg.jwks_issuer = "https://idp.example.test";
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  auto me = [&](const std::string& token) {
    return http_request(rt.lims_port(), "GET", "/api/auth/me", {}, {{"Authorization", "Bearer " + token}});
  };
  const std::string email = org.user("engineer").email;
  const std::string aud = cfg.jwt_audience;  // external tokens must name our audience too

  auto es = me(run(py + " token es " + email + " " + aud));
  EXPECT_EQ(es.status, 200u) << es.body;
  if (es.status == 200) {
    EXPECT_EQ(std::string(es.json().at("id").as_string()), org.user("engineer").id);
  }
  EXPECT_EQ(me(run(py + " token rsa " + email + " " + aud)).status, 200u);
  EXPECT_EQ(me(run(py + " token ec-short " + email + " " + aud)).status, 200u);
  EXPECT_EQ(me(run(py + " token expired " + email + " " + aud)).status, 401u);
  EXPECT_EQ(me(run(py + " token es " + email + " someone-elses-api")).status, 401u);
  EXPECT_EQ(me(run(py + " token unknown-kid " + email + " " + aud)).status, 401u);
  EXPECT_EQ(me(run(py + " token es nobody@example.test " + aud)).status, 401u);
  EXPECT_EQ(me(run(py + " token unverified " + email + " " + aud)).status, 401u);
  EXPECT_EQ(me(run(py + " token no-verified-claim " + email + " " + aud)).status, 401u);
  EXPECT_EQ(me(run(py + " token wrong-iss " + email + " " + aud)).status, 401u);
  // An API key's service account cannot be signed in by an identity provider, even with its email.
  auto key = lims("POST", "/api/api-keys", login(org.admin()), R"({"name":"robot","scopes":["samples:read"]})");
  ASSERT_EQ(key.status, 201u) << key.body;
  const std::string svc_email(owner().exec("SELECT email FROM users WHERE id = $1",
                                           db::Params(std::string(key.json().at("user_id").as_string()))).get(0, 0));
  EXPECT_EQ(me(run(py + " token es " + svc_email + " " + aud)).status, 401u);
  // The provider must be pinned: no issuer, or keys over plain http from another host, refuse to start.
  Config no_iss = cfg;
  no_iss.jwks_issuer.clear();
  EXPECT_THROW(Runtime(no_iss, ServeOptions{true, false}).start(), std::runtime_error);
  Config plain = cfg;
  plain.jwks_url = "http://idp.example.test/jwks.json";
  EXPECT_THROW(Runtime(plain, ServeOptions{true, false}).start(), std::runtime_error);

  rt.stop();
  std::filesystem::remove_all(dir);
}
