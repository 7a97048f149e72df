// Quality: specifications (limits per metric for a recipe, a material or a sample type, versioned and
// approved like SOPs), nonconformances (opened by failed results, closed by a disposition signed with the
// password), certificates of analysis, and the public page where anyone holding a certificate's PDF
// checks it against the SHA-256 recorded when it was issued (/verify/:id, no sign-in).
//
// Shared with runs.tsx (EvaluationBadge, NonconformanceTable) and samples.tsx (NonconformanceTable,
// IssueCertificate, IssuedCertificate).
import type { ComponentChildren } from 'preact';
import { useId, useState } from 'preact/hooks';
import { api, atLeast, postWithPassword, Problem, user, type Page } from '../api';
import { navigate, useLocation } from '../router';
import {
  ActionButton, asProblem, Badge, Can, ClearFilters, compact, Dialog, DownloadButton, Facts, Field, FieldFrame, FilterBar, FilterSelect,
  FormFooter, IdLink, NameLink, PagedTable, PageHeader, Panel, PasswordField, PasswordForm, ProblemView, SearchField, SelectField, Show,
  short, StatusBadge, Table, Tabs, TextArea, toNumber, useApi, useFieldState, useFilters, useForm, useNames, when, type Column, type Form,
  type Tone,
} from '../ui';
import { SAMPLE_TYPES, useSamples, withBarcode } from '../lab';
import {
  DecisionButtons, DecisionDialog, draftDecisionFor, DraftDecisionNote, EditVersionLink, EditVersionPage, NewVersionNotice,
  OtherVersions, SavedAsNewVersion, saveVersion, VersionTimeline, type Decision, type VersionRules,
} from '../versions';
import type { Recipe } from './recipes';

// ==== shared ===================================================================================

// A result's judgement against its run's specification, in words and colour (never colour alone).
const EVALUATIONS: Record<string, [Tone, string]> = {
  pass: ['ok', 'Pass'],
  warn: ['warn', 'Warn'],
  fail: ['bad', 'Fail'],
  below_lod: ['info', 'Below LOD'],
};
export function EvaluationBadge({ evaluation }: { evaluation: string | null | undefined }) {
  const e = evaluation ? EVALUATIONS[evaluation] : undefined;
  return e ? <Badge tone={e[0]}>{e[1]}</Badge> : <span class="muted">—</span>;
}

// Who someone is: "you", their name (a PI or an admin reads the lab's users), else their short id.
function usePeople() {
  const me = user();
  const loaded = useApi<Page<{ id: string; full_name: string }>>(atLeast(me, 'pi') ? '/api/users?limit=500' : null);
  const names = new Map((loaded.data?.items ?? []).map((u) => [u.id, u.full_name]));
  return (id: string | null | undefined): string => {
    if (!id) return '—';
    if (id === me?.id) return `you (${me.full_name})`;
    return names.get(id) ?? `user ${short(id)}`;
  };
}

function num(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : String(v);
}

// The quality pages' tabs, under their heading.
function QualityTabs() {
  const { path } = useLocation();
  const current = path.startsWith('/quality/nonconformances') ? '/quality/nonconformances' : '/quality/specifications';
  return (
    <Tabs
      label="Quality"
      tabs={[
        ['/quality/specifications', 'Specifications'],
        ['/quality/nonconformances', 'Nonconformances'],
      ]}
      current={current}
    />
  );
}

// ==== specifications ===========================================================================

export const SPEC_STATUSES = ['DRAFT', 'EFFECTIVE', 'OBSOLETE', 'REJECTED'];
const SPEC_LABELS: Record<string, string> = { DRAFT: 'Draft', EFFECTIVE: 'Effective', OBSOLETE: 'Obsolete', REJECTED: 'Rejected' };
const specState = (status: string) => SPEC_LABELS[status] ?? status;
function SpecStatus({ status }: { status: string }) {
  return <StatusBadge status={status} labels={SPEC_LABELS} />;
}
// An obsolete version never changes; a change of an effective or rejected one is the next version.
const SPEC_VERSIONS: VersionRules = { href: '/quality/specifications', state: specState, frozen: ['OBSOLETE'] };

export interface Limit {
  metric: string;
  unit?: string;
  lsl?: number;
  usl?: number;
  target?: number;
  warn_low?: number;
  warn_high?: number;
  lod?: number;
}
interface AppliesTo {
  material_id?: string;
  recipe_id?: string;
  sample_type?: string;
}
export interface Specification {
  id: string;
  lineage_id: string;
  version: number;
  name: string;
  description: string | null;
  applies_to: AppliesTo;
  limits: Limit[];
  status: string;
  previous_version_id: string | null;
  author_id: string | null;
  approved_by: string | null;
  approved_at: string | null;
  rejected_by: string | null;
  rejected_at: string | null;
  decision_comment: string | null;
  created_at: string;
  updated_at: string;
}
interface SpecificationDetail extends Specification {
  versions: {
    id: string;
    version: number;
    status: string;
    name: string;
    author_id: string | null;
    approved_by: string | null;
    approved_at: string | null;
    created_at: string;
  }[];
  editors: string[]; // who changed this version after it was written: like its author, never a decider
}

// The records a specification names, by name: recipes (with their version) and materials.
function useAppliesNames() {
  const recipes = useNames<Recipe>('/api/recipes', (r) => `${r.name} v${r.version}`);
  const materials = useNames('/api/materials');
  return { recipes, materials };
}
type AppliesNames = ReturnType<typeof useAppliesNames>;

// What a specification applies to, in words: every criterion it names must match the run.
function AppliesToText({ to, names, links }: { to: AppliesTo; names: AppliesNames; links?: boolean }) {
  const parts: ComponentChildren[] = [];
  if (to.recipe_id)
    parts.push(
      <>
        recipe {links ? <a href={`/recipes/${to.recipe_id}`}>{names.recipes.name(to.recipe_id)}</a> : names.recipes.name(to.recipe_id)}
      </>,
    );
  if (to.material_id) parts.push(<>material {names.materials.name(to.material_id)}</>);
  if (to.sample_type) parts.push(<>sample type {to.sample_type}</>);
  if (parts.length === 0) return <>—</>;
  return (
    <>
      {parts.map((p, i) => (
        <span key={i}>
          {i > 0 && ' · '}
          {p}
        </span>
      ))}
    </>
  );
}

function SpecificationList() {
  const filters = useFilters(['q', 'status']);
  const names = useAppliesNames();
  return (
    <>
      <PageHeader title="Specifications">
        <Can role="engineer">
          <a class="button primary" href="/quality/specifications/new">
            New specification
          </a>
        </Can>
      </PageHeader>
      <QualityTabs />
      <p class="muted small">
        A run is judged against the effective specification that applies to it when it is created: its recipe's, else its
        sample's material's, else its sample type's.
      </p>
      <FilterBar label="Filter specifications" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Part of the name" />
        <FilterSelect filters={filters} name="status" label="Status" options={SPEC_STATUSES.map((s) => [s, specState(s)])} />
      </FilterBar>
      <PagedTable<Specification>
        path="/api/specifications"
        query={filters.values}
        label="Specifications"
        empty={
          <>
            <p>No specifications match.</p>
            <Can role="engineer">
              <a href="/quality/specifications/new">Write the first specification</a>
            </Can>
          </>
        }
        columns={[
          { label: 'Name', cell: (s) => <a href={`/quality/specifications/${s.id}`}>{s.name}</a> },
          { label: 'Version', cell: (s) => s.version, class: 'num' },
          { label: 'Status', cell: (s) => <SpecStatus status={s.status} /> },
          { label: 'Applies to', cell: (s) => <AppliesToText to={s.applies_to} names={names} /> },
          { label: 'Limits', cell: (s) => s.limits.map((l) => (l.unit ? `${l.metric} (${l.unit})` : l.metric)).join(', ') },
          { label: 'Updated', cell: (s) => when(s.updated_at) },
        ]}
      />
    </>
  );
}

// ---- the form --------------------------------------------------------------------------------

const BOUNDS = [
  ['lsl', 'Lower limit (LSL)'],
  ['usl', 'Upper limit (USL)'],
  ['target', 'Target'],
  ['warn_low', 'Warn below'],
  ['warn_high', 'Warn above'],
  ['lod', 'Limit of detection (LOD)'],
] as const;
type Bound = (typeof BOUNDS)[number][0];
// Units as labs write them (the server knows more); offered while typing, any known one is accepted.
const COMMON_UNITS = ['nm', 'µm', 'Å', 'mm', '%', 'ppm', 'V', 'mV', 'A', 'ohm', 'ohm/sq', 'ohm·cm', 'cm^-3', 'cm2/Vs', 'eV', '°C', 's', 'Hz', 'sccm', 'nm/min'];

// One limit as the form holds it: text as typed (`key` keeps a row's inputs when another is removed).
type LimitRow = { key: number; metric: string; unit: string } & Record<Bound, string>;
let rowSeq = 0;
function rowOf(l?: Limit): LimitRow {
  const row = { key: ++rowSeq, metric: l?.metric ?? '', unit: l?.unit ?? '' } as LimitRow;
  for (const [k] of BOUNDS) row[k] = l?.[k] === undefined || l?.[k] === null ? '' : String(l[k]);
  return row;
}
// A limit as the server takes it: blank bounds left out; a number as a number, anything else as typed
// (the server's 422 names the field).
function limitOf(r: LimitRow): Record<string, unknown> {
  const o: Record<string, unknown> = { metric: r.metric.trim() };
  if (r.unit.trim()) o.unit = r.unit.trim();
  for (const [k] of BOUNDS) {
    const v = toNumber(r[k]);
    if (v !== undefined) o[k] = v;
  }
  return o;
}
function appliesOf(v: { material_id?: string; recipe_id?: string; sample_type?: string }): AppliesTo {
  return compact({ material_id: v.material_id ?? '', recipe_id: v.recipe_id ?? '', sample_type: v.sample_type ?? '' });
}

interface SpecValues {
  name: string;
  description: string;
  material_id: string;
  recipe_id: string;
  sample_type: string;
  limits: LimitRow[];
}

// A text box of one limit, with the server's message for it ("limits[0].usl") beneath.
function LimitInput(props: { form: Form<SpecValues>; index: number; k: 'metric' | 'unit' | Bound; label: string; list?: string }) {
  const { form, index, k, label, list } = props;
  const field = `limits[${index}].${k}`;
  const { id, message, aria } = useFieldState(form, field, field, undefined);
  const row = form.values.limits[index];
  const numeric = k !== 'metric' && k !== 'unit';
  return (
    <FieldFrame id={id} label={label} message={message}>
      <input
        value={row[k]}
        list={list}
        inputMode={numeric ? 'decimal' : undefined}
        autocomplete="off"
        onInput={(e) => {
          const value = e.currentTarget.value;
          form.set(
            'limits',
            form.values.limits.map((r, i) => (i === index ? { ...r, [k]: value } : r)),
          );
        }}
        {...aria}
      />
    </FieldFrame>
  );
}

// A message of the server's for a group of fields (`field`: "applies_to", "limits"), when it has one.
function GroupError({ form, field }: { form: Form<any>; field: string }) {
  form.shown.add(field);
  const message = form.error(field);
  return message ? (
    <p class="field-error" role="alert">
      {message}
    </p>
  ) : null;
}

function LimitsEditor({ form }: { form: Form<SpecValues> }) {
  const units = useId();
  const rows = form.values.limits;
  return (
    <>
      <datalist id={units}>
        {COMMON_UNITS.map((u) => (
          <option value={u} />
        ))}
      </datalist>
      {rows.map((row, i) => (
        <fieldset class="choices" key={row.key}>
          <legend>Limit {i + 1}</legend>
          <div class="grid">
            <LimitInput form={form} index={i} k="metric" label="Metric" />
            <LimitInput form={form} index={i} k="unit" label="Unit" list={units} />
            {BOUNDS.map(([k, label]) => (
              <LimitInput key={k} form={form} index={i} k={k} label={label} />
            ))}
          </div>
          {rows.length > 1 && (
            <button
              type="button"
              aria-label={`Remove limit ${i + 1}`}
              onClick={() => form.set('limits', rows.filter((r) => r.key !== row.key))}
            >
              Remove
            </button>
          )}
        </fieldset>
      ))}
      <GroupError form={form} field="limits" />
      <div class="actions">
        <button type="button" onClick={() => form.set('limits', [...rows, rowOf()])}>
          Add a limit
        </button>
      </div>
      <p class="muted small">
        A value equal to a limit is inside it. Between the limits and outside the warning band a result warns; outside the limits
        it fails and opens a nonconformance, which quarantines the sample; below the LOD it is not judged.
      </p>
    </>
  );
}

function SpecificationForm({ spec }: { spec?: SpecificationDetail }) {
  const { recipes, materials } = useAppliesNames();
  const form = useForm<SpecValues>({
    name: spec?.name ?? '',
    description: spec?.description ?? '',
    material_id: spec?.applies_to.material_id ?? '',
    recipe_id: spec?.applies_to.recipe_id ?? '',
    sample_type: spec?.applies_to.sample_type ?? '',
    limits: spec?.limits.length ? spec.limits.map(rowOf) : [rowOf()],
  });
  const newVersion = spec && spec.status !== 'DRAFT';
  const save = form.submit(async (v) => {
    const applies_to = appliesOf(v);
    const limits = v.limits.map(limitOf);
    if (spec) {
      // An edit sends what changed; what it applies to and the limits are sent whole.
      const change: Record<string, unknown> = {};
      if (v.name !== spec.name) change.name = v.name;
      if ((v.description || null) !== (spec.description || null)) change.description = v.description || null;
      if (JSON.stringify(applies_to) !== JSON.stringify(appliesOf(spec.applies_to))) change.applies_to = applies_to;
      if (JSON.stringify(limits) !== JSON.stringify(spec.limits.map((l) => limitOf(rowOf(l))))) change.limits = limits;
      await saveVersion('/api/specifications', SPEC_VERSIONS, spec.id, change);
    } else {
      const body: Record<string, unknown> = { name: v.name, applies_to, limits };
      if (v.description.trim()) body.description = v.description;
      const saved = await api<Specification>('/api/specifications', { method: 'POST', body });
      navigate(`/quality/specifications/${saved.id}`);
    }
  });
  return (
    <form onSubmit={save} class="panel" aria-label={spec ? 'Edit specification' : 'New specification'} noValidate>
      {newVersion && (
        <NewVersionNotice doc={spec} rules={SPEC_VERSIONS}>
          a draft that a PI or an admin approves before it judges any run.
        </NewVersionNotice>
      )}
      <Field form={form} name="name" label="Name" required />
      <TextArea form={form} name="description" label="Description" rows={3} />
      <fieldset class="choices">
        <legend>Applies to</legend>
        <p class="muted small">At least one; a run must match every one given.</p>
        <div class="grid">
          <SelectField
            form={form}
            name="recipe_id"
            field="applies_to.recipe_id"
            label="Recipe"
            blank="Any recipe"
            options={recipes.options(form.values.recipe_id, (r) => `${r.name} v${r.version} (${r.status.toLowerCase()})`)}
            hint="Any version of this recipe"
          />
          <SelectField
            form={form}
            name="material_id"
            field="applies_to.material_id"
            label="Material"
            blank="Any material"
            options={materials.options(form.values.material_id)}
          />
          <SelectField
            form={form}
            name="sample_type"
            field="applies_to.sample_type"
            label="Sample type"
            blank="Any sample type"
            options={SAMPLE_TYPES}
          />
        </div>
        <GroupError form={form} field="applies_to" />
      </fieldset>
      <h2>Limits</h2>
      <LimitsEditor form={form} />
      <FormFooter
        form={form}
        submit={spec ? (newVersion ? 'Save as new version' : 'Save draft') : 'Create specification'}
        onCancel={() => history.back()}
      />
    </form>
  );
}

function NewSpecification() {
  return (
    <>
      <PageHeader title="New specification" />
      <SpecificationForm />
    </>
  );
}

function EditSpecification({ id }: { id: string }) {
  return (
    <EditVersionPage<SpecificationDetail> title="Edit specification" path="/api/specifications" id={id} rules={SPEC_VERSIONS}>
      {(s) => <SpecificationForm spec={s} />}
    </EditVersionPage>
  );
}

function LimitsTable({ limits }: { limits: Limit[] }) {
  return (
    <Table
      label="Limits"
      rows={limits}
      rowKey={(l) => l.metric}
      columns={[
        { label: 'Metric', cell: (l) => <code>{l.metric}</code> },
        { label: 'Unit', cell: (l) => l.unit ?? '—' },
        { label: 'LSL', cell: (l) => num(l.lsl), class: 'num' },
        { label: 'Target', cell: (l) => num(l.target), class: 'num' },
        { label: 'USL', cell: (l) => num(l.usl), class: 'num' },
        { label: 'Warn below', cell: (l) => num(l.warn_low), class: 'num' },
        { label: 'Warn above', cell: (l) => num(l.warn_high), class: 'num' },
        { label: 'LOD', cell: (l) => num(l.lod), class: 'num' },
      ]}
    />
  );
}

function SpecificationDetailPage({ id }: { id: string }) {
  const loaded = useApi<SpecificationDetail>(`/api/specifications/${id}`);
  const [deciding, setDeciding] = useState<Decision | null>(null);
  const names = useAppliesNames();
  const person = usePeople();
  const me = user();
  return (
    <Show loaded={loaded}>
      {(s) => {
        const effective = s.versions.find((v) => v.status === 'EFFECTIVE');
        const decision = draftDecisionFor(s, s.author_id, me);
        return (
          <>
            <PageHeader title={`${s.name} · v${s.version}`}>
              <Can role="engineer">
                <EditVersionLink doc={s} rules={SPEC_VERSIONS} draft="Edit draft" />
              </Can>
              <DecisionButtons approve={decision.may} reject={decision.may} decide={setDeciding} />
            </PageHeader>
            <QualityTabs />
            <SavedAsNewVersion doc={s} rules={SPEC_VERSIONS}>
              It judges runs once a PI or an admin approves it.
            </SavedAsNewVersion>
            <OtherVersions doc={s} href="/quality/specifications" />
            <DraftDecisionNote doc={s} why={decision.why}>
              A PI or an admin approves this draft (it becomes effective and judges new runs) or rejects it; never its author or anyone who
              changed it.
            </DraftDecisionNote>
            <div class="two">
              <Panel title="Specification">
                <Facts
                  rows={[
                    ['Status', <SpecStatus status={s.status} />],
                    ['Version', s.version],
                    ['Applies to', <AppliesToText to={s.applies_to} names={names} links />],
                    ['Author', person(s.author_id)],
                    ['Approved', s.approved_at ? `${when(s.approved_at)} by ${person(s.approved_by)}` : undefined],
                    ['Rejected', s.rejected_at ? `${when(s.rejected_at)} by ${person(s.rejected_by)}` : undefined],
                    ['Comment', s.decision_comment || undefined],
                    ['Created', when(s.created_at)],
                    ['Updated', when(s.updated_at)],
                    ['Description', s.description || '—'],
                  ]}
                />
              </Panel>
              <Panel title="Versions">
                <VersionTimeline
                  versions={[...s.versions].reverse()}
                  current={s.id}
                  href="/quality/specifications"
                  badge={(status) => <SpecStatus status={status} />}
                  name={(v) => v.name}
                  by={(v) => person(v.author_id)}
                />
              </Panel>
            </div>
            <Panel title="Limits">
              <LimitsTable limits={s.limits} />
            </Panel>
            <DecisionDialog
              path={`/api/specifications/${s.id}`}
              what="specification"
              deciding={deciding}
              setDeciding={setDeciding}
              note={(d) =>
                d === 'approve'
                  ? `Version ${s.version} of ${s.name} becomes effective and judges the runs created from now on.${
                      effective ? ` Version ${effective.version} becomes obsolete.` : ''
                    }`
                  : `Version ${s.version} of ${s.name} becomes rejected and stays as it is; a new version can follow it.`
              }
              done={loaded.reload}
            />
          </>
        );
      }}
    </Show>
  );
}

// ==== nonconformances ==========================================================================

export const NC_STATUSES = ['OPEN', 'UNDER_REVIEW', 'CLOSED'];
const NC_LABELS: Record<string, string> = { OPEN: 'Open', UNDER_REVIEW: 'Under review', CLOSED: 'Closed' };
const NC_TONES: Record<string, Tone> = { OPEN: 'bad', UNDER_REVIEW: 'warn', CLOSED: 'ok' };
function NcStatus({ status }: { status: string }) {
  return <StatusBadge status={status} labels={NC_LABELS} tones={NC_TONES} />;
}

// Each disposition, in words, and what it does to the sample (the server's rule).
const DISPOSITIONS: [value: string, label: string, effect: string][] = [
  ['use_as_is', 'Use as is', 'The sample is used despite the deviation: it is released from quarantine (available again).'],
  ['rework', 'Rework', 'The sample is reworked, then measured again: it is released from quarantine (available again).'],
  ['retest', 'Retest', 'The measurement is doubted, not the sample: it is released from quarantine to be measured again.'],
  ['scrap', 'Scrap', 'The sample is scrapped: it is disposed of (a dispose custody event) and leaves use for good.'],
];
const dispositionLabel = (d: string | null | undefined) => (d ? (DISPOSITIONS.find(([v]) => v === d)?.[1] ?? d) : '—');

export interface Nonconformance {
  id: string;
  run_id: string;
  sample_id: string;
  metric: string;
  specification_version_id: string | null;
  status: string;
  failures: number;
  first_value: number;
  last_value: number;
  opened_by: string | null;
  notes: string | null;
  disposition: string | null;
  disposition_comment: string | null;
  disposed_by: string | null;
  disposed_by_name: string | null;
  disposed_at: string | null;
  signature_sha256: string | null;
  created_at: string;
  updated_at: string;
}

function values(n: Nonconformance): string {
  return n.failures > 1 ? `${n.first_value} … ${n.last_value}` : String(n.first_value);
}

// Nonconformances (`query`: a run's or a sample's, or the list's filters); `more`, columns shown after
// the status (the list's sample and run).
export function NonconformanceTable(props: {
  query: Record<string, string | undefined>;
  refresh?: number;
  empty: ComponentChildren;
  more?: Column<Nonconformance>[];
}) {
  return (
    <PagedTable<Nonconformance>
      path="/api/nonconformances"
      query={props.query}
      label="Nonconformances"
      refresh={props.refresh}
      empty={props.empty}
      columns={[
        { label: 'Metric', cell: (n) => <a href={`/quality/nonconformances/${n.id}`}>{n.metric}</a> },
        { label: 'Status', cell: (n) => <NcStatus status={n.status} /> },
        ...(props.more ?? []),
        { label: 'Failures', cell: (n) => n.failures, class: 'num' },
        { label: 'Values', cell: (n) => values(n), class: 'num' },
        { label: 'Disposition', cell: (n) => dispositionLabel(n.disposition) },
        { label: 'Opened', cell: (n) => when(n.created_at) },
      ]}
    />
  );
}

function NonconformanceList() {
  const filters = useFilters(['status', 'sample_id', 'run_id']);
  const samples = useSamples(withBarcode);
  const { sample_id, run_id } = filters.values;
  return (
    <>
      <PageHeader title="Nonconformances" />
      <QualityTabs />
      <p class="muted small">
        A result outside its specification's limits opens a nonconformance and quarantines the sample; a PI or an admin closes it
        with a signed disposition.
      </p>
      <FilterBar label="Filter nonconformances" filters={filters}>
        <FilterSelect filters={filters} name="status" label="Status" options={NC_STATUSES.map((s) => [s, NC_LABELS[s]])} />
        <FilterSelect filters={filters} name="sample_id" label="Sample" options={samples.options(sample_id)} />
        <ClearFilters filters={filters} />
      </FilterBar>
      {run_id && (
        <p class="muted">
          Of run <a href={`/runs/${run_id}`}>{short(run_id)}</a> only.
        </p>
      )}
      <NonconformanceTable
        query={filters.values}
        empty={<p>No nonconformances match.</p>}
        more={[
          { label: 'Sample', cell: (n) => <a href={`/samples/${n.sample_id}`}>{samples.name(n.sample_id)}</a> },
          { label: 'Run', cell: (n) => <IdLink href="/runs" id={n.run_id} /> },
        ]}
      />
    </>
  );
}

// The dialog's form: the disposition (what each does to the sample), a comment and the password, which
// signs it. A wrong password (401) or a nonconformance closed meanwhile (409) is the server's message.
function DispositionForm(props: { nc: Nonconformance; done: () => void; cancel: () => void; reread: () => void }) {
  const { nc, done, cancel, reread } = props;
  const form = useForm({ disposition: '', comment: '', password: '' });
  const group = useId();
  form.shown.add('disposition');
  const choiceError = form.error('disposition');
  return (
    <PasswordForm
      form={form}
      label="Record disposition"
      submit="Sign disposition"
      onSubmit={async (v) => {
        const body: Record<string, unknown> = { disposition: v.disposition, password: v.password };
        if (v.comment.trim()) body.comment = v.comment.trim();
        await postWithPassword(`/api/nonconformances/${nc.id}/disposition`, body);
        done();
      }}
      cancel={cancel}
      conflict={{
        said: 'Nothing was recorded. Read the nonconformance again to see its disposition.',
        reload: 'Reload the nonconformance',
        reread,
      }}
    >
      <fieldset
        class={`choices${choiceError ? ' invalid' : ''}`}
        aria-describedby={choiceError ? `${group}-error` : undefined}
      >
        <legend>Disposition</legend>
        {DISPOSITIONS.map(([value, label, effect]) => (
          <div class="radio-option" key={value}>
            <input
              type="radio"
              id={`${group}-${value}`}
              name={`${group}-disposition`}
              value={value}
              checked={form.values.disposition === value}
              onChange={() => form.set('disposition', value)}
              aria-describedby={`${group}-${value}-effect`}
            />
            <div>
              <label for={`${group}-${value}`}>{label}</label>
              <small id={`${group}-${value}-effect`} class="muted">
                {effect}
              </small>
            </div>
          </div>
        ))}
        <small class="muted">A sample that another open nonconformance holds stays quarantined until that one is closed too.</small>
        {choiceError && (
          <small id={`${group}-error`} class="field-error">
            {choiceError}
          </small>
        )}
      </fieldset>
      <TextArea form={form} name="comment" label="Comment (optional)" rows={3} />
      <p class="muted small">
        Your password signs the disposition: your name, the time, the meaning (disposition) and a SHA-256 of what you decided are
        recorded, and the nonconformance closes for good.
      </p>
      <PasswordField form={form} label="Your password" />
    </PasswordForm>
  );
}

function NotesForm({ nc, done }: { nc: Nonconformance; done: () => void }) {
  const form = useForm({ notes: nc.notes ?? '' });
  return (
    <form
      aria-label="Notes"
      noValidate
      onSubmit={form.submit(async (v) => {
        await api(`/api/nonconformances/${nc.id}`, { method: 'PATCH', body: { notes: v.notes.trim() ? v.notes : null } });
        done();
      })}
    >
      <TextArea form={form} name="notes" label="Investigation notes" rows={4} />
      <FormFooter form={form} submit="Save notes" />
    </form>
  );
}

function NonconformanceDetail({ id }: { id: string }) {
  const loaded = useApi<Nonconformance>(`/api/nonconformances/${id}`);
  const spec = useApi<Specification>(
    loaded.data?.specification_version_id ? `/api/specifications/${loaded.data.specification_version_id}` : null,
  );
  const [disposing, setDisposing] = useState(false);
  const person = usePeople();
  return (
    <Show loaded={loaded}>
      {(n) => {
        const limit = spec.data?.limits.find((l) => l.metric === n.metric);
        const unit = limit?.unit ? ` ${limit.unit}` : '';
        const open = n.status !== 'CLOSED';
        return (
          <>
            <PageHeader title={`Nonconformance · ${n.metric}`}>
              {n.status === 'OPEN' && (
                <Can role="engineer">
                  <ActionButton
                    label="Take under review"
                    action={() => api(`/api/nonconformances/${n.id}`, { method: 'PATCH', body: { status: 'UNDER_REVIEW' } })}
                    done={loaded.reload}
                  />
                </Can>
              )}
              {open && (
                <Can role="pi">
                  <button type="button" class="primary" onClick={() => setDisposing(true)}>
                    Record disposition
                  </button>
                </Can>
              )}
            </PageHeader>
            <QualityTabs />
            {open ? (
              <p class="notice">
                The sample stays quarantined until a PI or an admin records a disposition, signed with their password.
              </p>
            ) : (
              <p class="notice" role="status">
                Closed {when(n.disposed_at)}: {dispositionLabel(n.disposition)}, signed by {n.disposed_by_name ?? person(n.disposed_by)}.
              </p>
            )}
            <div class="two">
              <Panel title="What failed">
                <Facts
                  rows={[
                    ['Status', <NcStatus status={n.status} />],
                    ['Metric', <code>{n.metric}</code>],
                    ['Sample', <NameLink id={n.sample_id} href="/samples" path="/api/samples" />],
                    ['Run', <IdLink href="/runs" id={n.run_id} />],
                    [
                      'Specification',
                      n.specification_version_id ? (
                        <NameLink<Specification>
                          id={n.specification_version_id}
                          href="/quality/specifications"
                          path="/api/specifications"
                          label={(x) => `${x.name} v${x.version}`}
                        />
                      ) : (
                        '—'
                      ),
                    ],
                    [
                      'Limits',
                      limit ? `${num(limit.lsl)} to ${num(limit.usl)}${unit}${limit.target !== undefined ? ` (target ${limit.target})` : ''}` : undefined,
                    ],
                    ['Failures', n.failures],
                    ['First value', `${n.first_value}${unit}`],
                    ['Last value', n.failures > 1 ? `${n.last_value}${unit}` : undefined],
                    ['Opened', `${when(n.created_at)} by ${person(n.opened_by)}`],
                  ]}
                />
              </Panel>
              <Panel title="Disposition">
                <Facts
                  rows={[
                    ['Disposition', dispositionLabel(n.disposition)],
                    ['Effect', n.disposition ? DISPOSITIONS.find(([v]) => v === n.disposition)?.[2] : undefined],
                    ['Comment', n.disposition_comment || undefined],
                    ['Signed by', n.disposed_by ? (n.disposed_by_name ?? person(n.disposed_by)) : undefined],
                    ['Signed', n.disposed_at ? when(n.disposed_at) : undefined],
                    [
                      'Signature SHA-256',
                      n.signature_sha256 ? (
                        <code class="small" title={n.signature_sha256}>
                          {n.signature_sha256}
                        </code>
                      ) : undefined,
                    ],
                  ]}
                />
              </Panel>
            </div>
            <Panel title="Notes">
              {open && atLeast(user(), 'engineer') ? (
                <NotesForm key={n.updated_at} nc={n} done={loaded.reload} />
              ) : (
                <p class={n.notes ? undefined : 'muted'}>{n.notes || 'No notes.'}</p>
              )}
            </Panel>
            <Dialog title="Record disposition" open={disposing} onClose={() => setDisposing(false)}>
              {disposing && (
                <DispositionForm
                  nc={n}
                  cancel={() => setDisposing(false)}
                  done={() => {
                    setDisposing(false);
                    loaded.reload();
                  }}
                  reread={() => {
                    setDisposing(false);
                    loaded.reload();
                  }}
                />
              )}
            </Dialog>
          </>
        );
      }}
    </Show>
  );
}

// ==== certificates =============================================================================

interface CertificateLine {
  run_id: string;
  measured_at: string;
  metric: string;
  value: number;
  unit?: string;
  evaluation: string;
  instrument: string;
  calibration?: string;
  specification?: string;
  lsl?: number;
  usl?: number;
  target?: number;
  lod?: number;
}
export interface Certificate {
  id: string;
  sample_id: string;
  run_ids: string[];
  content: {
    organization: string;
    sample_name: string;
    sample_barcode: string;
    properties: Record<string, string>;
    verify_url: string;
    lines: CertificateLine[];
  };
  sha256: string;
  byte_size: number;
  issued_by: string;
  issued_by_name: string;
  issued_at: string;
}

function pdfName(c: Certificate): string {
  return `certificate-${(c.content.sample_barcode || c.id).replace(/[^A-Za-z0-9_.-]+/g, '_')}.pdf`;
}

// Issuing, on the sample page (PI and admin): the password signs the certificate. While the sample has
// an open nonconformance the server refuses it (409), and the dialog says why.
export function IssueCertificate({ sampleId, issued }: { sampleId: string; issued: (c: Certificate) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Issue certificate
      </button>
      <Dialog title="Issue certificate of analysis" open={open} onClose={() => setOpen(false)}>
        {open && (
          <CertificateForm
            sampleId={sampleId}
            cancel={() => setOpen(false)}
            done={(c) => {
              setOpen(false);
              issued(c);
            }}
          />
        )}
      </Dialog>
    </>
  );
}

function CertificateForm({ sampleId, done, cancel }: { sampleId: string; done: (c: Certificate) => void; cancel: () => void }) {
  const form = useForm({ password: '' });
  return (
    <PasswordForm
      form={form}
      label="Issue certificate"
      submit="Issue certificate"
      onSubmit={async (v) => {
        const c = await postWithPassword<Certificate>(`/api/samples/${sampleId}/certificates`, { password: v.password });
        done(c);
      }}
      cancel={cancel}
    >
      <p class="muted small">
        The certificate lists every result of the sample's measurement runs with its limits, its judgement, the instrument and the
        calibration valid when it was measured. It is issued in your name, signed with your password; its PDF is kept as issued,
        and a QR code on it leads to a page where anyone checks a copy against it.
      </p>
      <PasswordField form={form} label="Your password" />
    </PasswordForm>
  );
}

// A certificate just issued: its PDF, its page and its public verification page.
export function IssuedCertificate({ certificate: c }: { certificate: Certificate }) {
  return (
    <div class="notice" role="status">
      <p>
        <strong>Certificate issued</strong> {when(c.issued_at)} by {c.issued_by_name}: {c.content.lines.length} result
        {c.content.lines.length === 1 ? '' : 's'} of {c.run_ids.length} run{c.run_ids.length === 1 ? '' : 's'}, SHA-256{' '}
        <code title={c.sha256}>{c.sha256.slice(0, 16)}…</code>
      </p>
      <div class="actions">
        <DownloadButton label="Download certificate PDF" path={`/api/certificates/${c.id}/pdf`} filename={pdfName(c)} />
        <a class="button" href={`/quality/certificates/${c.id}`}>
          Certificate details
        </a>
        <a class="button" href={`/verify/${c.id}`}>
          Verification page
        </a>
      </div>
    </div>
  );
}

function CertificatePage({ id }: { id: string }) {
  const loaded = useApi<Certificate>(`/api/certificates/${id}`);
  return (
    <Show loaded={loaded}>
      {(c) => (
        <>
          <PageHeader title={`Certificate of analysis · ${c.content.sample_name}`}>
            <DownloadButton label="Download certificate PDF" path={`/api/certificates/${c.id}/pdf`} filename={pdfName(c)} />
            <a class="button" href={`/verify/${c.id}`}>
              Verification page
            </a>
          </PageHeader>
          <div class="two">
            <Panel title="Certificate">
              <Facts
                rows={[
                  ['Organization', c.content.organization],
                  ['Sample', <a href={`/samples/${c.sample_id}`}>{c.content.sample_name}</a>],
                  ['Barcode', <code>{c.content.sample_barcode || '—'}</code>],
                  ['Issued', when(c.issued_at)],
                  ['Issued by', c.issued_by_name],
                  ['PDF', `${c.byte_size.toLocaleString()} bytes`],
                  ['SHA-256', <code class="small">{c.sha256}</code>],
                  ['Verify link', <code class="small">{c.content.verify_url}</code>],
                ]}
              />
            </Panel>
            <Panel title="Sample">
              <Facts rows={Object.entries(c.content.properties ?? {}).map(([k, v]) => [k, v])} />
            </Panel>
          </div>
          <Panel title="Results certified">
            <Table
              label="Results certified"
              rows={c.content.lines}
              rowKey={(l) => `${l.run_id}-${l.metric}-${l.measured_at}`}
              columns={[
                { label: 'Metric', cell: (l) => <code>{l.metric}</code> },
                { label: 'Value', cell: (l) => `${l.value}${l.unit ? ` ${l.unit}` : ''}`, class: 'num' },
                { label: 'Limits', cell: (l) => (l.lsl !== undefined || l.usl !== undefined ? `${num(l.lsl)} to ${num(l.usl)}` : '—') },
                { label: 'Judgement', cell: (l) => <EvaluationBadge evaluation={l.evaluation} /> },
                { label: 'Specification', cell: (l) => l.specification ?? '—' },
                { label: 'Instrument', cell: (l) => l.instrument },
                { label: 'Calibration', cell: (l) => l.calibration ?? '—' },
                { label: 'Measured', cell: (l) => when(l.measured_at) },
                { label: 'Run', cell: (l) => <IdLink href="/runs" id={l.run_id} /> },
              ]}
            />
          </Panel>
        </>
      )}
    </Show>
  );
}

// ---- public verification ----------------------------------------------------------------------

// SHA-256 (FIPS 180-4) in script, for a browser that has no crypto.subtle: the Web Crypto API exists
// only in secure contexts, and a lab's server may be reached over plain HTTP on its own network.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
function sha256Script(data: Uint8Array): Uint8Array {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  const w = new Uint32Array(64);
  const ror = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  h.forEach((x, i) => ov.setUint32(4 * i, x));
  return out;
}

// The SHA-256 of a file's bytes, as lowercase hex: the browser's Web Crypto, else the script above.
export async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = globalThis.crypto?.subtle
    ? new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
    : sha256Script(new Uint8Array(bytes));
  return Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join('');
}

interface Verdict {
  valid: boolean;
  issued_at: string | null;
  issued_by: string | null;
  sample_barcode: string | null;
}

// /verify/:id, the page a certificate's QR code opens, for anyone (no sign-in): the PDF in hand is
// hashed here, in the browser (the file is never sent), and its SHA-256 checked against the one
// recorded when the certificate was issued.
function VerifyCertificate({ id }: { id: string }) {
  const [checked, setChecked] = useState<{ verdict: Verdict; sha256: string; source: string } | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [hashing, setHashing] = useState(false);
  const form = useForm({ sha256: '' });
  const fileId = useId();
  const verify = async (sha256: string, source: string) => {
    const verdict = await api<Verdict>(`/api/certificates/${encodeURIComponent(id)}/verify`, { query: { sha256 } });
    setChecked({ verdict, sha256, source });
  };
  const onFile = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    setChecked(null);
    setProblem(null);
    form.reset();
    if (!file) return;
    setHashing(true);
    try {
      const hex = await sha256Hex(await file.arrayBuffer());
      await verify(hex, `the file ${file.name}`);
    } catch (err) {
      setProblem(asProblem(err));
    } finally {
      setHashing(false);
    }
  };
  const v = checked?.verdict;
  return (
    <>
      <PageHeader title="Verify a certificate of analysis" />
      <p>
        Certificate <code>{id}</code>. Choose the PDF you were given: this page computes its SHA-256 here, in your browser (the file
        is not sent anywhere), and asks the issuing laboratory's server whether it is the certificate as it was issued.
      </p>
      <div class="panel">
        <div class="field">
          <label for={fileId}>Certificate PDF</label>
          <input id={fileId} type="file" accept="application/pdf,.pdf" onChange={onFile} />
        </div>
        <form
          aria-label="Check a SHA-256"
          noValidate
          onSubmit={form.submit(async (x) => {
            setChecked(null);
            setProblem(null);
            try {
              await verify(x.sha256.trim(), 'the SHA-256 you entered');
            } catch (err) {
              // A field's message goes beside the field; anything else (no such certificate) below, as for a file.
              const p = asProblem(err);
              if (p.errors.length) throw p;
              setProblem(p);
            }
          })}
        >
          <Field
            form={form}
            name="sha256"
            label="Or paste the file's SHA-256"
            hint="64 hexadecimal digits, e.g. from sha256sum certificate.pdf"
            autocomplete="off"
          />
          <FormFooter form={form} submit="Check" />
        </form>
      </div>
      <div role="status">
        {hashing && <p class="muted">Computing the file's SHA-256…</p>}
        {problem && (
          <>
            <ProblemView problem={problem} />
            {problem.status === 404 && <p>No certificate has this id: check the link or the QR code you followed.</p>}
          </>
        )}
        {checked && v && (
          <div class="panel">
            {v.valid ? (
              <>
                <p>
                  <Badge tone="ok">Valid</Badge> <strong>This is the certificate as issued.</strong>
                </p>
                <Facts
                  rows={[
                    ['Issued', when(v.issued_at)],
                    ['Issued by', v.issued_by ?? '—'],
                    ['Sample barcode', <code>{v.sample_barcode || '—'}</code>],
                    ['Checked', checked.source],
                    ['SHA-256', <code class="small">{checked.sha256}</code>],
                  ]}
                />
              </>
            ) : (
              <>
                <p>
                  <Badge tone="bad">Not valid</Badge> <strong>This is not the certificate as issued.</strong>
                </p>
                <p>
                  The SHA-256 of {checked.source} differs from the one recorded when this certificate was issued: the file was changed
                  after it was issued, or it is another document. Do not rely on it; ask the issuing laboratory for the certificate.
                </p>
                <Facts rows={[['SHA-256', <code class="small">{checked.sha256}</code>]]} />
              </>
            )}
          </div>
        )}
      </div>
    </>
  );
}

export const routes = [
  { path: '/quality', page: SpecificationList },
  { path: '/quality/specifications', page: SpecificationList },
  { path: '/quality/specifications/new', page: NewSpecification, role: 'engineer' as const },
  { path: '/quality/specifications/:id', page: SpecificationDetailPage },
  { path: '/quality/specifications/:id/edit', page: EditSpecification, role: 'engineer' as const },
  { path: '/quality/nonconformances', page: NonconformanceList },
  { path: '/quality/nonconformances/:id', page: NonconformanceDetail },
  { path: '/quality/certificates/:id', page: CertificatePage },
  { path: '/verify/:id', page: VerifyCertificate, public: true },
];
