// Recipes and SOPs. Recipes: the list (status and name filters), create and edit (an approved or
// rejected version opens the next version), and the detail page with its approval state, its
// decisions, its versions, submit, approve and reject. SOPs: the list, create, the detail page with
// the body as the server renders it, its versions, a new version, approval or rejection, and
// acknowledgement.
import { useState } from 'preact/hooks';
import { api, atLeast, user, type User } from '../api';
import { navigate } from '../router';
import {
  ActionButton, Can, compact, Dialog, Facts, Field, FilterBar, FilterSelect, FormFooter, PagedTable, PageHeader, Panel, parseObject,
  SearchField, SelectField, Show, short, StatusBadge, Table, TextArea, useApi, useFilters, useForm, useNames, when, type Form,
  type Tone,
} from '../ui';
import {
  DecisionButtons, DecisionDialog, draftDecisionFor, DraftDecisionNote, EditVersionLink, EditVersionPage, latestOf, NewVersionNotice,
  OtherVersions, SavedAsNewVersion, saveVersion, VersionLink, VersionTimeline, type Decision, type VersionRules,
} from '../versions';
import { MarkdownHtml, MarkdownPreview } from './notebook';
import { useInstruments } from './instruments';

// ==== recipes ==================================================================================

export const RECIPE_STATUSES = ['DRAFT', 'PENDING_APPROVAL', 'APPROVED', 'REJECTED', 'SUPERSEDED'];
// A recipe version's approval state, in words (a draft is not yet waiting for anyone: grey).
const RECIPE_LABELS: Record<string, string> = {
  DRAFT: 'Draft',
  PENDING_APPROVAL: 'Pending approval',
  APPROVED: 'Approved',
  REJECTED: 'Rejected',
  SUPERSEDED: 'Superseded',
};
const RECIPE_TONES: Record<string, Tone> = { DRAFT: 'neutral' };
const recipeState = (status: string) => RECIPE_LABELS[status] ?? status;
function RecipeStatus({ status }: { status: string }) {
  return <StatusBadge status={status} labels={RECIPE_LABELS} tones={RECIPE_TONES} />;
}
// A pending or superseded version never changes; a change of an approved or rejected one is the next version.
const RECIPE_VERSIONS: VersionRules = { href: '/recipes', state: recipeState, frozen: ['PENDING_APPROVAL', 'SUPERSEDED'] };

export interface Recipe {
  id: string;
  name: string;
  description: string | null;
  instrument_id: string | null;
  sop_id: string | null;
  parameters: Record<string, unknown>;
  version: number;
  root_recipe_id: string;
  previous_version_id: string | null;
  status: string;
  author_id: string;
  submitted_at: string | null;
  approved_at: string | null;
  rejected_at: string | null;
  created_at: string;
  updated_at: string;
  extra_metadata: Record<string, unknown>;
}
interface RecipeApproval {
  id: string;
  approver_id: string;
  approver_name: string | null;
  decision: string;
  comment: string | null;
  decided_at: string;
}
interface RecipeDetail extends Recipe {
  approvals: RecipeApproval[];
  versions: { id: string; version: number; status: string; created_at: string }[];
  approvals_required: number;
  final_approval_by_admin: boolean;
}

function RecipeList() {
  const filters = useFilters(['q', 'status']);
  const instruments = useInstruments();
  return (
    <>
      <PageHeader title="Recipes">
        <Can role="engineer">
          <a class="button primary" href="/recipes/new">
            New recipe
          </a>
        </Can>
      </PageHeader>
      <FilterBar label="Filter recipes" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Part of the name" />
        <FilterSelect filters={filters} name="status" label="Status" options={RECIPE_STATUSES.map((s) => [s, recipeState(s)])} />
      </FilterBar>
      <PagedTable<Recipe>
        path="/api/recipes"
        query={filters.values}
        label="Recipes"
        empty={
          <>
            <p>No recipes match.</p>
            <Can role="engineer">
              <a href="/recipes/new">Write the first recipe</a>
            </Can>
          </>
        }
        columns={[
          { label: 'Name', cell: (r) => <a href={`/recipes/${r.id}`}>{r.name}</a> },
          { label: 'Version', cell: (r) => r.version, class: 'num' },
          { label: 'Approval', cell: (r) => <RecipeStatus status={r.status} /> },
          { label: 'Instrument', cell: (r) => instruments.name(r.instrument_id) },
          { label: 'Updated', cell: (r) => when(r.updated_at) },
        ]}
      />
    </>
  );
}

interface RecipeValues {
  name: string;
  description: string;
  instrument_id: string;
  sop_id: string;
  parameters: string;
}

function RecipeForm({ recipe }: { recipe?: RecipeDetail }) {
  const instruments = useInstruments();
  const sops = useNames<Sop>('/api/sops', (s) => `${s.code} v${s.version} — ${s.title} (${s.status})`);
  const form = useForm<RecipeValues>({
    name: recipe?.name ?? '',
    description: recipe?.description ?? '',
    instrument_id: recipe?.instrument_id ?? '',
    sop_id: recipe?.sop_id ?? '',
    parameters: JSON.stringify(recipe?.parameters ?? {}, null, 2),
  });
  const newVersion = recipe && (recipe.status === 'APPROVED' || recipe.status === 'REJECTED');
  const save = form.submit(async (v) => {
    const parameters = parseObject(v.parameters, 'parameters');
    if (recipe) {
      // An edit sends what changed; a cleared optional field is sent as null.
      const change: Record<string, unknown> = {};
      if (v.name !== recipe.name) change.name = v.name;
      for (const k of ['description', 'instrument_id', 'sop_id'] as const)
        if ((v[k] || null) !== (recipe[k] || null)) change[k] = v[k] || null;
      if (parameters && JSON.stringify(parameters) !== JSON.stringify(recipe.parameters)) change.parameters = parameters;
      await saveVersion('/api/recipes', RECIPE_VERSIONS, recipe.id, change);
    } else {
      const saved = await api<Recipe>('/api/recipes', {
        method: 'POST',
        body: { ...compact({ name: v.name, description: v.description, instrument_id: v.instrument_id, sop_id: v.sop_id }), parameters },
      });
      navigate(`/recipes/${saved.id}`);
    }
  });
  return (
    <form onSubmit={save} class="panel" aria-label={recipe ? 'Edit recipe' : 'New recipe'} noValidate>
      {newVersion && (
        <NewVersionNotice doc={recipe} rules={RECIPE_VERSIONS}>
          a draft that needs approval again.
        </NewVersionNotice>
      )}
      <div class="grid">
        <Field form={form} name="name" label="Name" required />
        {instruments.loaded.problem ? (
          <Field form={form} name="instrument_id" label="Instrument id" hint="The instrument list could not be read" />
        ) : (
          <SelectField form={form} name="instrument_id" label="Instrument" blank="None" options={instruments.options()} />
        )}
        <SelectField form={form} name="sop_id" label="SOP" blank="None" options={sops.options()} />
      </div>
      <TextArea form={form} name="description" label="Description" rows={3} />
      <TextArea form={form} name="parameters" label="Parameters (JSON object)" rows={8} hint='e.g. {"temperature_c": 450, "time_s": 30}' />
      <FormFooter
        form={form}
        submit={recipe ? (newVersion ? 'Save as new version' : 'Save changes') : 'Create recipe'}
        onCancel={() => history.back()}
      />
    </form>
  );
}

function NewRecipe() {
  return (
    <>
      <PageHeader title="New recipe" />
      <RecipeForm />
    </>
  );
}

function EditRecipe({ id }: { id: string }) {
  return (
    <EditVersionPage<RecipeDetail> title="Edit recipe" path="/api/recipes" id={id} rules={RECIPE_VERSIONS}>
      {(r) => <RecipeForm recipe={r} />}
    </EditVersionPage>
  );
}

// What the server would let `me` decide on a pending recipe (its author and those who decided may
// not), so that a button is offered only where the decision can be made; the reason when it cannot.
function decisionsFor(r: RecipeDetail, me: User | null): { approve: boolean; reject: boolean; why?: string } {
  if (!me || !atLeast(me, 'pi') || r.status !== 'PENDING_APPROVAL') return { approve: false, reject: false };
  if (r.author_id === me.id) return { approve: false, reject: false, why: 'You wrote this recipe: another PI or an admin decides on it.' };
  if (r.approvals.some((a) => a.approver_id === me.id))
    return { approve: false, reject: false, why: 'You have already decided on this version.' };
  // (Whether the final approval must be an admin's depends on earlier deciders' roles: the server says.)
  return { approve: true, reject: true };
}

function RecipeDetailPage({ id }: { id: string }) {
  const loaded = useApi<RecipeDetail>(`/api/recipes/${id}`);
  const [deciding, setDeciding] = useState<Decision | null>(null);
  const instruments = useInstruments();
  const me = user();
  return (
    <Show loaded={loaded}>
      {(r) => {
        const latest = latestOf(r);
        const approved = r.approvals.filter((a) => a.decision === 'APPROVED').length;
        const may = decisionsFor(r, me);
        return (
          <>
            <PageHeader title={`${r.name} · v${r.version}`}>
              <Can role="engineer">
                <EditVersionLink doc={r} rules={RECIPE_VERSIONS} draft="Edit" />
                {r.status === 'DRAFT' && (
                  <ActionButton
                    label="Submit for approval"
                    class="primary"
                    action={() => api(`/api/recipes/${r.id}/submit`, { method: 'POST', body: {} })}
                    done={loaded.reload}
                  />
                )}
              </Can>
              <DecisionButtons approve={may.approve} reject={may.reject} decide={setDeciding} />
            </PageHeader>
            <SavedAsNewVersion doc={r} rules={RECIPE_VERSIONS}>
              Submit it for approval when it is ready.
            </SavedAsNewVersion>
            {latest.id !== r.id && (
              <p class="notice">
                A newer version exists: <a href={`/recipes/${latest.id}`}>version {latest.version}</a> (
                {recipeState(latest.status)}).
              </p>
            )}
            <div class="two">
              <Panel title="Recipe">
                <Facts
                  rows={[
                    ['Approval', <RecipeStatus status={r.status} />],
                    ['Version', r.version],
                    ['Author', r.author_id === me?.id ? 'you' : short(r.author_id)],
                    [
                      'Instrument',
                      r.instrument_id ? <a href={`/instruments/${r.instrument_id}`}>{instruments.name(r.instrument_id)}</a> : '—',
                    ],
                    ['SOP', r.sop_id ? <a href={`/sops/${r.sop_id}`}>SOP {short(r.sop_id)}</a> : '—'],
                    ['Created', when(r.created_at)],
                    ['Submitted', when(r.submitted_at)],
                    ['Approved', r.approved_at ? when(r.approved_at) : undefined],
                    ['Rejected', r.rejected_at ? when(r.rejected_at) : undefined],
                    ['Description', r.description || '—'],
                  ]}
                />
              </Panel>
              <Panel title="Parameters">
                {Object.keys(r.parameters ?? {}).length === 0 ? (
                  <p class="muted">No parameters.</p>
                ) : (
                  <Table
                    label="Parameters"
                    rows={Object.entries(r.parameters)}
                    rowKey={([k]) => k}
                    columns={[
                      { label: 'Parameter', cell: ([k]) => <code>{k}</code> },
                      { label: 'Value', cell: ([, v]) => <code>{typeof v === 'string' ? v : JSON.stringify(v)}</code> },
                    ]}
                  />
                )}
              </Panel>
            </div>
            <Panel title="Approvals">
              <p class="muted">
                {r.approvals_required} approval{r.approvals_required === 1 ? '' : 's'} needed
                {r.final_approval_by_admin ? ', the last by an admin' : ''}; PIs and admins decide, never the author.
                {r.status === 'PENDING_APPROVAL' && ` ${approved} of ${r.approvals_required} given so far.`}
              </p>
              {may.why && <p class="notice small">{may.why}</p>}
              {r.approvals.length === 0 ? (
                <div class="empty">No decisions yet.</div>
              ) : (
                <Table
                  label="Approvals"
                  rows={r.approvals}
                  columns={[
                    { label: 'Decided by', cell: (a) => a.approver_name ?? short(a.approver_id) },
                    { label: 'Decision', cell: (a) => <StatusBadge status={a.decision} /> },
                    { label: 'Comment', cell: (a) => a.comment ?? '—' },
                    { label: 'When', cell: (a) => when(a.decided_at) },
                  ]}
                />
              )}
            </Panel>
            <Panel title="Versions">
              <Table
                label="Versions"
                rows={[...r.versions].reverse()}
                columns={[
                  { label: 'Version', cell: (v) => <VersionLink v={v} current={r.id} href="/recipes" /> },
                  { label: 'Approval', cell: (v) => <RecipeStatus status={v.status} /> },
                  { label: 'Created', cell: (v) => when(v.created_at) },
                ]}
              />
            </Panel>
            <DecisionDialog
              path={`/api/recipes/${r.id}`}
              what="recipe"
              deciding={deciding}
              setDeciding={setDeciding}
              done={loaded.reload}
            />
          </>
        );
      }}
    </Show>
  );
}

// ==== SOPs =====================================================================================

export const SOP_STATUSES = ['DRAFT', 'EFFECTIVE', 'REJECTED', 'OBSOLETE'];

export interface Sop {
  id: string;
  code: string;
  version: number;
  title: string;
  body_markdown: string;
  status: string;
  previous_version_id: string | null;
  approved_by: string | null;
  approved_at: string | null;
  rejected_by?: string | null;
  rejected_at?: string | null;
  decision_comment?: string | null; // the approver's or the rejecter's comment
  created_by: string;
  created_at: string;
  updated_at: string;
}
interface SopDetail extends Sop {
  body_html: string;
  editors: string[]; // who changed this version after it was written (its audit trail): like its author, never a decider
  versions: { id: string; version: number; status: string; title: string; approved_at: string | null; created_at: string }[];
  acknowledgements: { id: string; user_id: string; full_name: string | null; acknowledged_at: string }[];
}

function SopList() {
  const filters = useFilters(['q', 'status']);
  return (
    <>
      <PageHeader title="SOPs">
        <Can role="engineer">
          <a class="button primary" href="/sops/new">
            New SOP
          </a>
        </Can>
      </PageHeader>
      <FilterBar label="Filter SOPs" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Code or title" />
        <FilterSelect filters={filters} name="status" label="Status" options={SOP_STATUSES} />
      </FilterBar>
      <PagedTable<Sop>
        path="/api/sops"
        query={filters.values}
        label="SOPs"
        empty={
          <>
            <p>No SOPs match.</p>
            <Can role="engineer">
              <a href="/sops/new">Write the first SOP</a>
            </Can>
          </>
        }
        columns={[
          { label: 'Code', cell: (s) => <code>{s.code}</code> },
          { label: 'Title', cell: (s) => <a href={`/sops/${s.id}`}>{s.title}</a> },
          { label: 'Version', cell: (s) => s.version, class: 'num' },
          { label: 'Status', cell: (s) => <StatusBadge status={s.status} /> },
          { label: 'Effective since', cell: (s) => (s.status === 'DRAFT' ? '—' : when(s.approved_at)) },
          { label: 'Updated', cell: (s) => when(s.updated_at) },
        ]}
      />
    </>
  );
}

// The body's markdown and the server's preview of it.
function SopBody<V extends { body_markdown: string }>({ form }: { form: Form<V> }) {
  return (
    <div class="editor">
      <TextArea form={form} name="body_markdown" label="Body (markdown)" rows={14} />
      <section aria-labelledby="sop-preview-h">
        <h2 id="sop-preview-h" class="small">
          Preview
        </h2>
        <MarkdownPreview markdown={form.values.body_markdown} label="Preview of the SOP body" />
      </section>
    </div>
  );
}

function NewSop() {
  const form = useForm({ code: '', title: '', body_markdown: '' });
  return (
    <>
      <PageHeader title="New SOP" />
      <form
        class="panel"
        aria-label="New SOP"
        noValidate
        onSubmit={form.submit(async (v) => {
          const saved = await api<Sop>('/api/sops', { method: 'POST', body: v });
          navigate(`/sops/${saved.id}`);
        })}
      >
        <div class="grid">
          <Field form={form} name="code" label="Code" hint="Shared by its versions, e.g. SOP-001" required />
          <Field form={form} name="title" label="Title" required />
        </div>
        <SopBody form={form} />
        <FormFooter form={form} submit="Create SOP" onCancel={() => history.back()} />
      </form>
    </>
  );
}

// A new version (POST /versions) or a change of this draft (PATCH).
function SopVersionForm({ sop, mode, done, cancel }: { sop: SopDetail; mode: 'version' | 'edit'; done: (s: Sop) => void; cancel: () => void }) {
  const form = useForm({ title: sop.title, body_markdown: sop.body_markdown });
  return (
    <form
      aria-label={mode === 'version' ? 'New SOP version' : 'Edit SOP draft'}
      noValidate
      onSubmit={form.submit(async (v) => {
        const saved =
          mode === 'version'
            ? await api<Sop>(`/api/sops/${sop.id}/versions`, { method: 'POST', body: v })
            : await api<Sop>(`/api/sops/${sop.id}`, {
                method: 'PATCH',
                body: compact({ title: v.title !== sop.title ? v.title : '', body_markdown: v.body_markdown !== sop.body_markdown ? v.body_markdown : '' }),
              });
        done(saved);
      })}
    >
      {mode === 'version' && (
        <p class="muted small">The new version is a draft until a PI or an admin approves it; the effective version stays in force until then.</p>
      )}
      <Field form={form} name="title" label="Title" required />
      <TextArea form={form} name="body_markdown" label="Body (markdown)" rows={10} />
      <h3 class="small">Preview</h3>
      <MarkdownPreview markdown={form.values.body_markdown} label="Preview of the SOP body" />
      <FormFooter form={form} submit={mode === 'version' ? 'Create version' : 'Save draft'} onCancel={cancel} />
    </form>
  );
}

function SopDetailPage({ id }: { id: string }) {
  const loaded = useApi<SopDetail>(`/api/sops/${id}`);
  const [editing, setEditing] = useState<'version' | 'edit' | null>(null);
  const [deciding, setDeciding] = useState<Decision | null>(null);
  const me = user();
  return (
    <Show loaded={loaded}>
      {(s) => {
        const mine = s.acknowledgements.find((a) => a.user_id === me?.id);
        const effective = s.versions.find((v) => v.status === 'EFFECTIVE');
        const draft = s.versions.find((v) => v.status === 'DRAFT');
        const decision = draftDecisionFor(s, s.created_by, me);
        return (
          <>
            <PageHeader title={`${s.code} v${s.version} · ${s.title}`}>
              <Can role="engineer">
                {s.status === 'DRAFT' ? (
                  <button type="button" onClick={() => setEditing('edit')}>
                    Edit draft
                  </button>
                ) : (
                  !draft && (
                    <button type="button" onClick={() => setEditing('version')}>
                      New version
                    </button>
                  )
                )}
              </Can>
              <DecisionButtons approve={decision.may} reject={decision.may} decide={setDeciding} />
              {s.status === 'EFFECTIVE' && !mine && (
                <ActionButton
                  label="Acknowledge"
                  class="primary"
                  action={() => api(`/api/sops/${s.id}/acknowledge`, { method: 'POST', body: {} })}
                  done={loaded.reload}
                />
              )}
            </PageHeader>
            {s.status === 'EFFECTIVE' && (
              <p class={mine ? 'notice' : 'muted'} role="status">
                {mine
                  ? `You acknowledged having read this version on ${when(mine.acknowledged_at)}.`
                  : 'You have not acknowledged this version yet.'}
              </p>
            )}
            <OtherVersions doc={s} href="/sops" />
            <DraftDecisionNote doc={s} why={decision.why}>
              A PI or an admin approves this draft (it becomes effective) or rejects it; never its author or anyone who changed it.
            </DraftDecisionNote>
            <div class="two">
              <Panel title="SOP">
                <Facts
                  rows={[
                    ['Code', <code>{s.code}</code>],
                    ['Version', s.version],
                    ['Status', <StatusBadge status={s.status} />],
                    ['Approved', s.status === 'REJECTED' ? undefined : when(s.approved_at)],
                    ['Rejected', s.rejected_at ? when(s.rejected_at) : undefined],
                    ['Comment', s.decision_comment || undefined],
                    ['Created', when(s.created_at)],
                    ['Updated', when(s.updated_at)],
                  ]}
                />
              </Panel>
              <Panel title="Versions">
                <VersionTimeline
                  versions={s.versions}
                  current={s.id}
                  href="/sops"
                  badge={(status) => <StatusBadge status={status} />}
                  name={(v) => v.title}
                />
              </Panel>
            </div>
            <Panel title="Procedure">
              <MarkdownHtml html={s.body_html} label="SOP body" />
            </Panel>
            <Panel title="Acknowledgements">
              {s.acknowledgements.length === 0 ? (
                <div class="empty">Nobody has acknowledged this version.</div>
              ) : (
                <Table
                  label="Acknowledgements"
                  rows={s.acknowledgements}
                  columns={[
                    { label: 'Who', cell: (a) => a.full_name ?? short(a.user_id) },
                    { label: 'When', cell: (a) => when(a.acknowledged_at) },
                  ]}
                />
              )}
            </Panel>
            <Dialog
              title={editing === 'edit' ? 'Edit SOP draft' : 'New SOP version'}
              open={editing !== null}
              onClose={() => setEditing(null)}
            >
              {editing && (
                <SopVersionForm
                  sop={s}
                  mode={editing}
                  cancel={() => setEditing(null)}
                  done={(saved) => {
                    setEditing(null);
                    if (saved.id === s.id) loaded.reload();
                    else navigate(`/sops/${saved.id}`);
                  }}
                />
              )}
            </Dialog>
            <DecisionDialog
              path={`/api/sops/${s.id}`}
              what="SOP"
              deciding={deciding}
              setDeciding={setDeciding}
              note={(d) =>
                d === 'approve'
                  ? `Version ${s.version} of ${s.code} becomes effective.${effective ? ` Version ${effective.version} becomes obsolete.` : ''}`
                  : `Version ${s.version} of ${s.code} becomes rejected and stays as it is; a new version can follow it.`
              }
              done={loaded.reload}
            />
          </>
        );
      }}
    </Show>
  );
}

export const routes = [
  { path: '/recipes', page: RecipeList },
  { path: '/recipes/new', page: NewRecipe, role: 'engineer' as const },
  { path: '/recipes/:id', page: RecipeDetailPage },
  { path: '/recipes/:id/edit', page: EditRecipe, role: 'engineer' as const },
  { path: '/sops', page: SopList },
  { path: '/sops/new', page: NewSop, role: 'engineer' as const },
  { path: '/sops/:id', page: SopDetailPage },
];
