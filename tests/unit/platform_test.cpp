// Errors, encoding, configuration and migrations, without a socket or database.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <set>

#include "platform/config.hpp"
#include "platform/crypto.hpp"
#include "platform/db/batch.hpp"
#include "platform/db/blocking_connection.hpp"
#include "platform/db/migrations.hpp"
#include "platform/error.hpp"
#include "platform/http/message.hpp"
#include "platform/json_text.hpp"
#include "platform/log.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>

using namespace spectra;

TEST(Errors, CodesMapToStatusesAndSqlStatesToCodes) {
  EXPECT_EQ(http_status(ErrorCode::not_found), 404u);
  EXPECT_EQ(http_status(ErrorCode::unprocessable), 422u);
  EXPECT_EQ(http_status(ErrorCode::unavailable), 503u);
  EXPECT_EQ(error_code_for_sqlstate("23505"), ErrorCode::conflict);
  // A reference to a row that is not there (or is another organization's) is an invalid value.
  EXPECT_EQ(error_code_for_sqlstate("23503"), ErrorCode::unprocessable);
  EXPECT_EQ(error_code_for_sqlstate("22009"), ErrorCode::unprocessable);
  EXPECT_EQ(error_code_for_sqlstate("23514"), ErrorCode::unprocessable);
  EXPECT_EQ(error_code_for_sqlstate("08006"), ErrorCode::unavailable);
  EXPECT_EQ(error_code_for_sqlstate("57P01"), ErrorCode::unavailable);
  EXPECT_EQ(error_code_for_sqlstate("28000"), ErrorCode::unauthorized);
  EXPECT_EQ(error_code_for_sqlstate("42601"), ErrorCode::internal);
  EXPECT_EQ(unauthorized().headers().at(0).first, "WWW-Authenticate");
}

TEST(Crypto, Base64UrlRoundTripsAndRefusesJunk) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(crypto::base64url_decode(crypto::base64url_encode(s)), s);
  EXPECT_EQ(crypto::base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(crypto::base64url_decode("ab=="));
  EXPECT_FALSE(crypto::base64url_decode("a"));
  EXPECT_FALSE(crypto::base64url_decode("ab+/"));
  EXPECT_TRUE(crypto::is_uuid(crypto::uuid_v4()));
  EXPECT_FALSE(crypto::is_uuid("not-a-uuid"));
  EXPECT_EQ(crypto::to_hex(crypto::sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Config, DatabaseUrlFormsAndInvalidValues) {
  EXPECT_EQ(normalize_database_url("postgresql+psycopg://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(normalize_database_url("postgresql://u@h/db"), "postgresql://u@h/db");
  setenv("LIMS_PORT", "eighty", 1);
  EXPECT_THROW(Config::from_env(), std::runtime_error);
  setenv("LIMS_PORT", "9002", 1);
  EXPECT_EQ(Config::from_env().lims_port, 9002);
  unsetenv("LIMS_PORT");
  setenv("JWT_ALGORITHM", "none", 1);
  EXPECT_THROW(Config::from_env(), std::runtime_error);
  unsetenv("JWT_ALGORITHM");
}

TEST(Config, CorsOriginsDefaultToTheLimsOriginAndRefuseAnythingElse) {
  setenv("LIMS_PORT", "9002", 1);
  EXPECT_EQ(Config::from_env().cors_origins, (std::vector<std::string>{"http://localhost:9002", "http://127.0.0.1:9002"}));
  setenv("HOST", "10.0.0.5", 1);
  EXPECT_EQ(Config::from_env().cors_origins, (std::vector<std::string>{"http://10.0.0.5:9002"}));
  setenv("CORS_ORIGINS", "https://lims.example.org, http://localhost:5173", 1);
  EXPECT_EQ(Config::from_env().cors_origins,
            (std::vector<std::string>{"https://lims.example.org", "http://localhost:5173"}));
  // A page served at each origin reaches the Analysis API on its host (the web app's CSP).
  setenv("ANALYSIS_PORT", "9001", 1);
  setenv("CORS_ORIGINS", "https://lims.example.org, http://localhost:5173, http://[::1]:9002, http://localhost:8080", 1);
  EXPECT_EQ(Config::from_env().analysis_origins(),
            (std::vector<std::string>{"https://lims.example.org:9001", "http://localhost:9001", "http://[::1]:9001"}));
  unsetenv("ANALYSIS_PORT");
  for (const char* bad : {"*", "lims.example.org", "https://lims.example.org/app", "ftp://x", "https://",
                          "https://user@lims.example.org", "https://lims.example.org?x=1", "https://lims example.org"}) {
    setenv("CORS_ORIGINS", bad, 1);
    EXPECT_THROW(Config::from_env(), std::runtime_error) << bad;
  }
  unsetenv("CORS_ORIGINS");
  unsetenv("HOST");
  unsetenv("LIMS_PORT");
}

TEST(Migrations, EmbeddedMigrationsAreNumberedAndReversible) {
  const auto& all = db::embedded_migrations();
  ASSERT_GE(all.size(), 2u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i + 1));
    EXPECT_GT(std::string(all[i].up).size(), 10u);
    EXPECT_GT(std::string(all[i].down).size(), 10u);
    EXPECT_EQ(db::Migrator::checksum(all[i]).size(), 64u);
  }
}

TEST(Migrations, ScriptsSplitIntoStatementsOutsideQuotesAndComments) {
  const auto parts = db::split_sql(
      "-- a comment; with a semicolon\n"
      "CREATE TABLE t (a text DEFAULT 'x;y''z');\n"
      "/* block; /* nested; */ still comment; */ SELECT \"odd;name\" FROM t;\n"
      "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n"
      "DO $$ BEGIN PERFORM 1; END $$;\n"
      "SELECT $1::int, 2\n"
      ";;   \n");
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(parts[0], "CREATE TABLE t (a text DEFAULT 'x;y''z')");
  EXPECT_EQ(parts[1], "SELECT \"odd;name\" FROM t");
  EXPECT_EQ(parts[2], "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$");
  EXPECT_EQ(parts[3], "DO $$ BEGIN PERFORM 1; END $$");
  EXPECT_EQ(parts[4], "SELECT $1::int, 2\n");
  // Every embedded migration splits into statements that each end outside a quote.
  for (const auto& m : db::embedded_migrations())
    for (const char* text : {m.up, m.down}) EXPECT_FALSE(db::split_sql(text).empty()) << m.name;
}

TEST(Logging, JsonFormatIsOneObjectPerLineAndMergesJsonMessages) {
  std::ostringstream out;
  auto s = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("json-test", s);
  apply_log_format(logger, "json");
  logger.info("plain text with \"quotes\" and a\nnewline");
  logger.info(R"({"msg":"request","status":404,"path":"/x"})");
  logger.flush();
  std::istringstream lines(out.str());
  std::string line;
  std::vector<boost::json::object> records;
  while (std::getline(lines, line)) records.push_back(boost::json::parse(line).as_object());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].at("msg"), "plain text with \"quotes\" and a\nnewline");
  EXPECT_EQ(records[0].at("level"), "info");
  EXPECT_TRUE(records[0].at("time").as_string().ends_with("Z"));
  EXPECT_EQ(records[1].at("status"), 404);
  EXPECT_EQ(records[1].at("path"), "/x");
}

TEST(ClientAddress, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  const std::vector<std::string> lb = {"10.0.0.5", "10.0.0.6"};
  EXPECT_EQ(http::client_address("203.0.113.9", std::nullopt, lb), "203.0.113.9");
  // An untrusted peer cannot claim another address.
  EXPECT_EQ(http::client_address("203.0.113.9", "1.2.3.4", lb), "203.0.113.9");
  // Through the load balancer: the right-most untrusted hop.
  EXPECT_EQ(http::client_address("10.0.0.5", "198.51.100.7", lb), "198.51.100.7");
  EXPECT_EQ(http::client_address("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.6", lb), "198.51.100.7");
  EXPECT_EQ(http::client_address("10.0.0.5", "garbage, 198.51.100.7", lb), "198.51.100.7");
  EXPECT_EQ(http::client_address("10.0.0.5", "<script>", lb), "10.0.0.5");
  EXPECT_EQ(http::client_address("10.0.0.5", "", lb), "10.0.0.5");
}

TEST(InsertBatch, AnyNumberOfRowsIsAFewPowerOfTwoStatements) {
  const db::InsertBatch batch{"unit_batch", "INSERT INTO t (organization_id, a, b)", "($1, ?, ?::jsonb)"};
  EXPECT_EQ(batch.parameters_per_row(), 2);
  for (const std::size_t n : {1u, 2u, 3u, 511u, 512u, 513u, 10000u}) {
    std::vector<db::Params> rows;
    for (std::size_t i = 0; i < n; ++i) rows.push_back(db::Params(std::to_string(i), "{}"));
    const auto st = batch.statements(rows);
    std::size_t covered = 0, expected = n / 512 + static_cast<std::size_t>(__builtin_popcountll(n % 512));
    EXPECT_EQ(st.size(), expected) << n;
    for (const auto& s : st) {
      const std::size_t in_this = s.params.size() / 2;
      EXPECT_EQ(s.query->name, "unit_batch_" + std::to_string(in_this));
      // Rows keep their order: this statement's first row is the next one.
      EXPECT_EQ(s.params.values().front(), std::to_string(covered));
      covered += in_this;
    }
    EXPECT_EQ(covered, n);
  }
  const auto one = batch.statements({db::Params("x", "{}")});
  EXPECT_EQ(one[0].query->sql, "INSERT INTO t (organization_id, a, b) VALUES ($1, $2, $3::jsonb)");
  EXPECT_THROW(batch.statements({db::Params("only one")}), std::logic_error);
}

TEST(JsonText, DoublesReadAsPostgresAndJavaScriptWriteThem) {
  namespace json = boost::json;
  EXPECT_EQ(json_text(json::value(110.0)), "110");
  EXPECT_EQ(json_text(json::value(0.12)), "0.12");
  EXPECT_EQ(json_text(json::value(97.46881247198944)), "97.46881247198944");
  EXPECT_EQ(json_text(json::value(-2.5e-7)), "-2.5e-07");
  EXPECT_EQ(json::parse(json_text(json::value(0.1 + 0.2))).as_double(), 0.1 + 0.2);  // reads back the same
  EXPECT_EQ(json_text(json::value(std::nan(""))), "null");
  EXPECT_EQ(json_text(json::parse(R"({"a\"b":[1,-2,3.5,true,null,"x\n"],"c":{}})")),
            R"({"a\"b":[1,-2,3.5,true,null,"x\n"],"c":{}})");
}
