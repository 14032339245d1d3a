// The web page in headless Chromium against a running `cratedigger up --sim`:
// a carts job submitted through the form, its progress followed live, and the carts table
// checked against the API's answer for the same job (the optimiser's best cart). Also: the
// form refuses a bad username without a request, recommendations are listed as the API
// gives them, a failed job shows its reason and a retry, the page fits a phone's width,
// and a marketplace page saved from the browser (past the simulator's challenge) is
// uploaded through the file field and its listings stored. Saves screenshots.
//
//   node carts.mjs --base http://127.0.0.1:8080 --sim http://127.0.0.1:8081 --out target/browser
//
// Needs playwright-core (NODE_PATH or a local node_modules) and Chromium at
// CHROMIUM (default /usr/bin/chromium).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

function argument(name, fallback) {
  const at = process.argv.indexOf('--' + name);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const base = argument('base', 'http://127.0.0.1:8080');
const out = argument('out', 'target/browser');
const username = argument('username', 'digger0002');
const sim = argument('sim', '');
mkdirSync(out, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error('check failed: ' + message);
  console.log('ok: ' + message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Without the networking flags Chromium floods a closed network with refused connections.
  // (Playwright gives it a fresh profile directory of its own.)
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  page.on('response', (response) => { if (response.status() >= 400) consoleErrors.push(response.status() + ' ' + response.url()); });
  const jobPosts = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/jobs') jobPosts.push(request.postData());
  });

  await page.goto(base + '/', { waitUntil: 'networkidle' });
  check(await page.title() !== '', 'the page has a title');

  // Every control has a label a screen reader reads.
  const unlabelled = await page.$$eval('input, select', (inputs) => inputs
    .filter((i) => i.type !== 'hidden' && !(i.labels && i.labels.length) && !i.getAttribute('aria-label'))
    .map((i) => i.id || i.name));
  check(unlabelled.length === 0, 'every form control is labelled (' + unlabelled.join(', ') + ')');

  // A bad username is caught in the page, with the field named, and nothing is sent.
  await page.fill('#username', '../x');
  await page.click('#submit');
  await page.waitForSelector('#username-error:not([hidden])');
  check((await page.getAttribute('#username', 'aria-invalid')) === 'true', 'a bad username marks its field');
  check(jobPosts.length === 0, 'a bad username sends no request');

  // The form, used with the keyboard: choose carts, set the criteria, submit with Enter.
  await page.fill('#username', username);
  await page.focus('input[name="kind"][value="recommendations"]');
  await page.keyboard.press('ArrowDown');
  check(await page.isChecked('input[name="kind"][value="carts"]'), 'the kind is chosen with the keyboard');
  await page.waitForSelector('#cart-options:not([hidden])');
  await page.fill('#budget', '40');
  await page.selectOption('#currency', 'EUR');
  await page.selectOption('#min_media_condition', '');
  await page.fill('#min_seller_rating', '90');
  await page.fill('#min_items', '1');
  await page.focus('#budget');
  await page.keyboard.press('Enter');

  await page.waitForSelector('#progress:not([hidden])', { timeout: 10_000 });
  check(jobPosts.length === 1, 'the form sent one job request');
  const sent = JSON.parse(jobPosts[0]);
  check(sent.kind === 'carts' && sent.criteria.budget.minor === 4000 && sent.criteria.budget.currency === 'EUR',
    'the request carries the budget in minor units');

  // Watch the progress until the results show; the bar never goes back.
  const seen = [];
  const deadline = Date.now() + 180_000;
  while (!(await page.isVisible('#results'))) {
    if (await page.isVisible('#failure')) throw new Error('the job failed: ' + (await page.textContent('#failure-text')));
    const percent = Number(await page.getAttribute('#overall', 'value'));
    const stages = await page.$$eval('#stages li', (items) => items.map((i) => i.dataset.stage + ':' + i.querySelector('.stage-state').textContent));
    if (!seen.length || seen[seen.length - 1].percent !== percent || seen[seen.length - 1].stages.join() !== stages.join()) {
      seen.push({ percent, stages });
    }
    if (Date.now() > deadline) throw new Error('no results after 3 minutes; progress seen: ' + JSON.stringify(seen));
    await page.waitForTimeout(50);
  }
  console.log('progress seen: ' + JSON.stringify(seen));
  for (let i = 1; i < seen.length; i++) check(seen[i].percent >= seen[i - 1].percent, 'the bar went from ' + seen[i - 1].percent + ' to ' + seen[i].percent);
  const stageNames = await page.$$eval('#stages li', (items) => items.map((i) => i.dataset.stage));
  check(['profile', 'candidates', 'market', 'carts'].every((s) => stageNames.includes(s)), 'every stage is listed: ' + stageNames.join(', '));
  check((await page.textContent('#percent')).trim() === '100%', 'the bar ends at 100%');

  // The carts the page shows are the ones the API gives for this job.
  const job = new URL(page.url()).searchParams.get('job');
  check(/^[0-9a-f-]{36}$/.test(job || ''), 'the address names the job: ' + job);
  const response = await page.request.get(base + '/api/v1/jobs/' + job + '/carts');
  check(response.ok(), 'GET /api/v1/jobs/{id}/carts answers');
  const set = await response.json();
  // `up --sim` challenges its marketplace pages as Discogs does: the browser source read them.
  const sources = (set.market && set.market.sources) || [];
  const viaBrowser = sources.find((s) => s.source === 'browser');
  check(viaBrowser && viaBrowser.served > 0 && set.market.failed === 0,
    'the listings came through the browser source past the challenge: ' + JSON.stringify(sources));
  const best = set.plan.scenarios.find((s) => s.max_sellers === null || s.max_sellers === undefined);
  check(best && best.cart, 'the optimiser found a best cart');
  const shown = await page.$eval('section.scenario[data-scenario="any"]', (section) => ({
    total: Number(section.dataset.totalMinor),
    listings: [...section.querySelectorAll('tr[data-listing]')].map((row) => row.dataset.listing).sort(),
    sellers: [...section.querySelectorAll('table[data-seller]')].map((table) => table.dataset.seller).sort(),
    text: section.textContent,
    links: [...section.querySelectorAll('a')].map((a) => a.href),
  }));
  check(shown.total === best.cart.total.minor, 'the best cart\'s total is the optimiser\'s (' + best.cart.total.minor + ')');
  check(JSON.stringify(shown.listings) === JSON.stringify(best.cart.lines.map((l) => String(l.listing)).sort()), 'the best cart shows the optimiser\'s listings');
  check(JSON.stringify(shown.sellers) === JSON.stringify(best.cart.orders.map((o) => o.seller).sort()), 'the best cart has a table per seller');
  const total = new Intl.NumberFormat(undefined, { style: 'currency', currency: best.cart.total.currency }).format(best.cart.total.minor / 100);
  check(shown.text.includes(total), 'the total reads ' + total);
  for (const line of best.cart.lines) {
    check(shown.links.some((href) => href.endsWith('/sell/item/' + line.listing)), 'listing ' + line.listing + ' links to Discogs');
  }
  for (const order of best.cart.orders) {
    const row = await page.$eval('section.scenario[data-scenario="any"] table[data-seller="' + order.seller + '"]', (t) => t.textContent);
    const subtotal = new Intl.NumberFormat(undefined, { style: 'currency', currency: order.subtotal.currency }).format(order.subtotal.minor / 100);
    check(row.includes(subtotal) && row.includes('Shipping') && row.includes('rating'), order.seller + ': subtotal ' + subtotal + ', shipping and rating shown');
  }
  const scenarios = await page.$$eval('section.scenario', (sections) => sections.map((s) => s.dataset.scenario));
  const planned = set.plan.scenarios.map((s) => (s.max_sellers == null ? 'any' : String(s.max_sellers)));
  check(scenarios[0] === 'any' && JSON.stringify(scenarios.slice().sort()) === JSON.stringify(planned.sort()),
    'one section per scenario, the best first: ' + scenarios.join(', '));
  await page.screenshot({ path: join(out, 'carts.png'), fullPage: true });

  // A buyer's own browser opens a record's marketplace page (the challenge clears in a
  // real browser), saves it, and uploads it through the page's file field.
  if (sim) {
    const release = set.releases[0].id;
    const market = await context.newPage();
    await market.goto(sim + '/sell/release/' + release + '?limit=250');
    await market.waitForSelector('table.mpitems', { timeout: 30_000 });
    const saved = '<!-- saved from url=(0000)' + sim + '/sell/release/' + release + ' -->\n' + (await market.content());
    await market.close();
    const uploads = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/listings/uploads') uploads.push(request);
    });
    await page.setInputFiles('#upload-files', { name: 'release ' + release + '.html', mimeType: 'text/html', buffer: Buffer.from(saved) });
    await page.click('#upload-submit');
    await page.waitForFunction(() => /Stored|Nothing could/.test(document.querySelector('#upload-result').textContent), null, { timeout: 60_000 });
    const told = await page.textContent('#upload-result');
    check(uploads.length === 1, 'the file field sent one upload');
    check(/^Stored [1-9]\d* listings from every page\./.test(told.trim()), 'the uploaded page\'s listings were stored: ' + told.trim());
    await page.screenshot({ path: join(out, 'upload.png'), fullPage: true });
  }

  // On a phone the page fits the width (wide tables scroll inside their own box).
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, 'nothing is wider than a phone (' + overflow + ' px over)');
  await page.screenshot({ path: join(out, 'carts-phone.png'), fullPage: false });
  await page.setViewportSize({ width: 1100, height: 900 });

  // Recommendations: the list shows what the API gives, with explanations and links.
  await page.goto(base + '/', { waitUntil: 'networkidle' });
  await page.fill('#username', 'digger0001');
  await page.click('#submit');
  await page.waitForSelector('#results:not([hidden])', { timeout: 120_000 });
  const recommended = await (await page.request.get(base + '/api/v1/users/digger0001/recommendations')).json();
  const listed = await page.$$eval('li.recommendation', (items) => items.map((i) => ({
    id: i.dataset.release, text: i.textContent, link: i.querySelector('a').href,
  })));
  check(listed.length > 0 && listed.length === recommended.releases.length, listed.length + ' recommendations listed, as the API gives');
  recommended.releases.forEach((release, i) => {
    check(listed[i].id === String(release.release_id) && listed[i].link === release.url && listed[i].text.includes(release.title),
      'recommendation ' + (i + 1) + ' is ' + release.title + ', linked to Discogs');
    if (release.because.length) check(listed[i].text.includes('Because you have ' + release.because[0].title), 'it says why');
  });
  await page.screenshot({ path: join(out, 'recommendations.png'), fullPage: true });

  // A job that fails says why and offers to try again.
  await page.goto(base + '/', { waitUntil: 'networkidle' });
  await page.fill('#username', 'nobody-at-all');
  await page.click('#submit');
  await page.waitForSelector('#failure:not([hidden])', { timeout: 60_000 });
  const reason = await page.textContent('#failure-text');
  check(/no user|not exist|not found/i.test(reason), 'the failure gives the reason: ' + reason);
  check(await page.isVisible('#retry'), 'a retry button is offered');
  const before = jobPosts.length;
  await page.click('#retry');
  await page.waitForTimeout(500);
  check(jobPosts.length === before + 1, 'retrying sends the request again');
  await page.screenshot({ path: join(out, 'failure.png') });

  // Without Server-Sent Events (an old browser, a proxy that buffers them) the page
  // polls the status record instead, at the interval the record suggests.
  const polling = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await polling.addInitScript(() => { delete window.EventSource; });
  const fallback = await polling.newPage();
  fallback.on('pageerror', (error) => consoleErrors.push(String(error)));
  const reads = [];
  fallback.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (request.method() === 'GET' && path.startsWith('/api/v1/jobs/')) reads.push(path);
  });
  await fallback.goto(base + '/', { waitUntil: 'networkidle' });
  await fallback.fill('#username', 'digger0003');
  await fallback.click('#submit');
  await fallback.waitForSelector('#results:not([hidden])', { timeout: 120_000 });
  check(reads.some((path) => /^\/api\/v1\/jobs\/[0-9a-f-]{36}$/.test(path)), 'without event streams the page polls the status');
  check(!reads.some((path) => path.endsWith('/events')), 'and opens no event stream');
  check((await fallback.textContent('#percent')).trim() === '100%', 'polling follows the job to the end');
  await polling.close();

  check(consoleErrors.length === 0, 'no script errors (' + consoleErrors.join('; ') + ')');
} finally {
  await browser.close();
}
