// Notifications and webhooks: the bell in every signed-in page's header and the notifications page; a
// preference kept after a reload; a recipe an engineer submits reaching the PI's bell live (never the
// author's), then the page, marked read one by one and all at once; an admin's webhook (a private
// address refused beside the URL, the secret shown once, its delivery log, disabled, deleted); and a
// viewer refused the webhooks page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertClean, call, checkA11y, launch, newPage, ok, screenshot, signedIn, signIn, unique } from './support.mjs';

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

async function settled(page) {
  await page.getByRole('heading', { level: 1 }).first().waitFor();
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
}

// The bell in the header, once it shows the unread count ("Notifications, 3 unread").
const bellOf = (page) => page.getByRole('banner').getByRole('link', { name: /^Notifications, \d+ unread$/ });
async function unreadOf(page) {
  const label = await bellOf(page).getAttribute('aria-label');
  return Number(/(\d+) unread/.exec(label)[1]);
}

// A recipe of the engineer's, submitted for approval: recipe.submitted reaches the PIs and admins.
async function submittedRecipe(name) {
  const recipe = await ok('engineer', 'POST', '/api/recipes', { name: unique(name), parameters: { temperature_c: 400, time_s: 60 } });
  await ok('engineer', 'POST', `/api/recipes/${recipe.id}/submit`, {});
  return recipe;
}

describe('notifications', () => {
  it('an engineer follows the bell to the notifications, and a preference set is kept after a reload', async () => {
    const page = await signedIn(browser, 'engineer');
    await bellOf(page).waitFor();
    await bellOf(page).click();
    await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    await settled(page);
    assert.equal(await page.getByRole('banner').getByRole('link', { name: /^Notifications/ }).getAttribute('aria-current'), 'page');
    await page.getByRole('table', { name: 'Notifications' }).or(page.getByText('No notifications yet.')).waitFor();
    await checkA11y(page, 'notifications');
    await screenshot(page, '50-notifications');
    await page.getByLabel('Show').selectOption('true');
    await settled(page);
    assert.equal(new URL(page.url()).searchParams.get('unread'), 'true');
    await page.getByRole('table', { name: 'Notifications' }).or(page.getByText('No unread notifications.')).waitFor();

    await page.getByRole('navigation', { name: 'Notification pages' }).getByRole('link', { name: 'Preferences' }).click();
    await page.getByRole('heading', { name: 'Notification preferences', level: 1 }).waitFor();
    await settled(page);
    const types = (await ok('engineer', 'GET', '/api/notification-preferences')).items.length;
    assert.ok(types >= 9);
    assert.equal(await page.getByRole('table', { name: 'Event types' }).locator('tbody tr').count(), types, 'every event type');
    await page.getByLabel('SPC alert in the app').uncheck();
    await page.getByLabel('SPC alert by email').selectOption('daily');
    await checkA11y(page, 'notification preferences');
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await page.getByRole('status').filter({ hasText: 'Preferences saved.' }).waitFor();
    const stored = (await ok('engineer', 'GET', '/api/notification-preferences')).items.find((p) => p.event === 'spc.alert_opened');
    assert.equal(stored.in_app, false);
    assert.equal(stored.email, 'daily');
    await screenshot(page, '51-notification-preferences');

    await page.reload();
    await page.getByRole('heading', { name: 'Notification preferences', level: 1 }).waitFor();
    await settled(page);
    assert.equal(await page.getByLabel('SPC alert in the app').isChecked(), false);
    assert.equal(await page.getByLabel('SPC alert by email').inputValue(), 'daily');
    assert.equal(await page.getByLabel('Recipe submitted in the app').isChecked(), true, 'the others as they were');
    await ok('engineer', 'PATCH', '/api/notification-preferences', { preferences: [{ event: 'spc.alert_opened', in_app: true, email: 'off' }] });
    assertClean(page);
    await page.context().close();
  });

  it("a recipe an engineer submits reaches the PI's bell without a reload, then the page, where it is marked read", async () => {
    const page = await newPage(browser);
    const stream = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/notifications/stream');
    await signIn(page, 'pi');
    assert.equal((await stream).status(), 200);
    await bellOf(page).waitFor();
    const before = await unreadOf(page);
    await page.evaluate(() => (window.notReloaded = true));

    const recipe = await submittedRecipe('Live anneal');
    await page.waitForFunction(
      (n) => {
        const label = document.querySelector('header a[href="/notifications"]')?.getAttribute('aria-label') ?? '';
        const m = /(\d+) unread/.exec(label);
        return m && Number(m[1]) > n;
      },
      before,
      { timeout: 15_000 },
    );
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'the count came without a reload');
    const mine = (await ok('pi', 'GET', '/api/notifications?limit=50')).items.find((n) => n.entity_id === recipe.id);
    assert.equal(mine?.event, 'recipe.submitted');
    assert.equal(mine.read_at, null);
    const authors = (await ok('engineer', 'GET', '/api/notifications?limit=50')).items;
    assert.ok(!authors.some((n) => n.entity_id === recipe.id), 'never its author');

    await bellOf(page).click();
    await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    await page.getByLabel('Show').selectOption('true');
    await settled(page);
    const table = page.getByRole('table', { name: 'Notifications' });
    const row = table.getByRole('row').filter({ has: page.locator(`a[href="/recipes/${recipe.id}"]`) });
    await row.getByText('Unread', { exact: true }).waitFor();
    await checkA11y(page, 'unread notifications');
    await screenshot(page, '52-notifications-unread');
    await row.getByRole('button', { name: 'Mark read' }).click();
    await row.getByText('Read', { exact: true }).waitFor();
    assert.notEqual((await ok('pi', 'GET', '/api/notifications?limit=50')).items.find((n) => n.id === mine.id).read_at, null);

    // Another one reaches the open page at once; then every one is marked read.
    const second = await submittedRecipe('Live etch');
    await table.locator(`a[href="/recipes/${second.id}"]`).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await page.getByText('No unread notifications.').waitFor();
    await page.getByRole('banner').getByRole('link', { name: 'Notifications, 0 unread' }).waitFor();
    assert.equal((await ok('pi', 'GET', '/api/notifications?unread=true&limit=1')).unread, 0);

    // The notification leads to the recipe.
    await page.getByLabel('Show').selectOption('');
    await settled(page);
    await row.getByText('Read', { exact: true }).waitFor();
    await row.getByRole('link').click();
    await page.getByRole('heading', { name: `${recipe.name} · v1`, level: 1 }).waitFor();
    assertClean(page);
    await page.context().close();
  });

  it('an admin adds a webhook (a private address refused beside the URL), sees its secret once, disables and deletes it', async () => {
    const page = await signedIn(browser, 'admin');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click();
    const tabs = page.getByRole('navigation', { name: 'Administration' });
    await tabs.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    await settled(page);
    await checkA11y(page, 'webhooks');

    // The test server refuses private destinations (WEBHOOK_ALLOW_PRIVATE is not set).
    const description = unique('Ops hook');
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.getByLabel('URL', { exact: true }).fill('http://127.0.0.1:9/hook');
    await dialog.getByLabel('recipe.submitted').check();
    await dialog.getByLabel('Description (optional)').fill(description);
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    const url = dialog.locator('.field.invalid', { has: page.getByLabel('URL', { exact: true }) });
    await url.locator('.field-error').waitFor();
    assert.ok((await url.locator('.field-error').innerText()).trim(), 'a message beside the URL');
    assert.ok(!(await ok('admin', 'GET', '/api/webhooks?limit=500')).items.some((w) => w.description === description), 'nothing created');
    await checkA11y(page, 'webhook form with errors');
    await screenshot(page, '53-webhook-refused');

    await dialog.getByLabel('URL', { exact: true }).fill('https://93.184.216.34/hook');
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText('it will not be shown again').waitFor();
    const secret = (await page.locator('#new-webhook-secret').innerText()).trim();
    assert.match(secret, /^whsec_/);
    const created = (await ok('admin', 'GET', '/api/webhooks?limit=500')).items.find((w) => w.description === description);
    assert.equal(created.url, 'https://93.184.216.34/hook');
    assert.deepEqual(created.events, ['recipe.submitted']);
    assert.equal(created.is_active, true);
    assert.ok(!('secret' in created), 'the list has no secret');
    const row = page.getByRole('table', { name: 'Webhooks' }).getByRole('row').filter({ hasText: description });
    await row.getByText('active', { exact: true }).waitFor();
    await checkA11y(page, 'webhook created, its secret shown');
    await screenshot(page, '54-webhook-secret');
    await page.reload();
    await row.getByText('active', { exact: true }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is not shown again');

    // A recipe submitted: the endpoint's delivery is in its log, with a redelivery offered.
    await submittedRecipe('Hooked anneal');
    await row.getByRole('link', { name: 'https://93.184.216.34/hook' }).click();
    await page.getByRole('heading', { name: 'Webhook', level: 1 }).waitFor();
    await settled(page);
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    for (let i = 0; i < 30 && !(await deliveries.getByText('recipe.submitted').count()); i++) {
      await page.waitForTimeout(500);
      await page.getByRole('button', { name: 'Refresh' }).click();
      await settled(page);
    }
    const delivery = deliveries.getByRole('row').filter({ hasText: 'recipe.submitted' }).first();
    await delivery.getByRole('button', { name: 'Redeliver' }).waitFor();
    const logged = (await ok('admin', 'GET', `/api/webhooks/${created.id}/deliveries`)).items[0];
    assert.equal(logged.event, 'recipe.submitted');
    assert.match(logged.message_id, /^msg_/);
    await checkA11y(page, 'webhook deliveries');
    await screenshot(page, '55-webhook-deliveries');

    await tabs.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('inactive', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Enable' }).waitFor();
    assert.equal((await ok('admin', 'GET', `/api/webhooks/${created.id}`)).is_active, false);
    await row.getByRole('button', { name: 'Delete' }).click(); // the confirmation is accepted
    await row.waitFor({ state: 'detached' });
    assert.equal((await call('admin', 'GET', `/api/webhooks/${created.id}`)).status, 404);
    assertClean(page);
    await page.context().close();
  });

  it('a viewer opening the webhooks page is told it is not for their role', async () => {
    const page = await signedIn(browser, 'viewer');
    await page.goto('/admin/webhooks');
    await page.getByRole('heading', { name: 'Not for your role' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'New webhook' }).count(), 0);
    assert.equal((await call('viewer', 'GET', '/api/webhooks')).status, 403);
    await checkA11y(page, 'webhooks refused to a viewer');
    assertClean(page);
    await page.context().close();
  });
});
