// The command line as an operator uses it: seeding, user creation, migration status.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;

namespace {

struct Run {
  int status;
  std::string out;
};

Run spectra_cli(const std::string& args, const std::string& input = {}) {
  const std::string cmd = "printf '%s\\n' '" + input + "' | DATABASE_URL='" + Harness::get().owner_dsn() + "' " +
                          SPECTRA_BINARY + " " + args + " 2>&1";
  Run r{};
  r.out = run_command(cmd, &r.status);
  return r;
}

}  // namespace

TEST(Cli, SeedDemoIsIdempotentAndMakesTheDemoUsers) {
  auto first = spectra_cli("seed demo");
  ASSERT_EQ(first.status, 0) << first.out;
  const auto users = count("SELECT count(*) FROM users WHERE email LIKE '%@acme.com' OR email LIKE '%@globex.com'");
  const auto instruments = count("SELECT count(*) FROM instruments");
  const auto samples = count("SELECT count(*) FROM samples");
  EXPECT_EQ(users, 10);
  auto second = spectra_cli("seed demo");
  ASSERT_EQ(second.status, 0) << second.out;
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE email LIKE '%@acme.com' OR email LIKE '%@globex.com'"), users);
  EXPECT_EQ(count("SELECT count(*) FROM instruments"), instruments);
  EXPECT_EQ(count("SELECT count(*) FROM samples"), samples);
  // Each organization: a valid, an expired and no calibration.
  EXPECT_EQ(count("SELECT count(*) FROM organizations o JOIN instruments i ON i.organization_id = o.id"
                  " WHERE o.slug = 'acme' AND NOT EXISTS (SELECT 1 FROM calibrations c"
                  " WHERE c.organization_id = i.organization_id AND c.instrument_id = i.id)"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM calibrations c JOIN organizations o ON o.id = c.organization_id"
                  " WHERE o.slug = 'acme' AND c.expires_at < now()"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM calibrations c JOIN organizations o ON o.id = c.organization_id"
                  " WHERE o.slug = 'acme' AND c.expires_at > now()"), 1);
  // The walkthrough's login works.
  auto login = lims("POST", "/api/auth/login", {}, R"({"email":"engineer@acme.com","password":"eng123"})");
  EXPECT_EQ(login.status, 200u) << login.body;
}

TEST(Cli, UserCreateChecksThePasswordPolicy) {
  auto org = make_org();
  auto weak = spectra_cli("user create --org " + org.slug + " --email weak-" + org.slug + "@example.test --name Weak --role viewer",
                          "short");
  EXPECT_NE(weak.status, 0);
  EXPECT_NE(weak.out.find("at least 12"), std::string::npos) << weak.out;
  const std::string email = "cli-" + org.slug + "@example.test";
  auto ok = spectra_cli("user create --org " + org.slug + " --email " + email + " --name 'Cli User' --role engineer",
                        "a-perfectly-fine-password");
  ASSERT_EQ(ok.status, 0) << ok.out;
  auto row = owner().exec("SELECT organization_id, role FROM users WHERE email = $1", db::Params(email));
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.get(0, 0), org.id);
  EXPECT_EQ(row.get(0, 1), "engineer");
  TestUser u{"", email, "a-perfectly-fine-password", "engineer"};
  EXPECT_EQ(lims("POST", "/api/auth/login", {}, R"({"email":")" + email + R"(","password":"a-perfectly-fine-password"})").status, 200u);
  auto dup = spectra_cli("user create --org " + org.slug + " --email " + email + " --name Again --role viewer",
                         "a-perfectly-fine-password");
  EXPECT_NE(dup.status, 0);
  auto no_org = spectra_cli("user create --org no-such-org --email x@example.test --name X --role viewer",
                            "a-perfectly-fine-password");
  EXPECT_NE(no_org.status, 0);
}

TEST(Cli, DbDistributeNeedsCitusAndIsIdempotent) {
  auto r = spectra_cli("db distribute");
  if (Harness::get().citus()) {
    // The test database was distributed when it was set up: nothing is left to place.
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("nothing to do"), std::string::npos) << r.out;
  } else {
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("Citus is not installed"), std::string::npos) << r.out;
    EXPECT_EQ(count("SELECT count(*) FROM pg_extension WHERE extname = 'citus'"), 0);
  }
}

TEST(Cli, DbCurrentNamesTheHeadRevision) {
  auto r = spectra_cli("db current");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("(head)"), std::string::npos) << r.out;
  auto h = spectra_cli("db history");
  EXPECT_NE(h.out.find("identity_functions"), std::string::npos) << h.out;
  auto bad = spectra_cli("db downgrade nonsense");
  EXPECT_NE(bad.status, 0);
}
