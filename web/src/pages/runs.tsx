// Runs: the list (filters kept in the address), create (the server decides QUEUED or BLOCKED by the
// instrument's calibration), and the detail page with its state changes, unblock, results (each judged
// against the specification the run bound when it was created) and the nonconformances they opened.
// The run's instrument data (imported files, wafer and bin maps) is its other tab, instrument_data.tsx.
import { useState } from 'preact/hooks';
import { api, Problem } from '../api';
import { navigate, useLocation } from '../router';
import {
  ActionButton, asProblem, Can, ClearFilters, Facts, Field, FilterBar, FilterSelect, FormFooter, IdLink, NameLink, PagedTable,
  PageHeader, Panel, parseObject, ProblemView, SelectField, Show, StatusBadge, TextArea, compact, short, toNumber, useApi, useFilters,
  Tabs, useForm, useNames, useRefresh, when,
} from '../ui';
import { useSamples, withBarcode } from '../lab';
import { CalibrationBadge, useInstruments } from './instruments';
import type { Recipe, Sop } from './recipes';
import { EvaluationBadge, NonconformanceTable, type Specification } from './quality';

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'BLOCKED'];
const RUN_KINDS = ['measurement', 'calibration'];

export interface Run {
  id: string;
  instrument_id: string;
  sample_id: string;
  recipe_id: string | null;
  sop_id: string | null;
  kind: string;
  status: string;
  blocked_reason: string | null;
  calibration_exempt: boolean;
  parameters: Record<string, unknown>;
  note: string | null;
  specification_version_id: string | null; // the EFFECTIVE specification that applied at its creation
  created_by: string;
  started_at: string | null;
  completed_at: string | null;
  blocked_at: string | null;
  created_at: string;
  updated_at: string;
  extra_metadata: Record<string, unknown>;
}

export interface RunResult {
  id: string;
  run_id: string;
  metric: string;
  value: number;
  unit: string | null;
  data: Record<string, unknown>;
  evaluation: string; // pass | warn | fail | below_lod | none, against the run's specification
  recorded_by: string;
  recorded_at: string;
}

// The state changes PATCH …/status allows from each state (the server's rules: QUEUED → RUNNING →
// COMPLETED | FAILED; QUEUED, RUNNING or BLOCKED → CANCELLED; BLOCKED → QUEUED only by unblock).
const NEXT: Record<string, { status: string; label: string; class?: string }[]> = {
  QUEUED: [
    { status: 'RUNNING', label: 'Start', class: 'primary' },
    { status: 'CANCELLED', label: 'Cancel run' },
  ],
  RUNNING: [
    { status: 'COMPLETED', label: 'Complete', class: 'primary' },
    { status: 'FAILED', label: 'Fail', class: 'danger' },
    { status: 'CANCELLED', label: 'Cancel run' },
  ],
  BLOCKED: [{ status: 'CANCELLED', label: 'Cancel run' }],
};

// Results are recorded while a run is RUNNING or COMPLETED (typed, imported from a file, or a bin map).
export const TAKES_RESULTS = new Set(['RUNNING', 'COMPLETED']);

// A run's pages' tabs, under its heading: the run, and its instrument data.
export function RunTabs({ id }: { id: string }) {
  const { path } = useLocation();
  return (
    <Tabs
      label="Run"
      tabs={[
        [`/runs/${id}`, 'Run'],
        [`/runs/${id}/data`, 'Instrument data'],
      ]}
      current={path}
    />
  );
}

function RunList() {
  const filters = useFilters(['status', 'instrument_id', 'sample_id']);
  const { instrument_id, sample_id } = filters.values;
  const instruments = useInstruments();
  const samples = useSamples();
  const newRun = new URLSearchParams();
  if (instrument_id) newRun.set('instrument_id', instrument_id);
  if (sample_id) newRun.set('sample_id', sample_id);
  const newHref = `/runs/new${newRun.toString() ? `?${newRun}` : ''}`;
  return (
    <>
      <PageHeader title="Runs">
        <Can role="engineer">
          <a class="button primary" href={newHref}>
            New run
          </a>
        </Can>
      </PageHeader>
      <FilterBar label="Filter runs" filters={filters}>
        <FilterSelect filters={filters} name="status" label="Status" options={RUN_STATUSES} />
        <FilterSelect filters={filters} name="instrument_id" label="Instrument" options={instruments.options(instrument_id)} />
        <FilterSelect filters={filters} name="sample_id" label="Sample" options={samples.options(sample_id, withBarcode)} />
        <ClearFilters filters={filters} />
      </FilterBar>
      <PagedTable<Run>
        path="/api/v1/runs"
        query={filters.values}
        label="Runs"
        empty={
          <>
            <p>No runs match.</p>
            <Can role="engineer">
              <a href={newHref}>Create a run</a>
            </Can>
          </>
        }
        columns={[
          { label: 'Run', cell: (r) => <IdLink href="/runs" id={r.id} /> },
          {
            label: 'Status',
            cell: (r) => (
              <>
                <StatusBadge status={r.status} />
                {r.status === 'BLOCKED' && r.blocked_reason && <div class="small">{r.blocked_reason}</div>}
              </>
            ),
          },
          { label: 'Instrument', cell: (r) => <a href={`/instruments/${r.instrument_id}`}>{instruments.name(r.instrument_id)}</a> },
          { label: 'Sample', cell: (r) => <a href={`/samples/${r.sample_id}`}>{samples.name(r.sample_id)}</a> },
          { label: 'Kind', cell: (r) => r.kind },
          { label: 'Created', cell: (r) => when(r.created_at) },
        ]}
      />
    </>
  );
}

interface RunValues {
  instrument_id: string;
  sample_id: string;
  recipe_id: string;
  sop_id: string;
  kind: string;
  parameters: string;
}

function NewRun() {
  const { query } = useLocation();
  const instruments = useInstruments();
  const samples = useSamples();
  const recipes = useNames<Recipe>('/api/recipes?status=APPROVED', (r) => `${r.name} v${r.version}`);
  const sops = useNames<Sop>('/api/sops?status=EFFECTIVE', (s) => `${s.code} ${s.title} v${s.version}`);
  const form = useForm<RunValues>({
    instrument_id: query.get('instrument_id') ?? '',
    sample_id: query.get('sample_id') ?? '',
    recipe_id: query.get('recipe_id') ?? '',
    sop_id: '',
    kind: 'measurement',
    parameters: '',
  });
  const v = form.values;
  const chosen = instruments.get(v.instrument_id);

  const save = form.submit(async (x) => {
    // An instrument or sample not chosen is the server's 422, beside its field.
    const parameters = parseObject(x.parameters, 'parameters');
    const body: Record<string, unknown> = compact({ instrument_id: x.instrument_id, sample_id: x.sample_id, kind: x.kind });
    if (x.recipe_id) body.recipe_id = x.recipe_id;
    if (x.sop_id) body.sop_id = x.sop_id;
    if (parameters) body.parameters = parameters;
    const run = await api<Run>('/api/v1/runs', { method: 'POST', body });
    navigate(`/runs/${run.id}`);
  });

  return (
    <>
      <PageHeader title="New run" />
      <form onSubmit={save} class="panel" aria-label="New run" noValidate>
        <div class="grid">
          <SelectField
            form={form}
            name="instrument_id"
            label="Instrument"
            blank="Choose an instrument"
            options={instruments.options(v.instrument_id)}
          />
          <SelectField form={form} name="sample_id" label="Sample" blank="Choose a sample" options={samples.options(v.sample_id, withBarcode)} />
          <SelectField form={form} name="recipe_id" label="Recipe (approved)" blank="None" options={recipes.options()} />
          <SelectField form={form} name="sop_id" label="SOP" blank="None" options={sops.options()} />
          <SelectField form={form} name="kind" label="Kind" options={RUN_KINDS} />
        </div>
        {chosen && (
          <p class="notice">
            Calibration of {chosen.name}: <CalibrationBadge calibration={chosen.calibration} />{' '}
            {chosen.calibration?.is_valid
              ? ''
              : v.kind === 'calibration'
                ? 'A calibration run is exempt from the lockout.'
                : `The run will be created BLOCKED (${chosen.calibration?.reason ?? 'no calibration on record'}).`}
          </p>
        )}
        <TextArea
          form={form}
          name="parameters"
          label="Parameters (JSON object)"
          rows={4}
          hint={'For example {"wavelength_nm": 633}'}
        />
        <FormFooter form={form} submit="Create run" onCancel={() => history.back()} />
      </form>
    </>
  );
}

function ResultForm({ runId, done }: { runId: string; done: () => void }) {
  const form = useForm({ metric: '', value: '', unit: '' });
  return (
    <form
      onSubmit={form.submit(async (v) => {
        const body: Record<string, unknown> = { metric: v.metric.trim(), value: toNumber(v.value) };
        if (v.unit.trim()) body.unit = v.unit.trim();
        await api<RunResult>(`/api/v1/runs/${runId}/results`, { method: 'POST', body });
        form.reset();
        done();
      })}
      aria-label="Record a result"
      noValidate
    >
      <div class="grid">
        <Field form={form} name="metric" label="Metric" required />
        <Field form={form} name="value" label="Value" type="number" step="any" inputMode="decimal" required />
        <Field form={form} name="unit" label="Unit" />
      </div>
      <FormFooter form={form} submit="Record result" />
    </form>
  );
}

function RunDetail({ id }: { id: string }) {
  const loaded = useApi<Run>(`/api/v1/runs/${id}`);
  const [refresh, again] = useRefresh();
  // A state change the server refused (409: e.g. a start whose instrument is no longer usable, which
  // blocks the run): shown above, after the run is read again.
  const [refused, setRefused] = useState<Problem | null>(null);
  const change = (status: string) => async () => {
    setRefused(null);
    try {
      await api<Run>(`/api/v1/runs/${id}/status`, { method: 'PATCH', body: { status } });
    } catch (e) {
      const p = asProblem(e);
      if (p.status !== 409) throw p;
      setRefused(p);
    }
    loaded.reload();
  };
  return (
    <Show loaded={loaded}>
      {(r) => (
        <>
          <PageHeader title={`Run ${short(r.id)}`}>
            <Can role="technician">
              {(NEXT[r.status] ?? []).map((n) => (
                <ActionButton key={n.status} label={n.label} class={n.class} action={change(n.status)} />
              ))}
            </Can>
          </PageHeader>
          <RunTabs id={r.id} />
          <ProblemView problem={refused} />
          {r.status === 'BLOCKED' && (
            <div class="panel blocked" role="status">
              <p>
                <strong>This run is blocked:</strong> {r.blocked_reason ?? 'no reason recorded'}
              </p>
              {r.blocked_at && <p class="small">Blocked {when(r.blocked_at)}</p>}
              <Can role="engineer">
                <div class="actions">
                  <ActionButton
                    label="Unblock"
                    class="primary"
                    action={() => api<Run>(`/api/v1/runs/${r.id}/unblock`, { method: 'POST', body: {} })}
                    done={() => {
                      setRefused(null);
                      loaded.reload();
                    }}
                  />
                </div>
              </Can>
            </div>
          )}
          <div class="two">
            <Panel title="Run">
              <Facts
                rows={[
                  ['Status', <StatusBadge status={r.status} />],
                  ['Instrument', <NameLink id={r.instrument_id} href="/instruments" path="/api/v1/instruments" />],
                  ['Sample', <NameLink id={r.sample_id} href="/samples" path="/api/samples" />],
                  [
                    'Recipe',
                    r.recipe_id ? (
                      <NameLink<Recipe> id={r.recipe_id} href="/recipes" path="/api/recipes" label={(x) => `${x.name} v${x.version}`} />
                    ) : (
                      '—'
                    ),
                  ],
                  ['SOP', r.sop_id ? <a href={`/sops/${r.sop_id}`}>{short(r.sop_id)}</a> : undefined],
                  [
                    'Specification',
                    r.specification_version_id ? (
                      <NameLink<Specification>
                        id={r.specification_version_id}
                        href="/quality/specifications"
                        path="/api/specifications"
                        label={(x) => `${x.name} v${x.version}`}
                      />
                    ) : (
                      <span class="muted">None applied (results are not judged)</span>
                    ),
                  ],
                  [
                    'Kind',
                    <>
                      {r.kind}
                      {r.calibration_exempt && <span class="muted"> (exempt from the calibration lockout)</span>}
                    </>,
                  ],
                  ['Note', r.note || undefined],
                ]}
              />
            </Panel>
            <Panel title="Times">
              <Facts
                rows={[
                  ['Created', when(r.created_at)],
                  ['Started', when(r.started_at)],
                  ['Completed', when(r.completed_at)],
                  ['Updated', when(r.updated_at)],
                ]}
              />
            </Panel>
          </div>
          <Panel title="Parameters">
            {Object.keys(r.parameters ?? {}).length ? (
              <pre>{JSON.stringify(r.parameters, null, 2)}</pre>
            ) : (
              <p class="muted">No parameters.</p>
            )}
          </Panel>
          <Panel title="Results">
            <PagedTable<RunResult>
              path={`/api/v1/runs/${r.id}/results`}
              label="Results"
              refresh={refresh}
              empty={<p>No results recorded.</p>}
              columns={[
                { label: 'Metric', cell: (x) => x.metric },
                { label: 'Value', cell: (x) => String(x.value), class: 'num' },
                { label: 'Unit', cell: (x) => x.unit ?? '—' },
                { label: 'Evaluation', cell: (x) => <EvaluationBadge evaluation={x.evaluation} /> },
                { label: 'Recorded', cell: (x) => when(x.recorded_at) },
              ]}
            />
            <Can role="technician">
              <h3>Record a result</h3>
              {TAKES_RESULTS.has(r.status) ? (
                <ResultForm runId={r.id} done={again} />
              ) : (
                <p class="muted">Results are recorded while the run is RUNNING or COMPLETED; this run is {r.status}.</p>
              )}
            </Can>
          </Panel>
          <Panel title="Nonconformances">
            <NonconformanceTable
              query={{ run_id: r.id }}
              refresh={refresh}
              empty={<p>No result of this run has failed its specification.</p>}
            />
          </Panel>
          <p>
            <a href={`/runs?instrument_id=${r.instrument_id}`}>Other runs on this instrument</a> ·{' '}
            <a href={`/runs?sample_id=${r.sample_id}`}>Other runs of this sample</a>
          </p>
        </>
      )}
    </Show>
  );
}

export const routes = [
  { path: '/runs', page: RunList },
  { path: '/runs/new', page: NewRun, role: 'engineer' as const },
  { path: '/runs/:id', page: RunDetail },
];
