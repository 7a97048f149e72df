// Versioned documents (recipes, SOPs, specifications): a decided version stays as it is, and changing
// it makes the next version, a draft that is decided on again. One way across their pages: which
// version is the latest, the edit page (the latest version only), the notice on a form that makes a
// new version and on the page it opens, the version history, and approving or rejecting a version.
import type { ComponentChildren } from 'preact';
import { api, atLeast, type User } from './api';
import { navigate, useLocation } from './router';
import { Dialog, FormFooter, PageHeader, ProblemBox, Show, TextArea, useApi, useForm, when } from './ui';

// A version as a document's history lists it.
export interface VersionRef {
  id: string;
  version: number;
  status: string;
}
// A version with its document's history (`versions`: every version, this one among them).
export interface Versioned extends VersionRef {
  versions: VersionRef[];
}
// A kind of document's statuses in words (`state`), and those in which a version never changes
// (`frozen`: an edit of the latest version is offered, and allowed, in every other).
export interface VersionRules {
  href: string; // the pages: `href`/id, `href`/id/edit
  state: (status: string) => string;
  frozen: string[];
}

export function latestOf(doc: Versioned): VersionRef {
  return doc.versions.reduce((a, b) => (b.version > a.version ? b : a), doc.versions[0] ?? doc);
}

// ---- changing a version ------------------------------------------------------------------------

// The edit page of version `id` (GET `path`/id): only the latest version changes, and not in a frozen
// state; `children` is the form of one that may.
export function EditVersionPage<D extends Versioned>(props: {
  title: string;
  path: string;
  id: string;
  rules: VersionRules;
  children: (doc: D) => ComponentChildren;
}) {
  const { title, path, id, rules, children } = props;
  const loaded = useApi<D>(`${path}/${id}`);
  return (
    <>
      <PageHeader title={title} />
      <Show loaded={loaded}>
        {(d) => {
          const latest = latestOf(d);
          if (latest.id !== d.id)
            return (
              <ProblemBox title="A newer version exists">
                <p>
                  Change <a href={`${rules.href}/${latest.id}/edit`}>version {latest.version}</a> instead.
                </p>
              </ProblemBox>
            );
          if (rules.frozen.includes(d.status))
            return (
              <ProblemBox title="This version cannot change">
                <p>It is {rules.state(d.status).toLowerCase()}.</p>
              </ProblemBox>
            );
          return children(d);
        }}
      </Show>
    </>
  );
}

// The detail page's link to the edit page, on the latest version when it may change: "Edit as new
// version" on a decided one, `draft` (the link's text) on a draft.
export function EditVersionLink({ doc, rules, draft }: { doc: Versioned; rules: VersionRules; draft: string }) {
  if (latestOf(doc).id !== doc.id || rules.frozen.includes(doc.status)) return null;
  return (
    <a class="button" href={`${rules.href}/${doc.id}/edit`}>
      {doc.status === 'DRAFT' ? draft : 'Edit as new version'}
    </a>
  );
}

// Above the form of a decided version: saving makes the next version (`children`: what it then needs).
export function NewVersionNotice({ doc, rules, children }: { doc: VersionRef; rules: VersionRules; children: ComponentChildren }) {
  return (
    <p class="notice">
      Version {doc.version} is {rules.state(doc.status).toLowerCase()} and stays as it is: saving makes version {doc.version + 1},{' '}
      {children}
    </p>
  );
}

// Saves a change of version `id` (PATCH `path`/id, `change`: what changed) and opens what the server
// answers: this version, or (for a decided one) the next version, a draft, whose page says so (?from=).
export async function saveVersion(path: string, rules: VersionRules, id: string, change: Record<string, unknown>) {
  const saved = await api<VersionRef>(`${path}/${id}`, { method: 'PATCH', body: change });
  navigate(saved.id === id ? `${rules.href}/${saved.id}` : `${rules.href}/${saved.id}?from=${id}`);
}

// On the page saveVersion opened with ?from=: this version is a new draft, the one edited stays as it
// was (`children`: what the draft needs next).
export function SavedAsNewVersion({ doc, rules, children }: { doc: Versioned; rules: VersionRules; children: ComponentChildren }) {
  const from = useLocation().query.get('from');
  if (!from) return null;
  const previous = doc.versions.find((v) => v.id === from);
  return (
    <p class="notice" role="status">
      Saved as version {doc.version}, a draft
      {previous ? (
        <>
          : <a href={`${rules.href}/${previous.id}`}>version {previous.version}</a> ({rules.state(previous.status)}) stays as it was.
        </>
      ) : (
        '.'
      )}{' '}
      {children}
    </p>
  );
}

// ---- the versions ------------------------------------------------------------------------------

// A version in a history: a link, or this page's own version.
export function VersionLink({ v, current, href }: { v: VersionRef; current: string; href: string }) {
  return v.id === current ? (
    <strong aria-current="page">version {v.version} (this one)</strong>
  ) : (
    <a href={`${href}/${v.id}`}>version {v.version}</a>
  );
}

// A document's versions as a timeline (in the order given): each with its status (`badge`), its name
// (`name`), when it was written (and by whom, `by`) and approved.
export function VersionTimeline<V extends VersionRef & { created_at: string; approved_at: string | null }>(props: {
  versions: V[];
  current: string;
  href: string;
  badge: (status: string) => ComponentChildren;
  name: (v: V) => string;
  by?: (v: V) => string;
}) {
  const { versions, current, href, badge, name, by } = props;
  return (
    <ol class="timeline" aria-label="Version history">
      {versions.map((v) => (
        <li key={v.id}>
          <VersionLink v={v} current={current} href={href} /> {badge(v.status)}
          <div class="muted small">
            {name(v)} · written {when(v.created_at)}
            {by && <> by {by(v)}</>}
            {v.approved_at && <> · approved {when(v.approved_at)}</>}
          </div>
        </li>
      ))}
    </ol>
  );
}

// Where the other versions stand, on an SOP's or a specification's page: the effective one, and a
// draft awaiting approval.
export function OtherVersions({ doc, href }: { doc: Versioned; href: string }) {
  const effective = doc.versions.find((v) => v.status === 'EFFECTIVE');
  const draft = doc.versions.find((v) => v.status === 'DRAFT');
  return (
    <>
      {doc.status !== 'EFFECTIVE' && effective && (
        <p class="notice">
          The effective version is <a href={`${href}/${effective.id}`}>version {effective.version}</a>.
        </p>
      )}
      {doc.status !== 'DRAFT' && draft && (
        <p class="notice">
          <a href={`${href}/${draft.id}`}>Version {draft.version}</a> is a draft awaiting approval.
        </p>
      )}
    </>
  );
}

// ---- deciding ----------------------------------------------------------------------------------

export type Decision = 'approve' | 'reject';

// What the server would let `me` decide on a draft version of an SOP or a specification: a PI or an
// admin decides, never its author (`author`) nor anyone who changed it after it was written (its
// `editors`); the reason when they may not.
export function draftDecisionFor(
  doc: { status: string; editors: string[] },
  author: string | null,
  me: User | null,
): { may: boolean; why?: string } {
  if (!me || !atLeast(me, 'pi') || doc.status !== 'DRAFT') return { may: false };
  if (author === me.id) return { may: false, why: 'You wrote this version: another PI or an admin decides on it.' };
  if (doc.editors.includes(me.id)) return { may: false, why: 'You changed this version: another PI or an admin decides on it.' };
  return { may: true };
}

// On a draft: why `me` may not decide on it (draftDecisionFor), else who does (`children`).
export function DraftDecisionNote({ doc, why, children }: { doc: VersionRef; why?: string; children: ComponentChildren }) {
  if (doc.status !== 'DRAFT') return null;
  return <p class={why ? 'notice small' : 'muted small'}>{why ?? children}</p>;
}

// The page's Approve and Reject buttons, each where the decision can be made.
export function DecisionButtons(props: { approve: boolean; reject: boolean; decide: (d: Decision) => void }) {
  const { approve, reject, decide } = props;
  return (
    <>
      {approve && (
        <button type="button" class="primary" onClick={() => decide('approve')}>
          Approve
        </button>
      )}
      {reject && (
        <button type="button" class="danger" onClick={() => decide('reject')}>
          Reject
        </button>
      )}
    </>
  );
}

// Approve or reject a recipe, an SOP or a specification version (`path`, the document's URL; `what`, its kind in
// words): a comment, required to reject; `note` says what the decision does.
export function DecisionForm(props: {
  path: string;
  what: string;
  decision: Decision;
  note?: ComponentChildren;
  done: () => void;
  cancel: () => void;
}) {
  const { path, what, decision, note, done, cancel } = props;
  const form = useForm({ comment: '' });
  return (
    <form
      aria-label={`${decision === 'approve' ? 'Approve' : 'Reject'} ${what}`}
      noValidate
      onSubmit={form.submit(async (v) => {
        // A reject without a comment is the server's 422, shown beside the field.
        const comment = v.comment.trim();
        await api(`${path}/${decision}`, { method: 'POST', body: comment ? { comment } : {} });
        done();
      })}
    >
      {note && <p class="muted small">{note}</p>}
      <TextArea
        form={form}
        name="comment"
        label={decision === 'approve' ? 'Comment (optional)' : 'Comment (required)'}
        rows={4}
      />
      <FormFooter form={form} submit={decision === 'approve' ? 'Approve' : 'Reject'} onCancel={cancel} />
    </form>
  );
}

// The dialog of the decision being made (`deciding`, null when none): DecisionForm, then `done`
// (the page reads the version again). `note` says what each decision does.
export function DecisionDialog(props: {
  path: string;
  what: string;
  deciding: Decision | null;
  setDeciding: (d: Decision | null) => void;
  note?: (d: Decision) => ComponentChildren;
  done: () => void;
}) {
  const { path, what, deciding, setDeciding, note, done } = props;
  return (
    <Dialog title={`${deciding === 'reject' ? 'Reject' : 'Approve'} ${what}`} open={deciding !== null} onClose={() => setDeciding(null)}>
      {deciding && (
        <DecisionForm
          path={path}
          what={what}
          decision={deciding}
          note={note?.(deciding)}
          cancel={() => setDeciding(null)}
          done={() => {
            setDeciding(null);
            done();
          }}
        />
      )}
    </Dialog>
  );
}
