-- SPC: what a series keeps so that a batch of points is evaluated and summarised without rescanning
-- its history, and what an alert keeps so that consecutive violations of its rule extend it.
--   * range_center/range_ucl/range_lcl: the MR or R chart of limits computed from a baseline;
--   * limits_computed_at: when the baseline completed (NULL for fixed limits, or while it fills);
--   * stat_count/stat_mean/stat_m2: count, mean and sum of squared deviations of every value
--     (Welford, merged batch by batch): σ overall;
--   * range_sum/range_count: moving ranges of consecutive values (I-MR) or ranges of whole subgroups
--     (X̄-R): σ within = mean range / d2.
-- The constants the application uses cover subgroups of 2..10.
ALTER TABLE spc_series ADD COLUMN range_center double precision;
ALTER TABLE spc_series ADD COLUMN range_ucl double precision;
ALTER TABLE spc_series ADD COLUMN range_lcl double precision;
ALTER TABLE spc_series ADD COLUMN limits_computed_at timestamptz;
ALTER TABLE spc_series ADD COLUMN stat_count bigint NOT NULL DEFAULT 0;
ALTER TABLE spc_series ADD COLUMN stat_mean double precision NOT NULL DEFAULT 0;
ALTER TABLE spc_series ADD COLUMN stat_m2 double precision NOT NULL DEFAULT 0;
ALTER TABLE spc_series ADD COLUMN range_sum double precision NOT NULL DEFAULT 0;
ALTER TABLE spc_series ADD COLUMN range_count bigint NOT NULL DEFAULT 0;
ALTER TABLE spc_series ADD CONSTRAINT spc_series_subgroup_size_max_check CHECK (subgroup_size IS NULL OR subgroup_size <= 10);
ALTER TABLE spc_series ADD CONSTRAINT spc_series_center_within_limits_check CHECK (center_line > lcl AND center_line < ucl);

-- The seq of the newest point an alert holds: a violation of the same rule on the very next plotted
-- point extends the alert instead of opening another.
ALTER TABLE spc_alerts ADD COLUMN last_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX spc_alerts_series_rule_open_idx ON spc_alerts (organization_id, series_id, rule, created_at DESC, id DESC)
    WHERE status <> 'RESOLVED';
CREATE INDEX spc_alert_points_point_idx ON spc_alert_points (organization_id, datapoint_id);
-- The points of a run (and the foreign key's check when a run row changes key or goes).
CREATE INDEX spc_datapoints_run_idx ON spc_datapoints (organization_id, run_id) WHERE run_id IS NOT NULL;

-- Models of one name listed by version; feature sets by name.
CREATE INDEX ml_models_org_name_idx ON ml_models (organization_id, name, created_at DESC, id DESC);
