// The cratedigger page: a form that starts a job, its progress (Server-Sent Events, with
// polling when they fail), and its results. It uses the public API only, and builds every
// element with textContent, never from HTML strings, so nothing Discogs sends can run here.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const STAGE_NAMES = {
    profile: 'Reading your Discogs lists',
    recommend: 'Recommending records',
    candidates: 'Choosing records to look for',
    market: 'Reading the marketplace',
    carts: 'Building carts',
  };
  const STAGE_STATES = { pending: 'waiting', running: 'in progress', succeeded: 'done', failed: 'failed' };
  const FINAL = ['succeeded', 'failed', 'cancelled'];
  // Form fields by the name the API gives them in a 400's `field`.
  const FIELD_INPUTS = {
    username: 'username',
    'criteria.budget': 'budget',
    'criteria.budget.minor': 'budget',
    'criteria.min_media_condition': 'min_media_condition',
    'criteria.min_seller_rating': 'min_seller_rating',
    'criteria.min_items': 'min_items',
    'criteria.ships_from': 'ships_from',
    'criteria.sellers': 'sellers',
    wantlist_share: 'wantlist_share',
  };

  let current = null; // { id, body, links, source, timer }
  let lastRequest = null;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = value;
      else if (key === 'class') node.className = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function link(href, text) {
    return el('a', { href, rel: 'noopener noreferrer', target: '_blank' }, text);
  }

  // Money is integer minor units; the currency says how many digits follow the point.
  function money(amount) {
    if (!amount) return '';
    try {
      const format = new Intl.NumberFormat(undefined, { style: 'currency', currency: amount.currency });
      const digits = format.resolvedOptions().maximumFractionDigits;
      return format.format(amount.minor / Math.pow(10, digits));
    } catch (e) {
      return (amount.minor / 100).toFixed(2) + ' ' + amount.currency;
    }
  }

  function minorUnits(value, currency) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
    } catch (e) { /* keep 2 */ }
    return Math.round(value * Math.pow(10, digits));
  }

  function duration(seconds) {
    if (seconds < 60) return 'less than a minute';
    const minutes = Math.round(seconds / 60);
    return minutes === 1 ? 'about a minute' : 'about ' + minutes + ' minutes';
  }

  // ---- the form ----------------------------------------------------------------------

  function kind() {
    return document.querySelector('input[name="kind"]:checked').value;
  }

  function updateKind() {
    const carts = kind() === 'carts';
    $('cart-options').hidden = !carts;
    $('submit').textContent = carts ? 'Build carts' : 'Recommend';
  }

  function updateMix() {
    const share = Number($('wantlist_share').value);
    $('mix-label').textContent = share + '% wantlist, ' + (100 - share) + '% recommendations';
  }

  function clearErrors() {
    for (const node of document.querySelectorAll('.field-error')) {
      node.hidden = true;
      node.textContent = '';
    }
    for (const node of document.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
    $('form-errors').hidden = true;
    $('form-errors').replaceChildren();
  }

  function showErrors(errors) {
    const summary = $('form-errors');
    const list = el('ul');
    for (const { input, message } of errors) {
      const field = input && $(input);
      const slot = input && $(input + '-error');
      if (field && slot) {
        field.setAttribute('aria-invalid', 'true');
        slot.textContent = message;
        slot.hidden = false;
        const item = el('li', {}, el('a', { href: '#' + input }, message));
        list.append(item);
      } else {
        list.append(el('li', {}, message));
      }
    }
    summary.replaceChildren(el('h2', { text: 'Please check the form' }), list);
    summary.hidden = false;
    summary.focus();
  }

  // Checks what a person can fix before anything is sent; the server checks it all again.
  function readForm() {
    const errors = [];
    const username = $('username').value.trim();
    if (!username) errors.push({ input: 'username', message: 'Enter a Discogs username.' });
    else if (!/^[A-Za-z0-9._-]{1,64}$/.test(username) || /^\.+$/.test(username)) {
      errors.push({ input: 'username', message: 'A Discogs username has letters, digits, dots, dashes and underscores only.' });
    }
    const body = { kind: kind(), username };
    if (body.kind === 'carts') {
      const currency = $('currency').value;
      const budget = Number($('budget').value);
      if (!(budget > 0)) errors.push({ input: 'budget', message: 'Enter a budget above zero.' });
      const rating = $('min_seller_rating').value.trim();
      if (rating !== '' && !(Number(rating) >= 0 && Number(rating) <= 100)) {
        errors.push({ input: 'min_seller_rating', message: 'A seller rating is a percentage from 0 to 100.' });
      }
      const minItems = Number($('min_items').value || '1');
      if (!Number.isInteger(minItems) || minItems < 1 || minItems > 500) {
        errors.push({ input: 'min_items', message: 'The fewest records in a cart is a whole number from 1 to 500.' });
      }
      const criteria = { budget: { minor: minorUnits(budget, currency), currency }, min_items: minItems };
      if ($('min_media_condition').value) criteria.min_media_condition = $('min_media_condition').value;
      if (rating !== '') criteria.min_seller_rating = Number(rating);
      const countries = $('ships_from').value.split(',').map((c) => c.trim()).filter(Boolean);
      if (countries.length) criteria.ships_from = countries;
      const sellers = $('sellers').value.split(/[\s,]+/).filter(Boolean);
      if (sellers.length > 50) {
        errors.push({ input: 'sellers', message: 'Name at most 50 sellers.' });
      }
      if (sellers.length) criteria.sellers = sellers;
      if ($('any_pressing').checked) criteria.any_pressing = true;
      body.criteria = criteria;
      body.wantlist_share = Number($('wantlist_share').value) / 100;
    }
    return { body, errors };
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    const { body, errors } = readForm();
    if (errors.length) {
      showErrors(errors);
      return;
    }
    await start(body);
  }

  async function start(body) {
    lastRequest = body;
    stopFollowing();
    $('submit').disabled = true;
    $('results').hidden = true;
    try {
      const response = await api('POST', '/api/v1/jobs', body);
      const answer = await response.json();
      if (!response.ok) {
        const error = answer.error || {};
        const input = FIELD_INPUTS[(error.field || '').replace(/\[\d+\]$/, '')] || null;
        if (response.status === 400) showErrors([{ input, message: error.message }]);
        else showNotice(problemText(response.status, error));
        return;
      }
      history.replaceState(null, '', '?job=' + encodeURIComponent(answer.job_id));
      follow(answer.job_id);
    } catch (e) {
      showNotice('The server could not be reached. Check your connection and try again.');
    } finally {
      $('submit').disabled = false;
    }
  }

  function problemText(status, error) {
    if (status === 401) return 'This server needs you to sign in with Discogs first.';
    if (status === 429) return 'Too many requests at once. Wait a moment and try again.';
    return error.message || 'Something went wrong (' + status + ').';
  }

  function showNotice(text) {
    const notice = $('notice');
    notice.textContent = text;
    notice.hidden = !text;
  }

  function api(method, path, body) {
    const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  // ---- uploaded pages --------------------------------------------------------------------

  async function upload(event) {
    event.preventDefault();
    const input = $('upload-files');
    const error = $('upload-files-error');
    error.hidden = true;
    const files = Array.from(input.files || []);
    if (!files.length) {
      error.textContent = 'Choose the saved pages (.html) or a zip of them first.';
      error.hidden = false;
      input.focus();
      return;
    }
    const form = new FormData();
    for (const file of files) form.append('files', file, file.name);
    $('upload-submit').disabled = true;
    const result = $('upload-result');
    result.replaceChildren(el('p', { text: 'Uploading ' + files.length + ' file' + (files.length === 1 ? '' : 's') + '…' }));
    try {
      const response = await fetch('/api/v1/listings/uploads', {
        method: 'POST', body: form, credentials: 'same-origin', headers: { accept: 'application/json' },
      });
      const answer = await response.json();
      if (!response.ok) {
        error.textContent = (answer.error && answer.error.message) || ('The upload was refused (' + response.status + ').');
        error.hidden = false;
        result.replaceChildren();
        return;
      }
      await followUpload(answer.status_url, result);
    } catch (e) {
      result.replaceChildren(el('p', { text: 'The upload could not be sent. Check the connection and try again.' }));
    } finally {
      $('upload-submit').disabled = false;
    }
  }

  async function followUpload(url, result) {
    for (let i = 0; i < 240; i++) {
      const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (response.ok) {
        const status = await response.json();
        if (status.state !== 'queued' && status.state !== 'reading') {
          renderUpload(status, result);
          return;
        }
        result.replaceChildren(el('p', { text: 'Reading the pages…' }));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    result.replaceChildren(el('p', { text: 'The pages are still being read; look again in a moment.' }));
  }

  function renderUpload(status, result) {
    const summary = {
      succeeded: 'Stored ' + status.listings + ' listings from every page.',
      partial: 'Stored ' + status.listings + ' listings; some pages could not be used:',
      failed: 'Nothing could be stored:',
    }[status.state] || status.state;
    const problems = [];
    for (const file of status.files) {
      const outcome = file.outcome || {};
      if (outcome.error) problems.push(outcome.error);
      for (const page of outcome.pages || []) if (page.error) problems.push(page.error);
    }
    result.replaceChildren(el('p', { text: summary }), el('ul', {}, problems.map((p) => el('li', { text: p }))));
  }

  // ---- progress ----------------------------------------------------------------------

  function follow(id) {
    current = { id, source: null, timer: null, finished: false };
    showNotice('');
    $('progress').hidden = false;
    $('failure').hidden = true;
    $('cancel').hidden = false;
    $('progress-title').textContent = 'Working on it';
    $('progress-title').focus();
    if ('EventSource' in window) {
      const source = new EventSource('/api/v1/jobs/' + encodeURIComponent(id) + '/events');
      current.source = source;
      source.addEventListener('status', (message) => {
        try {
          render(JSON.parse(message.data));
        } catch (e) { /* a record we cannot read: the next one, or polling, will do */ }
      });
      // The stream ends when the job does, or breaks (a proxy, a restart): either way the
      // status record says what happened, so ask for it.
      source.onerror = () => {
        source.close();
        if (current && current.id === id && !current.finished) poll(id, 0);
      };
    } else {
      poll(id, 0);
    }
  }

  function poll(id, delay) {
    if (!current || current.id !== id) return;
    clearTimeout(current.timer);
    current.timer = setTimeout(async () => {
      try {
        const response = await api('GET', '/api/v1/jobs/' + encodeURIComponent(id));
        const answer = await response.json();
        if (!response.ok) {
          showFailure((answer.error && answer.error.message) || 'The job could not be read.', true);
          return;
        }
        render(answer);
        if (!FINAL.includes(answer.state)) poll(id, answer.poll_after_ms || 1000);
      } catch (e) {
        poll(id, 3000);
      }
    }, delay);
  }

  function stopFollowing() {
    if (!current) return;
    if (current.source) current.source.close();
    clearTimeout(current.timer);
    current = null;
  }

  function render(status) {
    if (!current || status.job_id !== current.id || current.finished) return;
    current.links = status.links;
    $('overall').value = status.percent;
    $('percent').textContent = status.percent + '%';
    $('eta').textContent = status.eta_seconds !== null && status.eta_seconds !== undefined && !FINAL.includes(status.state)
      ? 'Time left: ' + duration(status.eta_seconds) : '';
    const stages = status.stages.map((stage) => {
      // Counts while a stage works; once done, its count matters only if some failed.
      const known = stage.total !== null && stage.total !== undefined && stage.total > 0;
      let count = '';
      if (known && stage.state !== 'succeeded') count = ' ' + stage.done + ' of ' + stage.total;
      if (stage.failed) count += ' (' + stage.failed + ' failed)';
      return el('li', { class: 'stage stage-' + stage.state, 'data-stage': stage.name }, [
        el('span', { class: 'stage-name', text: STAGE_NAMES[stage.name] || stage.name }),
        el('span', { class: 'stage-state', text: (STAGE_STATES[stage.state] || stage.state) + count }),
      ]);
    });
    $('stages').replaceChildren(...stages);
    let message = status.message || '';
    if (status.stale) message += (message ? ' ' : '') + '(nothing has moved for a while; still waiting)';
    if (status.partial) message += (message ? ' ' : '') + '(some work failed; results may be incomplete)';
    $('job-message').textContent = message;
    if (!FINAL.includes(status.state)) return;
    current.finished = true;
    if (current.source) current.source.close();
    $('cancel').hidden = true;
    if (status.state === 'succeeded') {
      $('progress-title').textContent = 'Done';
      showResults(status);
    } else if (status.state === 'failed') {
      const error = status.error || {};
      const stage = error.stage ? ' (while ' + (STAGE_NAMES[error.stage] || error.stage).toLowerCase() + ')' : '';
      showFailure((error.message || 'The job failed.') + stage, error.retryable !== false);
    } else {
      showFailure('The job was cancelled.', true);
    }
  }

  function showFailure(text, retryable) {
    $('progress-title').textContent = 'It did not work';
    $('failure-text').textContent = text;
    $('retry').textContent = retryable ? 'Try again' : 'Try again anyway';
    $('failure').hidden = false;
    $('cancel').hidden = true;
  }

  async function cancel() {
    if (!current) return;
    const response = await api('DELETE', '/api/v1/jobs/' + encodeURIComponent(current.id));
    if (!response.ok && response.status !== 409) {
      const answer = await response.json().catch(() => ({}));
      showNotice((answer.error && answer.error.message) || 'The job could not be cancelled.');
    }
    if (current && current.source === null) poll(current.id, 0);
  }

  // ---- results -----------------------------------------------------------------------

  async function showResults(status) {
    const path = status.links && status.links.results;
    const body = $('results-body');
    if (!path) {
      body.replaceChildren(el('p', { text: 'Your Discogs lists are up to date.' }));
    } else {
      const response = await api('GET', path);
      const answer = await response.json();
      if (!response.ok) {
        body.replaceChildren(el('p', { class: 'failure', text: (answer.error && answer.error.message) || 'The results could not be read.' }));
      } else if (status.kind === 'carts') {
        body.replaceChildren(...renderCarts(answer));
      } else {
        body.replaceChildren(...renderRecommendations(answer));
      }
    }
    $('results').hidden = false;
    $('results-title').focus();
  }

  function renderRecommendations(set) {
    if (!set.releases.length) return [el('p', { text: 'No recommendations yet: the model knows too little of these lists.' })];
    const items = set.releases.map((release, i) => {
      const because = release.because.length
        ? el('p', { class: 'because' }, ['Because you have ', release.because.map((b) => b.title).join(', ')])
        : null;
      return el('li', { class: 'recommendation', 'data-release': release.release_id }, [
        release.thumb ? el('img', { src: release.thumb, alt: '', width: 64, height: 64, loading: 'lazy' }) : null,
        el('div', {}, [
          el('h3', {}, link(release.url, (release.artists.join(', ') || 'Unknown artist') + ' – ' + release.title)),
          el('p', { class: 'meta' }, [release.year ? release.year + ' · ' : '', 'score ' + release.score.toFixed(2), ' · #' + (i + 1)]),
          because,
        ]),
      ]);
    });
    const notes = set.unknown_to_model
      ? el('p', { class: 'note', text: set.unknown_to_model + ' of your records are too new or rare for the model and were not used.' })
      : null;
    return [el('ol', { class: 'recommendations' }, items), notes];
  }

  function scenarioTitle(maxSellers) {
    if (maxSellers === null || maxSellers === undefined) return 'Best cart, any number of sellers';
    return maxSellers === 1 ? 'Best cart from one seller' : 'Best cart from up to ' + maxSellers + ' sellers';
  }

  const EMPTY_REASONS = {
    no_candidates: 'There were no records to look for: the wantlist and recommendations are empty.',
    no_eligible_listings: 'No listing meets your conditions (condition, seller rating, countries).',
    too_few_items_within_budget: 'Not enough records fit the budget together. Try a larger budget or fewer records per cart.',
    seller_minimums_unmet: "The sellers' minimum order totals cannot be met within the budget.",
  };

  function renderCarts(set) {
    const releases = new Map(set.releases.map((r) => [r.id, r]));
    const sellers = new Map(set.sellers.map((s) => [s.name, s]));
    const listings = new Map(set.listings.map((l) => [l.id, l]));
    const plan = set.plan || {};
    const out = [];
    if (plan.empty) out.push(el('p', { class: 'failure', text: EMPTY_REASONS[plan.empty] || 'No cart fits the criteria.' }));
    // The optimiser's best cart (any number of sellers) first, then fewer sellers.
    const scenarios = (plan.scenarios || []).slice().sort((a, b) => (a.max_sellers == null ? 0 : a.max_sellers) - (b.max_sellers == null ? 0 : b.max_sellers));
    for (const scenario of scenarios) {
      const key = scenario.max_sellers === null || scenario.max_sellers === undefined ? 'any' : String(scenario.max_sellers);
      const section = el('section', { class: 'scenario', 'data-scenario': key, 'aria-label': scenarioTitle(scenario.max_sellers) });
      section.append(el('h3', { text: scenarioTitle(scenario.max_sellers) }));
      const cart = scenario.cart;
      if (!cart) {
        section.append(el('p', { text: 'No cart fits the budget with this many sellers.' }));
        out.push(section);
        continue;
      }
      section.setAttribute('data-total-minor', cart.total.minor);
      section.append(el('p', { class: 'cart-total' }, [
        el('strong', { text: 'Total ' + money(cart.total) }),
        ' for ' + cart.item_count + (cart.item_count === 1 ? ' record' : ' records') + ': ',
        money(cart.items_total) + ' of records and ' + money(cart.shipping_total) + ' shipping' + (cart.shipping_assumed ? ' (estimated)' : ''),
      ]));
      for (const order of cart.orders) {
        const seller = sellers.get(order.seller) || { name: order.seller };
        const rating = seller.rating !== null && seller.rating !== undefined ? seller.rating.toFixed(1) + '%' : 'new seller';
        const table = el('table', { class: 'order', 'data-seller': order.seller });
        table.append(el('caption', {}, [
          seller.url ? link(seller.url, seller.name) : seller.name,
          ' · rating ' + rating + (seller.ratings ? ' (' + seller.ratings + ' ratings)' : '') + (seller.ships_from ? ' · ships from ' + seller.ships_from : ''),
        ]));
        table.append(el('thead', {}, el('tr', {}, ['Record', 'Condition (record / sleeve)', 'Price', 'Listing'].map((h) => el('th', { scope: 'col', text: h })))));
        const rows = cart.lines.filter((line) => line.seller === order.seller).map((line) => {
          const release = releases.get(line.release) || { title: 'Release ' + line.release, artists: [] };
          const listing = listings.get(line.listing);
          const name = (release.artists.length ? release.artists.join(', ') + ' – ' : '') + release.title + (release.year ? ' (' + release.year + ')' : '');
          return el('tr', { 'data-listing': line.listing }, [
            el('td', {}, release.url ? link(release.url, name) : name),
            el('td', { text: line.media + ' / ' + (line.sleeve || 'not given') }),
            el('td', { class: 'num', text: money(line.price) }),
            el('td', {}, listing ? link(listing.url, 'View on Discogs') : ''),
          ]);
        });
        table.append(el('tbody', {}, rows));
        table.append(el('tfoot', {}, [
          el('tr', {}, [el('th', { scope: 'row', colspan: 2, text: 'Subtotal' }), el('td', { class: 'num', text: money(order.subtotal) }), el('td')]),
          el('tr', {}, [
            el('th', { scope: 'row', colspan: 2, text: 'Shipping' + (order.shipping_assumed ? ' (estimated: the seller gives no rate)' : '') }),
            el('td', { class: 'num', text: money(order.shipping) }),
            el('td'),
          ]),
          el('tr', {}, [
            el('th', { scope: 'row', colspan: 2, text: 'Seller total' }),
            el('td', { class: 'num', text: money({ minor: order.subtotal.minor + order.shipping.minor, currency: order.subtotal.currency }) }),
            el('td'),
          ]),
        ]));
        section.append(el('div', { class: 'table-wrap' }, table));
      }
      if (cart.shipping_assumed) {
        section.append(el('p', { class: 'note', text: 'Some shipping costs are estimates: check them with the seller before you buy.' }));
      }
      out.push(section);
    }
    const notes = (set.notes || []).map((n) => el('li', { text: n }));
    if (set.fx_rates && set.fx_rates.length) {
      notes.push(el('li', { text: 'Prices in other currencies converted at ' + set.fx_rates.map((r) => r.currency + ' ' + r.rate.toFixed(4) + ' (' + r.date + ')').join(', ') + '.' }));
    }
    if (set.market && set.market.failed) {
      notes.push(el('li', { text: set.market.failed + ' of ' + set.market.releases + ' records could not be read from the marketplace.' }));
    }
    if (notes.length) out.push(el('ul', { class: 'notes' }, notes));
    return out;
  }

  // ---- account -----------------------------------------------------------------------

  async function loadSession() {
    try {
      const response = await api('GET', '/api/v1/session');
      if (!response.ok) return;
      const session = await response.json();
      const account = $('account');
      if (session.username) {
        const out = el('button', { type: 'button', class: 'linkish', text: 'Sign out' });
        out.addEventListener('click', async () => {
          await api('POST', '/auth/logout');
          location.assign('/');
        });
        account.replaceChildren('Signed in as ' + session.username + ' ', out);
        if (!$('username').value) $('username').value = session.username;
      } else if (session.sign_in_available) {
        account.replaceChildren(el('a', { href: '/auth/discogs/login', text: 'Sign in with Discogs' }), ' (to use a private wantlist)');
      }
    } catch (e) { /* the page works without it */ }
  }

  function init() {
    for (const radio of document.querySelectorAll('input[name="kind"]')) radio.addEventListener('change', updateKind);
    $('wantlist_share').addEventListener('input', updateMix);
    $('job-form').addEventListener('submit', submit);
    $('upload-form').addEventListener('submit', upload);
    $('retry').addEventListener('click', () => {
      if (lastRequest) start(lastRequest);
      else $('job-form').requestSubmit();
    });
    $('cancel').addEventListener('click', cancel);
    updateKind();
    updateMix();
    loadSession();
    const params = new URLSearchParams(location.search);
    if (params.get('signin') === 'refused') showNotice('Signing in with Discogs was cancelled.');
    if (params.get('signin') === 'expired') showNotice('Signing in took too long. Please try again.');
    if (params.get('signin') === 'elsewhere') showNotice('That sign-in was started in another browser. Please sign in from this one.');
    const job = params.get('job');
    if (job && /^[0-9a-fA-F-]{36}$/.test(job)) follow(job);
  }

  init();
})();
