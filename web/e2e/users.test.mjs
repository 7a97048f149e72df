// Managing users: a PI manages engineers, technicians and viewers only (offered no other role, and
// no edit of a PI's or an admin's account); an admin is offered every role.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, call, checkA11y, launch, ok, optionTexts, screenshot, signedIn } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

const TEAM = ['viewer', 'technician', 'engineer'];

describe('users', () => {
  it('a PI is offered only the engineer, technician and viewer roles, and no edit of PI or admin accounts', async () => {
    const page = await signedIn(browser, 'pi');
    const table = page.getByRole('table', { name: 'Users' });
    for (const email of ['admin@acme.com', 'pi@acme.com']) {
      await page.goto(`/admin/users?q=${encodeURIComponent(email)}`);
      const row = table.getByRole('row').filter({ hasText: email });
      await row.getByText(/An admin manages (pi|admin) accounts/).waitFor();
      assert.equal(await row.getByRole('button').count(), 0, `${email}: no edit, deactivate or activate`);
    }

    // An engineer's account: editable, with the team's roles only.
    await page.goto(`/admin/users?q=${encodeURIComponent('engineer@acme.com')}`);
    await table.getByRole('button', { name: 'Edit engineer@acme.com' }).click();
    let dialog = page.getByRole('dialog', { name: 'Edit user' });
    assert.deepEqual(await optionTexts(dialog.getByLabel('Role')), TEAM);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // A new account: the team's roles only; a technician is created.
    const email = `tech-${Date.now().toString(36)}@acme.com`;
    await page.getByRole('button', { name: 'New user' }).click();
    dialog = page.getByRole('dialog', { name: 'New user' });
    assert.deepEqual(await optionTexts(dialog.getByLabel('Role')), TEAM);
    await dialog.getByLabel('Email').fill(email);
    await dialog.getByLabel('Full name').fill('Tess Technician');
    await dialog.getByLabel('Role').selectOption('technician');
    await dialog.getByLabel('Initial password').fill('Quartz-furnace-2026');
    await checkA11y(page, 'new user dialog, as a PI');
    await screenshot(page, '24-admin-users-pi');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const created = (await ok('pi', 'GET', `/api/users?q=${encodeURIComponent(email)}`)).items[0];
    assert.equal(created.role, 'technician');

    // The server refuses the rest: no PI made, none raised to PI, no admin changed.
    const made = await call('pi', 'POST', '/api/users', {
      email: `pi-${Date.now().toString(36)}@acme.com`,
      full_name: 'Not a PI',
      role: 'pi',
      password: 'Quartz-furnace-2026',
    });
    assert.equal(made.status, 403);
    assert.equal((await call('pi', 'PATCH', `/api/users/${created.id}`, { role: 'pi' })).status, 403);
    const admin = (await ok('pi', 'GET', `/api/users?q=${encodeURIComponent('admin@acme.com')}`)).items[0];
    assert.equal((await call('pi', 'PATCH', `/api/users/${admin.id}`, { full_name: admin.full_name })).status, 403);
    assertClean(page);
    await page.context().close();
  });

  it('an admin is offered every role', async () => {
    const page = await signedIn(browser, 'admin');
    await page.goto('/admin/users');
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    assert.deepEqual(await optionTexts(dialog.getByLabel('Role')), [...TEAM, 'pi', 'admin']);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.goto(`/admin/users?q=${encodeURIComponent('pi@acme.com')}`);
    await page.getByRole('table', { name: 'Users' }).getByRole('button', { name: 'Edit pi@acme.com' }).waitFor();
    assertClean(page);
    await page.context().close();
  });
});
