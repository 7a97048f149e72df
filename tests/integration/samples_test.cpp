// The sample side of the LIMS as a user checks it: samples (barcodes, filters, parents, tenant scope,
// bad input), the role matrix and API keys, the chain of custody (also under concurrent moves),
// labels (scanned back with zbarimg), CSV export and import, materials, wafers and devices — each
// through the API, and the rows it leaves in the database.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/api.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

std::int64_t samples_in(const std::string& org_id) {
  return count("SELECT count(*) FROM samples WHERE organization_id = $1", db::Params(org_id));
}

HttpResponse post_sample(const std::string& token, const json::object& body) {
  return lims("POST", "/api/samples", token, js(body));
}

// A new sample's JSON; throws (failing the test) unless it was created.
json::value make_sample(const std::string& token, json::object body) {
  if (!body.contains("sample_type")) body["sample_type"] = "powder";
  auto r = post_sample(token, body);
  if (r.status != 201) throw std::runtime_error("creating a sample failed: " + describe(r));
  return r.json();
}

std::string make_sample_id(const std::string& token, const std::string& name, const std::string& type = "powder") {
  return str(make_sample(token, json::object{{"name", name}, {"sample_type", type}}), "id");
}

// RFC 4180, as a spreadsheet reads it.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(std::move(cell));
      cell.clear();
      any = true;
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(cell));
      cell.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      cell += c;
      any = true;
    }
  }
  if (any || !cell.empty()) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}


std::size_t occurrences(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size())) ++n;
  return n;
}

const std::regex generated_barcode("^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]$");

// The same barcode with another (hence wrong) check symbol.
std::string with_wrong_check(std::string barcode) {
  barcode.back() = barcode.back() == '0' ? '1' : '0';
  return barcode;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Samples

TEST(Samples, CreateReadChangeAndSoftDelete) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  auto r = post_sample(eng, json::object{{"name", "Wafer lot 7"}, {"sample_type", "wafer"}, {"location", "Cabinet 2"}});
  ASSERT_EQ(r.status, 201u) << describe(r);
  auto s = r.json();
  const std::string id = str(s, "id");
  EXPECT_EQ(str(s, "name"), "Wafer lot 7");
  EXPECT_EQ(str(s, "sample_type"), "wafer");
  EXPECT_EQ(str(s, "status"), "available");
  EXPECT_EQ(str(s, "location"), "Cabinet 2");
  EXPECT_EQ(str(s, "organization_id"), org.id);
  EXPECT_EQ(str(s, "created_by"), org.user("engineer").id);
  EXPECT_FALSE(str(s, "barcode").empty());
  EXPECT_TRUE(s.at("parent_sample_id").is_null());
  EXPECT_TRUE(s.at("extra_metadata").is_object());
  auto row = owner().exec("SELECT name, barcode, sample_type, status, location, is_deleted FROM samples"
                          " WHERE organization_id = $1 AND id = $2", db::Params(org.id, id));
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.get(0, 0), "Wafer lot 7");
  EXPECT_EQ(row.get(0, 1), str(s, "barcode"));
  EXPECT_EQ(row.get(0, 2), "wafer");
  EXPECT_EQ(row.get(0, 3), "available");
  EXPECT_EQ(row.get(0, 4), "Cabinet 2");
  EXPECT_FALSE(row.get_bool(0, 5));
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'sample.create' AND entity_id = $2",
                  db::Params(org.id, id)), 1);
  // The event records the sample as the answer shows it, written in the same statement.
  const auto event_after = owner().exec("SELECT after::text FROM audit_events WHERE organization_id = $1 AND action = 'sample.create'"
                                  " AND entity_id = $2", db::Params(org.id, id));
  EXPECT_EQ(json::parse(event_after.get(0, 0)), s);

  auto got = lims("GET", "/api/samples/" + id, eng);
  ASSERT_EQ(got.status, 200u) << describe(got);
  EXPECT_EQ(str(got.json(), "barcode"), str(s, "barcode"));

  auto patched = lims("PATCH", "/api/samples/" + id, eng, R"({"name":"Wafer lot 7b"})");
  ASSERT_EQ(patched.status, 200u) << describe(patched);
  EXPECT_EQ(str(patched.json(), "name"), "Wafer lot 7b");
  EXPECT_EQ(str(patched.json(), "location"), "Cabinet 2");
  EXPECT_EQ(owner().exec("SELECT name FROM samples WHERE id = $1", db::Params(id)).get(0, 0), "Wafer lot 7b");
  // A sample moves only through custody: PATCH does not take a location or a status.
  auto moved = lims("PATCH", "/api/samples/" + id, eng, R"({"location":"Elsewhere"})");
  EXPECT_EQ(moved.status, 422u) << describe(moved);
  EXPECT_TRUE(names(moved, "location")) << describe(moved);
  auto restatus = lims("PATCH", "/api/samples/" + id, eng, R"({"status":"consumed"})");
  EXPECT_EQ(restatus.status, 422u) << describe(restatus);
  auto after = owner().exec("SELECT location, status FROM samples WHERE id = $1", db::Params(id));
  EXPECT_EQ(after.get(0, 0), "Cabinet 2");
  EXPECT_EQ(after.get(0, 1), "available");
  // A sample at hand may be quarantined and released; a quarantined one is not checked out, and a
  // checked-out one changes status only through custody.
  const std::string tech = login(org.user("technician"));
  EXPECT_EQ(lims("PATCH", "/api/samples/" + id, eng, R"({"status":"quarantined"})").status, 200u);
  EXPECT_EQ(lims("POST", "/api/samples/" + id + "/custody", tech, R"({"event_type":"check_out"})").status, 409u);
  EXPECT_EQ(lims("PATCH", "/api/samples/" + id, eng, R"({"status":"available"})").status, 200u);
  EXPECT_EQ(lims("POST", "/api/samples/" + id + "/custody", tech, R"({"event_type":"check_out"})").status, 201u);
  auto while_out = lims("PATCH", "/api/samples/" + id, eng, R"({"status":"in_use"})");
  EXPECT_EQ(while_out.status, 409u) << describe(while_out);
  EXPECT_EQ(owner().exec("SELECT status FROM samples WHERE id = $1", db::Params(id)).get(0, 0), "checked_out");
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action = 'sample.update'", db::Params(id)), 3);

  auto del = lims("DELETE", "/api/samples/" + id, eng);
  EXPECT_EQ(del.status, 204u) << describe(del);
  EXPECT_EQ(lims("GET", "/api/samples/" + id, eng).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/samples/" + id, eng, R"({"name":"ghost"})").status, 404u);
  EXPECT_EQ(lims("DELETE", "/api/samples/" + id, eng).status, 404u);
  EXPECT_EQ(ids_of(all_items("/api/samples", eng)).count(id), 0u);
  auto kept = owner().exec("SELECT is_deleted, deleted_at IS NOT NULL, name FROM samples WHERE organization_id = $1 AND id = $2",
                           db::Params(org.id, id));
  ASSERT_EQ(kept.rows(), 1);
  EXPECT_TRUE(kept.get_bool(0, 0));
  EXPECT_TRUE(kept.get_bool(0, 1));
  EXPECT_EQ(kept.get(0, 2), "Wafer lot 7b");
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'sample.delete'"
                  " AND entity_type = 'sample' AND entity_id = $2",
                  db::Params(org.id, id)), 1);
}

TEST(Samples, BarcodesAreGeneratedUniquePerOrganizationAndChecked) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string other_eng = login(other.user("engineer"));

  auto gen = make_sample(eng, json::object{{"name", "Generated"}});
  const std::string barcode = str(gen, "barcode");
  EXPECT_TRUE(std::regex_match(barcode, generated_barcode)) << barcode;
  auto gen2 = make_sample(eng, json::object{{"name", "Generated 2"}});
  EXPECT_NE(str(gen2, "barcode"), barcode);

  // A scan finds exactly that sample.
  auto scan = lims("GET", "/api/samples?barcode=" + barcode, eng);
  ASSERT_EQ(scan.status, 200u) << describe(scan);
  const auto scan_body = scan.json();
  const auto& found = scan_body.at("items").as_array();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(str(found[0], "id"), str(gen, "id"));

  // A duplicate in the same organization: 409 naming barcode, nothing written.
  const auto before = samples_in(org.id);
  auto dup = post_sample(eng, json::object{{"name", "Duplicate"}, {"sample_type", "powder"}, {"barcode", barcode}});
  EXPECT_EQ(dup.status, 409u) << describe(dup);
  EXPECT_TRUE(names(dup, "barcode")) << describe(dup);
  EXPECT_EQ(samples_in(org.id), before);
  auto custom = post_sample(eng, json::object{{"name", "Custom"}, {"sample_type", "powder"}, {"barcode", "LOT-2026/42"}});
  EXPECT_EQ(custom.status, 201u) << describe(custom);
  EXPECT_EQ(post_sample(eng, json::object{{"name", "Custom again"}, {"sample_type", "powder"}, {"barcode", "LOT-2026/42"}}).status,
            409u);

  // The same barcode in another organization is its own.
  auto elsewhere = post_sample(other_eng, json::object{{"name", "Theirs"}, {"sample_type", "powder"}, {"barcode", barcode}});
  EXPECT_EQ(elsewhere.status, 201u) << describe(elsewhere);
  EXPECT_EQ(count("SELECT count(*) FROM samples WHERE barcode = $1", db::Params(barcode)), 2);

  // A mistyped check symbol: 422 on create, 400 on a scan.
  const std::string typo = with_wrong_check(barcode);
  auto bad = post_sample(eng, json::object{{"name", "Typo"}, {"sample_type", "powder"}, {"barcode", typo}});
  EXPECT_EQ(bad.status, 422u) << describe(bad);
  EXPECT_TRUE(names(bad, "barcode")) << describe(bad);
  auto bad_scan = lims("GET", "/api/samples?barcode=" + typo, eng);
  EXPECT_EQ(bad_scan.status, 400u) << describe(bad_scan);
  EXPECT_TRUE(names(bad_scan, "barcode")) << describe(bad_scan);
  // Not a barcode at all.
  auto spaced = post_sample(eng, json::object{{"name", "Spaced"}, {"sample_type", "powder"}, {"barcode", "has space"}});
  EXPECT_EQ(spaced.status, 422u) << describe(spaced);
  EXPECT_EQ(count("SELECT count(*) FROM samples WHERE organization_id = $1 AND name IN ('Typo', 'Spaced', 'Duplicate')",
                  db::Params(org.id)), 0);
}

TEST(Samples, ListFiltersSearchAndPages) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  auto mat = lims("POST", "/api/materials", eng, R"({"name":"Gallium nitride","formula":"GaN","category":"semiconductor"})");
  ASSERT_EQ(mat.status, 201u) << describe(mat);
  const std::string material = str(mat.json(), "id");

  auto a = make_sample(eng, json::object{{"name", "Alpha GaN film"}, {"sample_type", "film"}, {"location", "Rack A"},
                                         {"material_id", material}});
  auto b = make_sample(eng, json::object{{"name", "Beta powder"}, {"sample_type", "powder"}, {"location", "Rack B"},
                                         {"status", "quarantined"}});
  auto c = make_sample(eng, json::object{{"name", "Gamma wafer"}, {"sample_type", "wafer"}, {"location", "Rack A"},
                                         {"status", "in_use"}});
  auto d = make_sample(eng, json::object{{"name", "Delta bulk"}, {"sample_type", "bulk"}});
  auto only = [&](const std::string& query) {
    auto items = all_items("/api/samples?" + query, eng);
    return ids_of(items);
  };
  const std::string ia = str(a, "id"), ib = str(b, "id"), ic = str(c, "id"), id = str(d, "id");
  EXPECT_EQ(only("status=quarantined"), std::set<std::string>{ib});
  EXPECT_EQ(only("status=available"), (std::set<std::string>{ia, id}));
  EXPECT_EQ(only("sample_type=wafer"), std::set<std::string>{ic});
  EXPECT_EQ(only("location=Rack%20A"), (std::set<std::string>{ia, ic}));
  EXPECT_EQ(only("material_id=" + material), std::set<std::string>{ia});
  EXPECT_EQ(only("q=powd"), std::set<std::string>{ib});
  EXPECT_EQ(only("q=GAMMA"), std::set<std::string>{ic});
  // Part of the barcode, in lower case.
  std::string part = str(d, "barcode").substr(2, 6);
  for (auto& ch : part) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(only("q=" + part).count(id), 1u) << part;
  // Filters combine.
  EXPECT_EQ(only("location=Rack%20A&status=in_use"), std::set<std::string>{ic});
  EXPECT_TRUE(only("sample_type=die").empty());
  // Bad filters are 400.
  EXPECT_EQ(lims("GET", "/api/samples?status=lost", eng).status, 400u);
  EXPECT_EQ(lims("GET", "/api/samples?sample_type=rock", eng).status, 400u);
  EXPECT_EQ(lims("GET", "/api/samples?material_id=xyz", eng).status, 400u);
  EXPECT_EQ(lims("GET", "/api/samples?colour=red", eng).status, 400u);

  // Pages: every sample once.
  std::set<std::string> all{ia, ib, ic, id};
  for (int i = 0; i < 5; ++i) all.insert(make_sample_id(eng, "Page filler " + std::to_string(i)));
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = lims("GET", "/api/samples?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), eng);
    ASSERT_EQ(r.status, 200u) << describe(r);
    auto body = r.json();
    EXPECT_LE(body.at("items").as_array().size(), 2u);
    for (const auto& it : body.at("items").as_array()) seen.push_back(str(it, "id"));
    cursor = body.at("next_cursor").is_null() ? "" : std::string(body.at("next_cursor").as_string());
    ++pages;
  } while (!cursor.empty() && pages < 20);
  EXPECT_EQ(seen.size(), all.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all);
  EXPECT_EQ(pages, 5);
}

TEST(Samples, ParentsStayInTheOrganizationAndNeverFormACycle) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string theirs = make_sample_id(login(other.user("engineer")), "Their parent");

  auto foreign = post_sample(eng, json::object{{"name", "Child"}, {"sample_type", "die"}, {"parent_sample_id", theirs}});
  EXPECT_EQ(foreign.status, 422u) << describe(foreign);
  EXPECT_TRUE(names(foreign, "parent_sample_id")) << describe(foreign);
  EXPECT_EQ(samples_in(org.id), 0);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE organization_id = $1", db::Params(org.id)), 0);

  // A deleted parent is as good as absent.
  const std::string gone = make_sample_id(eng, "Deleted parent");
  ASSERT_EQ(lims("DELETE", "/api/samples/" + gone, eng).status, 204u);
  auto orphan = post_sample(eng, json::object{{"name", "Orphan"}, {"sample_type", "die"}, {"parent_sample_id", gone}});
  EXPECT_EQ(orphan.status, 422u) << describe(orphan);
  EXPECT_TRUE(names(orphan, "parent_sample_id")) << describe(orphan);
  EXPECT_EQ(samples_in(org.id), 1);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE organization_id = $1 AND event_type = 'create'", db::Params(org.id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'sample.create'", db::Params(org.id)), 1);

  const std::string a = make_sample_id(eng, "A", "wafer");
  auto b = make_sample(eng, json::object{{"name", "B"}, {"sample_type", "die"}, {"parent_sample_id", a}});
  EXPECT_EQ(str(b, "parent_sample_id"), a);
  const std::string bid = str(b, "id");
  auto c = make_sample(eng, json::object{{"name", "C"}, {"sample_type", "die"}, {"parent_sample_id", bid}});
  const std::string cid = str(c, "id");

  auto cycle = lims("PATCH", "/api/samples/" + a, eng, js(json::object{{"parent_sample_id", bid}}));
  EXPECT_EQ(cycle.status, 422u) << describe(cycle);
  EXPECT_TRUE(names(cycle, "parent_sample_id")) << describe(cycle);
  auto longer = lims("PATCH", "/api/samples/" + a, eng, js(json::object{{"parent_sample_id", cid}}));
  EXPECT_EQ(longer.status, 422u) << describe(longer);
  EXPECT_TRUE(names(longer, "parent_sample_id")) << describe(longer);
  auto self = lims("PATCH", "/api/samples/" + a, eng, js(json::object{{"parent_sample_id", a}}));
  EXPECT_EQ(self.status, 422u) << describe(self);
  EXPECT_TRUE(names(self, "parent_sample_id")) << describe(self);
  EXPECT_TRUE(owner().exec("SELECT parent_sample_id FROM samples WHERE id = $1", db::Params(a)).is_null(0, 0));
  auto foreign_patch = lims("PATCH", "/api/samples/" + cid, eng, js(json::object{{"parent_sample_id", theirs}}));
  EXPECT_EQ(foreign_patch.status, 422u) << describe(foreign_patch);
  EXPECT_EQ(owner().exec("SELECT parent_sample_id FROM samples WHERE id = $1", db::Params(cid)).get(0, 0), bid);

  // Re-parenting within the tree is fine, and so is clearing the parent.
  auto moved = lims("PATCH", "/api/samples/" + cid, eng, js(json::object{{"parent_sample_id", a}}));
  EXPECT_EQ(moved.status, 200u) << describe(moved);
  EXPECT_EQ(owner().exec("SELECT parent_sample_id FROM samples WHERE id = $1", db::Params(cid)).get(0, 0), a);
  auto cleared = lims("PATCH", "/api/samples/" + cid, eng, R"({"parent_sample_id":null})");
  EXPECT_EQ(cleared.status, 200u) << describe(cleared);
  EXPECT_TRUE(owner().exec("SELECT parent_sample_id FROM samples WHERE id = $1", db::Params(cid)).is_null(0, 0));
}

TEST(Samples, AnotherOrganizationsIdsAre404AndChangeNothing) {
  auto a = make_org();
  auto b = make_org();
  const std::string eng_a = login(a.user("engineer"));
  const std::string eng_b = login(b.user("engineer"));
  const std::string tech_b = login(b.user("technician"));
  const std::string target = str(make_sample(eng_a, json::object{{"name", "Theirs"}, {"location", "Vault"}}), "id");

  EXPECT_EQ(lims("GET", "/api/samples/" + target, eng_b).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/samples/" + target, eng_b, R"({"name":"Stolen"})").status, 404u);
  EXPECT_EQ(lims("DELETE", "/api/samples/" + target, eng_b).status, 404u);
  EXPECT_EQ(lims("GET", "/api/samples/" + target + "/custody", eng_b).status, 404u);
  EXPECT_EQ(lims("POST", "/api/samples/" + target + "/custody", tech_b,
                 R"({"event_type":"transfer","to_location":"Our lab"})").status, 404u);
  EXPECT_EQ(lims("POST", "/api/samples/" + target + "/custody", tech_b, R"({"event_type":"check_out"})").status, 404u);
  EXPECT_EQ(lims("GET", "/api/samples/" + target + "/label", eng_b).status, 404u);
  EXPECT_EQ(lims("GET", "/api/samples/" + target + "/label?format=png", eng_b).status, 404u);
  auto row = owner().exec("SELECT name, is_deleted, location, status, custody_seq FROM samples WHERE id = $1", db::Params(target));
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.get(0, 0), "Theirs");
  EXPECT_FALSE(row.get_bool(0, 1));
  EXPECT_EQ(row.get(0, 2), "Vault");
  EXPECT_EQ(row.get(0, 3), "available");
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE sample_id = $1", db::Params(target)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND entity_id = $2", db::Params(b.id, target)), 0);
  // Not in B's list, not in a scan of its barcode from B.
  EXPECT_EQ(ids_of(all_items("/api/samples", eng_b)).count(target), 0u);
  const std::string barcode(owner().exec("SELECT barcode FROM samples WHERE id = $1", db::Params(target)).get(0, 0));
  auto scan = lims("GET", "/api/samples?barcode=" + barcode, eng_b);
  ASSERT_EQ(scan.status, 200u);
  EXPECT_TRUE(scan.json().at("items").as_array().empty());

  // Another organization's material: 422, nothing written.
  auto mat = lims("POST", "/api/materials", eng_a, R"({"name":"Their silicon"})");
  ASSERT_EQ(mat.status, 201u) << describe(mat);
  const auto before = samples_in(b.id);
  auto r = post_sample(eng_b, json::object{{"name", "Mine"}, {"sample_type", "powder"}, {"material_id", str(mat.json(), "id")}});
  EXPECT_EQ(r.status, 422u) << describe(r);
  EXPECT_TRUE(names(r, "material_id")) << describe(r);
  EXPECT_EQ(samples_in(b.id), before);
  // Nor can a PATCH point at it.
  const std::string mine = make_sample_id(eng_b, "Mine");
  auto p = lims("PATCH", "/api/samples/" + mine, eng_b, js(json::object{{"material_id", str(mat.json(), "id")}}));
  EXPECT_EQ(p.status, 422u) << describe(p);
  EXPECT_TRUE(owner().exec("SELECT material_id FROM samples WHERE id = $1", db::Params(mine)).is_null(0, 0));
}

TEST(Samples, BadInputNamesTheFieldAndWritesNothing) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"sample_type":"powder"})", "name"},
      {R"({"name":"x","sample_type":"powder","colour":"red"})", "colour"},
      {R"({"name":5,"sample_type":"powder"})", "name"},
      {js(json::object{{"name", std::string(201, 'n')}, {"sample_type", "powder"}}), "name"},
      {R"({"name":"   ","sample_type":"powder"})", "name"},
      {R"({"name":"bell\u0007","sample_type":"powder"})", "name"},
      {R"({"name":"two\nlines","sample_type":"powder"})", "name"},
      {R"({"name":"x","sample_type":"powder","location":"Rack\t1"})", "location"},
      {R"({"name":"x","sample_type":"rock"})", "sample_type"},
      {R"({"name":"x"})", "sample_type"},
      {R"({"name":"x","sample_type":"powder","material_id":"xyz"})", "material_id"},
      {R"({"name":"x","sample_type":"powder","parent_sample_id":"xyz"})", "parent_sample_id"},
      {R"({"name":"x","sample_type":"powder","status":"checked_out"})", "status"},
      {R"({"name":"x","sample_type":"powder","status":"lost"})", "status"},
      {R"({"name":"x","sample_type":"powder","extra_metadata":[1]})", "extra_metadata"},
      {R"({"name":"x","sample_type":"powder","custodian_id":")" + org.user("engineer").id + R"("})", "custodian_id"},
  };
  for (const auto& c : cases) {
    auto r = lims("POST", "/api/samples", eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.body << " -> " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << c.body << " -> " << describe(r);
    EXPECT_EQ(r.header("content-type").rfind("application/problem+json", 0), 0u) << r.header("content-type");
  }
  // Not JSON at all, or JSON that is not an object.
  auto garbage = lims("POST", "/api/samples", eng, "{\"name\":");
  EXPECT_EQ(garbage.status, 400u) << describe(garbage);
  auto array = lims("POST", "/api/samples", eng, "[]");
  EXPECT_TRUE(array.status == 400u || array.status == 422u) << describe(array);
  auto wrong_type = lims("POST", "/api/samples", eng, R"({"name":"x","sample_type":"powder"})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(wrong_type.status, 415u) << describe(wrong_type);
  EXPECT_EQ(samples_in(org.id), 0);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE organization_id = $1", db::Params(org.id)), 0);

  // A path that is not a UUID is 400 naming the parameter, never a 500.
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/samples/not-a-uuid"},
           {"PATCH", "/api/samples/not-a-uuid"},
           {"DELETE", "/api/samples/not-a-uuid"},
           {"GET", "/api/samples/not-a-uuid/custody"},
           {"GET", "/api/samples/not-a-uuid/label"},
           {"GET", "/api/materials/not-a-uuid"},
           {"GET", "/api/wafers/not-a-uuid"},
           {"GET", "/api/devices/not-a-uuid"}}) {
    auto r = lims(method, path, eng, method == "PATCH" ? R"({"name":"x"})" : "");
    EXPECT_GE(r.status, 400u) << method << " " << path;
    EXPECT_LT(r.status, 500u) << method << " " << path;
    EXPECT_EQ(r.status, 400u) << method << " " << path << " " << describe(r);
    EXPECT_TRUE(names(r, "id")) << method << " " << path << " " << describe(r);
  }
  // A bad PATCH names its field and changes nothing.
  const std::string id = make_sample_id(eng, "Patched");
  auto blank = lims("PATCH", "/api/samples/" + id, eng, R"({"name":""})");
  EXPECT_EQ(blank.status, 422u) << describe(blank);
  EXPECT_TRUE(names(blank, "name"));
  auto type = lims("PATCH", "/api/samples/" + id, eng, R"({"sample_type":"rock"})");
  EXPECT_EQ(type.status, 422u);
  EXPECT_TRUE(names(type, "sample_type"));
  auto row = owner().exec("SELECT name, sample_type FROM samples WHERE id = $1", db::Params(id));
  EXPECT_EQ(row.get(0, 0), "Patched");
  EXPECT_EQ(row.get(0, 1), "powder");
}

TEST(Samples, RoleMatrixForEverySampleRoute) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string viewer = login(org.user("viewer"));
  const std::string tech = login(org.user("technician"));
  const std::string sample = make_sample_id(eng, "Matrix wafer", "wafer");
  auto mat = lims("POST", "/api/materials", eng, R"({"name":"Matrix material"})");
  ASSERT_EQ(mat.status, 201u) << describe(mat);
  const std::string material = str(mat.json(), "id");
  auto wafer = lims("POST", "/api/wafers", eng,
                    js(json::object{{"sample_id", sample}, {"diameter_mm", 100}, {"orientation", "<111>"}, {"doping_type", "n"}}));
  ASSERT_EQ(wafer.status, 201u) << describe(wafer);
  const std::string wafer_id = str(wafer.json(), "id");
  auto device = lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", wafer_id}, {"name", "Matrix device"}}));
  ASSERT_EQ(device.status, 201u) << describe(device);
  const std::string device_id = str(device.json(), "id");

  // Every role reads.
  for (const std::string& token : {viewer, tech, eng}) {
    const std::vector<std::string> reads = {"/api/samples",
                                            "/api/samples/" + sample,
                                            "/api/samples/" + sample + "/custody",
                                            "/api/samples/" + sample + "/label",
                                            "/api/samples?format=csv",
                                            "/api/materials",
                                            "/api/materials/" + material,
                                            "/api/wafers",
                                            "/api/wafers/" + wafer_id,
                                            "/api/devices",
                                            "/api/devices/" + device_id};
    for (const auto& path : reads) {
      auto r = lims("GET", path, token);
      EXPECT_EQ(r.status, 200u) << path << " " << describe(r);
    }
    auto sheet = lims("POST", "/api/samples/labels", token, js(json::object{{"sample_ids", json::array{sample}}, {"format", "zpl"}}));
    EXPECT_EQ(sheet.status, 200u) << describe(sheet);
  }

  // A viewer writes nothing.
  struct Probe {
    std::string method, path, body;
    Headers headers = {};
  };
  const std::vector<Probe> writes = {
      {"POST", "/api/samples", R"({"name":"V","sample_type":"powder"})"},
      {"PATCH", "/api/samples/" + sample, R"({"name":"V"})"},
      {"DELETE", "/api/samples/" + sample, ""},
      {"POST", "/api/samples/import", "name,sample_type\r\nV,powder\r\n", {{"Content-Type", "text/csv"}}},
      {"POST", "/api/materials", R"({"name":"V material"})"},
      {"PATCH", "/api/materials/" + material, R"({"name":"V material"})"},
      {"DELETE", "/api/materials/" + material, ""},
      {"POST", "/api/wafers", js(json::object{{"sample_id", sample}, {"diameter_mm", 100}, {"orientation", "<111>"}, {"doping_type", "n"}})},
      {"PATCH", "/api/wafers/" + wafer_id, R"({"doping_type":"p"})"},
      {"POST", "/api/devices", js(json::object{{"wafer_id", wafer_id}, {"name", "V device"}})},
      {"PATCH", "/api/devices/" + device_id, R"({"name":"V device"})"},
      {"POST", "/api/samples/" + sample + "/custody", R"({"event_type":"transfer","to_location":"Viewer desk"})"},
  };
  for (const auto& p : writes) {
    auto r = lims(p.method, p.path, viewer, p.body, p.headers);
    EXPECT_EQ(r.status, 403u) << "viewer " << p.method << " " << p.path << " " << describe(r);
  }
  // A technician moves samples but does not create or edit them.
  for (std::size_t i = 0; i + 1 < writes.size(); ++i) {
    auto r = lims(writes[i].method, writes[i].path, tech, writes[i].body, writes[i].headers);
    EXPECT_EQ(r.status, 403u) << "technician " << writes[i].method << " " << writes[i].path << " " << describe(r);
  }
  auto moved = lims("POST", "/api/samples/" + sample + "/custody", tech, R"({"event_type":"transfer","to_location":"Tech bench"})");
  EXPECT_EQ(moved.status, 201u) << describe(moved);
  EXPECT_EQ(str(moved.json(), "actor_id"), org.user("technician").id);

  // Nothing the refusals touched changed.
  EXPECT_EQ(samples_in(org.id), 1);
  auto row = owner().exec("SELECT name, is_deleted, location FROM samples WHERE id = $1", db::Params(sample));
  EXPECT_EQ(row.get(0, 0), "Matrix wafer");
  EXPECT_FALSE(row.get_bool(0, 1));
  EXPECT_EQ(row.get(0, 2), "Tech bench");
  EXPECT_EQ(count("SELECT count(*) FROM materials WHERE organization_id = $1 AND NOT is_deleted AND name = 'Matrix material'",
                  db::Params(org.id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM wafers WHERE organization_id = $1", db::Params(org.id)), 1);
  EXPECT_EQ(owner().exec("SELECT doping_type FROM wafers WHERE id = $1", db::Params(wafer_id)).get(0, 0), "n");
  EXPECT_EQ(count("SELECT count(*) FROM devices WHERE organization_id = $1", db::Params(org.id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE sample_id = $1", db::Params(sample)), 2);

  // Engineers and above create.
  for (const char* role : {"engineer", "pi", "admin"}) {
    auto r = post_sample(login(org.user(role)), json::object{{"name", std::string("By ") + role}, {"sample_type", "powder"}});
    EXPECT_EQ(r.status, 201u) << role << " " << describe(r);
  }
  // No credentials: 401.
  EXPECT_EQ(lims("GET", "/api/samples").status, 401u);
  EXPECT_EQ(lims("POST", "/api/samples", {}, R"({"name":"Anon","sample_type":"powder"})").status, 401u);
}

TEST(Samples, ApiKeysNeedBothTheScopeAndTheRole) {
  auto org = make_org();
  const std::string reader = api_key(org, {"samples:read"}, "engineer");
  const std::string writer = api_key(org, {"samples:read", "samples:write"}, "engineer");
  const std::string runs_only = api_key(org, {"runs:read"}, "engineer");
  const std::string low_writer = api_key(org, {"samples:read", "samples:write"}, "viewer");
  const std::string body = R"({"name":"Robot sample","sample_type":"powder"})";

  EXPECT_EQ(lims("GET", "/api/samples", reader).status, 200u);
  EXPECT_EQ(lims("GET", "/api/samples", {}, {}, {{"X-API-Key", reader}}).status, 200u);
  EXPECT_EQ(lims("POST", "/api/samples", reader, body).status, 403u);
  EXPECT_EQ(lims("POST", "/api/materials", reader, R"({"name":"Robot material"})").status, 403u);
  EXPECT_EQ(lims("GET", "/api/samples", runs_only).status, 403u);
  EXPECT_EQ(lims("GET", "/api/materials", runs_only).status, 403u);
  EXPECT_EQ(lims("POST", "/api/samples", low_writer, body).status, 403u);
  EXPECT_EQ(samples_in(org.id), 0);

  auto created = lims("POST", "/api/samples", writer, body);
  ASSERT_EQ(created.status, 201u) << describe(created);
  EXPECT_EQ(str(created.json(), "organization_id"), org.id);
  EXPECT_EQ(samples_in(org.id), 1);
  // The key's service account is recorded as the creator.
  const std::string creator = str(created.json(), "created_by");
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE organization_id = $1 AND id = $2 AND is_service_account",
                  db::Params(org.id, creator)), 1);
  EXPECT_EQ(lims("GET", "/api/samples/" + str(created.json(), "id"), reader).status, 200u);
  EXPECT_EQ(lims("GET", "/api/samples/" + str(created.json(), "id"), runs_only).status, 403u);
}

// ---------------------------------------------------------------------------------------------
// Custody

TEST(Custody, EveryMoveIsAnAppendedEventAndTheRulesHold) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string tech = login(org.user("technician"));
  const auto tech2_user = add_user(org, "technician", "tech2");
  const std::string tech2 = login(tech2_user);
  const std::string id = str(make_sample(eng, json::object{{"name", "Custody sample"}, {"location", "Freezer A"}}), "id");
  auto sample_row = [&] {
    return owner().exec("SELECT status, location, custodian_id FROM samples WHERE id = $1", db::Params(id));
  };
  auto custody = [&](const std::string& token, const std::string& body) {
    return lims("POST", "/api/samples/" + id + "/custody", token, body);
  };

  auto chain = lims("GET", "/api/samples/" + id + "/custody", eng);
  ASSERT_EQ(chain.status, 200u) << describe(chain);
  {
    const auto chain_body = chain.json();
    const auto& items = chain_body.at("items").as_array();
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(str(items[0], "event_type"), "create");
    EXPECT_EQ(items[0].at("seq").to_number<int>(), 1);
    EXPECT_EQ(str(items[0], "to_location"), "Freezer A");
    EXPECT_EQ(str(items[0], "actor_id"), org.user("engineer").id);
  }

  // A transfer names where it goes.
  auto nowhere = custody(tech, R"({"event_type":"transfer"})");
  EXPECT_EQ(nowhere.status, 422u) << describe(nowhere);
  EXPECT_TRUE(names(nowhere, "to_location")) << describe(nowhere);
  EXPECT_EQ(custody(tech, R"({"event_type":"teleport","to_location":"Mars"})").status, 422u);
  auto t = custody(tech, R"({"event_type":"transfer","to_location":"Bench 3","notes":"for XRD"})");
  ASSERT_EQ(t.status, 201u) << describe(t);
  EXPECT_EQ(str(t.json(), "from_location"), "Freezer A");
  EXPECT_EQ(str(t.json(), "to_location"), "Bench 3");
  EXPECT_EQ(t.json().at("seq").to_number<int>(), 2);
  EXPECT_EQ(sample_row().get(0, 1), "Bench 3");

  // Check-out by a technician: they hold it.
  auto out = custody(tech, R"({"event_type":"check_out"})");
  ASSERT_EQ(out.status, 201u) << describe(out);
  EXPECT_EQ(str(out.json(), "to_user_id"), org.user("technician").id);
  auto got = lims("GET", "/api/samples/" + id, eng).json();
  EXPECT_EQ(str(got, "status"), "checked_out");
  EXPECT_EQ(str(got, "custodian_id"), org.user("technician").id);
  EXPECT_EQ(sample_row().get(0, 0), "checked_out");
  EXPECT_EQ(sample_row().get(0, 2), org.user("technician").id);

  // Someone else's check-out is not another technician's to return; nothing moves while it is out.
  auto steal = custody(tech2, R"({"event_type":"return"})");
  EXPECT_EQ(steal.status, 403u) << describe(steal);
  auto busy = custody(tech, R"({"event_type":"transfer","to_location":"Bench 4"})");
  EXPECT_EQ(busy.status, 409u) << describe(busy);
  EXPECT_EQ(custody(tech2, R"({"event_type":"check_out"})").status, 409u);
  EXPECT_EQ(sample_row().get(0, 0), "checked_out");
  EXPECT_EQ(sample_row().get(0, 2), org.user("technician").id);

  // The holder returns it.
  auto back = custody(tech, R"({"event_type":"return"})");
  ASSERT_EQ(back.status, 201u) << describe(back);
  EXPECT_EQ(str(lims("GET", "/api/samples/" + id, eng).json(), "status"), "available");
  EXPECT_TRUE(sample_row().is_null(0, 2));
  EXPECT_EQ(custody(tech, R"({"event_type":"return"})").status, 409u);  // nothing to return

  // An engineer may return someone else's check-out.
  ASSERT_EQ(custody(tech2, R"({"event_type":"check_out"})").status, 201u);
  EXPECT_EQ(sample_row().get(0, 2), tech2_user.id);
  auto eng_back = custody(eng, R"({"event_type":"return","to_location":"Freezer B"})");
  ASSERT_EQ(eng_back.status, 201u) << describe(eng_back);
  EXPECT_EQ(sample_row().get(0, 0), "available");
  EXPECT_EQ(sample_row().get(0, 1), "Freezer B");

  // Consumed: nothing moves any more.
  auto used = custody(tech, R"({"event_type":"consume","notes":"dissolved\nin HF"})");
  ASSERT_EQ(used.status, 201u) << describe(used);
  EXPECT_EQ(sample_row().get(0, 0), "consumed");
  for (const char* body : {R"({"event_type":"transfer","to_location":"Bench 9"})", R"({"event_type":"check_out"})",
                           R"({"event_type":"return"})", R"({"event_type":"consume"})", R"({"event_type":"dispose"})"}) {
    auto r = custody(eng, body);
    EXPECT_EQ(r.status, 409u) << body << " " << describe(r);
  }
  EXPECT_EQ(sample_row().get(0, 0), "consumed");

  // The chain, oldest first, each from where the previous one left it.
  auto items = all_items("/api/samples/" + id + "/custody", eng);
  const std::vector<std::string> expected = {"create", "transfer", "check_out", "return", "check_out", "return", "consume"};
  ASSERT_EQ(items.size(), expected.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(str(items[i], "event_type"), expected[i]) << i;
    EXPECT_EQ(items[i].at("seq").to_number<int>(), static_cast<int>(i + 1));
    if (i > 0) {
      ASSERT_FALSE(items[i].at("from_location").is_null()) << i;
      EXPECT_EQ(str(items[i], "from_location"), str(items[i - 1], "to_location")) << i;
    }
  }
  EXPECT_EQ(str(items.back(), "to_location"), sample_row().get(0, 1));
  // Paging the chain keeps its order.
  auto paged = all_items("/api/samples/" + id + "/custody", eng, 2);
  ASSERT_EQ(paged.size(), items.size());
  for (std::size_t i = 0; i < items.size(); ++i) EXPECT_EQ(str(paged[i], "id"), str(items[i], "id"));

  // The rows are what the API said, never updated, and the application may neither update nor delete them.
  auto rows = owner().exec("SELECT id, seq, event_type, coalesce(from_location, ''), coalesce(to_location, ''),"
                           " actor_id, updated_at = created_at FROM custody_events WHERE organization_id = $1"
                           " AND sample_id = $2 ORDER BY seq", db::Params(org.id, id));
  ASSERT_EQ(rows.rows(), static_cast<int>(items.size()));
  for (int i = 0; i < rows.rows(); ++i) {
    const auto& it = items[static_cast<std::size_t>(i)];
    EXPECT_EQ(rows.get(i, 0), str(it, "id"));
    EXPECT_EQ(rows.get_int(i, 1), i + 1);
    EXPECT_EQ(rows.get(i, 2), str(it, "event_type"));
    EXPECT_EQ(rows.get(i, 3), it.at("from_location").is_null() ? "" : str(it, "from_location"));
    EXPECT_EQ(rows.get(i, 4), it.at("to_location").is_null() ? "" : str(it, "to_location"));
    EXPECT_EQ(rows.get(i, 5), str(it, "actor_id"));
    EXPECT_TRUE(rows.get_bool(i, 6)) << "custody event " << i + 1 << " was updated";
  }
  EXPECT_EQ(owner().exec("SELECT custody_seq FROM samples WHERE id = $1", db::Params(id)).get_int(0, 0),
            static_cast<std::int64_t>(items.size()));
  auto grants = owner().exec("SELECT has_table_privilege('spectra_app', 'custody_events', 'UPDATE'),"
                             " has_table_privilege('spectra_app', 'custody_events', 'DELETE'),"
                             " has_table_privilege('spectra_app', 'custody_events', 'INSERT')");
  EXPECT_FALSE(grants.get_bool(0, 0));
  EXPECT_FALSE(grants.get_bool(0, 1));
  EXPECT_TRUE(grants.get_bool(0, 2));
  // Each move is in the audit trail too.
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND entity_id = $2"
                  " AND action IN ('sample.transfer', 'sample.check_out', 'sample.return', 'sample.consume')",
                  db::Params(org.id, id)), 6);
}

TEST(Custody, CheckOutToAnotherUserAndDispose) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string tech = login(org.user("technician"));
  const std::string id = str(make_sample(eng, json::object{{"name", "Handed over"}, {"location", "Shelf"}}), "id");
  // To someone of another organization: 422 naming to_user_id.
  auto foreign = lims("POST", "/api/samples/" + id + "/custody", eng,
                      js(json::object{{"event_type", "check_out"}, {"to_user_id", other.user("technician").id}}));
  EXPECT_EQ(foreign.status, 422u) << describe(foreign);
  EXPECT_TRUE(names(foreign, "to_user_id")) << describe(foreign);
  // A transfer hands the sample to nobody.
  auto odd = lims("POST", "/api/samples/" + id + "/custody", eng,
                  js(json::object{{"event_type", "transfer"}, {"to_location", "X"}, {"to_user_id", org.user("viewer").id}}));
  EXPECT_EQ(odd.status, 422u) << describe(odd);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE sample_id = $1", db::Params(id)), 1);

  auto handed = lims("POST", "/api/samples/" + id + "/custody", eng,
                     js(json::object{{"event_type", "check_out"}, {"to_user_id", org.user("technician").id}}));
  ASSERT_EQ(handed.status, 201u) << describe(handed);
  EXPECT_EQ(owner().exec("SELECT custodian_id FROM samples WHERE id = $1", db::Params(id)).get(0, 0), org.user("technician").id);
  auto disposed = lims("POST", "/api/samples/" + id + "/custody", tech, R"({"event_type":"dispose"})");
  ASSERT_EQ(disposed.status, 201u) << describe(disposed);
  auto row = owner().exec("SELECT status, custodian_id FROM samples WHERE id = $1", db::Params(id));
  EXPECT_EQ(row.get(0, 0), "disposed");
  EXPECT_TRUE(row.is_null(0, 1));
  EXPECT_EQ(lims("POST", "/api/samples/" + id + "/custody", eng, R"({"event_type":"return"})").status, 409u);
  // A deleted sample's chain is gone from the API (but not from the database).
  ASSERT_EQ(lims("DELETE", "/api/samples/" + id, eng).status, 204u);
  EXPECT_EQ(lims("GET", "/api/samples/" + id + "/custody", eng).status, 404u);
  EXPECT_EQ(lims("POST", "/api/samples/" + id + "/custody", eng, R"({"event_type":"transfer","to_location":"Y"})").status, 404u);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE sample_id = $1", db::Params(id)), 3);
}

TEST(Custody, ConcurrentTransfersKeepOneContiguousChain) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string tech = login(org.user("technician"));
  const std::string id = str(make_sample(eng, json::object{{"name", "Contended"}, {"location", "Start"}}), "id");
  constexpr int n = 12;
  std::vector<HttpResponse> answers(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      try {
        answers[i] = lims("POST", "/api/samples/" + id + "/custody", tech,
                          js(json::object{{"event_type", "transfer"}, {"to_location", "Bench " + std::to_string(i)}}));
      } catch (const std::exception& e) {
        answers[i].status = 0;
        answers[i].body = e.what();
      }
    });
  for (auto& t : threads) t.join();
  int created = 0;
  for (int i = 0; i < n; ++i) {
    if (answers[i].status == 201) ++created;
    else EXPECT_TRUE(answers[i].status == 409u || answers[i].status == 503u) << i << " " << describe(answers[i]);
  }
  // Each transfer goes somewhere new, so each should succeed in its turn under the sample's row lock;
  // a 409 or 503 is tolerated only if it is rare and the chain below stays whole.
  EXPECT_GE(created, n * 3 / 4) << "only " << created << " of " << n << " concurrent transfers succeeded";

  auto items = all_items("/api/samples/" + id + "/custody", eng);
  ASSERT_EQ(items.size(), static_cast<std::size_t>(created + 1));
  std::set<int> seqs;
  std::set<std::string> destinations;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const int seq = items[i].at("seq").to_number<int>();
    EXPECT_EQ(seq, static_cast<int>(i + 1));
    seqs.insert(seq);
    if (i > 0) {
      EXPECT_EQ(str(items[i], "event_type"), "transfer");
      ASSERT_FALSE(items[i].at("from_location").is_null()) << i;
      EXPECT_EQ(str(items[i], "from_location"), str(items[i - 1], "to_location")) << "the chain forked at seq " << seq;
      destinations.insert(str(items[i], "to_location"));
    }
  }
  EXPECT_EQ(seqs.size(), items.size());
  EXPECT_EQ(destinations.size(), static_cast<std::size_t>(created));
  // The database agrees: no two events share a place, and the sample is where the last one left it.
  EXPECT_EQ(count("SELECT count(DISTINCT seq) FROM custody_events WHERE organization_id = $1 AND sample_id = $2",
                  db::Params(org.id, id)), created + 1);
  EXPECT_EQ(count("SELECT max(seq) FROM custody_events WHERE organization_id = $1 AND sample_id = $2", db::Params(org.id, id)),
            created + 1);
  auto row = owner().exec("SELECT location, custody_seq FROM samples WHERE id = $1", db::Params(id));
  EXPECT_EQ(row.get(0, 0), str(items.back(), "to_location"));
  EXPECT_EQ(row.get_int(0, 1), created + 1);
}

// ---------------------------------------------------------------------------------------------
// Labels

TEST(Labels, OneLabelAsSvgPngAndZpl) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  auto s = make_sample(eng, json::object{{"name", "Label me"}, {"sample_type", "wafer"}});
  const std::string id = str(s, "id"), barcode = str(s, "barcode");

  auto svg = lims("GET", "/api/samples/" + id + "/label", eng);
  ASSERT_EQ(svg.status, 200u) << describe(svg);
  EXPECT_EQ(svg.header("content-type").rfind("image/svg+xml", 0), 0u) << svg.header("content-type");
  EXPECT_TRUE(svg.body.starts_with("<?xml") || svg.body.starts_with("<svg")) << svg.body.substr(0, 100);
  auto explicit_svg = lims("GET", "/api/samples/" + id + "/label?format=svg", eng);
  EXPECT_EQ(explicit_svg.status, 200u);
  EXPECT_EQ(explicit_svg.header("content-type").rfind("image/svg+xml", 0), 0u);

  auto png = lims("GET", "/api/samples/" + id + "/label?format=png", eng);
  ASSERT_EQ(png.status, 200u) << describe(png);
  EXPECT_EQ(png.header("content-type"), "image/png");
  ASSERT_GE(png.body.size(), 8u);
  EXPECT_EQ(png.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  ASSERT_EQ(std::system("command -v zbarimg >/dev/null 2>&1"), 0) << "zbarimg (zbar-tools) is needed to scan labels";
  const auto scanned = decode_symbols(png.body);
  ASSERT_EQ(scanned.size(), 2u) << "expected a 2D code and a Code 128";
  for (const auto& line : scanned) EXPECT_EQ(line, barcode);

  auto zpl = lims("GET", "/api/samples/" + id + "/label?format=zpl", eng);
  ASSERT_EQ(zpl.status, 200u) << describe(zpl);
  EXPECT_EQ(occurrences(zpl.body, "^XA"), 1u);
  EXPECT_NE(zpl.body.find("^XZ"), std::string::npos);
  EXPECT_NE(zpl.body.find(barcode), std::string::npos);

  auto gif = lims("GET", "/api/samples/" + id + "/label?format=gif", eng);
  EXPECT_EQ(gif.status, 400u) << describe(gif);
  EXPECT_TRUE(names(gif, "format"));
  EXPECT_EQ(lims("GET", "/api/samples/" + id + "/label?size=huge", eng).status, 400u);
  // A custom barcode prints too.
  auto custom = make_sample(eng, json::object{{"name", "Custom code"}, {"barcode", "LOT-77/b"}});
  auto custom_png = lims("GET", "/api/samples/" + str(custom, "id") + "/label?format=png", eng);
  ASSERT_EQ(custom_png.status, 200u);
  EXPECT_EQ(decode_symbols(custom_png.body), (std::vector<std::string>{"LOT-77/b", "LOT-77/b"}));
}

TEST(Labels, SheetsOfManyLabels) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  auto a = make_sample(eng, json::object{{"name", "Sheet A"}});
  auto b = make_sample(eng, json::object{{"name", "Sheet B"}});
  const json::array both{json::value(str(a, "id")), json::value(str(b, "id"))};

  auto pdf = lims("POST", "/api/samples/labels", eng, js(json::object{{"sample_ids", both}, {"format", "pdf"}}));
  ASSERT_EQ(pdf.status, 200u) << describe(pdf);
  EXPECT_EQ(pdf.header("content-type").rfind("application/pdf", 0), 0u) << pdf.header("content-type");
  EXPECT_TRUE(pdf.body.starts_with("%PDF-")) << pdf.body.substr(0, 20);
  auto default_format = lims("POST", "/api/samples/labels", eng, js(json::object{{"sample_ids", both}}));
  EXPECT_EQ(default_format.status, 200u);
  EXPECT_TRUE(default_format.body.starts_with("%PDF-"));

  auto zpl = lims("POST", "/api/samples/labels", eng, js(json::object{{"sample_ids", both}, {"format", "zpl"}}));
  ASSERT_EQ(zpl.status, 200u) << describe(zpl);
  EXPECT_EQ(occurrences(zpl.body, "^XA"), 2u);
  const auto at_a = zpl.body.find(str(a, "barcode")), at_b = zpl.body.find(str(b, "barcode"));
  ASSERT_NE(at_a, std::string::npos);
  ASSERT_NE(at_b, std::string::npos);
  EXPECT_LT(at_a, at_b) << "labels come in the order asked";

  const std::string theirs = make_sample_id(login(other.user("engineer")), "Not yours");
  auto foreign = lims("POST", "/api/samples/labels", eng,
                      js(json::object{{"sample_ids", json::array{json::value(str(a, "id")), json::value(theirs)}}, {"format", "pdf"}}));
  EXPECT_EQ(foreign.status, 422u) << describe(foreign);
  EXPECT_TRUE(names(foreign, "sample_ids[1]")) << describe(foreign);
  EXPECT_EQ(foreign.body.find("Not yours"), std::string::npos);

  json::array many;
  for (int i = 0; i < 501; ++i) many.push_back(json::value(str(a, "id")));
  auto too_many = lims("POST", "/api/samples/labels", eng, js(json::object{{"sample_ids", many}, {"format", "pdf"}}));
  EXPECT_EQ(too_many.status, 422u) << describe(too_many);
  EXPECT_TRUE(names(too_many, "sample_ids")) << describe(too_many);
  auto empty = lims("POST", "/api/samples/labels", eng, js(json::object{{"sample_ids", json::array{}}, {"format", "pdf"}}));
  EXPECT_EQ(empty.status, 422u) << describe(empty);
  EXPECT_TRUE(names(empty, "sample_ids")) << describe(empty);
  auto not_ids = lims("POST", "/api/samples/labels", eng, R"({"sample_ids":["xyz"],"format":"pdf"})");
  EXPECT_EQ(not_ids.status, 422u) << describe(not_ids);
  auto gif = lims("POST", "/api/samples/labels", eng, js(json::object{{"sample_ids", both}, {"format", "gif"}}));
  EXPECT_EQ(gif.status, 422u) << describe(gif);
  EXPECT_TRUE(names(gif, "format"));
}

// ---------------------------------------------------------------------------------------------
// CSV export and import

namespace {
const std::string csv_header = "id,barcode,name,sample_type,material_id,parent_sample_id,location,status,extra_metadata,created_at";

HttpResponse import_csv(const std::string& token, const std::string& csv, const std::string& content_type = "text/csv") {
  return lims("POST", "/api/samples/import", token, csv, {{"Content-Type", content_type}});
}
}  // namespace

TEST(SampleCsv, ExportIsSafeCsvWithTheListsFilters) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  auto formula = make_sample(eng, json::object{{"name", "=HYPERLINK(\"x\")"}, {"sample_type", "powder"}, {"location", "Rack, top"}});
  auto plain = make_sample(eng, json::object{{"name", "Plain film"}, {"sample_type", "film"}});

  auto by_param = lims("GET", "/api/samples?format=csv", eng);
  ASSERT_EQ(by_param.status, 200u) << describe(by_param);
  EXPECT_EQ(by_param.header("content-type").rfind("text/csv", 0), 0u) << by_param.header("content-type");
  auto by_accept = lims("GET", "/api/samples", eng, {}, {{"Accept", "text/csv"}});
  ASSERT_EQ(by_accept.status, 200u) << describe(by_accept);
  EXPECT_EQ(by_accept.header("content-type").rfind("text/csv", 0), 0u) << by_accept.header("content-type");
  EXPECT_EQ(by_accept.body, by_param.body);
  // JSON stays the default.
  EXPECT_EQ(lims("GET", "/api/samples", eng).header("content-type").rfind("application/json", 0), 0u);

  const std::string& text = by_param.body;
  EXPECT_EQ(text.substr(0, text.find("\r\n")), csv_header);
  auto rows = parse_csv(text);
  ASSERT_EQ(rows.size(), 3u) << text;
  const auto& header = rows[0];
  auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  bool saw_formula = false;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), header.size()) << i;
    if (rows[i][col("id")] != str(formula, "id")) continue;
    saw_formula = true;
    EXPECT_EQ(rows[i][col("name")], "'=HYPERLINK(\"x\")");
    EXPECT_EQ(rows[i][col("location")], "Rack, top");
    EXPECT_EQ(rows[i][col("barcode")], str(formula, "barcode"));
    EXPECT_EQ(rows[i][col("status")], "available");
    EXPECT_EQ(rows[i][col("sample_type")], "powder");
    EXPECT_EQ(rows[i][col("parent_sample_id")], "");
    EXPECT_EQ(rows[i][col("created_at")], str(formula, "created_at"));
  }
  EXPECT_TRUE(saw_formula);
  // The raw cell: quoted (it holds a quote), the apostrophe inside the quotes.
  EXPECT_NE(text.find(R"csv("'=HYPERLINK(""x"")")csv"), std::string::npos) << text;
  EXPECT_EQ(text.find(",=HYPERLINK"), std::string::npos) << text;

  // Filters apply to the export.
  auto films = lims("GET", "/api/samples?format=csv&sample_type=film", eng);
  ASSERT_EQ(films.status, 200u);
  auto film_rows = parse_csv(films.body);
  ASSERT_EQ(film_rows.size(), 2u) << films.body;
  EXPECT_EQ(film_rows[1][col("id")], str(plain, "id"));
  auto none = lims("GET", "/api/samples?format=csv&q=nothing-matches-this", eng);
  ASSERT_EQ(none.status, 200u);
  EXPECT_EQ(parse_csv(none.body).size(), 1u) << none.body;
  EXPECT_EQ(lims("GET", "/api/samples?format=xml", eng).status, 400u);
  // Another organization's export holds none of these.
  auto other = make_org();
  auto theirs = lims("GET", "/api/samples?format=csv", login(other.user("viewer")));
  ASSERT_EQ(theirs.status, 200u);
  EXPECT_EQ(parse_csv(theirs.body).size(), 1u) << theirs.body;
}

TEST(SampleCsv, ExportImportRoundTripIntoAnotherOrganization) {
  auto a = make_org();
  auto b = make_org();
  const std::string eng_a = login(a.user("engineer"));
  const std::string eng_b = login(b.user("engineer"));
  auto parent = make_sample(eng_a, json::object{{"name", "Parent wafer"}, {"sample_type", "wafer"}, {"location", "Shelf 1"}});
  auto child = make_sample(eng_a, json::object{{"name", "Child die, cut 1"}, {"sample_type", "die"}, {"location", "Box 2"},
                                               {"status", "in_use"}, {"parent_sample_id", str(parent, "id")}});
  auto loner = make_sample(eng_a, json::object{{"name", "+Loner powder"}, {"sample_type", "powder"}, {"status", "quarantined"},
                                               {"extra_metadata", json::object{{"lot", "L-9"}}}});
  auto csv = lims("GET", "/api/samples?format=csv", eng_a);
  ASSERT_EQ(csv.status, 200u) << describe(csv);

  auto r = import_csv(eng_b, csv.body);
  ASSERT_EQ(r.status, 201u) << describe(r);
  auto body = r.json();
  EXPECT_EQ(body.at("created").to_number<int>(), 3);
  ASSERT_EQ(body.at("ids").as_array().size(), 3u);
  std::set<std::string> answered;
  for (const auto& v : body.at("ids").as_array()) answered.emplace(v.as_string());

  auto copies = owner().exec("SELECT id, name, barcode, sample_type, coalesce(location, ''), status, parent_sample_id,"
                             " extra_metadata->>'lot' FROM samples WHERE organization_id = $1 ORDER BY name", db::Params(b.id));
  ASSERT_EQ(copies.rows(), 3);
  std::map<std::string, int> by_barcode;
  std::set<std::string> stored;
  for (int i = 0; i < copies.rows(); ++i) {
    by_barcode[std::string(copies.get(i, 2))] = i;
    stored.emplace(copies.get(i, 0));
  }
  EXPECT_EQ(stored, answered);
  for (const auto* original : {&parent, &child, &loner}) {
    const auto& o = *original;
    ASSERT_TRUE(by_barcode.contains(str(o, "barcode"))) << str(o, "barcode");
    const int i = by_barcode[str(o, "barcode")];
    EXPECT_NE(copies.get(i, 0), str(o, "id")) << "a copy is a new sample";
    EXPECT_EQ(copies.get(i, 1), str(o, "name"));
    EXPECT_EQ(copies.get(i, 3), str(o, "sample_type"));
    EXPECT_EQ(copies.get(i, 4), o.at("location").is_null() ? "" : str(o, "location"));
    EXPECT_EQ(copies.get(i, 5), str(o, "status"));
  }
  const int pi = by_barcode[str(parent, "barcode")], ci = by_barcode[str(child, "barcode")], li = by_barcode[str(loner, "barcode")];
  EXPECT_EQ(copies.get(ci, 6), copies.get(pi, 0)) << "the child's parent is B's copy of the parent";
  EXPECT_TRUE(copies.is_null(pi, 6));
  EXPECT_TRUE(copies.is_null(li, 6));
  EXPECT_EQ(copies.get(li, 7), "L-9");
  // Each copy starts its own custody chain; A is untouched.
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE organization_id = $1 AND event_type = 'create' AND seq = 1",
                  db::Params(b.id)), 3);
  EXPECT_EQ(samples_in(a.id), 3);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'sample.import'", db::Params(b.id)), 1);
  // Each imported sample's history starts with its creation.
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'sample.create'", db::Params(b.id)), 3);

  // Importing the same file again: the barcodes are taken now, so nothing is created.
  auto again = import_csv(eng_b, csv.body);
  EXPECT_EQ(again.status, 422u) << describe(again);
  EXPECT_TRUE(names(again, "rows[1].barcode")) << describe(again);
  EXPECT_EQ(samples_in(b.id), 3);
}

TEST(SampleCsv, ABadFileImportsNothing) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  make_sample_id(eng, "Existing");
  const auto before = samples_in(org.id);

  auto rock = import_csv(eng, "name,sample_type,location\r\nFirst,powder,A\r\nSecond,rock,B\r\nThird,film,C\r\n");
  EXPECT_EQ(rock.status, 422u) << describe(rock);
  EXPECT_TRUE(names(rock, "rows[2].sample_type")) << describe(rock);
  EXPECT_EQ(samples_in(org.id), before);

  auto colour = import_csv(eng, "name,sample_type,colour\r\nFirst,powder,red\r\n");
  EXPECT_EQ(colour.status, 422u) << describe(colour);
  EXPECT_NE(colour.body.find("colour"), std::string::npos) << describe(colour);

  auto missing = import_csv(eng, "name,location\r\nFirst,A\r\n");
  EXPECT_EQ(missing.status, 422u) << describe(missing);
  EXPECT_NE(missing.body.find("sample_type"), std::string::npos) << describe(missing);

  auto ragged = import_csv(eng, "name,sample_type\r\nFirst,powder\r\nSecond,powder,extra\r\n");
  EXPECT_EQ(ragged.status, 422u) << describe(ragged);
  {
    auto f = error_fields(ragged);
    EXPECT_TRUE(std::any_of(f.begin(), f.end(), [](const std::string& x) { return x.rfind("rows[2]", 0) == 0; })) << describe(ragged);
  }

  auto latin1 = import_csv(eng, "name,sample_type\r\nCaf\xe9,powder\r\n");
  EXPECT_EQ(latin1.status, 422u) << describe(latin1);

  auto json_type = import_csv(eng, "name,sample_type\r\nFirst,powder\r\n", "application/json");
  EXPECT_EQ(json_type.status, 415u) << describe(json_type);

  auto empty = import_csv(eng, "");
  EXPECT_TRUE(empty.status == 422u || empty.status == 400u) << describe(empty);
  auto header_only = import_csv(eng, "name,sample_type\r\n");
  EXPECT_EQ(header_only.status, 422u) << describe(header_only);

  auto dup_barcodes = import_csv(eng, "name,sample_type,barcode\r\nOne,powder,B-1\r\nTwo,powder,B-1\r\n");
  EXPECT_EQ(dup_barcodes.status, 422u) << describe(dup_barcodes);
  EXPECT_TRUE(names(dup_barcodes, "rows[2].barcode")) << describe(dup_barcodes);
  auto checked_out = import_csv(eng, "name,sample_type,status\r\nOne,powder,checked_out\r\n");
  EXPECT_EQ(checked_out.status, 422u) << describe(checked_out);
  EXPECT_TRUE(names(checked_out, "rows[1].status")) << describe(checked_out);
  auto unknown_parent = import_csv(eng, "name,sample_type,parent_sample_id\r\nOne,die," + std::string("00000000-0000-4000-8000-000000000000") + "\r\n");
  EXPECT_EQ(unknown_parent.status, 422u) << describe(unknown_parent);
  EXPECT_TRUE(names(unknown_parent, "rows[1].parent_sample_id")) << describe(unknown_parent);
  auto bad_metadata = import_csv(eng, "name,sample_type,extra_metadata\r\nOne,powder,[1]\r\n");
  EXPECT_EQ(bad_metadata.status, 422u) << describe(bad_metadata);
  EXPECT_TRUE(names(bad_metadata, "rows[1].extra_metadata")) << describe(bad_metadata);

  EXPECT_EQ(samples_in(org.id), before);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE organization_id = $1", db::Params(org.id)), before);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'sample.import'", db::Params(org.id)), 0);
}

TEST(SampleCsv, TenThousandRowsAllOrNothing) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  std::string good = "name,sample_type\r\n";
  for (int i = 0; i < 10000; ++i) good += "Bulk sample " + std::to_string(i) + (i % 2 ? ",powder\r\n" : ",film\r\n");
  // The same file with its last row wrong: nothing of it is created.
  const std::string bad = good.substr(0, good.rfind("Bulk sample 9999")) + "Bulk sample 9999,rock\r\n";
  auto refused = import_csv(eng, bad);
  EXPECT_EQ(refused.status, 422u) << describe(refused);
  EXPECT_TRUE(names(refused, "rows[10000].sample_type")) << describe(refused);
  EXPECT_EQ(samples_in(org.id), 0);

  auto r = import_csv(eng, good);
  ASSERT_EQ(r.status, 201u) << describe(r);
  EXPECT_EQ(r.json().at("created").to_number<int>(), 10000);
  EXPECT_EQ(r.json().at("ids").as_array().size(), 10000u);
  EXPECT_EQ(samples_in(org.id), 10000);
  EXPECT_EQ(count("SELECT count(DISTINCT barcode) FROM samples WHERE organization_id = $1", db::Params(org.id)), 10000);
  EXPECT_EQ(count("SELECT count(*) FROM custody_events WHERE organization_id = $1", db::Params(org.id)), 10000);

  // One more row than the limit is refused whole.
  std::string over = "name,sample_type\r\n";
  for (int i = 0; i < 10001; ++i) over += "Over " + std::to_string(i) + ",powder\r\n";
  auto too_many = import_csv(eng, over);
  EXPECT_EQ(too_many.status, 422u) << describe(too_many);
  EXPECT_EQ(samples_in(org.id), 10000);
}

// ---------------------------------------------------------------------------------------------
// Materials

TEST(Materials, CreateNamesAreUniqueAndUsedOnesStay) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  auto m = lims("POST", "/api/materials", eng, R"({"name":"Silicon","formula":"Si","category":"semiconductor","properties":{"band_gap_ev":1.12}})");
  ASSERT_EQ(m.status, 201u) << describe(m);
  const std::string id = str(m.json(), "id");
  EXPECT_EQ(str(m.json(), "name"), "Silicon");
  EXPECT_EQ(str(m.json(), "organization_id"), org.id);
  EXPECT_EQ(owner().exec("SELECT formula FROM materials WHERE organization_id = $1 AND id = $2", db::Params(org.id, id)).get(0, 0), "Si");
  EXPECT_EQ(lims("GET", "/api/materials/" + id, eng).status, 200u);

  auto dup = lims("POST", "/api/materials", eng, R"({"name":"SILICON"})");
  EXPECT_EQ(dup.status, 409u) << describe(dup);
  EXPECT_TRUE(names(dup, "name")) << describe(dup);
  EXPECT_EQ(count("SELECT count(*) FROM materials WHERE organization_id = $1", db::Params(org.id)), 1);
  // Another organization has its own names.
  EXPECT_EQ(lims("POST", "/api/materials", login(other.user("engineer")), R"({"name":"Silicon"})").status, 201u);
  EXPECT_EQ(lims("GET", "/api/materials/" + id, login(other.user("engineer"))).status, 404u);
  EXPECT_EQ(lims("DELETE", "/api/materials/" + id, login(other.user("engineer"))).status, 404u);
  auto bad = lims("POST", "/api/materials", eng, R"({"name":"X","category":"cheese"})");
  EXPECT_EQ(bad.status, 422u);
  EXPECT_TRUE(names(bad, "category"));

  // Used by a live sample: 409, kept.
  const std::string sample = str(make_sample(eng, json::object{{"name", "Si chip"}, {"material_id", id}}), "id");
  auto in_use = lims("DELETE", "/api/materials/" + id, eng);
  EXPECT_EQ(in_use.status, 409u) << describe(in_use);
  EXPECT_FALSE(owner().exec("SELECT is_deleted FROM materials WHERE id = $1", db::Params(id)).get_bool(0, 0));
  // Once the sample is gone, the material may go.
  ASSERT_EQ(lims("DELETE", "/api/samples/" + sample, eng).status, 204u);
  auto unused = lims("POST", "/api/materials", eng, R"({"name":"Germanium","formula":"Ge"})");
  ASSERT_EQ(unused.status, 201u);
  const std::string ge = str(unused.json(), "id");
  EXPECT_EQ(lims("DELETE", "/api/materials/" + ge, eng).status, 204u);
  EXPECT_EQ(lims("GET", "/api/materials/" + ge, eng).status, 404u);
  EXPECT_TRUE(owner().exec("SELECT is_deleted FROM materials WHERE id = $1", db::Params(ge)).get_bool(0, 0));
  EXPECT_EQ(lims("DELETE", "/api/materials/" + id, eng).status, 204u);
  // A deleted material's name is free again, and a new sample cannot use the deleted one.
  EXPECT_EQ(lims("POST", "/api/materials", eng, R"({"name":"germanium"})").status, 201u);
  auto stale = post_sample(eng, json::object{{"name", "On deleted"}, {"sample_type", "powder"}, {"material_id", ge}});
  EXPECT_EQ(stale.status, 422u) << describe(stale);
  EXPECT_TRUE(names(stale, "material_id"));
}

// ---------------------------------------------------------------------------------------------
// Wafers

TEST(Wafers, PropertiesWithinPhysicalBoundsForWaferSamplesOnly) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string sample = make_sample_id(eng, "Wafer W1", "wafer");
  auto wafer_body = [&](const std::string& sample_id) {
    return json::object{{"sample_id", sample_id}, {"diameter_mm", 150}, {"orientation", "<100>"}, {"doping_type", "p"}};
  };
  struct Case {
    const char* key;
    json::value value;
    const char* field;
  };
  const std::vector<Case> bad = {
      {"diameter_mm", 151, "diameter_mm"},
      {"orientation", "<123>", "orientation"},
      {"doping_type", "x", "doping_type"},
      {"resistivity_ohm_cm", -1, "resistivity_ohm_cm"},
      {"thickness_um", 1e9, "thickness_um"},
      {"diameter_mm", "150", "diameter_mm"},
      {"colour", "blue", "colour"},
  };
  for (const auto& c : bad) {
    auto body = wafer_body(sample);
    body[c.key] = c.value;
    auto r = lims("POST", "/api/wafers", eng, js(body));
    EXPECT_EQ(r.status, 422u) << c.key << " " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << c.key << " " << describe(r);
  }
  EXPECT_EQ(count("SELECT count(*) FROM wafers WHERE organization_id = $1", db::Params(org.id)), 0);

  auto full = wafer_body(sample);
  full["dopant"] = "B";
  full["resistivity_ohm_cm"] = 10.5;
  full["thickness_um"] = 675;
  auto w = lims("POST", "/api/wafers", eng, js(full));
  ASSERT_EQ(w.status, 201u) << describe(w);
  auto wj = w.json();
  EXPECT_EQ(str(wj, "sample_id"), sample);
  EXPECT_EQ(wj.at("diameter_mm").to_number<int>(), 150);
  EXPECT_EQ(str(wj, "orientation"), "<100>");
  EXPECT_EQ(str(wj, "doping_type"), "p");
  const std::string wafer_id = str(wj, "id");
  auto row = owner().exec("SELECT diameter_mm, orientation, doping_type, dopant, resistivity_ohm_cm, thickness_um FROM wafers"
                          " WHERE organization_id = $1 AND id = $2", db::Params(org.id, wafer_id));
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.get_int(0, 0), 150);
  EXPECT_EQ(row.get(0, 1), "<100>");
  EXPECT_EQ(row.get(0, 2), "p");
  EXPECT_EQ(row.get(0, 3), "B");
  EXPECT_DOUBLE_EQ(row.get_double(0, 4), 10.5);
  EXPECT_DOUBLE_EQ(row.get_double(0, 5), 675);
  EXPECT_EQ(lims("GET", "/api/wafers/" + wafer_id, eng).status, 200u);
  auto listed = all_items("/api/wafers?sample_id=" + sample, eng);
  EXPECT_EQ(ids_of(listed), std::set<std::string>{wafer_id});

  auto second = lims("POST", "/api/wafers", eng, js(wafer_body(sample)));
  EXPECT_EQ(second.status, 409u) << describe(second);
  EXPECT_TRUE(names(second, "sample_id")) << describe(second);

  const std::string powder = make_sample_id(eng, "Not a wafer", "powder");
  auto not_wafer = lims("POST", "/api/wafers", eng, js(wafer_body(powder)));
  EXPECT_EQ(not_wafer.status, 422u) << describe(not_wafer);
  EXPECT_TRUE(names(not_wafer, "sample_id")) << describe(not_wafer);

  const std::string theirs = make_sample_id(login(other.user("engineer")), "Their wafer", "wafer");
  auto foreign = lims("POST", "/api/wafers", eng, js(wafer_body(theirs)));
  EXPECT_EQ(foreign.status, 422u) << describe(foreign);
  EXPECT_TRUE(names(foreign, "sample_id")) << describe(foreign);
  EXPECT_EQ(count("SELECT count(*) FROM wafers WHERE sample_id = $1", db::Params(theirs)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM wafers WHERE organization_id = $1", db::Params(org.id)), 1);

  // Changes are checked the same way; another organization cannot see or change the wafer.
  auto p = lims("PATCH", "/api/wafers/" + wafer_id, eng, R"({"diameter_mm":151})");
  EXPECT_EQ(p.status, 422u) << describe(p);
  EXPECT_TRUE(names(p, "diameter_mm"));
  EXPECT_EQ(lims("PATCH", "/api/wafers/" + wafer_id, eng, R"({"thickness_um":1e9})").status, 422u);
  auto ok = lims("PATCH", "/api/wafers/" + wafer_id, eng, R"({"diameter_mm":200,"dopant":null})");
  EXPECT_EQ(ok.status, 200u) << describe(ok);
  const std::string other_eng = login(other.user("engineer"));
  EXPECT_EQ(lims("GET", "/api/wafers/" + wafer_id, other_eng).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/wafers/" + wafer_id, other_eng, R"({"diameter_mm":300})").status, 404u);
  auto after = owner().exec("SELECT diameter_mm, dopant FROM wafers WHERE id = $1", db::Params(wafer_id));
  EXPECT_EQ(after.get_int(0, 0), 200);
  EXPECT_TRUE(after.is_null(0, 1));
}

// ---------------------------------------------------------------------------------------------
// Devices

TEST(Devices, DiePositionsAreWholeAndUniqueOnAWafer) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  auto make_wafer = [&](const std::string& token, const std::string& name) {
    const std::string sample = make_sample_id(token, name, "wafer");
    auto w = lims("POST", "/api/wafers", token,
                  js(json::object{{"sample_id", sample}, {"diameter_mm", 200}, {"orientation", "<100>"}, {"doping_type", "n"}}));
    if (w.status != 201) throw std::runtime_error("creating a wafer failed: " + describe(w));
    return str(w.json(), "id");
  };
  const std::string wafer = make_wafer(eng, "Device wafer");
  const std::string other_wafer = make_wafer(eng, "Second device wafer");

  auto d = lims("POST", "/api/devices", eng,
                js(json::object{{"wafer_id", wafer}, {"name", "TLM 1"}, {"device_type", "tlm"}, {"die_x", 3}, {"die_y", -2},
                                {"layout", json::object{{"pads", 4}}}}));
  ASSERT_EQ(d.status, 201u) << describe(d);
  const std::string device = str(d.json(), "id");
  EXPECT_EQ(d.json().at("die_x").to_number<int>(), 3);
  EXPECT_EQ(d.json().at("die_y").to_number<int>(), -2);
  auto row = owner().exec("SELECT wafer_id, die_x, die_y, layout->>'pads' FROM devices WHERE organization_id = $1 AND id = $2",
                          db::Params(org.id, device));
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.get(0, 0), wafer);
  EXPECT_EQ(row.get_int(0, 1), 3);
  EXPECT_EQ(row.get_int(0, 2), -2);
  EXPECT_EQ(row.get(0, 3), "4");
  EXPECT_EQ(lims("GET", "/api/devices/" + device, eng).status, 200u);
  EXPECT_EQ(ids_of(all_items("/api/devices?wafer_id=" + wafer, eng)), std::set<std::string>{device});

  auto same = lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", wafer}, {"name", "TLM 2"}, {"die_x", 3}, {"die_y", -2}}));
  EXPECT_EQ(same.status, 409u) << describe(same);
  // The same position on another wafer, or another position on this one, is fine.
  EXPECT_EQ(lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", other_wafer}, {"name", "TLM 1"}, {"die_x", 3}, {"die_y", -2}}))
                .status, 201u);
  EXPECT_EQ(lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", wafer}, {"name", "TLM 3"}, {"die_x", 3}, {"die_y", -1}})).status,
            201u);
  // No position at all is fine too.
  EXPECT_EQ(lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", wafer}, {"name", "Loose"}})).status, 201u);

  auto half = lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", wafer}, {"name", "Half"}, {"die_x", 5}}));
  EXPECT_EQ(half.status, 422u) << describe(half);
  EXPECT_TRUE(names(half, "die_y")) << describe(half);
  auto other_half = lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", wafer}, {"name", "Half"}, {"die_y", 5}}));
  EXPECT_EQ(other_half.status, 422u) << describe(other_half);
  EXPECT_TRUE(names(other_half, "die_x")) << describe(other_half);
  auto no_name = lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", wafer}}));
  EXPECT_EQ(no_name.status, 422u);
  EXPECT_TRUE(names(no_name, "name"));

  const std::string theirs = make_wafer(login(other.user("engineer")), "Their wafer");
  auto foreign = lims("POST", "/api/devices", eng, js(json::object{{"wafer_id", theirs}, {"name", "Intruder"}}));
  EXPECT_EQ(foreign.status, 422u) << describe(foreign);
  EXPECT_TRUE(names(foreign, "wafer_id")) << describe(foreign);
  EXPECT_EQ(count("SELECT count(*) FROM devices WHERE wafer_id = $1", db::Params(theirs)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM devices WHERE organization_id = $1 AND name IN ('TLM 2', 'Half', 'Intruder')",
                  db::Params(org.id)), 0);

  // A PATCH onto a taken position is a conflict; another organization gets 404.
  const std::string third(owner().exec("SELECT id FROM devices WHERE organization_id = $1 AND name = 'TLM 3'", db::Params(org.id)).get(0, 0));
  auto clash = lims("PATCH", "/api/devices/" + third, eng, R"({"die_y":-2})");
  EXPECT_EQ(clash.status, 409u) << describe(clash);
  EXPECT_EQ(owner().exec("SELECT die_y FROM devices WHERE id = $1", db::Params(third)).get_int(0, 0), -1);
  const std::string other_eng = login(other.user("engineer"));
  EXPECT_EQ(lims("GET", "/api/devices/" + device, other_eng).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/devices/" + device, other_eng, R"({"name":"Taken"})").status, 404u);
  EXPECT_EQ(owner().exec("SELECT name FROM devices WHERE id = $1", db::Params(device)).get(0, 0), "TLM 1");
  // Devices of a deleted wafer sample vanish with it.
  const std::string wafer_sample(owner().exec("SELECT sample_id FROM wafers WHERE id = $1", db::Params(wafer)).get(0, 0));
  ASSERT_EQ(lims("DELETE", "/api/samples/" + wafer_sample, eng).status, 204u);
  EXPECT_EQ(lims("GET", "/api/devices/" + device, eng).status, 404u);
  EXPECT_EQ(lims("GET", "/api/wafers/" + wafer, eng).status, 404u);
}
