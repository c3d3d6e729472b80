// Northbank, the demo bank's site: the demo's log-in as a customer (kept first-party, in
// localStorage), the "application form" dialog an offer's button opens, and a line in the demo bar
// saying what Arbiter decided. The offers themselves are the snippet's (/arbiter.js) work.
// Loaded as a plain script at the end of <body>, so the log-in is on the snippet's <script> before
// the snippet decides.
(() => {
  const KEY = 'northbank_customer';
  const snippet = document.querySelector('script[data-arbiter-page]');
  const bar = document.querySelector('.demo-bar');
  const form = bar.querySelector('form');
  const input = form.querySelector('input');
  const who = bar.querySelector('.who');
  const note = bar.querySelector('.note');
  const store = {
    get: () => { try { return localStorage.getItem(KEY) || ''; } catch (e) { return ''; } },
    set: v => { try { v ? localStorage.setItem(KEY, v) : localStorage.removeItem(KEY); } catch (e) {} },
  };

  const say = html => { note.innerHTML = html; };
  const text = s => String(s).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

  // Shows who is logged in or the log-in form.
  const showWho = id => {
    form.hidden = !!id;
    who.hidden = !id;
    if (id) who.querySelector('span').innerHTML = `Logged in as <b>customer ${text(id)}</b>`;
  };

  // The customer the snippet decides for next, without deciding now.
  const decideAs = id => id ? snippet.setAttribute('data-arbiter-customer', id) : snippet.removeAttribute('data-arbiter-customer');

  const decideAgain = id => {
    if (window.arbiter) window.arbiter.login(id || 0);
    else if (id) snippet.setAttribute('data-arbiter-customer', id);
    else snippet.removeAttribute('data-arbiter-customer');
  };

  // Logging in decides again as the customer. The bank's own site would know its customers; the
  // demo, whose pages hold only a key that may decide (never one that reads profiles), learns that
  // there is no such customer from the decision (NOT_FOUND) and stays as it was.
  const logIn = id => {
    const error = form.querySelector('.error');
    error.textContent = '';
    if (!/^[1-9][0-9]{5,}$/.test(id)) {
      error.textContent = 'Enter a customer number, e.g. 100042';
      return;
    }
    const previous = store.get();
    const events = ['arbiter:filled', 'arbiter:timeout', 'arbiter:error'];
    const settle = e => {
      events.map(type => document.removeEventListener(type, settle));
      if (e.type == 'arbiter:error' && e.detail && e.detail.code == 'NOT_FOUND') {
        error.textContent = `There is no customer ${id}.`;
        decideAs(previous);
        say(`There is no customer <b>${text(id)}</b>: still deciding for ${whom()}.`);
        return;
      }
      store.set(id);
      showWho(id);
    };
    events.map(type => document.addEventListener(type, settle));
    say(`Deciding for customer <b>${text(id)}</b>…`);
    decideAgain(id);
  };

  form.addEventListener('submit', e => {
    e.preventDefault();
    logIn(input.value.trim());
  });
  bar.querySelector('.random').addEventListener('click', () => {
    input.value = String(100000 + Math.floor(Math.random() * 20000));
    logIn(input.value);
  });
  who.querySelector('button').addEventListener('click', () => {
    store.set('');
    showWho('');
    say('Logged out: deciding for an anonymous visitor…');
    decideAgain('');
  });

  // The customer logged in on an earlier page is decided as that customer on this one.
  const current = store.get();
  if (current) {
    snippet.setAttribute('data-arbiter-customer', current);
    showWho(current);
  } else {
    showWho('');
  }

  // What Arbiter did on this page view.
  const whom = () => {
    const id = snippet.getAttribute('data-arbiter-customer');
    return id ? `customer <b>${text(id)}</b>` : 'you, an anonymous visitor';
  };
  const KINDS = {
    cards: 'Cards', savings: 'Savings', mortgages: 'Mortgages', loans: 'Loans', insurance: 'Insurance',
    investments: 'Investments', everyday: 'Everyday banking', service: 'Service', retention: 'For you',
    callback: 'Talk to us',
  };
  document.addEventListener('arbiter:filled', e => {
    // An offer's small label names its kind.
    for (const item of document.querySelectorAll('[data-arbiter-offer]')) {
      const kicker = item.querySelector('.kicker');
      const kind = KINDS[item.getAttribute('data-arbiter-category')];
      if (kicker && kind) kicker.textContent = kind;
    }
    const n = (e.detail.items || []).length;
    say(n ? `Arbiter chose ${n} offer${n > 1 ? 's' : ''} on this page for ${whom()}.`
      : `Arbiter had no offer for ${whom()} here: the standard content stays.`);
  });
  document.addEventListener('arbiter:timeout', () => {
    say('Arbiter did not answer in time: the standard content stays.');
  });
  document.addEventListener('arbiter:error', e => {
    if (document.documentElement.getAttribute('data-arbiter-state') !== 'error') return;
    say(`Arbiter is not available (${text(e.detail && e.detail.message || 'no answer')}): the standard content stays.`);
  });

  // An offer's or product's button: the bank's application form would open here.
  const dialog = document.getElementById('apply');
  document.addEventListener('click', e => {
    const link = e.target.closest('a[href^="#apply"]');
    if (!link) return;
    e.preventDefault();
    const item = link.closest('[data-arbiter-item], [data-arbiter-slot], .product');
    const title = item && item.querySelector('[data-arbiter-title], h3, h2');
    dialog.querySelector('h2').textContent = title ? title.textContent : 'Apply';
    dialog.showModal();
  });
})();
