#pragma once
// The JSON of SPC series, points and alerts, declared once.
#include <string_view>

#include "kit/data.hpp"

namespace spectra::spc {

inline constexpr std::string_view series_fields[] = {
    "id",          "organization_id", "name",          "metric",       "unit",         "chart_type",
    "subgroup_size", "lsl",           "usl",           "target",       "center_line",  "ucl",
    "lcl",         "baseline_points", "range_center",  "range_ucl",    "range_lcl",    "limits_computed_at",
    "instrument_id", "hold_on_alert", "point_count=$.stat_count",
    "source=CASE WHEN $.source_metric IS NULL THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object('metric',"
    " $.source_metric, 'instrument_id', $.source_instrument_id, 'recipe_id', $.source_recipe_id)) END",      "created_by",   "extra_metadata",
    "created_at",  "updated_at"};
inline constexpr kit::Shape series_shape{series_fields};

inline constexpr std::string_view point_fields[] = {
    "id",          "organization_id", "series_id",   "seq",         "value",      "measured_at", "run_id",
    "subgroup",    "violations",      "recorded_by", "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape point_shape{point_fields};

// An alert's points, oldest first, from its links (spc_alert_points).
inline constexpr std::string_view alert_fields[] = {
    "id", "organization_id", "series_id",
    "series_name=(SELECT s.name FROM spc_series s WHERE s.organization_id = $1 AND s.id = $.series_id)",
    "rule", "datapoint_id",
    "point_ids=(SELECT coalesce(jsonb_agg(l.datapoint_id ORDER BY d.seq), '[]') FROM spc_alert_points l"
    " JOIN spc_datapoints d ON d.organization_id = $1 AND d.id = l.datapoint_id"
    " WHERE l.organization_id = $1 AND l.alert_id = $.id)",
    "last_seq", "status", "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "note",
    "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape alert_shape{alert_fields};

}  // namespace spectra::spc
