// Wafers (a wafer-type sample's wafer properties) and devices (dies on a wafer). Both disappear with
// their sample when it is deleted.
#include <algorithm>

#include "lims/samples/handlers.hpp"
#include "lims/samples/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::samples {
namespace {

const std::string wafer_json = wafer_shape.sql("w");
const std::string device_json = device_shape.sql("d");
constexpr std::string_view wafer_from = "wafers w JOIN samples s ON s.organization_id = $1 AND s.id = w.sample_id AND NOT s.is_deleted";

const kit::List wafers_list{{
    .name = "wafers_list",
    .select = wafer_json,
    .from = std::string(wafer_from),
    .alias = "w",
    .where = "($2::uuid IS NULL OR w.sample_id = $2) AND ($3::text IS NULL OR w.doping_type = $3)"
             " AND ($4::text IS NULL OR w.orientation = $4) AND ($5::int IS NULL OR w.diameter_mm = $5)",
    .sorts = {},
}};
const db::Query wafer_get_q{"wafers_get", "SELECT " + wafer_json + " FROM " + std::string(wafer_from) +
                                              " WHERE w.organization_id = $1 AND w.id = $2"};
const db::Query wafer_lock_q{"wafers_lock", "SELECT " + wafer_json + " FROM " + std::string(wafer_from) +
                                                " WHERE w.organization_id = $1 AND w.id = $2 FOR UPDATE OF w"};
// The sample a wafer describes: live, and of type wafer.
const db::Query wafer_sample_q{"wafers_sample",
                               "SELECT sample_type FROM samples WHERE organization_id = $1 AND id = $2 AND NOT is_deleted"};
struct WaferSample {
  std::string sample_type;
};
const db::Decoder<WaferSample> wafer_sample{wafer_sample_q, {{"sample_type", &WaferSample::sample_type}}};
const db::Query wafer_insert_q{
    "wafers_insert",
    "WITH w AS (INSERT INTO wafers (organization_id, id, sample_id, diameter_mm, orientation, doping_type, dopant,"
    "                               resistivity_ohm_cm, thickness_um, created_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb) RETURNING *)"
    " SELECT " + wafer_json + " FROM w JOIN samples s ON s.organization_id = $1 AND s.id = w.sample_id"};
const kit::RowEvents wafer_events{"wafers_audit_row", wafer_shape,
                                  "wafers w JOIN samples s ON s.organization_id = w.organization_id AND s.id = w.sample_id",
                                  "w"};
const db::Query wafer_update_q{
    "wafers_update",
    "WITH w AS (UPDATE wafers SET diameter_mm = coalesce($3, diameter_mm), orientation = coalesce($4, orientation),"
    "             doping_type = coalesce($5, doping_type), dopant = CASE WHEN $6 THEN $7 ELSE dopant END,"
    "             resistivity_ohm_cm = CASE WHEN $8 THEN $9::double precision ELSE resistivity_ohm_cm END,"
    "             thickness_um = CASE WHEN $10 THEN $11::double precision ELSE thickness_um END,"
    "             extra_metadata = coalesce($12::jsonb, extra_metadata)"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + wafer_json + " FROM w JOIN samples s ON s.organization_id = $1 AND s.id = w.sample_id"};
const db::Constraint wafer_taken{"wafers_sample_key", "sample_id", "The sample already has wafer properties"};
const db::Constraint wafer_sample_missing{"wafers_organization_id_sample_id_fkey", "sample_id",
                                          "The sample does not exist in your organization"};

const kit::List devices_list{{
    .name = "devices_list",
    .select = device_json,
    .from = "devices d JOIN wafers w ON w.organization_id = $1 AND w.id = d.wafer_id"
            " JOIN samples s ON s.organization_id = $1 AND s.id = w.sample_id AND NOT s.is_deleted",
    .alias = "d",
    .where = "NOT d.is_deleted AND ($2::uuid IS NULL OR d.wafer_id = $2) AND ($3::text IS NULL OR d.device_type = $3)",
    .sorts = {{"name", "d.name", "text"}},
}};
constexpr std::string_view device_from =
    "devices d JOIN wafers w ON w.organization_id = $1 AND w.id = d.wafer_id"
    " JOIN samples s ON s.organization_id = $1 AND s.id = w.sample_id AND NOT s.is_deleted";
const db::Query device_get_q{"devices_get", "SELECT " + device_json + " FROM " + std::string(device_from) +
                                                " WHERE d.organization_id = $1 AND d.id = $2 AND NOT d.is_deleted"};
const db::Query device_lock_q{"devices_lock", "SELECT " + device_json + " FROM " + std::string(device_from) +
                                                  " WHERE d.organization_id = $1 AND d.id = $2 AND NOT d.is_deleted"
                                                  " FOR UPDATE OF d"};
// The wafer a device sits on: its sample live.
const db::Query device_wafer_q{"devices_wafer",
                               "SELECT 1 FROM wafers w JOIN samples s ON s.organization_id = $1 AND s.id = w.sample_id"
                               " AND NOT s.is_deleted WHERE w.organization_id = $1 AND w.id = $2"};
const db::Query device_insert_q{
    "devices_insert",
    "WITH d AS (INSERT INTO devices (organization_id, id, wafer_id, name, device_type, die_x, die_y, layout,"
    "                                created_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb) RETURNING *)"
    " SELECT " + device_json + " FROM d"};
const kit::RowEvents device_events{"devices_audit_row", device_shape, "devices d", "d"};
const db::Query device_update_q{
    "devices_update",
    "WITH d AS (UPDATE devices SET name = coalesce($3, name), device_type = CASE WHEN $4 THEN $5 ELSE device_type END,"
    "             die_x = CASE WHEN $6 THEN $7::int ELSE die_x END, die_y = CASE WHEN $8 THEN $9::int ELSE die_y END,"
    "             layout = coalesce($10::jsonb, layout), extra_metadata = coalesce($11::jsonb, extra_metadata)"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + device_json + " FROM d"};
const db::Constraint die_taken{"devices_die_key", "die_x", "Another device sits at this die position on the wafer",
                               "another device sits at this die position on the wafer"};
const db::Constraint die_half{"devices_die_position_check", "die_y", "A die position needs both die_x and die_y",
                              "is required with die_x (and die_x with die_y)"};
const db::Constraint device_wafer_missing{"devices_organization_id_wafer_id_fkey", "wafer_id",
                                          "The wafer does not exist in your organization"};

// SEMI standard diameters.
const std::int64_t diameters[] = {50, 76, 100, 125, 150, 200, 300, 450};
const std::vector<std::string> orientations = {"<100>", "<110>", "<111>"};
const std::vector<std::string> doping_types = {"n", "p", "undoped"};
constexpr double min_resistivity = 1e-5, max_resistivity = 1e12;  // degenerate to semi-insulating, ohm cm
constexpr double min_thickness = 10, max_thickness = 5000;        // thinned to thick substrate, um
constexpr double max_die_index = 10000;                          // dies from the wafer's centre, either way

void check_diameter(std::optional<std::int64_t> d, kit::Problems& p) {
  if (d && std::find(std::begin(diameters), std::end(diameters), *d) == std::end(diameters))
    p.add("diameter_mm", "must be one of 50, 76, 100, 125, 150, 200, 300, 450");
}

void refuse_unless_wafer_sample(const db::Result& r) {
  if (r.empty())
    throw std::move(unprocessable("The sample does not exist in your organization")
                        .with_field("sample_id", "does not exist in your organization"));
  const WaferSample sample = wafer_sample(r);
  if (sample.sample_type != "wafer")
    throw std::move(unprocessable("Only a sample of type wafer has wafer properties")
                        .with_field("sample_id", "is a " + sample.sample_type + " sample, not a wafer"));
}

}  // namespace

kit::Input<NewWafer> NewWafer::input() {
  kit::Input<NewWafer> in{
      "NewWafer",
      {kit::field("sample_id", &NewWafer::sample_id).uuid(),
       kit::field("diameter_mm", &NewWafer::diameter_mm).describe("50, 76, 100, 125, 150, 200, 300 or 450"),
       kit::field("orientation", &NewWafer::orientation).one_of(orientations),
       kit::field("doping_type", &NewWafer::doping_type).one_of(doping_types),
       kit::field("dopant", &NewWafer::dopant).max_length(50).not_blank(),
       kit::field("resistivity_ohm_cm", &NewWafer::resistivity_ohm_cm).min(min_resistivity).max(max_resistivity),
       kit::field("thickness_um", &NewWafer::thickness_um).min(min_thickness).max(max_thickness),
       kit::field("extra_metadata", &NewWafer::extra_metadata).object()}};
  in.also([](const NewWafer& w, kit::Problems& p) {
    check_diameter(w.diameter_mm, p);
  });
  return in;
}

kit::Input<WaferChange> WaferChange::input() {
  kit::Input<WaferChange> in{
      "WaferChange",
      {kit::field("diameter_mm", &WaferChange::diameter_mm),
       kit::field("orientation", &WaferChange::orientation).one_of(orientations),
       kit::field("doping_type", &WaferChange::doping_type).one_of(doping_types),
       kit::field("dopant", &WaferChange::dopant).max_length(50).not_blank(),
       kit::field("resistivity_ohm_cm", &WaferChange::resistivity_ohm_cm).min(min_resistivity).max(max_resistivity),
       kit::field("thickness_um", &WaferChange::thickness_um).min(min_thickness).max(max_thickness),
       kit::field("extra_metadata", &WaferChange::extra_metadata).object()}};
  in.also([](const WaferChange& w, kit::Problems& p) { check_diameter(w.diameter_mm, p); });
  return in;
}

kit::Input<WaferFilters> WaferFilters::input() {
  return {"WaferFilters",
          {kit::field("sample_id", &WaferFilters::sample_id).uuid(),
           kit::field("doping_type", &WaferFilters::doping_type).one_of(doping_types),
           kit::field("orientation", &WaferFilters::orientation).one_of(orientations),
           kit::field("diameter_mm", &WaferFilters::diameter_mm).min(1).max(1000)}};
}

kit::Input<NewDevice> NewDevice::input() {
  kit::Input<NewDevice> in{
      "NewDevice",
      {kit::field("wafer_id", &NewDevice::wafer_id).uuid(),
       kit::field("name", &NewDevice::name).max_length(200),
       kit::field("device_type", &NewDevice::device_type).max_length(100).not_blank(),
       kit::field("die_x", &NewDevice::die_x).min(-max_die_index).max(max_die_index),
       kit::field("die_y", &NewDevice::die_y).min(-max_die_index).max(max_die_index),
       kit::field("layout", &NewDevice::layout).object(),
       kit::field("extra_metadata", &NewDevice::extra_metadata).object()}};
  in.also([](const NewDevice& d, kit::Problems& p) {
    if (d.die_x.has_value() != d.die_y.has_value())
      p.add(d.die_x ? "die_y" : "die_x", "is required with the other die coordinate");
  });
  return in;
}

kit::Input<DeviceChange> DeviceChange::input() {
  return {"DeviceChange",
          {kit::field("name", &DeviceChange::name).max_length(200).not_blank(),
           kit::field("device_type", &DeviceChange::device_type).max_length(100).not_blank(),
           kit::field("die_x", &DeviceChange::die_x).min(-max_die_index).max(max_die_index),
           kit::field("die_y", &DeviceChange::die_y).min(-max_die_index).max(max_die_index),
           kit::field("layout", &DeviceChange::layout).object(),
           kit::field("extra_metadata", &DeviceChange::extra_metadata).object()}};
}

kit::Input<DeviceFilters> DeviceFilters::input() {
  return {"DeviceFilters",
          {kit::field("wafer_id", &DeviceFilters::wafer_id).uuid(),
           kit::field("device_type", &DeviceFilters::device_type).max_length(100)}};
}

Reply list_wafers(RequestContext& ctx, QueryString<WaferFilters> q, PageRequest page) {
  return wafers_list.page(ctx, db::Params(q.sample_id, q.doping_type, q.orientation, q.diameter_mm), page);
}

Reply get_wafer(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, wafer_get_q, db::Params(p.id), "No such wafer"); }

Reply create_wafer(RequestContext& ctx, Body<NewWafer> in) {
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto sample = co_await w.exec(wafer_sample_q, db::Params(in.sample_id));
    refuse_unless_wafer_sample(sample);
    const std::string id = crypto::uuid_v4();
    co_return co_await w.create(wafer_insert_q,
                                db::Params(id, in.sample_id, in.diameter_mm, in.orientation, in.doping_type, in.dopant,
                                           in.resistivity_ohm_cm, in.thickness_um, ctx.principal.user_id,
                                           in.extra_metadata),
                                {"wafer.create", "wafer"}, wafer_events, id);
  });
  co_return http::Response::json(201, std::move(row));
}

Reply update_wafer(RequestContext& ctx, Path<kit::Id> p, Body<WaferChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto before = co_await w.exec(wafer_lock_q, db::Params(p.id));
    if (before.empty()) throw not_found("No such wafer");
    auto r = co_await w.exec(wafer_update_q,
                             db::Params(p.id, in.diameter_mm, in.orientation, in.doping_type, in.dopant.present,
                                        in.dopant.value, in.resistivity_ohm_cm.present, in.resistivity_ohm_cm.value,
                                        in.thickness_um.present, in.thickness_um.value, in.extra_metadata));
    std::string json = db::row_json(r);
    w.audit("wafer.update", "wafer", p.id, db::row_json(before), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply list_devices(RequestContext& ctx, QueryString<DeviceFilters> q, PageRequest page) {
  return devices_list.page(ctx, db::Params(q.wafer_id, q.device_type), page);
}

Reply get_device(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, device_get_q, db::Params(p.id), "No such device");
}

Reply create_device(RequestContext& ctx, Body<NewDevice> in) {
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto wafer = co_await w.exec(device_wafer_q, db::Params(in.wafer_id));
    if (wafer.empty())
      throw std::move(unprocessable("The wafer does not exist in your organization")
                          .with_field("wafer_id", "does not exist in your organization"));
    const std::string id = crypto::uuid_v4();
    co_return co_await w.create(device_insert_q,
                                db::Params(id, in.wafer_id, in.name, in.device_type, in.die_x, in.die_y, in.layout,
                                           ctx.principal.user_id, in.extra_metadata),
                                {"device.create", "device"}, device_events, id);
  });
  co_return http::Response::json(201, std::move(row));
}

Reply update_device(RequestContext& ctx, Path<kit::Id> p, Body<DeviceChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto before = co_await w.exec(device_lock_q, db::Params(p.id));
    if (before.empty()) throw not_found("No such device");
    auto r = co_await w.exec(device_update_q,
                             db::Params(p.id, in.name, in.device_type.present, in.device_type.value, in.die_x.present,
                                        in.die_x.value, in.die_y.present, in.die_y.value, in.layout, in.extra_metadata));
    std::string json = db::row_json(r);
    w.audit("device.update", "device", p.id, db::row_json(before), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::samples
