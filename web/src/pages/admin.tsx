// Administration: the organization's users (a PI manages its engineers, technicians and viewers; an
// admin everyone), and for admins its API keys, its settings, and its audit trail with the signed
// checkpoint of its head. Webhooks (pages/webhooks.tsx) are a tab of this frame too.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, atLeast, Problem, user as me, type Role } from '../api';
import { useLocation } from '../router';
import {
  ActionButton, Badge, compact, Dialog, Facts, Field, FilterBar, FilterInput, FilterSelect, FormFooter, localInput, PagedTable,
  PageHeader, Panel, ProblemView, SearchField, SelectField, Show, StatusBadge, Tabs, toNumber, useApi, useFilters, useForm, useNames,
  useRefresh, when, day, short, type Fact,
} from '../ui';

// ---- shapes ---------------------------------------------------------------------------------

interface UserRow {
  id: string;
  email: string;
  full_name: string;
  role: Role;
  is_active: boolean;
  is_service_account: boolean;
  last_login_at: string | null;
  password_changed_at: string | null;
  created_at: string;
  updated_at: string;
}

interface ApiKey {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  role: Role;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  last_used_at: string | null;
  created_by: string;
  created_at: string;
  key?: string; // only in the answer to the create
}

interface Organization {
  id: string;
  name: string;
  slug: string;
  settings: { recipe_approvals_required?: number; final_approval_by_admin?: boolean; [k: string]: unknown };
  created_at: string;
  updated_at: string;
}

interface AuditEvent {
  id: string;
  seq: number | null;
  actor_id: string | null;
  actor_type: string;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: unknown;
  after: unknown;
  request_id: string | null;
  client_addr: string | null;
  created_at: string;
  hash: string | null;
}

interface Checkpoint {
  organization_id: string;
  seq: number;
  hash: string;
  signed_at: string;
  key_id: string;
  signature: string;
}

const ROLES: Role[] = ['viewer', 'technician', 'engineer', 'pi', 'admin'];
const KEY_ROLES: Role[] = ['viewer', 'technician', 'engineer', 'pi'];
// A PI manages engineers, technicians and viewers: never creates, edits or raises anyone to pi or
// admin (the server refuses it). An admin manages everyone.
const PI_MANAGES: Role[] = ['engineer', 'technician', 'viewer'];
const assignableRoles = (): Role[] => (me()?.role === 'admin' ? ROLES : ROLES.filter((r) => PI_MANAGES.includes(r)));
const manages = (u: UserRow): boolean => me()?.role === 'admin' || PI_MANAGES.includes(u.role);
// The scopes the server knows (auth/rbac.cpp known_scopes); "x:write" implies "x:read".
const SCOPES = [
  'samples:read', 'samples:write', 'runs:read', 'runs:write', 'results:write', 'calibrations:read', 'calibrations:write',
  'instruments:read', 'instruments:write', 'recipes:read', 'recipes:write', 'sops:read', 'sops:write', 'eln:read',
  'eln:write', 'spc:read', 'spc:write', 'ml:read', 'ml:write', 'attachments:read', 'attachments:write', 'users:read',
  'audit:read',
];

// ---- the frame: one heading, the section tabs ------------------------------------------------------

// A PI manages the team (users); the rest is an admin's.
const TABS: [string, string, Role][] = [
  ['/admin/users', 'Users', 'pi'],
  ['/admin/api-keys', 'API keys', 'admin'],
  ['/admin/organization', 'Organization', 'admin'],
  ['/admin/webhooks', 'Webhooks', 'admin'],
  ['/admin/audit', 'Audit trail', 'admin'],
];

export function AdminFrame({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  const { path } = useLocation();
  // A tab's own pages (a webhook's) keep it current.
  const current = TABS.find(([href]) => path === href || path.startsWith(`${href}/`))?.[0] ?? '/admin/users';
  return (
    <>
      <PageHeader title={title}>{actions}</PageHeader>
      <Tabs
        label="Administration"
        tabs={TABS.filter(([, , role]) => atLeast(me(), role)).map(([href, label]) => [href, label])}
        current={current}
      />
      {children}
    </>
  );
}

// ---- users --------------------------------------------------------------------------------------------

function NewUserForm({ done }: { done: () => void }) {
  const form = useForm({ email: '', full_name: '', role: 'technician', password: '' });
  return (
    <form
      aria-label="New user"
      noValidate
      onSubmit={form.submit(async (v) => {
        await api('/api/users', { method: 'POST', body: { ...v, email: v.email.trim(), full_name: v.full_name.trim() } });
        done();
      })}
    >
      <Field form={form} name="email" label="Email" type="email" autocomplete="off" required />
      <Field form={form} name="full_name" label="Full name" required />
      <SelectField form={form} name="role" label="Role" options={assignableRoles()} />
      <Field form={form} name="password" label="Initial password" type="password" autocomplete="new-password" required />
      <FormFooter form={form} submit="Create user" onCancel={done} />
    </form>
  );
}

function EditUserForm({ u, done }: { u: UserRow; done: () => void }) {
  const form = useForm({ full_name: u.full_name, role: u.role as string, is_active: u.is_active });
  return (
    <form
      aria-label={`Edit ${u.email}`}
      noValidate
      onSubmit={form.submit(async (v) => {
        const change: Record<string, unknown> = {};
        if (v.full_name.trim() !== u.full_name) change.full_name = v.full_name.trim();
        if (v.role !== u.role) change.role = v.role;
        if (v.is_active !== u.is_active) change.is_active = v.is_active;
        if (Object.keys(change).length) await api(`/api/users/${u.id}`, { method: 'PATCH', body: change });
        done();
      })}
    >
      <p class="muted small">{u.email}</p>
      <Field form={form} name="full_name" label="Full name" required />
      <SelectField form={form} name="role" label="Role" options={assignableRoles()} />
      <Field form={form} name="is_active" label="Active (may sign in)" type="checkbox" />
      <FormFooter form={form} submit="Save changes" onCancel={done} />
    </form>
  );
}

function Users() {
  const filters = useFilters(['q', 'role', 'is_active']);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<UserRow | null>(null);
  const [refresh, again] = useRefresh();
  return (
    <AdminFrame
      title="Users"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New user
        </button>
      }
    >
      <FilterBar label="Filter users" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Email or name" />
        <FilterSelect filters={filters} name="role" label="Role" options={ROLES} />
        <FilterSelect
          filters={filters}
          name="is_active"
          label="Active"
          options={[
            ['true', 'Active'],
            ['false', 'Deactivated'],
          ]}
        />
      </FilterBar>
      <PagedTable<UserRow>
        path="/api/users"
        query={filters.values}
        label="Users"
        refresh={refresh}
        empty={<p>No users match.</p>}
        columns={[
          {
            label: 'Name',
            cell: (u) => (
              <>
                {u.full_name} {u.is_service_account && <Badge tone="info">API key</Badge>}
              </>
            ),
          },
          { label: 'Email', cell: (u) => u.email },
          { label: 'Role', cell: (u) => u.role },
          { label: 'Status', cell: (u) => (u.is_active ? <Badge tone="ok">active</Badge> : <Badge tone="bad">deactivated</Badge>) },
          { label: 'Last sign-in', cell: (u) => when(u.last_login_at) },
          {
            label: 'Actions',
            cell: (u) =>
              !manages(u) ? (
                <span class="muted small">An admin manages {u.role} accounts</span>
              ) : (
                <div class="page-actions">
                  <button type="button" onClick={() => setEditing(u)} aria-label={`Edit ${u.email}`}>
                    Edit
                  </button>
                  {u.id !== me()?.id &&
                    (u.is_active ? (
                      <ActionButton
                        label="Deactivate"
                        class="danger"
                        confirm={`Deactivate ${u.email}? They can no longer sign in.`}
                        action={() => api(`/api/users/${u.id}`, { method: 'DELETE' })}
                        done={again}
                      />
                    ) : (
                      <ActionButton
                        label="Activate"
                        action={() => api(`/api/users/${u.id}`, { method: 'PATCH', body: { is_active: true } })}
                        done={again}
                      />
                    ))}
                </div>
              ),
          },
        ]}
      />
      <Dialog title="New user" open={creating} onClose={() => setCreating(false)}>
        <NewUserForm
          done={() => {
            setCreating(false);
            again();
          }}
        />
      </Dialog>
      <Dialog title="Edit user" open={!!editing} onClose={() => setEditing(null)}>
        {editing && (
          <EditUserForm
            u={editing}
            done={() => {
              setEditing(null);
              again();
            }}
          />
        )}
      </Dialog>
    </AdminFrame>
  );
}

// ---- API keys -------------------------------------------------------------------------------------

function NewKeyForm({ created, cancel }: { created: (k: ApiKey) => void; cancel: () => void }) {
  const form = useForm({ name: '', role: 'engineer', scopes: [] as string[], expires_at: '' });
  form.shown.add('scopes');
  const scopesError = form.error('scopes');
  const toggle = (s: string) =>
    form.set('scopes', form.values.scopes.includes(s) ? form.values.scopes.filter((x) => x !== s) : [...form.values.scopes, s]);
  return (
    <form
      aria-label="New API key"
      noValidate
      onSubmit={form.submit(async (v) => {
        // The end of the chosen day, in the browser's time zone (a date input is a valid date or empty).
        const expires = v.expires_at ? new Date(`${v.expires_at}T23:59:59`).toISOString() : undefined;
        const k = await api<ApiKey>('/api/api-keys', {
          method: 'POST',
          body: compact({ name: v.name.trim(), role: v.role, scopes: v.scopes, expires_at: expires }),
        });
        created(k);
      })}
    >
      <Field form={form} name="name" label="Name" required hint="What uses the key, e.g. the ellipsometer's uploader" />
      <SelectField form={form} name="role" label="Role of the key's account" options={KEY_ROLES} />
      <fieldset
        class={`choices${scopesError ? ' invalid' : ''}`}
        aria-describedby={scopesError ? 'key-scopes-error' : undefined}
      >
        <legend>Scopes</legend>
        <div class="choice-grid">
          {SCOPES.map((s) => (
            <label key={s}>
              <input type="checkbox" checked={form.values.scopes.includes(s)} onChange={() => toggle(s)} />
              <code>{s}</code>
            </label>
          ))}
        </div>
        <small class="muted">A write scope also allows reading.</small>
        {scopesError && (
          <small id="key-scopes-error" class="field-error">
            {scopesError}
          </small>
        )}
      </fieldset>
      <Field form={form} name="expires_at" label="Expires on (optional)" type="date" hint="At the end of that day" />
      <FormFooter form={form} submit="Create key" onCancel={cancel} />
    </form>
  );
}

// A secret the server shows once (an API key, a webhook's signing secret): copy it now, or lose it.
export function SecretNotice(props: { title: string; noun: string; secret: string; id: string; note?: string; dismiss: () => void }) {
  const { title, noun, secret, id, note, dismiss } = props;
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('Copied to the clipboard.');
    } catch {
      const el = document.getElementById(id);
      if (el) {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel?.removeAllRanges();
        sel?.addRange(range);
      }
      setCopied(`The browser refused the clipboard: the ${noun} is selected, copy it with Ctrl+C.`);
    }
  };
  return (
    <section class="notice" aria-labelledby={`${id}-h`} role="status">
      <h2 id={`${id}-h`}>{title}</h2>
      <p>
        <strong>Copy the {noun} now: it will not be shown again.</strong> {note}
      </p>
      <p>
        <code id={id} class="secret">
          {secret}
        </code>
      </p>
      <div class="actions">
        <button type="button" class="primary" onClick={() => void copy()}>
          Copy {noun}
        </button>
        <button type="button" onClick={dismiss}>
          I have saved it
        </button>
      </div>
      {copied && <p class="small">{copied}</p>}
    </section>
  );
}

function ApiKeys() {
  const [creating, setCreating] = useState(false);
  const [fresh, setFresh] = useState<ApiKey | null>(null);
  const [refresh, again] = useRefresh();
  return (
    <AdminFrame
      title="API keys"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New API key
        </button>
      }
    >
      {fresh && (
        <SecretNotice
          title={`API key “${fresh.name}” created`}
          noun="key"
          secret={fresh.key ?? ''}
          id="new-api-key"
          note="Only its prefix is kept for display."
          dismiss={() => setFresh(null)}
        />
      )}
      <p class="muted small">
        A key acts for its own service account, with that account's role and the key's scopes: a request passes only where
        both allow it. Send it as <code>Authorization: Bearer sk_…</code> or <code>X-API-Key</code>.
      </p>
      <PagedTable<ApiKey>
        path="/api/api-keys"
        label="API keys"
        refresh={refresh}
        empty={<p>No API keys yet.</p>}
        columns={[
          { label: 'Name', cell: (k) => k.name },
          { label: 'Prefix', cell: (k) => <code>{k.prefix}…</code> },
          { label: 'Role', cell: (k) => k.role },
          { label: 'Scopes', cell: (k) => <span class="small">{k.scopes.join(', ')}</span> },
          {
            label: 'Status',
            cell: (k) =>
              k.revoked_at ? (
                <StatusBadge status="REVOKED" />
              ) : k.expires_at && new Date(k.expires_at) < new Date() ? (
                <StatusBadge status="EXPIRED" />
              ) : (
                <Badge tone="ok">active</Badge>
              ),
          },
          { label: 'Expires', cell: (k) => day(k.expires_at) },
          { label: 'Last used', cell: (k) => when(k.last_used_at) },
          { label: 'Created', cell: (k) => when(k.created_at) },
          {
            label: 'Actions',
            cell: (k) =>
              k.revoked_at ? (
                <span class="muted small">revoked {when(k.revoked_at)}</span>
              ) : (
                <ActionButton
                  label="Revoke"
                  class="danger"
                  confirm={`Revoke the API key ${k.name}? Whatever uses it stops working.`}
                  action={() => api(`/api/api-keys/${k.id}`, { method: 'DELETE' })}
                  done={again}
                />
              ),
          },
        ]}
      />
      <Dialog title="New API key" open={creating} onClose={() => setCreating(false)}>
        <NewKeyForm
          cancel={() => setCreating(false)}
          created={(k) => {
            setCreating(false);
            setFresh(k);
            again();
          }}
        />
      </Dialog>
    </AdminFrame>
  );
}

// ---- organization ---------------------------------------------------------------------------------

function OrganizationForm({ org, saved }: { org: Organization; saved: (o: Organization) => void }) {
  const form = useForm({
    name: org.name,
    recipe_approvals_required: String(org.settings.recipe_approvals_required ?? 1),
    final_approval_by_admin: !!org.settings.final_approval_by_admin,
  });
  const [done, setDone] = useState(false);
  return (
    <form
      aria-label="Organization settings"
      noValidate
      onSubmit={form.submit(async (v) => {
        setDone(false);
        const n = toNumber(String(v.recipe_approvals_required));
        const body: Record<string, unknown> = {
          settings: { recipe_approvals_required: n, final_approval_by_admin: v.final_approval_by_admin },
        };
        if (v.name.trim() !== org.name) body.name = v.name.trim();
        const o = await api<Organization>('/api/organization', { method: 'PATCH', body });
        setDone(true);
        saved(o);
      })}
    >
      <div class="grid">
        <Field form={form} name="name" label="Name" required />
        <Field
          form={form}
          name="recipe_approvals_required"
          field="settings.recipe_approvals_required"
          label="Approvals a recipe needs"
          type="number"
          min={1}
          max={10}
          step={1}
          hint="1 to 10"
        />
        <Field
          form={form}
          name="final_approval_by_admin"
          field="settings.final_approval_by_admin"
          label="The last approval must come from an admin"
          type="checkbox"
        />
      </div>
      {done && (
        <p class="notice" role="status">
          Settings saved.
        </p>
      )}
      <FormFooter form={form} submit="Save settings" />
    </form>
  );
}

function OrganizationPage() {
  const loaded = useApi<Organization>('/api/organization');
  const [org, setOrg] = useState<Organization | null>(null);
  useEffect(() => {
    if (loaded.data) setOrg(loaded.data);
  }, [loaded.data]);
  return (
    <AdminFrame title="Organization">
      <Show loaded={loaded}>
        {(first) => {
          const o = org ?? first;
          const known = new Set(['recipe_approvals_required', 'final_approval_by_admin']);
          const others = Object.entries(o.settings ?? {}).filter(([k]) => !known.has(k));
          return (
            <>
              <Panel title={o.name}>
                <Facts
                  rows={[
                    ['Slug', <code>{o.slug}</code>],
                    ['Id', <code>{o.id}</code>],
                    ['Created', when(o.created_at)],
                    ['Updated', when(o.updated_at)],
                    ...others.map(([k, v]): Fact => [k, <code>{JSON.stringify(v)}</code>]),
                  ]}
                />
              </Panel>
              <Panel title="Settings">
                <OrganizationForm org={o} saved={setOrg} />
              </Panel>
            </>
          );
        }}
      </Show>
    </AdminFrame>
  );
}

// ---- audit trail ------------------------------------------------------------------------------------

function CheckpointPanel() {
  const loaded = useApi<Checkpoint>('/api/audit/checkpoint');
  return (
    <Panel title="Latest signed checkpoint">
      <p class="muted small">
        The organization's audit head, signed (Ed25519). Keep copies outside the database: a later trail must still contain
        this sequence number with this hash. Verify it with the{' '}
        <a href="/.well-known/audit-keys.json" target="_blank" rel="noopener">
          public audit keys
        </a>
        .
      </p>
      <Show loaded={loaded}>
        {(c) => (
          <>
            <Facts
              rows={[
                ['Sequence', c.seq],
                ['Hash', <code>{c.hash || '—'}</code>],
                ['Signed at', when(c.signed_at)],
                ['Key id', <code>{c.key_id}</code>],
                ['Signature', <code>{c.signature}</code>],
              ]}
            />
            <div class="actions">
              <button type="button" onClick={loaded.reload}>
                Sign the current head again
              </button>
            </div>
          </>
        )}
      </Show>
    </Panel>
  );
}

function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">—</span>;
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

function Audit() {
  // The since filter is an ISO time in the address, local time in its field; the actor waits for Filter too.
  const filters = useFilters(['entity_type', 'entity_id', 'actor_id', 'action', 'since'], { since: localInput });
  const draft = filters.text;
  const users = useNames<UserRow>('/api/users', (u) => u.email);
  const [problem, setProblem] = useState<Problem | null>(null);
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  return (
    <AdminFrame title="Audit trail">
      <CheckpointPanel />
      <section aria-labelledby="events-h">
        <h2 id="events-h">Events</h2>
        <FilterBar
          label="Filter audit events"
          filters={filters}
          submit="Filter"
          onSubmit={() => {
            setProblem(null);
            const errors = [];
            if (draft.entity_id.trim() && !uuid.test(draft.entity_id.trim())) errors.push({ field: 'entity_id', message: 'must be a UUID' });
            if (draft.actor_id.trim() && !uuid.test(draft.actor_id.trim())) errors.push({ field: 'actor_id', message: 'must be a UUID' });
            const since = draft.since ? new Date(draft.since) : null;
            if (since && Number.isNaN(since.getTime())) errors.push({ field: 'since', message: 'must be a date and time' });
            if (errors.length) {
              setProblem(new Problem(0, 'Check the filters', '', errors));
              return;
            }
            filters.search({ since: since ? since.toISOString() : undefined });
          }}
        >
          <FilterInput filters={filters} name="entity_type" label="Entity type" placeholder="e.g. sample" />
          <FilterInput filters={filters} name="entity_id" label="Entity id" autocomplete="off" />
          <FilterSelect filters={filters} name="actor_id" label="Actor" any="Anyone" options={users.options(draft.actor_id)} deferred />
          <FilterInput filters={filters} name="action" label="Action" placeholder="e.g. sample.create" />
          <FilterInput filters={filters} name="since" label="Since" type="datetime-local" />
        </FilterBar>
        <ProblemView problem={problem} />
        <PagedTable<AuditEvent>
          path="/api/audit"
          query={filters.values}
          label="Audit events"
          empty={<p>No audit events match.</p>}
          columns={[
            { label: 'Seq', cell: (a) => a.seq ?? <span class="muted">pending</span>, class: 'num' },
            { label: 'When', cell: (a) => when(a.created_at) },
            { label: 'Action', cell: (a) => <code>{a.action}</code> },
            {
              label: 'Entity',
              cell: (a) => (
                <>
                  {a.entity_type}{' '}
                  {a.entity_id && (
                    <a href={`/admin/audit?entity_type=${encodeURIComponent(a.entity_type)}&entity_id=${a.entity_id}`} title={a.entity_id}>
                      {short(a.entity_id)}
                    </a>
                  )}
                </>
              ),
            },
            {
              label: 'Actor',
              cell: (a) =>
                a.actor_id ? (
                  <span title={a.actor_id}>{users.name(a.actor_id)}</span>
                ) : (
                  <span class="muted">{a.actor_type}</span>
                ),
            },
            { label: 'From', cell: (a) => <span class="small">{a.client_addr ?? '—'}</span> },
            {
              label: 'Change',
              cell: (a) =>
                a.before == null && a.after == null ? (
                  <span class="muted">—</span>
                ) : (
                  <details>
                    <summary>Before / after</summary>
                    <h3 class="small tight">
                      Before
                    </h3>
                    <Json value={a.before} />
                    <h3 class="small tight">
                      After
                    </h3>
                    <Json value={a.after} />
                    {a.request_id && <p class="muted small">Request {a.request_id}</p>}
                  </details>
                ),
            },
          ]}
        />
      </section>
    </AdminFrame>
  );
}

export const routes = [
  { path: '/admin', page: Users, role: 'pi' as const },
  { path: '/admin/users', page: Users, role: 'pi' as const },
  { path: '/admin/api-keys', page: ApiKeys, role: 'admin' as const },
  { path: '/admin/organization', page: OrganizationPage, role: 'admin' as const },
  { path: '/admin/audit', page: Audit, role: 'admin' as const },
];
