// SEMI G85 die bin maps: reading the three notations, writing maps that read back the same, every way a
// file is refused, and the hostile ones (DTD entities, depth, size) refused without being expanded.
#include "analysis/binmaps/g85.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace g85 = spectra::binmaps;

namespace {

using Lines = std::vector<std::string>;

// The problems as "where|message" lines, so a failure shows all of them at once.
Lines problems(const g85::Read& read) {
  Lines out;
  for (const auto& p : read.problems) out.push_back(p.where + "|" + p.message);
  return out;
}

constexpr std::string_view decimal_map = R"(<?xml version="1.0" encoding="UTF-8"?>
<Maps>
  <Map xmlns:semi="http://www.semi.org" WaferId="W01" FormatRevision="SEMI G85 0703">
    <Device ProductId="P1" LotId="L1" WaferSize="150" DeviceSizeX="5" DeviceSizeY="5" Orientation="0"
            OriginLocation="0" BinType="Decimal" NullBin="255" Rows="3" Columns="4">
      <ReferenceDevice ReferenceDeviceX="1" ReferenceDeviceY="1"/>
      <Bin BinCode="1" BinCount="7" BinQuality="Pass" BinDescription="Good"/>
      <Bin BinCode="2" BinCount="1" BinQuality="Fail" BinDescription="Open"/>
      <Data MapName="Map" MapVersion="1">
        <Row><![CDATA[255 001 001 255]]></Row>
        <Row><![CDATA[001 001 002 001]]></Row>
        <Row><![CDATA[255 001 001 255]]></Row>
      </Data>
    </Device>
  </Map>
</Maps>
)";

constexpr std::string_view ascii_map = R"(<?xml version="1.0"?>
<Maps>
  <Map WaferId="A7" FormatRevision="G85-1101">
    <Device LotId="L2" BinType="ASCII" NullBin="." Rows="3" Columns="5" Orientation="180" OriginLocation="2">
      <Bin BinCode="G" BinQuality="Pass" BinDescription="Good die"/>
      <Bin BinCode="X" BinQuality="Fail" BinDescription="Failed die"/>
      <Data>
        <Row>..G..</Row>
        <Row>
          .GXG.
        </Row>
        <Row><![CDATA[..G..]]></Row>
      </Data>
    </Device>
  </Map>
</Maps>
)";

constexpr std::string_view hex_map = R"(<?xml version="1.0"?>
<Maps>
  <Map WaferId="H3" FormatRevision="G85-1101">
    <Device LotId="L3" BinType="Hexadecimal" NullBin="ff" Rows="2" Columns="3">
      <Bin BinCode="01" BinCount="3" BinQuality="PASS"/>
      <Bin BinCode="0a" BinCount="1" BinQuality="Fail"/>
      <Data>
        <Row><![CDATA[FF01ff]]></Row>
        <Row><![CDATA[01 0A01]]></Row>
      </Data>
    </Device>
  </Map>
</Maps>
)";

// A Decimal map whose Device attributes and body the test chooses.
std::string map_with(std::string_view device_attributes, std::string_view body) {
  return "<?xml version=\"1.0\"?>\n<Maps><Map WaferId=\"W\" FormatRevision=\"G85-1101\"><Device " +
         std::string(device_attributes) + ">" + std::string(body) + "</Device></Map></Maps>";
}

std::string data_of(const std::vector<std::string>& rows) {
  std::string out = "<Data>";
  for (const auto& row : rows) out += "<Row><![CDATA[" + row + "]]></Row>";
  return out + "</Data>";
}

constexpr std::string_view two_by_two = R"(BinType="Decimal" NullBin="255" Rows="2" Columns="2")";
constexpr std::string_view one_bin = R"(<Bin BinCode="1" BinQuality="Pass"/>)";

g85::BinMap read_cleanly(std::string_view xml) {
  const auto read = g85::read_g85(xml);
  EXPECT_EQ(problems(read), Lines{});
  return read.map.value_or(g85::BinMap{});
}

}  // namespace

TEST(G85, ReadsADecimalMapWithItsBinsDiesAndYield) {
  const auto map = read_cleanly(decimal_map);
  EXPECT_EQ(map.wafer_id, "W01");
  EXPECT_EQ(map.lot_id, "L1");
  EXPECT_EQ(map.product_id, "P1");
  EXPECT_EQ(map.format_revision, "SEMI G85 0703");
  EXPECT_EQ(map.bin_type, "Decimal");
  EXPECT_EQ(map.null_bin, "255");
  EXPECT_EQ(map.rows, 3);
  EXPECT_EQ(map.columns, 4);
  EXPECT_EQ(map.wafer_size, 150.0);
  EXPECT_EQ(map.device_size_x, 5.0);
  EXPECT_EQ(map.device_size_y, 5.0);
  EXPECT_EQ(map.orientation, 0);
  EXPECT_EQ(map.origin_location, 0);
  EXPECT_EQ(map.reference_x, 1);
  EXPECT_EQ(map.reference_y, 1);
  EXPECT_EQ(map.bins, (std::vector<g85::Bin>{{"1", 7, "Pass", "Good"}, {"2", 1, "Fail", "Open"}}));
  EXPECT_EQ(map.dies, (Lines{"255", "1", "1", "255", "1", "1", "2", "1", "255", "1", "1", "255"}));
  using Attributes = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(map.other_map_attributes, (Attributes{{"xmlns:semi", "http://www.semi.org"}}));
  EXPECT_EQ(map.other_device_attributes, Attributes{});
  const auto yield = g85::yield_of(map);
  EXPECT_EQ(yield.tested, 8);
  EXPECT_EQ(yield.pass, 7);
  EXPECT_EQ(yield.yield_pct, 87.5);
}

TEST(G85, DecimalCodesAreComparedAsNumbers) {
  const auto map = read_cleanly(map_with(R"(BinType="Decimal" NullBin="0255" Rows="2" Columns="2")",
                                         R"(<Bin BinCode="001" BinCount="3" BinQuality="Pass"/>)" +
                                             data_of({"1 00255", "  01\t\n0000000001  "})));
  EXPECT_EQ(map.null_bin, "255");
  EXPECT_EQ(map.bins.at(0).code, "1");
  EXPECT_EQ(map.dies, (Lines{"1", "255", "1", "1"}));
}

TEST(G85, ReadsAnAsciiMapOneCharacterADie) {
  const auto map = read_cleanly(ascii_map);
  EXPECT_EQ(map.bin_type, "ASCII");
  EXPECT_EQ(map.null_bin, ".");
  EXPECT_EQ(map.orientation, 180);
  EXPECT_EQ(map.origin_location, 2);
  EXPECT_EQ(map.dies, (Lines{".", ".", "G", ".", ".", ".", "G", "X", "G", ".", ".", ".", "G", ".", "."}));
  // Without BinCount in the file, the counts come from the map.
  EXPECT_EQ(map.bins, (std::vector<g85::Bin>{{"G", 4, "Pass", "Good die"}, {"X", 1, "Fail", "Failed die"}}));
  const auto yield = g85::yield_of(map);
  EXPECT_EQ(yield.tested, 5);
  EXPECT_EQ(yield.pass, 4);
  EXPECT_EQ(yield.yield_pct, 80.0);
}

TEST(G85, ReadsAHexaDecimalMapInEitherCase) {
  const auto map = read_cleanly(hex_map);
  EXPECT_EQ(map.bin_type, "HexaDecimal");
  EXPECT_EQ(map.null_bin, "FF");
  EXPECT_EQ(map.bins, (std::vector<g85::Bin>{{"01", 3, "PASS", ""}, {"0A", 1, "Fail", ""}}));
  EXPECT_EQ(map.dies, (Lines{"FF", "01", "FF", "01", "0A", "01"}));
  const auto yield = g85::yield_of(map);  // "PASS" passes: BinQuality is compared in any case
  EXPECT_EQ(yield.tested, 4);
  EXPECT_EQ(yield.pass, 3);
}

TEST(G85, ABareMapRootIsReadLikeOneInsideMaps) {
  std::string bare(decimal_map);
  bare.erase(bare.find("<Maps>"), 6);
  bare.erase(bare.find("</Maps>"), 7);
  EXPECT_EQ(read_cleanly(bare), read_cleanly(decimal_map));
}

TEST(G85, ANamespacePrefixedFileIsReadByLocalNames) {
  const auto map = read_cleanly(R"(<?xml version="1.0"?>
<semi:Maps xmlns:semi="http://www.semi.org">
  <semi:Map semi:WaferId="W9" FormatRevision="G85-1101">
    <semi:Device semi:BinType="Decimal" NullBin="255" semi:Rows="1" Columns="2" semi:CreateDate="2024">
      <semi:Bin semi:BinCode="1" BinQuality="Pass"/>
      <semi:Data><semi:Row><![CDATA[1 255]]></semi:Row></semi:Data>
    </semi:Device>
  </semi:Map>
</semi:Maps>)");
  EXPECT_EQ(map.wafer_id, "W9");
  EXPECT_EQ(map.rows, 1);
  EXPECT_EQ(map.dies, (Lines{"1", "255"}));
  EXPECT_EQ(map.bins.at(0).count, 1);
  using Attributes = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(map.other_device_attributes, (Attributes{{"semi:CreateDate", "2024"}}));
}

TEST(G85, AttributesG85DoesNotNameAreKeptInTheirOrder) {
  const auto map = read_cleanly(
      map_with(R"(CreateDate="2009022511532100" BinType="Decimal" SupplierName="Fab &amp; Co" NullBin="255"
                  Rows="1" Columns="1" Status="Product")",
               std::string(one_bin) + data_of({"1"})));
  using Attributes = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(map.other_device_attributes,
            (Attributes{{"CreateDate", "2009022511532100"}, {"SupplierName", "Fab & Co"}, {"Status", "Product"}}));
}

TEST(G85, ReadsBackWhatItWritesForEachBinType) {
  for (const auto xml : {decimal_map, ascii_map, hex_map}) {
    const auto map = read_cleanly(xml);
    const auto written = g85::write_g85(map);
    const auto again = g85::read_g85(written);
    EXPECT_EQ(problems(again), Lines{}) << written;
    EXPECT_TRUE(again.map == map) << written;
  }
}

TEST(G85, ReadsBackExtraAttributesAndTextThatNeedsEscaping) {
  g85::BinMap map;
  map.wafer_id = "W<1> & \"quoted\" 'single'";
  map.lot_id = "tab\there\nnew line\r\nand CRLF";
  map.product_id = "Zürich µm 日本";
  map.format_revision = "G85-1101";
  map.bin_type = "Decimal";
  map.null_bin = "255";
  map.rows = 2;
  map.columns = 2;
  map.wafer_size = 199.99;
  map.device_size_x = 0.1;
  map.device_size_y = 1e-7;
  map.orientation = 270;
  map.origin_location = 3;
  map.reference_x = -4;
  map.bins = {{"1", 2, "Pass", "good <die>"}, {"12345", 1, "Fail", ""}};
  map.dies = {"1", "255", "12345", "1"};
  map.other_map_attributes = {{"xmlns:semi", "http://www.semi.org"}, {"semi:Site", "B&C"}};
  map.other_device_attributes = {{"CreateDate", "2024"}, {"Prüfer", "Ä"}};
  const auto written = g85::write_g85(map);
  const auto again = g85::read_g85(written);
  EXPECT_EQ(problems(again), Lines{}) << written;
  EXPECT_TRUE(again.map == map) << written;
  EXPECT_NE(written.find(R"(<Row><![CDATA[00001 00255]]></Row>)"), std::string::npos) << written;
}

TEST(G85, WrittenRowsNeverCloseTheirCdataEarly) {
  g85::BinMap map;
  map.bin_type = "ASCII";
  map.null_bin = ".";
  map.rows = 1;
  map.columns = 5;
  map.bins = {{"]", 2, "Pass", ""}, {">", 1, "Fail", ""}, {"<", 1, "Fail", ""}};
  map.dies = {"]", "]", ">", ".", "<"};
  const auto written = g85::write_g85(map);
  EXPECT_NE(written.find("<Row><![CDATA[]]]]><![CDATA[>.<]]></Row>"), std::string::npos) << written;
  const auto again = g85::read_g85(written);
  EXPECT_EQ(problems(again), Lines{}) << written;
  EXPECT_TRUE(again.map == map) << written;
}

TEST(G85, WritingReplacesWhatXmlCannotCarryAndDropsBadAttributeNames) {
  g85::BinMap map;
  map.wafer_id = std::string("a\x01") + "b\xFF" + "c\xEF\xBF\xBE";
  map.bin_type = "Decimal";
  map.null_bin = "255";
  map.rows = 1;
  map.columns = 1;
  map.bins = {{"1", 1, "Pass", ""}};
  map.dies = {"1"};
  map.other_map_attributes = {{"bad name", "x"}, {"1st", "x"}, {"WaferId", "clash"}, {"semi:FormatRevision", "clash"},
                              {"ok", "1"},       {"ok", "2"},  {"a\xC3\x97", "x"},   {"", "x"}};
  const auto written = g85::write_g85(map);
  const auto again = g85::read_g85(written);
  EXPECT_EQ(problems(again), Lines{}) << written;
  ASSERT_TRUE(again.map) << written;
  EXPECT_EQ(again.map->wafer_id, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD");
  using Attributes = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(again.map->other_map_attributes, (Attributes{{"ok", "1"}}));
}

TEST(G85, MissingRowsColumnsBinTypeAndNullBinAreEachNamed) {
  const auto read = g85::read_g85(map_with("", std::string(one_bin) + data_of({"1"})));
  EXPECT_FALSE(read.map);
  EXPECT_EQ(problems(read), (Lines{"Device.Rows|is missing", "Device.Columns|is missing", "Device.BinType|is missing",
                                   "Device.NullBin|is missing"}));
}

TEST(G85, RowsAndColumnsMustBeWholeNumbersWithinTheLimits) {
  const auto body = std::string(one_bin) + data_of({"1"});
  EXPECT_EQ(problems(g85::read_g85(map_with(R"(BinType="Decimal" NullBin="255" Rows="0" Columns="1.5")", body))),
            (Lines{"Device.Rows|\"0\" is not a whole number from 1 to 4096",
                   "Device.Columns|\"1.5\" is not a whole number from 1 to 4096"}));
  EXPECT_EQ(problems(g85::read_g85(map_with(R"(BinType="Decimal" NullBin="255" Rows="4097" Columns="x")", body))),
            (Lines{"Device.Rows|\"4097\" is not a whole number from 1 to 4096",
                   "Device.Columns|\"x\" is not a whole number from 1 to 4096"}));
  EXPECT_EQ(problems(g85::read_g85(map_with(R"(BinType="Decimal" NullBin="255" Rows="2000" Columns="1000")", body))),
            (Lines{"Device|Rows x Columns is 2000000 dies, more than 1000000"}));
}

TEST(G85, OrientationAndSizesMustBeNumbers) {
  const auto read = g85::read_g85(map_with(
      R"(BinType="Decimal" NullBin="255" Rows="1" Columns="1" Orientation="down" WaferSize="-1" DeviceSizeX="nan")",
      std::string(one_bin) + R"(<ReferenceDevice ReferenceDeviceX="a"/>)" + data_of({"1"})));
  EXPECT_EQ(problems(read), (Lines{"Device.WaferSize|\"-1\" is not a number of at least 0",
                                   "Device.DeviceSizeX|\"nan\" is not a number of at least 0",
                                   "Device.Orientation|\"down\" is not a whole number",
                                   "ReferenceDevice.ReferenceDeviceX|\"a\" is not a whole number"}));
}

TEST(G85, AnUnknownBinTypeIsRefused) {
  const auto read =
      g85::read_g85(map_with(R"(BinType="Integer2" NullBin="0000" Rows="1" Columns="1")", data_of({"0001"})));
  EXPECT_EQ(problems(read), (Lines{"Device.BinType|\"Integer2\" is not ASCII, Decimal or HexaDecimal"}));
}

TEST(G85, TheNullBinMustBeACodeInTheBinType) {
  const auto read =
      g85::read_g85(map_with(R"(BinType="HexaDecimal" NullBin="255" Rows="1" Columns="1")", data_of({"01"})));
  EXPECT_EQ(problems(read),
            (Lines{"Device.NullBin|\"255\" is not a HexaDecimal bin code (two hexadecimal digits)"}));
}

TEST(G85, TheNumberOfRowElementsMustBeWhatRowsSays) {
  EXPECT_EQ(problems(g85::read_g85(map_with(two_by_two, std::string(one_bin) + data_of({"1 1"})))),
            (Lines{"Data|has 1 Row elements, Rows says 2"}));
  EXPECT_EQ(problems(g85::read_g85(map_with(two_by_two, std::string(one_bin) + data_of({"1 1", "1 1", "1 1"})))),
            (Lines{"Data|has 3 Row elements, Rows says 2"}));
  EXPECT_EQ(problems(g85::read_g85(map_with(two_by_two, one_bin))), (Lines{"Device|holds no Data element"}));
}

TEST(G85, ARowWithADifferentNumberOfDiesIsNamed) {
  const auto read = g85::read_g85(map_with(two_by_two, std::string(one_bin) + data_of({"1 1", "1 1 1"})));
  EXPECT_EQ(problems(read), (Lines{"Row 2|has 3 dies, Columns says 2"}));
}

TEST(G85, ADieCodeThatIsNotValidInTheNotationIsNamed) {
  EXPECT_EQ(problems(g85::read_g85(map_with(two_by_two, std::string(one_bin) + data_of({"1 A", "-1 1234567890"})))),
            (Lines{"Row 1|die 2: \"A\" is not a Decimal bin code (a whole number of at most 9 digits)",
                   "Row 2|die 1: \"-1\" is not a Decimal bin code (a whole number of at most 9 digits)"}));
  const auto hex = R"(BinType="HexaDecimal" NullBin="FF" Rows="2" Columns="2")";
  EXPECT_EQ(problems(g85::read_g85(map_with(hex, R"(<Bin BinCode="01"/>)" + data_of({"01GG", "01 FFF"})))),
            (Lines{"Row 1|die 2: \"GG\" is not a HexaDecimal bin code (two hexadecimal digits)",
                   "Row 2|\"FFF\" has an odd number of hexadecimal digits; each die takes two"}));
  const auto ascii = R"(BinType="ASCII" NullBin="." Rows="1" Columns="2")";
  EXPECT_EQ(problems(g85::read_g85(map_with(ascii, R"(<Bin BinCode="G"/>)" + data_of({"G\xC3\xA9"})))),
            (Lines{"Row 1|die 2: \"\xC3\xA9\" is not a ASCII bin code (one printable ASCII character)"}));
}

TEST(G85, ADieCodeNoBinDeclaresIsNamedOnceWithItsFirstRow) {
  const auto read = g85::read_g85(map_with(two_by_two, std::string(one_bin) + data_of({"1 255", "7 007"})));
  EXPECT_EQ(problems(read), (Lines{"Row 2|bin code 7 is not declared"}));
}

TEST(G85, ABinDeclaredTwiceIsRefused) {
  const auto read = g85::read_g85(
      map_with(two_by_two, R"(<Bin BinCode="001" BinQuality="Pass"/><Bin BinCode="1" BinQuality="Fail"/>)" +
                               data_of({"1 1", "1 1"})));
  EXPECT_EQ(problems(read), (Lines{"Bin 2.BinCode|bin code 1 is already declared by Bin 1"}));
}

TEST(G85, ABinCountThatDiffersFromTheMapNamesTheBin) {
  const auto read = g85::read_g85(
      map_with(two_by_two, R"(<Bin BinCode="1" BinCount="3"/><Bin BinCode="2" BinCount="7"/><Bin BinCode="3"/>)" +
                               data_of({"1 1", "1 2"})));
  EXPECT_EQ(problems(read), (Lines{"Bin 2.BinCount|says 7, the map has 1"}));
}

TEST(G85, ABinWithoutACodeOrWithABadCountIsRefused) {
  const auto read = g85::read_g85(map_with(
      two_by_two, R"(<Bin BinCount="1"/><Bin BinCode="1" BinCount="-1"/><Bin BinCode="2" BinCount="many"/>)" +
                      data_of({"1 1", "1 2"})));
  EXPECT_EQ(problems(read), (Lines{"Bin 1.BinCode|is missing",
                                   "Bin 2.BinCount|\"-1\" is not a whole number of at least 0",
                                   "Bin 3.BinCount|\"many\" is not a whole number of at least 0"}));
}

TEST(G85, MoreBinsThanTheLimitAreRefused) {
  std::string bins;
  for (int i = 0; i <= g85::max_bins; ++i) bins += "<Bin BinCode=\"" + std::to_string(i) + "\"/>";
  const auto read = g85::read_g85(map_with(two_by_two, bins + data_of({"1 1", "1 1"})));
  EXPECT_EQ(problems(read), (Lines{"Bin 4097|is one more than the 4096 Bins a map may hold"}));
}

TEST(G85, AMapWithAnExternalEntityIsRefusedWithoutExpandingIt) {
  const auto started = std::chrono::steady_clock::now();
  const auto read = g85::read_g85(R"(<?xml version="1.0"?>
<!DOCTYPE Maps [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Maps><Map WaferId="W" FormatRevision="G85-1101">
  <Device BinType="ASCII" NullBin="." Rows="1" Columns="1"><Data><Row>&xxe;</Row></Data></Device>
</Map></Maps>)");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_FALSE(read.map);
  EXPECT_EQ(problems(read), (Lines{"file|a document type declaration (DTD) is not allowed"}));
}

TEST(G85, ABillionLaughsPayloadIsRefusedQuicklyWithoutExpansion) {
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE Maps [\n  <!ENTITY lol0 \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    xml += "  <!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) xml += "&lol" + std::to_string(i - 1) + ";";
    xml += "\">\n";
  }
  xml += "]>\n<Maps><Map WaferId=\"&lol9;\"/></Maps>\n";
  const auto started = std::chrono::steady_clock::now();
  const auto read = g85::read_g85(xml);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  EXPECT_EQ(problems(read), (Lines{"file|a document type declaration (DTD) is not allowed"}));
}

TEST(G85, AnyDocumentTypeDeclarationIsRefusedEvenAnEmptyOne) {
  std::string xml(decimal_map);
  xml.insert(xml.find("<Maps>"), "<!DOCTYPE Maps>\n");
  EXPECT_EQ(problems(g85::read_g85(xml)), (Lines{"file|a document type declaration (DTD) is not allowed"}));
}

TEST(G85, AnEntityReferenceWithoutADtdIsNotWellFormed) {
  std::string xml(decimal_map);
  xml.replace(xml.find("W01"), 3, "&xxe;");
  EXPECT_EQ(problems(g85::read_g85(xml)), (Lines{"file|is not well-formed XML: line 3, column 3: undefined entity"}));
}

TEST(G85, MalformedXmlNamesTheLineWhereExpatStopped) {
  const auto read = g85::read_g85("<Maps>\n<Map WaferId=\"W\">\n</Device>\n</Maps>");
  EXPECT_FALSE(read.map);
  EXPECT_EQ(problems(read), (Lines{"file|is not well-formed XML: line 3, column 3: mismatched tag"}));
  EXPECT_EQ(problems(g85::read_g85("")), (Lines{"file|is not well-formed XML: line 1, column 1: no element found"}));
  EXPECT_EQ(problems(g85::read_g85("<Maps><Map WaferId=\"a\" WaferId=\"b\"/></Maps>")),
            (Lines{"file|is not well-formed XML: line 1, column 24: duplicate attribute"}));
}

TEST(G85, AFileOverTheSizeLimitIsRefusedBeforeParsing) {
  const std::string junk(100, '<');  // not parsed at all: only the size is reported
  EXPECT_EQ(problems(g85::read_g85(junk, 99)), (Lines{"file|is 100 bytes, more than the 99 a map may have"}));
  EXPECT_EQ(problems(g85::read_g85(decimal_map, decimal_map.size())), Lines{});
}

TEST(G85, ADepthBombIsRefused) {
  std::string xml = "<Maps>";
  for (int i = 0; i < 100; ++i) xml += "<a>";
  for (int i = 0; i < 100; ++i) xml += "</a>";
  xml += "</Maps>";
  EXPECT_EQ(problems(g85::read_g85(xml)), (Lines{"file|has elements nested more than 32 deep"}));
}

TEST(G85, AnOverlongAttributeIsRefused) {
  const std::string long_id(g85::max_attribute_chars + 1, 'x');
  std::string xml(decimal_map);
  xml.replace(xml.find("W01"), 3, long_id);
  xml.replace(xml.find("P1"), 2, long_id);
  EXPECT_EQ(problems(g85::read_g85(xml)),
            (Lines{"Map.WaferId|is longer than 1024 characters", "Device.ProductId|is longer than 1024 characters"}));
}

TEST(G85, TooManyUnnamedAttributesAreRefused) {
  std::string attributes;
  for (std::size_t i = 0; i <= g85::max_other_attributes; ++i) attributes += " x" + std::to_string(i) + "=\"\"";
  const auto read =
      g85::read_g85(map_with(std::string(two_by_two) + attributes, std::string(one_bin) + data_of({"1 1", "1 1"})));
  EXPECT_EQ(problems(read), (Lines{"Device|has more than 64 attributes G85 does not name"}));
}

TEST(G85, AnOverlongRowIsRefused) {
  const auto row = std::string(2 * 16 + 1024, ' ') + "1 1";
  EXPECT_EQ(problems(g85::read_g85(map_with(two_by_two, std::string(one_bin) + data_of({row, "1 1"})))),
            (Lines{"Row 1|has more than 1056 characters for 2 dies"}));
}

TEST(G85, OneFileHoldsOneMapOneDeviceAndOneData) {
  std::string two_maps(decimal_map);
  const auto map_start = two_maps.find("  <Map ");
  two_maps.insert(two_maps.find("</Maps>"), two_maps.substr(map_start, two_maps.find("</Maps>") - map_start));
  EXPECT_EQ(problems(g85::read_g85(two_maps)), (Lines{"file|holds more than one Map"}));
  const auto two_data = map_with(two_by_two, std::string(one_bin) + data_of({"1 1", "1 1"}) + data_of({"1 1", "1 1"}));
  EXPECT_EQ(problems(g85::read_g85(two_data)), (Lines{"Device|holds more than one Data element"}));
}

TEST(G85, AFileThatIsNotAMapIsRefused) {
  EXPECT_EQ(problems(g85::read_g85("<html><body/></html>")),
            (Lines{"file|has the root element \"html\"; a G85 map starts with Maps or Map"}));
  EXPECT_EQ(problems(g85::read_g85("<Maps><Other/></Maps>")), (Lines{"file|holds no Map"}));
  EXPECT_EQ(problems(g85::read_g85("<Map WaferId=\"W\"/>")), (Lines{"Map|holds no Device"}));
}

TEST(G85, ProblemsAreCappedWithANoteThatMoreWereCut) {
  std::vector<std::string> rows(200, "A");
  const auto read = g85::read_g85(map_with(R"(BinType="Decimal" NullBin="255" Rows="200" Columns="1")", data_of(rows)));
  ASSERT_EQ(read.problems.size(), g85::max_problems + 1);
  EXPECT_EQ(problems(read).back(), "file|has more problems than the 100 listed");
}

TEST(G85, YieldIsEmptyWhenNothingWasTested) {
  const auto map = read_cleanly(map_with(two_by_two, std::string(one_bin) + data_of({"255 255", "255 255"})));
  const auto yield = g85::yield_of(map);
  EXPECT_EQ(yield.tested, 0);
  EXPECT_EQ(yield.pass, 0);
  EXPECT_FALSE(yield.yield_pct);
  EXPECT_EQ(map.bins.at(0).count, 0);
}
