#pragma once
// The JSON of instruments and calibrations, declared once, and the status-check object in SQL.
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "kit/data.hpp"

namespace spectra::instruments {

// An instrument's latest calibration (by calibrated_at), joined as `lc` to an instrument aliased `i`.
inline const std::string latest_calibration_join =
    " LEFT JOIN LATERAL (SELECT c.id, c.status, c.certificate_number, c.expires_at, c.expired_at FROM calibrations c"
    "  WHERE c.organization_id = $1 AND c.instrument_id = i.id"
    "  ORDER BY c.calibrated_at DESC, c.created_at DESC, c.id DESC LIMIT 1) lc ON true";

// The status-check object of instrument `i` from its latest calibration `lc`: the same decision as
// judge_calibration() (rules.hpp), rendered in SQL so that lists carry it and filter by it. Both count
// in whole seconds (the rule's resolution): the seconds from now until lc expires.
inline const std::string lc_seconds_left_sql = "(floor(extract(epoch FROM lc.expires_at)) - floor(extract(epoch FROM now())))";
inline const std::string lc_status_sql =
    "CASE WHEN lc.id IS NULL THEN 'NONE' WHEN lc.status = 'VALID' AND " + lc_seconds_left_sql + " <= 0 THEN 'EXPIRED'"
    " ELSE lc.status END";
inline const std::string calibration_status_members[] = {
    "instrument_id=$.id",
    "is_valid=coalesce(lc.status = 'VALID' AND " + lc_seconds_left_sql + " > 0, false)",
    "status=" + lc_status_sql,
    "expires_at=lc.expires_at",
    "days_until_expiry=floor(" + lc_seconds_left_sql + " / 86400)::int",
    "calibration_id=lc.id",
    "reason=CASE WHEN lc.id IS NULL THEN 'no calibration on record'"
    "   WHEN lc.status = 'REVOKED' THEN 'calibration revoked (certificate ' || lc.certificate_number || ')'"
    "   WHEN lc.status = 'PENDING' THEN 'calibration pending (certificate ' || lc.certificate_number || ')'"
    "   WHEN lc.status = 'EXPIRED' OR " + lc_seconds_left_sql + " <= 0 THEN 'calibration expired on '"
    "        || to_char(coalesce(lc.expired_at, lc.expires_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    "        || ' (certificate ' || lc.certificate_number || ')'"
    "   ELSE 'valid until ' || to_char(lc.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    "        || ' (certificate ' || lc.certificate_number || ')' END"};
inline const std::vector<std::string_view> calibration_status_fields(std::begin(calibration_status_members),
                                                                     std::end(calibration_status_members));
// Its columns answer the status check; its jsonb is an instrument's `calibration` member.
inline const kit::Shape calibration_status_shape{calibration_status_fields};

inline constexpr std::string_view instrument_fields[] = {
    "id",       "organization_id", "name",   "vendor",     "model",          "serial_number", "location",
    "calibration_interval_days", "status", "created_by", "extra_metadata", "created_at",    "updated_at"};
inline constexpr kit::Shape instrument_shape{instrument_fields};
// An instrument's columns with its calibration status as the jsonb column `calibration` (needs
// latest_calibration_join).
inline const std::string instrument_json =
    instrument_shape.sql("i") + ", " + calibration_status_shape.jsonb("i") + " AS calibration";

inline constexpr std::string_view calibration_fields[] = {
    "id",         "organization_id", "instrument_id", "certificate_number", "calibrated_at", "expires_at",
    "status",     "provider",        "revoked_at",    "revoked_by",         "expired_at",    "expired_by",
    "reason",     "created_by",      "extra_metadata", "created_at",        "updated_at"};
inline constexpr kit::Shape calibration_shape{calibration_fields};

}  // namespace spectra::instruments
