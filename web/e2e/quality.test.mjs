// Quality: specifications written by an engineer (a bad limit shown beside its field) and approved by a
// PI who did not write them; results judged in words on the run page; a failed result's nonconformance
// closed by a PI's disposition signed with the password; a certificate of analysis issued from the
// sample page (refused while a nonconformance is open) and checked by anyone, signed out, on /verify.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { assertClean, call, checkA11y, launch, newPage, ok, screenshot, signedIn, token, unique, USERS } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

async function settled(page) {
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
}

// The seeded effective specification of the recipe "Ellipsometry thickness" (thickness, nm: 95..105,
// warns outside 97..103), the instrument it is measured on, and a fresh wafer of that recipe's runs.
async function oxideRun(values) {
  const spec = (await ok('engineer', 'GET', `/api/specifications?q=${encodeURIComponent('Oxide thickness')}&status=EFFECTIVE`)).items[0];
  assert.ok(spec?.applies_to?.recipe_id, 'the seeded specification "Oxide thickness" applies to a recipe');
  const instrument = (await ok('engineer', 'GET', '/api/v1/instruments?limit=100')).items.find((i) => i.name === 'Ellipsometer E1');
  assert.ok(instrument, 'the seeded instrument "Ellipsometer E1"');
  const sample = await ok('engineer', 'POST', '/api/samples', { name: unique('Oxide wafer'), sample_type: 'wafer' });
  const run = await ok('engineer', 'POST', '/api/v1/runs', {
    instrument_id: instrument.id,
    sample_id: sample.id,
    recipe_id: spec.applies_to.recipe_id,
  });
  assert.equal(run.status, 'QUEUED');
  assert.equal(run.specification_version_id, spec.id, 'the run binds the effective specification of its recipe');
  await ok('engineer', 'PATCH', `/api/v1/runs/${run.id}/status`, { status: 'RUNNING' });
  const results = [];
  for (const value of values)
    results.push(await ok('engineer', 'POST', `/api/v1/runs/${run.id}/results`, { metric: 'thickness', value, unit: 'nm' }));
  return { spec, instrument, sample, run, results };
}

const fullName = async (role) => (await ok(role, 'GET', '/api/auth/me')).full_name;

describe('quality', () => {
  it('anyone reads the seeded specification and closed nonconformance; a viewer is offered no write', async () => {
    const page = await signedIn(browser, 'viewer');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Quality' }).click();
    await page.getByRole('heading', { name: 'Specifications', level: 1 }).waitFor();
    await settled(page);
    const specs = page.getByRole('table', { name: 'Specifications' });
    const row = specs.getByRole('row').filter({ has: page.getByRole('link', { name: 'Oxide thickness', exact: true }) }).first();
    await row.getByText('Effective', { exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'New specification' }).count(), 0);
    await checkA11y(page, 'specification list');
    await screenshot(page, '40-specifications');

    await row.getByRole('link', { name: 'Oxide thickness' }).click();
    await page.getByRole('heading', { name: 'Oxide thickness · v1', level: 1 }).waitFor();
    await settled(page);
    const limits = page.getByRole('table', { name: 'Limits' });
    const thickness = limits.getByRole('row').filter({ hasText: 'thickness' });
    assert.match(await thickness.innerText(), /nm\s+95\s+100\s+105\s+97\s+103/);
    for (const name of ['Edit as new version', 'Edit draft', 'Approve', 'Reject'])
      assert.equal(await page.getByRole('button', { name }).or(page.getByRole('link', { name })).count(), 0, name);
    await checkA11y(page, 'specification detail');

    // The seeded nonconformance: a thickness failure on one of the demo wafers, closed by a rework.
    const seeded = (await ok('viewer', 'GET', '/api/nonconformances?status=CLOSED&limit=100')).items.find(
      (n) => n.metric === 'thickness' && n.disposition === 'rework',
    );
    assert.ok(seeded, 'the seeded closed nonconformance');
    const { barcode } = await ok('viewer', 'GET', `/api/samples/${seeded.sample_id}`);
    assert.match(barcode, /^ACME-S-000[123]$/);
    await page.getByRole('navigation', { name: 'Quality' }).getByRole('link', { name: 'Nonconformances' }).click();
    await page.getByRole('heading', { name: 'Nonconformances', level: 1 }).waitFor();
    await page.getByLabel('Status').selectOption('CLOSED');
    await settled(page);
    const closed = page.getByRole('table', { name: 'Nonconformances' }).getByRole('row').filter({ hasText: barcode }).first();
    await closed.getByText('Closed', { exact: true }).waitFor();
    await closed.getByText('Rework', { exact: true }).waitFor();
    await checkA11y(page, 'nonconformance list');
    await closed.getByRole('link', { name: 'thickness' }).click();
    await page.getByRole('heading', { name: 'Nonconformance · thickness', level: 1 }).waitFor();
    await settled(page);
    await page.getByRole('status').filter({ hasText: 'Rework, signed by' }).waitFor();
    for (const name of ['Record disposition', 'Take under review', 'Save notes'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, name);
    await checkA11y(page, 'closed nonconformance');
    assertClean(page);
    await page.context().close();
  });

  it('an engineer writes a specification (bad limits shown beside their fields); its author is not offered Approve; a PI approves it', async () => {
    // A material of its own, so that the specification judges no other scenario's runs.
    const material = await ok('engineer', 'POST', '/api/materials', { name: unique('Nitride film'), category: 'nitride' });
    const name = unique('Sheet resistance');
    const page = await signedIn(browser, 'engineer');
    await page.goto('/quality');
    await page.getByRole('link', { name: 'New specification' }).click();
    await page.getByRole('heading', { name: 'New specification', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Material', { exact: true }).selectOption({ label: material.name });
    const limit = page.getByRole('group', { name: 'Limit 1' });
    await limit.getByLabel('Metric').fill('sheet_resistance');
    await limit.getByLabel('Unit').fill('furlongs');
    await limit.getByLabel('Lower limit (LSL)').fill('105');
    await limit.getByLabel('Upper limit (USL)').fill('95');
    await page.getByRole('button', { name: 'Create specification' }).click();

    // The server's 422 names limits[0].usl and limits[0].unit: each message beside its field.
    const usl = limit.locator('.field.invalid', { has: page.getByLabel('Upper limit (USL)') });
    await usl.locator('.field-error').waitFor();
    assert.match(await usl.locator('.field-error').innerText(), /greater than lsl/);
    const unit = limit.locator('.field.invalid', { has: page.getByLabel('Unit') });
    assert.match(await unit.locator('.field-error').innerText(), /not a known unit/);
    await checkA11y(page, 'specification form with errors');
    await screenshot(page, '41-specification-errors');
    assert.equal((await ok('engineer', 'GET', `/api/specifications?q=${encodeURIComponent(name)}`)).items.length, 0, 'nothing created');

    await limit.getByLabel('Unit').fill('ohm/sq');
    await limit.getByLabel('Lower limit (LSL)').fill('95');
    await limit.getByLabel('Upper limit (USL)').fill('105');
    await limit.getByLabel('Target').fill('100');
    await page.getByRole('button', { name: 'Create specification' }).click();
    await page.getByRole('heading', { name: `${name} · v1`, level: 1 }).waitFor();
    await page.getByRole('definition').getByText('Draft', { exact: true }).waitFor();
    const id = new URL(page.url()).pathname.split('/').pop();
    const created = await ok('engineer', 'GET', `/api/specifications/${id}`);
    assert.equal(created.status, 'DRAFT');
    assert.deepEqual(created.applies_to, { material_id: material.id });
    assert.deepEqual(created.limits, [{ metric: 'sheet_resistance', unit: 'ohm/sq', lsl: 95, usl: 105, target: 100 }]);
    assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0, 'an engineer does not decide');
    assertClean(page);

    // A PI who wrote a version is not offered the decision, and the server refuses it.
    const own = await ok('pi', 'POST', '/api/specifications', {
      name: unique('PI draft'),
      applies_to: { material_id: material.id },
      limits: [{ metric: 'stress', unit: 'MPa', lsl: -200, usl: 200 }],
    });
    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/quality/specifications/${own.id}`);
    await pi.getByRole('heading', { name: `${own.name} · v1`, level: 1 }).waitFor();
    await pi.getByText('You wrote this version: another PI or an admin decides on it.').waitFor();
    assert.equal(await pi.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.equal(await pi.getByRole('button', { name: 'Reject' }).count(), 0);
    assert.equal((await call('pi', 'POST', `/api/specifications/${own.id}/approve`, {})).status, 403);

    // The PI approves the engineer's draft.
    await pi.goto(`/quality/specifications/${id}`);
    await pi.getByRole('heading', { name: `${name} · v1`, level: 1 }).waitFor();
    await pi.getByRole('button', { name: 'Approve' }).click();
    const dialog = pi.getByRole('dialog', { name: 'Approve specification' });
    await dialog.getByLabel('Comment (optional)').fill('Limits match the customer drawing');
    await checkA11y(pi, 'approve specification dialog');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await pi.getByRole('definition').getByText('Effective', { exact: true }).waitFor();
    await pi.getByRole('definition').getByText('Limits match the customer drawing').waitFor();
    const approved = await ok('pi', 'GET', `/api/specifications/${id}`);
    assert.equal(approved.status, 'EFFECTIVE');
    assert.equal(approved.approved_by, (await ok('pi', 'GET', '/api/auth/me')).id);
    await checkA11y(pi, 'effective specification');
    await screenshot(pi, '42-specification-effective');
    assertClean(pi);
    await pi.context().close();

    // Changing the effective version makes version 2, a draft: the page moves to it.
    await page.goto(`/quality/specifications/${id}`);
    await page.getByRole('link', { name: 'Edit as new version' }).click();
    await page.getByRole('heading', { name: 'Edit specification', level: 1 }).waitFor();
    await page.getByRole('group', { name: 'Limit 1' }).getByLabel('Upper limit (USL)').fill('110');
    await page.getByRole('button', { name: 'Save as new version' }).click();
    await page.getByRole('heading', { name: `${name} · v2`, level: 1 }).waitFor();
    await page.getByText('Saved as version 2, a draft').waitFor();
    const v2 = new URL(page.url()).pathname.split('/').pop();
    assert.notEqual(v2, id);
    const next = await ok('engineer', 'GET', `/api/specifications/${v2}`);
    assert.equal(next.status, 'DRAFT');
    assert.equal(next.limits[0].usl, 110);
    assert.equal((await ok('engineer', 'GET', `/api/specifications/${id}`)).status, 'EFFECTIVE', 'version 1 stays in force');
    assertClean(page);
    await page.context().close();
  });

  it('a run shows each judgement in words; its failure opens a nonconformance that a PI disposes of with the password', async () => {
    const { spec, sample, run } = await oxideRun([101, 104, 120]);
    assert.equal((await ok('engineer', 'GET', `/api/samples/${sample.id}`)).status, 'quarantined');

    const tech = await signedIn(browser, 'technician');
    await tech.goto(`/runs/${run.id}`);
    await tech.getByRole('heading', { name: `Run ${run.id.slice(0, 8)}`, level: 1 }).waitFor();
    const results = tech.getByRole('table', { name: 'Results' });
    for (const [value, word] of [['101', 'Pass'], ['104', 'Warn'], ['120', 'Fail']])
      await results.getByRole('row').filter({ hasText: value }).locator('.badge', { hasText: word }).waitFor();
    await tech.getByRole('link', { name: `${spec.name} v${spec.version}` }).waitFor();
    const ncs = tech.getByRole('table', { name: 'Nonconformances' });
    await ncs.getByRole('row').filter({ hasText: 'thickness' }).getByText('Open', { exact: true }).waitFor();
    await checkA11y(tech, 'run with judged results');
    await screenshot(tech, '43-run-judged');
    assertClean(tech);
    await tech.context().close();

    const nc = (await ok('engineer', 'GET', `/api/nonconformances?run_id=${run.id}`)).items[0];
    assert.equal(nc.status, 'OPEN');
    assert.equal(nc.first_value, 120);

    // An engineer takes it under review; the disposition is not theirs.
    const eng = await signedIn(browser, 'engineer');
    await eng.goto(`/quality/nonconformances/${nc.id}`);
    await eng.getByRole('heading', { name: 'Nonconformance · thickness', level: 1 }).waitFor();
    await eng.getByRole('button', { name: 'Take under review' }).click();
    await eng.getByRole('definition').getByText('Under review', { exact: true }).waitFor();
    assert.equal(await eng.getByRole('button', { name: 'Record disposition' }).count(), 0);
    assert.equal((await ok('engineer', 'GET', `/api/nonconformances/${nc.id}`)).status, 'UNDER_REVIEW');
    assertClean(eng);
    await eng.context().close();

    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/quality/nonconformances/${nc.id}`);
    await pi.getByRole('heading', { name: 'Nonconformance · thickness', level: 1 }).waitFor();
    await pi.getByRole('button', { name: 'Record disposition' }).click();
    const dialog = pi.getByRole('dialog', { name: 'Record disposition' });
    await dialog.getByText('it is disposed of').waitFor();
    await dialog.getByRole('radio', { name: 'Rework' }).check();
    await dialog.getByLabel('Comment (optional)').fill('Strip and regrow the oxide');
    await dialog.getByLabel('Your password').fill('not-my-password');
    await dialog.getByRole('button', { name: 'Sign disposition' }).click();
    const refusal = dialog.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /password is not correct/);
    assert.equal((await ok('pi', 'GET', `/api/nonconformances/${nc.id}`)).status, 'UNDER_REVIEW', 'nothing recorded');
    await checkA11y(pi, 'disposition dialog with a wrong password');
    await screenshot(pi, '44-disposition-refused');

    await dialog.getByLabel('Your password').fill(USERS.pi[1]);
    await dialog.getByRole('button', { name: 'Sign disposition' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const name = await fullName('pi');
    await pi.getByRole('status').filter({ hasText: `Rework, signed by ${name}` }).waitFor();
    assert.equal(await pi.getByRole('button', { name: 'Record disposition' }).count(), 0);
    const closed = await ok('pi', 'GET', `/api/nonconformances/${nc.id}`);
    assert.equal(closed.status, 'CLOSED');
    assert.equal(closed.disposition, 'rework');
    assert.equal(closed.disposition_comment, 'Strip and regrow the oxide');
    assert.equal(closed.disposed_by_name, name);
    assert.match(closed.signature_sha256, /^[0-9a-f]{64}$/);
    await pi.getByText(closed.signature_sha256).waitFor();
    await checkA11y(pi, 'closed nonconformance');
    // Rework releases the sample from quarantine, with its custody event; a second disposition is refused.
    assert.equal((await ok('pi', 'GET', `/api/samples/${sample.id}`)).status, 'available');
    const custody = (await ok('pi', 'GET', `/api/samples/${sample.id}/custody`)).items.map((e) => e.event_type);
    assert.deepEqual(custody.slice(-2), ['quarantine', 'release']);
    const again = await call('pi', 'POST', `/api/nonconformances/${nc.id}/disposition`, { disposition: 'scrap', password: USERS.pi[1] });
    assert.equal(again.status, 409);
    assertClean(pi);
    await pi.context().close();
  });

  it('a PI issues a certificate once its nonconformance is closed, and anyone checks the PDF on /verify without signing in', async () => {
    const { sample, run } = await oxideRun([99.5, 121]);
    await ok('engineer', 'PATCH', `/api/v1/runs/${run.id}/status`, { status: 'COMPLETED' });
    const nc = (await ok('engineer', 'GET', `/api/nonconformances?run_id=${run.id}`)).items[0];
    const barcode = (await ok('engineer', 'GET', `/api/samples/${sample.id}`)).barcode;

    const eng = await signedIn(browser, 'engineer');
    await eng.goto(`/samples/${sample.id}`);
    await eng.getByRole('heading', { name: sample.name, level: 1 }).waitFor();
    await settled(eng);
    assert.equal(await eng.getByRole('button', { name: 'Issue certificate' }).count(), 0, 'not an engineer’s');
    assertClean(eng);
    await eng.context().close();

    // Refused while the nonconformance is open: the dialog says why.
    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/samples/${sample.id}`);
    await pi.getByRole('heading', { name: sample.name, level: 1 }).waitFor();
    await pi.getByRole('table', { name: 'Nonconformances' }).getByText('Open', { exact: true }).waitFor();
    await pi.getByRole('button', { name: 'Issue certificate' }).click();
    let dialog = pi.getByRole('dialog', { name: 'Issue certificate of analysis' });
    await dialog.getByLabel('Your password').fill(USERS.pi[1]);
    await dialog.getByRole('button', { name: 'Issue certificate' }).click();
    await dialog.getByRole('alert').waitFor();
    assert.match(await dialog.getByRole('alert').innerText(), /open nonconformance/);
    await checkA11y(pi, 'certificate refused');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });

    await ok('pi', 'POST', `/api/nonconformances/${nc.id}/disposition`, {
      disposition: 'use_as_is',
      comment: 'Within the customer waiver',
      password: USERS.pi[1],
    });
    await pi.reload();
    await pi.getByRole('table', { name: 'Nonconformances' }).getByText('Closed', { exact: true }).waitFor();
    await pi.getByRole('button', { name: 'Issue certificate' }).click();
    dialog = pi.getByRole('dialog', { name: 'Issue certificate of analysis' });
    await dialog.getByLabel('Your password').fill(USERS.pi[1]);
    await dialog.getByRole('button', { name: 'Issue certificate' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const notice = pi.getByRole('status').filter({ hasText: 'Certificate issued' });
    await notice.waitFor();
    const href = await notice.getByRole('link', { name: 'Verification page' }).getAttribute('href');
    const id = href.split('/').pop();
    const [download] = await Promise.all([
      pi.waitForEvent('download'),
      notice.getByRole('button', { name: 'Download certificate PDF' }).click(),
    ]);
    const pdf = await readFile(await download.path());
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    const certificate = await ok('pi', 'GET', `/api/certificates/${id}`);
    assert.equal(certificate.sha256, sha256(pdf), 'the file downloaded is the one issued');
    assert.equal(certificate.sample_id, sample.id);
    assert.deepEqual(certificate.run_ids, [run.id]);
    const fetched = await pi.request.get(`/api/certificates/${id}/pdf`, { headers: { Authorization: `Bearer ${await token('pi')}` } });
    assert.equal(fetched.status(), 200);
    assert.equal(sha256(await fetched.body()), certificate.sha256);
    await checkA11y(pi, 'sample with an issued certificate');
    await screenshot(pi, '45-certificate-issued');

    await notice.getByRole('link', { name: 'Certificate details' }).click();
    await pi.getByRole('heading', { name: `Certificate of analysis · ${sample.name}`, level: 1 }).waitFor();
    const lines = pi.getByRole('table', { name: 'Results certified' });
    await lines.getByRole('row').filter({ hasText: '121' }).getByText('Fail', { exact: true }).waitFor();
    await lines.getByRole('row').filter({ hasText: '99.5' }).getByText('Pass', { exact: true }).waitFor();
    await checkA11y(pi, 'certificate page');
    assertClean(pi);
    await pi.context().close();

    // Signed out, as the customer who scanned the QR code: the PDF as issued is valid ...
    const anon = await newPage(browser);
    await anon.goto(`/verify/${id}`);
    await anon.getByRole('heading', { name: 'Verify a certificate of analysis', level: 1 }).waitFor();
    assert.equal(await anon.getByRole('button', { name: 'Sign out' }).count(), 0);
    assert.equal(await anon.getByLabel('Email').count(), 0, 'no sign-in asked');
    await checkA11y(anon, 'verify page');
    const file = anon.getByLabel('Certificate PDF');
    await file.setInputFiles({ name: 'certificate.pdf', mimeType: 'application/pdf', buffer: pdf });
    const verdict = anon.getByRole('status');
    await verdict.getByText('This is the certificate as issued.').waitFor();
    const text = await verdict.innerText();
    assert.match(text, /Valid/);
    assert.ok(text.includes(await fullName('pi')), 'issued by');
    assert.ok(text.includes(barcode), 'the sample barcode');
    assert.ok(text.includes(certificate.sha256));
    await checkA11y(anon, 'verify page, valid');
    await screenshot(anon, '46-verify-valid');

    // ... a copy changed by one byte is not ...
    const altered = Buffer.from(pdf);
    altered[Math.floor(altered.length / 2)] ^= 0x01;
    await file.setInputFiles({ name: 'certificate-edited.pdf', mimeType: 'application/pdf', buffer: altered });
    await verdict.getByText('This is not the certificate as issued.').waitFor();
    assert.match(await verdict.innerText(), /Not valid/);
    assert.ok(!(await verdict.innerText()).includes(barcode), 'nothing about the certificate is told for another file');
    await checkA11y(anon, 'verify page, not valid');
    await screenshot(anon, '47-verify-not-valid');

    // ... a pasted SHA-256 is checked too; one that is not a SHA-256 is a message beside the field.
    const pasted = anon.getByLabel("Or paste the file's SHA-256");
    await pasted.fill('not-a-hash');
    await anon.getByRole('button', { name: 'Check' }).click();
    await anon.locator('.field.invalid', { has: pasted }).locator('.field-error').waitFor();
    await pasted.fill(certificate.sha256.toUpperCase());
    await anon.getByRole('button', { name: 'Check' }).click();
    await verdict.getByText('This is the certificate as issued.').waitFor();

    // A certificate id nobody issued.
    await anon.goto(`/verify/${randomUUID()}`);
    await anon.getByLabel("Or paste the file's SHA-256").fill(certificate.sha256);
    await anon.getByRole('button', { name: 'Check' }).click();
    await anon.getByText('No certificate has this id').waitFor();
    assertClean(anon);
    await anon.context().close();
  });
});
