// The Analysis API (port 8001): one route table, read top to bottom. Each route declares its guard
// (minimum role and, for API keys, its scope); its inputs come from its handler's parameters, and
// /openapi.json is generated from this table.
#include "analysis/attachments/handlers.hpp"
#include "analysis/binmaps/handlers.hpp"
#include "analysis/imports/handlers.hpp"
#include "analysis/instruments/handlers.hpp"
#include "analysis/ml/handlers.hpp"
#include "analysis/runs/handlers.hpp"
#include "analysis/spc/handlers.hpp"
#include "analysis/wafermaps/handlers.hpp"
#include "analysis/routes.hpp"

namespace spectra {

kit::Router analysis_router() {
  using M = http::Method;
  using auth::Role;
  using auth::minimum;
  using kit::route;
  namespace in = instruments;
  namespace rn = runs;
  namespace at = attachments;
  constexpr auto read_instruments = auth::any_role("instruments:read");
  constexpr auto write_instruments = minimum(Role::engineer, "instruments:write");
  constexpr auto read_calibrations = auth::any_role("calibrations:read");
  constexpr auto write_calibrations = minimum(Role::engineer, "calibrations:write");
  constexpr auto end_calibrations = auth::require_admin;
  constexpr auto read_runs = auth::any_role("runs:read");
  constexpr auto write_runs = minimum(Role::engineer, "runs:write");
  constexpr auto execute_runs = minimum(Role::technician, "runs:write");
  constexpr auto record_results = minimum(Role::technician, "results:write");
  constexpr auto read_attachments = auth::any_role("attachments:read");
  constexpr auto upload = minimum(Role::technician, "attachments:write");
  constexpr auto read_spc = auth::any_role("spc:read");
  constexpr auto write_spc = minimum(Role::engineer, "spc:write");
  constexpr auto add_points = minimum(Role::technician, "spc:write");
  constexpr auto read_ml = auth::any_role("ml:read");
  constexpr auto write_ml = minimum(Role::engineer, "ml:write");
  constexpr auto promote = minimum(Role::pi, "ml:write");

  std::vector<kit::Route> routes = kit::common_routes("analysis");
  std::vector<kit::Route> own = {
      route(M::GET, "/api/v1/instruments", in::list_instruments, read_instruments,
            "List instruments with their calibration status (filters calibration, expiring_within_days, status, q)"),
      route(M::POST, "/api/v1/instruments", in::create_instrument, write_instruments, "Register an instrument", 201),
      route(M::GET, "/api/v1/instruments/{id}", in::get_instrument, read_instruments, "One instrument, with its calibration status"),
      route(M::PATCH, "/api/v1/instruments/{id}", in::update_instrument, write_instruments, "Change an instrument"),
      route(M::DELETE_, "/api/v1/instruments/{id}", in::delete_instrument, write_instruments,
            "Delete an instrument without queued or running runs (soft delete)", 204),

      route(M::GET, "/api/v1/calibrations", in::list_calibrations, read_calibrations,
            "List calibrations (filters instrument_id, status, expiring_within_days)"),
      route(M::POST, "/api/v1/calibrations", in::create_calibration, write_calibrations, "Record a calibration certificate", 201),
      route(M::GET, "/api/v1/calibrations/status/check", in::check_calibration, read_calibrations,
            "Whether an instrument's calibration lets it run, and why not"),
      route(M::GET, "/api/v1/calibrations/{id}", in::get_calibration, read_calibrations, "One calibration"),
      route(M::PATCH, "/api/v1/calibrations/{id}/expire", in::expire_calibration, end_calibrations,
            "Expire a calibration now (blocks the instrument's queued runs when it is no longer usable)"),
      route(M::PATCH, "/api/v1/calibrations/{id}/revoke", in::revoke_calibration, end_calibrations,
            "Revoke a calibration (blocks the instrument's queued runs when it is no longer usable)"),

      route(M::GET, "/api/v1/runs", rn::list_runs, read_runs, "List runs (filters status, instrument_id, sample_id, recipe_id, kind, barcode)"),
      route(M::POST, "/api/v1/runs", rn::create_run, write_runs,
            "Create a run: QUEUED when its instrument's calibration is valid, else BLOCKED with the reason", 201),
      route(M::GET, "/api/v1/runs/{id}", rn::get_run, read_runs, "One run"),
      route(M::PATCH, "/api/v1/runs/{id}/status", rn::change_run_status, execute_runs,
            "Start, complete, fail or cancel a run (409 for a transition not allowed)"),
      route(M::POST, "/api/v1/runs/{id}/unblock", rn::unblock_run, write_runs,
            "Move a BLOCKED run to QUEUED when its instrument is usable again (409 with the reason otherwise)"),
      route(M::GET, "/api/v1/runs/{id}/results", rn::list_results, read_runs, "The run's results"),
      route(M::POST, "/api/v1/runs/{id}/results", rn::record_results, record_results,
            "Record a result, or a batch of up to 10,000, on a RUNNING or COMPLETED run", 201),

      route(M::GET, "/api/v1/import-profiles", imports::list_profiles, read_instruments,
            "List import profiles (filters instrument_id, q)"),
      route(M::POST, "/api/v1/import-profiles", imports::create_profile, write_instruments,
            "Create an import profile: how one instrument's CSV or TSV files map to results (a mapping that names no"
            " value column is 422)",
            201),
      route(M::GET, "/api/v1/import-profiles/{id}", imports::get_profile, read_instruments, "One import profile"),
      route(M::PATCH, "/api/v1/import-profiles/{id}", imports::update_profile, write_instruments,
            "Change an import profile (validated as a whole)"),
      route(M::POST, "/api/v1/runs/{id}/import", imports::import_file, record_results,
            "Import an instrument's file (multipart/form-data: file, profile_id) as results, in one transaction: the"
            " same bytes again answer 200 with the first import and add nothing; a file the profile cannot read is 422"
            " naming its lines and columns",
            201),
      route(M::GET, "/api/v1/runs/{id}/imports", imports::list_imports, read_runs, "The files imported into the run"),
      route(M::GET, "/api/v1/runs/{id}/wafer-map", wafermaps::get_wafer_map, read_runs,
            "A metric's results by position on the wafer, with their evaluations and summary: n, mean, sample standard"
            " deviation (n - 1), min, max, range and uniformity_pct = 100 * stdev / mean; ?format=svg (or Accept:"
            " image/svg+xml) draws it"),
      route(M::GET, "/api/v1/runs/{id}/bin-map", binmaps::get_bin_map, read_runs,
            "The run's die bin map: rows, columns, bins with counts, yield and the dies; ?format=g85 answers SEMI G85"
            " XML"),
      route(M::POST, "/api/v1/runs/{id}/bin-map", binmaps::create_bin_map, record_results,
            "Store the run's die bin map from a SEMI G85 XML map (application/xml), validated: rows and columns agree"
            " with the data, every bin code is declared, bin counts agree",
            201),

      route(M::GET, "/api/v1/attachments", at::list_attachments, read_attachments,
            "List attachments (filters run_id, sample_id, eln_entry_id)"),
      route(M::POST, "/api/v1/attachments", at::upload_attachment, upload,
            "Upload a file (a raw body with its Content-Type, or multipart/form-data with a file part) to a run, sample or"
            " notebook entry: CSV, text, JSON, PNG, JPEG, PDF or HDF5, checked by its bytes",
            201),
      route(M::GET, "/api/v1/attachments/{id}", at::get_attachment, read_attachments, "One attachment's description"),
      route(M::GET, "/api/v1/attachments/{id}/content", at::download_attachment, read_attachments,
            "The attachment's bytes (ETag: its SHA-256)"),

      route(M::GET, "/api/v1/spc/series", spc::list_series, read_spc, "List SPC series (filters instrument_id, chart_type, metric, q)"),
      route(M::POST, "/api/v1/spc/series", spc::create_series, write_spc,
            "Create a series: I-MR or XBAR-R, spec limits, and fixed control limits or a baseline of the first N points", 201),
      route(M::GET, "/api/v1/spc/series/{id}", spc::get_series, read_spc,
            "One series with its current limits, its capability (Cp, Cpk, Pp, Ppk) and its open alerts"),
      route(M::PATCH, "/api/v1/spc/series/{id}", spc::update_series, write_spc,
            "Change a series' spec limits or hold_on_alert, or compute new control limits from its latest N points"
            " (rebaseline_points)"),
      route(M::GET, "/api/v1/spc/series/{id}/points", spc::list_points, read_spc, "The series' points, newest first"),
      route(M::POST, "/api/v1/spc/series/{id}/points", spc::add_points, add_points,
            "Add a point, or a batch of up to 100,000 judged in order: each answered with the Nelson rules it violates"
            " (the answer streams); ?answer=summary answers the counts and the violating points alone", 201),
      route(M::GET, "/api/v1/spc/alerts", spc::list_alerts, read_spc, "List alerts (filters series_id, status, rule)"),
      route(M::GET, "/api/v1/spc/alerts/{id}", spc::get_alert, read_spc, "One alert with its points"),
      route(M::PATCH, "/api/v1/spc/alerts/{id}", spc::change_alert, write_spc,
            "Acknowledge or resolve an alert (a note is required to resolve)"),

      route(M::GET, "/api/v1/ml/feature-sets", ml::list_feature_sets, read_ml, "List feature sets (filter name)"),
      route(M::POST, "/api/v1/ml/feature-sets", ml::create_feature_set, write_ml, "Create a feature set", 201),
      route(M::GET, "/api/v1/ml/feature-sets/{id}", ml::get_feature_set, read_ml, "One feature set"),
      route(M::GET, "/api/v1/ml/models", ml::list_models, read_ml, "List models (filters name, stage, feature_set_id)"),
      route(M::POST, "/api/v1/ml/models", ml::create_model, write_ml, "Register a model version", 201),
      route(M::GET, "/api/v1/ml/models/{id}", ml::get_model, read_ml, "One model version"),
      route(M::POST, "/api/v1/ml/models/{id}/promote", ml::promote_model, promote,
            "Move a version to none, staging, production or archived; promoting to production archives the version"
            " that was there"),
  };
  for (auto& r : own) routes.push_back(std::move(r));
  return kit::Router("SPECTRA-Lab Analysis API", std::move(routes));
}

}  // namespace spectra
