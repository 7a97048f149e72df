// The pieces every page is made of: one way to load, list, filter, fill a form, show a problem and confirm.
import { Fragment, type ComponentChildren, type InputHTMLAttributes } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, atLeast, download, Problem, user, type CallOptions, type Page, type Role } from './api';
import { setQuery, useLocation } from './router';

// ---- problems -------------------------------------------------------------------------------

export function asProblem(e: unknown): Problem {
  return e instanceof Problem ? e : new Problem(0, 'Something went wrong', String((e as Error)?.message ?? e));
}

// A problem as people read it: its title, its detail, each field's message, and the request id to
// quote to an administrator.
export function ProblemView({ problem, besideFields }: { problem: Problem | null; besideFields?: Set<string> }) {
  if (!problem) return null;
  const errors = besideFields ? problem.errors.filter((e) => !besideFields.has(e.field)) : problem.errors;
  return (
    <ProblemBox title={problem.title}>
      {problem.status > 0 && <span class="muted"> ({problem.status})</span>}
      {problem.detail && <p>{problem.detail}</p>}
      {besideFields && errors.length < problem.errors.length && <p>Check the marked fields.</p>}
      {errors.length > 0 && (
        <ul>
          {errors.map((e) => (
            <li key={e.field}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {problem.requestId && <p class="muted small">Request id {problem.requestId}</p>}
    </ProblemBox>
  );
}

// A problem's frame: its title, then what explains it (a page's own refusal may hold links).
export function ProblemBox({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="problem" role="alert">
      <strong>{title}</strong>
      {children}
    </div>
  );
}

// ---- loading --------------------------------------------------------------------------------

export interface Loaded<T> {
  data: T | undefined;
  problem: Problem | null;
  loading: boolean;
  reload: () => void;
}

// Runs `load` (again when `deps` change, or on reload()); an answer that arrives after the page
// moved on is dropped. `load` null waits.
export function useLoad<T>(load: (() => Promise<T>) | null, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    if (load === null) return;
    let live = true;
    setLoading(true);
    load()
      .then((d) => live && (setData(d), setProblem(null)))
      .catch((e) => live && setProblem(asProblem(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, problem, loading, reload: useCallback(() => setN((x) => x + 1), []) };
}

// Loads one GET `path` (again when it changes); `path` null waits.
export function useApi<T = any>(path: string | null): Loaded<T> {
  return useLoad<T>(path === null ? null : () => api<T>(path), [path]);
}

// After a change: `refresh` for the lists that show it again (PagedTable's `refresh`), and `again()`,
// which bumps it and reloads `loaded` too.
export function useRefresh(...loaded: Loaded<unknown>[]): [number, () => void] {
  const [refresh, setRefresh] = useState(0);
  return [
    refresh,
    () => {
      setRefresh((n) => n + 1);
      loaded.forEach((l) => l.reload());
    },
  ];
}

// The lab's records of one kind (at most 500), which other pages name things by and choose from:
// `name(id)` is `label` of the record (its short id when it is not among them), `options(chosen)`
// a select's choices, which keep `chosen` (by its short id) when it is not among them.
export function useNames<T extends { id: string }>(path: string, label: (x: T) => string = (x: any) => x.name) {
  const loaded = useApi<Page<T>>(`${path}${path.includes('?') ? '&' : '?'}limit=500`);
  const items = loaded.data?.items ?? [];
  const byId = new Map(items.map((x) => [x.id, x]));
  return {
    loaded,
    get: (id: string) => byId.get(id),
    name: (id: string | null | undefined) => {
      const x = id ? byId.get(id) : undefined;
      return x ? label(x) : short(id);
    },
    options: (chosen?: string, text: (x: T) => string = label): [string, string][] => {
      const o = items.map((x) => [x.id, text(x)] as [string, string]);
      if (chosen && !byId.has(chosen)) o.push([chosen, short(chosen)]);
      return o;
    },
  };
}

// A link to `href`/`id` named by what GET `path`/`id` answers (`label` of it, by default its name):
// the short id while it loads or when it cannot be read.
export function NameLink<T = any>(props: { id: string; href: string; path: string; label?: (x: T) => string }) {
  const { id, href, path, label = (x: any) => x.name } = props;
  const loaded = useApi<T>(`${path}/${id}`);
  return <a href={`${href}/${id}`}>{loaded.data ? label(loaded.data) : short(id)}</a>;
}

// The page's content once loaded: a problem, a loading line, or the children.
export function Show<T>({ loaded, children }: { loaded: Loaded<T>; children: (d: T) => ComponentChildren }) {
  if (loaded.problem) return <ProblemView problem={loaded.problem} />;
  if (loaded.data === undefined) return <p class="muted" aria-busy="true">Loading…</p>;
  return <>{children(loaded.data)}</>;
}

// ---- lists ----------------------------------------------------------------------------------

export interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
  class?: string;
}

// Rows as a table; at phone width each row becomes a card whose cells are labelled by their column.
export function Table<T>(props: {
  rows: T[];
  columns: Column<T>[];
  label: string;
  rowKey?: (row: T) => string;
  busy?: boolean; // another page is on its way: the rows shown are the previous page's
}) {
  const { rows, columns, label, rowKey, busy } = props;
  return (
    <div class={`table-wrap${busy ? ' busy' : ''}`} aria-busy={busy ? 'true' : undefined}>
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.class}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={rowKey ? rowKey(row) : ((row as { id?: string }).id ?? i)}>
              {columns.map((c) => (
                <td class={c.class} data-label={c.label}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// A server list, one page at a time, with the server's cursors: Next follows next_cursor, Previous
// goes back through the cursors seen. Changing `query` starts again from the first page; a change
// of `refresh` loads the page again.
export function PagedTable<T extends { id?: string }>(props: {
  path: string;
  query?: Record<string, string | undefined>;
  columns: Column<T>[];
  empty: ComponentChildren;
  label: string;
  limit?: number;
  refresh?: number;
  rowKey?: (row: T) => string;
}) {
  const { path, query = {}, columns, empty, label, limit = 25, refresh = 0 } = props;
  const key = JSON.stringify([path, query, limit]);
  // The cursors belong to one list: other filters start from the first page, in the same render.
  const [paging, setPaging] = useState<{ key: string; cursors: (string | null)[] }>({ key, cursors: [null] });
  const cursors = paging.key === key ? paging.cursors : [null];
  const setCursors = (c: (string | null)[]) => setPaging({ key, cursors: c });
  const cursor = cursors[cursors.length - 1];
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
  q.set('limit', String(limit));
  if (cursor) q.set('cursor', cursor);
  const url = `${path}?${q}`;
  const loaded = useLoad(() => api<Page<T>>(url), [url, refresh]);
  return (
    <Show loaded={loaded}>
      {(page) =>
        page.items.length === 0 && cursors.length === 1 ? (
          <div class="empty">{empty}</div>
        ) : (
          <>
            <Table rows={page.items} columns={columns} label={label} rowKey={props.rowKey} busy={loaded.loading} />
            {(cursors.length > 1 || page.next_cursor) && (
            <nav class="pager" aria-label={`${label} pages`}>
              <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                Previous
              </button>
              <span class="muted">Page {cursors.length}</span>
              <button
                type="button"
                disabled={!page.next_cursor}
                onClick={() => setCursors([...cursors, page.next_cursor])}
              >
                Next
              </button>
            </nav>
            )}
          </>
        )
      }
    </Show>
  );
}

// ---- filters --------------------------------------------------------------------------------

// A list's filters, kept in the address (a reload or a shared link keeps them). `values` are the
// address's; `text` is what the filter form shows, taken to the address by search(). When the
// address changes (back, forward, a link) the fields it changed show it again; other typing stays.
export interface Filters<K extends string> {
  values: Record<K, string | undefined>;
  text: Record<K, string>;
  type(k: K, v: string): void;
  set(values: Partial<Record<K, string | undefined>>): void; // to the address at once
  search(values?: Partial<Record<K, string | undefined>>): void; // the text, trimmed, and `values`
  clear(): void;
}

// `shown` turns an address value into a field's text where they differ (a date and time).
export function useFilters<K extends string>(keys: readonly K[], shown: Partial<Record<K, (v: string) => string>> = {}): Filters<K> {
  const { query } = useLocation();
  const values = {} as Record<K, string | undefined>;
  for (const k of keys) values[k] = query.get(k) ?? undefined;
  const textOf = (k: K) => (shown[k] ?? String)(values[k] ?? '');
  const [text, setText] = useState(() => Object.fromEntries(keys.map((k) => [k, textOf(k)])) as Record<K, string>);
  const seen = useRef(values);
  useEffect(() => {
    const changed = keys.filter((k) => seen.current[k] !== values[k]);
    seen.current = values;
    if (changed.length) setText((t) => ({ ...t, ...Object.fromEntries(changed.map((k) => [k, textOf(k)])) }));
  });
  return {
    values,
    text,
    type: (k, v) => setText((t) => ({ ...t, [k]: v })),
    set: (v) => setQuery(v),
    search: (v = {}) => setQuery({ ...Object.fromEntries(keys.map((k) => [k, text[k].trim()])), ...v }),
    clear: () => setQuery(Object.fromEntries(keys.map((k) => [k, undefined]))),
  };
}

// The filter form above a list: Enter or its `submit` button searches (or runs `onSubmit`).
export function FilterBar<K extends string>(props: {
  label: string;
  filters: Filters<K>;
  submit?: string;
  onSubmit?: () => void;
  children: ComponentChildren;
}) {
  const { label, filters, submit, onSubmit = () => filters.search(), children } = props;
  return (
    <form
      class="filters"
      role="search"
      aria-label={label}
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
      {submit && (
        <div class="field">
          <button type="submit">{submit}</button>
        </div>
      )}
    </form>
  );
}

// A text box of a filter form; what is typed waits for the search.
export function FilterInput<K extends string>(props: {
  filters: Filters<K>;
  name: NoInfer<K>;
  label: string;
  type?: 'search' | 'datetime-local';
  placeholder?: string;
  autocomplete?: string;
}) {
  const { filters, name, label, type, placeholder, autocomplete } = props;
  const id = useUniqueId(`f-filter-${name}`);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type={type as any}
        value={filters.text[name]}
        onInput={(e) => filters.type(name, e.currentTarget.value)}
        placeholder={placeholder}
        autocomplete={autocomplete}
      />
    </div>
  );
}

// The list's search box (`q`).
export function SearchField<K extends string>(props: { filters: Filters<K | 'q'>; placeholder: string }) {
  return <FilterInput filters={props.filters} name="q" label="Search" type="search" placeholder={props.placeholder} />;
}

// Shown while any filter is set: back to the whole list.
export function ClearFilters<K extends string>({ filters }: { filters: Filters<K> }) {
  if (!Object.values(filters.values).some(Boolean)) return null;
  return (
    <div class="field">
      <button type="button" onClick={filters.clear}>
        Clear filters
      </button>
    </div>
  );
}

// A select of a filter form: a choice filters at once (`deferred`: waits for the search like the text
// boxes). The first option, `any`, is no filter; with `any` null, the option `unset` is.
export function FilterSelect<K extends string>(props: {
  filters: Filters<K>;
  name: NoInfer<K>;
  label: string;
  options: Choice[];
  any?: string | null;
  unset?: string;
  deferred?: boolean;
}) {
  const { filters, name, label, options, any = 'Any', unset = '', deferred } = props;
  const id = useUniqueId(`f-filter-${name}`);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select
        id={id}
        value={deferred ? filters.text[name] : (filters.values[name] ?? unset)}
        onChange={(e) => {
          const v = e.currentTarget.value;
          if (deferred) filters.type(name, v);
          else filters.set({ [name]: v === unset ? undefined : v } as Partial<Record<K, string>>);
        }}
      >
        {any !== null && <option value="">{any}</option>}
        <Options options={options} />
      </select>
    </div>
  );
}

// ---- forms ----------------------------------------------------------------------------------

export interface Form<V> {
  values: V;
  set: <K extends keyof V>(k: K, v: V[K]) => void;
  problem: Problem | null;
  busy: boolean;
  error: (field: string) => string | undefined;
  submit: (action: (v: V) => Promise<unknown>) => (e?: Event) => Promise<void>;
  reset: (v?: V) => void;
  shown: Set<string>; // the fields this form shows, whose errors appear beside them
}

// A form's values, its submission and the server's answer: a 422's field errors are shown beside
// the fields they name; any other problem above the buttons.
export function useForm<V extends Record<string, any>>(initial: V): Form<V> {
  const [values, setValues] = useState<V>(initial);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const shown = useRef(new Set<string>()).current;
  return {
    shown,
    values,
    set: (k, v) => setValues((old) => ({ ...old, [k]: v })),
    problem,
    busy,
    error: (field) => problem?.fieldError(field),
    submit: (action) => async (e) => {
      e?.preventDefault();
      setBusy(true);
      setProblem(null);
      try {
        await action(values);
      } catch (err) {
        setProblem(asProblem(err));
      } finally {
        setBusy(false);
      }
    },
    reset: (v) => {
      setValues(v ?? initial);
      setProblem(null);
    },
  };
}

let idSeq = 0;
// An id unique in the page, kept for the component's life: `prefix` (made safe) and a counter.
function useUniqueId(prefix: string) {
  const ref = useRef<string | undefined>(undefined);
  if (!ref.current) ref.current = `${prefix.replace(/[^a-z0-9]/gi, '-')}-${++idSeq}`;
  return ref.current;
}

// What every field of a form shares: an id, the server's message for it (by `field`, the name the
// server uses, which defaults to `name`), and the attributes that tie the two for screen readers.
// With FieldFrame, also for a control bound to something other than one form value (a row of a list).
export function useFieldState(form: Form<any>, name: string, field: string | undefined, hint: string | undefined) {
  const id = useUniqueId(`f-${name}`);
  const message = form.error(field ?? name);
  form.shown.add(field ?? name);
  const aria = {
    id,
    'aria-invalid': message ? ('true' as const) : undefined,
    'aria-describedby': message ? `${id}-error` : hint ? `${id}-hint` : undefined,
  };
  return { id, message, aria };
}

// A field's label, its control, and beneath it the hint or the server's message.
export function FieldFrame(props: { id: string; label: string; message?: string; hint?: string; children: ComponentChildren }) {
  const { id, label, message, hint } = props;
  return (
    <div class={`field${message ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {props.children}
      {hint && !message && (
        <small id={`${id}-hint`} class="muted">
          {hint}
        </small>
      )}
      {message && (
        <small id={`${id}-error`} class="field-error">
          {message}
        </small>
      )}
    </div>
  );
}

type InputProps = Pick<
  InputHTMLAttributes<HTMLInputElement>,
  'type' | 'required' | 'autocomplete' | 'placeholder' | 'min' | 'max' | 'step' | 'disabled' | 'readOnly' | 'inputMode'
>;

// A labelled input bound to a form value, with the server's message for that field beneath it.
export function Field<V extends Record<string, any>>(
  props: { form: Form<V>; name: keyof V & string; label: string; field?: string; hint?: string } & InputProps,
) {
  const { form, name, label, field, hint, type = 'text', ...rest } = props;
  const { id, message, aria } = useFieldState(form, name, field, hint);
  const v = form.values[name];
  return (
    <FieldFrame id={id} label={label} message={message} hint={hint}>
      {type === 'checkbox' ? (
        <input
          type="checkbox"
          checked={!!v}
          onChange={(e) => form.set(name, (e.currentTarget as HTMLInputElement).checked as V[typeof name])}
          {...aria}
          {...rest}
        />
      ) : (
        <input
          type={type as any}
          value={v ?? ''}
          onInput={(e) => form.set(name, (e.currentTarget as HTMLInputElement).value as V[typeof name])}
          {...aria}
          {...rest}
        />
      )}
    </FieldFrame>
  );
}

// A select's choices: a value shown as it is, or a [value, text] pair.
export type Choice = string | [string, string];
function Options({ options }: { options: Choice[] }) {
  return (
    <>
      {options.map((o) => {
        const [value, text] = Array.isArray(o) ? o : [o, o];
        return <option value={value}>{text}</option>;
      })}
    </>
  );
}

export function SelectField<V extends Record<string, any>>(props: {
  form: Form<V>;
  name: keyof V & string;
  label: string;
  options: Choice[];
  field?: string;
  blank?: string;
  hint?: string;
}) {
  const { form, name, label, options, field, blank, hint } = props;
  const { id, message, aria } = useFieldState(form, name, field, hint);
  return (
    <FieldFrame id={id} label={label} message={message} hint={hint}>
      <select
        value={form.values[name] ?? ''}
        onChange={(e) => form.set(name, (e.currentTarget as HTMLSelectElement).value as V[typeof name])}
        {...aria}
      >
        {blank !== undefined && <option value="">{blank}</option>}
        <Options options={options} />
      </select>
    </FieldFrame>
  );
}

export function TextArea<V extends Record<string, any>>(props: {
  form: Form<V>;
  name: keyof V & string;
  label: string;
  field?: string;
  rows?: number;
  hint?: string;
}) {
  const { form, name, label, field, rows = 6, hint } = props;
  const { id, message, aria } = useFieldState(form, name, field, hint);
  return (
    <FieldFrame id={id} label={label} message={message} hint={hint}>
      <textarea
        rows={rows}
        value={form.values[name] ?? ''}
        onInput={(e) => form.set(name, (e.currentTarget as HTMLTextAreaElement).value as V[typeof name])}
        {...aria}
      />
    </FieldFrame>
  );
}

// The form's problem (when it is not only field errors) and its buttons.
export function FormFooter({ form, submit, onCancel }: { form: Form<any>; submit: string; onCancel?: () => void }) {
  const p = form.problem;
  return (
    <>
      <ProblemView problem={p} besideFields={form.shown} />
      <div class="actions">
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? 'Saving…' : submit}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </>
  );
}

// The password asked again where it signs something (or at sign-in).
export function PasswordField<V extends { password: string }>({ form, label }: { form: Form<V>; label: string }) {
  return <Field form={form} name="password" label={label} type="password" autocomplete="current-password" required />;
}

// A form that the password signs (an entry's signature, a disposition, a certificate): its fields
// (`children`, a PasswordField among them) and its buttons. With `conflict`, the server's 409 (what
// it signs changed or was decided meanwhile) takes the buttons' place: what was not done (`said`)
// and a button that reads it again (`reload`, `reread`). Any other problem is FormFooter's.
export function PasswordForm<V extends { password: string }>(props: {
  form: Form<V>;
  label: string;
  submit: string;
  onSubmit: (v: V) => Promise<unknown>;
  cancel: () => void;
  conflict?: { said: string; reload: string; reread: () => void };
  children: ComponentChildren;
}) {
  const { form, label, submit, onSubmit, cancel, conflict, children } = props;
  return (
    <form aria-label={label} noValidate onSubmit={form.submit(onSubmit)}>
      {children}
      {conflict && form.problem?.status === 409 ? (
        <>
          <ProblemView problem={form.problem} />
          <p>{conflict.said}</p>
          <div class="actions">
            <button type="button" class="primary" onClick={conflict.reread}>
              {conflict.reload}
            </button>
            <button type="button" onClick={cancel}>
              Cancel
            </button>
          </div>
        </>
      ) : (
        <FormFooter form={form} submit={submit} onCancel={cancel} />
      )}
    </form>
  );
}

// ---- dialogs and actions --------------------------------------------------------------------

// A modal dialog (the browser's <dialog>: focus kept inside, Escape closes).
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-label={props.title} onClose={props.onClose}>
      <h2>{props.title}</h2>
      {props.open && props.children}
    </dialog>
  );
}

// A button that runs one action (a status change, an approval), shows its problem, then reloads.
export function ActionButton(props: {
  label: string;
  action: () => Promise<unknown>;
  done?: () => void;
  class?: string;
  confirm?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  return (
    <span class="action">
      <button
        type="button"
        class={props.class}
        disabled={busy}
        onClick={async () => {
          if (props.confirm && !window.confirm(props.confirm)) return;
          setBusy(true);
          setProblem(null);
          try {
            await props.action();
            props.done?.();
          } catch (e) {
            setProblem(asProblem(e));
          } finally {
            setBusy(false);
          }
        }}
      >
        {props.label}
      </button>
      <ProblemView problem={problem} />
    </span>
  );
}

// A button that saves a file the server makes (a label, a CSV, an .eln export); a refusal is shown
// beside it, never lost.
export function DownloadButton(props: { label: string; path: string; filename: string; opts?: CallOptions; disabled?: boolean }) {
  if (props.disabled)
    return (
      <button type="button" disabled>
        {props.label}
      </button>
    );
  return <ActionButton label={props.label} action={() => download(props.path, props.filename, props.opts)} />;
}

// ---- roles ----------------------------------------------------------------------------------

// Shows its children only to `role` and above: what a role may not do is not offered to it.
export function Can({ role, children }: { role: Role; children: ComponentChildren }) {
  return atLeast(user(), role) ? <>{children}</> : null;
}

// ---- small things ---------------------------------------------------------------------------

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · SPECTRA-Lab`;
  }, [title]);
  return (
    <header class="page-header">
      <h1>{title}</h1>
      {children && <div class="page-actions">{children}</div>}
    </header>
  );
}

// A page's tabs (`tabs`: href and text), the `current` one marked as the page.
export function Tabs({ label, tabs, current }: { label: string; tabs: [href: string, text: string][]; current: string }) {
  return (
    <nav aria-label={label} class="tabs">
      {tabs.map(([href, text]) => (
        <a href={href} aria-current={current === href ? 'page' : undefined}>
          {text}
        </a>
      ))}
    </nav>
  );
}

// A link to the record `href`/`id` that has no name of its own (a run), by its short id.
export function IdLink({ href, id }: { href: string; id: string }) {
  return (
    <a href={`${href}/${id}`}>
      <code>{short(id)}</code>
    </a>
  );
}

// A section of a page named by its h2 (the heading's id is made here).
export function Panel({ title, children }: { title: string; children?: ComponentChildren }) {
  const id = useUniqueId('panel');
  return (
    <section class="panel" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

// A list of facts: each row a label and its value; a row whose value is undefined is left out.
export type Fact = [label: string, value: ComponentChildren];
export function Facts({ rows, class: extra }: { rows: Fact[]; class?: string }) {
  return (
    <dl class={extra ? `facts ${extra}` : 'facts'}>
      {rows.map(([label, value], i) =>
        value === undefined ? null : (
          <Fragment key={i}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </Fragment>
        ),
      )}
    </dl>
  );
}

export type Tone = 'ok' | 'warn' | 'bad' | 'neutral' | 'info';

export function Badge({ tone, children }: { tone: Tone; children: ComponentChildren }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}

const TONES: [Tone, string[]][] = [
  ['ok', ['APPROVED', 'EFFECTIVE', 'COMPLETED', 'VALID', 'AVAILABLE', 'RESOLVED', 'PRODUCTION', 'SIGNED']],
  ['bad', ['BLOCKED', 'FAILED', 'REJECTED', 'EXPIRED', 'REVOKED', 'OPEN', 'DISPOSED', 'INVALID']],
  ['warn', ['PENDING', 'SUBMITTED', 'QUEUED', 'ACKNOWLEDGED', 'IN_REVIEW', 'DRAFT', 'PENDING_APPROVAL', 'QUARANTINED']],
  ['info', ['RUNNING']],
  ['neutral', ['SUPERSEDED', 'OBSOLETE']],
];

// A status as a coloured badge, shown as it is or by `labels` (human words for a kind's statuses);
// `tones` colour a kind's status differently where it means something else there.
export function StatusBadge(props: { status: string | null | undefined; labels?: Record<string, string>; tones?: Record<string, Tone> }) {
  const { status, labels, tones } = props;
  const s = (status ?? '').toUpperCase();
  const tone = tones?.[s] ?? TONES.find(([, ss]) => ss.includes(s))?.[0] ?? 'neutral';
  return <Badge tone={tone}>{status == null ? '—' : (labels?.[status] ?? status)}</Badge>;
}

export function when(t: string | null | undefined): string {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function day(t: string | null | undefined): string {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export function short(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : '—';
}

// Today's date (UTC, as the server counts), or the date `offsetDays` later, as YYYY-MM-DD.
export function isoDay(offsetDays = 0): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

// A date input's value as the RFC 3339 instant the server takes (midnight UTC); anything else as typed.
export function dateToInstant(d: string): string | undefined {
  const t = d.trim();
  if (!t) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t;
}

// An ISO time as a datetime-local input's text (the browser's time zone); '' when there is none.
export function localInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// Reads a JSON object typed into a textarea; a problem naming `field` when it is not one.
export function parseObject(text: string, field: string): Record<string, unknown> | undefined {
  if (!text.trim()) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Problem(422, 'Invalid input', '', [{ field, message: 'must be a JSON object' }]);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Problem(422, 'Invalid input', '', [{ field, message: 'must be a JSON object' }]);
  return v as Record<string, unknown>;
}

// A number typed into a field: blank is absent, a number is sent as one, and anything else is sent
// as typed, so that the server's 422 names the field (the server is the one judge of input).
export function toNumber(text: string): number | string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : t;
}

// Drops empty strings, so that optional fields left blank are not sent.
export function compact<T extends Record<string, any>>(v: T): Partial<T> {
  const out: Record<string, any> = {};
  for (const [k, x] of Object.entries(v)) if (x !== '' && x !== undefined && x !== null) out[k] = x;
  return out as Partial<T>;
}
