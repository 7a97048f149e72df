// The notebook: a live preview rendered by the server, a script in an entry that never runs, and
// signing with a wrong and then the right password.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertClean, checkA11y, launch, ok, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

const PAYLOAD = [
  'Measured **sheet resistance** after anneal.',
  '',
  '<script>window.__pwned = "script"; alert("script")</script>',
  '',
  '<img src="x" onerror="window.__pwned = \'img\'; alert(\'img\')">',
  '',
  '[open me](javascript:window.__pwned=\'link\')',
  '',
  '<a href="#" onclick="window.__pwned = \'click\'">click me</a>',
].join('\n');

describe('notebook', () => {
  it('an entry with script in it is shown as text: nothing runs, in the preview or the entry', async () => {
    const page = await signedIn(browser, 'engineer');
    const title = unique('XSS check');
    await page.goto('/notebook/new');
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Body (markdown)').fill(PAYLOAD);
    const preview = page.getByRole('region', { name: 'Preview of the body' });
    await preview.locator('strong', { hasText: 'sheet resistance' }).waitFor();
    await page.getByRole('button', { name: 'Create entry' }).click();
    await page.getByRole('heading', { name: title, level: 1 }).waitFor();

    const body = page.getByRole('region', { name: 'Entry body' });
    await body.locator('strong', { hasText: 'sheet resistance' }).waitFor();
    assert.equal(await body.locator('script, [onerror], [onclick], iframe, object').count(), 0);
    for (const href of await body.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''))) {
      assert.doesNotMatch(href, /^\s*javascript:/i);
    }
    if (await body.getByText('open me').count()) await body.getByText('open me').click();
    if (await body.getByText('click me').count()) await body.getByText('click me').click();
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    const stored = (await ok('engineer', 'GET', `/api/eln?q=${encodeURIComponent(title)}`)).items[0];
    assert.equal(stored.body_markdown, PAYLOAD, 'the markdown is kept as written');
    await checkA11y(page, 'notebook entry');
    assertClean(page); // no alert(), no CSP violation
    await page.context().close();
  });

  it('signing: a wrong password is refused in the dialog, the right one signs, and the signature is valid', async () => {
    const entry = await ok('engineer', 'POST', '/api/eln', {
      title: unique('Oxide growth'),
      body_markdown: '# Oxide\n\n23.4 nm after 30 min.',
    });
    const page = await signedIn(browser, 'engineer');
    await page.goto(`/notebook/${entry.id}`);
    await page.getByRole('heading', { name: entry.title, level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Signatures' }).or(page.getByText('Not signed yet.')).first().waitFor();

    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Sign entry' });
    await dialog.getByLabel('Password').fill('wrong-password');
    await dialog.getByLabel('Meaning').selectOption('author');
    await checkA11y(page, 'signing dialog');
    await screenshot(page, '09-sign-dialog');
    await dialog.getByRole('button', { name: 'Sign', exact: true }).click();
    await dialog.getByRole('alert').waitFor();
    assert.match(await dialog.getByRole('alert').innerText(), /401/);
    assert.ok(await dialog.isVisible(), 'the dialog stays open');
    assert.equal((await ok('engineer', 'GET', `/api/eln/${entry.id}/signatures`)).items.length, 0);
    // A wrong password is not a lost session: still signed in.
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    await dialog.getByLabel('Password').fill('eng123');
    await dialog.getByRole('button', { name: 'Sign', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const signatures = page.getByRole('table', { name: 'Signatures' });
    await signatures.locator('.badge', { hasText: 'valid' }).waitFor();
    assert.match(await signatures.innerText(), /author/);
    const stored = await ok('engineer', 'GET', `/api/eln/${entry.id}/signatures`);
    assert.equal(stored.items.length, 1);
    assert.equal(stored.items[0].valid, true);
    assert.equal(stored.items[0].meaning, 'author');
    // Signed: no more editing.
    assert.equal(await page.getByRole('link', { name: 'Edit', exact: true }).count(), 0);
    await checkA11y(page, 'signed entry');
    await screenshot(page, '08-notebook-signed');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export .eln' }).click()]);
    assert.match(download.suggestedFilename(), /\.eln$/);
    const zip = await readFile(await download.path());
    assert.equal(zip.subarray(0, 2).toString('latin1'), 'PK');
    assertClean(page);
    await page.context().close();
  });
});
