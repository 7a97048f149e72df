// The caller's organization: any role reads it; an admin changes its name and settings.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "kit/data.hpp"
#include "lims/identity/handlers.hpp"

namespace spectra::identity {
namespace {

constexpr std::string_view organization_fields[] = {"id",         "name",       "slug",       "settings",  "extra_metadata",
                                                    "is_deleted", "deleted_at", "created_at", "updated_at"};
constexpr kit::Shape organization_shape{organization_fields};

const db::Query get_q{"organization_get", "SELECT " + organization_shape.sql("o") + " FROM organizations o WHERE o.id = $1"};
// Settings merge: only the keys given change.
const db::Query update_q{
    "organization_update",
    "WITH old AS (SELECT b.id, " + organization_shape.jsonb("b") + " AS before FROM organizations b"
    "             WHERE b.id = $1 FOR UPDATE),"
    " o AS (UPDATE organizations o SET name = coalesce($2, o.name),"
    "       settings = o.settings || jsonb_strip_nulls(jsonb_build_object('recipe_approvals_required', $3::int,"
    "                                                                     'final_approval_by_admin', $4::boolean,"
    "                                                                     'calibration_notice_days', $6::int,"
    "                                                                     'time_zone', $7::text)),"
    "       extra_metadata = coalesce($5::jsonb, o.extra_metadata)"
    "       FROM old WHERE o.id = old.id RETURNING o.*, old.before)"
    " SELECT o.before AS _before, " + organization_shape.sql("o") + " FROM o"};

// A time zone the system knows (the tz database PostgreSQL shares on Debian): a name of letters,
// digits, '_', '+', '-' and '/' that names a zone file.
std::optional<std::string> time_zone_problem(const std::string& name) {
  const bool plain = !name.empty() && name.find("..") == std::string::npos && name.front() != '/' &&
                     std::all_of(name.begin(), name.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '_' || c == '+' || c == '-' || c == '/';
                     });
  if (!plain || !std::filesystem::is_regular_file("/usr/share/zoneinfo/" + name))
    return "must be a time zone such as Europe/Berlin or UTC";
  return std::nullopt;
}

}  // namespace

kit::Input<OrganizationSettings> OrganizationSettings::input() {
  return {"OrganizationSettings",
          {kit::field("recipe_approvals_required", &OrganizationSettings::recipe_approvals_required)
               .min(1)
               .max(10)
               .describe("Approvals a recipe needs"),
           kit::field("final_approval_by_admin", &OrganizationSettings::final_approval_by_admin)
               .describe("Whether the last approval must come from an admin"),
           kit::field("calibration_notice_days", &OrganizationSettings::calibration_notice_days)
               .min(1)
               .max(365)
               .describe("How many days before a calibration expires its calibration.due notice goes out (14)"),
           kit::field("time_zone", &OrganizationSettings::time_zone)
               .max_length(64)
               .rule(time_zone_problem)
               .describe("The organization's time zone (IANA, e.g. Europe/Berlin): the daily digest's day")}};
}

kit::Input<OrganizationChange> OrganizationChange::input() {
  return {"OrganizationChange",
          {kit::field("name", &OrganizationChange::name).max_length(200).not_blank(),
           kit::field("settings", &OrganizationChange::settings),
           kit::field("extra_metadata", &OrganizationChange::extra_metadata).object()}};
}

Reply get_organization(RequestContext& ctx) { return kit::one(ctx, get_q, {}); }

Reply update_organization(RequestContext& ctx, Body<OrganizationChange> change) {
  const auto settings = change.settings.value_or(OrganizationSettings{});
  auto after = co_await kit::write(ctx, [&](kit::Write& w) {
    return w.change(update_q,
                    db::Params(change.name, settings.recipe_approvals_required, settings.final_approval_by_admin,
                               change.extra_metadata, settings.calibration_notice_days, settings.time_zone),
                    {"organization.update", "organization"});
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::identity
