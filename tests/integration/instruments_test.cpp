// Instruments and calibrations as their users check them (the Analysis API): instruments with their
// calibration status, listed by it; certificates recorded with possible dates only; the status check
// for every state, agreeing with the lockout's rule; expiring and revoking that block the instrument's
// queued runs at once; roles, another organization's ids, and bad input that writes nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "analysis/instruments/rules.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

json::value make_instrument(const std::string& token, const std::string& serial, const std::string& name = "Ellipsometer") {
  auto r = analysis("POST", "/api/v1/instruments", token,
                    js(json::object{{"name", name}, {"vendor", "Woollam"}, {"model", "M-2000"}, {"serial_number", serial},
                                    {"location", "Bay 2"}, {"calibration_interval_days", 365}}));
  if (r.status != 201) throw std::runtime_error("creating an instrument failed: " + describe(r));
  return r.json();
}

// A certificate calibrated `calibrated_days_ago` and expiring in `expires_in_days` (negative: ago) and
// twelve hours, so that whole days counted a second apart agree.
HttpResponse calibrate(const std::string& token, const std::string& instrument, const std::string& certificate,
                       int calibrated_days_ago, int expires_in_days, const std::string& status = "VALID") {
  auto at = [](int days, int hours) {
    return std::string(owner().exec("SELECT to_char((now() + make_interval(days => $1::int, hours => $2::int))"
                                    " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                                    db::Params(days, hours)).get(0, 0));
  };
  return analysis("POST", "/api/v1/calibrations", token,
                  js(json::object{{"instrument_id", instrument}, {"certificate_number", certificate},
                                  {"calibrated_at", at(-calibrated_days_ago, 0)}, {"expires_at", at(expires_in_days, 12)},
                                  {"status", status}, {"provider", "Metrology Ltd"}}));
}

json::value status_check(const std::string& token, const std::string& instrument) {
  auto r = analysis("GET", "/api/v1/calibrations/status/check?instrument_id=" + instrument, token);
  if (r.status != 200) throw std::runtime_error("the status check failed: " + describe(r));
  return r.json();
}

// What the lockout's rule decides for the instrument now, from its latest calibration in the database.
instruments::CalibrationState rule_says(const std::string& instrument) {
  auto r = owner().exec(
      "SELECT c.id, c.certificate_number, c.status, floor(extract(epoch FROM c.expires_at))::bigint,"
      " floor(extract(epoch FROM c.expired_at))::bigint, floor(extract(epoch FROM now()))::bigint"
      " FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT * FROM calibrations x WHERE x.instrument_id = $1"
      " ORDER BY x.calibrated_at DESC, x.created_at DESC, x.id DESC LIMIT 1) c ON true",
      db::Params(instrument));
  using instruments::Time;
  std::optional<instruments::Calibration> latest;
  if (r.get_optional(0, 0)) {
    latest = instruments::Calibration{std::string(r.get(0, 0)), std::string(r.get(0, 1)), std::string(r.get(0, 2)),
                                      Time(std::chrono::seconds(r.get_int(0, 3))), std::nullopt};
    if (r.get_optional(0, 4)) latest->expired_at = Time(std::chrono::seconds(r.get_int(0, 4)));
  }
  return instruments::judge_calibration(latest, Time(std::chrono::seconds(r.get_int(0, 5))));
}

std::string queued_run(const TestOrg& org, const std::string& instrument, const std::string& kind = "measurement") {
  const std::string sample(owner().exec(
      "WITH s AS (INSERT INTO samples (organization_id, name, sample_type, barcode) VALUES ($1, 'Run sample', 'wafer',"
      " 'RS-' || substr(md5(random()::text), 1, 10)) RETURNING id) SELECT id FROM s", db::Params(org.id)).get(0, 0));
  return std::string(owner().exec(
      "INSERT INTO runs (organization_id, instrument_id, sample_id, kind, status, calibration_exempt)"
      " VALUES ($1, $2, $3, $4, 'QUEUED', $4 = 'calibration') RETURNING id",
      db::Params(org.id, instrument, sample, kind)).get(0, 0));
}

}  // namespace

TEST(Instruments, RegisterReadChangeListAndDelete) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  auto made = make_instrument(eng, "SN-1");
  const std::string id = str(made, "id");
  EXPECT_EQ(str(made, "serial_number"), "SN-1");
  EXPECT_EQ(made.at("calibration_interval_days").as_int64(), 365);
  EXPECT_EQ(str(made.at("calibration"), "status"), "NONE");
  EXPECT_FALSE(made.at("calibration").at("is_valid").as_bool());
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'instrument.create' AND entity_id = $1", db::Params(id)), 1);

  auto dup = analysis("POST", "/api/v1/instruments", eng,
                      js(json::object{{"name", "Twin"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "SN-1"}}));
  EXPECT_EQ(dup.status, 409u);
  EXPECT_TRUE(names(dup, "serial_number")) << describe(dup);

  auto changed = analysis("PATCH", "/api/v1/instruments/" + id, eng, js(json::object{{"location", "Bay 3"}, {"status", "maintenance"}}));
  ASSERT_EQ(changed.status, 200u) << describe(changed);
  EXPECT_EQ(str(changed.json(), "location"), "Bay 3");
  EXPECT_EQ(db_text("SELECT status FROM instruments WHERE id = $1", db::Params(id)), "maintenance");

  make_instrument(eng, "SN-2", "Probe station");
  auto listed = analysis("GET", "/api/v1/instruments?q=probe", login(org.user("viewer")));
  ASSERT_EQ(listed.status, 200u);
  ASSERT_EQ(listed.json().at("items").as_array().size(), 1u);

  // An instrument with a queued run stays.
  const std::string run = queued_run(org, id, "calibration");
  EXPECT_EQ(analysis("DELETE", "/api/v1/instruments/" + id, eng).status, 409u);
  owner().exec("UPDATE runs SET status = 'CANCELLED' WHERE id = $1", db::Params(run));
  EXPECT_EQ(analysis("DELETE", "/api/v1/instruments/" + id, eng).status, 204u);
  EXPECT_EQ(analysis("GET", "/api/v1/instruments/" + id, eng).status, 404u);
  EXPECT_EQ(db_text("SELECT is_deleted::text FROM instruments WHERE id = $1", db::Params(id)), "true");
  // Its serial number is free again.
  make_instrument(eng, "SN-1", "Replacement");
}

TEST(Instruments, TheStatusCheckNamesEveryStateAndAgreesWithTheLockoutRule) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), admin = login(org.admin());
  const std::string none = str(make_instrument(eng, "S-NONE"), "id");
  const std::string valid = str(make_instrument(eng, "S-VALID"), "id");
  const std::string expiring = str(make_instrument(eng, "S-SOON"), "id");
  const std::string expired = str(make_instrument(eng, "S-OLD"), "id");
  const std::string pending = str(make_instrument(eng, "S-PEND"), "id");
  const std::string revoked = str(make_instrument(eng, "S-REV"), "id");
  ASSERT_EQ(calibrate(eng, valid, "C-VALID", 30, 335).status, 201u);
  ASSERT_EQ(calibrate(eng, expiring, "C-SOON", 355, 10).status, 201u);
  ASSERT_EQ(calibrate(eng, expired, "C-OLD", 400, -35).status, 201u);
  ASSERT_EQ(calibrate(eng, pending, "C-PEND", 1, 364, "PENDING").status, 201u);
  auto rev = calibrate(eng, revoked, "C-REV", 30, 335);
  ASSERT_EQ(rev.status, 201u);
  ASSERT_EQ(analysis("PATCH", "/api/v1/calibrations/" + str(rev.json(), "id") + "/revoke", admin,
                     js(json::object{{"reason", "Wrong reference standard"}})).status, 200u);

  struct Want {
    std::string id, status, reason_starts;
    bool valid;
  };
  const std::vector<Want> wants = {{none, "NONE", "no calibration", false},
                                   {valid, "VALID", "valid until", true},
                                   {expiring, "VALID", "valid until", true},
                                   {expired, "EXPIRED", "calibration expired on", false},
                                   {pending, "PENDING", "calibration pending (certificate C-PEND)", false},
                                   {revoked, "REVOKED", "calibration revoked (certificate C-REV)", false}};
  for (const auto& w : wants) {
    auto check = status_check(login(org.user("viewer")), w.id);
    EXPECT_EQ(check.as_object().size(), 7u) << json::serialize(check);
    EXPECT_EQ(str(check, "instrument_id"), w.id);
    EXPECT_EQ(str(check, "status"), w.status) << json::serialize(check);
    EXPECT_EQ(check.at("is_valid").as_bool(), w.valid) << json::serialize(check);
    EXPECT_EQ(str(check, "reason").rfind(w.reason_starts, 0), 0u) << json::serialize(check);
    // The status shown is the lockout's decision, word for word.
    const auto rule = rule_says(w.id);
    EXPECT_EQ(rule.usable, w.valid) << w.status;
    EXPECT_EQ(rule.status, str(check, "status"));
    EXPECT_EQ(rule.reason, str(check, "reason"));
    if (rule.days_until_expiry) EXPECT_EQ(*rule.days_until_expiry, check.at("days_until_expiry").as_int64()) << w.status;
    else EXPECT_TRUE(check.at("days_until_expiry").is_null());
    // The instrument carries the same object.
    auto inst = analysis("GET", "/api/v1/instruments/" + w.id, login(org.user("technician")));
    ASSERT_EQ(inst.status, 200u);
    EXPECT_EQ(inst.json().at("calibration"), check) << json::serialize(inst.json().at("calibration"));
  }
  // Expired 34 and a half days ago: days are rounded down.
  EXPECT_EQ(status_check(eng, expired).at("days_until_expiry").as_int64(), -35);
  EXPECT_EQ(status_check(eng, expiring).at("days_until_expiry").as_int64(), 10);

  // Lists filter by calibration state.
  auto names_of = [&](const std::string& query) {
    std::set<std::string> out;
    auto r = analysis("GET", "/api/v1/instruments?" + query, eng);
    EXPECT_EQ(r.status, 200u) << query << " " << describe(r);
    const auto body = r.json();
    for (const auto& i : body.at("items").as_array()) out.insert(str(i, "serial_number"));
    return out;
  };
  EXPECT_EQ(names_of("calibration=valid"), (std::set<std::string>{"S-VALID", "S-SOON"}));
  EXPECT_EQ(names_of("calibration=expiring&expiring_within_days=30"), std::set<std::string>{"S-SOON"});
  EXPECT_EQ(names_of("expiring_within_days=30"), std::set<std::string>{"S-SOON"});
  EXPECT_EQ(names_of("calibration=expired"), std::set<std::string>{"S-OLD"});
  EXPECT_EQ(names_of("calibration=none"), std::set<std::string>{"S-NONE"});
  EXPECT_EQ(names_of("calibration=revoked"), std::set<std::string>{"S-REV"});
  auto cal_list = analysis("GET", "/api/v1/calibrations?expiring_within_days=30", eng);
  ASSERT_EQ(cal_list.status, 200u);
  ASSERT_EQ(cal_list.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(str(cal_list.json().at("items").at(0), "certificate_number"), "C-SOON");
}

TEST(Instruments, TheLatestCalibrationDecides) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string id = str(make_instrument(eng, "S-LATEST"), "id");
  ASSERT_EQ(calibrate(eng, id, "C-NEW", 10, 355).status, 201u);
  // An older certificate recorded later does not override the newer one.
  ASSERT_EQ(calibrate(eng, id, "C-ANCIENT", 800, -435).status, 201u);
  auto check = status_check(eng, id);
  EXPECT_EQ(str(check, "status"), "VALID");
  EXPECT_NE(str(check, "reason").find("C-NEW"), std::string::npos);
  // A newer pending certificate does.
  ASSERT_EQ(calibrate(eng, id, "C-PENDING", 1, 364, "PENDING").status, 201u);
  EXPECT_EQ(str(status_check(eng, id), "status"), "PENDING");
}

TEST(Instruments, ExpiringOrRevokingBlocksTheInstrumentsQueuedRunsAtOnce) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), admin = login(org.admin());
  const std::string id = str(make_instrument(eng, "S-BLOCK"), "id");
  auto cal = calibrate(eng, id, "C-1", 30, 335);
  ASSERT_EQ(cal.status, 201u);
  const std::string cal_id = str(cal.json(), "id");
  const std::string run1 = queued_run(org, id), run2 = queued_run(org, id);
  const std::string calibration_run = queued_run(org, id, "calibration");
  const std::string running(owner().exec("UPDATE runs SET status = 'RUNNING' WHERE id = $1 RETURNING id",
                                         db::Params(queued_run(org, id))).get(0, 0));

  EXPECT_EQ(analysis("PATCH", "/api/v1/calibrations/" + cal_id + "/expire", eng).status, 403u);  // admin only
  auto expired = analysis("PATCH", "/api/v1/calibrations/" + cal_id + "/expire", admin, js(json::object{{"reason", "Dropped"}}));
  ASSERT_EQ(expired.status, 200u) << describe(expired);
  EXPECT_EQ(str(expired.json(), "status"), "EXPIRED");
  EXPECT_EQ(expired.json().at("blocked_run_ids").as_array().size(), 2u);
  for (const auto& run : {run1, run2}) {
    EXPECT_EQ(db_text("SELECT status FROM runs WHERE id = $1", db::Params(run)), "BLOCKED");
    EXPECT_EQ(db_text("SELECT blocked_reason FROM runs WHERE id = $1", db::Params(run)).rfind("calibration expired on", 0), 0u);
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'run.block' AND entity_id = $1", db::Params(run)), 1);
  }
  EXPECT_EQ(db_text("SELECT status FROM runs WHERE id = $1", db::Params(calibration_run)), "QUEUED");  // exempt
  EXPECT_EQ(db_text("SELECT status FROM runs WHERE id = $1", db::Params(running)), "RUNNING");  // re-checked at start
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'calibration.expire' AND entity_id = $1", db::Params(cal_id)), 1);
  EXPECT_EQ(analysis("PATCH", "/api/v1/calibrations/" + cal_id + "/expire", admin).status, 409u);

  // A fresh certificate; revoking an older one changes nothing for the instrument.
  auto fresh = calibrate(eng, id, "C-2", 1, 364);
  ASSERT_EQ(fresh.status, 201u);
  const std::string run3 = queued_run(org, id);
  auto revoke_old = analysis("PATCH", "/api/v1/calibrations/" + cal_id + "/revoke", admin);
  ASSERT_EQ(revoke_old.status, 200u) << describe(revoke_old);
  EXPECT_TRUE(revoke_old.json().at("blocked_run_ids").as_array().empty());
  EXPECT_EQ(db_text("SELECT status FROM runs WHERE id = $1", db::Params(run3)), "QUEUED");
  // Revoking the latest blocks.
  auto revoke_new = analysis("PATCH", "/api/v1/calibrations/" + str(fresh.json(), "id") + "/revoke", admin);
  ASSERT_EQ(revoke_new.status, 200u);
  EXPECT_EQ(db_text("SELECT blocked_reason FROM runs WHERE id = $1", db::Params(run3)), "calibration revoked (certificate C-2)");
}

TEST(Instruments, BadInputRolesAndAnotherOrganization) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string id = str(make_instrument(eng, "S-MINE"), "id");
  const std::string theirs = str(make_instrument(login(other.user("engineer")), "S-THEIRS"), "id");

  struct Case {
    std::string body, field;
  };
  const std::vector<Case> instrument_cases = {
      {js(json::object{{"vendor", "V"}, {"model", "M"}, {"serial_number", "X"}}), "name"},
      {js(json::object{{"name", "N"}, {"vendor", "V"}, {"model", "M"}}), "serial_number"},
      {js(json::object{{"name", "N"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "X"}, {"calibration_interval_days", 0}}),
       "calibration_interval_days"},
      {js(json::object{{"name", "N"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "X"}, {"status", "broken"}}), "status"},
      {js(json::object{{"name", "N"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "X"}, {"colour", "red"}}), "colour"},
  };
  for (const auto& c : instrument_cases) {
    auto r = analysis("POST", "/api/v1/instruments", eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.field << " " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << describe(r);
  }
  EXPECT_EQ(count("SELECT count(*) FROM instruments WHERE organization_id = $1", db::Params(org.id)), 1);

  const std::vector<Case> calibration_cases = {
      {js(json::object{{"instrument_id", id}, {"certificate_number", "C"}, {"calibrated_at", "2026-01-01T00:00:00Z"},
                       {"expires_at", "2025-01-01T00:00:00Z"}}), "expires_at"},
      {js(json::object{{"instrument_id", id}, {"certificate_number", "C"}, {"calibrated_at", "2099-01-01T00:00:00Z"},
                       {"expires_at", "2100-01-01T00:00:00Z"}}), "calibrated_at"},
      {js(json::object{{"instrument_id", id}, {"certificate_number", "C"}, {"calibrated_at", "yesterday"},
                       {"expires_at", "2100-01-01T00:00:00Z"}}), "calibrated_at"},
      {js(json::object{{"instrument_id", id}, {"certificate_number", "C"}, {"calibrated_at", "2026-01-01T00:00:00Z"},
                       {"expires_at", "2027-01-01T00:00:00Z"}, {"status", "EXPIRED"}}), "status"},
      {js(json::object{{"instrument_id", theirs}, {"certificate_number", "C"}, {"calibrated_at", "2026-01-01T00:00:00Z"},
                       {"expires_at", "2027-01-01T00:00:00Z"}}), "instrument_id"},
      {js(json::object{{"instrument_id", "nope"}, {"certificate_number", "C"}, {"calibrated_at", "2026-01-01T00:00:00Z"},
                       {"expires_at", "2027-01-01T00:00:00Z"}}), "instrument_id"},
  };
  for (const auto& c : calibration_cases) {
    auto r = analysis("POST", "/api/v1/calibrations", eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.field << " " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << describe(r);
  }
  EXPECT_EQ(count("SELECT count(*) FROM calibrations WHERE organization_id = $1", db::Params(org.id)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM calibrations WHERE instrument_id = $1", db::Params(theirs)), 0);
  EXPECT_EQ(analysis("GET", "/api/v1/calibrations/status/check", eng).status, 400u);
  EXPECT_EQ(analysis("GET", "/api/v1/calibrations/status/check?instrument_id=x", eng).status, 400u);
  EXPECT_EQ(analysis("GET", "/api/v1/instruments?calibration=shiny", eng).status, 400u);

  // Roles: anyone reads; engineers write; admins expire and revoke.
  for (const std::string role : {"viewer", "technician"}) {
    const std::string t = login(org.user(role));
    EXPECT_EQ(analysis("GET", "/api/v1/instruments/" + id, t).status, 200u);
    EXPECT_EQ(analysis("GET", "/api/v1/calibrations", t).status, 200u);
    EXPECT_EQ(analysis("PATCH", "/api/v1/instruments/" + id, t, js(json::object{{"name", "x"}})).status, 403u);
    EXPECT_EQ(calibrate(t, id, "C-" + role, 1, 30).status, 403u);
  }
  const std::string key = api_key(org, {"instruments:read"}, "engineer");
  EXPECT_EQ(analysis("GET", "/api/v1/instruments", key).status, 200u);
  EXPECT_EQ(analysis("GET", "/api/v1/calibrations", key).status, 403u);
  EXPECT_EQ(analysis("POST", "/api/v1/instruments", key,
                     js(json::object{{"name", "N"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "K"}})).status, 403u);

  // Another organization's instrument and calibration: 404, nothing changed.
  auto cal = calibrate(eng, id, "C-MINE", 1, 30);
  ASSERT_EQ(cal.status, 201u);
  const std::string them = login(other.user("engineer")), their_admin = login(other.admin());
  EXPECT_EQ(analysis("GET", "/api/v1/instruments/" + id, them).status, 404u);
  EXPECT_EQ(analysis("PATCH", "/api/v1/instruments/" + id, them, js(json::object{{"name", "Ours now"}})).status, 404u);
  EXPECT_EQ(analysis("DELETE", "/api/v1/instruments/" + id, them).status, 404u);
  EXPECT_EQ(analysis("GET", "/api/v1/calibrations/status/check?instrument_id=" + id, them).status, 404u);
  EXPECT_EQ(analysis("GET", "/api/v1/calibrations/" + str(cal.json(), "id"), them).status, 404u);
  EXPECT_EQ(analysis("PATCH", "/api/v1/calibrations/" + str(cal.json(), "id") + "/revoke", their_admin).status, 404u);
  EXPECT_EQ(db_text("SELECT status FROM calibrations WHERE id = $1", db::Params(str(cal.json(), "id"))), "VALID");
  EXPECT_EQ(db_text("SELECT name FROM instruments WHERE id = $1", db::Params(id)), "Ellipsometer");
}
