#include "seed/seed.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

#include "analysis/binmaps/stored.hpp"
#include "analysis/spc/ingest.hpp"
#include "lims/quality/judging.hpp"

#include "auth/password.hpp"
#include "auth/rbac.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/db/blocking_connection.hpp"

namespace spectra::seed {
namespace {

std::string one(db::BlockingConnection& c, const std::string& sql, const db::Params& p) {
  auto r = c.exec(sql, p);
  return r.empty() ? std::string() : std::string(r.get(0, 0));
}

// Inserts unless a row matching `find` exists; returns the id either way.
std::string ensure(db::BlockingConnection& c, const std::string& find, const db::Params& fp, const std::string& insert,
                   const db::Params& ip) {
  auto id = one(c, find, fp);
  return id.empty() ? one(c, insert, ip) : id;
}


// Instrument data a newcomer sees: an import profile for the four-point probe's sheet-resistance files
// (the same CSV the agent would send), a run two months ago, while the probe's calibration was valid,
// whose 49-site map shows the usual radial non-uniformity, and a small die bin map on another run.
void seed_instrument_data(db::BlockingConnection& c, const std::string& org, const std::string& prefix,
                          const std::string& engineer_id, const std::string& probe) {
  ensure(c, "SELECT id FROM import_profiles WHERE organization_id = $1 AND name = $2",
         db::Params(org, "Jandel RM3000 sheet resistance"),
         "INSERT INTO import_profiles (organization_id, instrument_id, name, format, skip_lines, columns, metric, unit,"
         " created_by) VALUES ($1, $2, 'Jandel RM3000 sheet resistance', 'csv', 2,"
         " '{\"value\": \"Rs\", \"x_mm\": \"X (mm)\", \"y_mm\": \"Y (mm)\", \"site\": \"Site\"}',"
         " 'sheet_resistance', 'ohm/sq', $3) RETURNING id",
         db::Params(org, probe, engineer_id));
  const std::string sample = one(c, "SELECT id FROM samples WHERE organization_id = $1 AND barcode = $2",
                                 db::Params(org, prefix + "-S-0003"));
  const std::string note = "49-site sheet resistance map";
  if (!one(c, "SELECT id FROM runs WHERE organization_id = $1 AND note = $2", db::Params(org, note)).empty()) return;
  const std::string run = crypto::uuid_v4();
  c.exec("INSERT INTO runs (organization_id, id, instrument_id, sample_id, kind, status, parameters, note, created_by,"
         " started_at, completed_at, created_at)"
         " VALUES ($1, $2, $3, $4, 'measurement', 'COMPLETED', '{\"current_ma\": 4.53}', $5, $6,"
         " now() - interval '60 days', now() - interval '60 days' + interval '15 minutes', now() - interval '60 days')",
         db::Params(org, run, probe, sample, note, engineer_id));
  // The 49 sites: the centre and rings of 8, 16 and 24 at 22, 44 and 66 mm; 50 ohm/sq in the centre,
  // rising 6 % to the edge, with a little noise.
  std::mt19937 random(49);
  std::normal_distribution<double> noise(0.0, 0.25);
  int site = 0;
  const int rings[][2] = {{0, 1}, {22, 8}, {44, 16}, {66, 24}};
  for (const auto& ring : rings)
    for (int k = 0; k < ring[1]; ++k) {
      const double angle = 2 * M_PI * k / ring[1] + M_PI / 2;
      const double x = std::round(ring[0] * std::cos(angle) * 10) / 10, y = std::round(ring[0] * std::sin(angle) * 10) / 10;
      const double r = ring[0] / 66.0;
      const double value = std::round((50.0 * (1 + 0.06 * r * r) + noise(random)) * 100) / 100;
      c.exec("INSERT INTO results (organization_id, run_id, metric, value, unit, recorded_by, recorded_at, x_mm, y_mm, site,"
             " created_at) VALUES ($1, $2, 'sheet_resistance', $3::float8, 'ohm/sq', $4,"
             " now() - interval '60 days' + interval '15 minutes', $5::float8, $6::float8, $7, now() - interval '60 days')",
             db::Params(org, run, value, engineer_id, x, y, std::to_string(++site)));
    }

  // A small bin map (G85, 8 x 8 dies, the corners off the wafer) on a run of the first sample.
  const std::string g85 = R"(<?xml version="1.0" encoding="UTF-8"?>
<Maps>
  <Map WaferId=")" + prefix + R"(-S-0001" FormatRevision="SEMI G85 0703">
    <Device ProductId="DEMO-DIODE" LotId="LOT-2026-11" WaferSize="150" DeviceSizeX="15" DeviceSizeY="15"
            Orientation="0" OriginLocation="0" BinType="Decimal" NullBin="255" Rows="8" Columns="8">
      <Bin BinCode="1" BinCount="44" BinQuality="Pass" BinDescription="Good die"/>
      <Bin BinCode="2" BinCount="6" BinQuality="Fail" BinDescription="Leakage above 1 nA"/>
      <Bin BinCode="3" BinCount="2" BinQuality="Fail" BinDescription="Open contact"/>
      <Data MapName="Map" MapVersion="1">
        <Row><![CDATA[255 255 001 001 001 001 255 255]]></Row>
        <Row><![CDATA[255 001 001 002 001 001 001 255]]></Row>
        <Row><![CDATA[001 001 001 001 001 001 002 001]]></Row>
        <Row><![CDATA[001 003 001 001 001 001 001 001]]></Row>
        <Row><![CDATA[001 001 001 001 002 001 001 001]]></Row>
        <Row><![CDATA[001 002 001 001 001 001 003 001]]></Row>
        <Row><![CDATA[255 001 001 001 001 002 001 255]]></Row>
        <Row><![CDATA[255 255 001 002 001 001 255 255]]></Row>
      </Data>
    </Device>
  </Map>
</Maps>
)";
  const binmaps::Read read = binmaps::read_g85(g85);
  if (!read.map) throw std::runtime_error("the demo bin map does not read: " + read.problems.front().message);
  const binmaps::BinMap& m = *read.map;
  const binmaps::Yield y = binmaps::yield_of(m);
  const std::string binned_run = crypto::uuid_v4(), map = crypto::uuid_v4();
  const std::string wafer = one(c, "SELECT id FROM samples WHERE organization_id = $1 AND barcode = $2",
                                db::Params(org, prefix + "-S-0001"));
  c.exec("INSERT INTO runs (organization_id, id, instrument_id, sample_id, kind, status, parameters, note, created_by,"
         " started_at, completed_at, created_at)"
         " VALUES ($1, $2, $3, $4, 'measurement', 'COMPLETED', '{}', 'Wafer sort: diode leakage', $5,"
         " now() - interval '58 days', now() - interval '58 days' + interval '40 minutes', now() - interval '58 days')",
         db::Params(org, binned_run, probe, wafer, engineer_id));
  c.exec("INSERT INTO bin_maps (organization_id, id, run_id, wafer_id, lot_id, product_id, format_revision, bin_type,"
         " null_bin, rows, columns, wafer_size, device_size_x, device_size_y, bins, attributes, tested, passed, created_by)"
         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::float8, $13::float8, $14::float8, $15::jsonb,"
         " $16::jsonb, $17, $18, $19)",
         db::Params(org, map, binned_run, m.wafer_id, m.lot_id, m.product_id, m.format_revision, m.bin_type, m.null_bin,
                    m.rows, m.columns, m.wafer_size, m.device_size_x, m.device_size_y, binmaps::bins_json(m),
                    binmaps::attributes_json(m), y.tested, y.pass, engineer_id));
  for (int r = 0; r < m.rows; ++r)
    for (int col = 0; col < m.columns; ++col) {
      const std::string& code = m.dies[static_cast<std::size_t>(r * m.columns + col)];
      if (code == m.null_bin) continue;
      c.exec("INSERT INTO bin_map_dies (organization_id, bin_map_id, row_index, column_index, bin_code)"
             " VALUES ($1, $2, $3, $4, $5)",
             db::Params(org, map, r, col, code));
    }
}

// The quality loop a newcomer sees: an effective specification for the ellipsometry recipe, six weeks
// of daily runs judged against it and fed to an SPC series (limits from a baseline of 20 points; a
// drift in the last days that the rules catch), and a failure ten days ago whose nonconformance was
// closed with a signed "rework" disposition (the sample quarantined and released).
void seed_quality(db::BlockingConnection& c, const std::string& org, const std::string& prefix,
                  const std::string& engineer_id, const std::string& pi_id, const std::string& instrument,
                  const std::string& recipe) {
  const std::string limits =
      R"([{"metric":"thickness","unit":"nm","lsl":95,"usl":105,"target":100,"warn_low":97,"warn_high":103,"lod":1}])";
  const std::string spec_id = crypto::uuid_v4();
  const std::string spec = ensure(
      c, "SELECT id FROM specifications WHERE organization_id = $1 AND name = $2 AND status = 'EFFECTIVE'",
      db::Params(org, "Oxide thickness"),
      "INSERT INTO specifications (organization_id, id, lineage_id, version, name, description, recipe_id, limits, status,"
      " author_id, approved_by, approved_at, decision_comment)"
      " VALUES ($1, $2, $2, 1, 'Oxide thickness', 'Gate oxide after dry oxidation, 9-point map mean', $3, $4::jsonb,"
      " 'EFFECTIVE', $5, $6, now() - interval '45 days', 'Demo specification') RETURNING id",
      db::Params(org, spec_id, recipe, limits, engineer_id, pi_id));
  const std::string series_name = "Oxide thickness · Ellipsometer E1";
  if (!one(c, "SELECT id FROM spc_series WHERE organization_id = $1 AND name = $2", db::Params(org, series_name)).empty())
    return;
  const std::string series = crypto::uuid_v4();
  c.exec("INSERT INTO spc_series (organization_id, id, name, metric, unit, chart_type, lsl, usl, target, baseline_points,"
         " instrument_id, hold_on_alert, created_by, source_metric, source_instrument_id, created_at)"
         " VALUES ($1, $2, $3, 'thickness', 'nm', 'I-MR', 95, 105, 100, 20, $4, false, $5, 'thickness', $4,"
         " now() - interval '43 days')",
         db::Params(org, series, series_name, instrument, engineer_id));
  std::vector<std::string> samples;
  for (int n = 1; n <= 3; ++n)
    samples.push_back(one(c, "SELECT id FROM samples WHERE organization_id = $1 AND barcode = $2",
                          db::Params(org, prefix + "-S-000" + std::to_string(n))));
  const std::vector<quality::Limit> judged_by = quality::parse_limits(limits);

  // One run a day for six weeks: noise of 0.6 nm around 100, one bad oxidation ten days ago, and a
  // drift of 0.5 nm a day over the last eight days.
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0.0, 0.6);
  std::vector<spc::Incoming> incoming;
  std::vector<std::string> run_of, at_of;
  std::string failed_run, failed_result;
  double failed_value = 0;
  for (int day = 42; day >= 1; --day) {
    const std::string& smp = samples[static_cast<std::size_t>(day % 3)];
    double value = 100.0 + noise(random);
    if (day <= 8) value += 0.5 * (9 - day);
    if (day == 10) value = 93.8;
    value = std::round(value * 100) / 100;
    const std::string run = crypto::uuid_v4(), result = crypto::uuid_v4();
    const std::string at = one(c, "SELECT to_jsonb(now() - make_interval(days => $1::int) + interval '9 hours') #>> '{}'",
                               db::Params(day));
    c.exec("INSERT INTO runs (organization_id, id, instrument_id, sample_id, recipe_id, kind, status, parameters,"
           " created_by, started_at, completed_at, specification_version_id, created_at)"
           " VALUES ($1, $2, $3, $4, $5, 'measurement', 'COMPLETED', '{\"sites\": 9}', $6, $7::timestamptz,"
           " $7::timestamptz + interval '20 minutes', $8, $7::timestamptz)",
           db::Params(org, run, instrument, smp, recipe, engineer_id, at, spec));
    const auto evaluation = quality::judge(value, "thickness", judged_by);
    c.exec("INSERT INTO results (organization_id, id, run_id, metric, value, unit, recorded_by, recorded_at, evaluation,"
           " created_at) VALUES ($1, $2, $3, 'thickness', $4::float8, 'nm', $5, $6::timestamptz + interval '20 minutes',"
           " $7, $6::timestamptz)",
           db::Params(org, result, run, value, engineer_id, at, std::string(quality::to_string(evaluation))));
    if (evaluation == quality::Evaluation::fail) {
      failed_run = run;
      failed_result = result;
      failed_value = value;
    }
    incoming.push_back({crypto::uuid_v4(), value});
    run_of.push_back(run);
    at_of.push_back(at);
  }

  // The points, judged as the server judges them (spc::ingest), with their alerts.
  spc::SeriesState before;
  before.baseline_points = 20;
  const spc::Outcome out = spc::ingest(before, {}, {}, {}, incoming, [] { return crypto::uuid_v4(); });
  const spc::PointIds ids({}, incoming, 1);
  for (std::size_t i = 0; i < incoming.size(); ++i) {
    std::string violations;
    spc::append_violations_json(violations, out.points[i].violations, ids);
    c.exec("INSERT INTO spc_datapoints (organization_id, id, series_id, seq, value, measured_at, run_id, violations,"
           " recorded_by, created_at) VALUES ($1, $2, $3, $4, $5::float8, $6::timestamptz + interval '20 minutes', $7,"
           " $8::jsonb, $9, $6::timestamptz)",
           db::Params(org, incoming[i].id, series, out.points[i].seq, incoming[i].value, at_of[i], run_of[i], violations,
                      engineer_id));
  }
  for (const auto& a : out.alerts) {
    c.exec("INSERT INTO spc_alerts (organization_id, id, series_id, datapoint_id, rule, last_seq) VALUES ($1, $2, $3, $4, $5, $6)",
           db::Params(org, a.id, series, ids(a.datapoint_seq), a.rule, a.last_seq));
    for (std::int64_t seq = a.first_seq; seq <= a.last_seq; ++seq)
      c.exec("INSERT INTO spc_alert_points (organization_id, alert_id, datapoint_id) VALUES ($1, $2, $3)"
             " ON CONFLICT DO NOTHING",
             db::Params(org, a.id, ids(seq)));
  }
  const auto& after = out.after;
  c.exec("UPDATE spc_series SET stat_count = $3, stat_mean = $4::float8, stat_m2 = $5::float8, range_sum = $6::float8,"
         " range_count = $7 WHERE organization_id = $1 AND id = $2",
         db::Params(org, series, after.stats.n, after.stats.mean, after.stats.m2, after.range_sum, after.range_count));
  if (after.limits)
    c.exec("UPDATE spc_series SET center_line = $3::float8, ucl = $4::float8, lcl = $5::float8, range_center = $6::float8,"
           " range_ucl = $7::float8, range_lcl = $8::float8, limits_computed_at = now() - interval '22 days'"
           " WHERE organization_id = $1 AND id = $2",
           db::Params(org, series, after.limits->center, after.limits->ucl, after.limits->lcl, after.limits->range_center,
                      after.limits->range_ucl, after.limits->range_lcl));

  // The failure's nonconformance, closed: quarantined when the result came, released by the rework.
  if (failed_run.empty()) return;
  const std::string smp = one(c, "SELECT sample_id FROM runs WHERE organization_id = $1 AND id = $2", db::Params(org, failed_run));
  const std::string pi_name = one(c, "SELECT full_name FROM users WHERE organization_id = $1 AND id = $2", db::Params(org, pi_id));
  const std::string nc = crypto::uuid_v4();
  const std::string signed_at = one(c, "SELECT to_jsonb(now() - interval '9 days') #>> '{}'", db::Params());
  db::Params nc_params(org, nc, failed_run, smp, spec, failed_value, engineer_id, pi_id, pi_name, signed_at);
  nc_params.add_bytea(quality::disposition_signature({nc, failed_run, smp, "thickness", 1, "rework",
                                                      "Strip and re-oxidize; re-measure", pi_id, pi_name, signed_at}));
  c.exec("INSERT INTO nonconformances (organization_id, id, run_id, sample_id, metric, specification_version_id, status,"
         " failures, first_value, last_value, opened_by, notes, disposition, disposition_comment, disposed_by,"
         " disposed_by_name, disposed_at, signature_sha256, created_at)"
         " VALUES ($1, $2, $3, $4, 'thickness', $5, 'CLOSED', 1, $6::float8, $6::float8, $7,"
         " 'Furnace tube 2 purge fault during the run', 'rework', 'Strip and re-oxidize; re-measure', $8, $9,"
         " $10::timestamptz, $11, now() - interval '10 days')",
         nc_params);
  const std::string seq = one(c, "SELECT custody_seq FROM samples WHERE organization_id = $1 AND id = $2", db::Params(org, smp));
  const int next = std::stoi(seq);
  c.exec("INSERT INTO custody_events (organization_id, sample_id, seq, event_type, from_location, to_location, actor_id,"
         " notes, occurred_at, created_at)"
         " VALUES ($1, $2, $3, 'quarantine', 'Wafer stocker A', 'Wafer stocker A', $4, 'Out of specification: run ' || $5,"
         " now() - interval '10 days', now() - interval '10 days'),"
         " ($1, $2, $3 + 1, 'release', 'Wafer stocker A', 'Wafer stocker A', $6, 'Disposition rework', $7::timestamptz,"
         " $7::timestamptz)",
         db::Params(org, smp, next + 1, engineer_id, failed_run, pi_id, signed_at));
  c.exec("UPDATE samples SET custody_seq = $3 WHERE organization_id = $1 AND id = $2", db::Params(org, smp, next + 2));
}

}  // namespace

std::string insert_user(db::BlockingConnection& c, const std::string& organization_id, const std::string& email,
                        const std::string& full_name, const std::string& role, const std::string& password_hash) {
  return one(c,
             "WITH entry AS (INSERT INTO directory.user_emails (organization_id, user_id, email) VALUES ($1, $2, $3))"
             " INSERT INTO users (organization_id, id, email, full_name, role, password_hash, password_changed_at)"
             " VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING id",
             db::Params(organization_id, crypto::uuid_v4(), email, full_name, role, password_hash));
}

void demo(db::BlockingConnection& c, std::ostream& out) {
  struct Org {
    const char* name;
    const char* slug;
    const char* domain;
  };
  struct Person {
    const char* local;
    const char* name;
    const char* role;
    const char* password;
  };
  const Org orgs[] = {{"Acme Semiconductor", "acme", "acme.com"}, {"Globex Materials", "globex", "globex.com"}};
  const Person people[] = {{"admin", "Ada Admin", "admin", "admin123"},
                           {"pi", "Pat Investigator", "pi", "pi123"},
                           {"engineer", "Eli Engineer", "engineer", "eng123"},
                           {"tech", "Toni Technician", "technician", "tech123"},
                           {"viewer", "Vic Viewer", "viewer", "view123"}};
  c.exec("BEGIN");
  try {
    for (const auto& o : orgs) {
      const std::string org = ensure(c, "SELECT id FROM organizations WHERE slug = $1", db::Params(o.slug),
                                     "INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id",
                                     db::Params(o.name, o.slug));
      std::string engineer_id, pi_id;
      for (const auto& p : people) {
        const std::string email = std::string(p.local) + "@" + o.domain;
        auto existing = one(c, "SELECT user_id FROM directory.user_emails WHERE lower(email) = lower($1)", db::Params(email));
        if (existing.empty()) existing = insert_user(c, org, email, p.name, p.role, auth::hash_password(p.password));
        if (std::string(p.role) == "engineer") engineer_id = existing;
        if (std::string(p.role) == "pi") pi_id = existing;
      }
      const std::string prefix = o.slug == std::string("acme") ? "ACME" : "GLBX";
      // Instruments: one with a valid calibration, one expired, one never calibrated.
      struct Instrument {
        const char* name;
        const char* vendor;
        const char* model;
        const char* serial;
        const char* calibration;  // valid, expired, none
      };
      const Instrument instruments[] = {
          {"Ellipsometer E1", "J.A. Woollam", "M-2000", "-ELL-001", "valid"},
          {"Four-point probe P1", "Jandel", "RM3000", "-4PP-001", "expired"},
          {"SEM S1", "Zeiss", "Sigma 300", "-SEM-001", "none"},
      };
      std::string first_instrument, probe;
      for (const auto& i : instruments) {
        const std::string serial = prefix + i.serial;
        const std::string id = ensure(
            c, "SELECT id FROM instruments WHERE organization_id = $1 AND serial_number = $2", db::Params(org, serial),
            "INSERT INTO instruments (organization_id, name, vendor, model, serial_number, location,"
            " calibration_interval_days, created_by) VALUES ($1, $2, $3, $4, $5, 'Cleanroom bay 2', 365, $6) RETURNING id",
            db::Params(org, i.name, i.vendor, i.model, serial, engineer_id));
        if (first_instrument.empty()) first_instrument = id;
        if (std::string(i.serial) == "-4PP-001") probe = id;
        const std::string cal = i.calibration;
        if (cal == "none") continue;
        const bool valid = cal == "valid";
        ensure(c, "SELECT id FROM calibrations WHERE organization_id = $1 AND certificate_number = $2", db::Params(org, "CAL-" + serial),
               "INSERT INTO calibrations (organization_id, instrument_id, certificate_number, calibrated_at, expires_at,"
               " status, provider, created_by) VALUES ($1, $2, $3, now() - make_interval(days => $4::int),"
               " now() - make_interval(days => $4::int) + interval '365 days', 'VALID', 'Metrology Services Ltd', $5)"
               " RETURNING id",
               db::Params(org, id, "CAL-" + serial, valid ? 30 : 400, engineer_id));
      }
      const std::string material = ensure(
          c, "SELECT id FROM materials WHERE organization_id = $1 AND name = $2 AND NOT is_deleted", db::Params(org, "Silicon"),
          "INSERT INTO materials (organization_id, name, formula, category, properties, created_by)"
          " VALUES ($1, $2, 'Si', 'semiconductor', '{\"bandgap_ev\": 1.12}', $3) RETURNING id",
          db::Params(org, "Silicon", engineer_id));
      for (int n = 1; n <= 3; ++n) {
        const std::string barcode = prefix + "-S-000" + std::to_string(n);
        const std::string sample = ensure(
            c, "SELECT id FROM samples WHERE organization_id = $1 AND barcode = $2 AND NOT is_deleted", db::Params(org, barcode),
            "WITH s AS (INSERT INTO samples (organization_id, id, barcode, name, sample_type, material_id, location,"
            "                                custody_seq, created_by)"
            "           VALUES ($1, $6, $2, $3, 'wafer', $4, 'Wafer stocker A', 1, $5) RETURNING id),"
            " e AS (INSERT INTO custody_events (organization_id, sample_id, seq, event_type, to_location, actor_id)"
            "       VALUES ($1, $6, 1, 'create', 'Wafer stocker A', $5))"
            " SELECT id FROM s",
            db::Params(org, barcode, "Si wafer " + std::to_string(n), material, engineer_id, crypto::uuid_v4()));
        ensure(c, "SELECT id FROM wafers WHERE organization_id = $1 AND sample_id = $2", db::Params(org, sample),
               "INSERT INTO wafers (organization_id, sample_id, diameter_mm, orientation, doping_type, dopant,"
               " resistivity_ohm_cm, thickness_um, created_by) VALUES ($1, $2, 150, '<100>', 'p', 'boron', 10, 675, $3)"
               " RETURNING id",
               db::Params(org, sample, engineer_id));
      }
      // The SOP is in force (approved by the PI), and the recipe that follows it is approved.
      const std::string sop = ensure(
          c, "SELECT id FROM sops WHERE organization_id = $1 AND code = $2 ORDER BY version LIMIT 1", db::Params(org, "SOP-001"),
          "INSERT INTO sops (organization_id, code, version, title, body_markdown, status, created_by, approved_by, approved_at)"
          " VALUES ($1, $2, 1, 'Wafer handling', '# Wafer handling\n\n- [x] Wear gloves.\n- [x] Use vacuum tweezers.\n',"
          " 'EFFECTIVE', $3, $4, now()) RETURNING id",
          db::Params(org, "SOP-001", engineer_id, pi_id));
      const std::string recipe = ensure(
          c, "SELECT id FROM recipes WHERE organization_id = $1 AND name = $2 ORDER BY version LIMIT 1",
          db::Params(org, "Ellipsometry thickness"),
          "INSERT INTO recipes (organization_id, name, description, instrument_id, sop_id, parameters, version, status,"
          " author_id, submitted_at, approved_at)"
          " VALUES ($1, $2, 'Thin-film thickness by spectroscopic ellipsometry', $3, $4,"
          " '{\"wavelength_nm\": [250, 1000], \"angle_deg\": 70}', 1, 'APPROVED', $5, now(), now()) RETURNING id",
          db::Params(org, "Ellipsometry thickness", first_instrument, sop, engineer_id));
      // (A demo database seeded before recipes were approved keeps its draft recipe, without a decision.)
      ensure(c, "SELECT a.id FROM recipe_approvals a WHERE a.organization_id = $1 AND a.recipe_id = $2"
                " UNION ALL SELECT r.id FROM recipes r WHERE r.organization_id = $1 AND r.id = $2 AND r.status <> 'APPROVED'"
                " LIMIT 1",
             db::Params(org, recipe),
             "INSERT INTO recipe_approvals (organization_id, recipe_id, approver_id, decision, comment)"
             " VALUES ($1, $2, $3, 'APPROVED', 'Demo recipe') RETURNING id",
             db::Params(org, recipe, pi_id));
      ensure(c, "SELECT id FROM eln_entries WHERE organization_id = $1 AND title = $2", db::Params(org, "First oxide measurements"),
             "INSERT INTO eln_entries (organization_id, title, body_markdown, author_id)"
             " VALUES ($1, $2, '## Goal\n\nMeasure oxide thickness on the first lot.', $3) RETURNING id",
             db::Params(org, "First oxide measurements", engineer_id));
      seed_quality(c, org, prefix, engineer_id, pi_id, first_instrument, recipe);
      seed_instrument_data(c, org, prefix, engineer_id, probe);
      out << "seeded " << o.name << "\n";
    }
    c.exec("COMMIT");
  } catch (...) {
    c.exec("ROLLBACK");
    throw;
  }
}

std::string create_user(db::BlockingConnection& c, const NewUser& u) {
  if (!auth::parse_role(u.role)) throw std::runtime_error("role must be one of admin, pi, engineer, technician, viewer");
  if (u.email.find('@') == std::string::npos) throw std::runtime_error("email must be an email address");
  if (auto why = auth::password_policy_violation(u.password, u.email)) throw std::runtime_error("password " + *why);
  auto org = one(c, "SELECT id FROM organizations WHERE slug = $1 OR id::text = $1", db::Params(u.organization));
  if (org.empty()) throw std::runtime_error("no organization '" + u.organization + "'");
  try {
    return insert_user(c, org, u.email, u.full_name, u.role, auth::hash_password(u.password));
  } catch (const db::SqlError& e) {
    if (e.sqlstate() == "23505") throw std::runtime_error("a user with email " + u.email + " already exists");
    throw std::runtime_error(e.what());
  }
}

}  // namespace spectra::seed
