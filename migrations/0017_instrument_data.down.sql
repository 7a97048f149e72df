DROP TABLE bin_map_dies;
DROP TABLE bin_maps;
DROP INDEX results_positioned_idx;
ALTER TABLE results DROP COLUMN import_id, DROP COLUMN site, DROP COLUMN die_y, DROP COLUMN die_x,
    DROP COLUMN y_mm, DROP COLUMN x_mm;
DROP TABLE run_imports;
DROP TABLE import_profiles;
