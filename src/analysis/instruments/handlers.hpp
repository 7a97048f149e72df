#pragma once
// Instruments and their calibration certificates (the Analysis API): each instrument answers its
// calibration status, the one the lockout of runs decides by (rules.hpp). Each handler's parameters
// after the context are its declared inputs (kit/route.hpp).
#include <cstdint>
#include <optional>
#include <string>

#include "kit/route.hpp"

namespace spectra::instruments {

using kit::Body;
using kit::Nullable;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

struct NewInstrument {
  std::string name, vendor, model, serial_number;
  std::optional<std::string> location;
  std::optional<std::int64_t> calibration_interval_days;
  std::string status = "active";
  std::string extra_metadata = "{}";
  static kit::Input<NewInstrument> input();
};
struct InstrumentChange {
  std::optional<std::string> name, vendor, model, serial_number;
  Nullable<std::string> location;
  Nullable<std::int64_t> calibration_interval_days;
  std::optional<std::string> status, extra_metadata;
  static kit::Input<InstrumentChange> input();
};
struct InstrumentFilters {
  std::optional<std::string> calibration, status, q;
  std::optional<std::int64_t> expiring_within_days;
  static kit::Input<InstrumentFilters> input();
};
Reply list_instruments(RequestContext& ctx, QueryString<InstrumentFilters> q, PageRequest page);
Reply create_instrument(RequestContext& ctx, Body<NewInstrument> in);
Reply get_instrument(RequestContext& ctx, Path<kit::Id> p);
Reply update_instrument(RequestContext& ctx, Path<kit::Id> p, Body<InstrumentChange> in);
Reply delete_instrument(RequestContext& ctx, Path<kit::Id> p);

struct NewCalibration {
  std::string instrument_id, certificate_number, calibrated_at, expires_at;
  std::string status = "VALID";
  std::optional<std::string> provider;
  std::string extra_metadata = "{}";
  static kit::Input<NewCalibration> input();
};
struct CalibrationFilters {
  std::optional<std::string> instrument_id, status;
  std::optional<std::int64_t> expiring_within_days;
  static kit::Input<CalibrationFilters> input();
};
struct StatusCheck {
  std::string instrument_id;
  static kit::Input<StatusCheck> input();
};
struct CalibrationAction {
  std::optional<std::string> reason;
  static kit::Input<CalibrationAction> input();
};
Reply list_calibrations(RequestContext& ctx, QueryString<CalibrationFilters> q, PageRequest page);
Reply create_calibration(RequestContext& ctx, Body<NewCalibration> in);
Reply get_calibration(RequestContext& ctx, Path<kit::Id> p);
Reply check_calibration(RequestContext& ctx, QueryString<StatusCheck> q);
Reply expire_calibration(RequestContext& ctx, Path<kit::Id> p, OptionalBody<CalibrationAction> in);
Reply revoke_calibration(RequestContext& ctx, Path<kit::Id> p, OptionalBody<CalibrationAction> in);

}  // namespace spectra::instruments
