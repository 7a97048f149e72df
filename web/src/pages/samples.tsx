// Samples: the list (filters, search, barcode scan, CSV), create and edit, the detail page with its
// custody chain, labels, nonconformances and certificates of analysis.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, blobUrl, Problem, type Page } from '../api';
import { navigate } from '../router';
import {
  ActionButton, Can, compact, Dialog, DownloadButton, Facts, Field, FilterBar, FilterSelect, FormFooter, PagedTable, PageHeader, Panel,
  parseObject, ProblemView, SearchField, SelectField, Show, StatusBadge, TextArea, useApi, useFilters, useForm, useLoad, useNames,
  useRefresh, when, asProblem, short,
} from '../ui';
import { SAMPLE_TYPES } from '../lab';
import { IssueCertificate, IssuedCertificate, NonconformanceTable, type Certificate } from './quality';

export const SAMPLE_STATUSES = ['available', 'in_use', 'checked_out', 'consumed', 'disposed', 'quarantined'];
// What a create may start from, and what an edit may set: checking out, consuming and disposing are
// custody events, which record who and where.
const INITIAL_STATUSES = ['available', 'in_use', 'quarantined', 'consumed', 'disposed'];
const SETTABLE_STATUSES = ['available', 'in_use', 'quarantined'];
const CUSTODY_EVENTS: [string, string][] = [
  ['transfer', 'Transfer'],
  ['check_out', 'Check out'],
  ['return', 'Return'],
  ['consume', 'Consume'],
  ['dispose', 'Dispose'],
];

export interface Sample {
  id: string;
  name: string;
  barcode: string | null;
  sample_type: string;
  status: string;
  location: string | null;
  material_id: string | null;
  parent_sample_id: string | null;
  custodian_id: string | null;
  created_at: string;
  updated_at: string;
  extra_metadata: Record<string, unknown>;
}

function SampleList() {
  const filters = useFilters(['q', 'status', 'sample_type', 'location']);
  const [scan, setScan] = useState('');
  const [scanProblem, setScanProblem] = useState<Problem | null>(null);
  const [importing, setImporting] = useState(false);
  const [refresh, again] = useRefresh();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // The scan field has the focus where a scanner is likely (a mouse, not a phone's keyboard).
  const scanRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (window.matchMedia('(pointer: fine)').matches) scanRef.current?.focus();
  }, []);

  // A USB scanner types the code and Enter: the sample opens, or the field says it is unknown.
  const onScan = async (e: Event) => {
    e.preventDefault();
    const code = scan.trim();
    if (!code) return;
    setScanProblem(null);
    try {
      const page = await api<Page<Sample>>('/api/samples', { query: { barcode: code, limit: 1 } });
      if (page.items.length) navigate(`/samples/${page.items[0].id}`);
      else setScanProblem(new Problem(404, 'No sample has this barcode', code));
    } catch (err) {
      setScanProblem(asProblem(err));
    }
    setScan('');
  };

  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  return (
    <>
      <PageHeader title="Samples">
        <Can role="engineer">
          <a class="button primary" href="/samples/new">
            New sample
          </a>
          <button type="button" onClick={() => setImporting(true)}>
            Import CSV
          </button>
        </Can>
        <DownloadButton label="Export CSV" path="/api/samples" filename="samples.csv" opts={{ query: { ...filters.values, format: 'csv' } }} />
        <DownloadButton
          label={`Print labels (${selected.size})`}
          disabled={selected.size === 0}
          path="/api/samples/labels"
          filename="labels.pdf"
          opts={{ method: 'POST', body: { sample_ids: [...selected], format: 'pdf' } }}
        />
      </PageHeader>
      <form class="panel" onSubmit={onScan} role="search" aria-label="Barcode scanner">
        <label for="scan">Scan a barcode</label>
        <input
          id="scan"
          ref={scanRef}
          value={scan}
          onInput={(e) => setScan(e.currentTarget.value)}
          placeholder="Scan or type a barcode, then Enter"
          autocomplete="off"
        />
        <ProblemView problem={scanProblem} />
      </form>
      <FilterBar label="Filter samples" filters={filters} submit="Search">
        <SearchField filters={filters} placeholder="Name or barcode" />
        <FilterSelect filters={filters} name="status" label="Status" options={SAMPLE_STATUSES} />
        <FilterSelect filters={filters} name="sample_type" label="Type" options={SAMPLE_TYPES} />
      </FilterBar>
      <PagedTable<Sample>
        path="/api/samples"
        query={filters.values}
        label="Samples"
        refresh={refresh}
        empty={
          <>
            <p>No samples match.</p>
            <Can role="engineer">
              <a href="/samples/new">Register the first sample</a>
            </Can>
          </>
        }
        columns={[
          {
            label: 'Label',
            cell: (s) => (
              <input type="checkbox" aria-label={`Select ${s.name} for labels`} checked={selected.has(s.id)} onChange={() => toggle(s.id)} />
            ),
          },
          { label: 'Name', cell: (s) => <a href={`/samples/${s.id}`}>{s.name}</a> },
          { label: 'Barcode', cell: (s) => <code>{s.barcode}</code> },
          { label: 'Type', cell: (s) => s.sample_type },
          { label: 'Status', cell: (s) => <StatusBadge status={s.status} /> },
          { label: 'Location', cell: (s) => s.location ?? '—' },
          { label: 'Created', cell: (s) => when(s.created_at) },
        ]}
      />
      <Dialog title="Import samples from CSV" open={importing} onClose={() => setImporting(false)}>
        <ImportForm
          done={() => {
            setImporting(false);
            again();
          }}
        />
      </Dialog>
    </>
  );
}

// All rows or none: the server's row errors are listed as it names them (row and field).
function ImportForm({ done }: { done: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        if (!file) return;
        setBusy(true);
        setProblem(null);
        try {
          const r = await api<{ created: number }>('/api/samples/import', {
            method: 'POST',
            body: await file.text(),
            contentType: 'text/csv',
          });
          setCreated(r.created);
          setTimeout(done, 800);
        } catch (err) {
          setProblem(asProblem(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <p class="muted small">
        The header row names the create fields: <code>name,sample_type,barcode,location,status,material_id</code>. Every row is
        imported, or none.
      </p>
      <div class="field">
        <label for="import-file">CSV file</label>
        <input id="import-file" type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
      </div>
      <ProblemView problem={problem} />
      {created !== null && <p class="notice" role="status">{created} samples imported.</p>}
      <div class="actions">
        <button type="submit" class="primary" disabled={!file || busy}>
          Import
        </button>
        <button type="button" onClick={done}>
          Close
        </button>
      </div>
    </form>
  );
}

interface SampleValues {
  name: string;
  barcode: string;
  sample_type: string;
  status: string;
  location: string;
  material_id: string;
  parent_sample_id: string;
  extra_metadata: string;
}

function SampleForm({ sample }: { sample?: Sample }) {
  const materials = useNames('/api/materials');
  const form = useForm<SampleValues>({
    name: sample?.name ?? '',
    barcode: sample?.barcode ?? '',
    sample_type: sample?.sample_type ?? 'wafer',
    status: sample?.status ?? '',
    location: sample?.location ?? '',
    material_id: sample?.material_id ?? '',
    parent_sample_id: sample?.parent_sample_id ?? '',
    extra_metadata: sample && Object.keys(sample.extra_metadata ?? {}).length ? JSON.stringify(sample.extra_metadata, null, 2) : '',
  });
  const save = form.submit(async (v) => {
    const body: Record<string, unknown> = compact({ ...v, extra_metadata: parseObject(v.extra_metadata, 'extra_metadata') });
    if (sample) {
      // An edit sends what changed. The location changes by a custody event (it records the move).
      const change: Record<string, unknown> = {};
      for (const k of ['name', 'barcode', 'sample_type', 'status', 'material_id'] as const)
        if (v[k] && v[k] !== (sample as any)[k]) change[k] = v[k];
      if (body.extra_metadata) change.extra_metadata = body.extra_metadata;
      const saved = await api<Sample>(`/api/samples/${sample.id}`, { method: 'PATCH', body: change });
      navigate(`/samples/${saved.id}`);
    } else {
      const saved = await api<Sample>('/api/samples', { method: 'POST', body });
      navigate(`/samples/${saved.id}`);
    }
  });
  return (
    <form onSubmit={save} class="panel" aria-label={sample ? 'Edit sample' : 'New sample'} noValidate>
      <div class="grid">
        <Field form={form} name="name" label="Name" required />
        <Field form={form} name="barcode" label="Barcode" hint={sample ? undefined : 'Left blank, the server assigns one'} />
        <SelectField form={form} name="sample_type" label="Type" options={SAMPLE_TYPES} />
        {!sample ? (
          <SelectField form={form} name="status" label="Status" options={INITIAL_STATUSES} blank="available (default)" />
        ) : SETTABLE_STATUSES.includes(sample.status) ? (
          <SelectField form={form} name="status" label="Status" options={SETTABLE_STATUSES} />
        ) : (
          <p class="field">
            <strong>Status</strong> {sample.status} <span class="muted small">(changes by a custody event)</span>
          </p>
        )}
        {!sample ? (
          <Field form={form} name="location" label="Location" />
        ) : (
          <p class="field">
            <strong>Location</strong> {sample.location ?? '—'} <span class="muted small">(moves are custody events)</span>
          </p>
        )}
        <SelectField
          form={form}
          name="material_id"
          label="Material"
          blank={sample?.material_id ? undefined : 'None'}
          options={materials.options()}
        />
        {!sample && <Field form={form} name="parent_sample_id" label="Parent sample id" />}
      </div>
      <TextArea form={form} name="extra_metadata" label="Extra metadata (JSON object)" rows={3} />
      <FormFooter form={form} submit={sample ? 'Save changes' : 'Create sample'} onCancel={() => history.back()} />
    </form>
  );
}

function NewSample() {
  return (
    <>
      <PageHeader title="New sample" />
      <SampleForm />
    </>
  );
}

function EditSample({ id }: { id: string }) {
  const loaded = useApi<Sample>(`/api/samples/${id}`);
  return (
    <>
      <PageHeader title="Edit sample" />
      <Show loaded={loaded}>{(s) => <SampleForm sample={s} />}</Show>
    </>
  );
}

interface CustodyEvent {
  id: string;
  seq: number;
  event_type: string;
  from_location: string | null;
  to_location: string | null;
  from_user_id: string | null;
  to_user_id: string | null;
  actor_id: string;
  notes: string | null;
  occurred_at: string;
}

function CustodyTimeline({ id, refresh }: { id: string; refresh: number }) {
  const loaded = useLoad(() => api<Page<CustodyEvent>>(`/api/samples/${id}/custody?limit=500`), [id, refresh]);
  return (
    <Show loaded={loaded}>
      {(page) =>
        page.items.length === 0 ? (
          <div class="empty">No custody events yet.</div>
        ) : (
          <ol class="timeline" aria-label="Custody chain">
            {page.items.map((e) => (
              <li key={e.id}>
                <strong>
                  {e.seq}. {e.event_type.replace('_', ' ')}
                </strong>{' '}
                <span class="muted">{when(e.occurred_at)}</span>
                <div>
                  {e.from_location && <>from {e.from_location} </>}
                  {e.to_location && <>to {e.to_location}</>}
                  {e.to_user_id && <> · to user {short(e.to_user_id)}</>}
                </div>
                {e.notes && <div class="muted">{e.notes}</div>}
              </li>
            ))}
          </ol>
        )
      }
    </Show>
  );
}

function CustodyForm({ id, done }: { id: string; done: () => void }) {
  const form = useForm({ event_type: 'transfer', to_location: '', to_user_id: '', notes: '' });
  return (
    <form
      onSubmit={form.submit(async (v) => {
        await api(`/api/samples/${id}/custody`, { method: 'POST', body: compact(v) });
        form.reset();
        done();
      })}
      aria-label="Record a custody event"
    >
      <div class="grid">
        <SelectField form={form} name="event_type" label="Event" options={CUSTODY_EVENTS} />
        <Field form={form} name="to_location" label="To location" />
        <Field form={form} name="to_user_id" label="To user id" />
        <Field form={form} name="notes" label="Notes" />
      </div>
      <FormFooter form={form} submit="Record" />
    </form>
  );
}

function Label({ id }: { id: string }) {
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const ref = useRef<string | null>(null);
  useEffect(() => {
    blobUrl(`/api/samples/${id}/label`, { query: { format: 'svg' } })
      .then((u) => {
        ref.current = u;
        setSrc(u);
      })
      .catch((e) => setProblem(asProblem(e)));
    return () => {
      if (ref.current) URL.revokeObjectURL(ref.current);
    };
  }, [id]);
  return (
    <div class="label-preview">
      <ProblemView problem={problem} />
      {src && <img src={src} alt="The sample's label: 2D code, Code 128 barcode and its name" />}
      <div class="actions">
        <DownloadButton label="Download PNG" path={`/api/samples/${id}/label`} filename="label.png" opts={{ query: { format: 'png' } }} />
        <DownloadButton label="Download ZPL" path={`/api/samples/${id}/label`} filename="label.zpl" opts={{ query: { format: 'zpl' } }} />
        <DownloadButton
          label="Print (PDF)"
          path="/api/samples/labels"
          filename="label.pdf"
          opts={{ method: 'POST', body: { sample_ids: [id], format: 'pdf' } }}
        />
      </div>
    </div>
  );
}

function SampleDetail({ id }: { id: string }) {
  const loaded = useApi<Sample>(`/api/samples/${id}`);
  const [refresh, again] = useRefresh(loaded);
  // The certificates issued from this page (the server lists none): each with its PDF and pages.
  const [issued, setIssued] = useState<Certificate[]>([]);
  return (
    <Show loaded={loaded}>
      {(s) => (
        <>
          <PageHeader title={s.name}>
            <Can role="engineer">
              <a class="button" href={`/samples/${s.id}/edit`}>
                Edit
              </a>
              <ActionButton
                label="Delete"
                class="danger"
                confirm={`Delete sample ${s.name}? It leaves the lists; its history is kept.`}
                action={() => api(`/api/samples/${s.id}`, { method: 'DELETE' })}
                done={() => navigate('/samples')}
              />
            </Can>
            <Can role="pi">
              <IssueCertificate
                sampleId={s.id}
                issued={(c) => {
                  setIssued([c, ...issued]);
                  again();
                }}
              />
            </Can>
          </PageHeader>
          {issued.map((c) => (
            <IssuedCertificate key={c.id} certificate={c} />
          ))}
          <div class="two">
            <Panel title="Sample">
              <Facts
                rows={[
                  ['Barcode', <code>{s.barcode}</code>],
                  ['Type', s.sample_type],
                  ['Status', <StatusBadge status={s.status} />],
                  ['Location', s.location ?? '—'],
                  ['Custodian', short(s.custodian_id)],
                  ['Parent', s.parent_sample_id ? <a href={`/samples/${s.parent_sample_id}`}>{short(s.parent_sample_id)}</a> : '—'],
                  ['Created', when(s.created_at)],
                  ['Updated', when(s.updated_at)],
                ]}
              />
            </Panel>
            <Panel title="Label">
              <Label id={s.id} />
            </Panel>
          </div>
          <Panel title="Custody chain">
            <CustodyTimeline id={s.id} refresh={refresh} />
            <Can role="technician">
              <h3>Record a custody event</h3>
              <CustodyForm id={s.id} done={again} />
            </Can>
          </Panel>
          <Panel title="Nonconformances">
            <NonconformanceTable
              query={{ sample_id: s.id }}
              refresh={refresh}
              empty={<p>No result of this sample has failed its specification.</p>}
            />
          </Panel>
          <p>
            <a href={`/runs?sample_id=${s.id}`}>Runs of this sample</a>
          </p>
        </>
      )}
    </Show>
  );
}

export const routes = [
  { path: '/samples', page: SampleList },
  { path: '/samples/new', page: NewSample, role: 'engineer' as const },
  { path: '/samples/:id', page: SampleDetail },
  { path: '/samples/:id/edit', page: EditSample, role: 'engineer' as const },
];
