// Segmentor pages' common parts: texts, DOM helpers, the /api/v1 client
// and the session start from what Bitrix24 gave the iframe (BX24.getAuth(),
// or the member_id and AUTH_ID it POSTed into the page). Plain DOM, no
// framework; the settings page (app.js) and the card tab (card.js) use it.
(function () {
  'use strict';

  var boot = document.body.dataset;
  // The languages the pages speak, English first: the server picks one
  // from the portal's LANG (data-lang); any other reads in English.
  var LANGS = ['en', 'ru', 'pl', 'it'];
  var lang = LANGS.indexOf(boot.lang) >= 0 ? boot.lang : 'en';

  var COMMON = {
    en: {
      loading: 'Loading…',
      openFromPortal: 'Open Segmentor from your Bitrix24 portal: this page needs the sign-in Bitrix24 gives it.',
      sessionFailed: 'Bitrix24 did not confirm your sign-in. Reopen the app from your portal.',
      expired: 'Your session has expired. Reopen the app from your portal.',
      network: 'Segmentor did not answer. Check your connection and try again.',
      failed: 'Something went wrong ({s}). Try again.',
      noSegment: 'No segment', contact: 'Contacts', company: 'Companies', deal: 'Deals',
      contact1: 'Contact', company1: 'Company', deal1: 'Deal',
      justNow: 'just now', minutes: '{n} min', lessMinute: 'under a minute', hours: '{n} h {m} min'
    },
    ru: {
      loading: 'Загрузка…',
      openFromPortal: 'Откройте Segmentor из вашего портала Битрикс24: странице нужна авторизация, которую передаёт Битрикс24.',
      sessionFailed: 'Битрикс24 не подтвердил вход. Откройте приложение заново из портала.',
      expired: 'Сеанс истёк. Откройте приложение заново из портала.',
      network: 'Segmentor не ответил. Проверьте подключение и повторите.',
      failed: 'Что-то пошло не так ({s}). Повторите попытку.',
      noSegment: 'Без сегмента', contact: 'Контакты', company: 'Компании', deal: 'Сделки',
      contact1: 'Контакт', company1: 'Компания', deal1: 'Сделка',
      justNow: 'только что', minutes: '{n} мин', lessMinute: 'меньше минуты', hours: '{n} ч {m} мин'
    },
    pl: {
      loading: 'Wczytywanie…',
      openFromPortal: 'Otwórz Segmentor ze swojego portalu Bitrix24: ta strona potrzebuje logowania, które przekazuje jej Bitrix24.',
      sessionFailed: 'Bitrix24 nie potwierdził logowania. Otwórz aplikację ponownie ze swojego portalu.',
      expired: 'Sesja wygasła. Otwórz aplikację ponownie ze swojego portalu.',
      network: 'Segmentor nie odpowiedział. Sprawdź połączenie i spróbuj ponownie.',
      failed: 'Coś poszło nie tak ({s}). Spróbuj ponownie.',
      noSegment: 'Bez segmentu', contact: 'Kontakty', company: 'Firmy', deal: 'Deale',
      contact1: 'Kontakt', company1: 'Firma', deal1: 'Deal',
      justNow: 'przed chwilą', minutes: '{n} min', lessMinute: 'mniej niż minuta', hours: '{n} godz. {m} min'
    },
    it: {
      loading: 'Caricamento…',
      openFromPortal: 'Apri Segmentor dal tuo portale Bitrix24: questa pagina ha bisogno dell\'accesso che le fornisce Bitrix24.',
      sessionFailed: 'Bitrix24 non ha confermato l\'accesso. Riapri l\'app dal tuo portale.',
      expired: 'La sessione è scaduta. Riapri l\'app dal tuo portale.',
      network: 'Segmentor non ha risposto. Controlla la connessione e riprova.',
      failed: 'Qualcosa è andato storto ({s}). Riprova.',
      noSegment: 'Nessun segmento', contact: 'Contatti', company: 'Aziende', deal: 'Deal',
      contact1: 'Contatto', company1: 'Azienda', deal1: 'Deal',
      justNow: 'proprio ora', minutes: '{n} min', lessMinute: 'meno di un minuto', hours: '{n} h {m} min'
    }
  };

  // untranslated lists, as "pl:key", the English texts a language lacks
  // (the browser tests require it to be empty); tables keeps every
  // language's texts of each texts() call, for the tests to compare.
  var untranslated = [], tables = [];
  function compare(en, other, prefix) {
    Object.keys(en).forEach(function (k) {
      if (!other || other[k] === undefined || other[k] === '') untranslated.push(prefix + k);
      else if (typeof en[k] === 'object') compare(en[k], other[k], prefix + k + '.');
    });
  }

  // plural picks a counted text's form for n (a number, or one as num()
  // writes it): the forms are separated by "|", as many as the language
  // has, in the server's order: one|other in English and Italian,
  // one|few|many in Russian and Polish ("{n} dzień|{n} dni|{n} dni").
  var FORMS = { en: ['one', 'other'], it: ['one', 'other'], ru: ['one', 'few', 'many'], pl: ['one', 'few', 'many'] };
  var rules = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
  function plural(s, n) {
    var forms = String(s).split('|');
    if (forms.length < 2) return s;
    var x = typeof n === 'number' ? n : Number(String(n).replace(/\D/g, ''));
    var i = FORMS[lang].indexOf(rules ? rules.select(x) : x === 1 ? 'one' : 'other');
    if (i < 0) i = 1; // a fraction in Russian or Polish reads as "few"
    return forms[Math.min(i, forms.length - 1)];
  }

  // texts merges a page's texts over the common ones and returns its t():
  // the portal's language, else English, else the key itself. A counted
  // text takes its form from args.n.
  function texts(page) {
    var own = {};
    LANGS.forEach(function (l) {
      own[l] = {};
      [COMMON[l] || {}, page[l] || {}].forEach(function (src) { Object.keys(src).forEach(function (k) { own[l][k] = src[k]; }); });
    });
    LANGS.slice(1).forEach(function (l) { compare(own.en, own[l], l + ':'); });
    tables.push(own);
    var T = own[lang];
    function t(key, args) {
      var s = T[key] !== undefined ? T[key] : own.en[key] !== undefined ? own.en[key] : key;
      if (args && args.n !== undefined && typeof s === 'string') s = plural(s, args.n);
      if (args && typeof s === 'string') { Object.keys(args).forEach(function (k) { s = s.split('{' + k + '}').join(args[k]); }); }
      return s;
    }
    t.T = T;
    return t;
  }
  var t = texts({});

  // ---------- DOM ----------
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'text') el.textContent = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else if (k === 'value') el.value = v;
        else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'multiple') el[k] = !!v;
        else el.setAttribute(k, v === true ? '' : v);
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(el, x); }); return; }
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  function button(label, action, onclick, cls, extra) {
    var a = { type: 'button', 'class': 'btn ' + (cls || ''), 'data-action': action, onclick: onclick };
    if (extra) Object.keys(extra).forEach(function (k) { a[k] = extra[k]; });
    return h('button', a, label);
  }

  // swatch is a segment's color dot; badge its colored name.
  function swatch(color) {
    return h('span', { 'class': 'swatch', style: 'background:' + safeColor(color), 'aria-hidden': 'true' });
  }
  function safeColor(c) { return /^#[0-9a-fA-F]{3,8}$/.test(c || '') ? c : '#a8adb4'; }
  // inkOn picks dark or white text for a background color.
  function inkOn(color) {
    var c = safeColor(color).slice(1);
    if (c.length === 3) c = c[0] + c[0] + c[1] + c[1] + c[2] + c[2];
    var r = parseInt(c.slice(0, 2), 16), g = parseInt(c.slice(2, 4), 16), b = parseInt(c.slice(4, 6), 16);
    return (0.299 * r + 0.587 * g + 0.114 * b) > 160 ? '#333' : '#fff';
  }
  function segBadge(name, color, attrs) {
    var a = attrs || {};
    a['class'] = 'seg-badge ' + (a['class'] || '');
    a.style = 'background:' + safeColor(color) + ';color:' + inkOn(color);
    return h('span', a, name);
  }

  // crmLink opens a CRM card: inside Bitrix24 in its slider (BX24.openPath),
  // elsewhere in a new tab.
  function crmLink(url, text, cls) {
    return h('a', { href: url || '#', target: '_blank', rel: 'noopener', 'class': cls || null, onclick: function (ev) {
      if (!url) { ev.preventDefault(); return; }
      if (window.BX24 && typeof window.BX24.openPath === 'function') {
        try {
          var u = new URL(url, location.href);
          window.BX24.openPath(u.pathname + u.search);
          ev.preventDefault();
        } catch (e) { /* follow the link */ }
      }
    } }, text);
  }

  // why shows a reason as the server tells it ({summary, lines}): the
  // summary, and the conditions behind it folded when there are more.
  // The card tab, the samples, the dry run and the changes list all show
  // a record's reason through it.
  function why(told) {
    if (!told || !told.summary) return null;
    var lines = (told.lines || []).filter(function (l) { return l && l !== told.summary; });
    if (!lines.length) return h('span', { 'class': 'why' }, told.summary);
    return h('details', { 'class': 'why' }, h('summary', null, told.summary),
      h('ul', { 'class': 'why-lines' }, lines.map(function (l) { return h('li', null, l); })));
  }

  // ---------- formats ----------
  function num(n) { return typeof n === 'number' && isFinite(n) ? n.toLocaleString(lang) : '—'; }
  function pct(x) {
    if (typeof x !== 'number' || !isFinite(x)) return '—';
    var p = x * 100;
    return p.toLocaleString(lang, { maximumFractionDigits: p > 0 && p < 10 ? 1 : 0 }) + '%';
  }
  function when(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
  }
  function duration(s) {
    if (typeof s !== 'number' || s < 0) return '';
    if (s < 60) return t('lessMinute');
    var m = Math.round(s / 60);
    return m < 60 ? t('minutes', { n: m }) : t('hours', { n: Math.floor(m / 60), m: m % 60 });
  }

  // ---------- notices ----------
  function notice(kind, text, action) {
    var box = document.getElementById('notice');
    box.textContent = '';
    if (text) box.appendChild(h('div', { 'class': 'notice--' + kind, 'data-kind': kind }, text, action ? [' ', action] : null));
    fit();
  }
  var fitTimer = null;
  function fit() {
    clearTimeout(fitTimer);
    fitTimer = setTimeout(function () {
      if (window.BX24 && typeof window.BX24.fitWindow === 'function') {
        try { window.BX24.fitWindow(); } catch (e) { /* outside Bitrix24 */ }
      }
    }, 30);
  }

  // ---------- API ----------
  var session = { token: '', member: '', admin: false, user: null, lang: lang, record: null };

  // api answers {status, data}; status 0 when the server did not answer.
  function api(method, path, body, retried) {
    var opts = { method: method, headers: { 'Content-Type': 'application/json' } };
    if (session.token) opts.headers.Authorization = 'Bearer ' + session.token;
    if (body !== undefined) opts.body = JSON.stringify(body);
    return fetch('/api/v1' + path, opts).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (resp.status === 401 && !retried && path !== '/session') {
          return refreshSession().then(function (ok) {
            if (ok) return api(method, path, body, true);
            notice('err', t('expired'));
            return { status: 401, data: data };
          });
        }
        return { status: resp.status, data: data || {} };
      });
    }, function () {
      notice('err', t('network'));
      return { status: 0, data: {} };
    });
  }

  // message is what a failed answer says, in the session's language.
  function message(r) {
    var d = r.data || {};
    if (typeof d.message === 'string' && d.message) return d.message;
    if (d.error && typeof d.error.message === 'string') return d.error.message;
    return r.status ? t('failed', { s: r.status }) : t('network');
  }

  // download fetches an answer of the API (a CSV) and hands it to the
  // browser as a file: the API wants the session's token in a header,
  // which a plain link cannot send. It resolves true once handed over.
  function download(path, name, retried) {
    var opts = { headers: {} };
    if (session.token) opts.headers.Authorization = 'Bearer ' + session.token;
    return fetch('/api/v1' + path, opts).then(function (resp) {
      if (resp.status === 401 && !retried) {
        return refreshSession().then(function (ok) {
          if (ok) return download(path, name, true);
          notice('err', t('expired'));
          return false;
        });
      }
      if (!resp.ok) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          notice('err', message({ status: resp.status, data: data || {} }));
          return false;
        });
      }
      var named = /filename="([^"]+)"/.exec(resp.headers.get('Content-Disposition') || '');
      return resp.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = h('a', { href: url, download: named ? named[1] : name, hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
        // Revoked once the browser has taken it, not before.
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        return true;
      });
    }, function () {
      notice('err', t('network'));
      return false;
    });
  }

  // startSession resolves true once signed in; a refusal is kept in
  // session.refusal for start to explain.
  // A card tab's session also names its record (session.record), which
  // Bitrix24 confirms the user may read.
  function startSession(member, auth) {
    // The page's last session (this portal's, while it lasts) vouches for
    // the user: their sign-in is checked from their own budget.
    var key = 'segmentor.session.' + member, kept = stored(key);
    var body = { member_id: member, auth_id: auth, lang: lang };
    if (session.record) { body.entity = session.record.entity; body.id = session.record.id; }
    if (kept) body.session = kept;
    return api('POST', '/session', body).then(function (r) {
      session.refusal = r.status === 200 ? null : r;
      if (r.status !== 200) return false;
      session.token = r.data.token;
      stored(key, r.data.token);
      session.member = member;
      session.admin = !!r.data.admin;
      session.user = r.data.user;
      return true;
    });
  }

  // stored reads (or, given a value, writes) the page's local storage
  // (the portal's, for a framed page); storage a browser refuses to a
  // framed page is simply not used.
  function stored(key, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(key) || '';
      window.localStorage.setItem(key, value);
    } catch (e) { /* no storage */ }
    return '';
  }

  // loadBX24 loads Bitrix24's JS library when we are inside its iframe and
  // resolves with its auth (or null when it cannot load within ms).
  var bx24Promise = null;
  function loadBX24(ms) {
    if (bx24Promise) return bx24Promise;
    bx24Promise = new Promise(function (resolve) {
      if (window.top === window) { resolve(null); return; }
      var done = false;
      function finish(v) { if (!done) { done = true; resolve(v); } }
      setTimeout(function () { finish(null); }, ms);
      var s = document.createElement('script');
      s.src = 'https://api.bitrix24.com/api/v1/';
      s.async = true;
      s.onerror = function () { finish(null); };
      s.onload = function () {
        if (!window.BX24 || !window.BX24.init) { finish(null); return; }
        window.BX24.init(function () { fit(); finish(window.BX24.getAuth() || null); });
      };
      document.head.appendChild(s);
    });
    return bx24Promise;
  }

  function refreshSession() {
    if (!window.BX24 || !window.BX24.refreshAuth) return Promise.resolve(false);
    return new Promise(function (resolve) {
      window.BX24.refreshAuth(function (a) {
        if (!a || !a.access_token) { resolve(false); return; }
        startSession(a.member_id || session.member, a.access_token).then(resolve);
      });
    });
  }

  // fatal replaces the page's content with a notice.
  function fatal(text) {
    var main = document.getElementById('app');
    main.textContent = '';
    main.removeAttribute('aria-busy');
    document.body.setAttribute('data-ready', 'error');
    notice('err', text);
  }

  // start signs the user in: true once a session is open, false after it
  // told the user why not. A card tab passes its record ({entity, id}).
  function start(record) {
    session.record = record || null;
    var loading = document.getElementById('loading');
    if (loading) loading.textContent = t('loading');
    var member = boot.memberId, auth = boot.authId;
    var ready = auth && member ? Promise.resolve({ member_id: member, access_token: auth }) : loadBX24(5000);
    if (auth && member) loadBX24(10000); // for fitWindow and refreshAuth only
    return ready.then(function (a) {
      if (!a || !a.access_token) { fatal(t('openFromPortal')); return false; }
      return startSession(a.member_id, a.access_token).then(function (ok) {
        // Anything but a refused token (busy portal, too many sign-ins, a
        // record the user may not see) is said in the server's words.
        var said = session.refusal && session.refusal.status && session.refusal.status !== 401;
        if (!ok) fatal(said ? message(session.refusal) : t('sessionFailed'));
        return ok;
      });
    });
  }

  // showUser puts the user's name and role into the header.
  function showUser(adminText, readOnlyText) {
    var user = document.getElementById('user');
    if (!user) return;
    user.textContent = '';
    append(user, [session.user && session.user.name ? session.user.name + ' ' : '',
      h('span', { 'class': 'badge' + (session.admin ? '' : ' badge--ro'), id: 'role' }, session.admin ? adminText : readOnlyText)]);
  }

  window.Segmentor = {
    boot: boot, lang: lang, langs: LANGS, texts: texts, plural: plural, untranslated: untranslated, tables: tables, session: session,
    h: h, append: append, button: button, swatch: swatch, segBadge: segBadge, safeColor: safeColor, crmLink: crmLink, why: why,
    num: num, pct: pct, when: when, duration: duration,
    notice: notice, fit: fit, api: api, download: download, message: message, fatal: fatal, start: start, showUser: showUser, loadBX24: loadBX24
  };
})();
