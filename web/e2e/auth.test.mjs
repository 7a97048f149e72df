// Signing in and out, as each role, and staying signed in across a reload (the refresh cookie).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, BASE_URL, checkA11y, launch, newPage, screenshot, signIn } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

describe('sign-in', () => {
  it('the sign-in page is served with a strict policy and passes axe', async () => {
    const res = await fetch(`${BASE_URL}/samples`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const html = await res.text();
    const asset = html.match(/\/assets\/[^"]+\.js/)[0];
    const js = await fetch(BASE_URL + asset);
    assert.match(js.headers.get('cache-control'), /max-age=31536000, immutable/);

    const page = await newPage(browser);
    await page.goto('/');
    await page.getByRole('heading', { name: 'SPECTRA-Lab' }).waitFor();
    await checkA11y(page, 'sign-in');
    await screenshot(page, '01-sign-in');
    assertClean(page);
    await page.context().close();
  });

  it('a wrong password is a readable problem, and the form stays', async () => {
    const page = await newPage(browser);
    await page.goto('/');
    await page.getByLabel('Email').fill('engineer@acme.com');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const problem = page.getByRole('alert');
    await problem.waitFor();
    assert.match(await problem.innerText(), /401/);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    assertClean(page);
    await page.context().close();
  });

  for (const role of ['admin', 'pi', 'engineer', 'technician', 'viewer']) {
    it(`signs in as ${role}, sees its name and role, and only admins and PIs see Admin`, async () => {
      const page = await newPage(browser);
      await signIn(page, role);
      assert.equal(new URL(page.url()).pathname, '/samples');
      const header = await page.locator('header.topbar').innerText();
      assert.match(header, new RegExp(`\\b${role}\\b`));
      const admin = await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).count();
      assert.equal(admin, role === 'admin' || role === 'pi' ? 1 : 0);
      if (role === 'pi') {
        // A PI manages the team; the API keys, settings and audit trail are an admin's.
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
        const tabs = page.getByRole('navigation', { name: 'Administration' });
        await tabs.getByRole('link', { name: 'Users' }).waitFor();
        assert.deepEqual(await tabs.getByRole('link').allInnerTexts(), ['Users']);
        await page.getByRole('table', { name: 'Users' }).waitFor();
      }
      assertClean(page);
      await page.context().close();
    });
  }

  it('the session refreshes itself before the access token expires', async () => {
    const page = await newPage(browser);
    await page.clock.install();
    await signIn(page, 'technician');
    const before = (await page.context().cookies()).find((c) => c.name === 'spectra_refresh');
    // The token lives 15 minutes: a minute before, the app exchanges the cookie, without a reload.
    const [refreshed] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/refresh'),
      page.clock.fastForward('14:05'),
    ]);
    assert.equal(refreshed.status(), 200);
    assert.equal((await refreshed.json()).refresh_token, undefined, 'the refresh token stays in the cookie');
    const after = (await page.context().cookies()).find((c) => c.name === 'spectra_refresh');
    assert.notEqual(after.value, before.value);
    // Still signed in, and the new token works.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instruments' }).click();
    await page.getByRole('table', { name: 'Instruments' }).waitFor();
    assertClean(page);
    await page.context().close();
  });

  it('a reload keeps the session through the HttpOnly cookie; sign-out ends it', async () => {
    const page = await newPage(browser);
    await signIn(page, 'engineer');
    const cookies = await page.context().cookies();
    const refresh = cookies.find((c) => c.name === 'spectra_refresh');
    assert.ok(refresh, 'the refresh cookie is set');
    assert.equal(refresh.httpOnly, true);
    assert.equal(refresh.sameSite, 'Strict');
    assert.equal(refresh.path, '/api/auth');
    // The access token is in memory only: nothing in storage.
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
    assert.equal(await page.evaluate(() => document.cookie), '');

    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // The reload spent the first refresh token and set a new one.
    const rotated = (await page.context().cookies()).find((c) => c.name === 'spectra_refresh');
    assert.ok(rotated && rotated.value !== refresh.value, 'the reload rotated the refresh cookie');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email').waitFor();
    await page.reload();
    await page.getByLabel('Email').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    // The spent cookie's session is revoked on the server too.
    const res = await fetch(`${BASE_URL}/api/auth/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: decodeURIComponent(rotated.value) }),
    });
    assert.equal(res.status, 401);
    assertClean(page);
    await page.context().close();
  });
});
