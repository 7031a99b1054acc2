// The console as an operator uses it, in Debian's chromium: sign in, a domain refused with the
// field's error then created, a volume that appears without a reload, maintenance whose votes
// arrive one by one. Run by ConsoleIT with CONSOLE_URL, CONSOLE_TOKEN, FILES_DIR and SCREENSHOTS set,
// and VOTER: ConsoleIT acts on the lines this script prints as "CUE: <what> <name>" (see ConsoleIT).
import { chromium } from 'playwright-core';

const { CONSOLE_URL, CONSOLE_TOKEN, FILES_DIR, SCREENSHOTS } = process.env;
const WAIT = 60_000;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
// An API refusal (401, 404 of a maintenance never requested) is an answer the page shows; a missing file or a 5xx is not.
page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`); });
page.on('response', (r) => {
  const path = new URL(r.url()).pathname;
  if (r.status() >= 500 || (r.status() === 404 && !path.startsWith('/api/'))) problems.push(`${r.status()} for ${path}`);
});

async function step(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (e) {
    await page.screenshot({ path: `${SCREENSHOTS}/failed-${name.replace(/\W+/g, '-')}.png`, fullPage: true });
    console.log(`FAIL ${name}: ${e.message}`);
    await browser.close();
    process.exit(1);
  }
}

const text = (selector, wanted) => page.locator(selector, { hasText: wanted }).first().waitFor({ timeout: WAIT });

await step('a wrong token is refused', async () => {
  await page.goto(CONSOLE_URL);
  await page.getByLabel('API token').fill('sb_not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await text('#sign-in-error', 'not valid');
});

await step('signs in with a token and sees the overview', async () => {
  await page.getByLabel('API token').fill(CONSOLE_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await text('#overview-facts dd', 'ACTIVE');
  await text('#managers li', 'active');
  await text('#hosts li', 'host-1');
});

await step('a domain with a wrong property shows the error by its field', async () => {
  await page.locator('#create-domain summary').click();
  await page.getByLabel('Name', { exact: true }).first().fill('files');
  await page.locator('#domain-driver').selectOption('file');
  await page.locator('#property-path').fill('/no/such/directory');
  await page.getByRole('button', { name: 'Create domain' }).click();
  await text('#property-path-error', 'does not exist');
  await page.screenshot({ path: `${SCREENSHOTS}/domain-field-error.png`, fullPage: true });
});

await step('the domain is created once the property is right', async () => {
  await page.locator('#property-path').fill(FILES_DIR);
  await page.getByRole('button', { name: 'Create domain' }).click();
  await text('#domain-rows tr[data-domain="files"]', 'ACTIVE');
});

await step('a volume appears as it is created, without a reload', async () => {
  await page.getByRole('button', { name: 'Open files' }).click();
  await page.getByLabel('Name', { exact: true }).nth(1).fill('disk1');
  await page.getByLabel('Size (GiB)').fill('0.0625');
  await page.getByRole('button', { name: 'Create volume' }).click();
  await text('#volume-rows tr[data-volume="disk1"]', 'READY');
  await text('#events li[data-type="VolumeCreated"]', 'disk1');
});

await step('a guest paused on a full volume shows until the extend that resumes it', async () => {
  if (!process.env.VOTER) return; // the cues need ConsoleIT
  await text('#paused li', 'None paused.');
  console.log('CUE: pause disk1');
  await text('#paused li[data-volume="disk1"]', 'out of space');
  console.log('CUE: extend disk1');
  await text('#extends li[data-volume="disk1"]', 'guest resumed');
  await text('#volume-rows tr[data-volume="disk1"]', 'thin, 1.0 GiB allocated');
  await text('#paused li', 'None paused.');
  // The SPM's figures for the domain, read again on the extend: 1 GiB free of 4 GiB, 52 s to full.
  await page.locator('#domain-rows tr[data-domain="files"] meter[value="75"]').waitFor({ timeout: WAIT });
  await text('#domain-rows tr[data-domain="files"]', '1.0 GiB free of 4.0 GiB, full in 1 min');
});

await step('a backup without an object-store domain to go to is explained, not sent', async () => {
  await page.locator('#backup-target option', { hasText: 'no object-store domain' }).waitFor({ state: 'attached', timeout: WAIT });
  await page.getByRole('button', { name: 'Back up disk1' }).click();
  await text('#volume-form-error', 'object-store domain');
});

await step('maintenance shows every vote as it arrives', async () => {
  await page.getByLabel('Reason').fill('firmware');
  await page.getByRole('button', { name: 'Request maintenance' }).click();
  await text('#voters li[data-voter="host:host-1"]', 'CONSENT');
  if (process.env.VOTER) {
    // The subscriber holds its vote until it reads the cue: the page must show it missing first, then arriving.
    await text(`#voters li[data-voter="${process.env.VOTER}"]`, 'not voted yet');
    await text('#maintenance-status', 'VOTING');
    console.log(`CUE: vote ${process.env.VOTER}`);
    await text(`#voters li[data-voter="${process.env.VOTER}"]`, 'CONSENT');
    await text('#events li[data-type="MaintenanceVoteCounted"]', `${process.env.VOTER} CONSENT`);
  }
  await text('#maintenance-status', 'COMPLETED');
  await text('#domain-rows tr[data-domain="files"]', 'MAINTENANCE');
  await page.screenshot({ path: `${SCREENSHOTS}/console.png`, fullPage: true });
});

await step('the page logged no errors', async () => {
  if (problems.length) throw new Error(problems.join('; '));
});

await browser.close();
