import './app.css';
import type { ComponentChildren, ComponentType } from 'preact';
import { Component, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { atLeast, login, logout, onSessionChange, refresh, user, type Role, type User } from './api';
import { interceptLinks, match, navigate, useLocation } from './router';
import { asProblem, Field, FormFooter, PageHeader, PasswordField, ProblemView, useForm } from './ui';
import type { Problem } from './api';
import { routes as sampleRoutes } from './pages/samples';
import { routes as instrumentRoutes } from './pages/instruments';
import { routes as instrumentDataRoutes } from './pages/instrument_data';
import { routes as runRoutes } from './pages/runs';
import { routes as recipeRoutes } from './pages/recipes';
import { routes as notebookRoutes } from './pages/notebook';
import { routes as spcRoutes } from './pages/spc';
import { routes as adminRoutes } from './pages/admin';
import { routes as qualityRoutes } from './pages/quality';
import { Bell, routes as notificationRoutes } from './pages/notifications';
import { routes as webhookRoutes } from './pages/webhooks';

// A page of the app: its path pattern, its component (given the path's parameters), and the least
// role that sees it (the server still checks every call); a `public` page is also shown to someone
// not signed in (it calls only what the server answers without credentials).
export interface Route {
  path: string;
  page: ComponentType<any>;
  role?: Role;
  public?: boolean;
}

// The first route that matches a path is its page: /instruments/import-profiles comes before /instruments/:id.
const ROUTES: Route[] = [
  ...sampleRoutes,
  ...instrumentDataRoutes,
  ...instrumentRoutes,
  ...runRoutes,
  ...recipeRoutes,
  ...notebookRoutes,
  ...spcRoutes,
  ...qualityRoutes,
  ...notificationRoutes,
  ...adminRoutes,
  ...webhookRoutes,
];

const NAV: { href: string; label: string; role?: Role }[] = [
  { href: '/samples', label: 'Samples' },
  { href: '/instruments', label: 'Instruments' },
  { href: '/runs', label: 'Runs' },
  { href: '/recipes', label: 'Recipes' },
  { href: '/sops', label: 'SOPs' },
  { href: '/notebook', label: 'Notebook' },
  { href: '/spc', label: 'SPC' },
  { href: '/quality', label: 'Quality' },
  { href: '/admin', label: 'Admin', role: 'pi' },
];

function SignIn() {
  const form = useForm({ email: '', password: '' });
  useEffect(() => {
    document.title = 'Sign in · SPECTRA-Lab';
  }, []);
  return (
    <main class="signin" id="main">
      <form
        onSubmit={form.submit(async (v) => {
          await login(v.email.trim(), v.password);
        })}
        aria-labelledby="signin-title"
      >
        <h1 id="signin-title">SPECTRA-Lab</h1>
        <p class="muted">Sign in to your lab.</p>
        <Field form={form} name="email" label="Email" type="email" autocomplete="username" required />
        <PasswordField form={form} label="Password" />
        <FormFooter form={form} submit="Sign in" />
      </form>
    </main>
  );
}

function NotFound() {
  return (
    <>
      <PageHeader title="No such page" />
      <p>
        <a href="/samples">Go to the samples</a>
      </p>
    </>
  );
}

function Forbidden() {
  return (
    <>
      <PageHeader title="Not for your role" />
      <p class="problem" role="alert">
        This page is for other roles in your lab; the server refuses its actions to yours.
      </p>
    </>
  );
}

// A page that fails while drawing shows what went wrong, never a blank page; another page starts afresh.
class PageBoundary extends Component<{ children: ComponentChildren }, { problem: Problem | null }> {
  state = { problem: null as Problem | null };
  static getDerivedStateFromError(e: unknown) {
    return { problem: asProblem(e) };
  }
  render() {
    return this.state.problem ? (
      <>
        <PageHeader title="This page failed" />
        <ProblemView problem={this.state.problem} />
        <p>
          <a href="/samples">Go to the samples</a> or reload the page.
        </p>
      </>
    ) : (
      this.props.children
    );
  }
}

function Shell({ me }: { me: User }) {
  const { path } = useLocation();
  const [menu, setMenu] = useState(false);
  const home = path === '/' || path === '/login';
  useEffect(() => {
    setMenu(false);
    if (home) navigate('/samples', true);
  }, [path]);
  if (home) return null;
  let content = <NotFound />;
  for (const r of ROUTES) {
    const params = match(r.path, path);
    if (params) {
      const Page = r.page;
      content = r.role && !atLeast(me, r.role) ? <Forbidden /> : <Page {...params} key={r.path} />;
      break;
    }
  }
  return (
    <Frame
      home="/samples"
      bar={
        <>
          <button
            type="button"
            class="menu-toggle"
            aria-expanded={menu}
            aria-controls="nav"
            onClick={() => setMenu(!menu)}
          >
            Menu
          </button>
          <nav id="nav" class={menu ? 'open' : ''} aria-label="Main">
            {NAV.filter((n) => !n.role || atLeast(me, n.role)).map((n) => (
              <a href={n.href} aria-current={path.startsWith(n.href) ? 'page' : undefined}>
                {n.label}
              </a>
            ))}
          </nav>
          <a class="docs-link" href="/docs">
            API docs
          </a>
          <div class="who">
            <Bell current={path.startsWith('/notifications')} />
            <span>
              {me.full_name} <span class="role">{me.role}</span>
            </span>
            <button type="button" onClick={() => void logout()}>
              Sign out
            </button>
          </div>
        </>
      }
    >
      <PageBoundary key={path}>{content}</PageBoundary>
    </Frame>
  );
}

// The app's frame: the skip link, the top bar (the brand, a link to `home`, then `bar`), and the page.
function Frame({ home, bar, children }: { home: string; bar: ComponentChildren; children: ComponentChildren }) {
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={home}>
          SPECTRA-Lab
        </a>
        {bar}
      </header>
      <main id="main">{children}</main>
    </>
  );
}

// The public page at `path` (a certificate's verification, which its QR code opens), or null.
function publicRoute(path: string): { route: Route; params: Record<string, string> } | null {
  for (const route of ROUTES) {
    const params = route.public ? match(route.path, path) : null;
    if (params) return { route, params };
  }
  return null;
}

// A public page for someone not signed in, framed without the app's navigation.
function PublicFrame({ route, params }: { route: Route; params: Record<string, string> }) {
  const Page = route.page;
  return (
    <Frame
      home="/"
      bar={
        <div class="who">
          <a href="/">Sign in</a>
        </div>
      }
    >
      <PageBoundary>
        <Page {...params} />
      </PageBoundary>
    </Frame>
  );
}

function App() {
  const { path } = useLocation();
  const [me, setMe] = useState<User | null>(user());
  const [ready, setReady] = useState(false);
  useEffect(() => {
    const off = onSessionChange(setMe);
    // A reload: the refresh cookie signs the tab in again, without asking for the password.
    refresh().finally(() => setReady(true));
    return off;
  }, []);
  if (!ready) return <p class="muted boot" aria-busy="true">Loading…</p>;
  if (me) return <Shell me={me} />;
  const open = publicRoute(path);
  return open ? <PublicFrame {...open} key={path} /> : <SignIn />;
}

const root = document.getElementById('app')!;
interceptLinks(root);
render(<App />, root);
