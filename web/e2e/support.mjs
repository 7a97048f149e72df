// What every browser scenario shares: Debian's Chromium through playwright-core (no download), a
// signed-in page per role, the API for arranging data, axe-core's check and screenshots.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:8002';
export const ANALYSIS_URL = process.env.ANALYSIS_URL ?? 'http://127.0.0.1:8001';
const SCREENSHOTS = process.env.SCREENSHOTS ?? 'test-results/screenshots';

export const USERS = {
  admin: ['admin@acme.com', 'admin123'],
  pi: ['pi@acme.com', 'pi123'],
  engineer: ['engineer@acme.com', 'eng123'],
  technician: ['tech@acme.com', 'tech123'],
  viewer: ['viewer@acme.com', 'view123'],
  globex: ['engineer@globex.com', 'eng123'],
};

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// A fresh browser context (its own cookies) with a page that records what should never happen:
// uncaught script errors and Content-Security-Policy violations.
export async function newPage(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, baseURL: BASE_URL });
  const page = await context.newPage();
  page.failures = [];
  page.on('pageerror', (e) => page.failures.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) page.failures.push(`CSP: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    // alert() would be a script injected by an entry: never accepted silently.
    if (d.type() === 'alert') page.failures.push(`alert(): ${d.message()}`);
    void d.accept();
  });
  return page;
}

export function assertClean(page) {
  assert.deepEqual(page.failures, [], 'the page had script errors, CSP violations or alerts');
}

// Signs in through the sign-in form, as a person would.
export async function signIn(page, role) {
  const [email, password] = USERS[role];
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function signedIn(browser, role, viewport) {
  const page = await newPage(browser, viewport);
  await signIn(page, role);
  return page;
}

// axe-core on the page as it is now: no serious or critical violation.
export async function checkA11y(page, what) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`),
    [],
    `${what}: accessibility violations`,
  );
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

// ---- the API, for arranging what a scenario starts from and checking what it left ------------

const tokens = new Map();
export async function token(role) {
  if (!tokens.has(role)) {
    const [email, password] = USERS[role];
    const res = await fetch(`${BASE_URL}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(res.status, 200, `login as ${role}`);
    tokens.set(role, (await res.json()).access_token);
  }
  return tokens.get(role);
}

// One API call as `role`; paths under /api/v1/ go to the Analysis API. Answers { status, body }.
// The options a select offers, once it has rendered some (allInnerTexts alone does not wait: a dialog
// found before its fields mount would read as offering nothing).
export async function optionTexts(select) {
  await select.locator('option').first().waitFor({ state: 'attached' });
  return select.locator('option').allInnerTexts();
}

export async function call(role, method, path, body) {
  const base = path.startsWith('/api/v1/') ? ANALYSIS_URL : BASE_URL;
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${await token(role)}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

export async function ok(role, method, path, body) {
  const r = await call(role, method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} as ${role}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export function unique(prefix) {
  return `${prefix} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}
