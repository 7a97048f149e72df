// Instruments: the list with each one's calibration badge, create, and the detail page with its
// calibration history (record a certificate; expire or revoke one), its import profiles and a link to
// its runs. The import profiles' own pages are instrument_data.tsx's, under the tabs made here.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, atLeast, user } from '../api';
import { navigate, useLocation } from '../router';
import {
  ActionButton, Badge, Can, compact, dateToInstant, day, Facts, Field, FilterBar, FilterSelect, FormFooter, isoDay, PagedTable,
  PageHeader, Panel, SearchField, SelectField, Show, StatusBadge, Tabs, toNumber, useApi, useFilters, useForm, useNames, useRefresh,
  when, type Tone,
} from '../ui';

export const INSTRUMENT_STATUSES = ['active', 'maintenance', 'retired'];
const CALIBRATION_FILTERS: [string, string][] = [
  ['valid', 'Valid'],
  ['expiring', 'Expiring within 30 days'],
  ['expired', 'Expired'],
  ['revoked', 'Revoked'],
  ['pending', 'Pending'],
  ['none', 'None'],
];

// The status-check object an instrument carries (GET /api/v1/calibrations/status/check answers the same).
export interface CalibrationStatus {
  instrument_id: string;
  is_valid: boolean;
  status: string; // VALID, EXPIRED, PENDING, REVOKED, NONE
  expires_at: string | null;
  days_until_expiry: number | null;
  calibration_id: string | null;
  reason: string;
}

export interface Instrument {
  id: string;
  name: string;
  vendor: string;
  model: string;
  serial_number: string;
  location: string | null;
  calibration_interval_days: number | null;
  status: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  extra_metadata: Record<string, unknown>;
  calibration: CalibrationStatus | null;
}

export interface Calibration {
  id: string;
  instrument_id: string;
  certificate_number: string;
  calibrated_at: string;
  expires_at: string;
  status: string;
  provider: string | null;
  revoked_at: string | null;
  expired_at: string | null;
  reason: string | null;
  created_at: string;
}

// How one instrument's CSV or TSV files become results (POST /api/v1/runs/{id}/import reads them
// through it): the header names of the columns it reads, lines before the header, one metric per file
// or a metric column, a fixed unit or a unit column, a factor for the values and the decimal comma.
export interface ImportProfile {
  id: string;
  instrument_id: string;
  name: string;
  format: 'csv' | 'tsv';
  skip_lines: number;
  columns: ProfileColumns;
  metric: string | null;
  unit: string | null;
  unit_scale: number;
  decimal_comma: boolean;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}
export interface ProfileColumns {
  metric?: string;
  value?: string;
  unit?: string;
  x_mm?: string;
  y_mm?: string;
  die_x?: string;
  die_y?: string;
  site?: string;
}

// What a profile's file gives each result, in words: its metric and its unit.
export function profileMetric(p: ImportProfile): ComponentChildren {
  if (p.metric) return p.metric;
  return p.columns.metric ? <>from column <q>{p.columns.metric}</q></> : '—';
}
export function profileUnit(p: ImportProfile): ComponentChildren {
  if (p.columns.unit) return <>from column <q>{p.columns.unit}</q>{p.unit && <> (else {p.unit})</>}</>;
  return p.unit ?? '—';
}
// The positions a profile's files carry: on the wafer (x, y in mm), the die, the site's name.
function profilePositions(p: ImportProfile): string {
  const c = p.columns;
  const read = [c.x_mm && 'x, y (mm)', c.die_x && 'die', c.site && 'site'].filter(Boolean);
  return read.length ? read.join(' · ') : 'none';
}

// The instruments' pages' tabs, under their heading: the instruments and their import profiles.
export function InstrumentTabs() {
  const { path } = useLocation();
  const current = path.startsWith('/instruments/import-profiles') ? '/instruments/import-profiles' : '/instruments';
  return (
    <Tabs
      label="Instruments"
      tabs={[
        ['/instruments', 'Instruments'],
        ['/instruments/import-profiles', 'Import profiles'],
      ]}
      current={current}
    />
  );
}

// Import profiles (GET /api/v1/import-profiles with `query`), each named by a link to its page; with
// `instruments`, the instrument each one reads.
export function ProfileTable(props: {
  query: Record<string, string | undefined>;
  instruments?: ReturnType<typeof useInstruments>;
  empty: ComponentChildren;
}) {
  const { query, instruments, empty } = props;
  return (
    <PagedTable<ImportProfile>
      path="/api/v1/import-profiles"
      query={query}
      label="Import profiles"
      empty={empty}
      columns={[
        { label: 'Name', cell: (p) => <a href={`/instruments/import-profiles/${p.id}`}>{p.name}</a> },
        ...(instruments
          ? [{ label: 'Instrument', cell: (p: ImportProfile) => <a href={`/instruments/${p.instrument_id}`}>{instruments.name(p.instrument_id)}</a> }]
          : []),
        { label: 'Format', cell: (p) => p.format.toUpperCase() },
        { label: 'Metric', cell: profileMetric },
        { label: 'Value column', cell: (p) => (p.columns.value ? <code>{p.columns.value}</code> : '—') },
        { label: 'Unit', cell: profileUnit },
        { label: 'Positions', cell: profilePositions },
        { label: 'Updated', cell: (p) => when(p.updated_at) },
      ]}
    />
  );
}

// Warn this many days before a valid calibration expires.
const EXPIRY_WARNING_DAYS = 30;

// The lab's instruments, for the names and selects of other pages (runs, recipes, series).
export function useInstruments() {
  return useNames<Instrument>('/api/v1/instruments');
}

// An instrument's calibration at a glance: valid (green), expires in N days (amber), expired (red),
// none (grey); pending and revoked as such. The server's reason is the badge's tooltip.
export function CalibrationBadge({ calibration }: { calibration: CalibrationStatus | null | undefined }) {
  const c = calibration;
  if (!c || c.status === 'NONE' || !c.calibration_id)
    return (
      <span title={c?.reason ?? 'no calibration on record'}>
        <Badge tone="neutral">none</Badge>
      </span>
    );
  let tone: Tone = 'neutral';
  let text: string;
  if (c.is_valid) {
    const n = c.days_until_expiry;
    if (n !== null && n <= EXPIRY_WARNING_DAYS) {
      tone = 'warn';
      text = n <= 0 ? 'expires today' : `expires in ${n} ${n === 1 ? 'day' : 'days'}`;
    } else {
      tone = 'ok';
      text = 'valid';
    }
  } else if (c.status === 'PENDING') {
    tone = 'warn';
    text = 'pending';
  } else if (c.status === 'REVOKED') {
    tone = 'bad';
    text = 'revoked';
  } else {
    tone = 'bad';
    text = 'expired';
  }
  return (
    <span title={c.reason}>
      <Badge tone={tone}>{text}</Badge>
    </span>
  );
}

function InstrumentList() {
  const filters = useFilters(['q', 'calibration', 'status']);
  return (
    <>
      <PageHeader title="Instruments">
        <Can role="engineer">
          <a class="button primary" href="/instruments/new">
            New instrument
          </a>
        </Can>
      </PageHeader>
      <InstrumentTabs />
      <FilterBar label="Filter instruments" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Name, model or serial number" />
        <FilterSelect filters={filters} name="calibration" label="Calibration" options={CALIBRATION_FILTERS} />
        <FilterSelect filters={filters} name="status" label="Status" options={INSTRUMENT_STATUSES} />
      </FilterBar>
      <PagedTable<Instrument>
        path="/api/v1/instruments"
        query={filters.values}
        label="Instruments"
        empty={
          <>
            <p>No instruments match.</p>
            <Can role="engineer">
              <a href="/instruments/new">Register an instrument</a>
            </Can>
          </>
        }
        columns={[
          { label: 'Name', cell: (i) => <a href={`/instruments/${i.id}`}>{i.name}</a> },
          { label: 'Vendor / model', cell: (i) => `${i.vendor} ${i.model}` },
          { label: 'Serial number', cell: (i) => <code>{i.serial_number}</code> },
          { label: 'Location', cell: (i) => i.location ?? '—' },
          { label: 'Status', cell: (i) => <StatusBadge status={i.status} /> },
          { label: 'Calibration', cell: (i) => <CalibrationBadge calibration={i.calibration} /> },
          { label: 'Calibration expires', cell: (i) => day(i.calibration?.expires_at) },
        ]}
      />
    </>
  );
}

interface InstrumentValues {
  name: string;
  vendor: string;
  model: string;
  serial_number: string;
  location: string;
  calibration_interval_days: string;
  status: string;
}

function NewInstrument() {
  const form = useForm<InstrumentValues>({
    name: '',
    vendor: '',
    model: '',
    serial_number: '',
    location: '',
    calibration_interval_days: '365',
    status: '',
  });
  const save = form.submit(async (v) => {
    const body = compact({
      ...v,
      name: v.name.trim(),
      vendor: v.vendor.trim(),
      model: v.model.trim(),
      serial_number: v.serial_number.trim(),
      location: v.location.trim(),
      calibration_interval_days: toNumber(v.calibration_interval_days),
    });
    const saved = await api<Instrument>('/api/v1/instruments', { method: 'POST', body });
    navigate(`/instruments/${saved.id}`);
  });
  return (
    <>
      <PageHeader title="New instrument" />
      <form onSubmit={save} class="panel" aria-label="New instrument" noValidate>
        <div class="grid">
          <Field form={form} name="name" label="Name" required />
          <Field form={form} name="vendor" label="Vendor" required />
          <Field form={form} name="model" label="Model" required />
          <Field form={form} name="serial_number" label="Serial number" required />
          <Field form={form} name="location" label="Location" />
          <Field
            form={form}
            name="calibration_interval_days"
            label="Calibration interval (days)"
            type="number"
            min={1}
            max={3650}
            step={1}
            inputMode="numeric"
          />
          <SelectField form={form} name="status" label="Status" options={INSTRUMENT_STATUSES} blank="active (default)" />
        </div>
        <FormFooter form={form} submit="Create instrument" onCancel={() => history.back()} />
      </form>
    </>
  );
}

function CalibrationForm({ instrument, done }: { instrument: Instrument; done: () => void }) {
  const initial = () => ({
    certificate_number: '',
    calibrated_at: isoDay(),
    expires_at: isoDay(instrument.calibration_interval_days ?? 365),
    status: 'VALID',
    provider: '',
  });
  const form = useForm(initial());
  return (
    <form
      onSubmit={form.submit(async (v) => {
        await api<Calibration>('/api/v1/calibrations', {
          method: 'POST',
          body: compact({
            instrument_id: instrument.id,
            certificate_number: v.certificate_number.trim(),
            calibrated_at: dateToInstant(v.calibrated_at),
            expires_at: dateToInstant(v.expires_at),
            status: v.status,
            provider: v.provider.trim(),
          }),
        });
        form.reset(initial());
        done();
      })}
      aria-label="Record a certificate"
      noValidate
    >
      <div class="grid">
        <Field form={form} name="certificate_number" label="Certificate number" required />
        <Field form={form} name="calibrated_at" label="Calibrated on" type="date" required />
        <Field form={form} name="expires_at" label="Expires on" type="date" required />
        <SelectField
          form={form}
          name="status"
          label="Status"
          options={[
            ['VALID', 'VALID'],
            ['PENDING', 'PENDING (not yet usable)'],
          ]}
        />
        <Field form={form} name="provider" label="Provider" />
      </div>
      <FormFooter form={form} submit="Record certificate" />
    </form>
  );
}

// What an expire or a revoke answers: the calibration and the queued runs it blocked.
interface Ended extends Calibration {
  blocked_run_ids?: string[];
}

function CalibrationHistory({ instrument, refresh, changed }: { instrument: Instrument; refresh: number; changed: () => void }) {
  const [notice, setNotice] = useState<string | null>(null);
  const admin = atLeast(user(), 'admin');
  const end = (c: Calibration, how: 'expire' | 'revoke') => async () => {
    setNotice(null);
    const r = await api<Ended>(`/api/v1/calibrations/${c.id}/${how}`, { method: 'PATCH', body: {} });
    const n = r?.blocked_run_ids?.length ?? 0;
    setNotice(
      `Certificate ${c.certificate_number} ${how === 'expire' ? 'expired' : 'revoked'}.` +
        (n ? ` ${n} queued ${n === 1 ? 'run was' : 'runs were'} blocked.` : ''),
    );
  };
  const effective = (c: Calibration) =>
    c.status === 'VALID' && new Date(c.expires_at).getTime() <= Date.now() ? 'EXPIRED' : c.status;
  return (
    <>
      {notice && (
        <p class="notice" role="status">
          {notice}{' '}
          {notice.includes('blocked') && <a href={`/runs?instrument_id=${instrument.id}&status=BLOCKED`}>See the blocked runs</a>}
        </p>
      )}
      <PagedTable<Calibration>
        path="/api/v1/calibrations"
        query={{ instrument_id: instrument.id }}
        label="Calibration history"
        refresh={refresh}
        empty={<p>No calibration on record.</p>}
        columns={[
          { label: 'Certificate', cell: (c) => <code>{c.certificate_number}</code> },
          { label: 'Status', cell: (c) => <StatusBadge status={effective(c)} /> },
          { label: 'Calibrated', cell: (c) => day(c.calibrated_at) },
          { label: 'Expires', cell: (c) => day(c.expires_at) },
          { label: 'Provider', cell: (c) => c.provider ?? '—' },
          {
            label: 'Ended',
            cell: (c) =>
              c.revoked_at || c.expired_at ? (
                <>
                  {when(c.revoked_at ?? c.expired_at)}
                  {c.reason && <div class="muted small">{c.reason}</div>}
                </>
              ) : (
                '—'
              ),
          },
          ...(admin
            ? [
                {
                  label: 'Actions',
                  cell: (c: Calibration) => (
                    <div class="actions">
                      {(c.status === 'VALID' || c.status === 'PENDING') && (
                        <ActionButton label={`Expire ${c.certificate_number}`} action={end(c, 'expire')} done={changed} />
                      )}
                      {c.status !== 'REVOKED' && (
                        <ActionButton
                          label={`Revoke ${c.certificate_number}`}
                          class="danger"
                          action={end(c, 'revoke')}
                          done={changed}
                        />
                      )}
                      {c.status === 'REVOKED' && <span class="muted">—</span>}
                    </div>
                  ),
                },
              ]
            : []),
        ]}
      />
    </>
  );
}

function InstrumentDetail({ id }: { id: string }) {
  const loaded = useApi<Instrument>(`/api/v1/instruments/${id}`);
  const [refresh, again] = useRefresh(loaded);
  return (
    <Show loaded={loaded}>
      {(i) => (
        <>
          <PageHeader title={i.name}>
            <a class="button" href={`/runs?instrument_id=${i.id}`}>
              Runs on this instrument
            </a>
            <Can role="engineer">
              <a class="button primary" href={`/runs/new?instrument_id=${i.id}`}>
                New run
              </a>
            </Can>
          </PageHeader>
          <div class="two">
            <Panel title="Instrument">
              <Facts
                rows={[
                  ['Vendor', i.vendor],
                  ['Model', i.model],
                  ['Serial number', <code>{i.serial_number}</code>],
                  ['Location', i.location ?? '—'],
                  ['Status', <StatusBadge status={i.status} />],
                  ['Calibration interval', i.calibration_interval_days ? `${i.calibration_interval_days} days` : '—'],
                  ['Created', when(i.created_at)],
                ]}
              />
            </Panel>
            <Panel title="Calibration">
              <Facts
                rows={[
                  ['State', <CalibrationBadge calibration={i.calibration} />],
                  ['Usable', i.calibration?.is_valid ? 'Yes: runs may start' : 'No: new runs are blocked'],
                  ['Detail', i.calibration?.reason ?? 'no calibration on record'],
                  ['Expires', when(i.calibration?.expires_at)],
                ]}
              />
            </Panel>
          </div>
          <Panel title="Calibration history">
            <CalibrationHistory instrument={i} refresh={refresh} changed={again} />
            <Can role="engineer">
              <h3>Record a certificate</h3>
              <CalibrationForm instrument={i} done={again} />
            </Can>
          </Panel>
          <Panel title="Import profiles">
            <p class="muted small">How this instrument's files become a run's results when they are imported on the run's page.</p>
            <ProfileTable query={{ instrument_id: i.id }} empty={<p>No import profile reads this instrument's files.</p>} />
            <Can role="engineer">
              <p>
                <a href={`/instruments/import-profiles/new?instrument_id=${i.id}`}>New import profile for {i.name}</a>
              </p>
            </Can>
          </Panel>
        </>
      )}
    </Show>
  );
}

export const routes = [
  { path: '/instruments', page: InstrumentList },
  { path: '/instruments/new', page: NewInstrument, role: 'engineer' as const },
  { path: '/instruments/:id', page: InstrumentDetail },
];
