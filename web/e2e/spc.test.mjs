// A control chart with a rule-1 violation: the point is marked on the chart and in the table, the
// open alert is listed, and an engineer acknowledges and resolves it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, checkA11y, launch, ok, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

// Pixels of the chart's canvas within a small distance of an RGB colour.
async function pixelsOf(page, rgb) {
  return page.locator('.chart canvas').first().evaluate((canvas, [r, g, b]) => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4)
      if (Math.abs(data[i] - r) < 24 && Math.abs(data[i + 1] - g) < 24 && Math.abs(data[i + 2] - b) < 24 && data[i + 3] > 200) n++;
    return n;
  }, rgb);
}

describe('spc', () => {
  it('a rule-1 violation is a marked point and an open alert; the engineer resolves it', async () => {
    const series = await ok('engineer', 'POST', '/api/v1/spc/series', {
      name: unique('Sheet resistance'),
      metric: 'sheet_resistance',
      unit: 'ohm/sq',
      chart_type: 'I-MR',
      center_line: 100,
      ucl: 103,
      lcl: 97,
      lsl: 94,
      usl: 106,
    });
    const values = [100.2, 99.1, 100.8, 99.6, 100.4, 99.9, 100.1, 99.4, 100.6, 99.8, 100.3, 99.7];
    const before = await ok('technician', 'POST', `/api/v1/spc/series/${series.id}/points`, {
      points: values.map((value) => ({ value })),
    });
    assert.ok(before.items.every((p) => p.violations.length === 0), 'the in-control points break no rule');

    const page = await signedIn(browser, 'engineer');
    await page.goto(`/spc/${series.id}`);
    await page.getByRole('heading', { name: series.name, level: 1 }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
    assert.equal(await page.getByRole('table', { name: 'Violating points' }).count(), 0);
    const red = [0xdc, 0x26, 0x26];
    const redBefore = await pixelsOf(page, red);

    // A technician adds the out-of-control point through the page.
    const tech = await signedIn(browser, 'technician');
    await tech.goto(`/spc/${series.id}`);
    await tech.getByLabel('Value').fill('108.5');
    await tech.getByRole('button', { name: 'Add point' }).click();
    await tech.getByRole('table', { name: 'Violating points' }).getByText('Rule 1').waitFor();
    assert.equal(await tech.getByRole('button', { name: 'Acknowledge' }).count(), 0, 'a technician cannot acknowledge');
    assertClean(tech);
    await tech.context().close();

    await page.reload();
    const table = page.getByRole('table', { name: 'Violating points' });
    await table.getByText('Rule 1').waitFor();
    assert.match(await table.innerText(), /108\.5/);
    const chart = page.getByRole('img', { name: /Control chart of/ });
    assert.match(await chart.getAttribute('aria-label'), /1 violating/);
    // The violating point is drawn in the violation colour.
    assert.ok((await pixelsOf(page, red)) > redBefore + 20, 'the marked point is drawn on the chart');

    const alerts = page.getByRole('table', { name: 'Open alerts of this series' });
    await alerts.locator('.badge', { hasText: /^OPEN$/ }).waitFor();
    assert.match(await alerts.innerText(), /Rule 1/);
    const stored = await ok('engineer', 'GET', `/api/v1/spc/alerts?series_id=${series.id}`);
    assert.equal(stored.items.length, 1);
    assert.equal(stored.items[0].rule, 1);
    assert.equal(stored.items[0].status, 'OPEN');
    await checkA11y(page, 'SPC series');
    await screenshot(page, '10-spc-chart');

    await alerts.getByRole('button', { name: 'Acknowledge' }).click();
    await alerts.locator('.badge', { hasText: /^ACKNOWLEDGED$/ }).waitFor();
    await alerts.getByRole('button', { name: 'Resolve' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Resolve alert' }).click();
    await dialog.locator('.field-error').waitFor(); // a note is required
    await dialog.getByRole('textbox').fill('Probe tip replaced; re-measured in control');
    await dialog.getByRole('button', { name: 'Resolve alert' }).click();
    await page.getByText('No open alerts.').waitFor();
    const resolved = await ok('engineer', 'GET', `/api/v1/spc/alerts/${stored.items[0].id}`);
    assert.equal(resolved.status, 'RESOLVED');
    assert.equal(resolved.note, 'Probe tip replaced; re-measured in control');
    assertClean(page);
    await page.context().close();
  });
});
