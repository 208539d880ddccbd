// Segmentor settings page: starts a session from what Bitrix24 gave the
// iframe (BX24.getAuth(), or the member_id and AUTH_ID it POSTed), then
// edits the segmentation config through /api/v1. Plain DOM, no framework.
(function () {
  'use strict';

  var boot = document.body.dataset;
  var lang = boot.lang === 'ru' ? 'ru' : 'en';

  var TEXT = {
    en: {
      loading: 'Loading…',
      openFromPortal: 'Open Segmentor from your Bitrix24 portal: this page needs the sign-in Bitrix24 gives it.',
      sessionFailed: 'Bitrix24 did not confirm your sign-in. Reopen the app from your portal.',
      expired: 'Your session has expired. Reopen the app from your portal.',
      network: 'Segmentor did not answer. Check your connection and try again.',
      admin: 'Administrator', readOnly: 'Read only',
      readOnlyNote: 'Only a Bitrix24 administrator can change these settings; you can look at them.',
      contact: 'Contacts', company: 'Companies', deal: 'Deals',
      noScheme: 'There are no segments for {e} yet.', addScheme: 'Set up segments for {e}',
      removeScheme: 'Remove all segments of {e}',
      segment: 'Segment', otherwise: 'Everyone else', order: '#{n}',
      name: 'Name', key: 'Key', color: 'Color', keyHint: 'e.g. vip',
      up: 'Move up', down: 'Move down', remove: 'Remove',
      addSegment: 'Add segment', useOtherwise: 'Put everyone else into a segment',
      conditions: 'Conditions', outputs: 'When a record is in this segment',
      all: 'All of these (AND)', any: 'Any of these (OR)', not: 'None of these (NOT)',
      groupKind: 'Group', addCondition: 'Add condition', addGroup: 'Add group', removeGroup: 'Remove group',
      fact: 'What', chooseFact: '— choose —', dealFacts: 'Deals of the client', fields: 'Fields', customFields: 'Custom fields',
      windowDays: 'Last N days', windowAll: 'all time', op: 'Is', value: 'Value', from: 'From', to: 'To',
      listHint: 'comma-separated',
      type: 'Set type', keepType: '— don\'t change —', newType: 'New type…', typeCode: 'Code', typeName: 'Name',
      add: 'Add', cancel: 'Cancel', typeAdded: 'Type {t} added.',
      label: 'Write the segment name into the “Segment” field',
      movePipeline: 'Move deals to a pipeline', pipeline: 'Pipeline', stage: 'Stage', apply: 'Which deals',
      apply_new_only: 'New deals only', apply_first_stage: 'Deals still in the first stage', apply_always: 'All open deals',
      save: 'Save', check: 'Check', saving: 'Saving…',
      saved: 'Saved: version {v}.', valid: 'No problems found.', problems: 'Fix the marked fields: {n} problem(s).',
      conflict: 'Someone else saved the settings while you were editing. Reload to see their version; your changes are not saved.',
      reload: 'Reload', version: 'Version {v}', notSaved: 'Not saved yet', unsaved: 'Unsaved changes',
      ops: { '=': 'equals', '!=': 'does not equal', '<': 'less than', '<=': 'at most', '>': 'more than', '>=': 'at least',
        'in': 'is one of', 'not_in': 'is none of', 'contains': 'contains', 'between': 'between', 'empty': 'is empty', 'not_empty': 'is not empty' },
      facts: { won_amount: 'Won amount', won_count: 'Won deals', avg_won_amount: 'Average won deal', lost_count: 'Lost deals',
        open_deals: 'Open deals', days_since_last_won: 'Days since last purchase', days_since_first_won: 'Days since first purchase',
        product_groups: 'Product groups bought', growth: 'Revenue growth (× previous period)', rfm_r: 'RFM recency (1–5)',
        rfm_f: 'RFM frequency (1–5)', rfm_m: 'RFM monetary (1–5)', rfm: 'RFM code', client_segment: 'Segment of the deal\'s client' }
    },
    ru: {
      loading: 'Загрузка…',
      openFromPortal: 'Откройте Segmentor из вашего портала Битрикс24: странице нужна авторизация, которую передаёт Битрикс24.',
      sessionFailed: 'Битрикс24 не подтвердил вход. Откройте приложение заново из портала.',
      expired: 'Сеанс истёк. Откройте приложение заново из портала.',
      network: 'Segmentor не ответил. Проверьте подключение и повторите.',
      admin: 'Администратор', readOnly: 'Только просмотр',
      readOnlyNote: 'Изменять эти настройки может только администратор Битрикс24; вы можете их просматривать.',
      contact: 'Контакты', company: 'Компании', deal: 'Сделки',
      noScheme: 'Для раздела «{e}» сегментов пока нет.', addScheme: 'Настроить сегменты: {e}',
      removeScheme: 'Удалить все сегменты раздела «{e}»',
      segment: 'Сегмент', otherwise: 'Все остальные', order: '№{n}',
      name: 'Название', key: 'Ключ', color: 'Цвет', keyHint: 'например, vip',
      up: 'Выше', down: 'Ниже', remove: 'Удалить',
      addSegment: 'Добавить сегмент', useOtherwise: 'Относить всех остальных к отдельному сегменту',
      conditions: 'Условия', outputs: 'Когда запись попадает в этот сегмент',
      all: 'Все условия (И)', any: 'Любое из условий (ИЛИ)', not: 'Ни одно из условий (НЕ)',
      groupKind: 'Группа', addCondition: 'Добавить условие', addGroup: 'Добавить группу', removeGroup: 'Удалить группу',
      fact: 'Что', chooseFact: '— выберите —', dealFacts: 'Сделки клиента', fields: 'Поля', customFields: 'Пользовательские поля',
      windowDays: 'За N дней', windowAll: 'за всё время', op: 'Условие', value: 'Значение', from: 'От', to: 'До',
      listHint: 'через запятую',
      type: 'Установить тип', keepType: '— не менять —', newType: 'Новый тип…', typeCode: 'Код', typeName: 'Название',
      add: 'Добавить', cancel: 'Отмена', typeAdded: 'Тип {t} добавлен.',
      label: 'Записывать название сегмента в поле «Сегмент»',
      movePipeline: 'Переносить сделки в воронку', pipeline: 'Воронка', stage: 'Стадия', apply: 'Какие сделки',
      apply_new_only: 'Только новые сделки', apply_first_stage: 'Сделки на первой стадии', apply_always: 'Все открытые сделки',
      save: 'Сохранить', check: 'Проверить', saving: 'Сохраняем…',
      saved: 'Сохранено: версия {v}.', valid: 'Ошибок нет.', problems: 'Исправьте отмеченные поля: ошибок — {n}.',
      conflict: 'Пока вы редактировали, настройки сохранил кто-то другой. Перезагрузите, чтобы увидеть его версию; ваши изменения не сохранены.',
      reload: 'Перезагрузить', version: 'Версия {v}', notSaved: 'Ещё не сохранено', unsaved: 'Есть несохранённые изменения',
      ops: { '=': 'равно', '!=': 'не равно', '<': 'меньше', '<=': 'не больше', '>': 'больше', '>=': 'не меньше',
        'in': 'одно из', 'not_in': 'ни одно из', 'contains': 'содержит', 'between': 'между', 'empty': 'пусто', 'not_empty': 'не пусто' },
      facts: { won_amount: 'Сумма выигранных сделок', won_count: 'Выигранных сделок', avg_won_amount: 'Средняя выигранная сделка',
        lost_count: 'Проигранных сделок', open_deals: 'Открытых сделок', days_since_last_won: 'Дней с последней покупки',
        days_since_first_won: 'Дней с первой покупки', product_groups: 'Купленные группы товаров',
        growth: 'Рост выручки (× к прошлому периоду)', rfm_r: 'RFM давность (1–5)', rfm_f: 'RFM частота (1–5)',
        rfm_m: 'RFM деньги (1–5)', rfm: 'RFM код', client_segment: 'Сегмент клиента сделки' }
    }
  };
  var T = TEXT[lang];
  function t(key, args) {
    var s = T[key] !== undefined ? T[key] : TEXT.en[key] !== undefined ? TEXT.en[key] : key;
    if (args) { Object.keys(args).forEach(function (k) { s = s.split('{' + k + '}').join(args[k]); }); }
    return s;
  }

  var ENTITIES = ['contact', 'company', 'deal'];
  var PALETTE = ['#2fc6f6', '#9dcf00', '#ff5752', '#d4a017', '#8e52ec', '#00b4ac', '#f7a700', '#55d0e0'];

  var state = {
    token: '', member: '', admin: false, user: null,
    version: 0, ref: null, schemes: {}, tab: 'contact',
    problems: [], dirty: false, typeForm: null
  };
  var uidSeq = 0;
  function uid() { return 'n' + (++uidSeq); }

  // ---------- DOM helpers ----------
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
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  function button(label, action, onclick, cls, extra) {
    var a = { type: 'button', 'class': 'btn ' + (cls || ''), 'data-action': action, onclick: onclick };
    if (extra) Object.keys(extra).forEach(function (k) { a[k] = extra[k]; });
    return h('button', a, label);
  }
  function field(label, control, path, cls) {
    return h('label', { 'class': 'field ' + (cls || ''), 'data-path': path }, h('span', null, label), control);
  }
  function select(options, value, attrs) {
    var s = h('select', attrs);
    options.forEach(function (o) {
      if (o.group) {
        var g = h('optgroup', { label: o.group });
        o.options.forEach(function (x) { g.appendChild(h('option', { value: x.value, selected: String(x.value) === String(value) }, x.label)); });
        s.appendChild(g);
      } else {
        s.appendChild(h('option', { value: o.value, selected: String(o.value) === String(value) }, o.label));
      }
    });
    return s;
  }

  // ---------- notices ----------
  function notice(kind, text, action) {
    var box = document.getElementById('notice');
    box.textContent = '';
    if (!text) return;
    box.appendChild(h('div', { 'class': 'notice--' + kind, 'data-kind': kind }, text, action ? [' ', action] : null));
    fit();
  }
  function fit() {
    if (window.BX24 && typeof window.BX24.fitWindow === 'function') {
      try { window.BX24.fitWindow(); } catch (e) { /* outside Bitrix24 */ }
    }
  }

  // ---------- API ----------
  function api(method, path, body, retried) {
    var opts = { method: method, headers: { 'Content-Type': 'application/json' } };
    if (state.token) opts.headers.Authorization = 'Bearer ' + state.token;
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
        return { status: resp.status, data: data };
      });
    }, function () {
      notice('err', t('network'));
      return { status: 0, data: {} };
    });
  }

  function startSession(member, auth) {
    return api('POST', '/session', { member_id: member, auth_id: auth }).then(function (r) {
      if (r.status !== 200) return false;
      state.token = r.data.token;
      state.member = member;
      state.admin = !!r.data.admin;
      state.user = r.data.user;
      return true;
    });
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
        window.BX24.init(function () { finish(window.BX24.getAuth() || null); });
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
        startSession(a.member_id || state.member, a.access_token).then(resolve);
      });
    });
  }

  // ---------- config <-> model ----------
  function fromCond(c) {
    if (!c || typeof c !== 'object') return newLeaf();
    if (c.all) return { uid: uid(), kind: 'group', op: 'all', children: c.all.map(fromCond) };
    if (c.any) return { uid: uid(), kind: 'group', op: 'any', children: c.any.map(fromCond) };
    if (c.not) {
      var kids = c.not.any ? c.not.any.map(fromCond) : [fromCond(c.not)];
      return { uid: uid(), kind: 'group', op: 'not', children: kids };
    }
    return { uid: uid(), kind: 'leaf', fact: c.fact || '', window_days: c.window_days === undefined ? '' : String(c.window_days), op: c.op || '', value: c.value };
  }
  function newLeaf() { return { uid: uid(), kind: 'leaf', fact: '', window_days: '', op: '', value: undefined }; }
  function newGroup(op) { return { uid: uid(), kind: 'group', op: op || 'all', children: [newLeaf()] }; }

  function fromSegment(s, withWhen) {
    var set = s.set || {};
    return {
      uid: uid(), key: s.key || '', name: s.name || '', color: s.color || '',
      when: withWhen ? (s.when ? asGroup(fromCond(s.when)) : newGroup('all')) : null,
      set: { type: set.type || '', label: !!set.label, pipeline: set.pipeline ? {
        category_id: set.pipeline.category_id, stage_id: set.pipeline.stage_id || '', apply: set.pipeline.apply || 'new_only' } : null }
    };
  }
  function asGroup(n) { return n.kind === 'group' ? n : { uid: uid(), kind: 'group', op: 'all', children: [n] }; }

  function load(cfg) {
    state.schemes = {};
    (cfg.schemes || []).forEach(function (sc) {
      state.schemes[sc.entity] = {
        segments: (sc.segments || []).map(function (s) { return fromSegment(s, true); }),
        otherwise: sc.otherwise ? fromSegment(sc.otherwise, false) : null
      };
    });
  }

  function num(v) {
    if (typeof v === 'number') return v;
    var s = String(v).trim().replace(',', '.');
    return s !== '' && isFinite(Number(s)) ? Number(s) : v;
  }

  function toCond(n, path) {
    n.path = path;
    if (n.kind === 'group') {
      if (n.op === 'not') {
        if (n.children.length === 1) return { not: toCond(n.children[0], path + '.not') };
        return { not: { any: n.children.map(function (c, i) { return toCond(c, path + '.not.any[' + i + ']'); }) } };
      }
      var o = {};
      o[n.op] = n.children.map(function (c, i) { return toCond(c, path + '.' + n.op + '[' + i + ']'); });
      return o;
    }
    var leaf = {};
    if (n.fact) leaf.fact = n.fact;
    if (n.window_days !== '' && n.window_days !== undefined) leaf.window_days = num(n.window_days);
    if (n.op) leaf.op = n.op;
    var v = n.value;
    if (v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0 && n.op !== 'in' && n.op !== 'not_in')) leaf.value = v;
    return leaf;
  }

  function toSegment(s, path, entity) {
    s.path = path;
    var out = { key: s.key, name: s.name };
    if (s.color) out.color = s.color;
    if (s.when) out.when = toCond(s.when, path + '.when');
    var set = {};
    if (s.set.type) set.type = s.set.type;
    if (s.set.label) set.label = true;
    if (entity === 'deal' && s.set.pipeline) {
      set.pipeline = { category_id: Number(s.set.pipeline.category_id), stage_id: s.set.pipeline.stage_id, apply: s.set.pipeline.apply };
    }
    out.set = set;
    return out;
  }

  function toConfig() {
    var schemes = [];
    ENTITIES.forEach(function (e) {
      var sc = state.schemes[e];
      if (!sc) return;
      var path = 'schemes[' + schemes.length + ']';
      sc.path = path;
      var o = { entity: e, segments: sc.segments.map(function (s, i) { return toSegment(s, path + '.segments[' + i + ']', e); }) };
      if (sc.otherwise) o.otherwise = toSegment(sc.otherwise, path + '.otherwise', e);
      schemes.push(o);
    });
    return { schemes: schemes };
  }

  // ---------- reference helpers ----------
  function factInfo(name) {
    var key = name && name.indexOf('field:') === 0 ? 'field:NAME' : name;
    var facts = state.ref.facts || [];
    for (var i = 0; i < facts.length; i++) if (facts[i].name === key) return facts[i];
    return null;
  }
  function fieldOf(entity, name) {
    var id = name.slice(6);
    var list = state.ref.fields[entity] || [];
    for (var i = 0; i < list.length; i++) if (list[i].id === id) return list[i];
    return null;
  }
  // valueSpec says how to edit a condition's value: kind number/text and
  // the choices, when the portal has a list.
  function valueSpec(entity, n) {
    if (!n.fact) return { kind: 'text' };
    if (n.fact.indexOf('field:') === 0) {
      var f = fieldOf(entity, n.fact);
      if (f && f.values && f.values.length) return { kind: 'text', choices: f.values };
      if (f && /^(integer|double|money)$/.test(f.type)) return { kind: 'number' };
      return { kind: 'text' };
    }
    if (n.fact === 'client_segment') {
      var choices = [];
      ['contact', 'company'].forEach(function (e) {
        var sc = state.schemes[e];
        if (!sc) return;
        sc.segments.concat(sc.otherwise ? [sc.otherwise] : []).forEach(function (s) {
          if (s.key && !choices.some(function (c) { return c.id === s.key; })) choices.push({ id: s.key, name: (s.name || s.key) + ' (' + t(e) + ')' });
        });
      });
      return { kind: 'text', choices: choices };
    }
    var info = factInfo(n.fact);
    return { kind: info && info.kind === 'number' ? 'number' : 'text' };
  }

  // ---------- render ----------
  var app = document.getElementById('app');

  function render() {
    var focused = document.activeElement && document.activeElement.id;
    toConfig(); // assigns paths
    app.textContent = '';
    app.removeAttribute('aria-busy');
    if (!state.admin) app.appendChild(h('div', { 'class': 'notice', id: 'readonly-note' }, h('div', null, t('readOnlyNote'))));
    var tabs = h('div', { 'class': 'tabs', role: 'tablist' });
    ENTITIES.forEach(function (e) {
      var sc = state.schemes[e];
      var n = sc ? sc.segments.length + (sc.otherwise ? 1 : 0) : 0;
      tabs.appendChild(h('button', { type: 'button', role: 'tab', 'class': 'tab', id: 'tab-' + e, 'aria-selected': String(state.tab === e),
        'data-entity': e, onclick: function () { state.tab = e; render(); } }, t(e) + (n ? ' (' + n + ')' : '')));
    });
    app.appendChild(tabs);
    app.appendChild(renderScheme(state.tab));
    app.appendChild(renderFooter());
    applyProblems();
    if (focused) {
      var el = document.getElementById(focused);
      if (el) el.focus();
    }
    fit();
  }

  function ro() { return !state.admin; }

  function renderScheme(e) {
    var sc = state.schemes[e];
    var panel = h('section', { role: 'tabpanel', 'aria-labelledby': 'tab-' + e, 'class': 'scheme', 'data-entity': e, 'data-path': sc ? sc.path : null });
    if (!sc) {
      panel.appendChild(h('div', { 'class': 'empty' }, h('p', null, t('noScheme', { e: t(e) })),
        state.admin ? button(t('addScheme', { e: t(e) }), 'add-scheme', function () {
          state.schemes[e] = { segments: [newSegment(e, 0)], otherwise: null };
          changed(true);
        }, 'btn--primary') : null));
      return panel;
    }
    sc.segments.forEach(function (s, i) { panel.appendChild(renderSegment(e, sc, s, i)); });
    if (state.admin) {
      panel.appendChild(h('div', { 'class': 'row' },
        button('+ ' + t('addSegment'), 'add-segment', function () { sc.segments.push(newSegment(e, sc.segments.length)); changed(true); }),
        h('label', { 'class': 'check' }, h('input', { type: 'checkbox', id: 'otherwise-' + e, 'data-action': 'toggle-otherwise', checked: !!sc.otherwise,
          onchange: function (ev) {
            sc.otherwise = ev.target.checked ? { uid: uid(), key: 'other', name: t('otherwise'), color: '#a8adb4', when: null, set: { type: '', label: true, pipeline: null } } : null;
            changed(true);
          } }), t('useOtherwise')),
        button(t('removeScheme', { e: t(e) }), 'remove-scheme', function () { delete state.schemes[e]; changed(true); }, 'btn--link')));
    }
    if (sc.otherwise) panel.appendChild(renderSegment(e, sc, sc.otherwise, -1));
    return panel;
  }

  function newSegment(e, i) {
    var s = fromSegment({ set: { label: true } }, true);
    s.color = PALETTE[i % PALETTE.length];
    return s;
  }

  function renderSegment(e, sc, s, i) {
    var other = i < 0;
    var id = s.uid;
    var card = h('article', { 'class': 'card segment', 'data-path': s.path, 'data-key': s.key, style: 'border-left-color:' + (s.color || '#d5dade') });
    var head = h('div', { 'class': 'card__head' },
      h('span', { 'class': 'swatch', style: 'background:' + (s.color || '#d5dade'), 'aria-hidden': 'true' }),
      h('h3', { 'class': 'card__title' }, s.name || (other ? t('otherwise') : t('segment'))),
      h('span', { 'class': 'card__order' }, other ? t('otherwise') : t('order', { n: i + 1 })));
    if (state.admin && !other) {
      head.appendChild(button('↑', 'up', function () { move(sc.segments, i, -1); }, 'btn--icon', { 'aria-label': t('up') + ': ' + (s.name || i + 1), id: id + '-up', disabled: i === 0 }));
      head.appendChild(button('↓', 'down', function () { move(sc.segments, i, 1); }, 'btn--icon', { 'aria-label': t('down') + ': ' + (s.name || i + 1), id: id + '-down', disabled: i === sc.segments.length - 1 }));
      head.appendChild(button('✕', 'remove-segment', function () { sc.segments.splice(i, 1); changed(true); }, 'btn--icon', { 'aria-label': t('remove') + ': ' + (s.name || i + 1) }));
    }
    card.appendChild(head);
    card.appendChild(h('div', { 'class': 'row' },
      field(t('name'), h('input', { type: 'text', id: id + '-name', 'class': 'seg-name', value: s.name, disabled: ro(), maxlength: 100,
        oninput: function (ev) { s.name = ev.target.value; card.querySelector('.card__title').textContent = s.name || t('segment'); changed(false); } }), s.path + '.name', 'field--grow'),
      field(t('key'), h('input', { type: 'text', id: id + '-key', 'class': 'seg-key', value: s.key, disabled: ro(), placeholder: t('keyHint'), maxlength: 32,
        oninput: function (ev) { s.key = ev.target.value; changed(false); } }), s.path + '.key'),
      field(t('color'), h('input', { type: 'color', id: id + '-color', 'class': 'seg-color', value: s.color || '#a8adb4', disabled: ro(),
        onchange: function (ev) { s.color = ev.target.value; changed(true); } }), s.path + '.color')));
    if (s.when) {
      card.appendChild(h('div', { 'class': 'conds' }, h('h4', null, t('conditions')), renderGroup(e, s.when, null)));
    }
    card.appendChild(renderOutputs(e, s));
    return card;
  }

  function move(list, i, d) {
    var j = i + d;
    if (j < 0 || j >= list.length) return;
    var x = list[i]; list[i] = list[j]; list[j] = x;
    changed(true);
  }

  function renderGroup(e, g, parent) {
    var box = h('div', { 'class': 'group', 'data-path': g.path, 'data-uid': g.uid });
    var head = h('div', { 'class': 'group__head' },
      field(t('groupKind'), select([{ value: 'all', label: t('all') }, { value: 'any', label: t('any') }, { value: 'not', label: t('not') }], g.op,
        { id: g.uid + '-op', 'class': 'group-op', disabled: ro(), onchange: function (ev) { g.op = ev.target.value; changed(true); } })));
    if (state.admin && parent) {
      head.appendChild(button(t('removeGroup'), 'remove-group', function () { parent.children.splice(parent.children.indexOf(g), 1); changed(true); }, 'btn--link'));
    }
    box.appendChild(head);
    g.children.forEach(function (c) {
      box.appendChild(c.kind === 'group' ? renderGroup(e, c, g) : renderLeaf(e, c, g));
    });
    if (state.admin) {
      box.appendChild(h('div', { 'class': 'row' },
        button('+ ' + t('addCondition'), 'add-condition', function () { g.children.push(newLeaf()); changed(true); }, 'btn--link', { id: g.uid + '-addc' }),
        button('+ ' + t('addGroup'), 'add-group', function () { g.children.push(newGroup(g.op === 'all' ? 'any' : 'all')); changed(true); }, 'btn--link', { id: g.uid + '-addg' })));
    }
    return box;
  }

  function factOptions(e, current) {
    var facts = (state.ref.facts || []).filter(function (f) { return f.name !== 'field:NAME' && f.entities.indexOf(e) >= 0; });
    var std = [], custom = [];
    (state.ref.fields[e] || []).forEach(function (f) {
      (f.custom ? custom : std).push({ value: 'field:' + f.id, label: f.title + (f.title !== f.id ? ' (' + f.id + ')' : '') });
    });
    var opts = [{ value: '', label: t('chooseFact') }];
    if (facts.length) opts.push({ group: t('dealFacts'), options: facts.map(function (f) { return { value: f.name, label: T.facts[f.name] || f.name }; }) });
    if (std.length) opts.push({ group: t('fields'), options: std });
    if (custom.length) opts.push({ group: t('customFields'), options: custom });
    var known = current === '' || facts.some(function (f) { return f.name === current; }) || std.concat(custom).some(function (f) { return f.value === current; });
    if (!known) opts.push({ value: current, label: current });
    return opts;
  }

  function renderLeaf(e, n, parent) {
    var row = h('div', { 'class': 'cond', 'data-path': n.path, 'data-uid': n.uid });
    var info = n.fact ? factInfo(n.fact) : null;
    row.appendChild(field(t('fact'), select(factOptions(e, n.fact), n.fact, { 'class': 'fact', id: n.uid + '-fact', disabled: ro(),
      onchange: function (ev) {
        var before = valueSpec(e, n).kind;
        n.fact = ev.target.value;
        var inf = factInfo(n.fact);
        if (inf && inf.ops.indexOf(n.op) < 0) n.op = inf.ops[0];
        if (inf && inf.window === 'none') n.window_days = '';
        if (valueSpec(e, n).kind !== before || valueSpec(e, n).choices) n.value = undefined;
        changed(true);
      } })));
    if (info && info.window !== 'none') {
      row.appendChild(field(t('windowDays'), h('input', { type: 'number', min: 1, max: 3650, 'class': 'window', id: n.uid + '-window', value: n.window_days,
        placeholder: info.window === 'required' ? '' : t('windowAll'), disabled: ro(),
        oninput: function (ev) { n.window_days = ev.target.value; changed(false); } })));
    }
    var ops = info ? info.ops : (state.ref.operators || []);
    row.appendChild(field(t('op'), select([{ value: '', label: '—' }].concat(ops.map(function (o) { return { value: o, label: T.ops[o] || o }; })), n.op,
      { 'class': 'op', id: n.uid + '-op', disabled: ro(), onchange: function (ev) {
        var multi = function (o) { return o === 'in' || o === 'not_in' || o === 'between'; };
        if (multi(ev.target.value) !== multi(n.op) || ev.target.value === 'between' || n.op === 'between') n.value = undefined;
        n.op = ev.target.value;
        changed(true);
      } })));
    var v = renderValue(e, n);
    if (v) row.appendChild(v);
    if (state.admin) {
      row.appendChild(button('✕', 'remove-condition', function () { parent.children.splice(parent.children.indexOf(n), 1); changed(true); }, 'btn--icon', { 'aria-label': t('remove') }));
    }
    return row;
  }

  function renderValue(e, n) {
    if (!n.op || n.op === 'empty' || n.op === 'not_empty') return null;
    var spec = valueSpec(e, n);
    var wrap = h('div', { 'class': 'value' });
    function parse(s) { return spec.kind === 'number' ? (s === '' ? undefined : num(s)) : (s === '' ? undefined : s); }
    if (n.op === 'between') {
      var cur = Array.isArray(n.value) ? n.value : ['', ''];
      var upd = function (k) { return function (ev) { var a = Array.isArray(n.value) ? n.value.slice() : ['', '']; a[k] = num(ev.target.value); n.value = a; changed(false); }; };
      wrap.appendChild(field(t('from'), h('input', { type: 'number', 'class': 'value-from', id: n.uid + '-from', value: cur[0], disabled: ro(), oninput: upd(0) })));
      wrap.appendChild(field(t('to'), h('input', { type: 'number', 'class': 'value-to', id: n.uid + '-to', value: cur[1], disabled: ro(), oninput: upd(1) })));
      return wrap;
    }
    var list = n.op === 'in' || n.op === 'not_in';
    if (spec.choices) {
      var chosen = list ? (Array.isArray(n.value) ? n.value.map(String) : []) : n.value;
      var opts = (list ? [] : [{ value: '', label: '—' }]).concat(spec.choices.map(function (c) { return { value: c.id, label: c.name }; }));
      var sel = select(opts, list ? null : chosen, { 'class': 'value-input', id: n.uid + '-value', multiple: list, disabled: ro(),
        onchange: function (ev) {
          if (list) n.value = Array.prototype.filter.call(ev.target.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
          else n.value = ev.target.value === '' ? undefined : ev.target.value;
          changed(false);
        } });
      if (list) Array.prototype.forEach.call(sel.options, function (o) { o.selected = chosen.indexOf(o.value) >= 0; });
      wrap.appendChild(field(t('value'), sel));
      return wrap;
    }
    if (list) {
      var text = Array.isArray(n.value) ? n.value.join(', ') : (n.value === undefined ? '' : String(n.value));
      wrap.appendChild(field(t('value') + ' (' + t('listHint') + ')', h('input', { type: 'text', 'class': 'value-input', id: n.uid + '-value', value: text, disabled: ro(),
        oninput: function (ev) {
          var parts = ev.target.value.split(',').map(function (x) { return x.trim(); }).filter(function (x) { return x !== ''; });
          n.value = parts.map(function (x) { return spec.kind === 'number' ? num(x) : x; });
          changed(false);
        } })));
      return wrap;
    }
    wrap.appendChild(field(t('value'), h('input', { type: spec.kind === 'number' ? 'number' : 'text', 'class': 'value-input', id: n.uid + '-value',
      value: n.value === undefined ? '' : String(n.value), disabled: ro(), step: 'any',
      oninput: function (ev) { n.value = parse(ev.target.value); changed(false); } })));
    return wrap;
  }

  function renderOutputs(e, s) {
    var box = h('div', { 'class': 'outputs' }, h('h4', null, t('outputs')));
    var types = (state.ref.types[e] || []).map(function (x) { return { value: x.id, label: x.name + ' (' + x.id + ')' }; });
    if (s.set.type && !types.some(function (x) { return x.value === s.set.type; })) types.push({ value: s.set.type, label: s.set.type });
    var row = h('div', { 'class': 'row' },
      field(t('type'), select([{ value: '', label: t('keepType') }].concat(types), s.set.type,
        { 'class': 'set-type', id: s.uid + '-type', disabled: ro(), onchange: function (ev) { s.set.type = ev.target.value; changed(false); } }), s.path + '.set.type'));
    if (state.admin) row.appendChild(button(t('newType'), 'new-type', function () { state.typeForm = s.uid; render(); }, 'btn--link', { id: s.uid + '-newtype' }));
    row.appendChild(h('label', { 'class': 'check' }, h('input', { type: 'checkbox', 'class': 'set-label', id: s.uid + '-label', checked: s.set.label, disabled: ro(),
      onchange: function (ev) { s.set.label = ev.target.checked; changed(false); } }), t('label')));
    box.appendChild(row);
    if (state.typeForm === s.uid) box.appendChild(renderTypeForm(e, s));
    if (e === 'deal') box.appendChild(renderPipeline(s));
    return box;
  }

  function renderTypeForm(e, s) {
    var code = h('input', { type: 'text', id: s.uid + '-tcode', 'class': 'type-code', maxlength: 40 });
    var name = h('input', { type: 'text', id: s.uid + '-tname', 'class': 'type-name', maxlength: 100 });
    return h('div', { 'class': 'inline-form' },
      field(t('typeCode'), code), field(t('typeName'), name),
      button(t('add'), 'add-type', function () {
        api('POST', '/reference/types', { entity: e, id: code.value, name: name.value }).then(function (r) {
          if (r.status === 201) {
            state.ref.types[e] = r.data.types;
            s.set.type = code.value.trim().toUpperCase();
            state.typeForm = null;
            notice('ok', t('typeAdded', { t: s.set.type }));
            changed(true);
          } else if (r.status) {
            notice('err', r.data.message || String(r.status));
          }
        });
      }, 'btn--primary'),
      button(t('cancel'), 'cancel-type', function () { state.typeForm = null; render(); }));
  }

  function renderPipeline(s) {
    var p = s.set.pipeline;
    var box = h('div', { 'data-path': s.path + '.set.pipeline' },
      h('label', { 'class': 'check' }, h('input', { type: 'checkbox', 'class': 'set-pipeline', id: s.uid + '-pipe', checked: !!p, disabled: ro(),
        onchange: function (ev) {
          var first = state.ref.pipelines[0];
          s.set.pipeline = ev.target.checked ? { category_id: first ? first.id : 0, stage_id: first && first.stages[0] ? first.stages[0].id : '', apply: 'new_only' } : null;
          changed(true);
        } }), t('movePipeline')));
    if (!p) return box;
    var pipe = state.ref.pipelines.filter(function (x) { return String(x.id) === String(p.category_id); })[0];
    box.appendChild(h('div', { 'class': 'row' },
      field(t('pipeline'), select(state.ref.pipelines.map(function (x) { return { value: x.id, label: x.name }; }), p.category_id,
        { 'class': 'set-category', id: s.uid + '-cat', disabled: ro(), onchange: function (ev) {
          p.category_id = Number(ev.target.value);
          var np = state.ref.pipelines.filter(function (x) { return x.id === p.category_id; })[0];
          p.stage_id = np && np.stages[0] ? np.stages[0].id : '';
          changed(true);
        } }), s.path + '.set.pipeline.category_id'),
      field(t('stage'), select([{ value: '', label: '—' }].concat((pipe ? pipe.stages : []).map(function (x) { return { value: x.id, label: x.name }; })), p.stage_id,
        { 'class': 'set-stage', id: s.uid + '-stage', disabled: ro(), onchange: function (ev) { p.stage_id = ev.target.value; changed(false); } }), s.path + '.set.pipeline.stage_id'),
      field(t('apply'), select((state.ref.applies || ['new_only', 'first_stage', 'always']).map(function (a) { return { value: a, label: t('apply_' + a) }; }), p.apply,
        { 'class': 'set-apply', id: s.uid + '-apply', disabled: ro(), onchange: function (ev) { p.apply = ev.target.value; changed(false); } }), s.path + '.set.pipeline.apply')));
    return box;
  }

  function renderFooter() {
    var info = h('span', { 'class': 'footer__info', id: 'version' },
      (state.version ? t('version', { v: state.version }) : t('notSaved')) + (state.dirty ? ' · ' + t('unsaved') : ''));
    if (!state.admin) return h('div', { 'class': 'footer' }, info);
    return h('div', { 'class': 'footer' }, info,
      button(t('check'), 'check', function () { validate(true); }, '', { id: 'check' }),
      button(t('save'), 'save', save, 'btn--primary', { id: 'save' }));
  }

  // ---------- problems next to their fields ----------
  function applyProblems() {
    Array.prototype.forEach.call(app.querySelectorAll('.err'), function (x) { x.remove(); });
    Array.prototype.forEach.call(app.querySelectorAll('.has-err'), function (x) { x.classList.remove('has-err'); });
    state.problems.forEach(function (p, i) {
      var target = null, path = p.path;
      while (path && !target) {
        target = app.querySelector('[data-path="' + path.replace(/"/g, '') + '"]');
        if (!target) path = trimPath(path);
      }
      if (!target) {
        // On another tab: say so on that tab.
        var m = /^schemes\[(\d+)\]/.exec(p.path || '');
        if (m) {
          var e = ENTITIES.filter(function (x) { return state.schemes[x] && state.schemes[x].path === 'schemes[' + m[1] + ']'; })[0];
          var tab = e && document.getElementById('tab-' + e);
          if (tab && !tab.querySelector('.tab-err')) tab.appendChild(h('span', { 'class': 'err tab-err', 'aria-hidden': 'true' }, ' •'));
        }
        target = app.querySelector('.footer');
      }
      var msg = h('p', { 'class': 'err', id: 'err-' + i, 'data-for': p.path }, p.message);
      target.classList.add('has-err');
      var ctl = target.querySelector('input,select');
      if (ctl && target.tagName === 'LABEL') ctl.setAttribute('aria-describedby', 'err-' + i);
      if (target.classList.contains('group')) target.insertBefore(msg, target.children[1] || null);
      else target.appendChild(msg);
    });
  }
  function trimPath(p) {
    var i = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    return i > 0 ? p.slice(0, i) : '';
  }

  var validateTimer = null;
  function changed(rerender) {
    state.dirty = true;
    if (rerender) render();
    else {
      var v = document.getElementById('version');
      if (v) v.textContent = (state.version ? t('version', { v: state.version }) : t('notSaved')) + ' · ' + t('unsaved');
    }
    clearTimeout(validateTimer);
    validateTimer = setTimeout(function () { validate(false); }, 400);
  }

  function validate(announce) {
    var cfg = toConfig();
    return api('POST', '/config/validate', { config: cfg }).then(function (r) {
      if (r.status !== 200) return;
      state.problems = r.data.errors || [];
      applyProblems();
      if (announce || state.problems.length === 0) {
        if (state.problems.length) notice('err', t('problems', { n: state.problems.length }));
        else if (announce) notice('ok', t('valid'));
        else if (document.querySelector('#notice [data-kind="err"]')) notice('', '');
      }
      fit();
    });
  }

  function save() {
    clearTimeout(validateTimer);
    var btn = document.getElementById('save');
    if (btn) { btn.disabled = true; btn.textContent = t('saving'); }
    api('PUT', '/config', { base_version: state.version, config: toConfig() }).then(function (r) {
      if (btn) { btn.disabled = false; btn.textContent = t('save'); }
      if (r.status === 200) {
        state.version = r.data.version;
        state.dirty = false;
        state.problems = [];
        render();
        notice('ok', t('saved', { v: state.version }));
      } else if (r.status === 409) {
        notice('err', t('conflict'), button(t('reload'), 'reload', function () { location.reload(); }));
      } else if (r.status === 422) {
        state.problems = r.data.errors || [];
        applyProblems();
        notice('err', t('problems', { n: state.problems.length }));
      } else if (r.status) {
        notice('err', r.data.message || String(r.status));
      }
    });
  }

  // ---------- start ----------
  function fatal(text) {
    app.textContent = '';
    app.removeAttribute('aria-busy');
    notice('err', text);
  }

  function start() {
    document.getElementById('loading').textContent = t('loading');
    var member = boot.memberId, auth = boot.authId;
    var ready = auth && member ? Promise.resolve({ member_id: member, access_token: auth }) : loadBX24(5000);
    if (auth && member) loadBX24(10000); // for fitWindow and refreshAuth only
    ready.then(function (a) {
      if (!a || !a.access_token) { fatal(t('openFromPortal')); return null; }
      return startSession(a.member_id, a.access_token).then(function (ok) {
        if (!ok) { fatal(t('sessionFailed')); return null; }
        return Promise.all([api('GET', '/config'), api('GET', '/reference')]);
      });
    }).then(function (rs) {
      if (!rs) return;
      if (rs[0].status !== 200 || rs[1].status !== 200) { fatal((rs[0].data.message || rs[1].data.message) || t('network')); return; }
      state.version = rs[0].data.version;
      state.ref = rs[1].data;
      load(rs[0].data.config || { schemes: [] });
      for (var i = 0; i < ENTITIES.length; i++) { if (state.schemes[ENTITIES[i]]) { state.tab = ENTITIES[i]; break; } }
      var user = document.getElementById('user');
      user.textContent = '';
      append(user, [state.user && state.user.name ? state.user.name + ' ' : '',
        h('span', { 'class': 'badge' + (state.admin ? '' : ' badge--ro'), id: 'role' }, state.admin ? t('admin') : t('readOnly'))]);
      document.body.setAttribute('data-ready', state.admin ? 'admin' : 'readonly');
      render();
    });
  }

  start();
})();
