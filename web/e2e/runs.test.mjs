// An expired instrument's run is BLOCKED with its reason; a new certificate, then unblock; a
// technician runs it and records a result.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, checkA11y, launch, ok, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

const DAY = 86_400_000;
const isoDay = (offset) => new Date(Date.now() + offset * DAY).toISOString().slice(0, 10);

describe('runs', () => {
  it('a run on an expired instrument is blocked with its reason until the instrument is recalibrated', async () => {
    // Arranged through the API: an instrument whose only certificate expired a month ago, a sample.
    const instrument = await ok('engineer', 'POST', '/api/v1/instruments', {
      name: unique('Probe'),
      vendor: 'Jandel',
      model: 'RM3000',
      serial_number: unique('SN').replace(' ', '-'),
      calibration_interval_days: 365,
    });
    await ok('engineer', 'POST', '/api/v1/calibrations', {
      instrument_id: instrument.id,
      certificate_number: unique('CERT').replace(' ', '-'),
      calibrated_at: `${isoDay(-400)}T00:00:00Z`,
      expires_at: `${isoDay(-35)}T00:00:00Z`,
    });
    const sample = await ok('engineer', 'POST', '/api/samples', { name: unique('Wafer'), sample_type: 'wafer' });

    const page = await signedIn(browser, 'engineer');
    await page.goto(`/instruments/${instrument.id}`);
    await page.getByRole('heading', { name: instrument.name, level: 1 }).waitFor();
    await page.locator('.badge', { hasText: 'expired' }).first().waitFor();

    await page.goto(`/runs/new?instrument_id=${instrument.id}&sample_id=${sample.id}`);
    await page.getByRole('button', { name: 'Create run' }).click();
    const blocked = page.locator('.blocked');
    await blocked.waitFor();
    assert.match(await blocked.innerText(), /calibration expired on/);
    const runId = new URL(page.url()).pathname.split('/').pop();
    const stored = await ok('engineer', 'GET', `/api/v1/runs/${runId}`);
    assert.equal(stored.status, 'BLOCKED');
    assert.match(stored.blocked_reason, /calibration expired/);
    await checkA11y(page, 'blocked run');
    await screenshot(page, '06-run-blocked');

    // Unblocking now is refused with the reason, and the run stays blocked.
    await blocked.getByRole('button', { name: 'Unblock' }).click();
    await blocked.getByRole('alert').waitFor();
    assert.match(await blocked.getByRole('alert').innerText(), /409/);
    assert.equal((await ok('engineer', 'GET', `/api/v1/runs/${runId}`)).status, 'BLOCKED');

    // Recalibrate on the instrument's page.
    await page.goto(`/instruments/${instrument.id}`);
    await page.getByLabel('Certificate number').fill(unique('CERT').replace(' ', '-'));
    await page.getByLabel('Calibrated on').fill(isoDay(-1));
    await page.getByLabel('Expires on').fill(isoDay(364));
    await page.getByRole('button', { name: 'Record certificate' }).click();
    await page.locator('.badge', { hasText: /^valid$/ }).first().waitFor();
    await checkA11y(page, 'instrument detail');
    await screenshot(page, '05-instrument-detail');
    const check = await ok('engineer', 'GET', `/api/v1/calibrations/status/check?instrument_id=${instrument.id}`);
    assert.equal(check.is_valid, true);

    await page.goto(`/runs/${runId}`);
    await page.locator('.blocked').getByRole('button', { name: 'Unblock' }).click();
    await page.locator('.badge', { hasText: 'QUEUED' }).waitFor();
    assert.equal(await page.locator('.blocked').count(), 0);
    assert.equal((await ok('engineer', 'GET', `/api/v1/runs/${runId}`)).status, 'QUEUED');
    assertClean(page);
    await page.context().close();

    // The technician starts it, records a result and completes it; no Unblock or New run for them.
    const tech = await signedIn(browser, 'technician');
    await tech.goto(`/runs/${runId}`);
    await tech.getByRole('button', { name: 'Start' }).click();
    await tech.locator('.badge', { hasText: 'RUNNING' }).waitFor();
    await tech.getByLabel('Metric').fill('sheet_resistance');
    await tech.getByLabel('Value').fill('12.5');
    await tech.getByLabel('Unit').fill('ohm/sq');
    await tech.getByRole('button', { name: 'Record result' }).click();
    const results = tech.getByRole('table', { name: 'Results' });
    await results.getByText('sheet_resistance').waitFor();
    assert.match(await results.innerText(), /12\.5/);
    await tech.getByRole('button', { name: 'Complete' }).click();
    await tech.locator('.badge', { hasText: 'COMPLETED' }).waitFor();
    const done = await ok('technician', 'GET', `/api/v1/runs/${runId}/results`);
    assert.deepEqual(done.items.map((r) => [r.metric, r.value]), [['sheet_resistance', 12.5]]);
    assert.equal((await ok('technician', 'GET', `/api/v1/runs/${runId}`)).status, 'COMPLETED');
    await tech.goto('/runs');
    await tech.getByRole('table', { name: 'Runs' }).waitFor();
    assert.equal(await tech.getByRole('link', { name: 'New run' }).count(), 0);
    assertClean(tech);
    await tech.context().close();
  });
});
