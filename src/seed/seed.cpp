#include "seed/seed.hpp"

#include <stdexcept>

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
      std::string first_instrument;
      for (const auto& i : instruments) {
        const std::string serial = prefix + i.serial;
        const std::string id = ensure(
            c, "SELECT id FROM instruments WHERE organization_id = $1 AND serial_number = $2", db::Params(org, serial),
            "INSERT INTO instruments (organization_id, name, vendor, model, serial_number, location,"
            " calibration_interval_days, created_by) VALUES ($1, $2, $3, $4, $5, 'Cleanroom bay 2', 365, $6) RETURNING id",
            db::Params(org, i.name, i.vendor, i.model, serial, engineer_id));
        if (first_instrument.empty()) first_instrument = id;
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
