// Webhooks (admins): the organization's endpoints, create (the signing secret shown once), edit,
// enable or disable, delete, and each endpoint's delivery log with every attempt and a redelivery.
import { useId, useState } from 'preact/hooks';
import { api } from '../api';
import { navigate } from '../router';
import {
  ActionButton, Badge, compact, Dialog, Facts, Field, FormFooter, PagedTable, Panel, Show, StatusBadge, useApi, useForm, useRefresh,
  when,
} from '../ui';
import { AdminFrame, SecretNotice } from './admin';
import { EVENTS } from './notifications';

interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  is_active: boolean;
  failures_in_row: number;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
  secret?: string; // only in the answer to the create
}

interface Attempt {
  status_code: number | null; // null: no answer came
  duration_ms: number;
  error: string | null;
  response_excerpt: string | null;
  created_at: string;
}

interface Delivery {
  id: string;
  message_id: string;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
  attempts_log: Attempt[];
}

const DELIVERY_LABELS = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };

interface WebhookValues {
  url: string;
  events: string[];
  description: string;
}

// The endpoint's URL, the events it takes and its description; the server judges them (a private
// address or credentials in the URL, an unknown event) and its messages are shown where they belong.
function WebhookForm(props: {
  label: string;
  submit: string;
  initial?: Webhook;
  save: (v: WebhookValues) => Promise<unknown>;
  cancel: () => void;
}) {
  const { label, submit, initial, save, cancel } = props;
  const form = useForm<WebhookValues>({ url: initial?.url ?? '', events: initial?.events ?? [], description: initial?.description ?? '' });
  const errorId = useId();
  // The server names the list ("events") or one of its items by its place ("events[0]").
  const eventErrors = form.problem?.errors.filter((e) => /^events(\[\d+\])?$/.test(e.field)) ?? [];
  form.shown.add('events');
  eventErrors.forEach((e) => form.shown.add(e.field));
  const toggle = (event: string) => {
    const chosen = form.values.events.includes(event);
    form.set('events', EVENTS.filter((e) => (e === event ? !chosen : form.values.events.includes(e))));
  };
  return (
    <form
      aria-label={label}
      noValidate
      onSubmit={form.submit((v) => save({ url: v.url.trim(), events: v.events, description: v.description.trim() }))}
    >
      <Field form={form} name="url" label="URL" type="url" autocomplete="off" required hint="https://…, where each event is POSTed as JSON" />
      <fieldset class={`choices${eventErrors.length ? ' invalid' : ''}`} aria-describedby={eventErrors.length ? errorId : undefined}>
        <legend>Events</legend>
        <div class="choice-grid">
          {EVENTS.map((e) => (
            <label key={e}>
              <input type="checkbox" checked={form.values.events.includes(e)} onChange={() => toggle(e)} />
              <code>{e}</code>
            </label>
          ))}
        </div>
        {eventErrors.length > 0 && (
          <small id={errorId} class="field-error">
            {eventErrors.map((e) => e.message).join('; ')}
          </small>
        )}
      </fieldset>
      <Field form={form} name="description" label="Description (optional)" autocomplete="off" />
      <FormFooter form={form} submit={submit} onCancel={cancel} />
    </form>
  );
}

function WebhookState({ w }: { w: Webhook }) {
  if (w.is_active) return <Badge tone="ok">active</Badge>;
  if (!w.disabled_reason) return <Badge tone="neutral">inactive</Badge>;
  return (
    <>
      <Badge tone="bad">disabled</Badge>
      <div class="small muted">{w.disabled_reason}</div>
    </>
  );
}

// Enable or disable, and delete (confirmed): `done` after either, `deleted` after a delete.
function WebhookActions({ w, done, deleted = done }: { w: Webhook; done: () => void; deleted?: () => void }) {
  return (
    <div class="page-actions">
      <ActionButton
        label={w.is_active ? 'Disable' : 'Enable'}
        action={() => api(`/api/webhooks/${w.id}`, { method: 'PATCH', body: { is_active: !w.is_active } })}
        done={done}
      />
      <ActionButton
        label="Delete"
        class="danger"
        confirm={`Delete the webhook to ${w.url}? Nothing more is sent to it.`}
        action={() => api(`/api/webhooks/${w.id}`, { method: 'DELETE' })}
        done={deleted}
      />
    </div>
  );
}

function WebhookList() {
  const [creating, setCreating] = useState(false);
  const [fresh, setFresh] = useState<Webhook | null>(null);
  const [refresh, again] = useRefresh();
  return (
    <AdminFrame
      title="Webhooks"
      actions={
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New webhook
        </button>
      }
    >
      {fresh && (
        <SecretNotice
          title={`Webhook to ${fresh.url} created`}
          noun="secret"
          secret={fresh.secret ?? ''}
          id="new-webhook-secret"
          note="The endpoint checks each delivery's webhook-signature header with it."
          dismiss={() => setFresh(null)}
        />
      )}
      <p class="muted small">
        Each event an endpoint takes is POSTed to it as JSON, signed as Standard Webhooks sign (<code>webhook-id</code>,{' '}
        <code>webhook-timestamp</code>, <code>webhook-signature</code>), and retried with backoff for 24 hours; 50 failures in a
        row disable the endpoint.
      </p>
      <PagedTable<Webhook>
        path="/api/webhooks"
        label="Webhooks"
        refresh={refresh}
        empty={<p>No webhooks yet.</p>}
        columns={[
          {
            label: 'URL',
            cell: (w) => (
              <a href={`/admin/webhooks/${w.id}`}>
                <code>{w.url}</code>
              </a>
            ),
          },
          { label: 'Events', cell: (w) => <span class="small">{w.events.join(', ')}</span> },
          { label: 'Description', cell: (w) => w.description || '—' },
          { label: 'Status', cell: (w) => <WebhookState w={w} /> },
          { label: 'Failures in a row', cell: (w) => w.failures_in_row, class: 'num' },
          { label: 'Created', cell: (w) => when(w.created_at) },
          { label: 'Actions', cell: (w) => <WebhookActions w={w} done={again} /> },
        ]}
      />
      <Dialog title="New webhook" open={creating} onClose={() => setCreating(false)}>
        <WebhookForm
          label="New webhook"
          submit="Create webhook"
          cancel={() => setCreating(false)}
          save={async (v) => {
            const w = await api<Webhook>('/api/webhooks', { method: 'POST', body: compact(v) });
            setCreating(false);
            setFresh(w);
            again();
          }}
        />
      </Dialog>
    </AdminFrame>
  );
}

// The attempt that came last, whose answer a delivery's row shows.
function lastAttempt(d: Delivery): Attempt | undefined {
  return d.attempts_log.reduce<Attempt | undefined>((last, a) => (!last || a.created_at >= last.created_at ? a : last), undefined);
}

const answerOf = (a: Attempt | undefined) => (!a ? '—' : a.status_code === null ? 'no answer' : String(a.status_code));

function Deliveries({ id, refresh, again }: { id: string; refresh: number; again: () => void }) {
  return (
    <PagedTable<Delivery>
      path={`/api/webhooks/${id}/deliveries`}
      label="Deliveries"
      refresh={refresh}
      empty={<p>Nothing delivered yet: the endpoint's events will be listed here.</p>}
      columns={[
        { label: 'Created', cell: (d) => when(d.created_at) },
        {
          label: 'Event',
          cell: (d) => (
            <>
              <code>{d.event}</code>
              <div class="small muted">{d.message_id}</div>
            </>
          ),
        },
        {
          label: 'Status',
          cell: (d) => (
            <>
              <StatusBadge status={d.status} labels={DELIVERY_LABELS} tones={{ DELIVERED: 'ok' }} />
              {d.delivered_at && <div class="small muted">at {when(d.delivered_at)}</div>}
              {d.status === 'pending' && d.next_attempt_at && <div class="small muted">next attempt {when(d.next_attempt_at)}</div>}
            </>
          ),
        },
        {
          label: 'Attempts',
          class: 'num',
          cell: (d) =>
            d.attempts_log.length < 2 ? (
              d.attempts
            ) : (
              <details>
                <summary>{d.attempts}</summary>
                <ol class="small">
                  {d.attempts_log.map((a) => (
                    <li>
                      {when(a.created_at)}: {answerOf(a)}, {a.duration_ms} ms{a.error ? `, ${a.error}` : ''}
                    </li>
                  ))}
                </ol>
              </details>
            ),
        },
        { label: 'Last status code', class: 'num', cell: (d) => answerOf(lastAttempt(d)) },
        { label: 'Duration', class: 'num', cell: (d) => (lastAttempt(d) ? `${lastAttempt(d)!.duration_ms} ms` : '—') },
        { label: 'Error', cell: (d) => <span class="small">{lastAttempt(d)?.error || '—'}</span> },
        {
          label: 'Response',
          cell: (d) => {
            const excerpt = lastAttempt(d)?.response_excerpt;
            return excerpt ? (
              <details>
                <summary>Excerpt</summary>
                <pre class="json">{excerpt}</pre>
              </details>
            ) : (
              '—'
            );
          },
        },
        {
          label: 'Actions',
          cell: (d) => (
            <ActionButton
              label="Redeliver"
              action={() => api(`/api/webhooks/${id}/deliveries/${d.id}/redeliver`, { method: 'POST' })}
              done={again}
            />
          ),
        },
      ]}
    />
  );
}

function WebhookDetail({ id }: { id: string }) {
  const loaded = useApi<Webhook>(`/api/webhooks/${id}`);
  const [editing, setEditing] = useState(false);
  const [refresh, again] = useRefresh(loaded);
  return (
    <AdminFrame title="Webhook">
      <Show loaded={loaded}>
        {(w) => (
          <>
            <Panel title={w.url}>
              <Facts
                rows={[
                  ['Status', <WebhookState w={w} />],
                  ['Events', <span>{w.events.join(', ')}</span>],
                  ['Description', w.description || '—'],
                  ['Failures in a row', w.failures_in_row],
                  ['Created', when(w.created_at)],
                  ['Updated', when(w.updated_at)],
                ]}
              />
              <div class="actions">
                <button type="button" onClick={() => setEditing(true)}>
                  Edit
                </button>
                <WebhookActions w={w} done={again} deleted={() => navigate('/admin/webhooks')} />
              </div>
            </Panel>
            <Panel title="Deliveries">
              <div class="actions">
                <button type="button" onClick={again}>
                  Refresh
                </button>
              </div>
              <Deliveries id={w.id} refresh={refresh} again={again} />
            </Panel>
            <Dialog title="Edit webhook" open={editing} onClose={() => setEditing(false)}>
              <WebhookForm
                label="Edit webhook"
                submit="Save changes"
                initial={w}
                cancel={() => setEditing(false)}
                save={async (v) => {
                  const change: Record<string, unknown> = {};
                  if (v.url !== w.url) change.url = v.url;
                  if (v.events.join() !== w.events.join()) change.events = v.events;
                  if (v.description !== (w.description ?? '')) change.description = v.description || null;
                  if (Object.keys(change).length) await api(`/api/webhooks/${w.id}`, { method: 'PATCH', body: change });
                  setEditing(false);
                  again();
                }}
              />
            </Dialog>
          </>
        )}
      </Show>
    </AdminFrame>
  );
}

export const routes = [
  { path: '/admin/webhooks', page: WebhookList, role: 'admin' as const },
  { path: '/admin/webhooks/:id', page: WebhookDetail, role: 'admin' as const },
];
