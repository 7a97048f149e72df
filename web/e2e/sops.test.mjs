// SOP decisions: a PI rejects an engineer's draft with a comment (required) and the version shows
// REJECTED; the author of a version, even a PI, is not offered the decision and the server refuses
// it; an admin approves with an optional comment. Whoever changed a version after it was written (an
// editor) is treated like its author: not offered the decision, told why, and refused by the server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, call, checkA11y, launch, ok, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

const draft = (role, title) =>
  ok(role, 'POST', '/api/sops', {
    code: unique('SOP').replace(' ', '-'),
    title,
    body_markdown: '# Wafer clean\n\n1. SC-1 at 75 C for 10 min.\n2. DI rinse.\n3. HF dip.',
  });

describe('SOPs', () => {
  it("a PI rejects an engineer's SOP draft with a comment; the version shows REJECTED", async () => {
    const sop = await draft('engineer', 'Wafer clean');
    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/sops/${sop.id}`);
    await pi.getByRole('heading', { name: `${sop.code} v1 · Wafer clean`, level: 1 }).waitFor();
    await pi.getByRole('button', { name: 'Reject' }).click();
    const dialog = pi.getByRole('dialog', { name: 'Reject SOP' });
    // A reject needs a comment: the server's 422 is shown beside the field, nothing changes.
    await dialog.getByRole('button', { name: 'Reject' }).click();
    await dialog.locator('.field-error').waitFor();
    assert.equal((await ok('pi', 'GET', `/api/sops/${sop.id}`)).status, 'DRAFT');

    await dialog.getByLabel('Comment (required)').fill('Step 3 does not say how long the HF dip lasts');
    await checkA11y(pi, 'reject SOP dialog');
    await dialog.getByRole('button', { name: 'Reject' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await pi.getByRole('definition').locator('.badge', { hasText: 'REJECTED' }).waitFor();
    await pi.getByRole('definition').getByText('Step 3 does not say how long the HF dip lasts').waitFor();
    assert.equal(await pi.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.equal(await pi.getByRole('button', { name: 'Reject' }).count(), 0);
    const rejected = await ok('pi', 'GET', `/api/sops/${sop.id}`);
    assert.equal(rejected.status, 'REJECTED');
    assert.equal(rejected.decision_comment, 'Step 3 does not say how long the HF dip lasts');
    await checkA11y(pi, 'rejected SOP');
    await screenshot(pi, '18-sop-rejected');
    assertClean(pi);
    await pi.context().close();
  });

  it('the author of an SOP version, even a PI, is not offered the decision, and the server refuses it', async () => {
    const sop = await draft('pi', 'Furnace loading');
    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/sops/${sop.id}`);
    await pi.getByText('You wrote this version: another PI or an admin decides on it.').waitFor();
    assert.equal(await pi.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.equal(await pi.getByRole('button', { name: 'Reject' }).count(), 0);
    for (const [decision, body] of [['approve', {}], ['reject', { comment: 'my own' }]]) {
      const refused = await call('pi', 'POST', `/api/sops/${sop.id}/${decision}`, body);
      assert.equal(refused.status, 403, decision);
    }
    assert.equal((await ok('pi', 'GET', `/api/sops/${sop.id}`)).status, 'DRAFT');

    // An admin (not the author) approves it from the page, with a comment.
    const admin = await signedIn(browser, 'admin');
    await admin.goto(`/sops/${sop.id}`);
    await admin.getByRole('button', { name: 'Approve' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Approve SOP' });
    await dialog.getByLabel('Comment (optional)').fill('Matches the furnace manual');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await admin.getByRole('definition').locator('.badge', { hasText: 'EFFECTIVE' }).waitFor();
    await admin.getByRole('definition').getByText('Matches the furnace manual').waitFor();
    const approved = await ok('admin', 'GET', `/api/sops/${sop.id}`);
    assert.equal(approved.status, 'EFFECTIVE');
    assert.equal(approved.decision_comment, 'Matches the furnace manual');
    assertClean(admin);
    await admin.context().close();
    assertClean(pi);
    await pi.context().close();
  });

  it('an admin who changed an SOP draft is not offered the decision; a PI who did not is', async () => {
    const sop = await draft('engineer', 'Oxide etch');
    const edited = await ok('admin', 'PATCH', `/api/sops/${sop.id}`, { title: 'Oxide etch (BOE 7:1)' });
    assert.equal(edited.title, 'Oxide etch (BOE 7:1)');
    const admin = await signedIn(browser, 'admin');
    await admin.goto(`/sops/${sop.id}`);
    await admin.getByRole('heading', { name: `${sop.code} v1 · Oxide etch (BOE 7:1)`, level: 1 }).waitFor();
    await admin.getByText('You changed this version: another PI or an admin decides on it.').waitFor();
    assert.equal(await admin.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.equal(await admin.getByRole('button', { name: 'Reject' }).count(), 0);
    for (const [decision, body] of [['approve', {}], ['reject', { comment: 'I changed it' }]]) {
      const refused = await call('admin', 'POST', `/api/sops/${sop.id}/${decision}`, body);
      assert.equal(refused.status, 403, decision);
    }
    assert.equal((await ok('admin', 'GET', `/api/sops/${sop.id}`)).status, 'DRAFT');
    assertClean(admin);
    await admin.context().close();

    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/sops/${sop.id}`);
    await pi.getByRole('heading', { name: `${sop.code} v1 · Oxide etch (BOE 7:1)`, level: 1 }).waitFor();
    await pi.getByRole('button', { name: 'Approve' }).waitFor();
    await pi.getByRole('button', { name: 'Reject' }).waitFor();
    assert.equal(await pi.getByText('You changed this version').count(), 0);
    assertClean(pi);
    await pi.context().close();
  });
});
