// Every main page: it loads without a script error, passes axe-core, shows an empty state or its
// rows, works at phone width, and a viewer is offered no create or edit button on it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, BASE_URL, checkA11y, launch, ok, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

// Each list page, the heading it shows, and the create button an engineer (or admin) would see.
const PAGES = [
  ['/samples', 'Samples', 'New sample'],
  ['/instruments', 'Instruments', 'New instrument'],
  ['/runs', 'Runs', 'New run'],
  ['/recipes', 'Recipes', 'New recipe'],
  ['/sops', 'SOPs', 'New SOP'],
  ['/notebook', 'Notebook', 'New entry'],
  ['/spc', 'Statistical process control', 'New series'],
  ['/quality', 'Specifications', 'New specification'],
];
const ADMIN = [
  ['/admin/users', 'users'],
  ['/admin/api-keys', 'api-keys'],
  ['/admin/organization', 'organization'],
  ['/admin/audit', 'audit'],
];

async function settled(page) {
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
}

describe('pages', () => {
  it('each main page passes axe at 1280×800 and shows its create button to an engineer', async () => {
    const page = await signedIn(browser, 'engineer');
    let n = 11;
    for (const [path, heading, create] of PAGES) {
      await page.goto(path);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await settled(page);
      assert.equal(await page.getByRole('link', { name: create }).count(), 1, `${path}: ${create}`);
      await checkA11y(page, path);
      await screenshot(page, `${n++}-${path.slice(1)}-list`);
    }
    for (const path of ['/samples/new', '/instruments/new', '/runs/new', '/recipes/new', '/sops/new', '/notebook/new', '/spc/new', '/quality/specifications/new']) {
      await page.goto(path);
      await settled(page);
      await checkA11y(page, path);
    }
    assertClean(page);
    await page.context().close();
  });

  it('the admin pages pass axe; an API key is shown once', async () => {
    const page = await signedIn(browser, 'admin');
    let n = 20;
    for (const [path, name] of ADMIN) {
      await page.goto(path);
      await settled(page);
      await checkA11y(page, path);
      await screenshot(page, `${n++}-admin-${name}`);
    }
    // An API key is shown once: in the notice after creating it, never again; and it works.
    await page.goto('/admin/api-keys');
    await page.getByRole('button', { name: 'New API key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New API key' });
    const keyName = unique('Ellipsometer uploader');
    await dialog.getByLabel('Name', { exact: true }).fill(keyName);
    await dialog.getByLabel('samples:read').check();
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.locator('#new-api-key').innerText()).trim();
    assert.match(secret, /^sk_/);
    const res = await fetch(`${BASE_URL}/api/samples?limit=1`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(res.status, 200, 'the key shown works');
    await page.reload();
    await page.getByRole('table', { name: 'API keys' }).getByText(keyName).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, 'the key is not shown again');
    const listed = (await ok('admin', 'GET', '/api/api-keys')).items.find((k) => k.name === keyName);
    assert.ok(listed && !('key' in listed), 'the list has no key');

    // The audit page shows the signed checkpoint the server gave it.
    const [answer] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/api/audit/checkpoint'),
      page.goto('/admin/audit'),
    ]);
    const checkpoint = await answer.json();
    assert.match(checkpoint.hash, /^[0-9a-f]{64}$/);
    await page.getByRole('table').first().waitFor();
    await page.getByText(checkpoint.hash.slice(0, 16), { exact: false }).first().waitFor();
    assertClean(page);
    await page.context().close();
  });

  it('a long list pages with the server\'s cursors', async () => {
    const tag = unique('Paged').replace(' ', '-');
    for (let i = 0; i < 27; i++) await ok('engineer', 'POST', '/api/samples', { name: `${tag}-${String(i).padStart(2, '0')}`, sample_type: 'die' });
    const page = await signedIn(browser, 'viewer');
    await page.goto(`/samples?q=${tag}`);
    await settled(page);
    const table = page.getByRole('table', { name: 'Samples' });
    const names = async () => table.locator('tbody tr td:nth-child(2)').allInnerTexts();
    const pager = page.getByRole('navigation', { name: 'Samples pages' });
    const first = await names();
    assert.equal(first.length, 25);
    await pager.getByRole('button', { name: 'Next' }).click();
    await pager.getByText('Page 2').waitFor();
    await settled(page);
    const second = await names();
    assert.equal(second.length, 2);
    assert.equal(new Set([...first, ...second]).size, 27, 'every sample once, on one page or the other');
    assert.ok(await pager.getByRole('button', { name: 'Next' }).isDisabled());
    await pager.getByRole('button', { name: 'Previous' }).click();
    await pager.getByText('Page 1').waitFor();
    await settled(page);
    assert.deepEqual(await names(), first);
    assertClean(page);
    await page.context().close();
  });

  it('a viewer sees no create, edit or approve buttons, and a page for other roles says so', async () => {
    const page = await signedIn(browser, 'viewer');
    for (const [path, heading, create] of PAGES) {
      await page.goto(path);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await settled(page);
      assert.equal(await page.getByRole('link', { name: create }).count(), 0, `${path}: no ${create}`);
      assert.equal(await page.getByRole('button', { name: /^(New|Import|Create)/ }).count(), 0, `${path}: no create button`);
    }
    const sample = (await ok('viewer', 'GET', '/api/samples?limit=1')).items[0];
    await page.goto(`/samples/${sample.id}`);
    await settled(page);
    for (const name of ['Edit', 'Delete', 'Record']) assert.equal(await page.getByRole('button', { name, exact: true }).or(page.getByRole('link', { name, exact: true })).count(), 0, name);
    const recipe = (await ok('viewer', 'GET', '/api/recipes?limit=1')).items[0];
    await page.goto(`/recipes/${recipe.id}`);
    await settled(page);
    for (const name of ['Approve', 'Reject', 'Submit for approval']) assert.equal(await page.getByRole('button', { name }).count(), 0, name);
    await page.goto('/samples/new');
    await page.getByRole('heading', { name: 'Not for your role' }).waitFor();
    await page.goto('/admin');
    await page.getByRole('heading', { name: 'Not for your role' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).count(), 0);
    assertClean(page);
    await page.context().close();
  });

  it('works at phone width: the menu opens, lists become cards, pages pass axe', async () => {
    const page = await signedIn(browser, 'technician', { width: 390, height: 844 });
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.isVisible(), false, 'the menu is folded');
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    for (const [path, name] of [['/samples', 'samples'], ['/instruments', 'instruments'], ['/spc', 'spc']]) {
      await page.goto(path);
      await settled(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${path} fits the phone's width (overflow ${overflow}px)`);
      await checkA11y(page, `${path} at phone width`);
      await screenshot(page, `30-phone-${name}`);
    }
    assertClean(page);
    await page.context().close();
  });
});
