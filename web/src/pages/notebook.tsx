// The notebook: entries in markdown with a live preview that the server renders and sanitizes, the
// detail page with the entry's signatures (each re-checked by the server), signing with the password
// again (over the content hash of the text the page shows), amendments of signed entries, and the .eln
// export.
//
// Shared with recipes.tsx (SOP bodies): MarkdownHtml and MarkdownPreview. Markdown is never rendered
// here: the server's sanitizer is the only one, and its HTML is shown as it answers it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, postWithPassword, Problem, user, type User } from '../api';
import { navigate, useLocation } from '../router';
import {
  asProblem, Can, Dialog, DownloadButton, Facts, Field, FilterBar, FilterInput, FilterSelect, FormFooter, PagedTable, PageHeader,
  Panel, PasswordField, PasswordForm, ProblemBox, ProblemView, SearchField, SelectField, Show, short, StatusBadge, TextArea, useApi,
  useFilters, useForm, useRefresh, when,
} from '../ui';

export interface Entry {
  id: string;
  title: string;
  body_markdown: string;
  tags: string[];
  sample_ids: string[];
  author_id: string;
  author_name: string | null;
  amends_entry_id: string | null;
  locked_at: string | null;
  signed: boolean;
  created_at: string;
  updated_at: string;
  extra_metadata: Record<string, unknown>;
}
interface EntryDetail extends Entry {
  body_html: string;
  content_sha256: string; // what a signature binds: the hash of the content this answer carries
  amended_by: string[];
  signature_count: number;
}
interface Signature {
  id: string;
  entry_id: string;
  signer_id: string;
  signer_name: string;
  meaning: string;
  content_sha256: string;
  signed_at: string;
  valid: boolean;
}

// ---- shared: the server's HTML ----------------------------------------------------------------

// The page keeps one h1 (its title) and its section h2s: headings inside a document are moved down
// two levels (h1 → h3, …, capped at h6). Only tag names change; the server's sanitized HTML escapes
// every "<" of text, so "<h" only ever starts a tag.
function demoteHeadings(html: string): string {
  return html.replace(/<(\/?)h([1-6])(?=[\s>])/gi, (_m, slash: string, n: string) => `<${slash}h${Math.min(6, Number(n) + 2)}`);
}

// Sanitized HTML as the server answered it (body_html of an entry or an SOP, or a preview).
export function MarkdownHtml({ html, label }: { html: string; label: string }) {
  return <div class="markdown" role="region" aria-label={label} dangerouslySetInnerHTML={{ __html: demoteHeadings(html) }} />;
}

// The server's rendering of `markdown`, asked again ~300 ms after the typing stops (POST
// /api/eln/preview, engineer+); answers that arrive after a newer question are dropped.
export function MarkdownPreview({ markdown, label = 'Preview' }: { markdown: string; label?: string }) {
  const [html, setHtml] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    if (!markdown.trim()) {
      setHtml('');
      setProblem(null);
      setBusy(false);
      return;
    }
    setBusy(true);
    const t = window.setTimeout(() => {
      api<{ body_html: string }>('/api/eln/preview', { method: 'POST', body: { body_markdown: markdown } })
        .then((r) => {
          if (n !== seq.current) return;
          setHtml(r.body_html ?? '');
          setProblem(null);
        })
        .catch((e) => n === seq.current && setProblem(asProblem(e)))
        .finally(() => n === seq.current && setBusy(false));
    }, 300);
    return () => window.clearTimeout(t);
  }, [markdown]);
  return (
    <div aria-busy={busy ? 'true' : 'false'}>
      <ProblemView problem={problem} />
      {markdown.trim() ? (
        <MarkdownHtml html={html} label={label} />
      ) : (
        <div class="markdown muted" role="region" aria-label={label}>
          <p>Nothing to preview yet.</p>
        </div>
      )}
    </div>
  );
}

function tagList(text: string): string[] {
  return [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
}

// ---- list -------------------------------------------------------------------------------------

function EntryList() {
  const filters = useFilters(['q', 'signed', 'tag']);
  return (
    <>
      <PageHeader title="Notebook">
        <Can role="engineer">
          <a class="button primary" href="/notebook/new">
            New entry
          </a>
        </Can>
      </PageHeader>
      <FilterBar label="Filter notebook entries" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Part of the title" />
        <FilterInput filters={filters} name="tag" label="Tag" />
        <FilterSelect
          filters={filters}
          name="signed"
          label="Signed"
          options={[
            ['true', 'Signed'],
            ['false', 'Unsigned'],
          ]}
        />
      </FilterBar>
      <PagedTable<Entry>
        path="/api/eln"
        query={filters.values}
        label="Notebook entries"
        empty={
          <>
            <p>No notebook entries match.</p>
            <Can role="engineer">
              <a href="/notebook/new">Write the first entry</a>
            </Can>
          </>
        }
        columns={[
          { label: 'Title', cell: (e) => <a href={`/notebook/${e.id}`}>{e.title}</a> },
          { label: 'Tags', cell: (e) => (e.tags.length ? e.tags.join(', ') : '—') },
          { label: 'Author', cell: (e) => e.author_name ?? '—' },
          { label: 'Signed', cell: (e) => <StatusBadge status={e.signed ? 'signed' : 'unsigned'} /> },
          { label: 'Created', cell: (e) => when(e.created_at) },
          { label: 'Updated', cell: (e) => when(e.updated_at) },
        ]}
      />
    </>
  );
}

// ---- editor -----------------------------------------------------------------------------------

interface EntryValues {
  title: string;
  tags: string;
  body_markdown: string;
}

function EntryForm({ entry, amends }: { entry?: Entry; amends?: Entry }) {
  const source = entry ?? amends;
  const form = useForm<EntryValues>({
    title: entry?.title ?? (amends ? `Amendment: ${amends.title}` : ''),
    tags: source?.tags.join(', ') ?? '',
    body_markdown: source?.body_markdown ?? '',
  });
  const save = form.submit(async (v) => {
    const tags = tagList(v.tags);
    if (entry) {
      // An edit sends what changed.
      const change: Record<string, unknown> = {};
      if (v.title !== entry.title) change.title = v.title;
      if (v.body_markdown !== entry.body_markdown) change.body_markdown = v.body_markdown;
      if (JSON.stringify(tags) !== JSON.stringify(entry.tags)) change.tags = tags;
      const saved = await api<Entry>(`/api/eln/${entry.id}`, { method: 'PATCH', body: change });
      navigate(`/notebook/${saved.id}`);
    } else {
      const body: Record<string, unknown> = { title: v.title, body_markdown: v.body_markdown, tags };
      if (amends) body.amends_entry_id = amends.id;
      const saved = await api<Entry>('/api/eln', { method: 'POST', body });
      navigate(`/notebook/${saved.id}`);
    }
  });
  return (
    <form onSubmit={save} class="panel" aria-label={entry ? 'Edit notebook entry' : 'New notebook entry'} noValidate>
      {amends && (
        <p class="notice">
          This entry amends <a href={`/notebook/${amends.id}`}>{amends.title}</a>, which is signed and stays as it is.
        </p>
      )}
      <div class="grid">
        <Field form={form} name="title" label="Title" required />
        <Field form={form} name="tags" label="Tags" hint="Comma separated, e.g. oxide, anneal" />
      </div>
      <div class="editor">
        <TextArea form={form} name="body_markdown" label="Body (markdown)" rows={18} />
        <section aria-labelledby="preview-h">
          <h2 id="preview-h" class="small">
            Preview
          </h2>
          <MarkdownPreview markdown={form.values.body_markdown} label="Preview of the body" />
        </section>
      </div>
      <FormFooter form={form} submit={entry ? 'Save changes' : 'Create entry'} onCancel={() => history.back()} />
    </form>
  );
}

function NewEntry() {
  const { query } = useLocation();
  const amendsId = query.get('amends');
  const amends = useApi<Entry>(amendsId ? `/api/eln/${amendsId}` : null);
  return (
    <>
      <PageHeader title={amendsId ? 'Amend entry' : 'New notebook entry'} />
      {amendsId ? <Show loaded={amends}>{(a) => <EntryForm amends={a} />}</Show> : <EntryForm />}
    </>
  );
}

function EditEntry({ id }: { id: string }) {
  const loaded = useApi<Entry>(`/api/eln/${id}`);
  return (
    <>
      <PageHeader title="Edit notebook entry" />
      <Show loaded={loaded}>
        {(e) =>
          e.signed || e.author_id !== user()?.id ? (
            <ProblemBox title="This entry cannot be changed here">
              <p>
                {e.signed
                  ? 'It is signed, and a signed entry is locked. Write an amendment instead.'
                  : 'Only its author changes an entry.'}
              </p>
              <p>
                <a href={`/notebook/${e.id}`}>Back to the entry</a>
              </p>
            </ProblemBox>
          ) : (
            <EntryForm entry={e} />
          )
        }
      </Show>
    </>
  );
}

// ---- signing ----------------------------------------------------------------------------------

// The meanings the server accepts from `me`: an entry's author signs only as its author, anyone
// else only as a reviewer or an approver.
function meaningsFor(entry: Entry, me: User | null): string[] {
  return entry.author_id === me?.id ? ['author'] : ['reviewer', 'approver'];
}

// Signs the entry as the page shows it: the request names the content_sha256 of the answer the page
// rendered, so a change made since (the server's 409) is never signed unread; the dialog then offers
// to read the entry again.
function SignForm(props: { entry: EntryDetail; done: () => void; cancel: () => void; reread: () => void }) {
  const { entry, done, cancel, reread } = props;
  const mine = entry.author_id === user()?.id;
  const meanings = meaningsFor(entry, user());
  const form = useForm({ password: '', meaning: meanings[0] });
  return (
    <PasswordForm
      form={form}
      label="Sign entry"
      submit="Sign"
      onSubmit={async (v) => {
        // A wrong password is the server's 401, about the password and not the session.
        const body = { password: v.password, meaning: v.meaning, content_sha256: entry.content_sha256 };
        await postWithPassword<Signature>(`/api/eln/${entry.id}/sign`, body);
        done();
      }}
      cancel={cancel}
      conflict={{
        said: 'Nothing was signed. Reload the entry to read it as it is now, then sign again.',
        reload: 'Reload the entry',
        reread,
      }}
    >
      <p class="muted small">
        Signing records your name, the time, the meaning and a hash of the entry's content, and locks the entry:
        it cannot change afterwards. Enter your password again to confirm it is you.
      </p>
      <p class="muted small">
        You sign the entry as this page shows it: content SHA-256{' '}
        <code title={entry.content_sha256}>{(entry.content_sha256 ?? '').slice(0, 16)}…</code>
      </p>
      <PasswordField form={form} label="Password" />
      <SelectField
        form={form}
        name="meaning"
        label="Meaning"
        options={meanings}
        hint={mine ? 'You wrote this entry: you sign it as its author.' : "Only the entry's author signs as author."}
      />
    </PasswordForm>
  );
}

function Signatures({ id, refresh }: { id: string; refresh: number }) {
  return (
    <PagedTable<Signature>
      path={`/api/eln/${id}/signatures`}
      label="Signatures"
      refresh={refresh}
      empty={<p>Not signed yet.</p>}
      columns={[
        { label: 'Signer', cell: (s) => s.signer_name },
        { label: 'Meaning', cell: (s) => s.meaning },
        { label: 'Signed', cell: (s) => when(s.signed_at) },
        {
          label: 'Check',
          cell: (s) => (
            <span>
              <StatusBadge status={s.valid ? 'valid' : 'invalid'} />
            </span>
          ),
        },
        {
          label: 'Content SHA-256',
          cell: (s) => (
            <code title={s.content_sha256} class="small">
              {s.content_sha256.slice(0, 16)}…
            </code>
          ),
        },
      ]}
    />
  );
}

// ---- detail -----------------------------------------------------------------------------------

function fileName(title: string): string {
  const base = title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').trim() || 'entry';
  return `${base.slice(0, 120)}.eln`;
}

function EntryDetailPage({ id }: { id: string }) {
  const loaded = useApi<EntryDetail>(`/api/eln/${id}`);
  const [signing, setSigning] = useState(false);
  const [reread, setReread] = useState(false);
  const [refresh, again] = useRefresh(loaded);
  const me = user();
  return (
    <Show loaded={loaded}>
      {(e) => (
        <>
          <PageHeader title={e.title}>
            {!e.signed && e.author_id === me?.id && (
              <Can role="engineer">
                <a class="button" href={`/notebook/${e.id}/edit`}>
                  Edit
                </a>
              </Can>
            )}
            {e.signed && (
              <Can role="engineer">
                <a class="button" href={`/notebook/new?amends=${e.id}`}>
                  Amend
                </a>
              </Can>
            )}
            <Can role="technician">
              <button
                type="button"
                class="primary"
                disabled={loaded.loading}
                onClick={() => {
                  setReread(false);
                  setSigning(true);
                }}
              >
                Sign
              </button>
            </Can>
            <DownloadButton label="Export .eln" path={`/api/eln/${e.id}/export`} filename={fileName(e.title)} />
          </PageHeader>
          {reread && !loaded.loading && (
            <p class="notice" role="status">
              The entry as it is now (updated {when(e.updated_at)}): read it again before signing.
            </p>
          )}
          <div class="two">
            <Panel title="Entry">
              <Facts
                rows={[
                  ['Author', e.author_name ?? '—'],
                  [
                    'State',
                    <>
                      <StatusBadge status={e.signed ? 'signed' : 'unsigned'} />
                      {e.locked_at && <span class="muted"> locked {when(e.locked_at)}</span>}
                    </>,
                  ],
                  ['Signatures', e.signature_count],
                  ['Tags', e.tags.length ? e.tags.join(', ') : '—'],
                  [
                    'Samples',
                    e.sample_ids.length
                      ? e.sample_ids.map((s, i) => (
                          <span key={s}>
                            {i > 0 && ', '}
                            <a href={`/samples/${s}`}>{short(s)}</a>
                          </span>
                        ))
                      : '—',
                  ],
                  [
                    'Amends',
                    e.amends_entry_id ? <a href={`/notebook/${e.amends_entry_id}`}>entry {short(e.amends_entry_id)}</a> : undefined,
                  ],
                  [
                    'Amended by',
                    e.amended_by.length > 0
                      ? e.amended_by.map((a, i) => (
                          <span key={a}>
                            {i > 0 && ', '}
                            <a href={`/notebook/${a}`}>entry {short(a)}</a>
                          </span>
                        ))
                      : undefined,
                  ],
                  ['Created', when(e.created_at)],
                  ['Updated', when(e.updated_at)],
                ]}
              />
            </Panel>
            <Panel title="Signatures">
              <Signatures id={e.id} refresh={refresh} />
            </Panel>
          </div>
          <Panel title="Body">
            <MarkdownHtml html={e.body_html} label="Entry body" />
          </Panel>
          <Dialog title="Sign entry" open={signing} onClose={() => setSigning(false)}>
            <SignForm
              entry={e}
              cancel={() => setSigning(false)}
              done={() => {
                setSigning(false);
                again();
              }}
              reread={() => {
                setSigning(false);
                setReread(true);
                again();
              }}
            />
          </Dialog>
        </>
      )}
    </Show>
  );
}

export const routes = [
  { path: '/notebook', page: EntryList },
  { path: '/notebook/new', page: NewEntry, role: 'engineer' as const },
  { path: '/notebook/:id', page: EntryDetailPage },
  { path: '/notebook/:id/edit', page: EditEntry, role: 'engineer' as const },
];
