// Instrument data: import profiles (how one instrument's CSV or TSV files become results), and a run's
// "Instrument data" tab: a file imported through a profile (its results and their judgements; the same
// file again is the first import, nothing added; a file the profile cannot read names its lines and
// columns), the files imported (each stored as an attachment), the wafer map the server draws of one
// metric (with its summary, and another run's map of the same metric beside it), and the die bin map,
// drawn here from its dies, with its bins, its yield and its SEMI G85 file.
//
// The profiles' list sits under the instruments' tabs (instruments.tsx: InstrumentTabs, ProfileTable);
// the run's tab beside the run's page (runs.tsx: RunTabs).
import './instrument_data.css';
import { useEffect, useId, useState } from 'preact/hooks';
import { api, blobUrl, call, type Page, type Problem } from '../api';
import { navigate, setQuery, useLocation } from '../router';
import {
  asProblem, Badge, Can, compact, day, DownloadButton, Facts, Field, FieldFrame, FilterBar, FilterSelect, FormFooter, NameLink,
  PagedTable, PageHeader, Panel, ProblemView, SearchField, SelectField, Show, short, StatusBadge, Table, toNumber, useApi,
  useFieldState, useFilters, useForm, useLoad, useNames, useRefresh, when, type Column, type Tone,
} from '../ui';
import {
  InstrumentTabs, ProfileTable, profileMetric, profileUnit, useInstruments, type ImportProfile, type Instrument,
} from './instruments';
import { RunTabs, TAKES_RESULTS, type Run } from './runs';
import { EvaluationBadge } from './quality';

// ==== import profiles ==========================================================================

const FORMATS: [string, string][] = [
  ['csv', 'CSV (comma-separated)'],
  ['tsv', 'TSV (tab-separated)'],
];

// The columns a profile maps: the form's label for each one's header name, and what it gives a result.
const COLUMNS = [
  ['value', 'Value column', 'Value'],
  ['metric', 'Metric column', 'Metric'],
  ['unit', 'Unit column', 'Unit'],
  ['x_mm', 'X column (mm)', 'x, mm from the wafer centre'],
  ['y_mm', 'Y column (mm)', 'y, mm from the wafer centre'],
  ['die_x', 'Die column (x)', 'Die column'],
  ['die_y', 'Die row (y)', 'Die row'],
  ['site', 'Site column', 'Site name'],
] as const;
type ColumnKey = (typeof COLUMNS)[number][0];
const COLUMN_HINTS: Partial<Record<ColumnKey, string>> = {
  value: 'Required: the column of the values',
  metric: 'Or name one metric per file below',
  unit: 'Else the unit below',
  x_mm: 'From the wafer centre; with Y',
  die_x: 'An integer; with the die row',
};

function ProfileList() {
  const filters = useFilters(['q', 'instrument_id']);
  const instruments = useInstruments();
  const { instrument_id } = filters.values;
  const newHref = `/instruments/import-profiles/new${instrument_id ? `?instrument_id=${instrument_id}` : ''}`;
  return (
    <>
      <PageHeader title="Import profiles">
        <Can role="engineer">
          <a class="button primary" href={newHref}>
            New import profile
          </a>
        </Can>
      </PageHeader>
      <InstrumentTabs />
      <p class="muted small">
        An import profile says how one instrument's CSV or TSV files become a run's results: the header names of the values, the
        metric, the unit and the positions on the wafer. Files are imported on a run's Instrument data tab.
      </p>
      <FilterBar label="Filter import profiles" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Part of the name" />
        <FilterSelect filters={filters} name="instrument_id" label="Instrument" options={instruments.options(instrument_id)} />
      </FilterBar>
      <ProfileTable
        query={filters.values}
        instruments={instruments}
        empty={
          <>
            <p>No import profiles match.</p>
            <Can role="engineer">
              <a href={newHref}>Write an import profile</a>
            </Can>
          </>
        }
      />
    </>
  );
}

// The header line a profile expects after the lines it skips (its columns in any order; others are
// not read), as an example of the file.
function expectedHeader(p: ImportProfile): string {
  const names = COLUMNS.map(([k]) => p.columns[k]).filter((n): n is string => !!n);
  return names.join(p.format === 'tsv' ? '\t' : ',');
}

function ProfileDetail({ id }: { id: string }) {
  const loaded = useApi<ImportProfile>(`/api/v1/import-profiles/${id}`);
  return (
    <Show loaded={loaded}>
      {(p) => (
        <>
          <PageHeader title={p.name}>
            <Can role="engineer">
              <a class="button" href={`/instruments/import-profiles/${p.id}/edit`}>
                Edit
              </a>
            </Can>
          </PageHeader>
          <InstrumentTabs />
          <div class="two">
            <Panel title="Import profile">
              <Facts
                rows={[
                  ['Instrument', <NameLink<Instrument> id={p.instrument_id} href="/instruments" path="/api/v1/instruments" />],
                  ['Format', FORMATS.find(([f]) => f === p.format)?.[1] ?? p.format],
                  ['Lines before the header', String(p.skip_lines)],
                  ['Metric', profileMetric(p)],
                  ['Unit', profileUnit(p)],
                  ['Unit scale', p.unit_scale === 1 ? '1 (values as written)' : `× ${p.unit_scale}`],
                  ['Decimal comma', p.decimal_comma ? 'Yes (1,5)' : 'No (1.5)'],
                  ['Updated', when(p.updated_at)],
                ]}
              />
            </Panel>
            <Panel title="Columns read">
              <Table
                label="Columns read"
                rows={COLUMNS.filter(([k]) => p.columns[k])}
                rowKey={([k]) => k}
                columns={[
                  { label: 'Gives', cell: ([, , gives]) => gives },
                  { label: 'Header name', cell: ([k]) => <code>{p.columns[k]}</code> },
                ]}
              />
              <h3>The file it reads</h3>
              <p class="muted small">
                {p.skip_lines > 0 ? `${p.skip_lines} ${p.skip_lines === 1 ? 'line' : 'lines'} skipped, then ` : ''}a header line
                naming these columns (in any order; other columns are not read), then one result per line:
              </p>
              <pre>{expectedHeader(p)}</pre>
            </Panel>
          </div>
        </>
      )}
    </Show>
  );
}

interface ProfileValues {
  name: string;
  instrument_id: string;
  format: string;
  skip_lines: string;
  metric: string;
  unit: string;
  unit_scale: string;
  decimal_comma: boolean;
  // The header names, by the column's key (col_value, col_x_mm, …).
  [column: `col_${string}`]: string;
}

function ProfileForm({ profile, instrumentId }: { profile?: ImportProfile; instrumentId?: string }) {
  const instruments = useInstruments();
  const initial: ProfileValues = {
    name: profile?.name ?? '',
    instrument_id: profile?.instrument_id ?? instrumentId ?? '',
    format: profile?.format ?? 'csv',
    skip_lines: String(profile?.skip_lines ?? 0),
    metric: profile?.metric ?? '',
    unit: profile?.unit ?? '',
    unit_scale: String(profile?.unit_scale ?? 1),
    decimal_comma: profile?.decimal_comma ?? false,
  };
  for (const [k] of COLUMNS) initial[`col_${k}`] = profile?.columns[k] ?? '';
  const form = useForm<ProfileValues>(initial);
  const save = form.submit(async (v) => {
    // The server judges the mapping as a whole (a value column, a metric column or one metric per
    // file, x with y): its 422 names `columns.value` and the like, shown beside each field.
    const columns: Record<string, string> = {};
    for (const [k] of COLUMNS) {
      const header = v[`col_${k}`].trim();
      if (header) columns[k] = header;
    }
    const mapping = {
      instrument_id: v.instrument_id,
      format: v.format,
      skip_lines: toNumber(v.skip_lines),
      columns,
      unit_scale: toNumber(v.unit_scale),
      decimal_comma: v.decimal_comma,
    };
    if (profile) {
      // A change replaces the columns as a whole; a metric or unit cleared is null.
      const change = { ...compact(mapping), columns, name: v.name.trim(), metric: v.metric.trim() || null, unit: v.unit.trim() || null };
      await api<ImportProfile>(`/api/v1/import-profiles/${profile.id}`, { method: 'PATCH', body: change });
      navigate(`/instruments/import-profiles/${profile.id}`);
    } else {
      const body = { ...compact({ ...mapping, name: v.name.trim(), metric: v.metric.trim(), unit: v.unit.trim() }), columns };
      const saved = await api<ImportProfile>('/api/v1/import-profiles', { method: 'POST', body });
      navigate(`/instruments/import-profiles/${saved.id}`);
    }
  });
  return (
    <form onSubmit={save} class="panel" aria-label={profile ? 'Edit import profile' : 'New import profile'} noValidate>
      <div class="grid">
        <Field form={form} name="name" label="Name" required />
        <SelectField
          form={form}
          name="instrument_id"
          label="Instrument"
          blank="Choose an instrument"
          options={instruments.options(form.values.instrument_id)}
        />
        <SelectField form={form} name="format" label="Format" options={FORMATS} />
        <Field
          form={form}
          name="skip_lines"
          label="Lines before the header"
          type="number"
          min={0}
          max={1000}
          step={1}
          inputMode="numeric"
          hint="Skipped unread (an instrument's preamble)"
        />
      </div>
      <fieldset class="group">
        <legend>Column header names</legend>
        <p class="muted small">As the file's header line writes them; leave blank what the file does not have.</p>
        <div class="grid">
          {COLUMNS.map(([k, label]) => (
            <Field key={k} form={form} name={`col_${k}`} field={`columns.${k}`} label={label} hint={COLUMN_HINTS[k]} autocomplete="off" />
          ))}
        </div>
      </fieldset>
      <div class="grid">
        <Field form={form} name="metric" label="Metric (one per file)" hint="Every line's metric, when there is no metric column" />
        <Field form={form} name="unit" label="Unit" hint="When no unit column gives one, e.g. ohm/sq" />
        <Field
          form={form}
          name="unit_scale"
          label="Unit scale"
          type="number"
          step="any"
          inputMode="decimal"
          hint="A factor applied to every value (1: as written)"
        />
        <Field form={form} name="decimal_comma" label="Decimal comma (1,5; TSV files only)" type="checkbox" />
      </div>
      <FormFooter form={form} submit={profile ? 'Save import profile' : 'Create import profile'} onCancel={() => history.back()} />
    </form>
  );
}

function NewProfile() {
  const { query } = useLocation();
  return (
    <>
      <PageHeader title="New import profile" />
      <ProfileForm instrumentId={query.get('instrument_id') ?? undefined} />
    </>
  );
}

function EditProfile({ id }: { id: string }) {
  const loaded = useApi<ImportProfile>(`/api/v1/import-profiles/${id}`);
  return (
    <>
      <PageHeader title="Edit import profile" />
      <Show loaded={loaded}>{(p) => <ProfileForm profile={p} />}</Show>
    </>
  );
}

// ==== a run's instrument data ==================================================================

// A file imported into a run, as POST …/import and GET …/imports answer it.
interface RunImport {
  id: string;
  import_id: string;
  run_id: string;
  profile_id: string;
  attachment_id: string;
  sha256: string;
  filename: string;
  size_bytes: number;
  results: number;
  evaluations: Partial<Record<string, number>>;
  created_at: string;
}

// How many results were judged each way (pass, warn, fail, below LOD), and how many were not judged.
function EvaluationCounts({ counts }: { counts: Partial<Record<string, number>> }) {
  const judged = ['pass', 'warn', 'fail', 'below_lod'].filter((k) => counts[k]);
  return (
    <span class="counts">
      {judged.map((k) => (
        <span key={k}>
          <EvaluationBadge evaluation={k} /> {counts[k]}
        </span>
      ))}
      {counts.none ? <span class="muted">{counts.none} not judged</span> : null}
      {judged.length === 0 && !counts.none && <span class="muted">—</span>}
    </span>
  );
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// A number as the maps' summaries show it: five significant digits.
function fmt(v: number | null | undefined, digits = 5): string {
  return v === null || v === undefined ? '—' : String(Number(v.toPrecision(digits)));
}

type Profiles = ReturnType<typeof useNames<ImportProfile>>;

interface ImportValues {
  profile_id: string;
  file: File | null;
}

// A file through one of the run's instrument's profiles: the created import's results, the first
// import when the same file was imported already (nothing added), or what the profile could not read.
function ImportForm({ run, profiles, done }: { run: Run; profiles: Profiles; done: () => void }) {
  const form = useForm<ImportValues>({ profile_id: '', file: null });
  const hint = 'The CSV or TSV file as the instrument wrote it';
  const file = useFieldState(form, 'file', undefined, hint);
  const [outcome, setOutcome] = useState<{ imported: RunImport; again: boolean } | null>(null);
  const items = profiles.loaded.data?.items;
  if (items && items.length === 0)
    return (
      <p class="muted">
        No import profile reads this instrument's files.{' '}
        <Can role="engineer">
          <a href={`/instruments/import-profiles/new?instrument_id=${run.instrument_id}`}>Write one</a>
        </Can>
      </p>
    );
  return (
    <form
      aria-label="Import a file"
      noValidate
      onSubmit={form.submit(async (v) => {
        setOutcome(null);
        // A profile or a file not chosen is the server's 422, beside its field.
        const body = new FormData();
        body.append('profile_id', v.profile_id);
        if (v.file) body.append('file', v.file, v.file.name);
        const res = await call(`/api/v1/runs/${run.id}/import`, { method: 'POST', body });
        setOutcome({ imported: (await res.json()) as RunImport, again: res.status === 200 });
        done();
      })}
    >
      <div class="grid">
        <SelectField
          form={form}
          name="profile_id"
          label="Import profile"
          blank="Choose a profile"
          options={profiles.options(form.values.profile_id)}
        />
        <FieldFrame id={file.id} label="File" message={file.message} hint={hint}>
          <input
            type="file"
            accept=".csv,.tsv,.txt,text/csv,text/tab-separated-values,text/plain"
            onChange={(e) => form.set('file', e.currentTarget.files?.[0] ?? null)}
            {...file.aria}
          />
        </FieldFrame>
      </div>
      <div role="status">
        {outcome &&
          (outcome.again ? (
            <p class="notice">
              <strong>Already imported:</strong> {outcome.imported.filename} was imported into this run on{' '}
              {when(outcome.imported.created_at)} ({outcome.imported.results} results). Nothing was added.
            </p>
          ) : (
            <p class="notice">
              <strong>Imported {outcome.imported.filename}:</strong> {outcome.imported.results}{' '}
              {outcome.imported.results === 1 ? 'result' : 'results'} recorded.{' '}
              <EvaluationCounts counts={outcome.imported.evaluations} />
            </p>
          ))}
      </div>
      <FormFooter form={form} submit="Import file" />
    </form>
  );
}

function ImportTable({ run, profiles, refresh }: { run: Run; profiles: Profiles; refresh: number }) {
  return (
    <PagedTable<RunImport>
      path={`/api/v1/runs/${run.id}/imports`}
      label="Imported files"
      refresh={refresh}
      empty={<p>No file has been imported into this run.</p>}
      columns={[
        {
          label: 'File',
          cell: (i) => (
            <>
              {i.filename} <span class="muted small">({bytes(i.size_bytes)})</span>
            </>
          ),
        },
        { label: 'Profile', cell: (i) => <a href={`/instruments/import-profiles/${i.profile_id}`}>{profiles.name(i.profile_id)}</a> },
        { label: 'Results', cell: (i) => String(i.results), class: 'num' },
        { label: 'Evaluations', cell: (i) => <EvaluationCounts counts={i.evaluations} /> },
        { label: 'Imported', cell: (i) => when(i.created_at) },
        { label: 'SHA-256', cell: (i) => <code title={i.sha256}>{i.sha256.slice(0, 12)}</code> },
        {
          label: 'Content',
          cell: (i) => (
            <DownloadButton
              label={`Download ${i.filename}`}
              path={`/api/v1/attachments/${i.attachment_id}/content`}
              filename={i.filename}
            />
          ),
        },
      ]}
    />
  );
}

// ---- wafer maps --------------------------------------------------------------------------------

interface Summary {
  n: number;
  mean: number | null;
  stdev: number | null;
  min: number | null;
  max: number | null;
  range: number | null;
  uniformity_pct: number | null;
}
interface WaferMap {
  run_id: string;
  metric: string | null;
  unit: string | null;
  diameter_mm: number | null;
  metrics: string[]; // the run's metrics that have positions
  summary: Summary;
  points: { x_mm: number; y_mm: number; value: number; evaluation: string }[];
}

// One run's map as the server draws it (SVG, fetched with the session's token and shown from a blob:
// URL in an <img>, where no script of it could run), or why there is none.
function WaferFigure({ runId, map, caption }: { runId: string; map: WaferMap; caption: string }) {
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const drawn = map.summary.n > 0 && map.metric !== null;
  useEffect(() => {
    if (!drawn) return;
    let url: string | null = null;
    let live = true;
    setProblem(null);
    blobUrl(`/api/v1/runs/${runId}/wafer-map`, { query: { metric: map.metric, format: 'svg' } })
      .then((u) => {
        url = u;
        if (live) setSrc(u);
        else URL.revokeObjectURL(u);
      })
      .catch((e) => live && setProblem(asProblem(e)));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [runId, map]);
  const s = map.summary;
  const unit = map.unit ? ` ${map.unit}` : '';
  const alt =
    `Wafer map of ${map.metric} in run ${short(runId)}: ${s.n} sites, mean ${fmt(s.mean)}${unit}, ` +
    `from ${fmt(s.min)} to ${fmt(s.max)}${unit}, uniformity ${fmt(s.uniformity_pct, 3)} %`;
  return (
    <figure class="wafer-figure">
      {!drawn ? (
        <p class="empty">
          No result of {map.metric ?? 'any metric'} with a position on the wafer in run {short(runId)}.
        </p>
      ) : (
        <>
          <ProblemView problem={problem} />
          {src ? (
            <img
              class="wafer-map"
              src={src}
              width={640}
              height={560}
              alt={alt}
            />
          ) : (
            !problem && (
              <p class="muted" aria-busy="true">
                Drawing the map…
              </p>
            )
          )}
        </>
      )}
      <figcaption>{caption}</figcaption>
    </figure>
  );
}

// The maps' statistics side by side: a column per map.
function SummaryTable({ maps }: { maps: [string, WaferMap][] }) {
  const unit = maps[0][1].unit ? ` (${maps[0][1].unit})` : '';
  const rows: [string, (s: Summary) => string][] = [
    ['Sites', (s) => String(s.n)],
    [`Mean${unit}`, (s) => fmt(s.mean)],
    [`Standard deviation${unit}`, (s) => fmt(s.stdev)],
    [`Minimum${unit}`, (s) => fmt(s.min)],
    [`Maximum${unit}`, (s) => fmt(s.max)],
    [`Range${unit}`, (s) => fmt(s.range)],
    ['Uniformity (σ / mean)', (s) => (s.uniformity_pct === null ? '—' : `${s.uniformity_pct.toFixed(2)} %`)],
  ];
  type Row = (typeof rows)[number];
  const columns: Column<Row>[] = [
    { label: 'Statistic', cell: ([label]) => label },
    ...maps.map(([caption, m]) => ({ label: caption, class: 'num', cell: ([, value]: Row) => value(m.summary) })),
  ];
  return <Table label="Wafer map summary" rows={rows} rowKey={([label]) => label} columns={columns} />;
}

// The runs a map is compared with: the run's sample's and its instrument's other runs, newest first.
function useComparable(run: Run) {
  return useLoad(async () => {
    const [bySample, byInstrument] = await Promise.all([
      api<Page<Run>>('/api/v1/runs', { query: { sample_id: run.sample_id, limit: 100 } }),
      api<Page<Run>>('/api/v1/runs', { query: { instrument_id: run.instrument_id, limit: 100 } }),
    ]);
    const seen = new Map<string, { run: Run; why: string[] }>();
    for (const [page, why] of [
      [bySample, 'same sample'],
      [byInstrument, 'same instrument'],
    ] as const)
      for (const r of page.items) {
        if (r.id === run.id) continue;
        const e = seen.get(r.id) ?? { run: r, why: [] };
        e.why.push(why);
        seen.set(r.id, e);
      }
    return [...seen.values()].sort((a, b) => b.run.created_at.localeCompare(a.run.created_at));
  }, [run.id]);
}

function WaferMaps({ run, refresh }: { run: Run; refresh: number }) {
  const { query } = useLocation();
  const metric = query.get('metric') ?? undefined;
  const compare = query.get('compare') ?? undefined;
  const map = useLoad(() => api<WaferMap>(`/api/v1/runs/${run.id}/wafer-map`, { query: { metric } }), [run.id, metric, refresh]);
  const shown = map.data?.metric ?? undefined;
  const other = useLoad(
    compare && shown ? () => api<WaferMap>(`/api/v1/runs/${compare}/wafer-map`, { query: { metric: shown } }) : null,
    [compare, shown, refresh],
  );
  const comparable = useComparable(run);
  const metricId = useId();
  const compareId = useId();
  return (
    <Show loaded={map}>
      {(m) =>
        m.metrics.length === 0 ? (
          <p class="muted">
            No result of this run has a position on the wafer. Import a file whose profile reads X and Y, and its map is drawn here.
          </p>
        ) : (
          <>
            <div class="filters">
              <div class="field">
                <label for={metricId}>Metric</label>
                <select id={metricId} value={m.metric ?? ''} onChange={(e) => setQuery({ metric: e.currentTarget.value })}>
                  {[...new Set([...m.metrics, ...(m.metric ? [m.metric] : [])])].map((x) => (
                    <option value={x}>{x}</option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label for={compareId}>Compare with run</label>
                <select id={compareId} value={compare ?? ''} onChange={(e) => setQuery({ compare: e.currentTarget.value })}>
                  <option value="">No comparison</option>
                  {(comparable.data ?? []).map(({ run: r, why }) => (
                    <option value={r.id}>
                      {short(r.id)} · {r.note ?? r.kind} · {day(r.created_at)} ({why.join(', ')})
                    </option>
                  ))}
                  {compare && comparable.data && !comparable.data.some((c) => c.run.id === compare) && (
                    <option value={compare}>{short(compare)}</option>
                  )}
                </select>
              </div>
            </div>
            <ProblemView problem={comparable.problem} />
            <div class={compare ? 'two wafer-maps' : 'wafer-maps'}>
              <WaferFigure runId={run.id} map={m} caption={`This run (${short(run.id)})`} />
              {compare && (
                <Show loaded={other}>
                  {(o) => (
                    <WaferFigure
                      runId={compare}
                      map={o}
                      caption={`Run ${short(compare)}`}
                    />
                  )}
                </Show>
              )}
            </div>
            {compare && <p class="small"><a href={`/runs/${compare}/data`}>Open run {short(compare)}</a></p>}
            <SummaryTable
              maps={[
                [`This run (${short(run.id)})`, m],
                ...(compare && other.data ? [[`Run ${short(compare)}`, other.data] as [string, WaferMap]] : []),
              ]}
            />
          </>
        )
      }
    </Show>
  );
}

// ---- bin maps ----------------------------------------------------------------------------------

interface Bin {
  code: string;
  count: number;
  quality: string; // "Pass", "Fail", … as the G85 file says
  description: string;
}
interface BinMap {
  id: string;
  run_id: string;
  wafer_id: string | null;
  lot_id: string | null;
  product_id: string | null;
  bin_type: string;
  null_bin: string;
  rows: number;
  columns: number;
  bins: Bin[];
  tested: number;
  passed: number;
  yield: { tested: number; pass: number; yield_pct: number | null };
  dies: (string | null)[][]; // rows of bin codes from the map's first row; null: no die
  created_at: string;
}

// Pass bins in greens, the others in warm colours (each bin its own, in the file's order); the legend
// names each colour's bin, so colour is never the only clue.
const PASS_COLOURS = ['#15803d', '#4ade80', '#166534', '#86efac', '#22c55e', '#bbf7d0'];
const FAIL_COLOURS = ['#dc2626', '#f97316', '#facc15', '#9f1239', '#fb923c', '#b45309', '#f43f5e', '#fde047'];
const passes = (b: Bin) => b.quality.toLowerCase() === 'pass';

function binColours(bins: Bin[]): Map<string, string> {
  const colours = new Map<string, string>();
  let p = 0;
  let f = 0;
  for (const b of bins)
    colours.set(b.code, passes(b) ? PASS_COLOURS[p++ % PASS_COLOURS.length] : FAIL_COLOURS[f++ % FAIL_COLOURS.length]);
  return colours;
}

// Each die's tooltip names it; past this many dies they are left out (the map stays quick to draw).
const MAX_DIE_TITLES = 5000;

function BinMapView({ run, map }: { run: Run; map: BinMap }) {
  const colours = binColours(map.bins);
  const byCode = new Map(map.bins.map((b) => [b.code, b]));
  const pct = map.yield.yield_pct;
  const titled = map.yield.tested <= MAX_DIE_TITLES;
  const described = `Bin map, ${map.rows} rows by ${map.columns} columns: ${map.yield.tested} dies, ${map.yield.pass} pass` +
    (pct === null ? '' : `, yield ${pct.toFixed(1)} %`);
  const qualityTone = (b: Bin): Tone => (passes(b) ? 'ok' : b.quality.toLowerCase() === 'fail' ? 'bad' : 'neutral');
  return (
    <div class="bin-map-layout">
      <svg class="bin-map" viewBox={`0 0 ${map.columns} ${map.rows}`} role="img" aria-label={described}>
        {map.dies.map((row, r) =>
          row.map((code, c) => {
            if (code === null) return null;
            const bin = byCode.get(code);
            return (
              <rect key={`${r}.${c}`} class="die" x={c} y={r} width={1} height={1} fill={colours.get(code) ?? '#9ca3af'}>
                {titled && (
                  <title>
                    Row {r + 1}, column {c + 1}: bin {code}
                    {bin ? ` (${bin.quality}: ${bin.description})` : ''}
                  </title>
                )}
              </rect>
            );
          }),
        )}
      </svg>
      <div>
        <div class="figures">
          <div>
            <span class="figure-label">Yield</span>
            <strong>{pct === null ? '—' : `${pct.toFixed(1)} %`}</strong>
          </div>
          <div>
            <span class="figure-label">Dies passing</span>
            <strong>
              {map.yield.pass} of {map.yield.tested}
            </strong>
          </div>
        </div>
        <Table<Bin>
          label="Bins"
          rows={map.bins}
          rowKey={(b) => b.code}
          columns={[
            {
              label: 'Colour',
              cell: (b) => (
                <svg class="swatch" viewBox="0 0 1 1" aria-hidden="true">
                  <rect width={1} height={1} fill={colours.get(b.code)} />
                </svg>
              ),
            },
            { label: 'Bin', cell: (b) => <code>{b.code}</code> },
            { label: 'Quality', cell: (b) => <Badge tone={qualityTone(b)}>{b.quality || '—'}</Badge> },
            { label: 'Description', cell: (b) => b.description || '—' },
            { label: 'Dies', cell: (b) => String(b.count), class: 'num' },
            {
              label: 'Share',
              cell: (b) => (map.yield.tested ? `${((100 * b.count) / map.yield.tested).toFixed(1)} %` : '—'),
              class: 'num',
            },
          ]}
        />
        <Facts
          class="spaced"
          rows={[
            ['Wafer', map.wafer_id ?? '—'],
            ['Lot', map.lot_id ?? '—'],
            ['Product', map.product_id ?? '—'],
            ['Grid', `${map.rows} rows × ${map.columns} columns (bin codes ${map.bin_type}, no die: ${map.null_bin})`],
            ['Stored', when(map.created_at)],
          ]}
        />
        <div class="actions">
          <DownloadButton
            label="Download G85"
            path={`/api/v1/runs/${run.id}/bin-map`}
            filename={`bin-map-${short(run.id)}.xml`}
            opts={{ query: { format: 'g85' } }}
          />
        </div>
      </div>
    </div>
  );
}

// A SEMI G85 file sent as it is; the server reads it strictly and names what it cannot read.
function BinMapUpload({ run, done }: { run: Run; done: () => void }) {
  const form = useForm<{ file: File | null }>({ file: null });
  const hint = 'A SEMI G85 XML wafer map';
  const file = useFieldState(form, 'file', undefined, hint);
  return (
    <form
      aria-label="Store a bin map"
      noValidate
      onSubmit={form.submit(async (v) => {
        const xml = v.file ? await v.file.text() : '';
        await api<BinMap>(`/api/v1/runs/${run.id}/bin-map`, { method: 'POST', body: xml, contentType: 'application/xml' });
        done();
      })}
    >
      <FieldFrame id={file.id} label="G85 file" message={file.message} hint={hint}>
        <input
          type="file"
          accept=".xml,application/xml,text/xml"
          onChange={(e) => form.set('file', e.currentTarget.files?.[0] ?? null)}
          {...file.aria}
        />
      </FieldFrame>
      <FormFooter form={form} submit="Store bin map" />
    </form>
  );
}

function BinMapSection({ run }: { run: Run }) {
  const [n, setN] = useState(0);
  // No map is an answer here (404 "The run has no bin map"), not a problem.
  const map = useLoad(
    () =>
      api<BinMap>(`/api/v1/runs/${run.id}/bin-map`).catch((e) => {
        const p = asProblem(e);
        if (p.status === 404) return null;
        throw p;
      }),
    [run.id, n],
  );
  return (
    <Show loaded={map}>
      {(m) =>
        m ? (
          <BinMapView run={run} map={m} />
        ) : (
          <>
            <p class="muted">This run has no bin map.</p>
            <Can role="technician">
              {TAKES_RESULTS.has(run.status) ? (
                <BinMapUpload run={run} done={() => setN((x) => x + 1)} />
              ) : (
                <p class="muted">A bin map is stored while the run is RUNNING or COMPLETED; this run is {run.status}.</p>
              )}
            </Can>
          </>
        )
      }
    </Show>
  );
}

// ---- the tab -----------------------------------------------------------------------------------

function RunData({ id }: { id: string }) {
  const loaded = useApi<Run>(`/api/v1/runs/${id}`);
  return <Show loaded={loaded}>{(r) => <RunDataTab r={r} />}</Show>;
}

function RunDataTab({ r }: { r: Run }) {
  const profiles = useNames<ImportProfile>(`/api/v1/import-profiles?instrument_id=${r.instrument_id}`);
  const [refresh, again] = useRefresh();
  return (
    <>
      <PageHeader title={`Run ${short(r.id)} · instrument data`} />
      <RunTabs id={r.id} />
      <p class="muted">
        <StatusBadge status={r.status} /> on{' '}
        <NameLink id={r.instrument_id} href="/instruments" path="/api/v1/instruments" />, sample{' '}
        <NameLink id={r.sample_id} href="/samples" path="/api/samples" />
        {r.note && <> · {r.note}</>}
      </p>
      <Can role="technician">
        <Panel title="Import a file">
          {TAKES_RESULTS.has(r.status) ? (
            <ImportForm run={r} profiles={profiles} done={again} />
          ) : (
            <p class="muted">Files are imported while the run is RUNNING or COMPLETED; this run is {r.status}.</p>
          )}
        </Panel>
      </Can>
      <Panel title="Imported files">
        <ImportTable run={r} profiles={profiles} refresh={refresh} />
      </Panel>
      <Panel title="Wafer map">
        <WaferMaps run={r} refresh={refresh} />
      </Panel>
      <Panel title="Bin map">
        <BinMapSection run={r} />
      </Panel>
    </>
  );
}

// Listed before the instruments' own routes: /instruments/import-profiles is not an instrument's id.
export const routes = [
  { path: '/instruments/import-profiles', page: ProfileList },
  { path: '/instruments/import-profiles/new', page: NewProfile, role: 'engineer' as const },
  { path: '/instruments/import-profiles/:id', page: ProfileDetail },
  { path: '/instruments/import-profiles/:id/edit', page: EditProfile, role: 'engineer' as const },
  { path: '/runs/:id/data', page: RunData },
];
