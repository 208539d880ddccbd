// Segmentor card tab: in a contact, company or deal card, shows the
// record's segment, why (each condition with the value seen) and its
// history. Read-only; a user sees it for the records Bitrix24 lets them see.
(function () {
  'use strict';

  var S = window.Segmentor, h = S.h;
  var t = S.texts({
    en: {
      noRecord: 'This tab does not know which record to show. Open it from a contact, company or deal card in Bitrix24.',
      inSegment: 'Segment', type: 'Type', pipeline: 'Pipeline', rules: 'Rules version {v}', noRules: 'No rules saved yet',
      why: 'Why', whyNone: 'No segment\'s conditions hold for this record.', held: 'holds', notHeld: 'does not hold',
      because: 'In “{s}” because:', others: 'Other segments checked first ({n})',
      history: 'History', noHistory: 'Segmentor has not changed this record yet.',
      at: 'When', change: 'Change', version: 'Rules version', reason: 'Why',
      pending: 'The saved rules put this record in another segment; Segmentor is writing it to Bitrix24 now.'
    },
    ru: {
      noRecord: 'Вкладка не знает, какую запись показать. Откройте её из карточки контакта, компании или сделки в Битрикс24.',
      inSegment: 'Сегмент', type: 'Тип', pipeline: 'Воронка', rules: 'Правила, версия {v}', noRules: 'Правила ещё не сохранены',
      why: 'Почему', whyNone: 'Условия ни одного сегмента для этой записи не выполняются.', held: 'выполняется', notHeld: 'не выполняется',
      because: 'В сегменте «{s}», потому что:', others: 'Другие сегменты, проверенные раньше ({n})',
      history: 'История', noHistory: 'Segmentor ещё не менял эту запись.',
      at: 'Когда', change: 'Изменение', version: 'Версия правил', reason: 'Почему',
      pending: 'По сохранённым правилам запись относится к другому сегменту; Segmentor сейчас записывает это в Битрикс24.'
    },
    pl: {
      noRecord: 'Ta zakładka nie wie, który rekord pokazać. Otwórz ją z karty kontaktu, firmy lub deala w Bitrix24.',
      inSegment: 'Segment', type: 'Typ', pipeline: 'Lejek', rules: 'Reguły, wersja {v}', noRules: 'Nie zapisano jeszcze reguł',
      why: 'Dlaczego', whyNone: 'Warunki żadnego segmentu nie są spełnione dla tego rekordu.', held: 'spełniony', notHeld: 'niespełniony',
      because: 'W segmencie „{s}”, ponieważ:', others: 'Inne segmenty sprawdzone wcześniej ({n})',
      history: 'Historia', noHistory: 'Segmentor nie zmieniał jeszcze tego rekordu.',
      at: 'Kiedy', change: 'Zmiana', version: 'Wersja reguł', reason: 'Dlaczego',
      pending: 'Według zapisanych reguł ten rekord należy do innego segmentu; Segmentor właśnie zapisuje to w Bitrix24.'
    },
    it: {
      noRecord: 'Questa scheda non sa quale record mostrare. Aprila dalla scheda di un contatto, di un\'azienda o di un deal in Bitrix24.',
      inSegment: 'Segmento', type: 'Tipo', pipeline: 'Pipeline', rules: 'Regole, versione {v}', noRules: 'Nessuna regola ancora salvata',
      why: 'Perché', whyNone: 'Le condizioni di nessun segmento sono soddisfatte per questo record.', held: 'soddisfatta', notHeld: 'non soddisfatta',
      because: 'In “{s}” perché:', others: 'Altri segmenti verificati prima ({n})',
      history: 'Cronologia', noHistory: 'Segmentor non ha ancora modificato questo record.',
      at: 'Quando', change: 'Modifica', version: 'Versione delle regole', reason: 'Perché',
      pending: 'Secondo le regole salvate questo record appartiene a un altro segmento; Segmentor lo sta scrivendo ora in Bitrix24.'
    }
  });
  var ENTITY_OF = { CRM_CONTACT_DETAIL_TAB: 'contact', CRM_COMPANY_DETAIL_TAB: 'company', CRM_DEAL_DETAIL_TAB: 'deal' };
  var app = document.getElementById('app');

  // target is the record the tab is for: what the server read from the
  // placement POST, else what the BX24 library says.
  function target() {
    var e = S.boot.entity, id = S.boot.recordId;
    if ((!e || !id) && window.BX24 && window.BX24.placement && typeof window.BX24.placement.info === 'function') {
      try {
        var info = window.BX24.placement.info() || {};
        e = e || ENTITY_OF[String(info.placement || '').toUpperCase()];
        id = id || (info.options && info.options.ID);
      } catch (err) { /* no placement info */ }
    }
    id = String(id || '');
    return e && /^[1-9][0-9]{0,17}$/.test(id) ? { entity: e, id: id } : null;
  }

  function done(state, children) {
    app.textContent = '';
    app.removeAttribute('aria-busy');
    S.append(app, children);
    document.body.setAttribute('data-ready', state);
    S.fit();
  }

  function mark(held) {
    return h('span', { 'class': 'mark ' + (held ? 'mark--yes' : 'mark--no'), title: held ? t('held') : t('notHeld'), 'aria-hidden': 'true' }, held ? '✓' : '✗');
  }

  // side is a history entry's change of one more field, by name.
  function side(e, field, label) {
    var from = (e.from || {})[field], to = (e.to || {})[field];
    if (!from && !to || from === to) return null;
    var name = function (o) { return o[field] ? (o[field + '_name'] || o[field]) : '—'; };
    return h('div', { 'class': 'muted' }, label + ': ' + name(e.from || {}) + ' → ' + name(e.to || {}));
  }

  // whyCard says why the record is where it is: the conditions that held,
  // or that no segment applies and which came nearest; then, folded, what
  // each segment tried before it missed.
  function whyCard(ex) {
    var why = h('section', { 'class': 'card', id: 'why' }, h('h3', { 'class': 'card__title' }, t('why')));
    if (!ex) { why.appendChild(h('p', { 'class': 'muted', id: 'why-none' }, t('whyNone'))); return why; }
    // The saved rules' verdict (ex.segment), which is the record's own
    // segment unless a write is pending.
    var matched = ex.segment && !ex.otherwise && (ex.lines || []).length;
    if (matched) {
      why.appendChild(h('p', { id: 'why-lead' }, t('because', { s: ex.segment_name || ex.segment })));
      why.appendChild(h('ul', { 'class': 'why-lines', id: 'why-held' }, ex.lines.map(function (l) {
        return h('li', { 'class': 'why-line', 'data-held': 'true' }, mark(true), h('span', null, l));
      })));
    } else {
      why.appendChild(h('p', { id: 'why-lead' }, ex.summary || t('whyNone')));
      if ((ex.lines || []).length) {
        why.appendChild(h('ul', { 'class': 'why-lines', id: 'why-nearest' }, ex.lines.map(function (l) {
          return h('li', { 'class': 'why-line', 'data-held': 'false' }, mark(false), h('span', null, l));
        })));
      }
    }
    var others = ex.others || [];
    if (others.length) {
      why.appendChild(h('details', { 'class': 'why-others', id: 'why-others' },
        h('summary', null, t('others', { n: others.length })),
        h('ul', { 'class': 'why-lines' }, others.map(function (o) {
          return h('li', { 'class': 'why-line', 'data-key': o.key, 'data-held': 'false' }, mark(false),
            h('span', null, h('strong', null, o.name || o.key), o.missed ? ': ' + o.missed : ''));
        }))));
    }
    return why;
  }

  // registryCard is a company's entry in the company registry, as the
  // server words it: where the lookup stands (an invalid NIP marked, for
  // someone to correct it) and, once found, what the registry says.
  function registryCard(reg) {
    if (!reg) return null;
    var lines = reg.lines || [];
    return h('section', { 'class': 'card record-registry', id: 'registry', 'data-state': reg.state },
      h('h3', { 'class': 'card__title' }, reg.title),
      h('p', { id: 'registry-note', 'class': reg.state === 'invalid' ? 'callout callout--warn' : 'muted' }, reg.note),
      lines.length ? h('dl', { 'class': 'facts', id: 'registry-lines' }, lines.map(function (l) {
        return [h('dt', null, l.label), h('dd', null, l.value)];
      })) : null);
  }

  function render(rec) {
    var seg = rec.segment;
    var head = h('section', { 'class': 'card record', id: 'record', style: 'border-left-color:' + S.safeColor(seg && seg.color) },
      h('div', { 'class': 'record__top' },
        h('span', { 'class': 'muted' }, t(rec.entity + '1') + ' #' + rec.id),
        h('span', { 'class': 'muted record__rules' }, rec.config_version ? t('rules', { v: rec.config_version }) : t('noRules'))),
      h('h2', { 'class': 'record__title' }, rec.url ? S.crmLink(rec.url, rec.title || ('#' + rec.id)) : (rec.title || '#' + rec.id)),
      h('div', { 'class': 'record__segment' },
        h('span', { 'class': 'label' }, t('inSegment')),
        seg ? S.segBadge(seg.name || seg.key, seg.color, { id: 'badge', 'class': 'seg-badge--big', 'data-key': seg.key })
          : h('span', { 'class': 'seg-badge seg-badge--big seg-badge--none', id: 'badge', 'data-key': '' }, t('noSegment'))),
      rec.pending ? h('p', { 'class': 'warn', id: 'pending' }, t('pending')) : null,
      h('dl', { 'class': 'facts' },
        rec.type ? [h('dt', null, t('type')), h('dd', { id: 'type' }, rec.type_name || rec.type)] : null,
        rec.pipeline ? [h('dt', null, t('pipeline')), h('dd', { id: 'pipeline' }, rec.pipeline_name || rec.pipeline)] : null));

    var why = whyCard(rec.explanation);

    var hist = h('section', { 'class': 'card', id: 'history' }, h('h3', { 'class': 'card__title' }, t('history')));
    var entries = rec.history || [];
    if (!entries.length) hist.appendChild(h('p', { 'class': 'muted' }, t('noHistory')));
    else {
      var segName = function (o) { return o && o.segment ? (o.segment_name || o.segment) : t('noSegment'); };
      var body = h('tbody');
      entries.forEach(function (e) {
        body.appendChild(h('tr', { 'class': 'history-row' },
          h('td', { 'class': 'nowrap' }, S.when(e.at), e.trigger_text ? h('div', { 'class': 'muted trigger' }, e.trigger_text) : null),
          h('td', null, segName(e.from) + ' → ', h('strong', null, segName(e.to)),
            side(e, 'type', t('type')), side(e, 'pipeline', t('pipeline'))),
          h('td', { 'class': 'num' }, e.config_version ? String(e.config_version) : '—'),
          h('td', { 'class': 'why-cell' }, S.why(e.why))));
      });
      hist.appendChild(h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table' },
        h('thead', null, h('tr', null, h('th', null, t('at')), h('th', null, t('change')), h('th', null, t('version')), h('th', null, t('reason')))), body)));
    }
    done('record', [head, registryCard(rec.registry), why, hist]);
  }

  // The session is bound to the tab's record: Bitrix24 confirms the user
  // may read it. When only the BX24 library (loaded by the sign-in) knows
  // the record, the session is started again for it.
  var first = target();
  S.start(first).then(function (ok) {
    if (!ok) return false;
    var rec = target();
    return first || !rec ? rec : S.start(rec).then(function (ok2) { return ok2 ? rec : false; });
  }).then(function (rec) {
    if (rec === false) return;
    if (!rec) { done('no-record', h('div', { 'class': 'empty', id: 'message' }, t('noRecord'))); return; }
    S.api('GET', '/records/' + rec.entity + '/' + rec.id).then(function (r) {
      if (r.status === 200) render(r.data);
      else if (r.status === 404) done('not-found', h('div', { 'class': 'empty', id: 'message' }, S.message(r)));
      else done('error', h('div', { 'class': 'empty', id: 'message' }, S.message(r)));
    });
  });
})();
