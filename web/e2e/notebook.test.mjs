// The notebook: a live preview rendered by the server, a script in an entry that never runs, signing
// with a wrong and then the right password, a reviewer's signature over the content hash the page
// read, and an entry changed after the signer read it (never signed unread).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertClean, call, checkA11y, launch, ok, optionTexts, screenshot, signedIn, unique } from './support.mjs';

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
    // The author signs only as the author.
    assert.deepEqual(await optionTexts(dialog.getByLabel('Meaning')), ['author']);
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
    // Signed: no more editing (once the entry itself is read again).
    await page.getByRole('definition').getByText('signed', { exact: true }).waitFor();
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
  it("a reviewer signs what the page showed: the request names the entry's content hash, and the signature shows it", async () => {
    const entry = await ok('engineer', 'POST', '/api/eln', {
      title: unique('Etch rate'),
      body_markdown: 'Etch rate 41 nm/min, 5 sites.',
    });
    const page = await signedIn(browser, 'technician');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === `/api/eln/${entry.id}`),
      page.goto(`/notebook/${entry.id}`),
    ]);
    const shown = await answer.json();
    assert.match(shown.content_sha256, /^[0-9a-f]{64}$/);
    // The server refuses the meanings the dialog does not offer.
    const asAuthor = await call('technician', 'POST', `/api/eln/${entry.id}/sign`, {
      password: 'tech123',
      meaning: 'author',
      content_sha256: shown.content_sha256,
    });
    assert.equal(asAuthor.status, 403, 'a non-author does not sign as author');
    const authorAsReviewer = await call('engineer', 'POST', `/api/eln/${entry.id}/sign`, {
      password: 'eng123',
      meaning: 'reviewer',
      content_sha256: shown.content_sha256,
    });
    assert.equal(authorAsReviewer.status, 403, 'the author does not review their own entry');
    assert.equal((await ok('technician', 'GET', `/api/eln/${entry.id}/signatures`)).items.length, 0);

    await page.getByRole('heading', { name: entry.title, level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Sign entry' });
    assert.deepEqual(await optionTexts(dialog.getByLabel('Meaning')), ['reviewer', 'approver']);
    await dialog.getByText(shown.content_sha256.slice(0, 16)).waitFor();
    await dialog.getByLabel('Password').fill('tech123');
    await dialog.getByLabel('Meaning').selectOption('reviewer');
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === `/api/eln/${entry.id}/sign`),
      dialog.getByRole('button', { name: 'Sign', exact: true }).click(),
    ]);
    assert.deepEqual(request.postDataJSON(), { password: 'tech123', meaning: 'reviewer', content_sha256: shown.content_sha256 });
    await dialog.waitFor({ state: 'hidden' });
    const signatures = page.getByRole('table', { name: 'Signatures' });
    await signatures.locator('.badge', { hasText: 'valid' }).waitFor();
    assert.match(await signatures.innerText(), /reviewer/);
    await signatures.getByText(shown.content_sha256.slice(0, 16)).waitFor();
    const stored = await ok('technician', 'GET', `/api/eln/${entry.id}/signatures`);
    assert.equal(stored.items.length, 1);
    assert.equal(stored.items[0].meaning, 'reviewer');
    assert.equal(stored.items[0].content_sha256, shown.content_sha256);
    assert.equal(stored.items[0].valid, true);
    await checkA11y(page, 'entry signed by a reviewer');
    assertClean(page);
    await page.context().close();
  });

  it('an entry changed after the signer opened it: the dialog shows the 409, nothing is signed, and the entry reloads', async () => {
    const entry = await ok('engineer', 'POST', '/api/eln', {
      title: unique('Anneal log'),
      body_markdown: 'Anneal at 450 C for 30 min.',
    });
    const page = await signedIn(browser, 'pi');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === `/api/eln/${entry.id}`),
      page.goto(`/notebook/${entry.id}`),
    ]);
    const read = await answer.json();
    const body = page.getByRole('region', { name: 'Entry body' });
    await body.getByText('450 C for 30 min').waitFor();
    // The author corrects the entry while the PI reads the old text.
    await ok('engineer', 'PATCH', `/api/eln/${entry.id}`, { body_markdown: 'Anneal at 425 C for 30 min (corrected).' });

    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Sign entry' });
    await dialog.getByLabel('Password').fill('pi123');
    await dialog.getByLabel('Meaning').selectOption('approver');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === `/api/eln/${entry.id}/sign`),
      dialog.getByRole('button', { name: 'Sign', exact: true }).click(),
    ]);
    assert.equal(refused.status(), 409);
    assert.equal(refused.request().postDataJSON().content_sha256, read.content_sha256, 'the hash of the text the page showed');
    const problem = await refused.json();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /409/);
    assert.ok((await alert.innerText()).includes(problem.detail || problem.title), "the server's message is shown");
    assert.equal(await dialog.getByRole('button', { name: 'Sign', exact: true }).count(), 0, 'no second try on the old text');
    await checkA11y(page, 'signing dialog, entry changed');
    await screenshot(page, '19-sign-entry-changed');
    assert.equal((await ok('pi', 'GET', `/api/eln/${entry.id}/signatures`)).items.length, 0, 'nothing is signed');
    assert.equal((await ok('pi', 'GET', `/api/eln/${entry.id}`)).signed, false);

    // Reloading shows the corrected text; signing it then succeeds, over its new hash.
    await dialog.getByRole('button', { name: 'Reload the entry' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await body.getByText('425 C for 30 min (corrected)').waitFor();
    await page.getByText('read it again before signing').waitFor();
    const current = await ok('pi', 'GET', `/api/eln/${entry.id}`);
    assert.notEqual(current.content_sha256, read.content_sha256);
    await page.getByRole('button', { name: 'Sign', exact: true }).click();
    await dialog.getByLabel('Password').fill('pi123');
    await dialog.getByLabel('Meaning').selectOption('approver');
    await dialog.getByRole('button', { name: 'Sign', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('table', { name: 'Signatures' }).locator('.badge', { hasText: 'valid' }).waitFor();
    const stored = await ok('pi', 'GET', `/api/eln/${entry.id}/signatures`);
    assert.equal(stored.items.length, 1);
    assert.equal(stored.items[0].content_sha256, current.content_sha256);
    assertClean(page);
    await page.context().close();
  });
});
