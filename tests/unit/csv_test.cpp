// CSV exports and imports: quoting, formula neutralisation, and every way an import refuses a file.
#include "kit/csv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace csv = spectra::kit::csv;

namespace {

using Cells = std::vector<std::string>;

std::string cell(std::string_view value) {
  std::string out;
  csv::append_cell(out, value);
  return out;
}

std::string row_of(const Cells& cells) {
  std::vector<std::string_view> views(cells.begin(), cells.end());
  std::string out;
  csv::append_row(out, views);
  return out;
}

// The problems as "row|column|message" lines, so a failure shows all of them at once.
std::vector<std::string> problems(const csv::Table& table) {
  std::vector<std::string> out;
  for (const auto& p : table.problems) out.push_back(std::to_string(p.row) + "|" + p.column + "|" + p.message);
  return out;
}

using Lines = std::vector<std::string>;

}  // namespace

TEST(Csv, PlainCellsAreWrittenAsTheyAre) {
  EXPECT_EQ(cell("abc"), "abc");
  EXPECT_EQ(cell(""), "");
  EXPECT_EQ(cell("12.5"), "12.5");
  EXPECT_EQ(cell("Zürich"), "Zürich");
}

TEST(Csv, CommaQuoteCrAndLfAreQuoted) {
  EXPECT_EQ(cell("a,b"), "\"a,b\"");
  EXPECT_EQ(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(cell("a\rb"), "\"a\rb\"");
  EXPECT_EQ(cell("a\nb"), "\"a\nb\"");
  EXPECT_EQ(cell("\""), "\"\"\"\"");
}

TEST(Csv, FormulaPrefixesGetAnApostrophe) {
  EXPECT_EQ(cell("=SUM(A1:A2)"), "'=SUM(A1:A2)");
  EXPECT_EQ(cell("+1"), "'+1");
  EXPECT_EQ(cell("-1"), "'-1");
  EXPECT_EQ(cell("@cmd"), "'@cmd");
  EXPECT_EQ(cell("\tx"), "'\tx");
  EXPECT_EQ(cell("\rx"), "\"'\rx\"");
  EXPECT_EQ(cell("=1,2"), "\"'=1,2\"");
}

TEST(Csv, ApostrophesBeforeAFormulaPrefixGetOneMore) {
  EXPECT_EQ(cell("'=1"), "''=1");
  EXPECT_EQ(cell("''-1"), "'''-1");
  EXPECT_EQ(cell("'plain"), "'plain");
  EXPECT_EQ(cell("'"), "'");
}

TEST(Csv, RowsAreCommaSeparatedAndEndWithCrlf) {
  EXPECT_EQ(row_of({"a", "b,c", ""}), "a,\"b,c\",\r\n");
  EXPECT_EQ(row_of({}), "\r\n");
}

TEST(Csv, RoundTripGivesBackTheSameCells) {
  const Cells header = {"name", "note", "value"};
  const std::vector<Cells> rows = {
      {"=SUM(A1)", "+1", "-2.5"},
      {"@user", "\tindented", "\rreturn"},
      {"'=already", "'", "''+two"},
      {"'plain", "", "x"},
      {"a,b", "say \"hi\"", "line\r\nbreak\nand\rmore"},
      {"Zürich", "µg/L", "日本語 🧪"},
      {"", "", ""},
  };
  std::string text = row_of(header);
  for (const auto& r : rows) text += row_of(r);
  const auto table = csv::read(text, 100);
  EXPECT_EQ(problems(table), Lines{});
  EXPECT_EQ(table.header, header);
  EXPECT_EQ(table.rows, rows);
}

TEST(Csv, OneColumnRoundTripKeepsEmptyValues) {
  const std::string text = row_of({"only"}) + row_of({""}) + row_of({"x"}) + row_of({""});
  const auto table = csv::read(text, 100);
  EXPECT_EQ(problems(table), Lines{});
  EXPECT_EQ(table.rows, (std::vector<Cells>{{""}, {"x"}, {""}}));
}

TEST(Csv, ReadsLfAndCrlfAndAMissingFinalLineEnd) {
  const std::vector<Cells> expected = {{"1", "2"}, {"3", "4"}};
  for (std::string_view text : {"a,b\r\n1,2\r\n3,4\r\n", "a,b\n1,2\n3,4\n", "a,b\n1,2\r\n3,4", "a,b\r\n1,2\r\n3,4\r\n\r\n"}) {
    const auto table = csv::read(text, 100);
    EXPECT_EQ(problems(table), Lines{}) << text;
    EXPECT_EQ(table.header, (Cells{"a", "b"})) << text;
    EXPECT_EQ(table.rows, expected) << text;
  }
}

TEST(Csv, OnlyOneEmptyLastLineIsIgnored) {
  const auto table = csv::read("a,b\r\n1,2\r\n\r\n\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"2||has 1 cells, the header has 2"}));
}

TEST(Csv, SkipsAByteOrderMark) {
  const auto table = csv::read("\xEF\xBB\xBFid,name\r\n1,x\r\n", 100);
  EXPECT_EQ(problems(table), Lines{});
  EXPECT_EQ(table.header, (Cells{"id", "name"}));
  EXPECT_EQ(table.rows, (std::vector<Cells>{{"1", "x"}}));
}

TEST(Csv, QuotedCellsHoldNewlinesCommasAndQuotes) {
  const auto table = csv::read("a,b\r\n\"line 1\r\nline 2\",\"x,\"\"y\"\"\"\r\n\"\",z\r\n", 100);
  EXPECT_EQ(problems(table), Lines{});
  EXPECT_EQ(table.rows, (std::vector<Cells>{{"line 1\r\nline 2", "x,\"y\""}, {"", "z"}}));
}

TEST(Csv, AHandWrittenFormulaIsReadAsItIs) {
  const auto table = csv::read("a\r\n=1+1\r\n'x\r\n", 100);
  EXPECT_EQ(table.rows, (std::vector<Cells>{{"=1+1"}, {"'x"}}));
}

TEST(Csv, WrongCellCountNamesTheRow) {
  const auto table = csv::read("a,b,c\r\n1,2,3\r\n1,2\r\n\"x\ny\",2,3\r\n1,2,3,4\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"2||has 2 cells, the header has 3", "4||has 4 cells, the header has 3"}));
  EXPECT_EQ(table.rows.size(), 2u);
}

TEST(Csv, BlankLineInTheMiddleIsAWrongCellCount) {
  const auto table = csv::read("a,b\r\n1,2\r\n\r\n3,4\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"2||has 1 cells, the header has 2"}));
}

TEST(Csv, UnterminatedQuoteNamesRowAndColumn) {
  const auto table = csv::read("a,b\r\n1,2\r\n3,\"open\r\n5,6\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"2|b|has a quote that is never closed"}));
}

TEST(Csv, BareQuoteInsideAnUnquotedCell) {
  const auto table = csv::read("a,b\r\n1,5\" pipe\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"1|b|has a quote inside an unquoted cell"}));
}

TEST(Csv, TextAfterAClosingQuote) {
  const auto table = csv::read("a,b\r\n\"x\"y,2\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"1|a|has text after its closing quote"}));
}

TEST(Csv, CarriageReturnThatEndsNoLine) {
  const auto table = csv::read("a,b\r\n1,2\r3,4\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"1|b|has a carriage return outside quotes", "1||has 3 cells, the header has 2"}));
}

TEST(Csv, InvalidUtf8NamesTheRow) {
  struct Case {
    std::string bytes;
    const char* what;
  };
  for (const auto& [bytes, what] : {Case{"\xE9", "Latin-1 e acute"}, Case{"\xC0\xAF", "overlong slash"},
                                    Case{"\xED\xA0\x80", "surrogate"}, Case{"\xF4\x90\x80\x80", "above U+10FFFF"},
                                    Case{"\xE2\x82", "truncated"}, Case{"\x80", "stray continuation"}}) {
    const auto table = csv::read("a,b\r\n1,ok\r\n2,caf" + bytes + "\r\n3,ok\r\n", 100);
    EXPECT_EQ(problems(table), (Lines{"2||is not valid UTF-8"})) << what;
  }
}

TEST(Csv, InvalidUtf8InTheHeaderIsRowZero) {
  const auto table = csv::read("a,caf\xE9\r\n1,2\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"0||is not valid UTF-8"}));
}

TEST(Csv, InvalidUtf8InsideAQuotedNewlineNamesItsRow) {
  const auto table = csv::read("a\r\n\"x\r\ny\"\r\n\"p\r\n\xC0\xAF\"\r\n", 100);
  EXPECT_EQ(problems(table), (Lines{"2||is not valid UTF-8"}));
}

TEST(Csv, EmptyFileAndMissingHeader) {
  EXPECT_EQ(problems(csv::read("", 100)), (Lines{"0||is empty"}));
  EXPECT_EQ(problems(csv::read("\xEF\xBB\xBF", 100)), (Lines{"0||is empty"}));
  EXPECT_EQ(problems(csv::read("\r\na,b\r\n", 100)), (Lines{"0||has no header: the first line is empty"}));
}

TEST(Csv, HeaderOnlyIsAnEmptyTable) {
  const auto table = csv::read("a,b\r\n", 100);
  EXPECT_EQ(problems(table), Lines{});
  EXPECT_TRUE(table.rows.empty());
}

TEST(Csv, DuplicateAndEmptyHeaderNames) {
  const auto table = csv::read("id,name,,id,id\r\n1,2,3,4,5\r\n", 100);
  EXPECT_EQ(problems(table),
            (Lines{"0||column 3 has an empty header name", "0|id|appears more than once in the header"}));
}

TEST(Csv, MaxRowsLimit) {
  EXPECT_EQ(problems(csv::read("a\r\n1\r\n2\r\n", 2)), Lines{});
  EXPECT_EQ(problems(csv::read("a,b\r\n1,2\r\n3,4\r\n\r\n", 2)), Lines{});
  EXPECT_EQ(problems(csv::read("a\r\n1\r\n2\r\n3\r\n", 2)), (Lines{"0||has more than 2 rows"}));
  EXPECT_EQ(problems(csv::read("a\r\n1\r\n", 0)), (Lines{"0||has more than 0 rows"}));
}

TEST(Csv, MaxProblemsStopsCollecting) {
  std::string text = "a,b\r\n";
  for (int i = 0; i < 50; ++i) text += "1\r\n";
  const auto table = csv::read(text, 1000, 3);
  EXPECT_EQ(problems(table), (Lines{"1||has 1 cells, the header has 2", "2||has 1 cells, the header has 2",
                                    "3||has 1 cells, the header has 2"}));
  EXPECT_EQ(csv::read(text, 1000, 0).problems.size(), 1u);
  EXPECT_EQ(csv::read(text, 1000).problems.size(), 50u);
}

TEST(Csv, TenThousandRowsReadWhole) {
  std::string text;
  const Cells header = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
  text += row_of(header);
  for (int r = 0; r < 10000; ++r)
    text += row_of({"S-" + std::to_string(r), "12.5", "=x", "a,b", "mg/L", "x", "y", "\"q\"", "", "Zürich"});
  const auto table = csv::read(text, 10000);
  EXPECT_EQ(problems(table), Lines{});
  ASSERT_EQ(table.rows.size(), 10000u);
  EXPECT_EQ(table.rows[9999][0], "S-9999");
  EXPECT_EQ(table.rows[9999][2], "=x");
  EXPECT_EQ(table.rows[9999][9], "Zürich");
}
