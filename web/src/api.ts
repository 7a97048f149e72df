// The session and every call to the two APIs.
//
// The access token lives in this module's memory only (never in storage that a script could read
// later). The refresh token is the server's HttpOnly cookie, scoped to /api/auth: a reload signs in
// again by POST /api/auth/refresh, and a timer refreshes a minute before the access token expires.
// Refreshes are serialized across tabs with a Web Lock, because the server revokes a whole session
// when a spent refresh token is used twice.
//
// Paths under /api/v1/ belong to the Analysis API (its own port, reached with CORS); the rest to
// the LIMS API, the app's own origin.

export type Role = 'viewer' | 'technician' | 'engineer' | 'pi' | 'admin';
export interface User {
  id: string;
  email: string;
  full_name: string;
  role: Role;
  organization_id: string;
}
export interface FieldError {
  field: string;
  message: string;
}

// An RFC 9457 problem, as the server sends it, or made here when the network fails.
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly requestId?: string,
  ) {
    super(detail || title);
  }
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const ROLE_RANK: Record<Role, number> = { viewer: 0, technician: 1, engineer: 2, pi: 3, admin: 4 };
export function atLeast(user: User | null, role: Role): boolean {
  return !!user && ROLE_RANK[user.role] >= ROLE_RANK[role];
}

let accessToken: string | null = null;
let currentUser: User | null = null;
let refreshTimer: number | undefined;
let analysisBase: string | null = null;
const listeners = new Set<(u: User | null) => void>();

export function user(): User | null {
  return currentUser;
}
export function onSessionChange(f: (u: User | null) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

interface TokenAnswer {
  access_token: string;
  expires_in: number;
  user: User;
}

function setSession(t: TokenAnswer | null) {
  window.clearTimeout(refreshTimer);
  accessToken = t?.access_token ?? null;
  currentUser = t?.user ?? null;
  if (t) {
    const ms = Math.max(5, t.expires_in - 60) * 1000;
    refreshTimer = window.setTimeout(() => void refresh(), ms);
  }
  listeners.forEach((f) => f(currentUser));
}

async function problemOf(res: Response): Promise<Problem> {
  let body: any = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: described by the status */
  }
  return new Problem(
    res.status,
    body?.title ?? res.statusText ?? 'Request failed',
    body?.detail ?? '',
    Array.isArray(body?.errors) ? body.errors : [],
    body?.request_id ?? res.headers.get('X-Request-Id') ?? undefined,
  );
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    throw new Problem(0, 'The server cannot be reached', 'Check the network connection and try again.');
  }
}

export async function login(email: string, password: string): Promise<User> {
  const res = await send('/api/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw await problemOf(res);
  const t = (await res.json()) as TokenAnswer;
  setSession(t);
  return t.user;
}

let refreshing: Promise<boolean> | null = null;

function retryLater(): false {
  if (accessToken) {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void refresh(), 15_000);
  }
  return false;
}

// Exchanges the refresh cookie for a new access token; false (signed out) when the server refuses.
export function refresh(): Promise<boolean> {
  if (!refreshing) {
    const run = async () => {
      let res: Response;
      try {
        res = await send('/api/auth/refresh', { method: 'POST', credentials: 'same-origin' });
      } catch {
        return retryLater();
      }
      // A refusal (no cookie, a spent or revoked session) signs out; the server being busy or
      // unreachable does not: the session is tried again shortly.
      if (res.status >= 500 || res.status === 429) return retryLater();
      if (!res.ok) {
        setSession(null);
        return false;
      }
      setSession((await res.json()) as TokenAnswer);
      return true;
    };
    const locked = navigator.locks ? navigator.locks.request('spectra-refresh', run) : run();
    refreshing = locked.finally(() => (refreshing = null));
  }
  return refreshing;
}

// Ends the session on the server (the cookie's whole refresh family) and clears the cookie.
export async function logout(): Promise<void> {
  try {
    await call('/api/auth/logout', { method: 'POST' });
  } catch {
    /* signed out here in any case */
  } finally {
    setSession(null);
  }
}

async function analysisUrl(): Promise<string> {
  if (analysisBase === null) {
    let port = '8001';
    try {
      const res = await fetch('/config.json', { cache: 'no-cache' });
      if (res.ok) port = String((await res.json()).analysis_port ?? port);
    } catch {
      /* the default port */
    }
    analysisBase = `${location.protocol}//${location.hostname}:${port}`;
  }
  return analysisBase;
}

export interface CallOptions {
  method?: string;
  // JSON unless a string (sent as is, with `contentType`) or a FormData (multipart/form-data: a file's
  // upload, whose boundary the browser writes in the Content-Type).
  body?: unknown;
  contentType?: string;
  accept?: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  // The body carries a credential (a signature's password): a 401 is about it, not the session, so
  // it is neither retried after a refresh nor taken as a sign-out.
  credential?: boolean;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function withQuery(path: string, query?: CallOptions['query']): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

// One call with the session's token; a 401 refreshes once and retries. Answers the raw Response.
export async function call(path: string, opts: CallOptions = {}): Promise<Response> {
  const base = path.startsWith('/api/v1/') ? await analysisUrl() : '';
  const url = base + withQuery(path, opts.query);
  const attempt = async () => {
    const headers: Record<string, string> = { ...opts.headers };
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
    if (opts.accept) headers.Accept = opts.accept;
    let body: BodyInit | undefined;
    if (opts.body instanceof FormData) {
      body = opts.body;
    } else if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
    }
    return send(url, { method: opts.method ?? 'GET', headers, body, signal: opts.signal });
  };
  let res = await attempt();
  if (res.status === 401 && !opts.credential) {
    if (accessToken && (await refresh())) res = await attempt();
    if (res.status === 401) setSession(null);
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

// A call whose answer is JSON (or nothing, for 204).
export async function api<T = any>(path: string, opts: CallOptions = {}): Promise<T> {
  const res = await call(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

// A POST whose body carries the password again (a signature, a disposition, a certificate): an
// ordinary call first makes sure the session's own token is fresh, so that a 401 then is about the
// password (`credential`), never the session.
export async function postWithPassword<T = any>(path: string, body: Record<string, unknown>): Promise<T> {
  await api('/api/auth/me');
  return api<T>(path, { method: 'POST', body, credential: true });
}

// A file the server makes (a label, a CSV, an .eln export), saved through the browser.
export async function download(path: string, filename: string, opts: CallOptions = {}): Promise<void> {
  const res = await call(path, opts);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

// A file the server makes, as an object URL for an <img> or a new tab (the caller revokes it).
export async function blobUrl(path: string, opts: CallOptions = {}): Promise<string> {
  const res = await call(path, opts);
  return URL.createObjectURL(await res.blob());
}

// One event of a text/event-stream answer (Server-Sent Events).
export interface ServerEvent {
  event: string;
  data: string;
  id: string;
}

// Follows a Server-Sent Events stream with the session's token, as every other call does (an
// EventSource sends no Authorization header, and the session's cookie reaches /api/auth only).
// Each event goes to `onEvent`, and `onOpen` runs on each connection. A stream that ends, fails, or
// stays silent past the server's heartbeats is opened again after a pause (1 s after a stream that
// said something, then doubled up to 30 s while it keeps failing), resuming after the last event
// seen (Last-Event-ID). Answers the function that stops it.
export function followEvents(path: string, onEvent: (e: ServerEvent) => void, onOpen?: () => void): () => void {
  let stopped = false;
  let current: AbortController | null = null;
  let lastId = '';
  void (async () => {
    let pause = 1000;
    while (!stopped) {
      const ctl = (current = new AbortController());
      let silence = 0;
      const alive = () => {
        window.clearTimeout(silence);
        silence = window.setTimeout(() => ctl.abort(), 90_000);
      };
      try {
        alive();
        const res = await call(path, {
          accept: 'text/event-stream',
          headers: lastId ? { 'Last-Event-ID': lastId } : undefined,
          signal: ctl.signal,
        });
        onOpen?.();
        const heard = () => {
          alive();
          pause = 1000;
        };
        await readEvents(res, heard, (e) => {
          lastId = e.id;
          onEvent(e);
        });
      } catch {
        /* opened again below */
      } finally {
        window.clearTimeout(silence);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 30_000);
    }
  })();
  return () => {
    stopped = true;
    current?.abort();
  };
}

// Reads an event stream to its end: lines "field: value", a blank line ends an event, and a line
// starting with ':' is a comment (a heartbeat). `heard` runs on every chunk that arrives.
async function readEvents(res: Response, heard: () => void, onEvent: (e: ServerEvent) => void): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  let event = '';
  let data: string[] = [];
  let id = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    heard();
    const lines = (rest + value).split(/\r?\n/);
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        if (data.length) onEvent({ event: event || 'message', data: data.join('\n'), id });
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = text;
      else if (field === 'data') data.push(text);
      else if (field === 'id') id = text;
    }
  }
}
