#pragma once
// The sample side of the LIMS: materials, samples, wafers, devices, the chain of custody, labels and
// CSV interchange. Each handler's parameters after the context are its declared inputs (kit/route.hpp).
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::samples {

using kit::Body;
using kit::Nullable;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

// ---- Materials ----
struct NewMaterial {
  std::string name;
  std::optional<std::string> formula, category;
  std::string properties = "{}";
  std::string extra_metadata = "{}";
  static kit::Input<NewMaterial> input();
};
struct MaterialChange {
  std::optional<std::string> name;
  Nullable<std::string> formula, category;
  std::optional<std::string> properties, extra_metadata;
  static kit::Input<MaterialChange> input();
};
struct MaterialFilters {
  std::optional<std::string> category, q;
  static kit::Input<MaterialFilters> input();
};
Reply list_materials(RequestContext& ctx, QueryString<MaterialFilters> q, PageRequest page);
Reply create_material(RequestContext& ctx, Body<NewMaterial> in);
Reply get_material(RequestContext& ctx, Path<kit::Id> p);
Reply update_material(RequestContext& ctx, Path<kit::Id> p, Body<MaterialChange> in);
Reply delete_material(RequestContext& ctx, Path<kit::Id> p);

// ---- Samples ----
struct NewSample {
  std::string name;
  std::optional<std::string> barcode;  // generated when absent
  std::string sample_type;
  std::optional<std::string> material_id, parent_sample_id, location;
  std::string status = "available";
  std::string extra_metadata = "{}";
  static kit::Input<NewSample> input();
};
struct SampleChange {
  std::optional<std::string> name, barcode, sample_type, status;
  Nullable<std::string> material_id, parent_sample_id;
  std::optional<std::string> extra_metadata;
  static kit::Input<SampleChange> input();
};
struct SampleFilters {
  std::optional<std::string> barcode, material_id, status, sample_type, location, q;
  std::optional<std::string> format;  // json (default) or csv
  static kit::Input<SampleFilters> input();
};
Reply list_samples(RequestContext& ctx, QueryString<SampleFilters> q, PageRequest page);
Reply create_sample(RequestContext& ctx, Body<NewSample> in);
Reply get_sample(RequestContext& ctx, Path<kit::Id> p);
Reply update_sample(RequestContext& ctx, Path<kit::Id> p, Body<SampleChange> in);
Reply delete_sample(RequestContext& ctx, Path<kit::Id> p);
Reply import_samples(RequestContext& ctx, kit::Upload file);

// ---- Custody ----
struct NewCustodyEvent {
  std::string event_type;
  std::optional<std::string> to_location, to_user_id, notes;
  std::string extra_metadata = "{}";
  static kit::Input<NewCustodyEvent> input();
};
Reply list_custody(RequestContext& ctx, Path<kit::Id> p, PageRequest page);
Reply record_custody(RequestContext& ctx, Path<kit::Id> p, Body<NewCustodyEvent> in);

// ---- Labels ----
struct LabelOptions {
  std::string format = "svg";
  static kit::Input<LabelOptions> input();
};
struct LabelSheet {
  std::vector<std::string> sample_ids;
  std::string format = "pdf";
  static kit::Input<LabelSheet> input();
};
Reply sample_label(RequestContext& ctx, Path<kit::Id> p, QueryString<LabelOptions> q);
Reply label_sheet(RequestContext& ctx, Body<LabelSheet> in);

// ---- Wafers ----
struct NewWafer {
  std::string sample_id;
  std::int64_t diameter_mm = 0;
  std::string orientation, doping_type;
  std::optional<std::string> dopant;
  std::optional<double> resistivity_ohm_cm, thickness_um;
  std::string extra_metadata = "{}";
  static kit::Input<NewWafer> input();
};
struct WaferChange {
  std::optional<std::int64_t> diameter_mm;
  std::optional<std::string> orientation, doping_type;
  Nullable<std::string> dopant;
  Nullable<double> resistivity_ohm_cm, thickness_um;
  std::optional<std::string> extra_metadata;
  static kit::Input<WaferChange> input();
};
struct WaferFilters {
  std::optional<std::string> sample_id, doping_type, orientation;
  std::optional<std::int64_t> diameter_mm;
  static kit::Input<WaferFilters> input();
};
Reply list_wafers(RequestContext& ctx, QueryString<WaferFilters> q, PageRequest page);
Reply create_wafer(RequestContext& ctx, Body<NewWafer> in);
Reply get_wafer(RequestContext& ctx, Path<kit::Id> p);
Reply update_wafer(RequestContext& ctx, Path<kit::Id> p, Body<WaferChange> in);

// ---- Devices ----
struct NewDevice {
  std::string wafer_id, name;
  std::optional<std::string> device_type;
  std::optional<std::int64_t> die_x, die_y;
  std::string layout = "{}";
  std::string extra_metadata = "{}";
  static kit::Input<NewDevice> input();
};
struct DeviceChange {
  std::optional<std::string> name;
  Nullable<std::string> device_type;
  Nullable<std::int64_t> die_x, die_y;
  std::optional<std::string> layout, extra_metadata;
  static kit::Input<DeviceChange> input();
};
struct DeviceFilters {
  std::optional<std::string> wafer_id, device_type;
  static kit::Input<DeviceFilters> input();
};
Reply list_devices(RequestContext& ctx, QueryString<DeviceFilters> q, PageRequest page);
Reply create_device(RequestContext& ctx, Body<NewDevice> in);
Reply get_device(RequestContext& ctx, Path<kit::Id> p);
Reply update_device(RequestContext& ctx, Path<kit::Id> p, Body<DeviceChange> in);

}  // namespace spectra::samples
