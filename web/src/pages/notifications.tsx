// Notifications: the bell in the header (the unread count, kept live by the server's event stream),
// the caller's notifications (newest first, unread ones marked, each linked to what it is about where
// the app has a page for it), and the caller's preferences per event type (in the app, by email).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, followEvents, type CallOptions, type Page } from '../api';
import { useLocation } from '../router';
import {
  ActionButton, Badge, FilterBar, FilterSelect, FormFooter, PageHeader, Show, Table, Tabs, useApi, useFieldState, useFilters, useForm,
  useLoad, when, type Form,
} from '../ui';
import type { Calibration } from './instruments';

// The event types (the server's notification_event_types), as webhooks subscribe to them.
export const EVENTS = [
  'calibration.due', 'calibration.expired', 'run.blocked', 'spc.alert_opened', 'nonconformance.opened', 'recipe.submitted',
  'sop.submitted', 'specification.submitted', 'booking.cancelled',
];

interface NotificationItem {
  id: string;
  seq: number;
  event: string;
  title: string;
  body: string;
  entity_type: string | null;
  entity_id: string | null;
  created_at: string;
  read_at: string | null;
}

// A page of the caller's notifications, with the number of them still unread.
interface NotificationPage extends Page<NotificationItem> {
  unread: number;
}

interface Preference {
  event: string;
  title: string;
  description: string;
  in_app: boolean;
  email: 'off' | 'immediate' | 'daily';
}

const EMAIL_CHOICES: [string, string][] = [
  ['off', 'Off'],
  ['immediate', 'Immediately'],
  ['daily', 'Daily digest'],
];

// ---- the unread count, shared by the bell and the page -------------------------------------------

let unreadNow: number | null = null;
const unreadWatchers = new Set<(n: number | null) => void>();
const arrivalWatchers = new Set<(n: NotificationItem) => void>();

function publishUnread(n: number | null) {
  unreadNow = n;
  unreadWatchers.forEach((f) => f(n));
}

// A page of the caller's notifications; its unread count goes to the bell.
async function notifications(query: CallOptions['query']): Promise<NotificationPage> {
  const page = await api<NotificationPage>('/api/notifications', { query });
  publishUnread(page.unread);
  return page;
}

// Reads the unread count again (after a mark, on a new notification); a failure keeps the last one.
function recount() {
  notifications({ unread: true, limit: 1 }).catch(() => undefined);
}

// The bell: a link to the notifications with the unread count, kept live while signed in by the
// server's event stream (each new notification reads the count again, and reaches an open page).
export function Bell({ current }: { current: boolean }) {
  const [unread, setUnread] = useState(unreadNow);
  useEffect(() => {
    unreadWatchers.add(setUnread);
    recount();
    const stop = followEvents(
      '/api/notifications/stream',
      (e) => {
        if (e.event !== 'notification') return;
        recount();
        try {
          const n = JSON.parse(e.data) as NotificationItem;
          arrivalWatchers.forEach((f) => f(n));
        } catch {
          /* the count is read again in any case */
        }
      },
      recount, // a connection after a drop may have missed some
    );
    return () => {
      stop();
      unreadWatchers.delete(setUnread);
      unreadNow = null;
    };
  }, []);
  return (
    <a
      class="bell"
      href="/notifications"
      aria-label={unread === null ? 'Notifications' : `Notifications, ${unread} unread`}
      aria-current={current ? 'page' : undefined}
    >
      <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
        <path
          fill="currentColor"
          d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6v-5a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"
        />
      </svg>
      {!!unread && (
        <span class="bell-count" aria-hidden="true">
          {unread > 99 ? '99+' : unread}
        </span>
      )}
    </a>
  );
}

// ---- the frame ---------------------------------------------------------------------------------

function NotificationsFrame({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  const { path } = useLocation();
  return (
    <>
      <PageHeader title={title}>{actions}</PageHeader>
      <Tabs
        label="Notification pages"
        tabs={[
          ['/notifications', 'Inbox'],
          ['/notifications/preferences', 'Preferences'],
        ]}
        current={path}
      />
      {children}
    </>
  );
}

// ---- the list ----------------------------------------------------------------------------------

// Where each kind of entity has its page (a calibration's is its instrument's; a booking has none).
const ENTITY_PAGES: Record<string, string> = {
  run: '/runs',
  instrument: '/instruments',
  spc_series: '/spc',
  nonconformance: '/quality/nonconformances',
  specification: '/quality/specifications',
  recipe: '/recipes',
  sop: '/sops',
};

// A notification's title, linked to what it is about where the app has a page for it.
function Subject({ n }: { n: NotificationItem }) {
  const base = n.entity_id && n.entity_type ? ENTITY_PAGES[n.entity_type] : undefined;
  if (base) return <a href={`${base}/${n.entity_id}`}>{n.title}</a>;
  if (n.entity_type === 'calibration' && n.entity_id) return <CalibrationSubject n={n} id={n.entity_id} />;
  return <>{n.title}</>;
}

function CalibrationSubject({ n, id }: { n: NotificationItem; id: string }) {
  const calibration = useApi<Calibration>(`/api/v1/calibrations/${id}`);
  return calibration.data ? <a href={`/instruments/${calibration.data.instrument_id}`}>{n.title}</a> : <>{n.title}</>;
}

const PAGE_SIZE = 25;

function NotificationList() {
  const filters = useFilters(['unread']);
  const unreadOnly = filters.values.unread === 'true';
  const query = { unread: unreadOnly || undefined, limit: PAGE_SIZE };
  const first = useLoad(() => notifications(query), [unreadOnly]);
  // The pages loaded so far ("Load more" adds the next), with what changed since.
  const [list, setList] = useState<{ items: NotificationItem[]; next: string | null } | null>(null);
  const [unread, setUnread] = useState(unreadNow);
  useEffect(() => {
    if (first.data) setList({ items: first.data.items, next: first.data.next_cursor });
  }, [first.data]);
  useEffect(() => {
    // A notification the stream brings is shown at once, at the top.
    const arrived = (n: NotificationItem) =>
      setList((l) => (l && !l.items.some((x) => x.id === n.id) ? { ...l, items: [n, ...l.items] } : l));
    arrivalWatchers.add(arrived);
    unreadWatchers.add(setUnread);
    return () => {
      arrivalWatchers.delete(arrived);
      unreadWatchers.delete(setUnread);
    };
  }, []);
  const replace = (n: NotificationItem) => setList((l) => l && { ...l, items: l.items.map((x) => (x.id === n.id ? n : x)) });
  const more = async () => {
    const page = await notifications({ ...query, cursor: list?.next });
    setList((l) => l && { items: [...l.items, ...page.items.filter((n) => !l.items.some((x) => x.id === n.id))], next: page.next_cursor });
  };
  return (
    <NotificationsFrame
      title="Notifications"
      actions={
        !!unread && (
          <ActionButton label="Mark all read" action={() => api('/api/notifications/read-all', { method: 'POST' })} done={first.reload} />
        )
      }
    >
      <FilterBar label="Filter notifications" filters={filters}>
        <FilterSelect filters={filters} name="unread" label="Show" any="All" options={[['true', 'Unread only']]} />
      </FilterBar>
      <Show loaded={first}>
        {() =>
          !list ? null : list.items.length === 0 ? (
            <div class="empty">
              <p>{unreadOnly ? 'No unread notifications.' : 'No notifications yet.'}</p>
            </div>
          ) : (
            <>
              <Table<NotificationItem>
                rows={list.items}
                label="Notifications"
                busy={first.loading}
                columns={[
                  {
                    label: 'Status',
                    cell: (n) => (n.read_at ? <span class="muted small">Read</span> : <Badge tone="info">Unread</Badge>),
                  },
                  { label: 'When', cell: (n) => when(n.created_at) },
                  {
                    label: 'Notification',
                    cell: (n) => (
                      <>
                        {n.read_at ? <Subject n={n} /> : <strong><Subject n={n} /></strong>}
                        <div class="small">{n.body}</div>
                      </>
                    ),
                  },
                  {
                    label: 'Actions',
                    cell: (n) =>
                      !n.read_at && (
                        <ActionButton
                          label="Mark read"
                          action={async () => {
                            replace(await api<NotificationItem>(`/api/notifications/${n.id}/read`, { method: 'POST' }));
                            recount();
                          }}
                        />
                      ),
                  },
                ]}
              />
              {list.next && (
                <div class="actions">
                  <ActionButton label="Load more" action={more} />
                </div>
              )}
            </>
          )
        }
      </Show>
    </NotificationsFrame>
  );
}

// ---- preferences -------------------------------------------------------------------------------

interface PreferenceValues {
  preferences: Preference[];
}

// One preference's checkbox (in the app) or select (email), with the server's message beneath it
// ("preferences[2].email").
function PreferenceInput({ form, index, k }: { form: Form<PreferenceValues>; index: number; k: 'in_app' | 'email' }) {
  const p = form.values.preferences[index];
  const field = `preferences[${index}].${k}`;
  const { id, message, aria } = useFieldState(form, field, field, undefined);
  const set = (v: boolean | string) =>
    form.set(
      'preferences',
      form.values.preferences.map((x, i) => (i === index ? { ...x, [k]: v } : x)),
    );
  return (
    <>
      {k === 'in_app' ? (
        <input
          type="checkbox"
          checked={p.in_app}
          aria-label={`${p.title} in the app`}
          onChange={(e) => set(e.currentTarget.checked)}
          {...aria}
        />
      ) : (
        <select value={p.email} aria-label={`${p.title} by email`} onChange={(e) => set(e.currentTarget.value)} {...aria}>
          {EMAIL_CHOICES.map(([value, text]) => (
            <option value={value}>{text}</option>
          ))}
        </select>
      )}
      {message && (
        <small id={`${id}-error`} class="field-error">
          {message}
        </small>
      )}
    </>
  );
}

function PreferencesForm({ initial }: { initial: Preference[] }) {
  const form = useForm<PreferenceValues>({ preferences: initial });
  const [saved, setSaved] = useState(false);
  const index = (p: Preference) => form.values.preferences.findIndex((x) => x.event === p.event);
  return (
    <form
      aria-label="Notification preferences"
      noValidate
      onSubmit={form.submit(async (v) => {
        setSaved(false);
        const answer = await api<{ items: Preference[] }>('/api/notification-preferences', {
          method: 'PATCH',
          body: { preferences: v.preferences.map(({ event, in_app, email }) => ({ event, in_app, email })) },
        });
        form.reset({ preferences: answer.items });
        setSaved(true);
      })}
    >
      <p class="muted small">
        What reaches you, per kind of event: in the app (the bell and this page), and by email at once or in one daily digest.
      </p>
      <Table<Preference>
        rows={form.values.preferences}
        label="Event types"
        rowKey={(p) => p.event}
        columns={[
          {
            label: 'Event',
            cell: (p) => (
              <>
                <strong>{p.title}</strong>
                <div class="small muted">{p.description}</div>
              </>
            ),
          },
          { label: 'In the app', cell: (p) => <PreferenceInput form={form} index={index(p)} k="in_app" /> },
          { label: 'Email', cell: (p) => <PreferenceInput form={form} index={index(p)} k="email" /> },
        ]}
      />
      {saved && (
        <p class="notice" role="status">
          Preferences saved.
        </p>
      )}
      <FormFooter form={form} submit="Save preferences" />
    </form>
  );
}

function Preferences() {
  const loaded = useApi<{ items: Preference[] }>('/api/notification-preferences');
  return (
    <NotificationsFrame title="Notification preferences">
      <Show loaded={loaded}>{(d) => <PreferencesForm initial={d.items} />}</Show>
    </NotificationsFrame>
  );
}

export const routes = [
  { path: '/notifications', page: NotificationList },
  { path: '/notifications/preferences', page: Preferences },
];
