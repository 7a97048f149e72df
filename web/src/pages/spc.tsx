// Statistical process control: the series (I-MR and X̄-R charts), their control chart with the points
// that break a Nelson rule, capability, the alerts the rules open (acknowledged and resolved by
// engineers), and a point added by hand.
import 'uplot/dist/uPlot.min.css';
import './spc.css';
import uPlot from 'uplot';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { navigate } from '../router';
import {
  ActionButton, Can, compact, Dialog, Facts, Field, FilterBar, FilterSelect, FormFooter, PagedTable, PageHeader, Panel, SearchField,
  SelectField, Show, short, StatusBadge, Table, TextArea, toNumber, useFilters, useForm, useLoad, when,
} from '../ui';
import { useInstruments } from './instruments';

// ---- shapes ---------------------------------------------------------------------------------

export interface Series {
  id: string;
  name: string;
  metric: string;
  unit: string | null;
  chart_type: 'I-MR' | 'XBAR-R';
  subgroup_size: number | null;
  lsl: number | null;
  usl: number | null;
  target: number | null;
  center_line: number | null;
  ucl: number | null;
  lcl: number | null;
  baseline_points: number | null;
  range_center: number | null;
  range_ucl: number | null;
  range_lcl: number | null;
  limits_computed_at: string | null;
  instrument_id: string | null;
  hold_on_alert: boolean;
  point_count: number;
  created_at: string;
  updated_at: string;
  extra_metadata: Record<string, unknown>;
  // GET /api/v1/spc/series/{id} only:
  capability?: {
    n: number;
    mean: number | null;
    sigma_within: number | null;
    sigma_overall: number | null;
    cp: number | null;
    cpk: number | null;
    pp: number | null;
    ppk: number | null;
  };
  limits?: {
    center_line: number | null;
    ucl: number | null;
    lcl: number | null;
    source: 'baseline' | 'fixed';
    baseline_remaining?: number;
    sigma: number | null;
  };
  open_alerts?: number;
}

interface Violation {
  rule: number;
  point_ids: string[];
}

export interface Point {
  id: string;
  seq: number;
  value: number;
  subgroup: number | null;
  measured_at: string;
  run_id: string | null;
  violations: Violation[];
}

export interface Alert {
  id: string;
  series_id: string;
  series_name: string | null;
  rule: number;
  datapoint_id: string;
  point_ids: string[];
  last_seq: number;
  status: 'OPEN' | 'ACKNOWLEDGED' | 'RESOLVED';
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  note: string | null;
  created_at: string;
  updated_at: string;
}

const ALERT_STATUSES = ['OPEN', 'ACKNOWLEDGED', 'RESOLVED'];

// The eight Nelson rules, as the server judges them (analysis/spc/nelson.hpp).
const RULES: Record<number, string> = {
  1: 'One point beyond 3σ from the center line',
  2: 'Nine points in a row on one side of the center line',
  3: 'Six points in a row steadily increasing or decreasing',
  4: 'Fourteen points in a row alternating up and down',
  5: 'Two of three points beyond 2σ on the same side',
  6: 'Four of five points beyond 1σ on the same side',
  7: 'Fifteen points in a row within 1σ of the center line',
  8: 'Eight points in a row beyond 1σ, on either side',
};

function ruleText(rules: number[]): string {
  return rules.map((r) => `Rule ${r}`).join(', ');
}

function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return Number(v.toPrecision(digits)).toString();
}

function fixed2(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(2);
}

// ---- the points the chart plots -----------------------------------------------------------------

// One plotted position: a point (I-MR) or a complete subgroup's mean (X̄-R, whose rules are carried by
// the point that completes the subgroup).
interface Plotted {
  x: number;
  value: number;
  seq: number;
  subgroup: number | null;
  measured_at: string;
  rules: number[];
}

function rulesOf(p: Point): number[] {
  return [...new Set((p.violations ?? []).map((v) => v.rule))].sort((a, b) => a - b);
}

// Points oldest first → the chart's positions. An X̄-R window may start or end inside a subgroup: those
// partial subgroups are left out (the last one is counted as in progress).
function plot(series: Series, points: Point[]): { plotted: Plotted[]; partial: number } {
  if (series.chart_type !== 'XBAR-R' || !series.subgroup_size) {
    return {
      plotted: points.map((p) => ({ x: p.seq, value: p.value, seq: p.seq, subgroup: null, measured_at: p.measured_at, rules: rulesOf(p) })),
      partial: 0,
    };
  }
  const n = series.subgroup_size;
  const groups = new Map<number, Point[]>();
  for (const p of points) {
    const g = p.subgroup ?? Math.floor((p.seq - 1) / n) + 1;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(p);
  }
  const plotted: Plotted[] = [];
  let partial = 0;
  const keys = [...groups.keys()].sort((a, b) => a - b);
  keys.forEach((g, i) => {
    const ps = groups.get(g)!;
    if (ps.length < n) {
      if (i === keys.length - 1) partial = ps.length;
      return;
    }
    const last = ps.reduce((a, b) => (b.seq > a.seq ? b : a));
    const rules = [...new Set(ps.flatMap(rulesOf))].sort((a, b) => a - b);
    plotted.push({
      x: g,
      value: ps.reduce((s, p) => s + p.value, 0) / ps.length,
      seq: last.seq,
      subgroup: g,
      measured_at: last.measured_at,
      rules,
    });
  });
  return { plotted, partial };
}

// The newest `want` points of a series, oldest first (the server lists newest first, at most 500 a
// page).
async function recentPoints(id: string, want = 500): Promise<Point[]> {
  const out: Point[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<Point> = await api<Page<Point>>(`/api/v1/spc/series/${id}/points`, {
      query: { limit: Math.min(500, want - out.length), cursor },
    });
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < want);
  return out.reverse();
}

// ---- the chart ------------------------------------------------------------------------------------

const COLORS = {
  data: '#1d4ed8',
  center: '#15803d',
  control: '#b45309',
  spec: '#6d28d9',
  violation: '#dc2626',
};

function chartSize(el: HTMLElement) {
  const width = Math.max(200, Math.floor(el.clientWidth));
  return { width, height: width < 520 ? 240 : 320 };
}

function ControlChart({ series, plotted, label }: { series: Series; plotted: Plotted[]; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const xbar = series.chart_type === 'XBAR-R';
  const center = series.limits?.center_line ?? series.center_line;
  const ucl = series.limits?.ucl ?? series.ucl;
  const lcl = series.limits?.lcl ?? series.lcl;

  useEffect(() => {
    const el = ref.current;
    if (!el || plotted.length === 0) return;
    const xs = plotted.map((p) => p.x);
    const flat = (v: number) => xs.map(() => v);
    const data: (number | null)[][] = [xs, plotted.map((p) => p.value)];
    const series_: uPlot.Series[] = [
      {},
      {
        label: xbar ? `Mean of ${series.metric}` : series.metric,
        stroke: COLORS.data,
        width: 1.5,
        points: { show: true, size: 5, stroke: COLORS.data, fill: COLORS.data },
      },
    ];
    const line = (name: string, v: number | null | undefined, stroke: string, dash?: number[]) => {
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      data.push(flat(v));
      series_.push({ label: name, stroke, width: 1.5, dash, points: { show: false } });
    };
    line('CL', center, COLORS.center);
    line('UCL', ucl, COLORS.control, [6, 4]);
    line('LCL', lcl, COLORS.control, [6, 4]);
    line('USL', series.usl, COLORS.spec, [2, 4]);
    line('LSL', series.lsl, COLORS.spec, [2, 4]);
    // The violating points: a series of its own, markers only.
    data.push(plotted.map((p) => (p.rules.length ? p.value : null)));
    series_.push({
      label: 'Violation',
      stroke: COLORS.violation,
      paths: () => null,
      points: { show: true, size: 11, width: 2, stroke: '#7f1d1d', fill: COLORS.violation },
    });
    const violating = plotted.filter((p) => p.rules.length);
    const opts: uPlot.Options = {
      ...chartSize(el),
      legend: { show: false },
      scales: { x: { time: false } },
      axes: [
        { label: xbar ? 'Subgroup' : 'Point (seq)', stroke: '#374151', grid: { stroke: '#e5e7eb' } },
        { label: series.unit ? `${series.metric} (${series.unit})` : series.metric, stroke: '#374151', grid: { stroke: '#e5e7eb' }, size: 60 },
      ],
      series: series_,
      hooks: {
        // The rule numbers beside each violating point.
        draw: [
          (u) => {
            const ctx = u.ctx;
            const r = uPlot.pxRatio;
            ctx.save();
            ctx.fillStyle = '#991b1b';
            ctx.font = `600 ${Math.round(11 * r)}px system-ui, sans-serif`;
            ctx.textBaseline = 'bottom';
            // A label that would overlap the one before is left out (the Violations table lists every one).
            const drawn: { l: number; r: number; y: number }[] = [];
            for (const p of violating) {
              const x = u.valToPos(p.x, 'x', true);
              const y = Math.max(u.bbox.top + 12 * r, u.valToPos(p.value, 'y', true) - 5 * r);
              const text = `R${p.rules.join(',')}`;
              const w = ctx.measureText(text).width;
              const left = x + 7 * r + w > u.bbox.left + u.bbox.width ? x - 7 * r - w : x + 7 * r;
              if (drawn.some((d) => left < d.r + 3 * r && left + w > d.l - 3 * r && Math.abs(y - d.y) < 12 * r)) continue;
              drawn.push({ l: left, r: left + w, y });
              ctx.fillText(text, left, y);
            }
            ctx.restore();
          },
        ],
      },
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    let last = chartSize(el);
    const ro = new ResizeObserver(() => {
      const next = chartSize(el);
      if (next.width !== last.width || next.height !== last.height) {
        last = next;
        u.setSize(next);
      }
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [series, plotted]);

  if (plotted.length === 0)
    return (
      <div class="empty">
        {series.point_count > 0 && xbar ? 'No complete subgroup yet.' : 'No points yet.'}
      </div>
    );
  return (
    <>
      <div class="chart spc-chart" role="img" aria-label={label} ref={ref} />
      <ul class="spc-legend" aria-label="Chart legend">
        <li style={{ color: COLORS.data }}>
          <span class="spc-swatch" aria-hidden="true" />
          <span style={{ color: 'var(--fg)' }}>{xbar ? 'Subgroup means' : 'Points'}</span>
        </li>
        {center != null && (
          <li style={{ color: COLORS.center }}>
            <span class="spc-swatch" aria-hidden="true" />
            <span style={{ color: 'var(--fg)' }}>Center line {fmt(center)}</span>
          </li>
        )}
        {ucl != null && lcl != null && (
          <li style={{ color: COLORS.control }}>
            <span class="spc-swatch dashed" aria-hidden="true" />
            <span style={{ color: 'var(--fg)' }}>
              UCL {fmt(ucl)} / LCL {fmt(lcl)}
            </span>
          </li>
        )}
        {(series.usl != null || series.lsl != null) && (
          <li style={{ color: COLORS.spec }}>
            <span class="spc-swatch dashed" aria-hidden="true" />
            <span style={{ color: 'var(--fg)' }}>
              Spec limits {series.lsl != null && <>LSL {fmt(series.lsl)} </>}
              {series.usl != null && <>USL {fmt(series.usl)}</>}
            </span>
          </li>
        )}
        <li style={{ color: COLORS.violation }}>
          <span class="spc-swatch dot" aria-hidden="true" />
          <span style={{ color: 'var(--fg)' }}>Violating point (R = Nelson rule numbers)</span>
        </li>
      </ul>
    </>
  );
}

// ---- the list: series and alerts ---------------------------------------------------------------------

// The alerts of every series, or of `series_id` (from an alert's "Every alert of this series").
function AlertsTable() {
  const filters = useFilters(['alert_status', 'series_id']);
  const { alert_status: raw, series_id: seriesId } = filters.values;
  // OPEN unless the address says otherwise ("any": every status).
  const status = raw === 'any' ? undefined : (raw ?? 'OPEN');
  return (
    <>
      <FilterBar label="Filter alerts" filters={filters}>
        <FilterSelect
          filters={filters}
          name="alert_status"
          label="Alert status"
          options={[...ALERT_STATUSES, ['any', 'Any']]}
          any={null}
          unset="OPEN"
        />
      </FilterBar>
      {seriesId && (
        <p class="small">
          Alerts of one series. <a href="/spc">Show every series' alerts</a>
        </p>
      )}
      <PagedTable<Alert>
        path="/api/v1/spc/alerts"
        query={{ status, series_id: seriesId }}
        label="Alerts"
        empty={<p>No {status ? status.toLowerCase() : ''} alerts.</p>}
        columns={[
          { label: 'Series', cell: (a) => <a href={`/spc/${a.series_id}`}>{a.series_name ?? short(a.series_id)}</a> },
          { label: 'Rule', cell: (a) => <span title={RULES[a.rule]}>Rule {a.rule}</span> },
          { label: 'Status', cell: (a) => <StatusBadge status={a.status} /> },
          { label: 'Last seq', cell: (a) => a.last_seq, class: 'num' },
          { label: 'Points', cell: (a) => a.point_ids.length, class: 'num' },
          { label: 'Opened', cell: (a) => when(a.created_at) },
          { label: 'Note', cell: (a) => a.note ?? '—' },
        ]}
      />
    </>
  );
}

function SpcList() {
  const filters = useFilters(['q', 'chart_type']);
  return (
    <>
      <PageHeader title="Statistical process control">
        <Can role="engineer">
          <a class="button primary" href="/spc/new">
            New series
          </a>
        </Can>
      </PageHeader>
      <section aria-labelledby="series-h">
        <h2 id="series-h">Series</h2>
        <FilterBar label="Filter series" filters={filters} submit="Search">
          <SearchField filters={filters} placeholder="Name or metric" />
          <FilterSelect filters={filters} name="chart_type" label="Chart" options={['I-MR', 'XBAR-R']} />
        </FilterBar>
        <PagedTable<Series>
          path="/api/v1/spc/series"
          query={filters.values}
          label="SPC series"
          empty={
            <>
              <p>No series match.</p>
              <Can role="engineer">
                <a href="/spc/new">Create the first series</a>
              </Can>
            </>
          }
          columns={[
            { label: 'Name', cell: (s) => <a href={`/spc/${s.id}`}>{s.name}</a> },
            { label: 'Metric', cell: (s) => (s.unit ? `${s.metric} (${s.unit})` : s.metric) },
            { label: 'Chart', cell: (s) => (s.chart_type === 'XBAR-R' ? `XBAR-R (n=${s.subgroup_size})` : s.chart_type) },
            { label: 'Points', cell: (s) => s.point_count, class: 'num' },
            {
              label: 'Limits',
              cell: (s) => (s.ucl != null && s.lcl != null ? `${fmt(s.lcl)} – ${fmt(s.ucl)}` : `baseline of ${s.baseline_points ?? '—'} pending`),
            },
            { label: 'Spec', cell: (s) => (s.lsl != null || s.usl != null ? `${fmt(s.lsl)} – ${fmt(s.usl)}` : '—') },
            { label: 'Hold on alert', cell: (s) => (s.hold_on_alert ? 'Yes' : 'No') },
          ]}
        />
      </section>
      <section aria-labelledby="alerts-h">
        <h2 id="alerts-h">Alerts</h2>
        <AlertsTable />
      </section>
    </>
  );
}

// ---- create -------------------------------------------------------------------------------------

interface SeriesValues {
  name: string;
  metric: string;
  unit: string;
  chart_type: string;
  subgroup_size: string;
  limits: string;
  baseline_points: string;
  center_line: string;
  ucl: string;
  lcl: string;
  lsl: string;
  usl: string;
  target: string;
  instrument_id: string;
  hold_on_alert: boolean;
}

function SeriesForm() {
  const instruments = useInstruments();
  const form = useForm<SeriesValues>({
    name: '',
    metric: '',
    unit: '',
    chart_type: 'I-MR',
    subgroup_size: '5',
    limits: 'baseline',
    baseline_points: '',
    center_line: '',
    ucl: '',
    lcl: '',
    lsl: '',
    usl: '',
    target: '',
    instrument_id: '',
    hold_on_alert: false,
  });
  const v = form.values;
  const xbar = v.chart_type === 'XBAR-R';
  const save = form.submit(async (v) => {
    const body: Record<string, unknown> = compact({
      name: v.name.trim(),
      metric: v.metric.trim(),
      unit: v.unit.trim(),
      chart_type: v.chart_type,
      subgroup_size: v.chart_type === 'XBAR-R' ? toNumber(v.subgroup_size) : undefined,
      lsl: toNumber(v.lsl),
      usl: toNumber(v.usl),
      target: toNumber(v.target),
      center_line: v.limits === 'fixed' ? toNumber(v.center_line) : undefined,
      ucl: v.limits === 'fixed' ? toNumber(v.ucl) : undefined,
      lcl: v.limits === 'fixed' ? toNumber(v.lcl) : undefined,
      baseline_points: v.limits === 'baseline' ? toNumber(v.baseline_points) : undefined,
      instrument_id: v.instrument_id,
    });
    if (v.hold_on_alert) body.hold_on_alert = true;
    const saved = await api<Series>('/api/v1/spc/series', { method: 'POST', body });
    navigate(`/spc/${saved.id}`);
  });
  return (
    <form onSubmit={save} class="panel" aria-label="New SPC series" noValidate>
      <div class="grid">
        <Field form={form} name="name" label="Name" required />
        <Field form={form} name="metric" label="Metric" required hint="A run result's metric, e.g. thickness_nm" />
        <Field form={form} name="unit" label="Unit" />
        <SelectField form={form} name="chart_type" label="Chart type" options={[['I-MR', 'I-MR (individuals)'], ['XBAR-R', 'XBAR-R (subgroup means)']]} />
        {xbar && <Field form={form} name="subgroup_size" label="Subgroup size" type="number" min={2} max={10} step={1} required />}
      </div>
      <fieldset class="spc-fieldset">
        <legend>Specification limits (optional)</legend>
        <div class="grid">
          <Field form={form} name="lsl" label="LSL (lower spec limit)" type="number" step="any" />
          <Field form={form} name="target" label="Target" type="number" step="any" />
          <Field form={form} name="usl" label="USL (upper spec limit)" type="number" step="any" />
        </div>
      </fieldset>
      <fieldset class="spc-fieldset">
        <legend>Control limits</legend>
        <div class="grid">
          <SelectField
            form={form}
            name="limits"
            label="Limits from"
            options={[
              ['baseline', 'A baseline of the first points'],
              ['fixed', 'Fixed values'],
            ]}
          />
          {v.limits === 'baseline' ? (
            <Field
              form={form}
              name="baseline_points"
              label="Baseline points"
              type="number"
              min={20}
              step={1}
              hint={xbar ? 'Default 20 subgroups; a multiple of the subgroup size' : 'Default 20 points'}
            />
          ) : (
            <>
              <Field form={form} name="lcl" label="LCL" type="number" step="any" required />
              <Field form={form} name="center_line" label="Center line" type="number" step="any" hint="Default: midway" />
              <Field form={form} name="ucl" label="UCL" type="number" step="any" required />
            </>
          )}
        </div>
      </fieldset>
      <div class="grid">
        <SelectField form={form} name="instrument_id" label="Instrument" blank="None" options={instruments.options()} />
        <Field
          form={form}
          name="hold_on_alert"
          label="Hold the instrument on alert"
          type="checkbox"
          hint="While an alert is not resolved, the instrument's runs are blocked"
        />
      </div>
      <FormFooter form={form} submit="Create series" onCancel={() => history.back()} />
    </form>
  );
}

function NewSeries() {
  return (
    <>
      <PageHeader title="New SPC series" />
      <SeriesForm />
    </>
  );
}

// ---- detail -----------------------------------------------------------------------------------------

function ResolveForm({ alert, done }: { alert: Alert; done: () => void }) {
  const form = useForm({ note: alert.note ?? '' });
  return (
    <form
      onSubmit={form.submit(async (v) => {
        // Without a note the server's 422 names the field.
        const note = v.note.trim();
        await api(`/api/v1/spc/alerts/${alert.id}`, { method: 'PATCH', body: note ? { status: 'RESOLVED', note } : { status: 'RESOLVED' } });
        done();
      })}
      noValidate
    >
      <p class="small">
        Rule {alert.rule}: {RULES[alert.rule]}. Last at point {alert.last_seq}.
      </p>
      <TextArea form={form} name="note" label="Note (what was found or done)" rows={4} />
      <FormFooter form={form} submit="Resolve alert" onCancel={done} />
    </form>
  );
}

function SeriesAlerts({ series, changed }: { series: Series; changed: () => void }) {
  // Read again whenever the series is (after a change here or a point added).
  const loaded = useLoad(async () => {
    const alerts = (status: string) =>
      api<Page<Alert>>('/api/v1/spc/alerts', { query: { series_id: series.id, status, limit: 100 } }).then((p) => p.items);
    const [open, acked] = await Promise.all([alerts('OPEN'), alerts('ACKNOWLEDGED')]);
    return [...open, ...acked].sort((a, b) => b.last_seq - a.last_seq);
  }, [series]);
  const [resolving, setResolving] = useState<Alert | null>(null);
  return (
    <Show loaded={loaded}>
      {(alerts) => (
        <>
          {alerts.length === 0 ? (
            <div class="empty">No open alerts.</div>
          ) : (
            <Table
              label="Open alerts of this series"
              rows={alerts}
              columns={[
                {
                  label: 'Rule',
                  cell: (a) => (
                    <>
                      <span class="spc-rule">Rule {a.rule}</span>
                      <div class="muted small">{RULES[a.rule]}</div>
                    </>
                  ),
                },
                { label: 'Status', cell: (a) => <StatusBadge status={a.status} /> },
                { label: 'Last seq', cell: (a) => a.last_seq, class: 'num' },
                { label: 'Points', cell: (a) => a.point_ids.length, class: 'num' },
                { label: 'Opened', cell: (a) => when(a.created_at) },
                { label: 'Note', cell: (a) => a.note ?? '—' },
                {
                  label: 'Actions',
                  cell: (a) => (
                    <Can role="engineer">
                      <div class="page-actions">
                        {a.status === 'OPEN' && (
                          <ActionButton
                            label="Acknowledge"
                            action={() => api(`/api/v1/spc/alerts/${a.id}`, { method: 'PATCH', body: { status: 'ACKNOWLEDGED' } })}
                            done={changed}
                          />
                        )}
                        <button type="button" onClick={() => setResolving(a)}>
                          Resolve
                        </button>
                      </div>
                    </Can>
                  ),
                },
              ]}
            />
          )}
          <p class="small">
            <a href={`/spc?series_id=${series.id}&alert_status=any`}>Every alert of this series</a>
          </p>
          <Dialog title={resolving ? `Resolve the Rule ${resolving.rule} alert` : 'Resolve the alert'} open={!!resolving} onClose={() => setResolving(null)}>
            {resolving && (
              <ResolveForm
                alert={resolving}
                done={() => {
                  setResolving(null);
                  changed();
                }}
              />
            )}
          </Dialog>
        </>
      )}
    </Show>
  );
}

function AddPoint({ series, done }: { series: Series; done: () => void }) {
  const form = useForm({ value: '' });
  const [added, setAdded] = useState<Point | null>(null);
  return (
    <>
      <form
        class="spc-add"
        aria-label="Add a point"
        noValidate
        onSubmit={form.submit(async (v) => {
          const value = toNumber(v.value);
          setAdded(null);
          const p = await api<Point>(`/api/v1/spc/series/${series.id}/points`, { method: 'POST', body: { value } });
          setAdded(p);
          form.reset();
          done();
        })}
      >
        <Field form={form} name="value" label={series.unit ? `Value (${series.unit})` : 'Value'} type="number" step="any" required />
        <FormFooter form={form} submit="Add point" />
      </form>
      {added && (
        <p class="notice" role="status">
          Point {added.seq} recorded ({fmt(added.value, 6)})
          {added.violations.length ? (
            <>
              : it breaks <span class="spc-rule">{ruleText(rulesOf(added))}</span>.
            </>
          ) : (
            '.'
          )}
        </p>
      )}
    </>
  );
}

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <span class="figure-label">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

function SeriesView({ series, points, changed }: { series: Series; points: Point[]; changed: () => void }) {
  const xbar = series.chart_type === 'XBAR-R';
  const { plotted, partial } = useMemo(() => plot(series, points), [series, points]);
  const violating = plotted.filter((p) => p.rules.length);
  const cap = series.capability;
  const lim = series.limits;
  const center = lim?.center_line ?? series.center_line;
  const ucl = lim?.ucl ?? series.ucl;
  const lcl = lim?.lcl ?? series.lcl;
  const label =
    `Control chart of ${series.name}: ${plotted.length} points, ${violating.length} violating` +
    (xbar ? ` (means of subgroups of ${series.subgroup_size})` : '') +
    (ucl != null && lcl != null ? `; center line ${fmt(center)}, UCL ${fmt(ucl)}, LCL ${fmt(lcl)}` : '; control limits not set yet') +
    (series.lsl != null ? `; LSL ${fmt(series.lsl)}` : '') +
    (series.usl != null ? `; USL ${fmt(series.usl)}` : '') +
    (violating.length ? `. Violations: ${violating.slice(-5).map((p) => `${xbar ? 'subgroup' : 'point'} ${p.x} (${ruleText(p.rules)})`).join('; ')}` : '');
  return (
    <>
      <PageHeader title={series.name}>
        <a class="button" href="/spc">
          All series
        </a>
      </PageHeader>
      <Panel title="Control chart">
        <p class="muted small">
          {xbar ? `X̄ chart: means of subgroups of ${series.subgroup_size}` : 'Individuals chart'}, the last {points.length} of{' '}
          {series.point_count} points
          {partial > 0 && <>; a subgroup in progress ({partial} of {series.subgroup_size} points)</>}
          {lim?.source === 'baseline' && ucl == null && <>; the limits come after {lim.baseline_remaining} more points</>}.
        </p>
        <ControlChart series={series} plotted={plotted} label={label} />
        <Can role="technician">
          <h3>Add a point</h3>
          <AddPoint series={series} done={changed} />
        </Can>
      </Panel>
      <div class="two">
        <Panel title="Capability">
          <div class="figures spc-figures">
            <Figure label="Cp" value={fixed2(cap?.cp)} />
            <Figure label="Cpk" value={fixed2(cap?.cpk)} />
            <Figure label="Pp" value={fixed2(cap?.pp)} />
            <Figure label="Ppk" value={fixed2(cap?.ppk)} />
          </div>
          <Facts
            class="spaced"
            rows={[
              ['Points (n)', cap?.n ?? series.point_count],
              ['Mean', fmt(cap?.mean, 6)],
              ['σ within', fmt(cap?.sigma_within)],
              ['σ overall', fmt(cap?.sigma_overall)],
            ]}
          />
          {series.lsl == null && series.usl == null && <p class="muted small">Cp and Pp need spec limits (LSL and USL).</p>}
        </Panel>
        <Panel title="Series">
          <Facts
            rows={[
              [
                'Metric',
                <>
                  <code>{series.metric}</code>
                  {series.unit && <> ({series.unit})</>}
                </>,
              ],
              ['Chart', xbar ? `XBAR-R, subgroups of ${series.subgroup_size}` : 'I-MR'],
              [
                'Control limits',
                <>
                  {ucl != null && lcl != null ? `${fmt(lcl)} · ${fmt(center)} · ${fmt(ucl)}` : 'not yet'}{' '}
                  <span class="muted">
                    ({lim?.source === 'fixed' ? 'fixed' : `baseline of ${series.baseline_points} points`})
                  </span>
                </>,
              ],
              [
                'Range limits',
                xbar && series.range_ucl != null ? (
                  <>
                    {fmt(series.range_lcl)} · {fmt(series.range_center)} · {fmt(series.range_ucl)}
                  </>
                ) : undefined,
              ],
              [
                'Spec limits',
                <>
                  {series.lsl != null || series.usl != null ? `${fmt(series.lsl)} – ${fmt(series.usl)}` : '—'}
                  {series.target != null && <> (target {fmt(series.target)})</>}
                </>,
              ],
              [
                'Instrument',
                <>
                  {series.instrument_id ? <a href={`/instruments/${series.instrument_id}`}>{short(series.instrument_id)}</a> : '—'}
                  {series.hold_on_alert && <> · held while an alert is open</>}
                </>,
              ],
              ['Open alerts', series.open_alerts ?? '—'],
              ['Created', when(series.created_at)],
            ]}
          />
        </Panel>
      </div>
      <Panel title="Violations">
        {violating.length === 0 ? (
          <div class="empty">No point of the last {points.length} breaks a rule.</div>
        ) : (
          <Table
            label="Violating points"
            rows={[...violating].reverse()}
            rowKey={(p) => String(p.seq)}
            columns={[
              { label: 'Seq', cell: (p) => p.seq, class: 'num' },
              ...(xbar ? [{ label: 'Subgroup', cell: (p: Plotted) => p.subgroup, class: 'num' }] : []),
              { label: xbar ? 'Subgroup mean' : 'Value', cell: (p) => fmt(p.value, 6), class: 'num' },
              { label: 'Rules', cell: (p) => <span class="spc-rule">{ruleText(p.rules)}</span> },
              { label: 'Measured', cell: (p) => when(p.measured_at) },
            ]}
          />
        )}
        <details>
          <summary>The Nelson rules</summary>
          <ol class="spc-rules">
            {Object.entries(RULES).map(([n, text]) => (
              <li key={n} value={Number(n)}>
                {text}
              </li>
            ))}
          </ol>
        </details>
      </Panel>
      <Panel title="Open alerts">
        <SeriesAlerts series={series} changed={changed} />
      </Panel>
    </>
  );
}

function SeriesDetail({ id }: { id: string }) {
  const loaded = useLoad(
    async () => {
      const [series, points] = await Promise.all([api<Series>(`/api/v1/spc/series/${id}`), recentPoints(id)]);
      return { series, points };
    },
    [id],
  );
  return <Show loaded={loaded}>{(d) => <SeriesView series={d.series} points={d.points} changed={loaded.reload} />}</Show>;
}

export const routes = [
  { path: '/spc', page: SpcList },
  { path: '/spc/new', page: NewSeries, role: 'engineer' as const },
  { path: '/spc/:id', page: SeriesDetail },
];
