// The API server writes a row of typed columns as JSON exactly as PostgreSQL's to_jsonb wrote it
// before (db::RowJson): every type the shapes select, and the edge cases of each, read both ways.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "platform/db/blocking_connection.hpp"
#include "platform/db/row_json.hpp"
#include "platform/error.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

// Each member name and its SQL expression.
const std::vector<std::pair<std::string, std::string>> cases = {
    {"uuid", "'1b4e28ba-2fa1-11d2-883f-0016d3cca427'::uuid"},
    {"text", "E'tab\\there, \"quotes\", back\\\\slash, new\\nline, \\u0001 and ünïcødé 🧪'"},
    {"empty_text", "''::text"},
    {"null_text", "NULL::text"},
    {"yes", "true"},
    {"no", "false"},
    {"small", "(-12)::smallint"},
    {"int", "2147483647"},
    {"big", "(-9223372036854775807)::bigint"},
    {"numeric", "123456789012345678901234567890.000100::numeric"},
    {"numeric_nan", "'NaN'::numeric"},
    {"float", "0.1::float8"},
    {"float_small", "1e-7::float8"},
    {"float_big", "1.5e300::float8"},
    {"float_nan", "'NaN'::float8"},
    {"float_inf", "'-Infinity'::float8"},
    {"real", "3.25::real"},
    {"at", "'2026-12-07 01:02:03.456789+00'::timestamptz"},
    {"at_whole", "'2026-12-07 01:02:03+00'::timestamptz"},
    {"at_infinity", "'infinity'::timestamptz"},
    {"local", "'2026-12-07 01:02:03.5'::timestamp"},
    {"day", "'2026-12-07'::date"},
    {"span", "'1 day 02:03:04'::interval"},
    {"jsonb", "'{\"b\": [1, 2.50, null], \"a\": {\"x\": \"y\\\"z\"}}'::jsonb"},
    {"json", "'{\"kept\":  \"as sent\"}'::json"},
    {"texts", "ARRAY['a', 'b,c', 'd\"e', 'f\\\\g', NULL, '', 'NULL']::text[]"},
    {"no_texts", "'{}'::text[]"},
    {"uuids", "ARRAY['1b4e28ba-2fa1-11d2-883f-0016d3cca427'::uuid]"},
    {"ints", "ARRAY[1, NULL, -3]"},
    {"flags", "ARRAY[true, false]"},
    {"stamps", "ARRAY['2026-12-07 01:02:03+00'::timestamptz]"},
    {"numerics", "ARRAY[1.50, 'NaN']::numeric[]"},
    {"inet", "'192.168.0.1/24'::inet"},
};

}  // namespace

TEST(RowJson, EveryTypeReadsAsToJsonbWroteIt) {
  std::string columns, object = "jsonb_build_object(";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [name, expr] = cases[i];
    columns += (i ? ", " : "") + expr + " AS \"" + name + "\"";
    object += (i ? ", '" : "'") + name + "', " + expr;
  }
  columns += ", 42 AS _helper";  // a helper column: never a member
  auto& db = owner();
  const auto typed = db.exec("SELECT " + columns);
  const auto reference = db.exec("SELECT (" + object + "))::text");
  const json::value ours = json::parse(db::row_json(typed));
  const json::value theirs = json::parse(reference.get(0, 0));
  ASSERT_TRUE(ours.is_object());
  EXPECT_EQ(ours.as_object().size(), cases.size()) << "every column a member, the helper none";
  for (const auto& [name, expr] : cases) {
    SCOPED_TRACE(name + " = " + expr);
    ASSERT_TRUE(ours.as_object().contains(name));
    // json keeps its own text; jsonb normalizes it: compare that one by value.
    EXPECT_EQ(ours.at(name), theirs.at(name)) << json::serialize(ours.at(name)) << " vs " << json::serialize(theirs.at(name));
  }
  EXPECT_FALSE(ours.as_object().contains("_helper"));
}

TEST(RowJson, ManyRowsShareOneDescription) {
  auto& db = owner();
  const auto rows = db.exec("SELECT g AS n, 'row ' || g AS label, g % 2 = 0 AS even, g AS _sort FROM generate_series(1, 3) g");
  const db::RowJson item(rows);
  std::string out;
  for (int i = 0; i < rows.rows(); ++i) item.append(out, i);
  EXPECT_EQ(out, R"({"n":1,"label":"row 1","even":false}{"n":2,"label":"row 2","even":true}{"n":3,"label":"row 3","even":false})");
}

// A reader of a statement by column name, declared as a handler declares one.
struct SopHead {
  std::string code;
  std::int64_t version = 0;
  std::optional<std::string> rejected_by;
};
const db::Query sop_head_q{"test_sop_head", "SELECT * FROM sops ORDER BY created_at LIMIT 1"};
const db::Decoder<SopHead> sop_head{
    sop_head_q, {{"version", &SopHead::version}, {"code", &SopHead::code}, {"rejected_by", &SopHead::rejected_by}}};

TEST(Statements, ADecoderReadsByNameWhateverTheColumnOrder) {
  const auto r = owner().exec("SELECT NULL::uuid AS rejected_by, 'SOP-7' AS code, 3::bigint AS version");
  const SopHead head = sop_head(r);
  EXPECT_EQ(head.code, "SOP-7");
  EXPECT_EQ(head.version, 3);
  EXPECT_FALSE(head.rejected_by.has_value());
  // A result without a declared column is a programming error that names the column.
  const auto short_row = owner().exec("SELECT 'SOP-7' AS code, 3::bigint AS version");
  try {
    (void)sop_head(short_row);
    ADD_FAILURE() << "decoded a row without rejected_by";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), ErrorCode::internal);
    EXPECT_NE(e.log_detail().find("rejected_by"), std::string::npos) << e.log_detail();
  }
}

TEST(Statements, EveryStatementFitsTheSchemaAtHeadAndNamesItsColumnsOnce) {
  // What the server checks before it serves: here, against the test database at head.
  EXPECT_EQ(db::statement_problems(owner()), std::vector<std::string>{});
  // A schema one revision behind refuses the statements that use what the last migrations added.
  db::BlockingConnection behind(Harness::get().scratch_database("behind", 11));
  const auto problems = db::statement_problems(behind);
  ASSERT_FALSE(problems.empty());
  const bool names_rejected_sops = std::any_of(problems.begin(), problems.end(), [](const std::string& p) {
    return p.find("rejected_by") != std::string::npos || p.find("body_html") != std::string::npos;
  });
  EXPECT_TRUE(names_rejected_sops) << problems.front();
  // A statement that still prepares there but lacks a column its reader expects is refused too.
  EXPECT_NE(std::find(problems.begin(), problems.end(),
                      "test_sop_head: a reader expects a column named rejected_by, which it does not return"),
            problems.end())
      << ::testing::PrintToString(problems);
}
