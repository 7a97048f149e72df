// Instrument files read through an import profile: a metric column or one metric per file, the unit from
// a column or the profile, a scale, a preamble skipped unread, CSV or TSV, positions in pairs, decimal
// commas only when the profile says so, and every way a file is refused naming the file's line and the
// header's column; what a profile may not say; and the CSV reader's tab dialect and line numbers.
#include "analysis/imports/reading.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "kit/csv.hpp"

namespace imp = spectra::imports;
namespace csv = spectra::kit::csv;

namespace {

using Lines = std::vector<std::string>;
using Cells = std::vector<std::string>;

// The problems as "line|column|message" lines, so a failure shows all of them at once.
Lines problems(const imp::Reading& r) {
  Lines out;
  for (const auto& p : r.problems) out.push_back(std::to_string(p.line) + "|" + p.column + "|" + p.message);
  return out;
}

// The CSV reader's problems as "row|line|column|message".
Lines problems(const csv::Table& t) {
  Lines out;
  for (const auto& p : t.problems)
    out.push_back(std::to_string(p.row) + "|" + std::to_string(p.line) + "|" + p.column + "|" + p.message);
  return out;
}

// The fields a profile's problems name.
Lines fields(const imp::Profile& p) {
  Lines out;
  for (const auto& [field, message] : imp::profile_problems(p)) out.push_back(field);
  return out;
}

std::string text_of(const std::optional<std::string>& s) { return s ? *s : "-"; }
template <class T>
std::string pair_of(const std::optional<T>& a, const std::optional<T>& b) {
  if (!a || !b) return "-";
  std::ostringstream out;
  out << *a << "," << *b;
  return out.str();
}

// Each result but its value as "line|metric|unit|x,y|die_x,die_y|site" ("-" for none).
Lines rows(const imp::Reading& r) {
  Lines out;
  for (const auto& i : r.results)
    out.push_back(std::to_string(i.line) + "|" + i.metric + "|" + text_of(i.unit) + "|" + pair_of(i.x_mm, i.y_mm) + "|" +
                  pair_of(i.die_x, i.die_y) + "|" + text_of(i.site));
  return out;
}

std::vector<double> values(const imp::Reading& r) {
  std::vector<double> out;
  for (const auto& i : r.results) out.push_back(i.value);
  return out;
}

// A CSV profile whose metric and value come from the columns "metric" and "value".
imp::Profile by_column() {
  imp::Profile p;
  p.columns.metric = "metric";
  p.columns.value = "value";
  return p;
}

// A profile of one metric per file, its values in the column "value".
imp::Profile one_metric(const std::string& metric, const std::string& format = "csv") {
  imp::Profile p;
  p.format = format;
  p.columns.value = "value";
  p.metric = metric;
  return p;
}

imp::Reading read(std::string_view bytes, const imp::Profile& p, std::size_t max_rows = 1000) {
  return imp::read_file(bytes, p, max_rows);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// What a file gives

TEST(ImportReading, AMetricColumnAndAValueColumnGiveOneResultPerLine) {
  const auto r = read("metric,value\nthickness,100.5\nstress,-3\n", by_column());
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"2|thickness|-|-|-|-", "3|stress|-|-|-|-"}));
  EXPECT_EQ(values(r), (std::vector<double>{100.5, -3}));
}

TEST(ImportReading, AProfileOfOneMetricNamesEveryRowsMetricAndUnit) {
  auto p = one_metric("thickness");
  p.unit = "nm";
  const auto r = read("site,value\nC,101\nN,99.5\n", p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"2|thickness|nm|-|-|-", "3|thickness|nm|-|-|-"}));
  EXPECT_EQ(values(r), (std::vector<double>{101, 99.5}));
}

TEST(ImportReading, AUnitColumnWinsOverTheProfilesUnitUnlessItsCellIsEmpty) {
  auto p = by_column();
  p.columns.unit = "unit";
  p.unit = "nm";
  const auto r = read("metric,value,unit\nt,1,um\nt,2,\nt,3,  \n", p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"2|t|um|-|-|-", "3|t|nm|-|-|-", "4|t|nm|-|-|-"}));
  // Without a profile unit an empty cell is no unit.
  p.unit.reset();
  EXPECT_EQ(rows(read("metric,value,unit\nt,1,\n", p)), (Lines{"2|t|-|-|-|-"}));
}

TEST(ImportReading, UnitScaleMultipliesEveryValue) {
  auto p = one_metric("thickness");
  p.unit = "nm";
  p.unit_scale = 1000;  // the file is in µm
  const auto r = read("value\n0.1\n-2.5\n0\n", p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(values(r), (std::vector<double>{100, -2500, 0}));
  // A value that is finite in the file but not once scaled is refused.
  p.unit_scale = 1e300;
  EXPECT_EQ(problems(read("value\n1\n1e10\n", p)), (Lines{"3|value|is not finite once scaled by unit_scale"}));
}

TEST(ImportReading, SkippedLinesAreNotReadAndLinesCountFromTheFilesFirst) {
  auto p = by_column();
  p.skip_lines = 3;
  // The preamble is not CSV: an unclosed quote, a bare quote, more cells than the header.
  const std::string preamble = "Instrument: \"Ellipso 5000\nOperator: O\"Brien, shift 2, bay 4\n\n";
  const auto r = read(preamble + "metric,value\nt,1\nt,2\n", p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"5|t|-|-|-|-", "6|t|-|-|-|-"}));
  // Problems after the preamble name the file's lines.
  EXPECT_EQ(problems(read(preamble + "metric,value\nt,1\nt,x\nt,1,2\n", p)),
            (Lines{"7||has 3 cells, the header has 2"}));
  EXPECT_EQ(problems(read(preamble + "metric,value\nt,1\nt,x\n", p)), (Lines{"6|value|is not a number: 'x'"}));
  // A file that ends inside the preamble has no header.
  p.skip_lines = 5;
  EXPECT_EQ(problems(read("a\nb\nc\n", p)),
            (Lines{"0||has no header: the profile skips 5 lines and the file ends there"}));
}

TEST(ImportReading, ATsvFileIsSplitOnTabsAndItsCommasAreData) {
  auto p = by_column();
  p.format = "tsv";
  p.columns.site = "site";
  const auto r = read("metric\tvalue\tsite\nthickness\t1.5\tnorth, edge\nthickness\t2\t\"a\tb\"x\n", p);
  // The last line's quoted cell has text after its closing quote: refused as in CSV.
  EXPECT_EQ(problems(r), (Lines{"3|site|has text after its closing quote"}));
  const auto ok = read("metric\tvalue\tsite\nthickness\t1.5\tnorth, edge\n", p);
  EXPECT_EQ(problems(ok), Lines{});
  EXPECT_EQ(rows(ok), (Lines{"2|thickness|-|-|-|north, edge"}));
  EXPECT_EQ(values(ok), (std::vector<double>{1.5}));
  // The same file read as CSV has no "value" column: its header is one cell.
  EXPECT_EQ(problems(read("metric\tvalue\nthickness\t1.5\n", by_column())),
            (Lines{"1|metric|is not in the header (columns.metric)", "1|value|is not in the header (columns.value)"}));
}

TEST(ImportReading, PositionsAreReadInPairsWithTheDieAndTheSite) {
  auto p = by_column();
  p.columns.x_mm = "x";
  p.columns.y_mm = "y";
  p.columns.die_x = "col";
  p.columns.die_y = "row";
  p.columns.site = "site";
  const auto r = read("metric,value,x,y,col,row,site\n"
                      "t,1,-12.5,30,3,-2,center\n"
                      "t,2,,,,,\n"
                      "t,3,0,0,+4, 7 , edge \n",
                      p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"2|t|-|-12.5,30|3,-2|center", "3|t|-|-|-|-", "4|t|-|0,0|4,7|edge"}));
}

TEST(ImportReading, AByteOrderMarkIsNotPartOfTheFirstHeaderNorOfThePreamble) {
  const auto r = read("\xEF\xBB\xBFmetric,value\nt,1\n", by_column());
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"2|t|-|-|-|-"}));
  auto p = by_column();
  p.skip_lines = 1;
  const auto skipped = read("\xEF\xBB\xBF# exported 2024-05-01\nmetric,value\nt,1\n", p);
  EXPECT_EQ(problems(skipped), Lines{});
  EXPECT_EQ(rows(skipped), (Lines{"3|t|-|-|-|-"}));
}

TEST(ImportReading, CrlfAndLfLineEndsMayBeMixed) {
  const auto r = read("metric,value\r\nt,1\nt,2\r\nt,3\nt,4", by_column());
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"2|t|-|-|-|-", "3|t|-|-|-|-", "4|t|-|-|-|-", "5|t|-|-|-|-"}));
  EXPECT_EQ(values(r), (std::vector<double>{1, 2, 3, 4}));
}

TEST(ImportReading, AQuotedLineBreakMovesTheNextRowsLineNumber) {
  auto p = by_column();
  const auto r = read("metric,value,note\nt,1,\"two\r\nlines\"\nt,2,x\n", p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(rows(r), (Lines{"2|t|-|-|-|-", "4|t|-|-|-|-"}));
  EXPECT_EQ(problems(read("metric,value,note\nt,1,\"a\nb\nc\"\nt,oops,x\n", p)), (Lines{"5|value|is not a number: 'oops'"}));
}

TEST(ImportReading, ALineBreakInsideAMetricUnitOrSiteIsRefused) {
  auto p = by_column();
  EXPECT_EQ(problems(read("metric,value\n\"thick\nness\",1\nt,2\n", p)), (Lines{"2|metric|holds a line break or a tab"}));
  p.columns.unit = "unit";
  p.columns.site = "site";
  EXPECT_EQ(problems(read("metric,value,unit,site\nt,1,\"n\r\nm\",\"a\tb\"\n", p)),
            (Lines{"2|unit|holds a line break or a tab", "2|site|holds a line break or a tab"}));
}

TEST(ImportReading, ADecimalCommaIsRefusedUnlessTheProfileSaysSo) {
  auto p = one_metric("thickness", "tsv");
  EXPECT_EQ(problems(read("value\n1,5\n", p)),
            (Lines{"2|value|is not a number: '1,5' has a decimal comma (the profile says decimal_comma: false)"}));
  // In a CSV file only a quoted cell can hold a comma, and it is refused the same way.
  EXPECT_EQ(problems(read("site,value\nC,\"1,5\"\n", one_metric("thickness"))),
            (Lines{"2|value|is not a number: '1,5' has a decimal comma (the profile says decimal_comma: false)"}));
  p.decimal_comma = true;
  p.columns.x_mm = "x";
  p.columns.y_mm = "y";
  const auto r = read("value\tx\ty\n1,5\t-2,25\t0\n-0,125\t1\t1,0\n", p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(values(r), (std::vector<double>{1.5, -0.125}));
  EXPECT_EQ(rows(r), (Lines{"2|thickness|-|-2.25,0|-|-", "3|thickness|-|1,1|-|-"}));
  // A comma and a point in one number are a thousands separator or a typo: refused either way.
  EXPECT_EQ(problems(read("value\tx\ty\n1.234,5\t0\t0\n", p)),
            (Lines{"2|value|is not a number: '1.234,5' has both a comma and a point"}));
}

TEST(ImportReading, PaddingAroundNumbersAndAnExplicitSignAndExponentAreAccepted) {
  auto p = by_column();
  p.columns.x_mm = "x";
  p.columns.y_mm = "y";
  const auto r = read("metric,value,x,y\nt,  +1.5E-03 , 1 ,\t-2\t\nt,-7e2,+0.5,5E-1\n", p);
  EXPECT_EQ(problems(r), Lines{});
  EXPECT_EQ(values(r), (std::vector<double>{1.5e-3, -700}));
  EXPECT_EQ(rows(r), (Lines{"2|t|-|1,-2|-|-", "3|t|-|0.5,0.5|-|-"}));
}

// ---------------------------------------------------------------------------------------------
// What a file is refused for

TEST(ImportReading, ABinaryFileIsRefusedNamingTheLineOfItsFirstControlCharacter) {
  const std::string nul("t,\0\x01\n", 5);
  EXPECT_EQ(problems(read("metric,value\nt,1\n" + nul, by_column())),
            (Lines{"3||is not text: it holds control characters (a binary file?)"}));
  EXPECT_EQ(problems(read("\x89PNG\r\n\x1a\n", by_column())),
            (Lines{"2||is not text: it holds control characters (a binary file?)"}));
  EXPECT_EQ(problems(read("metric,value\nt,1\x7f\n", by_column())),
            (Lines{"2||is not text: it holds control characters (a binary file?)"}));
  // Even in the preamble, which is otherwise not read.
  auto p = by_column();
  p.skip_lines = 1;
  EXPECT_EQ(problems(read(std::string("\0", 1) + "\nmetric,value\nt,1\n", p)),
            (Lines{"1||is not text: it holds control characters (a binary file?)"}));
}

TEST(ImportReading, AnEmptyFileAndAHeaderWithoutRowsAreRefused) {
  EXPECT_EQ(problems(read("", by_column())), (Lines{"0||is empty"}));
  EXPECT_EQ(problems(read("metric,value\n", by_column())), (Lines{"0||has a header and no data rows"}));
  EXPECT_EQ(problems(read("metric,value", by_column())), (Lines{"0||has a header and no data rows"}));
  const auto bom_only = read("\xEF\xBB\xBF", by_column());
  ASSERT_EQ(bom_only.problems.size(), 1u) << ::testing::PrintToString(problems(bom_only));
  EXPECT_EQ(bom_only.problems[0].line, 0u);
  EXPECT_TRUE(bom_only.results.empty());
}

TEST(ImportReading, AColumnMissingFromTheHeaderIsNamedWithTheHeadersLine) {
  auto p = by_column();
  p.skip_lines = 2;
  p.columns.x_mm = "X";
  p.columns.y_mm = "Y";
  const auto r = read("preamble\nmore\nmetric,val,X\nt,1,2\n", p);
  EXPECT_EQ(problems(r), (Lines{"3|value|is not in the header (columns.value)", "3|Y|is not in the header (columns.y_mm)"}));
  EXPECT_TRUE(r.results.empty());
}

TEST(ImportReading, AValueThatIsNotANumberNamesItsLineAndColumnAndNothingIsRead) {
  const auto r = read("metric,value\nt,1\nt,abc\nt,\nt,1.5.2\nt,0x10\nt,nan\nt,1e999\nt,2\n", by_column());
  EXPECT_EQ(problems(r), (Lines{"3|value|is not a number: 'abc'", "4|value|is empty", "5|value|is not a number: '1.5.2'",
                                "6|value|is not a number: '0x10'", "7|value|is not a finite number: 'nan'",
                                "8|value|is out of range: '1e999'"}));
  EXPECT_TRUE(r.results.empty());
  EXPECT_EQ(problems(read("metric,value\n ,1\n", by_column())), (Lines{"2|metric|is empty: the metric is required"}));
}

TEST(ImportReading, OneOfAPositionPairWithoutTheOtherIsRefused) {
  auto p = by_column();
  p.columns.x_mm = "x";
  p.columns.y_mm = "y";
  p.columns.die_x = "col";
  p.columns.die_y = "row";
  const auto r = read("metric,value,x,y,col,row\nt,1,5,,,\nt,2,,6,,\nt,3,,,1,\nt,4,1,1,1,1\n", p);
  EXPECT_EQ(problems(r), (Lines{"2|y|is empty while x is not", "3|x|is empty while y is not",
                                "4|row|is empty while col is not"}));
  EXPECT_TRUE(r.results.empty());
}

TEST(ImportReading, ADiePositionMustBeAnInteger) {
  auto p = by_column();
  p.columns.die_x = "col";
  p.columns.die_y = "row";
  EXPECT_EQ(problems(read("metric,value,col,row\nt,1,1.5,2\nt,2,3,x\nt,3,99999999999,1\n", p)),
            (Lines{"2|col|is not an integer: '1.5'", "3|row|is not an integer: 'x'",
                   "4|col|is not an integer: '99999999999'"}));
}

TEST(ImportReading, MoreRowsThanTheLimitRefuseTheWholeFile) {
  const auto p = one_metric("t");
  EXPECT_EQ(problems(read("value\n1\n2\n", p, 2)), Lines{});
  const auto r = read("value\n1\n2\n3\n", p, 2);
  // The limit is the file's problem, not one line's.
  EXPECT_EQ(problems(r), (Lines{"0||has more than 2 rows"}));
  EXPECT_TRUE(r.results.empty());
}

TEST(ImportReading, ProblemsStopAtTheLimit) {
  std::string text = "metric,value\n";
  for (int i = 0; i < 50; ++i) text += "t,x\n";
  EXPECT_EQ(imp::read_file(text, by_column(), 1000, 3).problems.size(), 3u);
  EXPECT_EQ(imp::read_file(text, by_column(), 1000).problems.size(), 50u);
}

// ---------------------------------------------------------------------------------------------
// What a profile may say

TEST(ImportReading, AProfileWithAValueColumnAndOneMetricSourceIsSound) {
  EXPECT_EQ(fields(by_column()), Lines{});
  EXPECT_EQ(fields(one_metric("t")), Lines{});
  auto full = by_column();
  full.format = "tsv";
  full.columns.unit = "u";
  full.columns.x_mm = "x";
  full.columns.y_mm = "y";
  full.columns.die_x = "c";
  full.columns.die_y = "r";
  full.columns.site = "s";
  full.unit_scale = 0.001;
  full.decimal_comma = true;
  EXPECT_EQ(fields(full), Lines{});
}

TEST(ImportReading, AProfileWithoutAValueColumnIsRefused) {
  imp::Profile p;
  p.columns.metric = "metric";
  EXPECT_EQ(fields(p), (Lines{"columns.value"}));
}

TEST(ImportReading, AProfileNeedsAMetricColumnOrOneMetricButNotBoth) {
  auto both = by_column();
  both.metric = "thickness";
  EXPECT_EQ(fields(both), (Lines{"metric"}));
  imp::Profile neither;
  neither.columns.value = "value";
  EXPECT_EQ(fields(neither), (Lines{"columns.metric"}));
}

TEST(ImportReading, PositionColumnsAreMappedInPairs) {
  auto x_only = by_column();
  x_only.columns.x_mm = "x";
  EXPECT_EQ(fields(x_only), (Lines{"columns.y_mm"}));
  auto y_only = by_column();
  y_only.columns.y_mm = "y";
  EXPECT_EQ(fields(y_only), (Lines{"columns.x_mm"}));
  auto die_x_only = by_column();
  die_x_only.columns.die_x = "c";
  EXPECT_EQ(fields(die_x_only), (Lines{"columns.die_y"}));
}

TEST(ImportReading, AHeaderNameUsedTwiceIsRefused) {
  auto p = by_column();
  p.columns.value = "metric";
  const auto found = imp::profile_problems(p);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first, "columns.value");
  EXPECT_NE(found[0].second.find("columns.metric"), std::string::npos) << found[0].second;
  auto site = by_column();
  site.columns.site = "value";
  EXPECT_EQ(fields(site), (Lines{"columns.site"}));
}

TEST(ImportReading, AScaleMustBeAPositiveFiniteNumber) {
  for (double scale : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    auto p = by_column();
    p.unit_scale = scale;
    EXPECT_EQ(fields(p), (Lines{"unit_scale"})) << scale;
  }
}

TEST(ImportReading, ADecimalCommaIsForTsvProfilesOnly) {
  auto p = by_column();
  p.decimal_comma = true;
  EXPECT_EQ(fields(p), (Lines{"decimal_comma"}));
  p.format = "tsv";
  EXPECT_EQ(fields(p), Lines{});
}

// ---------------------------------------------------------------------------------------------
// The CSV reader's tab dialect and line numbers (kit/csv.hpp)

TEST(CsvDialect, ATabSeparatedFileKeepsCommasInItsCellsAndReadsQuotes) {
  const auto t = csv::read("a\tb\r\n1,5\t\"x\ty \"\"q\"\"\"\r\n\t\r\n", 100, 100, csv::Dialect{'\t'});
  EXPECT_EQ(problems(t), Lines{});
  EXPECT_EQ(t.header, (Cells{"a", "b"}));
  EXPECT_EQ(t.rows, (std::vector<Cells>{{"1,5", "x\ty \"q\""}, {"", ""}}));
  // And a comma-separated file keeps its tabs.
  const auto c = csv::read("a,b\n1\t2,3\n", 100);
  EXPECT_EQ(problems(c), Lines{});
  EXPECT_EQ(c.rows, (std::vector<Cells>{{"1\t2", "3"}}));
}

TEST(CsvDialect, EachRowKnowsTheLineItStartsOn) {
  const auto t = csv::read("a,b\n1,2\r\n\"x\ny\r\nz\",3\n4,5\n\"\",6", 100);
  EXPECT_EQ(problems(t), Lines{});
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_EQ(t.lines, (std::vector<std::size_t>{2, 3, 6, 7}));
  const auto tsv = csv::read("a\tb\n1\t\"p\nq\"\n2\t3\n", 100, 100, csv::Dialect{'\t'});
  EXPECT_EQ(problems(tsv), Lines{});
  EXPECT_EQ(tsv.lines, (std::vector<std::size_t>{2, 4}));
}

TEST(CsvDialect, AProblemNamesTheLineItsRowStartsOn) {
  EXPECT_EQ(problems(csv::read("a,b\n1,2\n\"x\ny\",3\n4\n", 100)), (Lines{"3|5||has 1 cells, the header has 2"}));
  EXPECT_EQ(problems(csv::read("a,b\n1,2\n\"x\ny\",3\n5,\"open\n6,7\n", 100)),
            (Lines{"3|5|b|has a quote that is never closed"}));
  EXPECT_EQ(problems(csv::read("a,a\n1,2\n", 100)), (Lines{"0|1|a|appears more than once in the header"}));
  EXPECT_EQ(problems(csv::read("a,b\r\n1,2\r\n2,caf\xE9\r\n", 100)), (Lines{"2|3||is not valid UTF-8"}));
  EXPECT_EQ(problems(csv::read("", 100)), (Lines{"0|0||is empty"}));
}

TEST(CsvDialect, TooManyRowsIsAProblemOfTheFileNotOfALine) {
  EXPECT_EQ(problems(csv::read("a\n1\n2\n3\n", 2)), (Lines{"0|0||has more than 2 rows"}));
}
