-- Instruments and calibrations: a serial number names one live instrument of an organization, and a
-- certificate number one calibration of an instrument.
CREATE UNIQUE INDEX instruments_serial_number_key ON instruments (organization_id, serial_number) WHERE NOT is_deleted;
CREATE UNIQUE INDEX calibrations_certificate_key ON calibrations (organization_id, instrument_id, certificate_number);
CREATE INDEX instruments_name_trgm_idx ON instruments USING gin (name gin_trgm_ops);
