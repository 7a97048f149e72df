// The LIMS API (port 8002): one route table, read top to bottom. Each route declares its guard (minimum
// role and, for API keys, its scope); its inputs come from its handler's parameters, and
// /openapi.json is generated from this table.
#include "lims/identity/handlers.hpp"
#include "lims/notebook/handlers.hpp"
#include "lims/notifications/handlers.hpp"
#include "lims/process/handlers.hpp"
#include "lims/quality/handlers.hpp"
#include "lims/samples/handlers.hpp"
#include "lims/routes.hpp"

namespace spectra {

kit::Router lims_router() {
  using M = http::Method;
  using auth::Role;
  using auth::minimum;
  using kit::route;
  namespace id = identity;
  namespace sm = samples;
  namespace pr = process;
  namespace nb = notebook;
  namespace qa = quality;
  namespace nt = notifications;
  constexpr auto read_samples = auth::any_role("samples:read");
  constexpr auto write_samples = minimum(Role::engineer, "samples:write");
  constexpr auto move_samples = minimum(Role::technician, "samples:write");
  constexpr auto signed_in = auth::users_only(Role::viewer);  // a signed-in user, not an API key
  constexpr auto team_manager = auth::users_only(Role::pi);
  constexpr auto read_recipes = auth::any_role("recipes:read");
  constexpr auto write_recipes = minimum(Role::engineer, "recipes:write");
  constexpr auto read_sops = auth::any_role("sops:read");
  constexpr auto write_sops = minimum(Role::engineer, "sops:write");
  constexpr auto decide = auth::users_only(Role::pi);  // approvals are a person's decision, never a key's
  constexpr auto read_eln = auth::any_role("eln:read");
  constexpr auto write_eln = minimum(Role::engineer, "eln:write");
  constexpr auto sign = auth::users_only(Role::technician);
  constexpr auto read_quality = auth::any_role("quality:read");
  constexpr auto write_quality = minimum(Role::engineer, "quality:write");

  std::vector<kit::Route> routes = kit::common_routes("lims");
  std::vector<kit::Route> own = {
      route(M::POST, "/api/auth/login", id::login, auth::anyone, "Sign in with email and password"),
      route(M::POST, "/api/auth/refresh", id::refresh, auth::anyone,
            "Rotate a refresh token for a new pair: the token in the body (answered in the body), or in the"
            " spectra_refresh cookie (answered in the cookie)"),
      route(M::POST, "/api/auth/logout", id::logout, signed_in,
            "Revoke the refresh token's family (the body's token, else the spectra_refresh cookie's; with neither,"
            " every session of the caller) and clear the cookie",
            204),
      route(M::GET, "/api/auth/me", id::me, auth::any_role(auth::any_scope), "The caller's own user"),

      route(M::GET, "/api/users", id::list_users, minimum(Role::pi, "users:read"), "List users (filters role, is_active, q)"),
      route(M::POST, "/api/users", id::create_user, team_manager, "Create a user (a PI creates engineers, technicians and viewers only)", 201),
      route(M::GET, "/api/users/{id}", id::get_user, minimum(Role::pi, "users:read"), "One user"),
      route(M::PATCH, "/api/users/{id}", id::update_user, team_manager, "Change a user's role, name or active state (a PI: of engineers, technicians and viewers, never raising anyone to pi or admin)"),
      route(M::DELETE_, "/api/users/{id}", id::deactivate_user, team_manager, "Deactivate a user", 204),

      route(M::GET, "/api/api-keys", id::list_api_keys, auth::require_admin, "List API keys"),
      route(M::POST, "/api/api-keys", id::create_api_key, auth::require_admin, "Create an API key (shown once)", 201),
      route(M::DELETE_, "/api/api-keys/{id}", id::revoke_api_key, auth::require_admin, "Revoke an API key", 204),

      route(M::GET, "/api/organization", id::get_organization, auth::any_role(auth::any_scope), "The caller's organization"),
      route(M::PATCH, "/api/organization", id::update_organization, auth::require_admin, "Change organization settings"),

      route(M::GET, "/api/audit", id::list_audit, minimum(Role::admin, "audit:read"), "The organization's audit trail"),
      route(M::GET, "/api/audit/checkpoint", id::audit_checkpoint, minimum(Role::admin, "audit:read"),
            "The organization's audit head, signed (Ed25519), to keep outside the database"),
      route(M::GET, "/.well-known/audit-keys.json", id::audit_keys, auth::anyone,
            "Public keys that verify audit checkpoints"),

      route(M::GET, "/api/materials", sm::list_materials, read_samples, "List materials (filters category, q)"),
      route(M::POST, "/api/materials", sm::create_material, write_samples, "Create a material", 201),
      route(M::GET, "/api/materials/{id}", sm::get_material, read_samples, "One material"),
      route(M::PATCH, "/api/materials/{id}", sm::update_material, write_samples, "Change a material"),
      route(M::DELETE_, "/api/materials/{id}", sm::delete_material, write_samples,
            "Delete a material no live sample uses (soft delete)", 204),

      route(M::GET, "/api/samples", sm::list_samples, read_samples,
            "List samples (filters barcode, material_id, status, sample_type, location, q); CSV with Accept: text/csv or ?format=csv"),
      route(M::POST, "/api/samples", sm::create_sample, write_samples, "Create a sample (and its first custody event)", 201),
      route(M::POST, "/api/samples/import", sm::import_samples, write_samples,
            "Import samples from CSV (text/csv): all rows or none", 201),
      route(M::POST, "/api/samples/labels", sm::label_sheet, read_samples,
            "Labels of up to 500 samples: one PDF sheet or one ZPL stream"),
      route(M::GET, "/api/samples/{id}", sm::get_sample, read_samples, "One sample"),
      route(M::PATCH, "/api/samples/{id}", sm::update_sample, write_samples, "Change a sample (custody moves it)"),
      route(M::DELETE_, "/api/samples/{id}", sm::delete_sample, write_samples, "Delete a sample (soft delete)", 204),
      route(M::GET, "/api/samples/{id}/label", sm::sample_label, read_samples,
            "The sample's printable label: svg (default), png or zpl"),
      route(M::GET, "/api/samples/{id}/custody", sm::list_custody, read_samples, "The sample's chain of custody, oldest first"),
      route(M::POST, "/api/samples/{id}/custody", sm::record_custody, move_samples,
            "Transfer, check out, return, consume or dispose of a sample", 201),

      route(M::GET, "/api/wafers", sm::list_wafers, read_samples, "List wafers (filters sample_id, doping_type, orientation, diameter_mm)"),
      route(M::POST, "/api/wafers", sm::create_wafer, write_samples, "Give a wafer sample its wafer properties", 201),
      route(M::GET, "/api/wafers/{id}", sm::get_wafer, read_samples, "One wafer"),
      route(M::PATCH, "/api/wafers/{id}", sm::update_wafer, write_samples, "Change a wafer's properties"),

      route(M::GET, "/api/devices", sm::list_devices, read_samples, "List devices (filters wafer_id, device_type)"),
      route(M::POST, "/api/devices", sm::create_device, write_samples, "Create a device on a wafer", 201),
      route(M::GET, "/api/devices/{id}", sm::get_device, read_samples, "One device"),
      route(M::PATCH, "/api/devices/{id}", sm::update_device, write_samples, "Change a device"),

      route(M::GET, "/api/recipes", pr::list_recipes, read_recipes, "List recipe versions (filters status, q, instrument_id, root_recipe_id)"),
      route(M::POST, "/api/recipes", pr::create_recipe, write_recipes, "Create a recipe (version 1, DRAFT)", 201),
      route(M::GET, "/api/recipes/{id}", pr::get_recipe, read_recipes, "One recipe version, with its approvals and its versions"),
      route(M::PATCH, "/api/recipes/{id}", pr::update_recipe, write_recipes,
            "Change a DRAFT; an APPROVED or REJECTED version gets a new DRAFT version"),
      route(M::POST, "/api/recipes/{id}/submit", pr::submit_recipe, write_recipes, "Submit a DRAFT for approval"),
      route(M::POST, "/api/recipes/{id}/approve", pr::approve_recipe, decide,
            "Approve a recipe under review (PI or admin, not its author)"),
      route(M::POST, "/api/recipes/{id}/reject", pr::reject_recipe, decide, "Reject a recipe under review, with a comment"),

      route(M::GET, "/api/sops", pr::list_sops, read_sops, "List SOP versions (filters code, status, q)"),
      route(M::POST, "/api/sops", pr::create_sop, write_sops, "Create an SOP (version 1, DRAFT)", 201),
      route(M::GET, "/api/sops/{id}", pr::get_sop, read_sops, "One SOP version, with its code's versions and its acknowledgements"),
      route(M::PATCH, "/api/sops/{id}", pr::update_sop, write_sops, "Change a DRAFT version"),
      route(M::POST, "/api/sops/{id}/versions", pr::create_sop_version, write_sops, "Add the next version (DRAFT)", 201),
      route(M::POST, "/api/sops/{id}/approve", pr::approve_sop, decide,
            "Make a DRAFT version EFFECTIVE (the effective one before it becomes OBSOLETE), with an optional"
            " comment; never by the version's author or an editor of it"),
      route(M::POST, "/api/sops/{id}/reject", pr::reject_sop, decide,
            "Reject a DRAFT version (it becomes REJECTED) with a comment; never by its author or an editor of it"),
      route(M::POST, "/api/sops/{id}/acknowledge", pr::acknowledge_sop, signed_in,
            "Acknowledge having read the EFFECTIVE version", 201),

      route(M::GET, "/api/specifications", qa::list_specifications, read_quality,
            "List specification versions (filters status, q, material_id, recipe_id, sample_type, lineage_id)"),
      route(M::POST, "/api/specifications", qa::create_specification, write_quality,
            "Create a specification (version 1, DRAFT): what it applies to and its limits per metric", 201),
      route(M::GET, "/api/specifications/{id}", qa::get_specification, read_quality,
            "One specification version, with its lineage's versions"),
      route(M::PATCH, "/api/specifications/{id}", qa::update_specification, write_quality,
            "Change a DRAFT; the latest EFFECTIVE or REJECTED version gets a new DRAFT version"),
      route(M::POST, "/api/specifications/{id}/approve", qa::approve_specification, decide,
            "Make a DRAFT version EFFECTIVE (the effective one before it becomes OBSOLETE); never by its author or an"
            " editor of it"),
      route(M::POST, "/api/specifications/{id}/reject", qa::reject_specification, decide,
            "Reject a DRAFT version with a comment; never by its author or an editor of it"),

      route(M::GET, "/api/nonconformances", qa::list_nonconformances, read_quality,
            "List nonconformances (filters status, sample_id, run_id)"),
      route(M::GET, "/api/nonconformances/{id}", qa::get_nonconformance, read_quality, "One nonconformance"),
      route(M::PATCH, "/api/nonconformances/{id}", qa::update_nonconformance, write_quality,
            "Take an OPEN nonconformance under review, or change its notes"),
      route(M::POST, "/api/nonconformances/{id}/disposition", qa::dispose_nonconformance, decide,
            "Close a nonconformance with a signed disposition (password again): use_as_is, rework or retest release"
            " the sample, scrap disposes of it"),

      route(M::POST, "/api/samples/{id}/certificates", qa::issue_certificate, decide,
            "Issue a certificate of analysis (PDF) of the sample's results, signed with your password; 409 while"
            " the sample has an open nonconformance",
            201),
      route(M::GET, "/api/certificates/{id}", qa::get_certificate, read_quality, "One certificate: what it certifies"),
      route(M::GET, "/api/certificates/{id}/pdf", qa::certificate_pdf, read_quality, "The certificate's PDF as issued"),
      route(M::GET, "/api/certificates/{id}/verify", qa::verify_certificate, auth::anyone,
            "Whether a PDF is the one issued (its SHA-256), without credentials: valid, issued_at, issued_by,"
            " sample_barcode"),

      route(M::GET, "/api/eln", nb::list_entries, read_eln, "List notebook entries (filters author_id, tag, sample_id, amends_entry_id, q, signed)"),
      route(M::POST, "/api/eln", nb::create_entry, write_eln, "Write a notebook entry (or an amendment of one)", 201),
      route(M::POST, "/api/eln/preview", nb::preview_entry, write_eln, "Render markdown as a notebook entry would be (sanitized HTML)"),
      route(M::GET, "/api/eln/{id}", nb::get_entry, read_eln, "One notebook entry, with its sanitized HTML"),
      route(M::PATCH, "/api/eln/{id}", nb::update_entry, write_eln, "Change an entry (its author, while it is unsigned)"),
      route(M::POST, "/api/eln/{id}/sign", nb::sign_entry, sign,
            "Sign an entry with your password and a meaning (author, reviewer, approver)", 201),
      route(M::GET, "/api/eln/{id}/signatures", nb::list_signatures, read_eln,
            "The entry's signatures, each checked against the entry's content now"),
      route(M::GET, "/api/eln/{id}/export", nb::export_entry, read_eln, "The entry as an .eln file (RO-Crate zip)"),

      route(M::GET, "/api/notifications", nt::list_notifications, signed_in,
            "The caller's notifications, newest first (?unread=true), with the number unread"),
      route(M::POST, "/api/notifications/read-all", nt::mark_all_read, signed_in, "Mark all the caller's notifications read"),
      route(M::POST, "/api/notifications/{id}/read", nt::mark_read, signed_in, "Mark one of the caller's notifications read"),
      route(M::GET, "/api/notifications/stream", nt::stream_notifications, signed_in,
            "The caller's new notifications as Server-Sent Events (Last-Event-ID resumes)"),
      route(M::GET, "/api/notification-preferences", nt::get_preferences, signed_in,
            "The caller's choice per event type: in_app, email (off, immediate, daily)"),
      route(M::PATCH, "/api/notification-preferences", nt::update_preferences, signed_in,
            "Change the caller's choices for some event types"),
      route(M::GET, "/api/webhooks", nt::list_webhooks, auth::require_admin, "List webhook endpoints"),
      route(M::POST, "/api/webhooks", nt::create_webhook, auth::require_admin,
            "Register a webhook endpoint (its signing secret is answered once)", 201),
      route(M::GET, "/api/webhooks/{id}", nt::get_webhook, auth::require_admin, "One webhook endpoint"),
      route(M::PATCH, "/api/webhooks/{id}", nt::update_webhook, auth::require_admin,
            "Change an endpoint's URL, events, description, or switch it on or off"),
      route(M::DELETE_, "/api/webhooks/{id}", nt::delete_webhook, auth::require_admin, "Delete a webhook endpoint", 204),
      route(M::GET, "/api/webhooks/{id}/deliveries", nt::list_deliveries, auth::require_admin,
            "An endpoint's deliveries, newest first, each with its attempts"),
      route(M::POST, "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver", nt::redeliver, auth::require_admin,
            "Send a delivery again (the same webhook-id)", 202),
  };
  for (auto& r : own) routes.push_back(std::move(r));
  return kit::Router("SPECTRA-Lab LIMS API", std::move(routes));
}

}  // namespace spectra
