// Instrument data as a lab uses it: import profiles written by engineers and validated as a whole; an
// instrument's CSV or TSV file imported into a run as results with their positions, stored as the run's
// attachment, once per file (the same bytes again add nothing), refused naming its lines and columns
// when the profile cannot read it and then writing nothing, judged against the run's specification
// (failures held) and fed into SPC; a 100,000-row file; positions on the JSON results route checked
// against the sample's wafer; wafer maps as JSON (summary computed here from the values) and SVG; die bin
// maps from SEMI G85, written back and read again, hostile XML refused unexpanded; the runs list by barcode.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "platform/crypto.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

std::string iso(int days_from_now) {
  return db_text("SELECT to_char((now() + make_interval(days => $1::int)) AT TIME ZONE 'UTC',"
                 " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                 db::Params(days_from_now));
}

std::string tag() { return crypto::to_hex(crypto::random_bytes(4)); }

struct Lab {
  TestOrg org;
  std::string admin, pi, eng, tech, viewer;
  std::string tool;  // an instrument with a valid calibration: its runs are QUEUED, not BLOCKED
};

// An instrument with a calibration valid for the next 300 days.
std::string instrument(const Lab& l, const std::string& name) {
  auto i = analysis("POST", "/api/v1/instruments", l.eng,
                    js(json::object{{"name", name}, {"vendor", "V"}, {"model", "M"}, {"serial_number", name + "-" + tag()}}));
  if (i.status != 201) throw std::runtime_error("creating an instrument failed: " + describe(i));
  const std::string id = str(i.json(), "id");
  auto c = analysis("POST", "/api/v1/calibrations", l.eng,
                    js(json::object{{"instrument_id", id}, {"certificate_number", "CAL-" + tag()},
                                    {"calibrated_at", iso(-30)}, {"expires_at", iso(300)}}));
  if (c.status != 201) throw std::runtime_error("calibrating failed: " + describe(c));
  return id;
}

Lab lab() {
  Lab l{make_org(), {}, {}, {}, {}, {}, {}};
  l.admin = login(l.org.admin());
  l.pi = login(l.org.user("pi"));
  l.eng = login(l.org.user("engineer"));
  l.tech = login(l.org.user("technician"));
  l.viewer = login(l.org.user("viewer"));
  l.tool = instrument(l, "Ellipsometer");
  return l;
}

struct Sample {
  std::string id, barcode;
};

// A wafer sample (with a 150 mm wafer's properties unless `diameter` is none), of a material or none.
Sample sample(const Lab& l, std::optional<int> diameter = 150, std::optional<std::string> material = std::nullopt,
              std::optional<std::string> barcode = std::nullopt) {
  Sample s{{}, barcode.value_or("W-" + tag())};
  json::object body{{"name", "Wafer " + s.barcode}, {"sample_type", "wafer"}, {"barcode", s.barcode}};
  if (material) body["material_id"] = *material;
  auto r = lims("POST", "/api/samples", l.eng, js(body));
  if (r.status != 201) throw std::runtime_error("creating a sample failed: " + describe(r));
  s.id = str(r.json(), "id");
  if (diameter) {
    auto w = lims("POST", "/api/wafers", l.eng,
                  js(json::object{{"sample_id", s.id}, {"diameter_mm", *diameter}, {"orientation", "<100>"}, {"doping_type", "p"}}));
    if (w.status != 201) throw std::runtime_error("creating a wafer failed: " + describe(w));
  }
  return s;
}

// A run of the instrument on the sample, started (RUNNING) unless told otherwise (QUEUED).
std::string run_on(const Lab& l, const std::string& tool, const std::string& smp, bool start = true) {
  auto r = analysis("POST", "/api/v1/runs", l.eng, js(json::object{{"instrument_id", tool}, {"sample_id", smp}}));
  if (r.status != 201) throw std::runtime_error("creating a run failed: " + describe(r));
  const std::string id = str(r.json(), "id");
  if (str(r.json(), "status") != "QUEUED") throw std::runtime_error("the run is not QUEUED: " + describe(r));
  if (start) {
    auto s = analysis("PATCH", "/api/v1/runs/" + id + "/status", l.eng, js(json::object{{"status", "RUNNING"}}));
    if (s.status != 200) throw std::runtime_error("starting a run failed: " + describe(s));
  }
  return id;
}

// The columns of the ellipsometer's site files (sites_csv).
json::object site_columns() {
  return {{"site", "Site"}, {"x_mm", "X"}, {"y_mm", "Y"}, {"metric", "Parameter"}, {"value", "Value"}, {"unit", "Unit"}};
}

const std::string sites_header = "Site,X,Y,Parameter,Value,Unit\n";
const std::string sites_csv = sites_header +
                              "C,0,0,thickness,100.5,nm\n"
                              "N,0,60,thickness,101.25,nm\n"
                              "E,60.5,-10,thickness,99.75,nm\n";

// A profile's body: the given members over a CSV profile of the lab's instrument reading site files; a
// member given as null is left out.
json::object profile_body(const Lab& l, const json::object& members) {
  json::object body{{"name", "Sites " + tag()}, {"instrument_id", l.tool}, {"format", "csv"}, {"columns", site_columns()}};
  for (const auto& [k, v] : members) {
    if (v.is_null())
      body.erase(k);
    else
      body[k] = v;
  }
  return body;
}

HttpResponse post_profile(const std::string& token, const json::object& body) {
  return analysis("POST", "/api/v1/import-profiles", token, js(body));
}

std::string profile(const Lab& l, const json::object& members = {}) {
  auto r = post_profile(l.eng, profile_body(l, members));
  if (r.status != 201) throw std::runtime_error("creating an import profile failed: " + describe(r));
  return str(r.json(), "id");
}

const std::string boundary = "----spectra-import-boundary-7Qp2";
const std::string form_type = "multipart/form-data; boundary=" + boundary;

// A multipart/form-data body; each part: {name, filename or "", content type or "", data}.
std::string multipart(const std::vector<std::vector<std::string>>& parts) {
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p[0] + "\"";
    if (!p[1].empty()) body += "; filename=\"" + p[1] + "\"";
    body += "\r\n";
    if (!p[2].empty()) body += "Content-Type: " + p[2] + "\r\n";
    body += "\r\n" + p[3] + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

// POST /api/v1/runs/{run}/import with the file and the profile's id, as a browser's form sends them.
HttpResponse import_file(const std::string& token, const std::string& run, const std::string& profile_id,
                         const std::string& bytes, const std::string& filename = "sites.csv",
                         const std::string& type = "text/csv") {
  return analysis("POST", "/api/v1/runs/" + run + "/import", token,
                  multipart({{"profile_id", "", "", profile_id}, {"file", filename, type, bytes}}),
                  {{"Content-Type", form_type}});
}

// What an import writes, in words: the run's results and imports, the organization's attachments.
std::string written(const Lab& l, const std::string& run) {
  return db_text("SELECT (SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2) || ' results, '"
                 " || (SELECT count(*) FROM run_imports WHERE organization_id = $1 AND run_id = $2) || ' imports, '"
                 " || (SELECT count(*) FROM attachments WHERE organization_id = $1) || ' attachments'",
                 db::Params(l.org.id, run));
}

// The results an import wrote, one "site x y metric value unit line" each, by line.
std::string imported_rows(const std::string& import_id) {
  return db_text("SELECT string_agg(coalesce(site, '-') || ' ' || coalesce(x_mm::text, '-') || ' ' || coalesce(y_mm::text, '-')"
                 " || ' ' || coalesce(die_x || ',' || die_y, '-') || ' ' || metric || ' ' || value || ' '"
                 " || coalesce(unit, '-') || ' ' || (extra_metadata->>'line'), '; ' ORDER BY (extra_metadata->>'line')::int)"
                 " FROM results WHERE import_id = $1",
                 db::Params(import_id));
}

json::value evaluations(int pass, int warn, int fail, int below_lod, int none) {
  return json::object{{"pass", pass}, {"warn", warn}, {"fail", fail}, {"below_lod", below_lod}, {"none", none}};
}

// Sends only a request's head and answers what the server says before any body (after 10 s: "").
std::string answer_to_head(const std::string& head) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), Harness::get().analysis_port()});
  asio::write(socket, asio::buffer(head));
  std::string answer(4096, '\0');
  std::size_t got = 0;
  socket.async_read_some(asio::buffer(answer), [&](boost::system::error_code, std::size_t n) { got = n; });
  io.run_for(std::chrono::seconds(10));
  answer.resize(got);
  return answer;
}

json::array items(const HttpResponse& r) { return r.json().at("items").as_array(); }

// quality_test.cpp's limit: thickness 95..105 nm, warnings at 97 and 103, LOD 5.
json::object thickness_limit() {
  return {{"metric", "thickness"}, {"unit", "nm"}, {"lsl", 95}, {"usl", 105}, {"target", 100},
          {"warn_low", 97}, {"warn_high", 103}, {"lod", 5}};
}

// A material with an EFFECTIVE specification of thickness (written by the engineer, approved by the
// PI): runs on samples of it are judged. The material's id.
std::string judged_material(const Lab& l) {
  auto m = lims("POST", "/api/materials", l.eng, js(json::object{{"name", "Thermal oxide " + tag()}}));
  if (m.status != 201) throw std::runtime_error(describe(m));
  const std::string material = str(m.json(), "id");
  auto s = lims("POST", "/api/specifications", l.eng,
                js(json::object{{"name", "Oxide thickness"}, {"applies_to", json::object{{"material_id", material}}},
                                {"limits", json::array{thickness_limit()}}}));
  if (s.status != 201) throw std::runtime_error(describe(s));
  auto a = lims("POST", "/api/specifications/" + str(s.json(), "id") + "/approve", l.pi);
  if (a.status != 200) throw std::runtime_error(describe(a));
  return material;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Import profiles

TEST(ImportProfiles, AreValidatedAsAWholeWrittenByEngineersAndKeptToTheirOrganization) {
  Lab l = lab();
  Lab other = lab();
  const std::string sql_count = "SELECT count(*) FROM import_profiles WHERE organization_id = $1";

  // Each way a profile cannot read files, named; nothing written.
  struct Bad {
    json::object members;
    std::string field;
  };
  for (const auto& b : std::vector<Bad>{
           {{{"columns", json::object{{"metric", "Parameter"}}}}, "columns.value"},
           {{{"columns", json::object{{"value", "Value"}}}}, "columns.metric"},
           {{{"metric", "thickness"}}, "metric"},
           {{{"columns", json::object{{"metric", "P"}, {"value", "V"}, {"x_mm", "X"}}}}, "columns.y_mm"},
           {{{"columns", json::object{{"metric", "P"}, {"value", "P"}}}}, "columns.value"},
           {{{"unit_scale", 0}}, "unit_scale"},
           {{{"unit_scale", -1000}}, "unit_scale"},
           {{{"decimal_comma", true}}, "decimal_comma"},
           {{{"format", "xlsx"}}, "format"},
           {{{"skip_lines", -1}}, "skip_lines"},
           {{{"columns", nullptr}}, "columns"},
           {{{"columns", json::object{{"metric", "P"}, {"value", "V"}, {"colour", "C"}}}}, "columns.colour"},
           {{{"instrument_id", other.tool}}, "instrument_id"},
       }) {
    auto r = post_profile(l.eng, profile_body(l, b.members));
    EXPECT_EQ(r.status, 422u) << js(b.members) << " " << describe(r);
    EXPECT_TRUE(names(r, b.field)) << b.field << " " << describe(r);
  }
  EXPECT_EQ(count(sql_count, db::Params(l.org.id)), 0);
  EXPECT_EQ(post_profile(l.tech, profile_body(l, {})).status, 403u);
  EXPECT_EQ(post_profile(l.viewer, profile_body(l, {})).status, 403u);
  EXPECT_EQ(count(sql_count, db::Params(l.org.id)), 0);

  // Written: the row as given.
  auto made = post_profile(l.eng, profile_body(l, {{"name", "Ellipsometer sites"}, {"unit", "nm"}, {"skip_lines", 2}}));
  ASSERT_EQ(made.status, 201u) << describe(made);
  const auto p = made.json();
  const std::string id = str(p, "id");
  EXPECT_EQ(str(p, "name"), "Ellipsometer sites");
  EXPECT_EQ(str(p, "instrument_id"), l.tool);
  EXPECT_EQ(str(p, "format"), "csv");
  EXPECT_EQ(p.at("skip_lines").as_int64(), 2);
  EXPECT_EQ(p.at("columns"), json::value(site_columns()));
  EXPECT_TRUE(p.at("metric").is_null());
  EXPECT_EQ(str(p, "unit"), "nm");
  EXPECT_EQ(p.at("unit_scale").to_number<double>(), 1.0);
  EXPECT_FALSE(p.at("decimal_comma").as_bool());
  EXPECT_EQ(db_text("SELECT (columns->>'value') || ' ' || (columns->>'x_mm') || ' ' || skip_lines || ' ' || unit"
                    " FROM import_profiles WHERE organization_id = $1 AND id = $2",
                    db::Params(l.org.id, id)),
            "Value X 2 nm");
  auto tsv = post_profile(l.eng, profile_body(l, {{"name", "Mapper"}, {"format", "tsv"}, {"metric", "sheet_resistance"},
                                                  {"decimal_comma", true}, {"unit_scale", 0.001},
                                                  {"columns", json::object{{"value", "Rs"}}}}));
  ASSERT_EQ(tsv.status, 201u) << describe(tsv);
  const std::string fixed = str(tsv.json(), "id");
  EXPECT_EQ(str(tsv.json(), "metric"), "sheet_resistance");
  EXPECT_TRUE(tsv.json().at("decimal_comma").as_bool());

  // Read by every role; a name is the organization's once.
  auto listed = analysis("GET", "/api/v1/import-profiles?instrument_id=" + l.tool, l.viewer);
  ASSERT_EQ(listed.status, 200u) << describe(listed);
  EXPECT_EQ(items(listed).size(), 2u);
  auto found = analysis("GET", "/api/v1/import-profiles?q=sites", l.viewer);
  ASSERT_EQ(found.status, 200u);
  ASSERT_EQ(items(found).size(), 1u);
  EXPECT_EQ(str(items(found)[0], "id"), id);
  auto got = analysis("GET", "/api/v1/import-profiles/" + id, l.tech);
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(str(got.json(), "name"), "Ellipsometer sites");
  auto twice = post_profile(l.eng, profile_body(l, {{"name", "Ellipsometer sites"}}));
  EXPECT_EQ(twice.status, 409u) << describe(twice);
  EXPECT_TRUE(names(twice, "name")) << describe(twice);
  EXPECT_EQ(count(sql_count, db::Params(l.org.id)), 2);

  // A change is validated as the whole profile it makes.
  const std::string path = "/api/v1/import-profiles/" + id;
  auto changed = analysis("PATCH", path, l.eng, js(json::object{{"name", "Sites v2"}, {"unit_scale", 1000}}));
  ASSERT_EQ(changed.status, 200u) << describe(changed);
  EXPECT_EQ(str(changed.json(), "name"), "Sites v2");
  EXPECT_EQ(changed.json().at("unit_scale").to_number<double>(), 1000.0);
  EXPECT_EQ(changed.json().at("columns"), json::value(site_columns()));  // kept
  auto no_value = analysis("PATCH", path, l.eng, js(json::object{{"columns", json::object{{"metric", "Parameter"}}}}));
  EXPECT_EQ(no_value.status, 422u) << describe(no_value);
  EXPECT_TRUE(names(no_value, "columns.value")) << describe(no_value);
  auto both = analysis("PATCH", path, l.eng, js(json::object{{"metric", "thickness"}}));
  EXPECT_EQ(both.status, 422u) << describe(both);
  EXPECT_TRUE(names(both, "metric")) << describe(both);
  auto comma = analysis("PATCH", path, l.eng, js(json::object{{"decimal_comma", true}}));
  EXPECT_EQ(comma.status, 422u);
  EXPECT_TRUE(names(comma, "decimal_comma")) << describe(comma);
  auto no_metric = analysis("PATCH", "/api/v1/import-profiles/" + fixed, l.eng, R"({"metric":null})");
  EXPECT_EQ(no_metric.status, 422u) << describe(no_metric);
  EXPECT_TRUE(names(no_metric, "columns.metric")) << describe(no_metric);
  auto foreign = analysis("PATCH", path, l.eng, js(json::object{{"instrument_id", other.tool}}));
  EXPECT_EQ(foreign.status, 422u) << describe(foreign);
  EXPECT_TRUE(names(foreign, "instrument_id")) << describe(foreign);
  auto taken = analysis("PATCH", path, l.eng, js(json::object{{"name", "Mapper"}}));
  EXPECT_EQ(taken.status, 409u) << describe(taken);
  EXPECT_EQ(analysis("PATCH", path, l.tech, js(json::object{{"name", "Mine"}})).status, 403u);
  EXPECT_EQ(db_text("SELECT name || ' ' || unit_scale || ' ' || (columns ? 'value') || ' ' || decimal_comma || ' ' || instrument_id"
                    " FROM import_profiles WHERE organization_id = $1 AND id = $2",
                    db::Params(l.org.id, id)),
            "Sites v2 1000 true false " + l.tool);
  EXPECT_EQ(db_text("SELECT metric FROM import_profiles WHERE organization_id = $1 AND id = $2", db::Params(l.org.id, fixed)),
            "sheet_resistance");
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'import_profile.create'",
                  db::Params(l.org.id)),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'import_profile.update'",
                  db::Params(l.org.id)),
            1);

  // Another organization sees none of it.
  EXPECT_EQ(analysis("GET", path, other.viewer).status, 404u);
  EXPECT_EQ(analysis("PATCH", path, other.eng, js(json::object{{"name", "Theirs"}})).status, 404u);
  auto theirs = analysis("GET", "/api/v1/import-profiles", other.viewer);
  ASSERT_EQ(theirs.status, 200u);
  EXPECT_TRUE(items(theirs).empty());
  EXPECT_EQ(db_text("SELECT name FROM import_profiles WHERE id = $1", db::Params(id)), "Sites v2");
}

// ---------------------------------------------------------------------------------------------
// Imports

TEST(InstrumentData, AFileBecomesPositionedResultsOnceWithItsAttachment) {
  Lab l = lab();
  const Sample smp = sample(l);
  const std::string run = run_on(l, l.tool, smp.id);
  const std::string sites = profile(l, {{"name", "Sites"}});

  auto first = import_file(l.tech, run, sites, sites_csv);
  ASSERT_EQ(first.status, 201u) << describe(first);
  const auto a = first.json();
  const std::string import_id = str(a, "import_id"), attachment = str(a, "attachment_id");
  EXPECT_EQ(str(a, "id"), import_id);
  EXPECT_EQ(a.at("results").as_int64(), 3);
  EXPECT_EQ(a.at("evaluations"), evaluations(0, 0, 0, 0, 3));  // the run binds no specification
  EXPECT_EQ(str(a, "run_id"), run);
  EXPECT_EQ(str(a, "profile_id"), sites);
  EXPECT_EQ(str(a, "filename"), "sites.csv");
  EXPECT_EQ(str(a, "sha256"), crypto::to_hex(crypto::sha256(sites_csv)));
  EXPECT_EQ(a.at("size_bytes").as_int64(), static_cast<std::int64_t>(sites_csv.size()));
  EXPECT_EQ(str(a, "imported_by"), l.org.user("technician").id);
  // The rows: each with its position, site, the import and the file's line.
  EXPECT_EQ(imported_rows(import_id),
            "C 0 0 - thickness 100.5 nm 2; N 0 60 - thickness 101.25 nm 3; E 60.5 -10 - thickness 99.75 nm 4");
  EXPECT_EQ(count("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2 AND import_id = $3",
                  db::Params(l.org.id, run, import_id)),
            3);
  // The file is the run's attachment, stored as it came.
  EXPECT_EQ(count("SELECT count(*) FROM attachment_links WHERE attachment_id = $1 AND run_id = $2", db::Params(attachment, run)),
            1);
  EXPECT_EQ(db_text("SELECT content_type || ' ' || size_bytes || ' ' || encode(sha256, 'hex') FROM attachments WHERE id = $1",
                    db::Params(attachment)),
            "text/csv " + std::to_string(sites_csv.size()) + " " + crypto::to_hex(crypto::sha256(sites_csv)));
  auto content = analysis("GET", "/api/v1/attachments/" + attachment + "/content", l.viewer);
  ASSERT_EQ(content.status, 200u);
  EXPECT_EQ(content.body, sites_csv);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'result.import' AND entity_id = $2",
                  db::Params(l.org.id, run)),
            1);

  // The same bytes again, by another user under another name: the first import, nothing added.
  const std::string after_first = written(l, run);
  EXPECT_EQ(after_first, "3 results, 1 imports, 1 attachments");
  auto again = import_file(l.eng, run, sites, sites_csv, "copy of sites.csv");
  ASSERT_EQ(again.status, 200u) << describe(again);
  EXPECT_EQ(str(again.json(), "import_id"), import_id);
  EXPECT_EQ(str(again.json(), "attachment_id"), attachment);
  EXPECT_EQ(again.json().at("results").as_int64(), 3);
  EXPECT_EQ(written(l, run), after_first);

  // A byte-order mark and CRLF and LF line ends in one file.
  const std::string mixed = "\xEF\xBB\xBF" "Site,X,Y,Parameter,Value,Unit\r\nS1,1,1,thickness,100,nm\nS2,-2,2,thickness,101,nm\r\n";
  auto bom = import_file(l.tech, run, sites, mixed, "bom.csv");
  ASSERT_EQ(bom.status, 201u) << describe(bom);
  EXPECT_EQ(bom.json().at("results").as_int64(), 2);
  EXPECT_EQ(imported_rows(str(bom.json(), "import_id")), "S1 1 1 - thickness 100 nm 2; S2 -2 2 - thickness 101 nm 3");

  // A TSV file with a preamble, decimal commas, one metric, a fixed unit and die positions.
  const std::string mapper = profile(l, {{"name", "Mapper"},
                                         {"format", "tsv"},
                                         {"skip_lines", 2},
                                         {"metric", "sheet_resistance"},
                                         {"unit", "ohm/sq"},
                                         {"decimal_comma", true},
                                         {"columns", json::object{{"site", "site"}, {"x_mm", "x"}, {"y_mm", "y"},
                                                                  {"die_x", "col"}, {"die_y", "row"}, {"value", "Rs"}}}});
  const std::string tsv = "Mapper \"RS-75\" export\nlot: \"L1, wafer 3\n"
                          "site\tx\ty\tcol\trow\tRs\n"
                          "A\t-10,5\t0\t-1\t0\t12,5\n"
                          "B\t10,5\t0\t1\t0\t13,25\n";
  auto mapped = import_file(l.tech, run, mapper, tsv, "rs.tsv", "text/tab-separated-values");
  ASSERT_EQ(mapped.status, 201u) << describe(mapped);
  EXPECT_EQ(imported_rows(str(mapped.json(), "import_id")),
            "A -10.5 0 -1,0 sheet_resistance 12.5 ohm/sq 4; B 10.5 0 1,0 sheet_resistance 13.25 ohm/sq 5");
  EXPECT_EQ(db_text("SELECT content_type FROM attachments WHERE id = $1", db::Params(str(mapped.json(), "attachment_id"))),
            "text/tab-separated-values");

  // Who may import: a technician or a key with results:write; not a viewer, a key without it, or no one.
  const std::string more = sites_header + "K,5,5,thickness,102,nm\n";
  auto by_key = import_file(api_key(l.org, {"results:write"}, "technician"), run, sites, more, "key.csv");
  EXPECT_EQ(by_key.status, 201u) << describe(by_key);
  const std::string now = written(l, run);
  EXPECT_EQ(now, "8 results, 4 imports, 4 attachments");
  const std::string other_bytes = sites_header + "Z,6,6,thickness,103,nm\n";
  EXPECT_EQ(import_file(l.viewer, run, sites, other_bytes).status, 403u);
  EXPECT_EQ(import_file(api_key(l.org, {"runs:read"}, "technician"), run, sites, other_bytes).status, 403u);
  EXPECT_EQ(import_file("", run, sites, other_bytes).status, 401u);
  EXPECT_EQ(written(l, run), now);

  // The run's imports, to every role.
  auto listed = analysis("GET", "/api/v1/runs/" + run + "/imports", l.viewer);
  ASSERT_EQ(listed.status, 200u) << describe(listed);
  const auto list = items(listed);
  ASSERT_EQ(list.size(), 4u);
  std::set<std::string> ids;
  for (const auto& i : list) ids.insert(str(i, "import_id"));
  EXPECT_TRUE(ids.contains(import_id));
  EXPECT_TRUE(ids.contains(str(mapped.json(), "import_id")));
  Lab other = lab();
  EXPECT_EQ(analysis("GET", "/api/v1/runs/" + run + "/imports", other.viewer).status, 404u);
}

TEST(InstrumentData, AFileTheProfileCannotReadIsRefusedNamingItsLinesAndWritesNothing) {
  Lab l = lab();
  const std::string run = run_on(l, l.tool, sample(l).id);
  const std::string sites = profile(l);
  const std::string nothing = written(l, run);
  EXPECT_EQ(nothing, "0 results, 0 imports, 0 attachments");

  struct Bad {
    std::string what, bytes, field;
  };
  const std::string ok_row = "C,0,0,thickness,100,nm\n";
  for (const auto& b : std::vector<Bad>{
           {"a value that is not a number", sites_header + ok_row + "N,0,10,thickness,n/a,nm\n", "lines[3].Value"},
           {"a decimal comma in a quoted cell", sites_header + "C,0,0,thickness,\"1,5\",nm\n", "lines[2].Value"},
           {"a line break in the metric", sites_header + "C,0,0,\"thick\nness\",1.5,nm\n" + ok_row, "lines[2].Parameter"},
           {"x without y", sites_header + "C,5,,thickness,1,nm\n", "lines[2].Y"},
           {"a row of other width", sites_header + ok_row + "N,0,10,thickness,1\n", "lines[3]"},
           {"a quote never closed", sites_header + ok_row + "\"N,0,10,thickness,1,nm\n", "lines[3].Site"},
           {"a header without the value column", "Site,X,Y,Parameter,Reading,Unit\n" + ok_row, "lines[1].Value"},
           {"a binary file", sites_header + "C,0,0,thickness," + std::string("\0\0\x01\x02", 4) + ",nm\n", "lines[2]"},
           {"a header and no rows", sites_header, "file"},
           {"an empty file", "", "file"},
       }) {
    auto r = import_file(l.tech, run, sites, b.bytes);
    EXPECT_EQ(r.status, 422u) << b.what << " " << describe(r);
    EXPECT_TRUE(names(r, b.field)) << b.what << ": " << b.field << " " << describe(r);
  }
  // The message says where, in words.
  auto bad = import_file(l.tech, run, sites, sites_header + ok_row + "N,0,10,thickness,n/a,nm\n");
  EXPECT_NE(bad.body.find("line 3, column Value"), std::string::npos) << bad.body;

  // A form without its parts, or not a form.
  auto no_file = analysis("POST", "/api/v1/runs/" + run + "/import", l.tech, multipart({{"profile_id", "", "", sites}}),
                          {{"Content-Type", form_type}});
  EXPECT_EQ(no_file.status, 422u);
  EXPECT_TRUE(names(no_file, "file")) << describe(no_file);
  auto no_profile = analysis("POST", "/api/v1/runs/" + run + "/import", l.tech,
                             multipart({{"file", "sites.csv", "text/csv", sites_csv}}), {{"Content-Type", form_type}});
  EXPECT_EQ(no_profile.status, 422u);
  EXPECT_TRUE(names(no_profile, "profile_id")) << describe(no_profile);
  auto not_an_id = import_file(l.tech, run, "nope", sites_csv);
  EXPECT_EQ(not_an_id.status, 422u);
  EXPECT_TRUE(names(not_an_id, "profile_id")) << describe(not_an_id);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + run + "/import", l.tech, sites_csv, {{"Content-Type", "text/csv"}}).status,
            415u);

  EXPECT_EQ(written(l, run), nothing);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'result.import'",
                  db::Params(l.org.id)),
            0);
}

TEST(InstrumentData, AnImportIsRefusedForAnotherInstrumentOrganizationRunStateOrAPositionOffTheWafer) {
  Lab l = lab();
  Lab other = lab();
  const Sample smp = sample(l);
  const std::string run = run_on(l, l.tool, smp.id);
  const std::string queued = run_on(l, l.tool, smp.id, false);
  const std::string sites = profile(l);
  const std::string theirs = run_on(other, other.tool, sample(other).id);
  const std::string their_profile = profile(other);
  const std::string prober = instrument(l, "Prober");
  const std::string prober_profile = profile(l, {{"instrument_id", prober}});
  const std::string nothing = written(l, run);

  auto wrong_tool = import_file(l.tech, run, prober_profile, sites_csv);
  EXPECT_EQ(wrong_tool.status, 422u) << describe(wrong_tool);
  EXPECT_TRUE(names(wrong_tool, "profile_id")) << describe(wrong_tool);
  EXPECT_EQ(import_file(l.tech, theirs, sites, sites_csv).status, 404u);
  EXPECT_EQ(import_file(l.tech, run, their_profile, sites_csv).status, 404u);
  auto not_running = import_file(l.tech, queued, sites, sites_csv);
  EXPECT_EQ(not_running.status, 409u) << describe(not_running);
  EXPECT_EQ(written(l, queued), nothing);

  // (80, 0) mm is beyond the edge of the sample's 150 mm wafer.
  auto off = import_file(l.tech, run, sites, sites_header + "C,0,0,thickness,100,nm\nF,80,0,thickness,100,nm\n");
  EXPECT_EQ(off.status, 422u) << describe(off);
  EXPECT_TRUE(names(off, "lines[3].X")) << describe(off);
  EXPECT_NE(off.body.find("150 mm wafer"), std::string::npos) << off.body;

  // A body claimed larger than the upload limit is refused on its head, before it is read.
  const std::string head = "POST /api/v1/runs/" + run + "/import HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + l.tech +
                           "\r\nContent-Type: " + form_type + "\r\nContent-Length: 3000000000\r\n\r\n";
  const auto started = std::chrono::steady_clock::now();
  const std::string answer = answer_to_head(head);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 300);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));

  EXPECT_EQ(written(l, run), nothing);
  EXPECT_EQ(count("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2", db::Params(other.org.id, theirs)), 0);
}

TEST(InstrumentData, AHundredThousandRowFileImportsWhole) {
  Lab l = lab();
  const std::string run = run_on(l, l.tool, sample(l, std::nullopt).id);
  const std::string rs = profile(l, {{"metric", "sheet_resistance"}, {"unit", "ohm/sq"},
                                     {"columns", json::object{{"site", "Site"}, {"value", "Rs"}}}});
  std::string file = "Site,Rs\n";
  file.reserve(2'000'000);
  for (int i = 0; i < 100000; ++i) file += "S" + std::to_string(i) + "," + std::to_string(10 + i % 100) + ".5\n";
  auto r = import_file(l.tech, run, rs, file, "rs.csv");
  ASSERT_EQ(r.status, 201u) << describe(r);
  EXPECT_EQ(r.json().at("results").as_int64(), 100000);
  EXPECT_EQ(r.json().at("evaluations"), evaluations(0, 0, 0, 0, 100000));
  EXPECT_EQ(count("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run)), 100000);
  EXPECT_EQ(db_text("SELECT site || ' ' || value || ' ' || unit || ' ' || (extra_metadata->>'line') FROM results"
                    " WHERE organization_id = $1 AND run_id = $2 AND site = 'S99999'",
                    db::Params(l.org.id, run)),
            "S99999 109.5 ohm/sq 100001");
  EXPECT_EQ(db_text("SELECT sum(value)::text FROM results WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run)),
            "6000000");  // 1000 × (10.5 + … + 109.5)
}

TEST(InstrumentData, ImportedResultsAreJudgedHeldAndFedIntoSpc) {
  Lab l = lab();
  const std::string material = judged_material(l);
  const Sample smp = sample(l, 150, material);
  auto series = analysis("POST", "/api/v1/spc/series", l.eng,
                         js(json::object{{"name", "Oxide thickness"}, {"metric", "thickness"}, {"chart_type", "I-MR"},
                                         {"ucl", 103}, {"lcl", 97}, {"center_line", 100}, {"instrument_id", l.tool},
                                         {"source", json::object{{"metric", "thickness"}, {"instrument_id", l.tool}}}}));
  ASSERT_EQ(series.status, 201u) << describe(series);
  const std::string series_id = str(series.json(), "id");
  const std::string run = run_on(l, l.tool, smp.id);
  const std::string judged = profile(
      l, {{"unit", "nm"}, {"columns", json::object{{"metric", "Parameter"}, {"value", "Value"}, {"unit", "Unit"}}}});
  auto points = [&] {
    return count("SELECT count(*) FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2 AND run_id = $3",
                 db::Params(l.org.id, series_id, run));
  };
  auto nonconformances = [&] {
    return count("SELECT count(*) FROM nonconformances WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run));
  };

  // A unit other than the limit's, from the file's unit column: refused naming it, nothing written.
  auto um = import_file(l.tech, run, judged, "Parameter,Value,Unit\nthickness,100,nm\nthickness,0.1,um\n");
  EXPECT_EQ(um.status, 422u) << describe(um);
  EXPECT_TRUE(names(um, "lines[3].Unit")) << describe(um);
  EXPECT_EQ(written(l, run), "0 results, 0 imports, 0 attachments");
  EXPECT_EQ(points(), 0);
  EXPECT_EQ(nonconformances(), 0);

  // An empty unit cell takes the profile's unit; 110 fails, 104 warns, 3 is below the LOD.
  const std::string file = "Parameter,Value,Unit\n"
                           "thickness,100,nm\n"
                           "thickness,101,\n"
                           "thickness,104,nm\n"
                           "thickness,110,nm\n"
                           "thickness,3,nm\n"
                           "stress,7,MPa\n";
  auto r = import_file(l.tech, run, judged, file);
  ASSERT_EQ(r.status, 201u) << describe(r);
  EXPECT_EQ(r.json().at("results").as_int64(), 6);
  EXPECT_EQ(r.json().at("evaluations"), evaluations(2, 1, 1, 1, 1));
  EXPECT_EQ(db_text("SELECT string_agg((extra_metadata->>'line') || ':' || evaluation || ':' || unit, ','"
                    " ORDER BY (extra_metadata->>'line')::int) FROM results WHERE organization_id = $1 AND run_id = $2",
                    db::Params(l.org.id, run)),
            "2:pass:nm,3:pass:nm,4:warn:nm,5:fail:nm,6:below_lod:nm,7:none:MPa");
  auto ncs = all_items("/api/nonconformances?run_id=" + run, l.viewer);
  ASSERT_EQ(ncs.size(), 1u);
  EXPECT_EQ(str(ncs[0], "metric"), "thickness");
  EXPECT_EQ(str(ncs[0], "status"), "OPEN");
  EXPECT_EQ(ncs[0].at("failures").as_int64(), 1);
  EXPECT_EQ(str(lims("GET", "/api/samples/" + smp.id, l.viewer).json(), "status"), "quarantined");
  // The series follows thickness: every thickness result but the one below the LOD.
  EXPECT_EQ(points(), 4);

  // A profile of one metric whose file is in µm: scaled to the limit's nm, then judged.
  const std::string scaled =
      profile(l, {{"metric", "thickness"}, {"unit", "nm"}, {"unit_scale", 1000}, {"columns", json::object{{"value", "t_um"}}}});
  auto s = import_file(l.tech, run, scaled, "t_um\n0.1\n0.098\n", "um.csv");
  ASSERT_EQ(s.status, 201u) << describe(s);
  EXPECT_EQ(s.json().at("evaluations"), evaluations(2, 0, 0, 0, 0));
  EXPECT_EQ(db_text("SELECT string_agg(value::text || ' ' || unit, ',' ORDER BY value) FROM results WHERE import_id = $1",
                    db::Params(str(s.json(), "import_id"))),
            "98 nm,100 nm");
  EXPECT_EQ(points(), 6);
  EXPECT_EQ(nonconformances(), 1);
}

// ---------------------------------------------------------------------------------------------
// Positions on the JSON results route, and wafer maps

TEST(WaferMap, PositionedResultsAreCheckedOnTheWaferAndMappedAsJsonAndSvg) {
  Lab l = lab();
  const std::string material = judged_material(l);
  const std::string run = run_on(l, l.tool, sample(l, 150, material).id);
  const std::string results = "/api/v1/runs/" + run + "/results";

  // Positions go in pairs and lie on the sample's wafer; a refused result writes nothing.
  auto half = analysis("POST", results, l.tech, js(json::object{{"metric", "thickness"}, {"value", 100}, {"x_mm", 1}}));
  EXPECT_EQ(half.status, 422u) << describe(half);
  EXPECT_TRUE(names(half, "y_mm")) << describe(half);
  auto half_die = analysis("POST", results, l.tech, js(json::object{{"metric", "thickness"}, {"value", 100}, {"die_x", 1}}));
  EXPECT_EQ(half_die.status, 422u);
  EXPECT_TRUE(names(half_die, "die_y")) << describe(half_die);
  auto off = analysis("POST", results, l.tech,
                      js(json::object{{"results", json::array{json::object{{"metric", "thickness"}, {"value", 100}, {"unit", "nm"},
                                                                           {"x_mm", 80}, {"y_mm", 0}},
                                                              json::object{{"metric", "thickness"}, {"value", 100}, {"unit", "nm"},
                                                                           {"x_mm", 0}, {"y_mm", 0}}}}}));
  EXPECT_EQ(off.status, 422u) << describe(off);
  EXPECT_TRUE(names(off, "results[0].x_mm")) << describe(off);
  EXPECT_FALSE(names(off, "results[1].x_mm")) << describe(off);
  EXPECT_EQ(count("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run)), 0);

  auto centre = analysis("POST", results, l.tech,
                         js(json::object{{"metric", "thickness"}, {"value", 100}, {"unit", "nm"}, {"x_mm", 0}, {"y_mm", 0},
                                         {"die_x", 0}, {"die_y", 0}, {"site", "C"}}));
  ASSERT_EQ(centre.status, 201u) << describe(centre);
  EXPECT_EQ(centre.json().at("x_mm").to_number<double>(), 0.0);
  EXPECT_EQ(centre.json().at("y_mm").to_number<double>(), 0.0);
  EXPECT_EQ(centre.json().at("die_x").as_int64(), 0);
  EXPECT_EQ(str(centre.json(), "site"), "C");
  EXPECT_EQ(str(centre.json(), "evaluation"), "pass");

  struct Point {
    std::string metric;
    double x, y, value;
    std::string evaluation;
  };
  const std::vector<Point> batch = {
      {"thickness", 0, 50, 101, "pass"},          {"thickness", 50, 0, 98.5, "pass"},
      {"thickness", -50, 0, 104, "warn"},         {"thickness", 0, -50, 110, "fail"},
      {"resistivity", 75, 0, 10, "none"},         {"resistivity", 0, 10, 12.25, "none"},  // (75, 0): on the edge
      {"resistivity", -20, -20, 11, "none"},      {"width<edge>", 10, 10, 1.5, "none"},
      {"width<edge>", -10, -10, 2.5, "none"},
  };
  json::array items_of_batch;
  for (const auto& p : batch) {
    const std::string unit = p.metric == "thickness" ? "nm" : p.metric == "resistivity" ? "ohm.cm" : "um";
    items_of_batch.push_back(json::object{{"metric", p.metric}, {"value", p.value}, {"unit", unit}, {"x_mm", p.x}, {"y_mm", p.y}});
  }
  items_of_batch.push_back(json::object{{"metric", "thickness"}, {"value", 99}, {"unit", "nm"}});  // no position
  items_of_batch.push_back(json::object{{"metric", "stress"}, {"value", 7}, {"unit", "MPa"}});
  auto recorded = analysis("POST", results, l.tech, js(json::object{{"results", items_of_batch}}));
  ASSERT_EQ(recorded.status, 201u) << describe(recorded);

  // The map of thickness: its five positioned results, their evaluations, and the summary of their values.
  std::vector<Point> thickness = {{"thickness", 0, 0, 100, "pass"}};
  for (const auto& p : batch)
    if (p.metric == "thickness") thickness.push_back(p);
  auto map = analysis("GET", "/api/v1/runs/" + run + "/wafer-map?metric=thickness", l.viewer);
  ASSERT_EQ(map.status, 200u) << describe(map);
  EXPECT_EQ(map.header("content-type").rfind("application/json", 0), 0u);
  const auto m = map.json();
  EXPECT_EQ(str(m, "metric"), "thickness");
  EXPECT_EQ(str(m, "unit"), "nm");
  EXPECT_EQ(m.at("diameter_mm").as_int64(), 150);
  EXPECT_EQ(m.at("metrics"), json::value(json::array{"resistivity", "thickness", "width<edge>"}));
  const auto& points = m.at("points").as_array();
  ASSERT_EQ(points.size(), thickness.size());
  for (const auto& expected : thickness) {
    int found = 0;
    for (const auto& p : points) {
      if (p.at("x_mm").to_number<double>() != expected.x || p.at("y_mm").to_number<double>() != expected.y) continue;
      ++found;
      EXPECT_EQ(p.at("value").to_number<double>(), expected.value);
      EXPECT_EQ(str(p, "evaluation"), expected.evaluation) << expected.x << "," << expected.y;
    }
    EXPECT_EQ(found, 1) << expected.x << "," << expected.y;
  }
  for (const auto& p : points)
    if (p.at("x_mm").to_number<double>() == 0 && p.at("y_mm").to_number<double>() == 0) {
      EXPECT_EQ(p.at("die_x").as_int64(), 0);
      EXPECT_EQ(str(p, "site"), "C");
    }
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  for (const auto& p : thickness) sum += p.value, lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  const double n = static_cast<double>(thickness.size()), mean = sum / n;
  double squares = 0;
  for (const auto& p : thickness) squares += (p.value - mean) * (p.value - mean);
  const double stdev = std::sqrt(squares / (n - 1));
  const auto& s = m.at("summary");
  EXPECT_EQ(s.at("n").as_int64(), 5);
  EXPECT_NEAR(s.at("mean").to_number<double>(), mean, 1e-9);
  EXPECT_NEAR(s.at("stdev").to_number<double>(), stdev, 1e-9);
  EXPECT_EQ(s.at("min").to_number<double>(), lo);
  EXPECT_EQ(s.at("max").to_number<double>(), hi);
  EXPECT_EQ(s.at("range").to_number<double>(), hi - lo);
  EXPECT_NEAR(s.at("uniformity_pct").to_number<double>(), 100 * stdev / mean, 1e-9);

  // Without a metric: the first, by name, that has positions.
  auto first = analysis("GET", "/api/v1/runs/" + run + "/wafer-map", l.viewer);
  ASSERT_EQ(first.status, 200u) << describe(first);
  EXPECT_EQ(str(first.json(), "metric"), "resistivity");
  EXPECT_EQ(str(first.json(), "unit"), "ohm.cm");
  EXPECT_EQ(first.json().at("points").as_array().size(), 3u);
  EXPECT_EQ(first.json().at("summary").at("max").to_number<double>(), 12.25);

  // Drawn: an SVG document with one circle per point, its text escaped.
  auto circles = [](const std::string& svg) {
    const auto start = svg.find("<g class=\"points\"");
    if (start == std::string::npos) return std::size_t{0};
    const std::string group = svg.substr(start, svg.find("</g>", start) - start);
    std::size_t found = 0;
    for (auto at = group.find("<circle "); at != std::string::npos; at = group.find("<circle ", at + 1)) ++found;
    return found;
  };
  auto svg = analysis("GET", "/api/v1/runs/" + run + "/wafer-map?metric=thickness&format=svg", l.viewer);
  ASSERT_EQ(svg.status, 200u) << describe(svg);
  EXPECT_EQ(svg.header("content-type").rfind("image/svg+xml", 0), 0u) << svg.header("content-type");
  EXPECT_EQ(svg.body.rfind("<svg", 0), 0u) << svg.body.substr(0, 200);
  EXPECT_NE(svg.body.find("</svg>"), std::string::npos);
  EXPECT_EQ(circles(svg.body), 5u);
  auto accepted = analysis("GET", "/api/v1/runs/" + run + "/wafer-map?metric=width%3Cedge%3E", l.viewer, "",
                           {{"Accept", "image/svg+xml"}});
  ASSERT_EQ(accepted.status, 200u) << describe(accepted);
  EXPECT_EQ(accepted.header("content-type").rfind("image/svg+xml", 0), 0u);
  EXPECT_EQ(circles(accepted.body), 2u);
  EXPECT_NE(accepted.body.find("width&lt;edge&gt;"), std::string::npos);
  EXPECT_EQ(accepted.body.find("width<edge"), std::string::npos);
  auto escaped_json = analysis("GET", "/api/v1/runs/" + run + "/wafer-map?metric=width%3Cedge%3E", l.viewer);
  ASSERT_EQ(escaped_json.status, 200u);
  EXPECT_EQ(str(escaped_json.json(), "metric"), "width<edge>");
  EXPECT_EQ(escaped_json.json().at("points").as_array().size(), 2u);

  // Another organization's run is not found; a run without positions has an empty map.
  Lab other = lab();
  EXPECT_EQ(analysis("GET", "/api/v1/runs/" + run + "/wafer-map?metric=thickness", other.viewer).status, 404u);
  EXPECT_EQ(analysis("GET", "/api/v1/runs/" + run + "/wafer-map?format=svg", other.viewer).status, 404u);
  const std::string bare = run_on(l, l.tool, sample(l).id);
  ASSERT_EQ(analysis("POST", "/api/v1/runs/" + bare + "/results", l.tech, js(json::object{{"metric", "thickness"}, {"value", 1}}))
                .status,
            201u);
  auto empty = analysis("GET", "/api/v1/runs/" + bare + "/wafer-map?metric=thickness", l.viewer);
  ASSERT_EQ(empty.status, 200u) << describe(empty);
  EXPECT_TRUE(empty.json().at("points").as_array().empty());
  EXPECT_EQ(empty.json().at("summary").at("n").as_int64(), 0);
  EXPECT_TRUE(empty.json().at("summary").at("mean").is_null());
  EXPECT_TRUE(empty.json().at("metrics").as_array().empty());
  EXPECT_EQ(empty.json().at("diameter_mm").as_int64(), 150);
  auto empty_svg = analysis("GET", "/api/v1/runs/" + bare + "/wafer-map?format=svg", l.viewer);
  ASSERT_EQ(empty_svg.status, 200u);
  EXPECT_EQ(circles(empty_svg.body), 0u);
}

// ---------------------------------------------------------------------------------------------
// Die bin maps

namespace {

// quality of g85_test.cpp's decimal map: 3 × 4 dies, 8 tested, 7 pass; the size, bins and rows replaceable.
std::string g85_map(const std::string& size = R"(Rows="3" Columns="4")",
                    const std::string& bins = R"(<Bin BinCode="1" BinCount="7" BinQuality="Pass" BinDescription="Good"/>)"
                                              R"(<Bin BinCode="2" BinCount="1" BinQuality="Fail" BinDescription="Open"/>)",
                    const std::vector<std::string>& rows = {"255 001 001 255", "001 001 002 001", "255 001 001 255"}) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<Maps>
  <Map xmlns:semi="http://www.semi.org" WaferId="W01" FormatRevision="SEMI G85 0703">
    <Device ProductId="P1" LotId="L1" WaferSize="150" DeviceSizeX="5" DeviceSizeY="5" Orientation="0"
            OriginLocation="0" BinType="Decimal" NullBin="255" )" +
                    size + R"(>
      <ReferenceDevice ReferenceDeviceX="1" ReferenceDeviceY="1"/>
      )" + bins + "\n      <Data MapName=\"Map\" MapVersion=\"1\">\n";
  for (const auto& r : rows) xml += "        <Row><![CDATA[" + r + "]]></Row>\n";
  return xml + "      </Data>\n    </Device>\n  </Map>\n</Maps>\n";
}

HttpResponse post_map(const std::string& token, const std::string& run, const std::string& xml,
                      const std::string& type = "application/xml") {
  return analysis("POST", "/api/v1/runs/" + run + "/bin-map", token, xml, {{"Content-Type", type}});
}

}  // namespace

TEST(BinMap, AG85MapIsStoredDieByDieAnsweredAsJsonAndWrittenBackTheSame) {
  Lab l = lab();
  const Sample smp = sample(l);
  const std::string run = run_on(l, l.tool, smp.id), second = run_on(l, l.tool, smp.id);

  auto stored = post_map(l.tech, run, g85_map());
  ASSERT_EQ(stored.status, 201u) << describe(stored);
  const auto m = stored.json();
  const std::string id = str(m, "id");
  EXPECT_EQ(str(m, "run_id"), run);
  EXPECT_EQ(str(m, "wafer_id"), "W01");
  EXPECT_EQ(str(m, "lot_id"), "L1");
  EXPECT_EQ(str(m, "bin_type"), "Decimal");
  EXPECT_EQ(str(m, "null_bin"), "255");
  EXPECT_EQ(m.at("rows").as_int64(), 3);
  EXPECT_EQ(m.at("columns").as_int64(), 4);
  EXPECT_EQ(m.at("bins"), json::value(json::array{
                              json::object{{"code", "1"}, {"count", 7}, {"quality", "Pass"}, {"description", "Good"}},
                              json::object{{"code", "2"}, {"count", 1}, {"quality", "Fail"}, {"description", "Open"}}}));
  EXPECT_EQ(m.at("yield").at("tested").as_int64(), 8);
  EXPECT_EQ(m.at("yield").at("pass").as_int64(), 7);
  EXPECT_EQ(m.at("yield").at("yield_pct").to_number<double>(), 87.5);
  const json::value null;
  EXPECT_EQ(m.at("dies"), json::value(json::array{json::array{null, "1", "1", null}, json::array{"1", "1", "2", "1"},
                                                  json::array{null, "1", "1", null}}));
  // One row per tested die; the null bin is not stored.
  EXPECT_EQ(count("SELECT count(*) FROM bin_map_dies WHERE organization_id = $1 AND bin_map_id = $2", db::Params(l.org.id, id)), 8);
  EXPECT_EQ(db_text("SELECT string_agg(row_index || ':' || column_index || '=' || bin_code, ' '"
                    " ORDER BY row_index, column_index) FROM bin_map_dies WHERE bin_map_id = $1 AND bin_code <> '1'",
                    db::Params(id)),
            "1:2=2");
  EXPECT_EQ(db_text("SELECT tested || ' ' || passed FROM bin_maps WHERE organization_id = $1 AND run_id = $2",
                    db::Params(l.org.id, run)),
            "8 7");

  // Read back: the same answer; a second map for the run is refused.
  auto got = analysis("GET", "/api/v1/runs/" + run + "/bin-map", l.viewer);
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.json(), m);
  auto again = post_map(l.tech, run, g85_map());
  EXPECT_EQ(again.status, 409u) << describe(again);
  EXPECT_EQ(count("SELECT count(*) FROM bin_maps WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM bin_map_dies WHERE organization_id = $1", db::Params(l.org.id)), 8);

  // Written as G85 and stored on another run: the same map.
  auto xml = analysis("GET", "/api/v1/runs/" + run + "/bin-map?format=g85", l.viewer);
  ASSERT_EQ(xml.status, 200u) << describe(xml);
  EXPECT_EQ(xml.header("content-type").rfind("application/xml", 0), 0u) << xml.header("content-type");
  EXPECT_NE(xml.body.find("Map"), std::string::npos);
  auto copied = post_map(l.tech, second, xml.body);
  ASSERT_EQ(copied.status, 201u) << describe(copied);
  auto same = [](json::value v) {
    for (const char* k : {"id", "run_id", "created_at"}) v.as_object().erase(k);
    return v;
  };
  EXPECT_EQ(same(copied.json()), same(m));
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'bin_map.create'",
                  db::Params(l.org.id)),
            2);
}

TEST(BinMap, AMapThatDoesNotAddUpOrIsHostileIsRefusedAndStoresNothing) {
  Lab l = lab();
  Lab other = lab();
  const Sample smp = sample(l);
  const std::string run = run_on(l, l.tool, smp.id), queued = run_on(l, l.tool, smp.id, false);
  const std::string theirs = run_on(other, other.tool, sample(other).id);

  struct Bad {
    std::string what, xml, where;
  };
  std::string laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE Maps [\n  <!ENTITY lol0 \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    laughs += "  <!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) laughs += "&lol" + std::to_string(i - 1) + ";";
    laughs += "\">\n";
  }
  laughs += "]>\n<Maps><Map WaferId=\"&lol9;\"/></Maps>\n";
  const std::string xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n"
                          "<Maps><Map WaferId=\"&e;\" FormatRevision=\"G85-1101\"><Device BinType=\"ASCII\" NullBin=\".\""
                          " Rows=\"1\" Columns=\"1\"><Bin BinCode=\"G\" BinQuality=\"Pass\"/><Data><Row>&e;</Row></Data>"
                          "</Device></Map></Maps>";
  for (const auto& b : std::vector<Bad>{
           {"fewer Row elements than Rows", g85_map(R"(Rows="4" Columns="4")"), "Data"},
           {"a row wider than Columns", g85_map(R"(Rows="3" Columns="4")", R"(<Bin BinCode="1" BinQuality="Pass"/><Bin BinCode="2"/>)",
                                                {"255 001 001 255", "001 001 002 001 001", "255 001 001 255"}),
            "Row 2"},
           {"an undeclared bin code", g85_map(R"(Rows="3" Columns="4")", R"(<Bin BinCode="1" BinQuality="Pass"/><Bin BinCode="2"/>)",
                                              {"255 001 001 255", "001 007 002 001", "255 001 001 255"}),
            "Row 2"},
           {"a BinCount the map does not hold",
            g85_map(R"(Rows="3" Columns="4")", R"(<Bin BinCode="1" BinCount="6" BinQuality="Pass"/><Bin BinCode="2" BinCount="1"/>)"),
            "Bin 1.BinCount"},
           {"a billion laughs", laughs, "file"},
           {"an external entity", xxe, "file"},
           {"not XML", "Rows=3", "file"},
       }) {
    const auto started = std::chrono::steady_clock::now();
    auto r = post_map(l.tech, run, b.xml);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3)) << b.what;
    EXPECT_EQ(r.status, 422u) << b.what << " " << describe(r);
    EXPECT_TRUE(names(r, b.where)) << b.what << ": " << b.where << " " << describe(r);
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << b.what;
    EXPECT_EQ(r.body.find("lollollol"), std::string::npos) << b.what;
  }
  EXPECT_EQ(post_map(l.tech, run, g85_map(), "text/plain").status, 415u);
  EXPECT_EQ(post_map(l.viewer, run, g85_map()).status, 403u);
  EXPECT_EQ(post_map(l.tech, queued, g85_map()).status, 409u);
  EXPECT_EQ(post_map(l.tech, theirs, g85_map()).status, 404u);
  EXPECT_EQ(post_map(other.tech, run, g85_map()).status, 404u);
  EXPECT_EQ(analysis("GET", "/api/v1/runs/" + theirs + "/bin-map", l.viewer).status, 404u);

  EXPECT_EQ(analysis("GET", "/api/v1/runs/" + run + "/bin-map", l.viewer).status, 404u);  // none stored
  EXPECT_EQ(count("SELECT count(*) FROM bin_maps WHERE organization_id = $1", db::Params(l.org.id)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM bin_map_dies WHERE organization_id = $1", db::Params(l.org.id)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM bin_maps WHERE organization_id = $1", db::Params(other.org.id)), 0);
}

// ---------------------------------------------------------------------------------------------
// The runs list by barcode (how the agent finds a file's run)

TEST(InstrumentData, TheRunsListFindsTheRunningRunOfASampleByItsBarcode) {
  Lab l = lab();
  Lab other = lab();
  const std::string barcode = "AGENT-" + tag();
  const Sample wanted = sample(l, std::nullopt, std::nullopt, barcode), elsewhere = sample(l, std::nullopt);
  const std::string running = run_on(l, l.tool, wanted.id), waiting = run_on(l, l.tool, wanted.id, false);
  const std::string prober = instrument(l, "Prober");
  const std::string on_prober = run_on(l, prober, wanted.id);
  run_on(l, l.tool, elsewhere.id);
  // Another organization's sample may carry the same barcode.
  const std::string theirs = run_on(other, other.tool, sample(other, std::nullopt, std::nullopt, barcode).id);

  auto ids = [](const HttpResponse& r) {
    std::set<std::string> out;
    for (const auto& i : items(r)) out.insert(str(i, "id"));
    return out;
  };
  auto found = analysis("GET", "/api/v1/runs?status=RUNNING&instrument_id=" + l.tool + "&barcode=" + barcode, l.tech);
  ASSERT_EQ(found.status, 200u) << describe(found);
  EXPECT_EQ(ids(found), (std::set<std::string>{running}));
  auto any = analysis("GET", "/api/v1/runs?barcode=" + barcode, l.viewer);
  ASSERT_EQ(any.status, 200u);
  EXPECT_EQ(ids(any), (std::set<std::string>{running, waiting, on_prober}));
  auto none = analysis("GET", "/api/v1/runs?barcode=NO-SUCH-" + tag(), l.viewer);
  ASSERT_EQ(none.status, 200u);
  EXPECT_TRUE(items(none).empty());
  auto their_view = analysis("GET", "/api/v1/runs?status=RUNNING&barcode=" + barcode, other.viewer);
  ASSERT_EQ(their_view.status, 200u);
  EXPECT_EQ(ids(their_view), (std::set<std::string>{theirs}));
}
