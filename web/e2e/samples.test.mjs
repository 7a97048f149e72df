// Samples: create and see it listed, field errors beside the fields, custody, scanning, CSV.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertClean, call, checkA11y, launch, ok, optionTexts, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

describe('samples', () => {
  it('an engineer creates a sample, sees it in the list, and records its custody', async () => {
    const page = await signedIn(browser, 'engineer');
    const name = unique('Film');
    await page.getByRole('link', { name: 'New sample' }).click();
    await page.getByRole('heading', { name: 'New sample' }).waitFor();

    // The server's 422 appears beside the field it names, and nothing is created.
    await page.getByRole('button', { name: 'Create sample' }).click();
    const nameError = page.locator('.field.invalid', { has: page.getByLabel('Name') });
    await nameError.locator('.field-error').waitFor();
    assert.match(await nameError.locator('.field-error').innerText(), /\S/);
    await checkA11y(page, 'new sample form with errors');
    await screenshot(page, '03-sample-form-errors');

    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Type').selectOption('film');
    await page.getByLabel('Location').fill('Glovebox 2');
    await page.getByRole('button', { name: 'Create sample' }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();

    const listed = await ok('engineer', 'GET', `/api/samples?q=${encodeURIComponent(name)}`);
    assert.equal(listed.items.length, 1);
    assert.equal(listed.items[0].sample_type, 'film');
    assert.equal(listed.items[0].location, 'Glovebox 2');
    const id = listed.items[0].id;
    assert.equal(new URL(page.url()).pathname, `/samples/${id}`);

    const chain = page.getByRole('list', { name: 'Custody chain' });
    await chain.getByText('1. create').waitFor();
    await page.getByLabel('Event', { exact: true }).selectOption('transfer');
    await page.getByLabel('To location').fill('Cleanroom bay 3');
    await page.getByRole('button', { name: 'Record', exact: true }).click();
    await chain.getByText('2. transfer').waitFor();
    assert.match(await chain.innerText(), /from Glovebox 2 to Cleanroom bay 3/);
    const custody = await ok('engineer', 'GET', `/api/samples/${id}/custody`);
    assert.deepEqual(custody.items.map((e) => e.event_type), ['create', 'transfer']);
    await page.locator('.label-preview img').waitFor();
    await checkA11y(page, 'sample detail');
    await screenshot(page, '04-sample-detail');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Samples' }).click();
    await page.getByLabel('Search').fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    const table = page.getByRole('table', { name: 'Samples' });
    await table.getByRole('link', { name }).waitFor();
    // The unfiltered list may still be shown for a moment: wait for the search's answer to replace it.
    await table.locator('tbody tr').nth(1).waitFor({ state: 'detached' });
    assert.equal(await table.locator('tbody tr').count(), 1);
    assertClean(page);
    await page.context().close();
  });

  it('an engineer edits a sample; what an edit may not set is not offered', async () => {
    const sample = await ok('engineer', 'POST', '/api/samples', { name: unique('Edit me'), sample_type: 'die', location: 'Rack 4' });
    const page = await signedIn(browser, 'engineer');
    await page.goto(`/samples/${sample.id}`);
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('heading', { name: 'Edit sample' }).waitFor();
    // Moves are custody events, and checking out, consuming and disposing too.
    assert.equal(await page.getByLabel('Location').count(), 0);
    assert.deepEqual(await optionTexts(page.getByLabel('Status')), ['available', 'in_use', 'quarantined']);
    await page.getByLabel('Name').fill(`${sample.name} (renamed)`);
    await page.getByLabel('Status').selectOption('quarantined');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: `${sample.name} (renamed)`, level: 1 }).waitFor();
    const stored = await ok('engineer', 'GET', `/api/samples/${sample.id}`);
    assert.equal(stored.name, `${sample.name} (renamed)`);
    assert.equal(stored.status, 'quarantined');
    assert.equal(stored.location, 'Rack 4');
    assertClean(page);
    await page.context().close();
  });

  it('a scanned barcode opens its sample; an unknown one says so', async () => {
    const sample = await ok('engineer', 'POST', '/api/samples', { name: unique('Scan'), sample_type: 'die' });
    const page = await signedIn(browser, 'technician');
    await page.getByLabel('Scan a barcode').fill(sample.barcode);
    await page.getByLabel('Scan a barcode').press('Enter');
    await page.getByRole('heading', { name: sample.name, level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/samples/${sample.id}`);

    await page.goBack();
    await page.getByLabel('Scan a barcode').fill('NO-SUCH-CODE-42');
    await page.getByLabel('Scan a barcode').press('Enter');
    await page.getByRole('alert').getByText('No sample has this barcode').waitFor();
    assertClean(page);
    await page.context().close();
  });

  it('a CSV with a bad row shows the row and field, and imports nothing; a good one imports all', async () => {
    const page = await signedIn(browser, 'engineer');
    await page.getByRole('button', { name: 'Import CSV' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import samples from CSV' });
    const tag = unique('csv').replace(' ', '-');
    const bad = `name,sample_type,location\n${tag}-a,wafer,Rack 1\n${tag}-b,plasma,Rack 1\n`;
    await dialog.getByLabel('CSV file').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    await dialog.getByRole('button', { name: 'Import' }).click();
    await dialog.getByRole('alert').waitFor();
    const text = await dialog.getByRole('alert').innerText();
    assert.match(text, /rows\[2\]\.sample_type/);
    await checkA11y(page, 'import dialog with row errors');
    assert.equal((await ok('engineer', 'GET', `/api/samples?q=${tag}`)).items.length, 0);

    const good = `name,sample_type,location\n${tag}-a,wafer,Rack 1\n${tag}-b,powder,Rack 1\n`;
    await dialog.getByLabel('CSV file').setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
    await dialog.getByRole('button', { name: 'Import' }).click();
    await dialog.getByRole('status').getByText('2 samples imported.').waitFor();
    assert.equal((await ok('engineer', 'GET', `/api/samples?q=${tag}`)).items.length, 2);

    // Export with the list's search: the file holds exactly the matching samples.
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await page.getByLabel('Search').fill(tag);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('table', { name: 'Samples' }).getByRole('link', { name: `${tag}-b` }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    assert.equal(lines.length, 3, csv);
    assert.ok(lines.some((l) => l.includes(`${tag}-a`)) && lines.some((l) => l.includes(`${tag}-b`)));
    assertClean(page);
    await page.context().close();
  });

  it("another organization's sample is not found, as a readable problem", async () => {
    const theirs = await ok('globex', 'GET', '/api/samples?limit=1');
    const page = await signedIn(browser, 'engineer');
    await page.goto(`/samples/${theirs.items[0].id}`);
    const problem = page.getByRole('alert');
    await problem.waitFor();
    assert.match(await problem.innerText(), /404/);
    assert.equal((await call('engineer', 'GET', `/api/samples/${theirs.items[0].id}`)).status, 404);
    assertClean(page);
    await page.context().close();
  });
});
