/* Arbiter web snippet: fills a page's slots from one Personalize decision per page view and
 * reports impressions (an item at least half in view) and clicks as outcomes (POST /v1/outcomes).
 *
 *   <script src="/arbiter.js" data-arbiter-page="cards" async></script>
 *   <div data-arbiter-slot="hero" data-arbiter-content="cards">default content</div>
 *
 * Script attributes: data-arbiter-page (the page's name), data-arbiter-timeout (ms, default 300),
 * data-arbiter-server (base URL without a trailing slash, default this origin),
 * data-arbiter-key (a site key that may only decide, sent as a bearer credential; a page is
 * public, so never put a key with other roles here),
 * data-arbiter-customer (a logged-in customer's id; absent for an anonymous visitor). Every
 * visitor has a first-party visitor id, kept in localStorage and the cookie arbiter_vid.
 * Slot attributes: data-arbiter-slot (name), data-arbiter-content (content type: an offer
 * category), data-arbiter-count (items; default the number of the slot's [data-arbiter-item]
 * elements, or 1). Items go into the slot's [data-arbiter-item] elements in order (or into the slot
 * itself): the item's [data-arbiter-title] and [data-arbiter-message] get the treatment's text, its
 * [data-arbiter-cta] link or button the click (text from its data-arbiter-label, href from its
 * data-arbiter-href with the offer's fields filled in: {offerId}, {product}, {category}); an item without
 * [data-arbiter-title] gets plain markup instead. Slots keep their default content until the
 * decision arrives, and for good if it misses the timeout (the late answer is ignored); the page
 * is never hidden. A filled item carries data-arbiter-offer, -decision and -category (and -seen
 * once its impression is reported); <html>
 * carries data-arbiter-state: pending, then filled, timeout or error (each also an event).
 * "Call me": the button of an offer of category "callback" posts /v1/callbacks with the customer
 * or visitor, the page and what the visitor is looking at (the data-arbiter-product name of the
 * product last pointed at or most in view, else the h1), then shows the expected wait in the
 * item's [data-arbiter-status].
 * API: arbiter.refresh(); arbiter.login(id, or 0 to log out), which decides again;
 * arbiter.on(event, fn) for "filled" (the PersonalizeResponse), "timeout", "error", "callback"
 * (the CallbackTicket), also DOM events "arbiter:<event>" on document; arbiter.visitorId;
 * arbiter.decision (the last PersonalizeResponse used).
 */
((w, d) => {
  if (w.arbiter) return;
  const A = 'data-arbiter-',
    script = d.currentScript || d.querySelector(`script[${A}page]`),
    at = (n, k) => n.getAttribute(A + k),
    set = (n, k, v) => v == null ? n.removeAttribute(A + k) : n.setAttribute(A + k, v),
    all = (s, n = d) => [...n.querySelectorAll(s)],
    field = (n, k) => n.querySelector(`[${A + k}]`),
    on = (n, type, f) => n.addEventListener(type, f, true),
    emit = (type, detail) => d.dispatchEvent(new CustomEvent('arbiter:' + type, { detail })),
    // The page's state on <html data-arbiter-state>, and the event of the same name.
    state = (s, detail) => (set(d.documentElement, 'state', s), emit(s, detail)),
    base = at(script, 'server') || '',
    key = at(script, 'key'),
    customer = () => at(script, 'customer') || '0',
    page = () => at(script, 'page') || 'home',
    ref = n => ({ decisionId: at(n, 'decision'), offerId: at(n, 'offer') }),
    defaults = new Map(), // item element -> its default HTML
    queue = [],           // outcomes not sent yet
    VID = 'arbiter_vid';
  let vid, view = 0, timer, pointed; // view: the number of the decision whose answer is still wanted

  // The first-party visitor id: localStorage's, else the cookie's, else a new random one; kept in both.
  try { vid = localStorage[VID]; } catch {}
  vid = vid || (d.cookie.match(/(^|; )arbiter_vid=([\w-]+)/) || [])[2] ||
    'v-' + crypto.getRandomValues(new Uint32Array(4)).join('');
  try { localStorage[VID] = vid; } catch {}
  d.cookie = VID + '=' + vid + ';path=/;max-age=63072000;samesite=lax';

  // POSTs JSON; resolves to the answer's JSON, rejects with the error's JSON ({code, message}).
  const post = (path, body, options) => fetch(base + path, {
    ...options, method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...key && { Authorization: 'Bearer ' + key } }
  }).then(r => r.json().catch(() => ({})).then(j => {
    if (r.ok) return j;
    throw j.message ? j : { message: 'HTTP ' + r.status };
  }));

  // Outcomes go in batches half a second later, at once after a click and when the page is
  // hidden, with keepalive so that they outlive the page.
  const flush = () => queue[0] && post('/v1/outcomes', { outcomes: queue.splice(0) }, { keepalive: true }).catch(e => emit('error', e));
  const outcome = (n, kind) => {
    queue.push({ ...ref(n), outcome: 'OUTCOME_' + kind });
    clearTimeout(timer);
    kind == 'CLICK' ? flush() : timer = setTimeout(flush, 500);
  };

  // An impression once an item is at least half in view (browsers do not look while the page is hidden).
  const impressions = new IntersectionObserver(entries => entries.map(e => {
    const n = e.target;
    if (at(n, 'offer') && e.intersectionRatio >= .5 && !at(n, 'seen')) {
      set(n, 'seen', 1);
      outcome(n, 'IMPRESSION');
    }
  }), { threshold: .5 });
  const watch = n => { impressions.unobserve(n); impressions.observe(n); };
  const items = slot => (list => list[0] ? list : [slot])(all(`[${A}item]`, slot));

  // Puts item n's default content back, then offer o of decision id into it, if any.
  const show = (n, o, id) => {
    n.innerHTML = defaults.get(n);
    set(n, 'decision', o && id);
    set(n, 'offer', o && o.offerId);
    set(n, 'category', o && o.category);
    set(n, 'seen'); // the impression of this decision's offer is still to be reported
    if (!o) return;
    const t = o.treatment || {};
    field(n, 'title') || (n.innerHTML =
      `<h3 ${A}title></h3><p ${A}message></p><button ${A}cta>Find out more</button>`);
    const [title, message, cta] = ['title', 'message', 'cta'].map(k => field(n, k));
    title.textContent = t.title || o.name;
    if (message) message.textContent = t.message;
    if (cta) {
      const label = at(cta, 'label') || o.category == 'callback' && 'Call me', href = at(cta, 'href');
      if (label) cta.textContent = label;
      if (href) cta.href = href.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(o[k] || ''));
    }
    watch(n);
  };

  // One Personalize for the page's slots; its answer is used only if it comes within the timeout.
  const refresh = () => {
    const mine = ++view, ctl = new AbortController(), slots = all(`[${A}slot]`),
      over = () => (clearTimeout(late), mine == view && ++view),
      late = setTimeout(() => over() && (ctl.abort(), state('timeout')), +at(script, 'timeout') || 300);
    state('pending');
    return post('/v1/personalize', {
      customerId: customer(), visitorId: vid, channel: 'CHANNEL_WEB', context: { page: page() },
      slots: slots.map(s => {
        const list = items(s);
        list.map(n => defaults.has(n) || defaults.set(n, n.innerHTML));
        return { name: at(s, 'slot'), contentType: at(s, 'content') || '', count: +at(s, 'count') || (list[0] == s ? 1 : list.length) };
      })
    }, { signal: ctl.signal }).then(r => {
      if (!over()) return;
      slots.map(s => {
        const got = (r.items || []).filter(it => it.slot == at(s, 'slot') && it.offer).sort((a, b) => ~~a.position - ~~b.position);
        items(s).map((n, i) => (got[i] || at(n, 'offer')) && show(n, got[i] && got[i].offer, r.decisionId));
      });
      api.decision = r;
      state('filled', r);
    }, e => over() && state('error', e));
  };

  // What the visitor is looking at: the [data-arbiter-product] last pointed at, if still in view,
  // else the one with most of its height in the window, else the page's heading.
  const inView = p => (r => Math.min(r.bottom, innerHeight) - Math.max(r.top, 0))(p.getBoundingClientRect());
  const viewing = () => {
    let best = pointed && inView(pointed) > 0 && pointed, most = 0, h = d.querySelector('h1');
    best || all(`[${A}product]`).map(p => inView(p) > most && (most = inView(p), best = p));
    return (best ? at(best, 'product') : h ? h.textContent.trim() : d.title).slice(0, 200);
  };

  // "Call me": queues a call-back with who, where and what, and shows the expected wait.
  const callMe = (n, cta) => {
    field(n, 'status') || n.insertAdjacentHTML('beforeend', `<p ${A}status role="status"></p>`);
    const status = field(n, 'status');
    status.textContent = 'Booking your call…';
    cta.disabled = true;
    post('/v1/callbacks', { ...ref(n), customerId: customer(), visitorId: vid, page: page(), viewing: viewing() }).then(t => {
      const s = +t.expectedWaitSeconds || 0, m = Math.max(1, Math.round(s / 60));
      status.textContent = 'An adviser will call you ' +
        (t.agentId || s < 30 ? 'in a moment.' : 'in about ' + m + (m > 1 ? ' minutes.' : ' minute.'));
      emit('callback', t);
    }, e => {
      cta.disabled = false;
      status.textContent = 'Sorry, we could not book your call: ' + e.message + '.';
      emit('error', e);
    });
  };

  on(d, 'click', e => {
    const n = e.target.closest(`[${A}offer]`), cta = n && e.target.closest(`a,button,[${A}cta]`);
    if (!cta || !n.contains(cta)) return;
    outcome(n, 'CLICK');
    if (at(n, 'category') == 'callback' && cta == field(n, 'cta')) {
      e.preventDefault();
      callMe(n, cta);
    }
  });
  on(d, 'pointerover', e => pointed = e.target.closest(`[${A}product]`) || pointed);
  on(d, 'visibilitychange', () => d.hidden && flush());
  on(w, 'pagehide', flush);

  const api = w.arbiter = {
    visitorId: vid,
    refresh,
    flush,
    // A visitor who logs in (or out, with 0) is decided again as that customer.
    login: id => (set(script, 'customer', +id ? id : null), refresh()),
    on: (type, f) => on(d, 'arbiter:' + type, e => f(e.detail))
  };
  d.readyState == 'loading' ? on(d, 'DOMContentLoaded', refresh) : refresh();
})(window, document);
