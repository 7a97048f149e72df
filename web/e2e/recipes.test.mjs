// Recipe approval: a PI approves an engineer's recipe with a comment; an author cannot decide on
// their own; an engineer is not offered the decision at all.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, call, checkA11y, launch, ok, screenshot, signedIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

describe('recipes', () => {
  it("a PI approves an engineer's recipe; the engineer sees no approve button", async () => {
    const eng = await signedIn(browser, 'engineer');
    const name = unique('Anneal');
    await eng.goto('/recipes/new');
    await eng.getByLabel('Name', { exact: true }).fill(name);
    await eng.getByLabel('Parameters (JSON object)').fill('{"temperature_c": 450, "time_s": 30}');
    await eng.getByRole('button', { name: 'Create recipe' }).click();
    await eng.getByRole('heading', { name: `${name} · v1`, level: 1 }).waitFor();
    await eng.getByRole('button', { name: 'Submit for approval' }).click();
    await eng.getByText('Pending approval').first().waitFor();
    assert.equal(await eng.getByRole('button', { name: 'Approve' }).count(), 0);
    const id = new URL(eng.url()).pathname.split('/').pop();
    assertClean(eng);
    await eng.context().close();

    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/recipes/${id}`);
    await pi.getByRole('button', { name: 'Reject' }).click();
    let dialog = pi.getByRole('dialog');
    // A reject needs a comment: the server's 422 is shown beside the field, nothing changes.
    await dialog.getByRole('button', { name: 'Reject' }).click();
    await dialog.locator('.field-error').waitFor();
    assert.equal((await ok('pi', 'GET', `/api/recipes/${id}`)).status, 'PENDING_APPROVAL');
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    await pi.getByRole('button', { name: 'Approve' }).click();
    dialog = pi.getByRole('dialog');
    await dialog.getByLabel('Comment (optional)').fill('Within the furnace envelope');
    await checkA11y(pi, 'approve dialog');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await pi.getByRole('table', { name: 'Approvals' }).getByText('Within the furnace envelope').waitFor();
    const stored = await ok('pi', 'GET', `/api/recipes/${id}`);
    assert.equal(stored.status, 'APPROVED');
    assert.equal(stored.approvals.at(-1).comment, 'Within the furnace envelope');
    await checkA11y(pi, 'approved recipe');
    await screenshot(pi, '07-recipe-approved');
    assertClean(pi);
    await pi.context().close();
  });

  it('the author of a recipe, even a PI, is not offered the decision, and the server refuses it', async () => {
    const recipe = await ok('pi', 'POST', '/api/recipes', { name: unique('PI recipe'), parameters: { power_w: 200 } });
    await ok('pi', 'POST', `/api/recipes/${recipe.id}/submit`, {});
    const pi = await signedIn(browser, 'pi');
    await pi.goto(`/recipes/${recipe.id}`);
    await pi.getByText('You wrote this recipe: another PI or an admin decides on it.').waitFor();
    assert.equal(await pi.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.equal(await pi.getByRole('button', { name: 'Reject' }).count(), 0);
    const refused = await call('pi', 'POST', `/api/recipes/${recipe.id}/approve`, {});
    assert.equal(refused.status, 403);
    assert.match(refused.body.detail, /author/i);
    assert.equal((await ok('pi', 'GET', `/api/recipes/${recipe.id}`)).status, 'PENDING_APPROVAL');

    // An admin (not the author) approves it from the page.
    const admin = await signedIn(browser, 'admin');
    await admin.goto(`/recipes/${recipe.id}`);
    await admin.getByRole('button', { name: 'Approve' }).click();
    await admin.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    await admin.getByText('Approved', { exact: true }).first().waitFor();
    assert.equal((await ok('admin', 'GET', `/api/recipes/${recipe.id}`)).status, 'APPROVED');
    assertClean(admin);
    await admin.context().close();
    assertClean(pi);
    await pi.context().close();
  });
});
