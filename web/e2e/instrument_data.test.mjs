// Instrument data: the seeded 49-site run's wafer map (the server's SVG) and its uniformity, compared
// with another run of its wafer; the seeded wafer-sort run's bin map drawn die by die with its legend,
// its yield and its G85 file; an engineer writing an import profile (a missing value column shown beside
// its field first); a technician importing a CSV into a running run (its results; the same file again
// is "already imported"; a bad file names its line and column) and storing a G85 bin map.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertClean, checkA11y, launch, ok, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

async function settled(page) {
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
}

// The wafer maps shown, once each image has loaded (the SVG, through a blob: URL).
async function loadedMaps(page, n) {
  await page.waitForFunction(
    (n) => {
      const imgs = [...document.querySelectorAll('img.wafer-map')];
      return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'));
    },
    n,
  );
  return page.locator('img.wafer-map');
}

const instrumentNamed = async (name) => {
  const found = (await ok('engineer', 'GET', '/api/v1/instruments?limit=100')).items.find((i) => i.name === name);
  assert.ok(found, `the seeded instrument "${name}"`);
  return found;
};

// A seeded run of the four-point probe, by its note.
async function seededRun(note) {
  const probe = await instrumentNamed('Four-point probe P1');
  const run = (await ok('engineer', 'GET', `/api/v1/runs?instrument_id=${probe.id}&limit=500`)).items.find((r) => r.note === note);
  assert.ok(run, `the seeded run "${note}"`);
  return run;
}

const short = (id) => id.slice(0, 8);

describe('instrument data', () => {
  it("an engineer reads the 49-site run's wafer map and uniformity, and compares it with another run of its wafer", async () => {
    const mapped = await seededRun('49-site sheet resistance map');
    const map = await ok('engineer', 'GET', `/api/v1/runs/${mapped.id}/wafer-map`);
    assert.equal(map.metric, 'sheet_resistance');
    assert.equal(map.summary.n, 49);
    assert.equal(map.diameter_mm, 150);

    // Another run of the same wafer (on the ellipsometer, whose calibration is valid) with 9 sites.
    const ellipsometer = await instrumentNamed('Ellipsometer E1');
    const other = await ok('engineer', 'POST', '/api/v1/runs', { instrument_id: ellipsometer.id, sample_id: mapped.sample_id });
    assert.equal(other.status, 'QUEUED');
    await ok('engineer', 'PATCH', `/api/v1/runs/${other.id}/status`, { status: 'RUNNING' });
    const sites = [[0, 0], [30, 0], [-30, 0], [0, 30], [0, -30], [60, 0], [-60, 0], [0, 60], [0, -60]];
    await ok('engineer', 'POST', `/api/v1/runs/${other.id}/results`, {
      results: sites.map(([x_mm, y_mm], i) => ({
        metric: 'sheet_resistance',
        value: 51 + (x_mm * x_mm + y_mm * y_mm) / 3600,
        unit: 'ohm/sq',
        x_mm,
        y_mm,
        site: String(i + 1),
      })),
    });

    const page = await signedIn(browser, 'engineer');
    await page.goto(`/runs/${mapped.id}`);
    await page.getByRole('navigation', { name: 'Run' }).getByRole('link', { name: 'Instrument data' }).click();
    await page.getByRole('heading', { name: `Run ${short(mapped.id)} · instrument data`, level: 1 }).waitFor();
    await settled(page);
    const maps = await loadedMaps(page, 1);
    assert.match(await maps.first().getAttribute('alt'), /sheet_resistance .*49 sites/);
    assert.equal(await page.getByLabel('Metric', { exact: true }).inputValue(), 'sheet_resistance');
    const summary = page.getByRole('table', { name: 'Wafer map summary' });
    assert.match(await summary.getByRole('row').filter({ hasText: 'Sites' }).innerText(), /\b49\b/);
    const uniformity = await summary.getByRole('row').filter({ hasText: 'Uniformity' }).innerText();
    assert.ok(uniformity.includes(`${map.summary.uniformity_pct.toFixed(2)} %`), `${uniformity} shows ${map.summary.uniformity_pct}`);
    await checkA11y(page, 'wafer map');
    await screenshot(page, '60-wafer-map');

    // The other run of the wafer, side by side: the same metric, its own summary column.
    await page.getByLabel('Compare with run').selectOption(other.id);
    await settled(page);
    const both = await loadedMaps(page, 2);
    assert.match(await both.nth(1).getAttribute('alt'), new RegExp(`run ${short(other.id)}: 9 sites`));
    await summary.getByRole('columnheader', { name: `Run ${short(other.id)}` }).waitFor();
    assert.match(await summary.getByRole('row').filter({ hasText: 'Sites' }).innerText(), /\b49\s+9\b/);
    assert.equal(new URL(page.url()).searchParams.get('compare'), other.id, 'the comparison is kept in the address');
    await checkA11y(page, 'wafer maps compared');
    await screenshot(page, '61-wafer-maps-compared');
    assertClean(page);
    await page.context().close();
  });

  it("the wafer-sort run's bin map: its dies coloured by bin, the legend, the yield and the G85 file", async () => {
    const sorted = await seededRun('Wafer sort: diode leakage');
    // The seeded map: 8 x 8, its corners off the wafer; bin 1 passes, bins 2 and 3 fail.
    const stored = await ok('viewer', 'GET', `/api/v1/runs/${sorted.id}/bin-map`);
    assert.equal(stored.rows, 8);
    assert.equal(stored.columns, 8);
    assert.deepEqual(
      stored.bins.map((b) => [b.code, b.quality, b.description, b.count]),
      [
        ['1', 'Pass', 'Good die', stored.bins[0].count],
        ['2', 'Fail', 'Leakage above 1 nA', 6],
        ['3', 'Fail', 'Open contact', 2],
      ],
    );
    const { tested, pass } = stored.yield;
    assert.equal(tested, stored.bins.reduce((n, b) => n + b.count, 0));
    assert.equal(pass, stored.bins[0].count);
    const pct = ((100 * pass) / tested).toFixed(1);

    const page = await signedIn(browser, 'viewer');
    await page.goto(`/runs/${sorted.id}/data`);
    await settled(page);
    const grid = page.getByRole('img', { name: /^Bin map, 8 rows by 8 columns/ });
    await grid.waitFor();
    assert.equal(await grid.locator('rect.die').count(), tested, 'one square per die, none for the null bin');
    assert.match(await grid.getAttribute('aria-label'), new RegExp(`${tested} dies, ${pass} pass, yield ${pct.replace('.', '\\.')} %`));
    const fills = await grid.locator('rect.die').evaluateAll((rects) => rects.map((r) => r.getAttribute('fill')));
    const byFill = fills.reduce((m, f) => m.set(f, (m.get(f) ?? 0) + 1), new Map());
    assert.deepEqual([...byFill.values()].sort((a, b) => b - a), [pass, 6, 2], 'one colour per bin');

    const bins = page.getByRole('table', { name: 'Bins' });
    assert.equal(await bins.locator('tbody tr').count(), 3);
    assert.match(await bins.getByRole('row').filter({ hasText: 'Good die' }).innerText(), new RegExp(`1\\s+Pass\\s+Good die\\s+${pass}\\b`));
    assert.match(await bins.getByRole('row').filter({ hasText: 'Leakage above 1 nA' }).innerText(), /2\s+Fail\s+Leakage above 1 nA\s+6\b/);
    assert.match(await bins.getByRole('row').filter({ hasText: 'Open contact' }).innerText(), /3\s+Fail\s+Open contact\s+2\b/);
    const figures = await page.locator('.figures').innerText();
    assert.ok(figures.includes(`${pct} %`) && figures.includes(`${pass} of ${tested}`), figures);
    // No positioned results on this run, and a viewer is offered no import or upload.
    await page.getByText('No result of this run has a position on the wafer').waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Import a file' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Store bin map' }).count(), 0);
    await checkA11y(page, 'bin map');
    await screenshot(page, '62-bin-map');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download G85' }).click()]);
    const g85 = await readFile(await download.path(), 'utf8');
    assert.match(g85, /Rows="8"/);
    assert.match(g85, /LOT-2026-11/);
    assert.match(g85, /Leakage above 1 nA/);
    assertClean(page);
    await page.context().close();
  });

  it('an engineer writes an import profile: a missing value column is shown beside its field first', async () => {
    const name = unique('Ellipsometer thickness map');
    const page = await signedIn(browser, 'engineer');
    await page.goto('/instruments');
    await page.getByRole('navigation', { name: 'Instruments' }).getByRole('link', { name: 'Import profiles' }).click();
    await page.getByRole('heading', { name: 'Import profiles', level: 1 }).waitFor();
    await settled(page);
    const seeded = page.getByRole('table', { name: 'Import profiles' }).getByRole('row').filter({ hasText: 'Jandel RM3000 sheet resistance' });
    await seeded.getByRole('link', { name: 'Four-point probe P1' }).waitFor();
    assert.match(await seeded.innerText(), /Four-point probe P1\s+CSV\s+sheet_resistance\s+Rs\s+ohm\/sq\s+x, y \(mm\) · site/);
    await checkA11y(page, 'import profiles');
    await screenshot(page, '63-import-profiles');

    await page.getByRole('link', { name: 'New import profile' }).click();
    await page.getByRole('heading', { name: 'New import profile', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Instrument', { exact: true }).selectOption({ label: 'Ellipsometer E1' });
    await page.getByLabel('Format', { exact: true }).selectOption('tsv');
    await page.getByLabel('Lines before the header').fill('1');
    await page.getByLabel('X column (mm)').fill('X');
    await page.getByLabel('Y column (mm)').fill('Y');
    await page.getByLabel('Metric (one per file)').fill('thickness');
    await page.getByLabel('Unit', { exact: true }).fill('nm');
    await page.getByRole('button', { name: 'Create import profile' }).click();

    // The server's 422 names columns.value: its message beside the Value column field.
    const value = page.locator('.field.invalid', { has: page.getByLabel('Value column') });
    await value.locator('.field-error').waitFor();
    assert.match(await value.locator('.field-error').innerText(), /is required/);
    await checkA11y(page, 'import profile form with a problem');
    await screenshot(page, '64-import-profile-problem');
    assert.equal((await ok('engineer', 'GET', `/api/v1/import-profiles?q=${encodeURIComponent(name)}`)).items.length, 0, 'nothing created');

    await page.getByLabel('Value column').fill('Thickness');
    await page.getByLabel('Decimal comma (1,5; TSV files only)').check();
    await page.getByRole('button', { name: 'Create import profile' }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await settled(page);
    const id = new URL(page.url()).pathname.split('/').pop();
    const created = await ok('engineer', 'GET', `/api/v1/import-profiles/${id}`);
    assert.equal(created.name, name);
    assert.equal(created.format, 'tsv');
    assert.equal(created.skip_lines, 1);
    assert.deepEqual(created.columns, { value: 'Thickness', x_mm: 'X', y_mm: 'Y' });
    assert.equal(created.metric, 'thickness');
    assert.equal(created.unit, 'nm');
    assert.equal(created.decimal_comma, true);
    assert.equal(await page.locator('pre').innerText(), 'Thickness\tX\tY', 'the header line it expects');
    await checkA11y(page, 'import profile');

    // A change: the values are in ångström, a tenth of a nanometre.
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit import profile', level: 1 }).waitFor();
    await settled(page);
    await page.getByLabel('Unit scale').fill('0.1');
    await page.getByRole('button', { name: 'Save import profile' }).click();
    await page.getByRole('heading', { name, level: 1 }).waitFor();
    await page.getByText('× 0.1').waitFor();
    assert.equal((await ok('engineer', 'GET', `/api/v1/import-profiles/${id}`)).unit_scale, 0.1);
    assertClean(page);
    await page.context().close();
  });

  it('a technician imports a CSV into a running run: its results, "already imported" for the same file, the line and column of a bad one', async () => {
    // Arranged through the API: a profile of the ellipsometer (valid calibration), a wafer, a running run.
    const ellipsometer = await instrumentNamed('Ellipsometer E1');
    const profile = await ok('engineer', 'POST', '/api/v1/import-profiles', {
      name: unique('E1 thickness sites'),
      instrument_id: ellipsometer.id,
      format: 'csv',
      columns: { value: 'Thickness (nm)', x_mm: 'X', y_mm: 'Y', site: 'Site' },
      metric: 'thickness',
      unit: 'nm',
    });
    const sample = await ok('engineer', 'POST', '/api/samples', { name: unique('Imported wafer'), sample_type: 'wafer' });
    const run = await ok('engineer', 'POST', '/api/v1/runs', { instrument_id: ellipsometer.id, sample_id: sample.id });
    assert.equal(run.status, 'QUEUED');
    await ok('engineer', 'PATCH', `/api/v1/runs/${run.id}/status`, { status: 'RUNNING' });

    const good = 'Site,X,Y,Thickness (nm)\n1,0,0,100.2\n2,20,0,100.9\n3,-20,0,99.7\n4,0,20,100.4\n5,0,-20,99.9\n';
    const tech = await signedIn(browser, 'technician');
    await tech.goto(`/runs/${run.id}/data`);
    await settled(tech);
    await tech.getByText('No file has been imported into this run.').waitFor();
    await tech.getByLabel('Import profile').selectOption({ label: profile.name });
    await tech.getByLabel('File', { exact: true }).setInputFiles({ name: 'sites.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
    await tech.getByRole('button', { name: 'Import file' }).click();
    const status = tech.getByRole('status').filter({ hasText: 'sites.csv' });
    await status.getByText('Imported sites.csv:').waitFor();
    assert.match(await status.innerText(), /5 results recorded/);
    const imports = tech.getByRole('table', { name: 'Imported files' });
    await imports.getByRole('row').filter({ hasText: 'sites.csv' }).waitFor();
    assert.match(await imports.getByRole('row').filter({ hasText: 'sites.csv' }).innerText(), /\b5\b/);
    await imports.getByRole('button', { name: 'Download sites.csv' }).waitFor();
    await loadedMaps(tech, 1);
    assert.match(await tech.getByRole('table', { name: 'Wafer map summary' }).getByRole('row').filter({ hasText: 'Sites' }).innerText(), /\b5\b/);
    await checkA11y(tech, 'imported file');
    await screenshot(tech, '65-imported-file');
    const first = await ok('technician', 'GET', `/api/v1/runs/${run.id}/imports`);
    assert.equal(first.items.length, 1);
    assert.equal(first.items[0].results, 5);
    const counted = Object.values(first.items[0].evaluations).reduce((a, b) => a + b, 0);
    assert.equal(counted, 5, 'each result judged once');
    const results = await ok('technician', 'GET', `/api/v1/runs/${run.id}/results?limit=100`);
    assert.equal(results.items.length, 5);

    // The same file again: the first import, nothing added.
    await tech.getByRole('button', { name: 'Import file' }).click();
    await tech.getByRole('status').getByText('Already imported:').waitFor();
    assert.match(await tech.getByRole('status').filter({ hasText: 'Already imported' }).innerText(), /sites\.csv .*Nothing was added/s);
    assert.equal((await ok('technician', 'GET', `/api/v1/runs/${run.id}/imports`)).items.length, 1);
    assert.equal((await ok('technician', 'GET', `/api/v1/runs/${run.id}/results?limit=100`)).items.length, 5);

    // A file the profile cannot read: its line and column, listed; nothing recorded.
    const bad = 'Site,X,Y,Thickness (nm)\n6,10,10,100.1\n7,-10,10,abc\n';
    await tech.getByLabel('File', { exact: true }).setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    await tech.getByRole('button', { name: 'Import file' }).click();
    const problem = tech.getByRole('form', { name: 'Import a file' }).getByRole('alert');
    await problem.waitFor();
    assert.match(await problem.innerText(), /not imported/);
    assert.match(await problem.getByRole('listitem').first().innerText(), /line 3, column Thickness \(nm\): is not a number: 'abc'/);
    await checkA11y(tech, 'a file the profile cannot read');
    await screenshot(tech, '66-import-problem');
    assert.equal((await ok('technician', 'GET', `/api/v1/runs/${run.id}/imports`)).items.length, 1);
    assert.equal((await ok('technician', 'GET', `/api/v1/runs/${run.id}/results?limit=100`)).items.length, 5);

    // The run has no bin map: the technician stores one from a G85 file.
    await tech.getByText('This run has no bin map.').waitFor();
    const g85 = `<?xml version="1.0" encoding="UTF-8"?>
<Maps><Map WaferId="${sample.barcode ?? 'W'}" FormatRevision="SEMI G85 0703">
  <Device ProductId="TEST" LotId="LOT-E2E" BinType="Decimal" NullBin="255" Rows="2" Columns="2">
    <Bin BinCode="1" BinCount="2" BinQuality="Pass" BinDescription="Good die"/>
    <Bin BinCode="2" BinCount="1" BinQuality="Fail" BinDescription="Short"/>
    <Data MapName="Map" MapVersion="1"><Row><![CDATA[001 002]]></Row><Row><![CDATA[001 255]]></Row></Data>
  </Device>
</Map></Maps>
`;
    await tech.getByLabel('G85 file').setInputFiles({ name: 'map.xml', mimeType: 'application/xml', buffer: Buffer.from(g85) });
    await tech.getByRole('button', { name: 'Store bin map' }).click();
    const grid = tech.getByRole('img', { name: /^Bin map, 2 rows by 2 columns/ });
    await grid.waitFor();
    assert.equal(await grid.locator('rect.die').count(), 3);
    assert.match(await grid.getAttribute('aria-label'), /3 dies, 2 pass, yield 66\.7 %/);
    const stored = await ok('technician', 'GET', `/api/v1/runs/${run.id}/bin-map`);
    assert.deepEqual(stored.yield, { tested: 3, pass: 2, yield_pct: stored.yield.yield_pct });
    assert.ok(Math.abs(stored.yield.yield_pct - 66.667) < 0.01);
    assertClean(tech);
    await tech.context().close();
  });
});
