// Segmentor settings page: the dashboard, the segment editor with its live
// count, dry run, save and recompute, and the audit of changes; all through
// /api/v1 with the session common.js opens. Plain DOM, no framework.
(function () {
  'use strict';

  var S = window.Segmentor, h = S.h, append = S.append, button = S.button, api = S.api;
  var t = S.texts({
    en: {
      admin: 'Administrator', readOnly: 'Read only',
      readOnlyNote: 'Only a Bitrix24 administrator can change these settings; you can look at them and at their effect.',
      viewOverview: 'Overview', viewSegments: 'Segments', viewChanges: 'Changes',
      viewLists: 'Lists', liIntro: 'A list is a fixed set of contacts or companies: uploaded from a CSV file or frozen from a segment. Rules use it with the fact “In list”.',
      liNone: 'No lists yet.', liName: 'Name', liKey: 'key: {k}', liContacts: 'Contacts', liCompanies: 'Companies', liFromSegment: 'Frozen from segment {f}', liFromFile: 'Uploaded {f}',
      liRename: 'Rename', liRenamed: 'Renamed.', liDelete: 'Delete', liDeleteAsk: 'Delete the list “{n}”? Rules that use it will hold for none of its records.',
      liHolds: 'Holds', liCount: 'Records', liSource: 'Source', liUpdated: 'Updated', liUseHint: 'To use a list, add the condition “In list” to a segment’s rule and choose the list.',
      liUpload: 'Upload a list', liUploadHint: 'A CSV file of up to 100,000 rows: one column, or a header naming the column of IDs, e-mails or phones. Nothing is saved until you confirm.',
      liBy: 'Match by', liByAuto: 'Detect from the file', liByEmail: 'E-mail', liByPhone: 'Phone', liByID: 'CRM ID', liFile: 'File', liUploadGo: 'Upload and match', liNoFile: 'Choose a CSV file first.',
      liReport: 'Upload “{n}”', liFailed: 'Matching failed: {e}', liMatching: 'Matching with your CRM: {d} of {n} values…', liEta: 'About {s} left.',
      liMatched: 'Matched records: {n}', liNotFound: 'Not found: {n}', liAmbiguous: 'Several records for one value (not added): {n}', liInvalid: 'Unreadable rows: {n}',
      liRowNotFound: 'not found', liRowAmbiguous: 'several records: {ids}', liRowInvalid: 'not a value of this kind', liLine: 'Line', liValue: 'Value', liProblem: 'Problem',
      liDownload: 'Download the rows not added (CSV)', liConfirm: 'Save the list ({n} records)', liSaved: 'List “{n}” saved.', liCancel: 'Discard',
      liFreeze: 'Freeze a segment', liFreezeHint: 'Saves the records in the segment now as a list that no longer changes.', liSegment: 'Segment', liFreezeGo: 'Freeze now', liOpen: 'Open the lists',
      noScheme: 'There are no segments for {e} yet.', addScheme: 'Set up segments for {e}',
      removeScheme: 'Remove all segments of {e}',
      segment: 'Segment', otherwise: 'Everyone else', order: '#{n}',
      name: 'Name', key: 'Key', color: 'Color', keyHint: 'e.g. vip',
      up: 'Move up', down: 'Move down', remove: 'Remove', reorderHint: 'Alt+↑ / Alt+↓ moves the segment',
      addSegment: 'Add segment', useOtherwise: 'Put everyone else into a segment',
      conditions: 'Conditions', outputs: 'When a record is in this segment',
      groupKind: 'Group', addCondition: 'Add condition', addGroup: 'Add group', removeGroup: 'Remove group',
      fact: 'What', chooseFact: '— choose —', dealFacts: 'Deals of the client', whereFacts: 'Where the client is', dealOwn: 'The deal', fields: 'Fields', customFields: 'Custom fields',
      windowDays: 'Last N days', windowAll: 'all time', windowNeeded: 'required', op: 'Is', value: 'Value', from: 'From', to: 'To',
      listHint: 'comma-separated', chooseSome: 'Choose one or more',
      type: 'Set type', keepType: '— don\'t change —', newType: 'New type…', typeCode: 'Code', typeName: 'Name',
      add: 'Add', cancel: 'Cancel', typeAdded: 'Type {t} added.',
      label: 'Write the segment name into the “Segment” field',
      onTrigger: 'Fire the automation trigger “Segmentor: entered {s}”', onTriggerClient: 'Fire the trigger “Segmentor: entered {s}” for the client\'s deals',
      triggerHint: 'Use it in a pipeline stage\'s automation rules: CRM › Deals › Automation rules › Triggers › Application triggers.',
      onNotify: 'Notify the responsible person (at most once a day per record)',
      onTimeline: 'Write each change of segment on the record\'s timeline',
      onBackfill: 'Also when the whole base is recomputed (triggers, timeline, notifications)',
      noImScope: 'Notifications are not sent: Segmentor was installed without the permission to send them (“im”). Reinstall the app and allow it; everything else works.',
      noBizprocScope: 'The robot “Segmentor: classify and return the segment” is not available: Segmentor was installed without the permission for robots (“bizproc”). Reinstall the app and allow it; everything else works.',
      movePipeline: 'Move deals to a pipeline', pipeline: 'Pipeline', stage: 'Stage', apply: 'Which deals',
      apply_new_only: 'New deals only', apply_first_stage: 'Deals still in the first stage', apply_always: 'All open deals',
      save: 'Save', check: 'Check', saving: 'Saving…', dryrun: 'Dry run', recompute: 'Recompute',
      saved: 'Saved: version {v}.', savedRecompute: 'Saved: version {v}. Segmentor now recomputes every record with it.',
      valid: 'No problems found.', problems: 'Fix the marked fields: {n} problem.|Fix the marked fields: {n} problems.',
      conflict: 'Someone else saved the settings (version {v}) while you were editing. Your changes are NOT saved. Reload to see their version, then make your changes again.',
      conflictShort: 'Not saved: someone else saved first.',
      reload: 'Reload', version: 'Version {v}', notSaved: 'Not saved yet', unsaved: 'Unsaved changes',
      records: { contact: '{n} contact|{n} contacts', company: '{n} company|{n} companies', deal: '{n} deal|{n} deals' },
      countLine: '{n} · {s} of base', revenueLine: '{r} of revenue', counting: 'counting…', stale: 'fix the problems to update the count',
      forExample: 'e.g.', rest: 'In no segment',
      unsyncedFields: 'Segmentor keeps a copy of only the fields the saved rules read: until you save, conditions on {f} are counted as if the field were empty. The recompute after saving reads them from Bitrix24.', previewInfo: 'Live count on Segmentor’s copy of your CRM ({ms} ms)', syncedAt: 'synced {t}',
      dryTitle: 'Dry run: what saving would change', dryNone: 'Nothing would change: every record already carries what these rules give it.',
      drySummary: '{c} of {e} records would change.', dryScheme: '{e}: {c} of {n} would change',
      dryFrom: 'From', dryTo: 'To', dryCount: 'Records', drySamples: 'For example', dryTypes: 'Type changes', dryPipes: 'Pipeline changes',
      dryLabels: 'The “Segment” field would be written on {n} record.|The “Segment” field would be written on {n} records.', dryStale: 'The segments changed since this dry run; run it again.',
      dryConfirm: 'Review what saving changes, then save.', saveApply: 'Save and apply', saveAnyway: 'Save without a dry run', close: 'Close',
      jobTitle: 'Recompute', jobRunning: 'Recomputing segments', jobDone: 'Recompute finished: {n} records checked, {w} written.',
      jobFailed: 'Recompute failed: {e}', eta: 'about {t} left', etaSoon: 'less than a minute left', jobStart: 'Recompute started.',
      phases: { queued: 'waiting to start', sync: 'reading records from Bitrix24', rfm: 'computing RFM scores', evaluate: 'applying the rules', write: 'writing to Bitrix24', done: 'done' },
      ovSegments: 'Segments', ovRecords: 'Records', ovShare: 'Share of base', ovRevenue: 'Share of revenue', ovTotal: 'Total',
      ovEmpty: 'No segments are saved yet.', ovSetUp: 'Set up segments',
      ovLast: 'Last recompute', ovNever: 'Not run yet', ovQueue: 'Work queue', ovRest: 'Bitrix24 request limits',
      ovPending: 'waiting', ovActive: 'running', ovRetry: 'to retry', ovLatency: 'oldest waits {t}', ovQueueIdle: 'Idle: every change is processed.',
      ovRate: '{n} requests per second, bursts up to {b}', ovReqHour: '{n} requests in the last hour', ovLimited: '{n} refused by Bitrix24 for speed',
      ovOps: 'Time per method, last 10 minutes', ovOpsLimit: 'Bitrix24 allows each method {l} s in any 10 minutes.', ovOpsLine: '{s} of {l} s',
      ovOpsNone: 'Bitrix24 reported no method time in the last 10 minutes.', ovMethod: 'Method', ovOpsTime: 'Time',
      ovPlan: 'Plan: {p}', plans: { free: 'Free', basic: 'Basic', standard: 'Standard', professional: 'Professional', enterprise: 'Enterprise' }, ovNA: 'Not available on this server.', ovStale: '(no longer in the rules)', ovState: { queued: 'Queued', running: 'Running', done: 'Finished', failed: 'Failed' },
      auEntity: 'Records', auAllEntities: 'All', auSegment: 'Segment', auAllSegments: 'All segments', auRecord: 'Record ID',
      auWhen: 'When', auRecordCol: 'Record', auChange: 'Change', auVersion: 'Rules version', auWhy: 'Why', auEmpty: 'No changes match.',
      auMore: 'Show more', auType: 'Type',
      insTitle: 'Over time', insEntity: 'Records', period: 'Period', days: '{n} day|{n} days', csv: 'Download CSV', csvTitle: 'The figures as a CSV file, for a spreadsheet',
      trTitle: 'Segment sizes by day', trLegend: 'Segments in the chart', trLatest: 'Latest figures, {d}', trNoLatest: 'No daily figures yet.',
      trWon: 'Won in 12 months', trAvg: 'Average deal', trOpen: 'Open deals',
      mvTitle: 'Moves between segments', mvCaption: '{e}, {from} – {to}: rows are the segment a record left, columns the one it entered.',
      mvCorner: 'From ↓ to →', mvMoved: '{n} records changed segment ({c} changes in all).', mvNone: 'No record changed segment in this period.',
      mvHint: 'Choose a number to list its records.', mvCell: '{a} → {b}: {n}', mvRecords: '{a} → {b}: {n} record|{a} → {b}: {n} records', mvShown: 'The latest {k} are listed.',
      sgOpen: 'Open the segment’s page', sgBack: '← Overview', sgRemoved: 'This segment is no longer in the rules.',
      sgOfTotal: '{s} of {n}', sgValue: 'Won in the last 12 months', sgWonDeals: '{n} won deal|{n} won deals', sgSections: 'Top product sections',
      sgSection: 'Section', sgDeals: 'Won deals', sgSectionValue: 'Won', sgNoSections: 'No won deals with products in the last 12 months.',
      sgEntries: 'Latest entries', sgExits: 'Latest exits', sgNoMoves: 'None yet.',
      sgMembersCsv: 'Download members (CSV)', sgMembersCsvTitle: 'Every record in this segment, with a link to its card and why it is here, as a CSV file',
      viewRegistry: 'Company registry', registryFacts: 'Company registry',
      rgIntro: 'Segmentor looks your companies up in Poland’s REGON registry (GUS) by the NIP in their requisites, so that segment rules can use what the registry says: industry, main activity, voivodeship, legal form, status and age.',
      rgKeyNeeded: 'Lookups need an API key for the GUS registry: request one free of charge at api.stat.gov.pl and enter it below.',
      rgKeyDefault: 'Segmentor has a key of its own for the registry; you may enter your own free GUS key instead.',
      rgEnabled: 'Look companies up in the registry', rgKey: 'GUS API key', rgKeySaved: 'A key is saved; type a new one to replace it', rgKeyNone: 'The key GUS sent you',
      rgRemoveKey: 'Remove the key', rgKeyRemoving: 'The key is removed when you save.', rgKeepKey: 'Keep the key',
      rgKeyIsSaved: 'saved', rgKeyOperator: 'Segmentor’s own key is used', rgKeyMissing: 'not given',
      rgWriteBack: 'Write registry values into company fields', rgWriteBackHint: 'Each value can be copied into one of your companies’ text fields, where Segmentor keeps it up to date.',
      rgValue: 'Registry value', rgField: 'Company field', rgDontWrite: '— don’t write —',
      rgNoFields: 'Your companies have no custom text fields to write into. Add one in the CRM settings to use this.', rgSaved: 'Registry settings saved.',
      rgCompanies: 'Companies with a NIP', rgFound: 'Found in the registry', rgNotFound: 'Not in the registry', rgInvalid: 'Invalid NIP (not sent)',
      rgPending: 'Waiting for a lookup', rgUnavailable: 'No answer from the registry yet', rgNoCompanies: 'No company has a Polish NIP in its requisites yet.',
      rgLastRun: 'Last lookups', rgNever: 'No lookups yet.', rgRunLine: 'Companies asked: {a} · found: {f} · not in the registry: {n}',
      rgRemaining: 'Still to look up: {n}', rgNext: 'Next lookups: {t}',
      rgUnused: 'Your segments use registry facts, but lookups are off: those conditions hold for no company.'
    },
    ru: {
      admin: 'Администратор', readOnly: 'Только просмотр',
      readOnlyNote: 'Изменять эти настройки может только администратор Битрикс24; вы можете просматривать их и их результат.',
      viewOverview: 'Обзор', viewSegments: 'Сегменты', viewChanges: 'Изменения',
      viewLists: 'Списки', liIntro: 'Список — это неизменный набор контактов или компаний: загруженный из файла CSV или зафиксированный из сегмента. Правила используют его через условие «В списке».',
      liNone: 'Списков пока нет.', liName: 'Название', liKey: 'ключ: {k}', liContacts: 'Контакты', liCompanies: 'Компании', liFromSegment: 'Зафиксирован из сегмента {f}', liFromFile: 'Загружен {f}',
      liRename: 'Переименовать', liRenamed: 'Переименовано.', liDelete: 'Удалить', liDeleteAsk: 'Удалить список «{n}»? Правила с ним больше не выполнятся ни для одной его записи.',
      liHolds: 'Содержит', liCount: 'Записей', liSource: 'Источник', liUpdated: 'Обновлён', liUseHint: 'Чтобы использовать список, добавьте в правило сегмента условие «В списке» и выберите список.',
      liUpload: 'Загрузить список', liUploadHint: 'Файл CSV до 100 000 строк: один столбец или заголовок, называющий столбец с ID, e-mail или телефонами. Ничего не сохраняется, пока вы не подтвердите.',
      liBy: 'Сопоставлять по', liByAuto: 'Определить по файлу', liByEmail: 'E-mail', liByPhone: 'Телефону', liByID: 'ID в CRM', liFile: 'Файл', liUploadGo: 'Загрузить и сопоставить', liNoFile: 'Сначала выберите файл CSV.',
      liReport: 'Загрузка «{n}»', liFailed: 'Сопоставление не удалось: {e}', liMatching: 'Сопоставляем с CRM: {d} из {n} значений…', liEta: 'Осталось около {s}.',
      liMatched: 'Найдено записей: {n}', liNotFound: 'Не найдено: {n}', liAmbiguous: 'Несколько записей на одно значение (не добавлены): {n}', liInvalid: 'Нечитаемых строк: {n}',
      liRowNotFound: 'не найдено', liRowAmbiguous: 'несколько записей: {ids}', liRowInvalid: 'не значение этого типа', liLine: 'Строка', liValue: 'Значение', liProblem: 'Проблема',
      liDownload: 'Скачать строки, которые не попали в список (CSV)', liConfirm: 'Сохранить список ({n} записей)', liSaved: 'Список «{n}» сохранён.', liCancel: 'Отменить',
      liFreeze: 'Зафиксировать сегмент', liFreezeHint: 'Сохраняет записи, которые сейчас в сегменте, как список, который больше не меняется.', liSegment: 'Сегмент', liFreezeGo: 'Зафиксировать', liOpen: 'Открыть списки',
      noScheme: 'Для раздела «{e}» сегментов пока нет.', addScheme: 'Настроить сегменты: {e}',
      removeScheme: 'Удалить все сегменты раздела «{e}»',
      segment: 'Сегмент', otherwise: 'Все остальные', order: '№{n}',
      name: 'Название', key: 'Ключ', color: 'Цвет', keyHint: 'например, vip',
      up: 'Выше', down: 'Ниже', remove: 'Удалить', reorderHint: 'Alt+↑ / Alt+↓ перемещают сегмент',
      addSegment: 'Добавить сегмент', useOtherwise: 'Относить всех остальных к отдельному сегменту',
      conditions: 'Условия', outputs: 'Когда запись попадает в этот сегмент',
      groupKind: 'Группа', addCondition: 'Добавить условие', addGroup: 'Добавить группу', removeGroup: 'Удалить группу',
      fact: 'Что', chooseFact: '— выберите —', dealFacts: 'Сделки клиента', whereFacts: 'Где клиент', dealOwn: 'Сделка', fields: 'Поля', customFields: 'Пользовательские поля',
      windowDays: 'За N дней', windowAll: 'за всё время', windowNeeded: 'обязательно', op: 'Условие', value: 'Значение', from: 'От', to: 'До',
      listHint: 'через запятую', chooseSome: 'Выберите одно или несколько',
      type: 'Установить тип', keepType: '— не менять —', newType: 'Новый тип…', typeCode: 'Код', typeName: 'Название',
      add: 'Добавить', cancel: 'Отмена', typeAdded: 'Тип {t} добавлен.',
      label: 'Записывать название сегмента в поле «Сегмент»',
      onTrigger: 'Запускать триггер «Segmentor: попала в сегмент {s}»', onTriggerClient: 'Запускать триггер «Segmentor: попала в сегмент {s}» для сделок клиента',
      triggerHint: 'Используйте его в роботах и триггерах стадии: CRM › Сделки › Роботы › Триггеры › Триггеры приложений.',
      onNotify: 'Уведомлять ответственного (не чаще раза в день на запись)',
      onTimeline: 'Записывать каждую смену сегмента в ленту записи',
      onBackfill: 'Также при пересчёте всей базы (триггеры, лента, уведомления)',
      noImScope: 'Уведомления не отправляются: Segmentor установлен без права их отправлять («im»). Переустановите приложение и разрешите его; остальное работает.',
      noBizprocScope: 'Робот «Segmentor: определить сегмент» недоступен: Segmentor установлен без права на роботов («bizproc»). Переустановите приложение и разрешите его; остальное работает.',
      movePipeline: 'Переносить сделки в воронку', pipeline: 'Воронка', stage: 'Стадия', apply: 'Какие сделки',
      apply_new_only: 'Только новые сделки', apply_first_stage: 'Сделки на первой стадии', apply_always: 'Все открытые сделки',
      save: 'Сохранить', check: 'Проверить', saving: 'Сохраняем…', dryrun: 'Пробный прогон', recompute: 'Пересчитать',
      saved: 'Сохранено: версия {v}.', savedRecompute: 'Сохранено: версия {v}. Segmentor пересчитывает по ней все записи.',
      valid: 'Ошибок нет.', problems: 'Исправьте отмеченные поля: ошибок — {n}.',
      conflict: 'Пока вы редактировали, настройки сохранил кто-то другой (версия {v}). Ваши изменения НЕ сохранены. Перезагрузите страницу, чтобы увидеть его версию, и внесите изменения заново.',
      conflictShort: 'Не сохранено: кто-то сохранил раньше.',
      reload: 'Перезагрузить', version: 'Версия {v}', notSaved: 'Ещё не сохранено', unsaved: 'Есть несохранённые изменения',
      records: { contact: 'контактов: {n}', company: 'компаний: {n}', deal: 'сделок: {n}' },
      countLine: '{n} · {s} базы', revenueLine: '{r} выручки', counting: 'считаем…', stale: 'исправьте ошибки, чтобы обновить число',
      forExample: 'напр.', rest: 'Без сегмента',
      unsyncedFields: 'Segmentor хранит копию только тех полей, которые читают сохранённые правила: до сохранения условия на {f} считаются так, будто поле пустое. Пересчёт после сохранения прочитает их из Битрикс24.', previewInfo: 'Число записей по копии вашей CRM в Segmentor ({ms} мс)', syncedAt: 'синхронизировано {t}',
      dryTitle: 'Пробный прогон: что изменит сохранение', dryNone: 'Ничего не изменится: все записи уже соответствуют этим правилам.',
      drySummary: 'Изменится записей: {c} из {e}.', dryScheme: '{e}: изменится {c} из {n}',
      dryFrom: 'Было', dryTo: 'Станет', dryCount: 'Записей', drySamples: 'Например', dryTypes: 'Смена типа', dryPipes: 'Смена воронки',
      dryLabels: 'Поле «Сегмент» будет записано у {n} записей.', dryStale: 'Сегменты изменились после прогона; запустите его снова.',
      dryConfirm: 'Проверьте, что изменит сохранение, и сохраните.', saveApply: 'Сохранить и применить', saveAnyway: 'Сохранить без прогона', close: 'Закрыть',
      jobTitle: 'Пересчёт', jobRunning: 'Пересчитываем сегменты', jobDone: 'Пересчёт завершён: проверено записей — {n}, записано — {w}.',
      jobFailed: 'Пересчёт не удался: {e}', eta: 'осталось около {t}', etaSoon: 'осталось меньше минуты', jobStart: 'Пересчёт запущен.',
      phases: { queued: 'ожидает запуска', sync: 'читаем записи из Битрикс24', rfm: 'считаем RFM', evaluate: 'применяем правила', write: 'записываем в Битрикс24', done: 'готово' },
      ovSegments: 'Сегменты', ovRecords: 'Записей', ovShare: 'Доля базы', ovRevenue: 'Доля выручки', ovTotal: 'Всего',
      ovEmpty: 'Сегменты ещё не сохранены.', ovSetUp: 'Настроить сегменты',
      ovLast: 'Последний пересчёт', ovNever: 'Ещё не запускался', ovQueue: 'Очередь задач', ovRest: 'Лимиты запросов Битрикс24',
      ovPending: 'ждут', ovActive: 'выполняются', ovRetry: 'на повтор', ovLatency: 'старейшая ждёт {t}', ovQueueIdle: 'Очередь пуста: все изменения обработаны.',
      ovRate: 'До {n} запросов в секунду, всплеском до {b}', ovReqHour: 'Запросов за час: {n}', ovLimited: 'Отклонено Битрикс24 из-за скорости: {n}',
      ovOps: 'Время методов за 10 минут', ovOpsLimit: 'Битрикс24 даёт каждому методу {l} с за любые 10 минут.', ovOpsLine: '{s} из {l} с',
      ovOpsNone: 'За последние 10 минут Битрикс24 не сообщал о времени методов.', ovMethod: 'Метод', ovOpsTime: 'Время',
      ovPlan: 'Тариф: {p}', plans: { free: 'Бесплатный', basic: 'Базовый', standard: 'Стандартный', professional: 'Профессиональный', enterprise: 'Энтерпрайз' }, ovNA: 'Недоступно на этом сервере.', ovStale: '(больше нет в правилах)', ovState: { queued: 'В очереди', running: 'Идёт', done: 'Завершён', failed: 'Ошибка' },
      auEntity: 'Записи', auAllEntities: 'Все', auSegment: 'Сегмент', auAllSegments: 'Все сегменты', auRecord: 'ID записи',
      auWhen: 'Когда', auRecordCol: 'Запись', auChange: 'Изменение', auVersion: 'Версия правил', auWhy: 'Почему', auEmpty: 'Подходящих изменений нет.',
      auMore: 'Показать ещё', auType: 'Тип',
      insTitle: 'Динамика', insEntity: 'Записи', period: 'Период', days: '{n} дней', csv: 'Скачать таблицу', csvTitle: 'Данные в файле для таблиц (CSV)',
      trTitle: 'Размер сегментов по дням', trLegend: 'Сегменты на графике', trLatest: 'Последние данные, {d}', trNoLatest: 'Ежедневных данных пока нет.',
      trWon: 'Выиграно за 12 мес.', trAvg: 'Средняя сделка', trOpen: 'Открытых сделок',
      mvTitle: 'Переходы между сегментами', mvCaption: '{e}, {from} — {to}: строки — сегмент, из которого запись ушла, столбцы — в который пришла.',
      mvCorner: 'Из ↓ в →', mvMoved: 'Сменили сегмент: {n} (всего изменений: {c}).', mvNone: 'За этот период ни одна запись не сменила сегмент.',
      mvHint: 'Выберите число, чтобы увидеть записи.', mvCell: '{a} → {b}: {n}', mvRecords: '{a} → {b}: записей — {n}', mvShown: 'Показаны последние {k}.',
      sgOpen: 'Открыть страницу сегмента', sgBack: '← Обзор', sgRemoved: 'Этого сегмента больше нет в правилах.',
      sgOfTotal: '{s} из {n}', sgValue: 'Выиграно за 12 месяцев', sgWonDeals: 'выигранных сделок: {n}', sgSections: 'Основные разделы товаров',
      sgSection: 'Раздел', sgDeals: 'Выигранных сделок', sgSectionValue: 'Выиграно', sgNoSections: 'За 12 месяцев нет выигранных сделок с товарами.',
      sgEntries: 'Последние входы', sgExits: 'Последние выходы', sgNoMoves: 'Пока нет.',
      sgMembersCsv: 'Скачать записи сегмента (CSV)', sgMembersCsvTitle: 'Все записи сегмента со ссылкой на карточку и причиной, почему они здесь, в файле CSV',
      viewRegistry: 'Реестр компаний', registryFacts: 'Реестр компаний',
      rgIntro: 'Segmentor ищет ваши компании в польском реестре REGON (GUS) по NIP из их реквизитов, чтобы правила сегментов могли использовать данные реестра: отрасль, основной вид деятельности, воеводство, организационно-правовую форму, статус и возраст компании.',
      rgKeyNeeded: 'Для запросов нужен ключ API реестра GUS: его бесплатно выдают на api.stat.gov.pl; введите его ниже.',
      rgKeyDefault: 'У Segmentor есть собственный ключ для реестра; вместо него можно ввести свой бесплатный ключ GUS.',
      rgEnabled: 'Искать компании в реестре', rgKey: 'Ключ API GUS', rgKeySaved: 'Ключ сохранён; введите новый, чтобы заменить его', rgKeyNone: 'Ключ, присланный GUS',
      rgRemoveKey: 'Удалить ключ', rgKeyRemoving: 'Ключ будет удалён при сохранении.', rgKeepKey: 'Оставить ключ',
      rgKeyIsSaved: 'сохранён', rgKeyOperator: 'используется ключ Segmentor', rgKeyMissing: 'не указан',
      rgWriteBack: 'Записывать данные реестра в поля компаний', rgWriteBackHint: 'Каждое значение можно копировать в одно из текстовых полей компаний; Segmentor поддерживает его в актуальном состоянии.',
      rgValue: 'Значение из реестра', rgField: 'Поле компании', rgDontWrite: '— не записывать —',
      rgNoFields: 'У компаний нет пользовательских текстовых полей для записи. Добавьте такое поле в настройках CRM.', rgSaved: 'Настройки реестра сохранены.',
      rgCompanies: 'Компании с NIP', rgFound: 'Найдены в реестре', rgNotFound: 'Нет в реестре', rgInvalid: 'Неверный NIP (не отправлялся)',
      rgPending: 'Ждут запроса', rgUnavailable: 'Реестр ещё не ответил', rgNoCompanies: 'Пока ни у одной компании в реквизитах нет польского NIP.',
      rgLastRun: 'Последние запросы', rgNever: 'Запросов ещё не было.', rgRunLine: 'Запрошено компаний: {a} · найдено: {f} · нет в реестре: {n}',
      rgRemaining: 'Осталось запросить: {n}', rgNext: 'Следующие запросы: {t}',
      rgUnused: 'Ваши сегменты используют данные реестра, но запросы выключены: такие условия не выполняются ни для одной компании.'
    },
    pl: {
      admin: 'Administrator', readOnly: 'Tylko podgląd',
      readOnlyNote: 'Te ustawienia może zmieniać tylko administrator Bitrix24; możesz je przeglądać i sprawdzać ich efekty.',
      viewOverview: 'Przegląd', viewSegments: 'Segmenty', viewChanges: 'Zmiany',
      viewLists: 'Listy', liIntro: 'Lista to stały zbiór kontaktów lub firm: wczytany z pliku CSV albo zamrożony z segmentu. Reguły korzystają z niej przez warunek „Na liście”.',
      liNone: 'Nie ma jeszcze list.', liName: 'Nazwa', liKey: 'klucz: {k}', liContacts: 'Kontakty', liCompanies: 'Firmy', liFromSegment: 'Zamrożona z segmentu {f}', liFromFile: 'Wczytana {f}',
      liRename: 'Zmień nazwę', liRenamed: 'Zmieniono nazwę.', liDelete: 'Usuń', liDeleteAsk: 'Usunąć listę „{n}”? Reguły, które jej używają, nie będą spełnione dla żadnego z jej rekordów.',
      liHolds: 'Zawiera', liCount: 'Rekordy', liSource: 'Źródło', liUpdated: 'Zaktualizowano', liUseHint: 'Aby użyć listy, dodaj do reguły segmentu warunek „Na liście” i wybierz listę.',
      liUpload: 'Wczytaj listę', liUploadHint: 'Plik CSV do 100 000 wierszy: jedna kolumna albo nagłówek nazywający kolumnę z ID, e-mailami lub telefonami. Nic nie zostanie zapisane, dopóki nie potwierdzisz.',
      liBy: 'Dopasuj według', liByAuto: 'Rozpoznaj z pliku', liByEmail: 'E-mail', liByPhone: 'Telefon', liByID: 'ID w CRM', liFile: 'Plik', liUploadGo: 'Wczytaj i dopasuj', liNoFile: 'Najpierw wybierz plik CSV.',
      liReport: 'Wczytanie „{n}”', liFailed: 'Dopasowanie nie powiodło się: {e}', liMatching: 'Dopasowywanie do CRM: {d} z {n} wartości…', liEta: 'Zostało około {s}.',
      liMatched: 'Dopasowane rekordy: {n}', liNotFound: 'Nie znaleziono: {n}', liAmbiguous: 'Kilka rekordów dla jednej wartości (nie dodano): {n}', liInvalid: 'Nieczytelne wiersze: {n}',
      liRowNotFound: 'nie znaleziono', liRowAmbiguous: 'kilka rekordów: {ids}', liRowInvalid: 'to nie wartość tego rodzaju', liLine: 'Wiersz', liValue: 'Wartość', liProblem: 'Problem',
      liDownload: 'Pobierz wiersze, które nie trafiły na listę (CSV)', liConfirm: 'Zapisz listę (rekordy: {n})', liSaved: 'Zapisano listę „{n}”.', liCancel: 'Odrzuć',
      liFreeze: 'Zamroź segment', liFreezeHint: 'Zapisuje rekordy, które są teraz w segmencie, jako listę, która już się nie zmienia.', liSegment: 'Segment', liFreezeGo: 'Zamroź teraz', liOpen: 'Otwórz listy',
      noScheme: 'W sekcji „{e}” nie ma jeszcze segmentów.', addScheme: 'Skonfiguruj segmenty: {e}',
      removeScheme: 'Usuń wszystkie segmenty z sekcji „{e}”',
      segment: 'Segment', otherwise: 'Wszyscy pozostali', order: 'nr {n}',
      name: 'Nazwa', key: 'Klucz', color: 'Kolor', keyHint: 'np. vip',
      up: 'Przenieś wyżej', down: 'Przenieś niżej', remove: 'Usuń', reorderHint: 'Alt+↑ / Alt+↓ przenosi segment',
      addSegment: 'Dodaj segment', useOtherwise: 'Przypisz wszystkich pozostałych do osobnego segmentu',
      conditions: 'Warunki', outputs: 'Gdy rekord trafi do tego segmentu',
      groupKind: 'Grupa', addCondition: 'Dodaj warunek', addGroup: 'Dodaj grupę', removeGroup: 'Usuń grupę',
      fact: 'Co', chooseFact: '— wybierz —', dealFacts: 'Deale klienta', whereFacts: 'Gdzie jest klient', dealOwn: 'Deal', fields: 'Pola', customFields: 'Pola niestandardowe',
      windowDays: 'Ostatnie N dni', windowAll: 'zawsze', windowNeeded: 'wymagane', op: 'Warunek', value: 'Wartość', from: 'Od', to: 'Do',
      listHint: 'rozdzielone przecinkami', chooseSome: 'Wybierz jedną lub więcej',
      type: 'Ustaw typ', keepType: '— nie zmieniaj —', newType: 'Nowy typ…', typeCode: 'Kod', typeName: 'Nazwa',
      add: 'Dodaj', cancel: 'Anuluj', typeAdded: 'Dodano typ {t}.',
      label: 'Zapisuj nazwę segmentu w polu „Segment”',
      onTrigger: 'Uruchamiaj wyzwalacz automatyzacji „Segmentor: deal trafił do segmentu {s}”', onTriggerClient: 'Uruchamiaj dla deali klienta wyzwalacz „Segmentor: … trafił do segmentu {s}”',
      triggerHint: 'Użyj go w regułach automatyzacji etapu lejka: CRM › Deale › Reguły automatyzacji › Wyzwalacze › Wyzwalacze aplikacji.',
      onNotify: 'Powiadamiaj osobę odpowiedzialną (najwyżej raz dziennie na rekord)',
      onTimeline: 'Zapisuj każdą zmianę segmentu na osi czasu rekordu',
      onBackfill: 'Także przy przeliczaniu całej bazy (wyzwalacze, oś czasu, powiadomienia)',
      noImScope: 'Powiadomienia nie są wysyłane: Segmentor został zainstalowany bez uprawnienia do ich wysyłania („im”). Zainstaluj aplikację ponownie i zezwól na nie; reszta działa.',
      noBizprocScope: 'Reguła automatyzacji „Segmentor: określ segment” jest niedostępna: Segmentor został zainstalowany bez uprawnienia do reguł automatyzacji („bizproc”). Zainstaluj aplikację ponownie i zezwól na nie; reszta działa.',
      movePipeline: 'Przenoś deale do lejka', pipeline: 'Lejek', stage: 'Etap', apply: 'Które deale',
      apply_new_only: 'Tylko nowe deale', apply_first_stage: 'Deale wciąż na pierwszym etapie', apply_always: 'Wszystkie otwarte deale',
      save: 'Zapisz', check: 'Sprawdź', saving: 'Zapisywanie…', dryrun: 'Symulacja', recompute: 'Przelicz',
      saved: 'Zapisano: wersja {v}.', savedRecompute: 'Zapisano: wersja {v}. Segmentor przelicza teraz według niej wszystkie rekordy.',
      valid: 'Nie znaleziono błędów.', problems: 'Popraw zaznaczone pola: {n} błąd.|Popraw zaznaczone pola: {n} błędy.|Popraw zaznaczone pola: {n} błędów.',
      conflict: 'Ktoś inny zapisał ustawienia (wersja {v}) w trakcie Twojej edycji. Twoje zmiany NIE zostały zapisane. Odśwież stronę, aby zobaczyć tamtą wersję, i wprowadź zmiany ponownie.',
      conflictShort: 'Nie zapisano: ktoś inny zapisał wcześniej.',
      reload: 'Odśwież', version: 'Wersja {v}', notSaved: 'Jeszcze nie zapisano', unsaved: 'Niezapisane zmiany',
      records: { contact: '{n} kontakt|{n} kontakty|{n} kontaktów', company: '{n} firma|{n} firmy|{n} firm', deal: '{n} deal|{n} deale|{n} deali' },
      countLine: '{n} · {s} bazy', revenueLine: '{r} przychodu', counting: 'liczenie…', stale: 'popraw błędy, aby zaktualizować liczbę',
      forExample: 'np.', rest: 'Bez segmentu',
      unsyncedFields: 'Segmentor przechowuje kopię tylko tych pól, które czytają zapisane reguły: do czasu zapisania warunki na {f} są liczone tak, jakby pole było puste. Przeliczenie po zapisaniu odczyta je z Bitrix24.', previewInfo: 'Liczba na żywo z kopii Twojego CRM w Segmentor ({ms} ms)', syncedAt: 'zsynchronizowano {t}',
      dryTitle: 'Symulacja: co zmieni zapisanie', dryNone: 'Nic się nie zmieni: każdy rekord ma już to, co dają mu te reguły.',
      drySummary: 'Zmienią się rekordy: {c} z {e}.', dryScheme: '{e}: zmieni się {c} z {n}',
      dryFrom: 'Było', dryTo: 'Będzie', dryCount: 'Rekordy', drySamples: 'Na przykład', dryTypes: 'Zmiany typu', dryPipes: 'Zmiany lejka',
      dryLabels: 'Pole „Segment” zostanie zapisane w {n} rekordzie.|Pole „Segment” zostanie zapisane w {n} rekordach.|Pole „Segment” zostanie zapisane w {n} rekordach.', dryStale: 'Segmenty zmieniły się od tej symulacji; uruchom ją ponownie.',
      dryConfirm: 'Sprawdź, co zmieni zapisanie, a potem zapisz.', saveApply: 'Zapisz i zastosuj', saveAnyway: 'Zapisz bez symulacji', close: 'Zamknij',
      jobTitle: 'Przeliczenie', jobRunning: 'Przeliczanie segmentów', jobDone: 'Przeliczenie zakończone: sprawdzone rekordy: {n}, zapisane: {w}.',
      jobFailed: 'Przeliczenie nie powiodło się: {e}', eta: 'zostało około {t}', etaSoon: 'została mniej niż minuta', jobStart: 'Przeliczenie uruchomione.',
      phases: { queued: 'czeka na start', sync: 'odczyt rekordów z Bitrix24', rfm: 'obliczanie ocen RFM', evaluate: 'stosowanie reguł', write: 'zapis w Bitrix24', done: 'gotowe' },
      ovSegments: 'Segmenty', ovRecords: 'Rekordy', ovShare: 'Udział w bazie', ovRevenue: 'Udział w przychodzie', ovTotal: 'Razem',
      ovEmpty: 'Nie zapisano jeszcze żadnych segmentów.', ovSetUp: 'Skonfiguruj segmenty',
      ovLast: 'Ostatnie przeliczenie', ovNever: 'Jeszcze nie uruchomiono', ovQueue: 'Kolejka zadań', ovRest: 'Limity żądań Bitrix24',
      ovPending: 'oczekujące', ovActive: 'w toku', ovRetry: 'do ponowienia', ovLatency: 'najstarsze czeka {t}', ovQueueIdle: 'Bezczynna: każda zmiana została przetworzona.',
      ovRate: 'Do {n} żądań na sekundę, chwilowo do {b}', ovReqHour: 'Żądania w ostatniej godzinie: {n}', ovLimited: 'Odrzucone przez Bitrix24 z powodu tempa: {n}',
      ovOps: 'Czas metod w ostatnich 10 minutach', ovOpsLimit: 'Bitrix24 daje każdej metodzie {l} s w dowolnych 10 minutach.', ovOpsLine: '{s} z {l} s',
      ovOpsNone: 'Bitrix24 nie zgłosił czasu metod w ostatnich 10 minutach.', ovMethod: 'Metoda', ovOpsTime: 'Czas',
      ovPlan: 'Plan: {p}', plans: { free: 'Free', basic: 'Basic', standard: 'Standard', professional: 'Professional', enterprise: 'Enterprise' }, ovNA: 'Niedostępne na tym serwerze.', ovStale: '(już nie w regułach)', ovState: { queued: 'W kolejce', running: 'W toku', done: 'Zakończone', failed: 'Nieudane' },
      auEntity: 'Rekordy', auAllEntities: 'Wszystkie', auSegment: 'Segment', auAllSegments: 'Wszystkie segmenty', auRecord: 'ID rekordu',
      auWhen: 'Kiedy', auRecordCol: 'Rekord', auChange: 'Zmiana', auVersion: 'Wersja reguł', auWhy: 'Dlaczego', auEmpty: 'Brak pasujących zmian.',
      auMore: 'Pokaż więcej', auType: 'Typ',
      insTitle: 'W czasie', insEntity: 'Rekordy', period: 'Okres', days: '{n} dzień|{n} dni|{n} dni', csv: 'Pobierz CSV', csvTitle: 'Dane w pliku CSV, do arkusza kalkulacyjnego',
      trTitle: 'Wielkość segmentów dzień po dniu', trLegend: 'Segmenty na wykresie', trLatest: 'Najnowsze dane, {d}', trNoLatest: 'Nie ma jeszcze danych dziennych.',
      trWon: 'Wygrane w ciągu 12 mies.', trAvg: 'Średni deal', trOpen: 'Otwarte deale',
      mvTitle: 'Przejścia między segmentami', mvCaption: '{e}, {from} – {to}: wiersze to segment, który rekord opuścił, kolumny – ten, do którego trafił.',
      mvCorner: 'Z ↓ do →', mvMoved: 'Rekordy, które zmieniły segment: {n} (zmian łącznie: {c}).', mvNone: 'W tym okresie żaden rekord nie zmienił segmentu.',
      mvHint: 'Wybierz liczbę, aby zobaczyć jej rekordy.', mvCell: '{a} → {b}: {n}', mvRecords: '{a} → {b}: {n} rekord|{a} → {b}: {n} rekordy|{a} → {b}: {n} rekordów', mvShown: 'Pokazano ostatnie: {k}.',
      sgOpen: 'Otwórz stronę segmentu', sgBack: '← Przegląd', sgRemoved: 'Tego segmentu nie ma już w regułach.',
      sgOfTotal: '{s} z {n}', sgValue: 'Wygrane w ostatnich 12 miesiącach', sgWonDeals: '{n} wygrany deal|{n} wygrane deale|{n} wygranych deali', sgSections: 'Najważniejsze sekcje produktów',
      sgSection: 'Sekcja', sgDeals: 'Wygrane deale', sgSectionValue: 'Wygrane', sgNoSections: 'Brak wygranych deali z produktami w ostatnich 12 miesiącach.',
      sgEntries: 'Ostatnie wejścia', sgExits: 'Ostatnie wyjścia', sgNoMoves: 'Jeszcze brak.',
      sgMembersCsv: 'Pobierz rekordy segmentu (CSV)', sgMembersCsvTitle: 'Wszystkie rekordy tego segmentu z linkiem do karty i powodem, dla którego tu są, jako plik CSV',
      viewRegistry: 'Rejestr firm', registryFacts: 'Rejestr firm',
      rgIntro: 'Segmentor wyszukuje Twoje firmy w rejestrze REGON (GUS) po numerze NIP z ich rekwizytów, aby reguły segmentów mogły korzystać z danych rejestru: branży, przeważającej działalności, województwa, formy prawnej, statusu i wieku firmy.',
      rgKeyNeeded: 'Do wyszukiwania potrzebny jest klucz API do rejestru GUS: można go bezpłatnie uzyskać na api.stat.gov.pl i wpisać poniżej.',
      rgKeyDefault: 'Segmentor ma własny klucz do rejestru; zamiast niego możesz wpisać swój bezpłatny klucz GUS.',
      rgEnabled: 'Wyszukuj firmy w rejestrze', rgKey: 'Klucz API GUS', rgKeySaved: 'Klucz jest zapisany; wpisz nowy, aby go zastąpić', rgKeyNone: 'Klucz przesłany przez GUS',
      rgRemoveKey: 'Usuń klucz', rgKeyRemoving: 'Klucz zostanie usunięty po zapisaniu.', rgKeepKey: 'Zachowaj klucz',
      rgKeyIsSaved: 'zapisany', rgKeyOperator: 'używany jest klucz Segmentora', rgKeyMissing: 'nie podano',
      rgWriteBack: 'Zapisuj dane z rejestru w polach firm', rgWriteBackHint: 'Każdą wartość można kopiować do jednego z pól tekstowych firm; Segmentor dba o jej aktualność.',
      rgValue: 'Wartość z rejestru', rgField: 'Pole firmy', rgDontWrite: '— nie zapisuj —',
      rgNoFields: 'Firmy nie mają własnych pól tekstowych, do których można zapisywać. Dodaj takie pole w ustawieniach CRM.', rgSaved: 'Ustawienia rejestru zapisane.',
      rgCompanies: 'Firmy z NIP', rgFound: 'Znalezione w rejestrze', rgNotFound: 'Brak w rejestrze', rgInvalid: 'Błędny NIP (nie wysłano)',
      rgPending: 'Czekają na wyszukanie', rgUnavailable: 'Rejestr jeszcze nie odpowiedział', rgNoCompanies: 'Żadna firma nie ma jeszcze polskiego NIP w rekwizytach.',
      rgLastRun: 'Ostatnie wyszukiwanie', rgNever: 'Jeszcze nie wyszukiwano.', rgRunLine: 'Zapytano o firmy: {a} · znaleziono: {f} · brak w rejestrze: {n}',
      rgRemaining: 'Pozostało do wyszukania: {n}', rgNext: 'Następne wyszukiwanie: {t}',
      rgUnused: 'Twoje segmenty korzystają z danych rejestru, ale wyszukiwanie jest wyłączone: takie warunki nie są spełnione dla żadnej firmy.'
    },
    it: {
      admin: 'Amministratore', readOnly: 'Sola lettura',
      readOnlyNote: 'Solo un amministratore di Bitrix24 può modificare queste impostazioni; puoi consultarle e vederne l\'effetto.',
      viewOverview: 'Panoramica', viewSegments: 'Segmenti', viewChanges: 'Modifiche',
      viewLists: 'Liste', liIntro: 'Una lista è un insieme fisso di contatti o aziende: caricato da un file CSV o congelato da un segmento. Le regole la usano con la condizione “Nella lista”.',
      liNone: 'Ancora nessuna lista.', liName: 'Nome', liKey: 'chiave: {k}', liContacts: 'Contatti', liCompanies: 'Aziende', liFromSegment: 'Congelata dal segmento {f}', liFromFile: 'Caricata {f}',
      liRename: 'Rinomina', liRenamed: 'Rinominata.', liDelete: 'Elimina', liDeleteAsk: 'Eliminare la lista “{n}”? Le regole che la usano non varranno per nessuno dei suoi record.',
      liHolds: 'Contiene', liCount: 'Record', liSource: 'Origine', liUpdated: 'Aggiornata', liUseHint: 'Per usare una lista, aggiungi alla regola di un segmento la condizione “Nella lista” e scegli la lista.',
      liUpload: 'Carica una lista', liUploadHint: 'Un file CSV fino a 100.000 righe: una colonna, o un’intestazione che nomina la colonna di ID, e-mail o telefoni. Nulla viene salvato finché non confermi.',
      liBy: 'Abbina per', liByAuto: 'Rileva dal file', liByEmail: 'E-mail', liByPhone: 'Telefono', liByID: 'ID nel CRM', liFile: 'File', liUploadGo: 'Carica e abbina', liNoFile: 'Scegli prima un file CSV.',
      liReport: 'Caricamento “{n}”', liFailed: 'Abbinamento non riuscito: {e}', liMatching: 'Abbinamento con il CRM: {d} di {n} valori…', liEta: 'Mancano circa {s}.',
      liMatched: 'Record abbinati: {n}', liNotFound: 'Non trovati: {n}', liAmbiguous: 'Più record per un valore (non aggiunti): {n}', liInvalid: 'Righe illeggibili: {n}',
      liRowNotFound: 'non trovato', liRowAmbiguous: 'più record: {ids}', liRowInvalid: 'non è un valore di questo tipo', liLine: 'Riga', liValue: 'Valore', liProblem: 'Problema',
      liDownload: 'Scarica le righe non aggiunte (CSV)', liConfirm: 'Salva la lista ({n} record)', liSaved: 'Lista “{n}” salvata.', liCancel: 'Annulla',
      liFreeze: 'Congela un segmento', liFreezeHint: 'Salva i record ora nel segmento come una lista che non cambia più.', liSegment: 'Segmento', liFreezeGo: 'Congela ora', liOpen: 'Apri le liste',
      noScheme: 'Non ci sono ancora segmenti in “{e}”.', addScheme: 'Configura i segmenti: {e}',
      removeScheme: 'Rimuovi tutti i segmenti di “{e}”',
      segment: 'Segmento', otherwise: 'Tutti gli altri', order: 'n. {n}',
      name: 'Nome', key: 'Chiave', color: 'Colore', keyHint: 'es. vip',
      up: 'Sposta su', down: 'Sposta giù', remove: 'Rimuovi', reorderHint: 'Alt+↑ / Alt+↓ sposta il segmento',
      addSegment: 'Aggiungi segmento', useOtherwise: 'Metti tutti gli altri in un segmento',
      conditions: 'Condizioni', outputs: 'Quando un record entra in questo segmento',
      groupKind: 'Gruppo', addCondition: 'Aggiungi condizione', addGroup: 'Aggiungi gruppo', removeGroup: 'Rimuovi gruppo',
      fact: 'Cosa', chooseFact: '— scegli —', dealFacts: 'Deal del cliente', whereFacts: 'Dove si trova il cliente', dealOwn: 'Il deal', fields: 'Campi', customFields: 'Campi personalizzati',
      windowDays: 'Ultimi N giorni', windowAll: 'sempre', windowNeeded: 'obbligatorio', op: 'Condizione', value: 'Valore', from: 'Da', to: 'A',
      listHint: 'separati da virgole', chooseSome: 'Scegline uno o più',
      type: 'Imposta tipo', keepType: '— non modificare —', newType: 'Nuovo tipo…', typeCode: 'Codice', typeName: 'Nome',
      add: 'Aggiungi', cancel: 'Annulla', typeAdded: 'Tipo {t} aggiunto.',
      label: 'Scrivi il nome del segmento nel campo “Segmento”',
      onTrigger: 'Attiva il trigger di automazione “Segmentor: deal entrato in {s}”', onTriggerClient: 'Attiva il trigger “Segmentor: … entrato in {s}” per i deal del cliente',
      triggerHint: 'Usalo nelle regole di automazione di una fase della pipeline: CRM › Deal › Regole di automazione › Trigger › Trigger delle applicazioni.',
      onNotify: 'Notifica il responsabile (al massimo una volta al giorno per record)',
      onTimeline: 'Scrivi ogni cambio di segmento nella timeline del record',
      onBackfill: 'Anche quando si ricalcola l\'intera base (trigger, timeline, notifiche)',
      noImScope: 'Le notifiche non vengono inviate: Segmentor è stato installato senza il permesso di inviarle (“im”). Reinstalla l\'app e concedilo; tutto il resto funziona.',
      noBizprocScope: 'La regola di automazione “Segmentor: determina il segmento” non è disponibile: Segmentor è stato installato senza il permesso per le regole di automazione (“bizproc”). Reinstalla l\'app e concedilo; tutto il resto funziona.',
      movePipeline: 'Sposta i deal in una pipeline', pipeline: 'Pipeline', stage: 'Fase', apply: 'Quali deal',
      apply_new_only: 'Solo i nuovi deal', apply_first_stage: 'Deal ancora nella prima fase', apply_always: 'Tutti i deal aperti',
      save: 'Salva', check: 'Verifica', saving: 'Salvataggio…', dryrun: 'Simulazione', recompute: 'Ricalcola',
      saved: 'Salvato: versione {v}.', savedRecompute: 'Salvato: versione {v}. Segmentor ora ricalcola tutti i record con questa versione.',
      valid: 'Nessun problema trovato.', problems: 'Correggi i campi evidenziati: {n} problema.|Correggi i campi evidenziati: {n} problemi.',
      conflict: 'Qualcun altro ha salvato le impostazioni (versione {v}) mentre le stavi modificando. Le tue modifiche NON sono state salvate. Ricarica la pagina per vedere la sua versione, poi ripeti le modifiche.',
      conflictShort: 'Non salvato: qualcun altro ha salvato prima.',
      reload: 'Ricarica', version: 'Versione {v}', notSaved: 'Non ancora salvato', unsaved: 'Modifiche non salvate',
      records: { contact: '{n} contatto|{n} contatti', company: '{n} azienda|{n} aziende', deal: '{n} deal|{n} deal' },
      countLine: '{n} · {s} della base', revenueLine: '{r} del fatturato', counting: 'conteggio…', stale: 'correggi i problemi per aggiornare il conteggio',
      forExample: 'es.', rest: 'In nessun segmento',
      unsyncedFields: 'Segmentor tiene una copia solo dei campi letti dalle regole salvate: finché non salvi, le condizioni su {f} sono contate come se il campo fosse vuoto. Il ricalcolo dopo il salvataggio li legge da Bitrix24.', previewInfo: 'Conteggio in tempo reale sulla copia del tuo CRM in Segmentor ({ms} ms)', syncedAt: 'sincronizzato {t}',
      dryTitle: 'Simulazione: cosa cambierebbe il salvataggio', dryNone: 'Non cambierebbe nulla: ogni record ha già ciò che queste regole gli assegnano.',
      drySummary: 'Record che cambierebbero: {c} su {e}.', dryScheme: '{e}: cambierebbero {c} su {n}',
      dryFrom: 'Prima', dryTo: 'Dopo', dryCount: 'Record', drySamples: 'Ad esempio', dryTypes: 'Cambi di tipo', dryPipes: 'Cambi di pipeline',
      dryLabels: 'Il campo “Segmento” verrebbe scritto su {n} record.', dryStale: 'I segmenti sono cambiati dopo questa simulazione; eseguila di nuovo.',
      dryConfirm: 'Controlla cosa cambia il salvataggio, poi salva.', saveApply: 'Salva e applica', saveAnyway: 'Salva senza simulazione', close: 'Chiudi',
      jobTitle: 'Ricalcolo', jobRunning: 'Ricalcolo dei segmenti in corso', jobDone: 'Ricalcolo completato: record controllati: {n}, scritti: {w}.',
      jobFailed: 'Ricalcolo non riuscito: {e}', eta: 'mancano circa {t}', etaSoon: 'manca meno di un minuto', jobStart: 'Ricalcolo avviato.',
      phases: { queued: 'in attesa di avvio', sync: 'lettura dei record da Bitrix24', rfm: 'calcolo dei punteggi RFM', evaluate: 'applicazione delle regole', write: 'scrittura in Bitrix24', done: 'fatto' },
      ovSegments: 'Segmenti', ovRecords: 'Record', ovShare: 'Quota della base', ovRevenue: 'Quota del fatturato', ovTotal: 'Totale',
      ovEmpty: 'Non ci sono ancora segmenti salvati.', ovSetUp: 'Configura i segmenti',
      ovLast: 'Ultimo ricalcolo', ovNever: 'Non ancora eseguito', ovQueue: 'Coda di lavoro', ovRest: 'Limiti di richieste di Bitrix24',
      ovPending: 'in attesa', ovActive: 'in corso', ovRetry: 'da riprovare', ovLatency: 'il più vecchio attende da {t}', ovQueueIdle: 'Inattiva: ogni modifica è stata elaborata.',
      ovRate: '{n} richieste al secondo, picchi fino a {b}', ovReqHour: 'Richieste nell\'ultima ora: {n}', ovLimited: 'Rifiutate da Bitrix24 per la velocità: {n}',
      ovOps: 'Tempo per metodo, ultimi 10 minuti', ovOpsLimit: 'Bitrix24 concede a ogni metodo {l} s in 10 minuti qualsiasi.', ovOpsLine: '{s} su {l} s',
      ovOpsNone: 'Bitrix24 non ha segnalato tempi dei metodi negli ultimi 10 minuti.', ovMethod: 'Metodo', ovOpsTime: 'Tempo',
      ovPlan: 'Piano: {p}', plans: { free: 'Free', basic: 'Basic', standard: 'Standard', professional: 'Professional', enterprise: 'Enterprise' }, ovNA: 'Non disponibile su questo server.', ovStale: '(non più nelle regole)', ovState: { queued: 'In coda', running: 'In corso', done: 'Completato', failed: 'Non riuscito' },
      auEntity: 'Record', auAllEntities: 'Tutti', auSegment: 'Segmento', auAllSegments: 'Tutti i segmenti', auRecord: 'ID record',
      auWhen: 'Quando', auRecordCol: 'Record', auChange: 'Modifica', auVersion: 'Versione delle regole', auWhy: 'Perché', auEmpty: 'Nessuna modifica corrispondente.',
      auMore: 'Mostra altro', auType: 'Tipo',
      insTitle: 'Nel tempo', insEntity: 'Record', period: 'Periodo', days: '{n} giorno|{n} giorni', csv: 'Scarica CSV', csvTitle: 'I dati in un file CSV, per un foglio di calcolo',
      trTitle: 'Dimensione dei segmenti per giorno', trLegend: 'Segmenti nel grafico', trLatest: 'Dati più recenti, {d}', trNoLatest: 'Non ci sono ancora dati giornalieri.',
      trWon: 'Vinto in 12 mesi', trAvg: 'Deal medio', trOpen: 'Deal aperti',
      mvTitle: 'Spostamenti tra segmenti', mvCaption: '{e}, {from} – {to}: le righe sono il segmento che un record ha lasciato, le colonne quello in cui è entrato.',
      mvCorner: 'Da ↓ a →', mvMoved: 'Record che hanno cambiato segmento: {n} (modifiche in tutto: {c}).', mvNone: 'Nessun record ha cambiato segmento in questo periodo.',
      mvHint: 'Scegli un numero per elencarne i record.', mvCell: '{a} → {b}: {n}', mvRecords: '{a} → {b}: {n} record', mvShown: 'Sono elencati gli ultimi {k}.',
      sgOpen: 'Apri la pagina del segmento', sgBack: '← Panoramica', sgRemoved: 'Questo segmento non è più nelle regole.',
      sgOfTotal: '{s} su {n}', sgValue: 'Vinto negli ultimi 12 mesi', sgWonDeals: '{n} deal vinto|{n} deal vinti', sgSections: 'Sezioni di prodotti principali',
      sgSection: 'Sezione', sgDeals: 'Deal vinti', sgSectionValue: 'Vinto', sgNoSections: 'Nessun deal vinto con prodotti negli ultimi 12 mesi.',
      sgEntries: 'Ultime entrate', sgExits: 'Ultime uscite', sgNoMoves: 'Ancora nessuno.',
      sgMembersCsv: 'Scarica i record del segmento (CSV)', sgMembersCsvTitle: 'Tutti i record di questo segmento, con il link alla scheda e il motivo per cui sono qui, in un file CSV',
      viewRegistry: 'Registro delle imprese', registryFacts: 'Registro delle imprese',
      rgIntro: 'Segmentor cerca le tue aziende nel registro polacco REGON (GUS) tramite il NIP nei loro dati societari, così che le regole dei segmenti possano usare i dati del registro: settore, attività principale, voivodato, forma giuridica, stato ed età dell\'azienda.',
      rgKeyNeeded: 'Le ricerche richiedono una chiave API del registro GUS: richiedila gratuitamente su api.stat.gov.pl e inseriscila qui sotto.',
      rgKeyDefault: 'Segmentor ha una propria chiave per il registro; puoi invece inserire la tua chiave GUS gratuita.',
      rgEnabled: 'Cerca le aziende nel registro', rgKey: 'Chiave API GUS', rgKeySaved: 'Una chiave è salvata; scrivine una nuova per sostituirla', rgKeyNone: 'La chiave inviata da GUS',
      rgRemoveKey: 'Rimuovi la chiave', rgKeyRemoving: 'La chiave verrà rimossa al salvataggio.', rgKeepKey: 'Mantieni la chiave',
      rgKeyIsSaved: 'salvata', rgKeyOperator: 'si usa la chiave di Segmentor', rgKeyMissing: 'non inserita',
      rgWriteBack: 'Scrivi i dati del registro nei campi delle aziende', rgWriteBackHint: 'Ogni valore può essere copiato in uno dei campi di testo delle aziende; Segmentor lo mantiene aggiornato.',
      rgValue: 'Valore del registro', rgField: 'Campo dell\'azienda', rgDontWrite: '— non scrivere —',
      rgNoFields: 'Le aziende non hanno campi di testo personalizzati in cui scrivere. Aggiungine uno nelle impostazioni del CRM.', rgSaved: 'Impostazioni del registro salvate.',
      rgCompanies: 'Aziende con NIP', rgFound: 'Trovate nel registro', rgNotFound: 'Non presenti nel registro', rgInvalid: 'NIP non valido (non inviato)',
      rgPending: 'In attesa di ricerca', rgUnavailable: 'Il registro non ha ancora risposto', rgNoCompanies: 'Nessuna azienda ha ancora un NIP polacco nei dati societari.',
      rgLastRun: 'Ultime ricerche', rgNever: 'Nessuna ricerca finora.', rgRunLine: 'Aziende cercate: {a} · trovate: {f} · non presenti nel registro: {n}',
      rgRemaining: 'Ancora da cercare: {n}', rgNext: 'Prossime ricerche: {t}',
      rgUnused: 'I tuoi segmenti usano i dati del registro, ma le ricerche sono disattivate: queste condizioni non valgono per nessuna azienda.'
    }
  });
  var T = t.T;

  var ENTITIES = ['contact', 'company', 'deal'];
  var VIEWS = ['overview', 'segments', 'lists', 'registry', 'changes'];
  var PALETTE = ['#2fc6f6', '#9dcf00', '#ff5752', '#d4a017', '#8e52ec', '#00b4ac', '#f7a700', '#55d0e0'];
  var NUMBER_OPS = ['=', '!=', '<', '<=', '>', '>=', 'in', 'not_in', 'between', 'empty', 'not_empty'];
  var TEXT_OPS = ['=', '!=', 'in', 'not_in', 'contains', 'empty', 'not_empty'];
  var CHOICE_OPS = ['=', '!=', 'in', 'not_in', 'empty', 'not_empty'];
  // Facts of a client's location: the editor offers the values the
  // portal's clients have (GET /reference/locations).
  var LOCATION_FACTS = ['country', 'region', 'city', 'postal_prefix'];
  // Facts of a company's entry in the company registry (REGON), and the
  // order the settings page counts companies by where their lookup stands.
  function isRegistryFact(name) { return String(name).indexOf('registry:') === 0; }
  var REGISTRY_STATES = [['found', 'rgFound'], ['not_found', 'rgNotFound'], ['invalid', 'rgInvalid'], ['pending', 'rgPending'], ['unavailable', 'rgUnavailable']];
  // Which part of a condition a problem code concerns, so that its message
  // stands at that field.
  var PROBLEM_FIELD = {
    no_fact: 'fact', unknown_fact: 'fact', no_field: 'fact', bad_field: 'fact', unknown_field: 'fact', deal_only_fact: 'fact', client_only_fact: 'fact',
    window_not_allowed: 'window_days', window_range: 'window_days', window_required: 'window_days',
    no_op: 'op', unknown_op: 'op', op_not_for_fact: 'op',
    no_value: 'value', extra_value: 'value', want_number: 'value', want_text: 'value', want_list: 'value', empty_list: 'value', want_range: 'value'
  };

  var state = {
    view: 'segments', tab: 'contact',
    version: 0, ref: null, schemes: {}, problems: [], dirty: false, typeForm: null,
    preview: null, previewStale: false, dryrun: null, confirmSave: false,
    dashboard: null, audit: null, auditFilter: { entity: '', segment: '', record: '' }, auditLimit: 50,
    job: null,
    // The overview's figures over time: the scheme shown, the periods
    // chosen, the answers by entity/days (null while loading), the
    // movement cell whose records are listed; and the open segment page.
    ins: { entity: '', days: 90, moveDays: 30, trends: {}, moves: {}, cell: null },
    segPage: null
  };
  var admin = function () { return S.session.admin; };
  var ro = function () { return !S.session.admin; };
  var uidSeq = 0;
  function uid() { return 'n' + (++uidSeq); }
  var app = document.getElementById('app');

  // ---------- small DOM helpers ----------
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
  // tablist is a row of tabs moved through with the arrow keys.
  function tablist(cls, items, selected, onSelect) {
    var list = h('div', { 'class': cls, role: 'tablist' });
    items.forEach(function (it, i) {
      list.appendChild(h('button', { type: 'button', role: 'tab', 'class': 'tab', id: it.id, 'aria-selected': String(it.value === selected),
        tabindex: it.value === selected ? '0' : '-1', 'data-value': it.value, onclick: function () { onSelect(it.value); },
        onkeydown: function (ev) {
          var d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
          if (!d) return;
          ev.preventDefault();
          var next = items[(i + d + items.length) % items.length];
          onSelect(next.value);
          var el = document.getElementById(next.id);
          if (el) el.focus();
        } }, it.label));
    });
    return list;
  }
  function segmentInfo(entity, key) {
    var sc = state.schemes[entity];
    if (!key) return { name: t('noSegment'), color: '#d5dade', none: true };
    var all = sc ? sc.segments.concat(sc.otherwise ? [sc.otherwise] : []) : [];
    for (var i = 0; i < all.length; i++) if (all[i].key === key) return { name: all[i].name || key, color: all[i].color };
    return { name: key, color: '' };
  }
  function badgeOf(entity, key, name) {
    var s = segmentInfo(entity, key);
    if (s.none) return h('span', { 'class': 'seg-badge seg-badge--none' }, t('noSegment'));
    return S.segBadge(name || s.name, s.color);
  }
  // samplesLine names a few records of a segment; each says why it is
  // there (the server's reason) on hover, or, detailed, below its name.
  // words is the server's label of a fact, operator or group (the same
  // words its explanations and messages use), else the code.
  function words(kind, key) {
    var w = (state.ref && state.ref.words && state.ref.words[kind]) || {};
    return w[key] || key;
  }

  function samplesLine(samples, detailed) {
    if (!samples || !samples.length) return null;
    var link = function (x) {
      var why = x.why ? [x.why.summary].concat((x.why.lines || []).filter(function (l) { return l !== x.why.summary; })).join('\n') : null;
      var a = S.crmLink(x.url, x.title || ('#' + x.id), 'sample');
      if (why) { a.title = why; a.setAttribute('data-why', x.why.summary); }
      return a;
    };
    if (detailed) {
      return h('ul', { 'class': 'sample-list' }, samples.slice(0, 3).map(function (x) {
        return h('li', null, link(x), S.why(x.why));
      }));
    }
    var out = [h('span', { 'class': 'muted' }, t('forExample') + ' ')];
    samples.slice(0, 3).forEach(function (x, i) {
      if (i) out.push(', ');
      out.push(link(x));
    });
    return out;
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
  function asGroup(n) { return n.kind === 'group' ? n : { uid: uid(), kind: 'group', op: 'all', children: [n] }; }

  function fromSegment(s, withWhen) {
    var set = s.set || {};
    return {
      uid: uid(), key: s.key || '', name: s.name || '', color: s.color || '',
      when: withWhen ? (s.when ? asGroup(fromCond(s.when)) : newGroup('all')) : null,
      set: { type: set.type || '', label: !!set.label, pipeline: set.pipeline ? {
        category_id: set.pipeline.category_id, stage_id: set.pipeline.stage_id || '', apply: set.pipeline.apply || 'new_only' } : null },
      // null: the default (a deal segment fires its trigger, a client's does not)
      onEntry: { trigger: s.on_entry && typeof s.on_entry.trigger === 'boolean' ? s.on_entry.trigger : null, notify: !!(s.on_entry && s.on_entry.notify) }
    };
  }

  function load(cfg) {
    state.schemes = {};
    (cfg.schemes || []).forEach(function (sc) {
      if (ENTITIES.indexOf(sc.entity) < 0) return;
      state.schemes[sc.entity] = {
        segments: (sc.segments || []).map(function (s) { return fromSegment(s, true); }),
        otherwise: sc.otherwise ? fromSegment(sc.otherwise, false) : null,
        timeline: sc.timeline !== false, backfillActions: !!sc.backfill_actions
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
    var on = {};
    if (s.onEntry && s.onEntry.trigger !== null && s.onEntry.trigger !== (entity === 'deal')) on.trigger = s.onEntry.trigger;
    if (s.onEntry && s.onEntry.notify) on.notify = true;
    if (Object.keys(on).length) out.on_entry = on;
    return out;
  }

  // toConfig builds the draft config and gives every model node its path,
  // which is how problems find their fields and previews their segments.
  function toConfig() {
    var schemes = [];
    ENTITIES.forEach(function (e) {
      var sc = state.schemes[e];
      if (!sc) return;
      var path = 'schemes[' + schemes.length + ']';
      sc.path = path;
      var o = { entity: e, segments: sc.segments.map(function (s, i) { return toSegment(s, path + '.segments[' + i + ']', e); }) };
      if (sc.otherwise) o.otherwise = toSegment(sc.otherwise, path + '.otherwise', e);
      if (sc.timeline === false) o.timeline = false;
      if (sc.backfillActions) o.backfill_actions = true;
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
    var list = (state.ref.fields || {})[entity] || [];
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
    if (n.fact === 'static_list') {
      return { kind: 'text', choices: (state.lists || []).filter(function (l) { return l.entity === entity; })
        .map(function (l) { return { id: l.key, name: l.name + ' · ' + S.num(l.count) }; }) };
    }
    if (isRegistryFact(n.fact) && n.op !== 'contains') {
      var named = ((state.ref.words || {}).values || {})[n.fact];
      if (named) return { kind: 'text', choices: Object.keys(named).sort().map(function (k) { return { id: k, name: named[k] }; }) };
      if (n.fact === 'registry:region' && (state.ref.registry_regions || []).length) {
        return { kind: 'text', choices: state.ref.registry_regions.map(function (v) { return { id: v, name: v }; }) };
      }
    }
    if (LOCATION_FACTS.indexOf(n.fact) >= 0 && n.op !== 'contains') {
      var have = ((state.locations || {})[entity] || {})[n.fact] || [];
      if (have.length) return { kind: 'text', choices: have.map(function (v) { return { id: v.id, name: v.name + ' · ' + v.count }; }) };
    }
    var info = factInfo(n.fact);
    return { kind: info && info.kind === 'number' ? 'number' : 'text' };
  }
  // opsFor lists the operators that fit a condition's fact: a field's by
  // its type, a fact's as the server lists them.
  function opsFor(entity, n) {
    if (!n.fact) return state.ref.operators || [];
    if (n.fact.indexOf('field:') === 0) {
      var spec = valueSpec(entity, n);
      return spec.choices ? CHOICE_OPS : spec.kind === 'number' ? NUMBER_OPS : TEXT_OPS;
    }
    var info = factInfo(n.fact);
    return info ? info.ops : (state.ref.operators || []);
  }

  // ---------- render ----------
  function render() {
    var focused = document.activeElement && document.activeElement.id;
    toConfig(); // assigns paths
    app.textContent = '';
    app.removeAttribute('aria-busy');
    if (ro()) app.appendChild(h('div', { 'class': 'notice notice--inline', id: 'readonly-note' }, h('div', null, t('readOnlyNote'))));
    // The changes name records of any owner: administrators only (the API
    // refuses them to others).
    var views = admin() ? VIEWS : VIEWS.filter(function (v) { return v !== 'changes'; });
    if (views.indexOf(state.view) < 0) state.view = views[0];
    app.appendChild(tablist('tabs tabs--views', views.map(function (v) {
      return { id: 'view-' + v, value: v, label: t('view' + v[0].toUpperCase() + v.slice(1)) };
    }), state.view, showView));
    var panel = h('section', { role: 'tabpanel', id: 'panel-' + state.view, 'aria-labelledby': 'view-' + state.view, 'class': 'view view--' + state.view });
    if (state.view === 'overview') renderOverview(panel);
    else if (state.view === 'changes') renderAudit(panel);
    else if (state.view === 'lists') renderLists(panel);
    else if (state.view === 'registry') renderRegistry(panel);
    else renderEditor(panel);
    app.appendChild(panel);
    if (state.view === 'segments') { applyProblems(); paintCounts(); }
    if (focused) {
      var el = document.getElementById(focused);
      if (el) el.focus();
    }
    S.fit();
  }

  function showView(v) {
    state.view = v;
    state.segPage = null;
    document.body.setAttribute('data-view', v);
    render();
    if (v === 'overview') loadDashboard();
    if (v === 'changes') loadAudit();
    if (v === 'lists') loadLists().then(function () { paintLists(); });
    if (v === 'registry') loadRegistry();
  }

  // ---------- lists ----------
  // Static lists: a CSV upload matched by the CRM's duplicate search into a
  // report the admin confirms, or a segment frozen as it is now; rules read
  // them with the static_list fact.
  function loadLists() {
    return api('GET', '/lists').then(function (r) {
      if (r.status === 200) state.lists = r.data.lists || [];
      return r;
    });
  }
  function listName(key) {
    for (var i = 0; i < (state.lists || []).length; i++) if (state.lists[i].key === key) return state.lists[i].name;
    return key;
  }
  function renderLists(panel) {
    var box = h('div', { 'class': 'lists', id: 'lists' });
    panel.appendChild(box);
    paintLists(box);
  }
  function paintLists(box) {
    box = box || document.getElementById('lists');
    if (!box) return;
    box.textContent = '';
    box.appendChild(h('p', { 'class': 'muted' }, t('liIntro')));
    if (admin()) box.appendChild(uploadCard());
    if (state.listDraft) box.appendChild(draftCard(state.listDraft));
    if (admin()) box.appendChild(freezeCard());
    var lists = state.lists || [];
    if (!lists.length) { box.appendChild(h('p', { 'class': 'muted', id: 'li-none' }, t('liNone'))); S.fit(); return; }
    var body = h('tbody');
    lists.forEach(function (l) {
      var name = h('input', { type: 'text', value: l.name, 'aria-label': t('liName'), id: 'li-name-' + l.key, disabled: !admin() });
      body.appendChild(h('tr', { 'data-list': l.key },
        h('td', null, admin() ? name : l.name, h('div', { 'class': 'muted' }, t('liKey', { k: l.key }))),
        h('td', null, t(l.entity === 'company' ? 'liCompanies' : 'liContacts')),
        h('td', { 'class': 'num' }, S.num(l.count)),
        h('td', null, t(l.source === 'freeze' ? 'liFromSegment' : 'liFromFile', { f: l.from || '' })),
        h('td', null, dayText((l.updated_at || '').slice(0, 10))),
        h('td', null, admin() ? [
          button(t('liRename'), 'li-rename', function () {
            api('PATCH', '/lists/' + encodeURIComponent(l.key), { name: name.value }).then(function (r) {
              if (r.status !== 200) { S.notice('err', S.message(r)); return; }
              S.notice('ok', t('liRenamed')); loadLists().then(function () { paintLists(); });
            });
          }, 'btn--link'),
          button(t('liDelete'), 'li-delete', function () {
            if (!window.confirm(t('liDeleteAsk', { n: l.name }))) return;
            api('DELETE', '/lists/' + encodeURIComponent(l.key)).then(function (r) {
              if (r.status !== 204) { S.notice('err', S.message(r)); return; }
              loadLists().then(function () { paintLists(); });
            });
          }, 'btn--link')] : null)));
    });
    box.appendChild(h('table', { 'class': 'table', id: 'li-table' },
      h('thead', null, h('tr', null, h('th', null, t('liName')), h('th', null, t('liHolds')), h('th', { 'class': 'num' }, t('liCount')),
        h('th', null, t('liSource')), h('th', null, t('liUpdated')), h('th', null, ''))), body));
    box.appendChild(h('p', { 'class': 'muted' }, t('liUseHint')));
    S.fit();
  }
  function uploadCard() {
    var name = h('input', { type: 'text', id: 'li-up-name', 'aria-label': t('liName') });
    var entity = select([{ value: 'contact', label: t('liContacts') }, { value: 'company', label: t('liCompanies') }], 'contact', { id: 'li-up-entity' });
    var by = select([{ value: '', label: t('liByAuto') }, { value: 'email', label: t('liByEmail') }, { value: 'phone', label: t('liByPhone') }, { value: 'id', label: t('liByID') }], '', { id: 'li-up-by' });
    var file = h('input', { type: 'file', id: 'li-up-file', accept: '.csv,text/csv,text/plain' });
    return h('section', { 'class': 'card', id: 'li-upload' }, h('h3', null, t('liUpload')),
      h('p', { 'class': 'muted' }, t('liUploadHint')),
      field(t('liName'), name), field(t('liHolds'), entity), field(t('liBy'), by), field(t('liFile'), file),
      button(t('liUploadGo'), 'li-upload-go', function (ev) {
        var f = file.files && file.files[0];
        if (!f) { S.notice('err', t('liNoFile')); return; }
        var btn = ev.currentTarget;
        btn.disabled = true;
        var q = '?name=' + encodeURIComponent(name.value) + '&entity=' + encodeURIComponent(entity.value) +
          '&by=' + encodeURIComponent(by.value) + '&file=' + encodeURIComponent(f.name);
        fetch('/api/v1/list-uploads' + q, { method: 'POST', headers: { 'Content-Type': 'text/csv', Authorization: 'Bearer ' + S.session.token }, body: f })
          .then(function (resp) { return resp.json().catch(function () { return {}; }).then(function (d) { return { status: resp.status, data: d }; }); })
          .then(function (r) {
            btn.disabled = false;
            if (r.status !== 202) { S.notice('err', S.message(r)); return; }
            state.listDraft = r.data;
            paintLists();
            watchDraft();
          }, function () { btn.disabled = false; S.notice('err', t('network')); });
      }, 'btn--primary'));
  }
  function watchDraft() {
    var d = state.listDraft;
    if (!d || (d.state !== 'queued' && d.state !== 'running')) return;
    setTimeout(function () {
      if (!state.listDraft || state.listDraft.id !== d.id) return;
      api('GET', '/list-uploads/' + d.id).then(function (r) {
        if (r.status !== 200) { S.notice('err', S.message(r)); state.listDraft = null; paintLists(); return; }
        state.listDraft = r.data;
        paintLists();
        watchDraft();
      });
    }, 1000);
  }
  function draftCard(d) {
    var card = h('section', { 'class': 'card', id: 'li-draft', 'aria-live': 'polite' }, h('h3', null, t('liReport', { n: d.name })));
    if (d.state === 'failed') { card.appendChild(h('p', { 'class': 'err' }, t('liFailed', { e: d.error || '' }))); return card; }
    if (d.state !== 'done') {
      card.appendChild(h('p', { id: 'li-progress' }, t('liMatching', { d: S.num(d.done), n: S.num(d.total) }) +
        (d.eta_s ? ' ' + t('liEta', { s: S.duration(d.eta_s) }) : '')));
      return card;
    }
    card.appendChild(h('ul', { 'class': 'li-counts' },
      h('li', { id: 'li-matched' }, t('liMatched', { n: S.num(matchedOf(d)) })),
      h('li', { id: 'li-notfound' }, t('liNotFound', { n: S.num(d.not_found) })),
      h('li', { id: 'li-ambiguous' }, t('liAmbiguous', { n: S.num(d.ambiguous) })),
      h('li', { id: 'li-invalid' }, t('liInvalid', { n: S.num(d.invalid) }))));
    var s = d.samples || {};
    var rows = [];
    (s.not_found || []).forEach(function (x) { rows.push([x.line, x.raw, t('liRowNotFound')]); });
    (s.ambiguous || []).forEach(function (x) { rows.push([x.line, x.raw, t('liRowAmbiguous', { ids: (x.ids || []).join(', ') })]); });
    (s.invalid || []).forEach(function (x) { rows.push([x.line, x.raw, t('liRowInvalid')]); });
    if (rows.length) {
      card.appendChild(h('table', { 'class': 'table', id: 'li-samples' },
        h('thead', null, h('tr', null, h('th', { 'class': 'num' }, t('liLine')), h('th', null, t('liValue')), h('th', null, t('liProblem')))),
        h('tbody', null, rows.map(function (r) { return h('tr', null, h('td', { 'class': 'num' }, String(r[0])), h('td', null, r[1]), h('td', null, r[2])); }))));
      card.appendChild(button(t('liDownload'), 'li-download', function () {
        S.download('/list-uploads/' + d.id + '/not-found.csv', 'not-found-' + d.id + '.csv');
      }, 'btn--link', { id: 'li-download' }));
    }
    card.appendChild(h('div', { 'class': 'actions' },
      button(t('liConfirm', { n: S.num(matchedOf(d)) }), 'li-confirm', function () {
        api('POST', '/list-uploads/' + d.id + '/confirm').then(function (r) {
          if (r.status !== 201) { S.notice('err', S.message(r)); return; }
          state.listDraft = null;
          S.notice('ok', t('liSaved', { n: r.data.name }));
          loadLists().then(function () { paintLists(); });
        });
      }, 'btn--primary', { id: 'li-confirm' }),
      button(t('liCancel'), 'li-cancel', function () {
        api('DELETE', '/list-uploads/' + d.id);
        state.listDraft = null;
        paintLists();
      }, '', { id: 'li-cancel' })));
    return card;
  }
  function matchedOf(d) { return d.matched || 0; }
  function freezeCard() {
    var opts = [];
    ['contact', 'company'].forEach(function (e) {
      var sc = state.schemes[e];
      if (!sc) return;
      sc.segments.concat(sc.otherwise ? [sc.otherwise] : []).forEach(function (s) {
        if (s.key) opts.push({ value: e + ':' + s.key, label: (s.name || s.key) + ' (' + t(e) + ')' });
      });
    });
    if (!opts.length) return null;
    var seg = select(opts, opts[0].value, { id: 'li-fr-seg' });
    var name = h('input', { type: 'text', id: 'li-fr-name', 'aria-label': t('liName') });
    return h('section', { 'class': 'card', id: 'li-freeze' }, h('h3', null, t('liFreeze')),
      h('p', { 'class': 'muted' }, t('liFreezeHint')),
      field(t('liSegment'), seg), field(t('liName'), name),
      button(t('liFreezeGo'), 'li-freeze-go', function () {
        var parts = seg.value.split(':');
        api('POST', '/lists/freeze', { entity: parts[0], segment: parts[1], name: name.value }).then(function (r) {
          if (r.status !== 201) { S.notice('err', S.message(r)); return; }
          S.notice('ok', t('liSaved', { n: r.data.name }));
          loadLists().then(function () { paintLists(); });
        });
      }));
  }
  // listsCard is the overview's card of the lists: each a scheme of its
  // own, with its size and the way to its page.
  function listsCard() {
    var lists = state.lists || [];
    if (!lists.length) return null;
    return h('section', { 'class': 'card ov-lists', id: 'ov-lists' }, h('h3', null, t('viewLists')),
      h('ul', null, lists.map(function (l) {
        return h('li', null, l.name + ' · ' + t(l.entity === 'company' ? 'liCompanies' : 'liContacts') + ': ' + S.num(l.count));
      })),
      button(t('liOpen'), 'ov-lists-open', function () { showView('lists'); }, 'btn--link'));
  }

  // ---------- company registry ----------
  // Lookups in Poland's REGON registry by the NIP in a company's
  // requisites, which give the registry facts of the rules. Everyone sees
  // how they stand; administrators turn them on, give the GUS API key and
  // choose the company fields registry values are written into.
  function loadRegistry() {
    return api('GET', '/registry').then(function (r) {
      if (r.status !== 200) { if (r.status) S.notice('err', S.message(r)); return; }
      setRegistry(r.data);
      paintRegistry();
    });
  }
  // setRegistry takes the server's view and starts the form's draft from
  // it: the key is never sent back, only whether there is one.
  function setRegistry(v) {
    var wb = {};
    Object.keys(v.write_back || {}).forEach(function (k) { wb[k] = v.write_back[k]; });
    state.registry = v;
    state.rgDraft = { enabled: !!v.enabled, key: '', removeKey: false, writeBack: wb };
    state.rgError = '';
  }
  function renderRegistry(panel) {
    var box = h('div', { 'class': 'registry', id: 'registry' });
    panel.appendChild(box);
    paintRegistry(box);
  }
  function paintRegistry(box) {
    box = box || document.getElementById('registry');
    if (!box) return;
    var v = state.registry;
    if (!v) { repaint(box, h('p', { 'class': 'muted' }, t('loading'))); return; }
    repaint(box, [
      h('p', { 'class': 'muted', id: 'rg-intro' }, t('rgIntro') + ' ' + t(v.default_key ? 'rgKeyDefault' : 'rgKeyNeeded')),
      v.problem ? h('p', { 'class': 'callout callout--err', id: 'rg-problem', role: 'alert' }, v.problem) : null,
      v.used_by_rules && !v.enabled ? h('p', { 'class': 'callout callout--warn', id: 'rg-unused' }, t('rgUnused')) : null,
      registryForm(v), registryStatus(v)]);
  }
  function registryForm(v) {
    var d = state.rgDraft, edit = admin();
    var card = h('section', { 'class': 'card rg-form', id: 'rg-form' },
      h('label', { 'class': 'check' }, h('input', { type: 'checkbox', id: 'rg-enabled', checked: d.enabled, disabled: !edit,
        onchange: function (ev) { d.enabled = ev.target.checked; } }), t('rgEnabled')));
    if (edit) {
      card.appendChild(h('div', { 'class': 'row rg-key-row' },
        field(t('rgKey'), h('input', { type: 'password', id: 'rg-key', autocomplete: 'off', spellcheck: 'false', maxlength: 64, value: d.key,
          placeholder: v.has_key && !d.removeKey ? t('rgKeySaved') : t('rgKeyNone'),
          oninput: function (ev) { d.key = ev.target.value; } }), null, 'field--grow rg-key'),
        v.has_key && !d.removeKey ? button(t('rgRemoveKey'), 'rg-remove-key', function () { d.removeKey = true; d.key = ''; paintRegistry(); }, 'btn--link btn--danger', { id: 'rg-remove-key' }) : null,
        d.removeKey ? [h('span', { 'class': 'warn', id: 'rg-key-removing' }, t('rgKeyRemoving')),
          button(t('rgKeepKey'), 'rg-keep-key', function () { d.removeKey = false; paintRegistry(); }, 'btn--link', { id: 'rg-keep-key' })] : null));
    } else {
      card.appendChild(h('p', { id: 'rg-key-state' }, t('rgKey') + ': ' + (v.has_key ? t('rgKeyIsSaved') : v.default_key ? t('rgKeyOperator') : t('rgKeyMissing'))));
    }
    card.appendChild(h('h4', null, t('rgWriteBack')));
    card.appendChild(h('p', { 'class': 'muted' }, t('rgWriteBackHint')));
    var fields = v.fields || [];
    if (!fields.length) card.appendChild(h('p', { 'class': 'muted', id: 'rg-no-fields' }, t('rgNoFields')));
    else {
      card.appendChild(h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table rg-writeback', id: 'rg-writeback' },
        h('thead', null, h('tr', null, h('th', null, t('rgValue')), h('th', null, t('rgField')))),
        h('tbody', null, (v.values || []).map(function (val) {
          var chosen = d.writeBack[val.id] || '';
          var opts = [{ value: '', label: t('rgDontWrite') }].concat(fields.map(function (f) { return { value: f.id, label: f.name + (f.name !== f.id ? ' (' + f.id + ')' : '') }; }));
          if (chosen && !fields.some(function (f) { return f.id === chosen; })) opts.push({ value: chosen, label: chosen });
          return h('tr', { 'data-value': val.id }, h('td', null, val.name),
            h('td', null, select(opts, chosen, { id: 'rg-wb-' + val.id, 'class': 'rg-wb', 'aria-label': val.name, disabled: !edit,
              onchange: function (ev) { d.writeBack[val.id] = ev.target.value; } })));
        })))));
    }
    if (state.rgError) card.appendChild(h('p', { 'class': 'err', id: 'rg-error', role: 'alert' }, state.rgError));
    if (edit) card.appendChild(h('div', { 'class': 'row row--actions' }, button(t('save'), 'rg-save', saveRegistry, 'btn--primary', { id: 'rg-save' })));
    return card;
  }
  // saveRegistry sends the draft: the key only when one was typed, or ""
  // to remove it; an error stays at the form, and so does what was typed.
  function saveRegistry(ev) {
    var d = state.rgDraft, btn = ev.currentTarget;
    var body = { enabled: d.enabled, write_back: d.writeBack };
    if (d.key.trim() !== '') body.key = d.key.trim();
    else if (d.removeKey) body.key = '';
    btn.disabled = true;
    btn.textContent = t('saving');
    api('PUT', '/registry', body).then(function (r) {
      if (r.status === 200) {
        setRegistry(r.data);
        paintRegistry();
        S.notice('ok', t('rgSaved'));
        return;
      }
      state.rgError = S.message(r);
      paintRegistry();
      var key = document.getElementById('rg-key');
      if (key && d.key) key.focus();
    });
  }
  function registryStatus(v) {
    var c = v.counts || {}, run = v.last_run;
    var total = REGISTRY_STATES.reduce(function (n, s) { return n + (c[s[0]] || 0); }, 0);
    return h('section', { 'class': 'card rg-status', id: 'rg-status' },
      h('h3', { 'class': 'card__title' }, t('rgCompanies')),
      total ? h('dl', { 'class': 'facts rg-counts', id: 'rg-counts' }, REGISTRY_STATES.map(function (s) {
        return [h('dt', null, t(s[1])), h('dd', { 'data-state': s[0] }, S.num(c[s[0]] || 0))];
      })) : h('p', { 'class': 'muted', id: 'rg-counts' }, t('rgNoCompanies')),
      h('h4', { 'class': 'stat__sub' }, t('rgLastRun')),
      run && run.at ? h('div', { id: 'rg-run' },
        h('p', null, S.when(run.at)),
        run.asked ? h('p', null, t('rgRunLine', { a: S.num(run.asked), f: S.num(run.found || 0), n: S.num(run.not_found || 0) })) : null,
        run.remaining ? h('p', null, t('rgRemaining', { n: S.num(run.remaining) })) : null,
        run.next ? h('p', { 'class': 'muted' }, t('rgNext', { t: S.when(run.next) })) : null)
        : h('p', { 'class': 'muted', id: 'rg-run' }, t('rgNever')));
  }

  // ---------- editor ----------
  function renderEditor(panel) {
    panel.appendChild(tablist('tabs', ENTITIES.map(function (e) {
      var sc = state.schemes[e];
      var n = sc ? sc.segments.length + (sc.otherwise ? 1 : 0) : 0;
      return { id: 'tab-' + e, value: e, label: t(e) + (n ? ' (' + n + ')' : '') };
    }), state.tab, function (e) { state.tab = e; render(); }));
    panel.appendChild(renderScheme(state.tab));
    if (state.dryrun) panel.appendChild(renderDryrun());
    panel.appendChild(renderFooter());
  }

  function renderScheme(e) {
    var sc = state.schemes[e];
    var box = h('div', { 'class': 'scheme', 'data-entity': e, 'data-path': sc ? sc.path : null });
    if (!sc) {
      box.appendChild(h('div', { 'class': 'empty' }, h('p', null, t('noScheme', { e: t(e) })),
        admin() ? button(t('addScheme', { e: t(e) }), 'add-scheme', function () {
          state.schemes[e] = { segments: [newSegment(0)], otherwise: null };
          changed(true);
        }, 'btn--primary') : null));
      return box;
    }
    box.appendChild(h('p', { 'class': 'preview-info muted', id: 'preview-info' }));
    sc.segments.forEach(function (s, i) { box.appendChild(renderSegment(e, sc, s, i)); });
    if (admin()) {
      box.appendChild(h('div', { 'class': 'row row--actions' },
        button('+ ' + t('addSegment'), 'add-segment', function () { sc.segments.push(newSegment(sc.segments.length)); changed(true); }),
        h('label', { 'class': 'check' }, h('input', { type: 'checkbox', id: 'otherwise-' + e, 'data-action': 'toggle-otherwise', checked: !!sc.otherwise,
          onchange: function (ev) {
            sc.otherwise = ev.target.checked ? { uid: uid(), key: 'other', name: t('otherwise'), color: '#a8adb4', when: null, set: { type: '', label: true, pipeline: null } } : null;
            changed(true);
          } }), t('useOtherwise')),
        button(t('removeScheme', { e: t(e) }), 'remove-scheme', function () { delete state.schemes[e]; changed(true); }, 'btn--link btn--danger')));
    }
    if (sc.otherwise) box.appendChild(renderSegment(e, sc, sc.otherwise, -1));
    else box.appendChild(h('div', { 'class': 'rest', id: 'rest-' + e, 'data-entity': e, 'data-index': 'rest' },
      S.swatch('#d5dade'), h('span', null, t('rest')), h('span', { 'class': 'seg-count' }), h('div', { 'class': 'seg-samples' })));
    box.appendChild(h('div', { 'class': 'row scheme-acts' },
      h('label', { 'class': 'check' }, h('input', { type: 'checkbox', id: 'timeline-' + e, checked: sc.timeline !== false, disabled: ro(),
        onchange: function (ev) { sc.timeline = ev.target.checked; changed(false); } }), t('onTimeline')),
      h('label', { 'class': 'check' }, h('input', { type: 'checkbox', id: 'backfill-acts-' + e, checked: !!sc.backfillActions, disabled: ro(),
        onchange: function (ev) { sc.backfillActions = ev.target.checked; changed(false); } }), t('onBackfill'))));
    if ((state.missingScopes || []).indexOf('im') >= 0 && schemeNotifies(sc)) box.appendChild(h('p', { 'class': 'warn', id: 'scope-im' }, t('noImScope')));
    if ((state.missingScopes || []).indexOf('bizproc') >= 0 && e === 'deal') box.appendChild(h('p', { 'class': 'warn', id: 'scope-bizproc' }, t('noBizprocScope')));
    return box;
  }

  function schemeNotifies(sc) {
    return sc.segments.concat(sc.otherwise ? [sc.otherwise] : []).some(function (s) { return s.onEntry && s.onEntry.notify; });
  }

  function newSegment(i) {
    var s = fromSegment({ set: { label: true } }, true);
    s.color = PALETTE[i % PALETTE.length];
    return s;
  }

  function renderSegment(e, sc, s, i) {
    var other = i < 0;
    var id = s.uid;
    var card = h('article', { 'class': 'card segment', 'data-path': s.path, 'data-key': s.key, 'data-entity': e, 'data-index': other ? 'otherwise' : String(i),
      style: 'border-left-color:' + S.safeColor(s.color),
      onkeydown: other || ro() ? null : function (ev) {
        if (!ev.altKey || (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown')) return;
        ev.preventDefault();
        move(sc.segments, i, ev.key === 'ArrowUp' ? -1 : 1);
      } });
    var head = h('div', { 'class': 'card__head' },
      S.swatch(s.color),
      h('h3', { 'class': 'card__title' }, s.name || (other ? t('otherwise') : t('segment'))),
      h('span', { 'class': 'seg-count', id: id + '-count', 'aria-live': 'polite' }),
      h('span', { 'class': 'card__order' }, other ? t('otherwise') : t('order', { n: i + 1 })));
    if (admin() && !other) {
      head.appendChild(h('span', { 'class': 'card__tools', title: t('reorderHint') },
        button('↑', 'up', function () { move(sc.segments, i, -1); }, 'btn--icon', { 'aria-label': t('up') + ': ' + (s.name || i + 1), id: id + '-up', disabled: i === 0 }),
        button('↓', 'down', function () { move(sc.segments, i, 1); }, 'btn--icon', { 'aria-label': t('down') + ': ' + (s.name || i + 1), id: id + '-down', disabled: i === sc.segments.length - 1 }),
        button('✕', 'remove-segment', function () { sc.segments.splice(i, 1); changed(true); }, 'btn--icon', { 'aria-label': t('remove') + ': ' + (s.name || i + 1) })));
    }
    card.appendChild(head);
    card.appendChild(h('div', { 'class': 'seg-samples' }));
    card.appendChild(h('div', { 'class': 'row' },
      field(t('name'), h('input', { type: 'text', id: id + '-name', 'class': 'seg-name', value: s.name, disabled: ro(), maxlength: 100,
        oninput: function (ev) { s.name = ev.target.value; card.querySelector('.card__title').textContent = s.name || t('segment'); changed(false); } }), s.path + '.name', 'field--grow'),
      field(t('key'), h('input', { type: 'text', id: id + '-key', 'class': 'seg-key', value: s.key, disabled: ro(), placeholder: t('keyHint'), maxlength: 32,
        oninput: function (ev) { s.key = ev.target.value; changed(false); } }), s.path + '.key'),
      field(t('color'), h('input', { type: 'color', id: id + '-color', 'class': 'seg-color', value: S.safeColor(s.color), disabled: ro(),
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
    var box = h('div', { 'class': 'group group--' + g.op, 'data-path': g.path, 'data-uid': g.uid });
    var head = h('div', { 'class': 'group__head' },
      select(['all', 'any', 'not'].map(function (k) { return { value: k, label: words('groups', k) }; }), g.op,
        { id: g.uid + '-op', 'class': 'group-op', 'aria-label': t('groupKind'), disabled: ro(), onchange: function (ev) { g.op = ev.target.value; changed(true); } }));
    if (admin() && parent) {
      head.appendChild(button(t('removeGroup'), 'remove-group', function () { parent.children.splice(parent.children.indexOf(g), 1); changed(true); }, 'btn--link'));
    }
    box.appendChild(head);
    g.children.forEach(function (c) {
      box.appendChild(c.kind === 'group' ? renderGroup(e, c, g) : renderLeaf(e, c, g));
    });
    if (admin()) {
      box.appendChild(h('div', { 'class': 'row row--add' },
        button('+ ' + t('addCondition'), 'add-condition', function () { g.children.push(newLeaf()); changed(true); }, 'btn--link', { id: g.uid + '-addc' }),
        button('+ ' + t('addGroup'), 'add-group', function () { g.children.push(newGroup(g.op === 'all' ? 'any' : 'all')); changed(true); }, 'btn--link', { id: g.uid + '-addg' })));
    }
    return box;
  }

  function factOptions(e, current) {
    var facts = (state.ref.facts || []).filter(function (f) { return f.name !== 'field:NAME' && (f.entities || []).indexOf(e) >= 0; });
    var std = [], custom = [];
    ((state.ref.fields || {})[e] || []).forEach(function (f) {
      (f.custom ? custom : std).push({ value: 'field:' + f.id, label: f.title + (f.title !== f.id ? ' (' + f.id + ')' : '') });
    });
    var opts = [{ value: '', label: t('chooseFact') }];
    var where = facts.filter(function (f) { return LOCATION_FACTS.indexOf(f.name) >= 0; });
    var registry = facts.filter(function (f) { return isRegistryFact(f.name); });
    facts = facts.filter(function (f) { return LOCATION_FACTS.indexOf(f.name) < 0 && !isRegistryFact(f.name); });
    var labelled = function (f) { return { value: f.name, label: words('facts', f.name) }; };
    if (facts.length) opts.push({ group: e === 'deal' ? t('dealOwn') : t('dealFacts'), options: facts.map(labelled) });
    if (where.length) opts.push({ group: t('whereFacts'), options: where.map(labelled) });
    if (registry.length) opts.push({ group: t('registryFacts'), options: registry.map(labelled) });
    if (std.length) opts.push({ group: t('fields'), options: std });
    if (custom.length) opts.push({ group: t('customFields'), options: custom });
    var known = current === '' || facts.concat(where, registry).some(function (f) { return f.name === current; }) || std.concat(custom).some(function (f) { return f.value === current; });
    if (!known) opts.push({ value: current, label: current });
    return opts;
  }

  function renderLeaf(e, n, parent) {
    var row = h('div', { 'class': 'cond', 'data-path': n.path, 'data-uid': n.uid });
    var info = n.fact ? factInfo(n.fact) : null;
    row.appendChild(field(t('fact'), select(factOptions(e, n.fact), n.fact, { 'class': 'fact', id: n.uid + '-fact', disabled: ro(),
      onchange: function (ev) {
        var before = valueSpec(e, n);
        n.fact = ev.target.value;
        var inf = factInfo(n.fact);
        var ops = opsFor(e, n);
        if (n.op && ops.indexOf(n.op) < 0) n.op = ops[0] || '';
        if (!n.op && ops.length) n.op = ops[0];
        if (inf && inf.window === 'none') n.window_days = '';
        var after = valueSpec(e, n);
        if (after.kind !== before.kind || after.choices || before.choices) n.value = undefined;
        changed(true);
      } }), n.path + '.fact', 'field--fact'));
    if (info && info.window !== 'none') {
      row.appendChild(field(t('windowDays'), h('input', { type: 'number', min: 1, max: 3650, 'class': 'window', id: n.uid + '-window', value: n.window_days,
        placeholder: info.window === 'required' ? t('windowNeeded') : t('windowAll'), disabled: ro(),
        oninput: function (ev) { n.window_days = ev.target.value; changed(false); } }), n.path + '.window_days'));
    }
    var ops = opsFor(e, n);
    if (n.op && ops.indexOf(n.op) < 0) ops = ops.concat([n.op]);
    row.appendChild(field(t('op'), select([{ value: '', label: '—' }].concat(ops.map(function (o) { return { value: o, label: words('ops', o) }; })), n.op,
      { 'class': 'op', id: n.uid + '-op', disabled: ro(), onchange: function (ev) {
        var multi = function (o) { return o === 'in' || o === 'not_in' || o === 'between'; };
        if (multi(ev.target.value) !== multi(n.op) || ev.target.value === 'between' || n.op === 'between') n.value = undefined;
        n.op = ev.target.value;
        changed(true);
      } }), n.path + '.op'));
    var v = renderValue(e, n);
    if (v) row.appendChild(v);
    if (admin()) {
      row.appendChild(button('✕', 'remove-condition', function () { parent.children.splice(parent.children.indexOf(n), 1); changed(true); }, 'btn--icon', { 'aria-label': t('remove') }));
    }
    return row;
  }

  function renderValue(e, n) {
    if (!n.op || n.op === 'empty' || n.op === 'not_empty') return null;
    var spec = valueSpec(e, n);
    var wrap = h('div', { 'class': 'value', 'data-path': n.path + '.value' });
    function parse(s) { return spec.kind === 'number' ? (s === '' ? undefined : num(s)) : (s === '' ? undefined : s); }
    if (n.op === 'between') {
      var cur = Array.isArray(n.value) ? n.value : ['', ''];
      var upd = function (k) { return function (ev) { var a = Array.isArray(n.value) ? n.value.slice() : ['', '']; a[k] = num(ev.target.value); n.value = a; changed(false); }; };
      wrap.appendChild(field(t('from'), h('input', { type: 'number', 'class': 'value-from', id: n.uid + '-from', value: cur[0], step: 'any', disabled: ro(), oninput: upd(0) })));
      wrap.appendChild(field(t('to'), h('input', { type: 'number', 'class': 'value-to', id: n.uid + '-to', value: cur[1], step: 'any', disabled: ro(), oninput: upd(1) })));
      return wrap;
    }
    var list = n.op === 'in' || n.op === 'not_in';
    if (spec.choices && list) {
      // A list of checkboxes: each value a Tab stop, Space to choose.
      var chosen = Array.isArray(n.value) ? n.value.map(String) : [];
      var known = spec.choices.map(function (c) { return String(c.id); });
      var choices = spec.choices.concat(chosen.filter(function (c) { return known.indexOf(c) < 0; }).map(function (c) { return { id: c, name: c }; }));
      var box = h('div', { 'class': 'choices value-choices', role: 'group', 'aria-label': t('chooseSome'), id: n.uid + '-value' });
      choices.forEach(function (c) {
        box.appendChild(h('label', { 'class': 'choice' }, h('input', { type: 'checkbox', value: c.id, checked: chosen.indexOf(String(c.id)) >= 0, disabled: ro(),
          onchange: function () {
            n.value = Array.prototype.filter.call(box.querySelectorAll('input'), function (x) { return x.checked; }).map(function (x) { return x.value; });
            changed(false);
          } }), h('span', null, c.name)));
      });
      wrap.appendChild(h('div', { 'class': 'field' }, h('span', null, t('value')), box));
      return wrap;
    }
    if (spec.choices) {
      var opts = [{ value: '', label: '—' }].concat(spec.choices.map(function (c) { return { value: c.id, label: c.name }; }));
      if (n.value !== undefined && !spec.choices.some(function (c) { return String(c.id) === String(n.value); })) opts.push({ value: n.value, label: String(n.value) });
      wrap.appendChild(field(t('value'), select(opts, n.value, { 'class': 'value-input', id: n.uid + '-value', disabled: ro(),
        onchange: function (ev) { n.value = ev.target.value === '' ? undefined : ev.target.value; changed(false); } })));
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
    var types = ((state.ref.types || {})[e] || []).map(function (x) { return { value: x.id, label: x.name + ' (' + x.id + ')' }; });
    if (s.set.type && !types.some(function (x) { return x.value === s.set.type; })) types.push({ value: s.set.type, label: s.set.type });
    var row = h('div', { 'class': 'row' },
      field(t('type'), select([{ value: '', label: t('keepType') }].concat(types), s.set.type,
        { 'class': 'set-type', id: s.uid + '-type', disabled: ro(), onchange: function (ev) { s.set.type = ev.target.value; changed(false); } }), s.path + '.set.type'));
    if (admin()) row.appendChild(button(t('newType'), 'new-type', function () { state.typeForm = s.uid; render(); }, 'btn--link', { id: s.uid + '-newtype' }));
    row.appendChild(h('label', { 'class': 'check' }, h('input', { type: 'checkbox', 'class': 'set-label', id: s.uid + '-label', checked: s.set.label, disabled: ro(),
      onchange: function (ev) { s.set.label = ev.target.checked; changed(false); } }), t('label')));
    box.appendChild(row);
    if (state.typeForm === s.uid) box.appendChild(renderTypeForm(e, s));
    if (e === 'deal') box.appendChild(renderPipeline(s));
    // What entering the segment sets off: the automation trigger (on by
    // default for deals; for a client it fires for the client's deals)
    // and a notification to the responsible user.
    var on = s.onEntry || (s.onEntry = { trigger: null, notify: false });
    var fires = on.trigger === null ? e === 'deal' : on.trigger;
    box.appendChild(h('div', { 'class': 'row', 'data-path': s.path + '.on_entry' },
      h('label', { 'class': 'check', title: t('triggerHint') }, h('input', { type: 'checkbox', 'class': 'on-trigger', id: s.uid + '-trigger', checked: fires, disabled: ro(),
        onchange: function (ev) { on.trigger = ev.target.checked; changed(false); } }), t(e === 'deal' ? 'onTrigger' : 'onTriggerClient', { s: s.name || s.key })),
      h('label', { 'class': 'check' }, h('input', { type: 'checkbox', 'class': 'on-notify', id: s.uid + '-notify', checked: on.notify, disabled: ro(),
        onchange: function (ev) { on.notify = ev.target.checked; changed((state.missingScopes || []).indexOf('im') >= 0); } }), t('onNotify'))));
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
            S.notice('ok', t('typeAdded', { t: s.set.type }));
            changed(true);
          } else if (r.status) {
            S.notice('err', S.message(r));
          }
        });
      }, 'btn--primary'),
      button(t('cancel'), 'cancel-type', function () { state.typeForm = null; render(); }));
  }

  function renderPipeline(s) {
    var p = s.set.pipeline;
    var pipes = state.ref.pipelines || [];
    var box = h('div', { 'data-path': s.path + '.set.pipeline' },
      h('label', { 'class': 'check' }, h('input', { type: 'checkbox', 'class': 'set-pipeline', id: s.uid + '-pipe', checked: !!p, disabled: ro(),
        onchange: function (ev) {
          var first = pipes[0];
          s.set.pipeline = ev.target.checked ? { category_id: first ? first.id : 0, stage_id: first && first.stages[0] ? first.stages[0].id : '', apply: 'new_only' } : null;
          changed(true);
        } }), t('movePipeline')));
    if (!p) return box;
    var pipe = pipes.filter(function (x) { return String(x.id) === String(p.category_id); })[0];
    box.appendChild(h('div', { 'class': 'row' },
      field(t('pipeline'), select(pipes.map(function (x) { return { value: x.id, label: x.name }; }), p.category_id,
        { 'class': 'set-category', id: s.uid + '-cat', disabled: ro(), onchange: function (ev) {
          p.category_id = Number(ev.target.value);
          var np = pipes.filter(function (x) { return x.id === p.category_id; })[0];
          p.stage_id = np && np.stages[0] ? np.stages[0].id : '';
          changed(true);
        } }), s.path + '.set.pipeline.category_id'),
      field(t('stage'), select([{ value: '', label: '—' }].concat((pipe ? pipe.stages : []).map(function (x) { return { value: x.id, label: x.name }; })), p.stage_id,
        { 'class': 'set-stage', id: s.uid + '-stage', disabled: ro(), onchange: function (ev) { p.stage_id = ev.target.value; changed(false); } }), s.path + '.set.pipeline.stage_id'),
      field(t('apply'), select((state.ref.applies || ['new_only', 'first_stage', 'always']).map(function (a) { return { value: a, label: t('apply_' + a) }; }), p.apply,
        { 'class': 'set-apply', id: s.uid + '-apply', disabled: ro(), onchange: function (ev) { p.apply = ev.target.value; changed(false); } }), s.path + '.set.pipeline.apply')));
    return box;
  }

  function versionText() {
    return (state.version ? t('version', { v: state.version }) : t('notSaved')) + (state.dirty ? ' · ' + t('unsaved') : '');
  }

  function renderFooter() {
    var info = h('span', { 'class': 'footer__info', id: 'version' }, versionText());
    if (ro()) return h('div', { 'class': 'footer' }, info);
    if (state.confirmSave) {
      // The dry run is shown above; saving is confirmed here, where the
      // button stays in view.
      return h('div', { 'class': 'footer footer--confirm' }, info,
        button(t('cancel'), 'cancel-save', function () { state.confirmSave = false; render(); }, '', { id: 'cancel-save' }),
        button(t('saveApply'), 'confirm-save', doSave, 'btn--primary', { id: 'confirm-save' }));
    }
    return h('div', { 'class': 'footer' }, info,
      button(t('recompute'), 'recompute', recompute, '', { id: 'recompute', disabled: !state.version || jobActive() }),
      button(t('check'), 'check', function () { validate(true); }, '', { id: 'check' }),
      // run-dryrun, not dryrun: that is the panel's id, where changed()
      // puts its note that the dry run is stale.
      button(t('dryrun'), 'dryrun', function () { dryrun(false); }, '', { id: 'run-dryrun' }),
      button(t('save'), 'save', save, 'btn--primary', { id: 'save' }));
  }

  // ---------- fields the mirror keeps ----------
  // The mirror keeps only the fields the saved rules read, so a draft's
  // conditions on other fields are counted on empty values until a save.
  function draftFields(e) {
    var out = [];
    function walk(n) {
      if (!n) return;
      if (n.kind === 'group') { n.children.forEach(walk); return; }
      if (n.fact && n.fact.indexOf('field:') === 0 && out.indexOf(n.fact.slice(6)) < 0) out.push(n.fact.slice(6));
    }
    var sc = state.schemes[e];
    if (sc) sc.segments.forEach(function (s) { walk(s.when); });
    return out;
  }
  function rememberSavedFields() {
    state.savedFields = {};
    ENTITIES.forEach(function (e) { state.savedFields[e] = draftFields(e); });
  }
  function unsyncedFields() {
    var out = [];
    ENTITIES.forEach(function (e) {
      var saved = (state.savedFields || {})[e] || [];
      draftFields(e).forEach(function (f) { if (saved.indexOf(f) < 0 && out.indexOf(f) < 0) out.push(f); });
    });
    return out;
  }
  function unsyncedNote(id) {
    var f = unsyncedFields();
    return f.length ? h('p', { 'class': 'warn unsynced', id: id }, t('unsyncedFields', { f: f.join(', ') })) : null;
  }

  // ---------- live count ----------
  // paintCounts writes the last preview into the segment cards in place,
  // without re-rendering the inputs the admin is typing into.
  function paintCounts() {
    var p = state.preview;
    var info = document.getElementById('preview-info');
    if (info) {
      info.textContent = '';
      if (p) {
        append(info, t('previewInfo', { ms: S.num(p.took_ms) }));
        if (p.mirror && p.mirror.synced_at) append(info, ' · ' + t('syncedAt', { t: S.when(p.mirror.synced_at) }));
      }
      var note = unsyncedNote('unsynced');
      var old = document.getElementById('unsynced');
      if (old) old.remove();
      if (note) info.parentNode.insertBefore(note, info.nextSibling);
    }
    Array.prototype.forEach.call(app.querySelectorAll('[data-index]'), function (el) {
      var e = el.getAttribute('data-entity'), idx = el.getAttribute('data-index');
      var sc = p && p.schemes[e];
      var seg = null;
      if (sc) seg = idx === 'otherwise' || idx === 'rest' ? sc.otherwise : sc.segments[Number(idx)];
      var count = el.querySelector('.seg-count'), samples = el.querySelector('.seg-samples');
      if (!count) return;
      count.textContent = '';
      samples.textContent = '';
      el.classList.toggle('is-stale', !!state.previewStale);
      if (!seg) { count.textContent = p ? '' : t('counting'); return; }
      append(count, [h('strong', { 'class': 'seg-count__n' }, S.num(seg.count)), ' · ' + S.pct(seg.share),
        sc.revenue > 0 ? h('span', { 'class': 'seg-count__rev' }, ' · ' + t('revenueLine', { r: S.pct(seg.revenue_share) })) : null]);
      count.setAttribute('data-count', String(seg.count));
      count.title = state.previewStale ? t('stale') : S.plural(T.records[e], sc.total).replace('{n}', S.num(sc.total));
      append(samples, samplesLine(seg.samples));
    });
  }

  var previewSeq = 0, refreshTimer = null;
  // refresh asks for the draft's counts; its problems come with a 422.
  function refresh() {
    var seq = ++previewSeq;
    return api('POST', '/preview', { config: toConfig() }).then(function (r) {
      if (seq !== previewSeq) return; // a newer edit is on its way
      if (r.status === 200) {
        var by = {};
        (r.data.schemes || []).forEach(function (sc) { by[sc.entity] = sc; });
        state.preview = { took_ms: r.data.took_ms, mirror: r.data.mirror, schemes: by };
        state.previewStale = false;
        setProblems([], false);
      } else if (r.status === 422) {
        state.previewStale = true;
        setProblems(r.data.errors || [], false);
      } else {
        return;
      }
      if (state.view === 'segments') paintCounts();
      S.fit();
    });
  }

  function changed(rerender) {
    state.dirty = true;
    if (state.confirmSave) { state.confirmSave = false; rerender = true; } // confirm what was dry-run only
    state.previewStale = true; // until the count of this draft arrives
    if (state.dryrun) state.dryrun.stale = true;
    if (rerender) render();
    else {
      var v = document.getElementById('version');
      if (v) v.textContent = versionText();
      paintCounts();
      var d = document.getElementById('dryrun');
      if (d && !d.querySelector('.dry-stale')) d.insertBefore(h('p', { 'class': 'dry-stale warn' }, t('dryStale')), d.children[1] || null);
    }
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 350);
  }

  // ---------- problems next to their fields ----------
  function setProblems(list, announce) {
    state.problems = list;
    if (state.view === 'segments') applyProblems();
    if (list.length) {
      if (announce) { S.notice('err', t('problems', { n: list.length })); state.problemNotice = true; }
    } else if (announce) S.notice('ok', t('valid'));
    else if (state.problemNotice) S.notice('', '');
    if (!list.length) state.problemNotice = false;
  }

  function applyProblems() {
    Array.prototype.forEach.call(app.querySelectorAll('.err'), function (x) { x.remove(); });
    Array.prototype.forEach.call(app.querySelectorAll('.has-err'), function (x) { x.classList.remove('has-err'); });
    state.problems.forEach(function (p, i) {
      var target = null, path = p.path || '';
      var part = PROBLEM_FIELD[p.code];
      if (part) target = app.querySelector('[data-path="' + (path + '.' + part).replace(/"/g, '') + '"]');
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
        if (!target) return;
      }
      // Inside the segment's own card the record type and segment go
      // without saying: its text; elsewhere the whole message.
      var inCard = target.closest && target.closest('.segment');
      var msg = h('p', { 'class': 'err', id: 'err-' + i, 'data-for': p.path, 'data-code': p.code || null }, inCard && p.text ? p.text : p.message);
      target.classList.add('has-err');
      var ctl = target.querySelector('input,select');
      if (ctl && (target.tagName === 'LABEL' || target.classList.contains('value'))) ctl.setAttribute('aria-describedby', 'err-' + i);
      if (target.classList.contains('group')) target.insertBefore(msg, target.children[1] || null);
      else if (target.classList.contains('segment')) target.insertBefore(msg, target.children[1] || null);
      else target.appendChild(msg);
    });
  }
  function trimPath(p) {
    var i = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    return i > 0 ? p.slice(0, i) : '';
  }

  function validate(announce) {
    return api('POST', '/config/validate', { config: toConfig() }).then(function (r) {
      if (r.status !== 200) { if (r.status) S.notice('err', S.message(r)); return; }
      setProblems(r.data.errors || [], announce);
      S.fit();
    });
  }

  // ---------- dry run ----------
  function dryrun(confirm) {
    clearTimeout(refreshTimer);
    var btn = document.getElementById('run-dryrun');
    if (btn) btn.disabled = true;
    return api('POST', '/dryrun', { config: toConfig() }).then(function (r) {
      if (btn) btn.disabled = false;
      if (r.status === 200) {
        state.dryrun = r.data;
        state.confirmSave = confirm;
        setProblems([], false);
        render();
        var panel = document.getElementById('dryrun');
        if (panel) panel.scrollIntoView({ block: 'nearest' });
      } else if (r.status === 422) {
        setProblems(r.data.errors || [], true);
      } else if (r.status) {
        S.notice('err', S.message(r), confirm ? button(t('saveAnyway'), 'save-anyway', doSave) : null);
      }
    });
  }

  function pipelineName(v) {
    if (!v) return '—';
    var parts = String(v).split(':');
    var pipe = (state.ref.pipelines || []).filter(function (p) { return String(p.id) === parts[0]; })[0];
    if (!pipe) return v;
    var stageID = parts.slice(1).join(':');
    var stage = pipe.stages.filter(function (s) { return s.id === stageID; })[0];
    return pipe.name + (stage ? ' / ' + stage.name : stageID ? ' / ' + stageID : '');
  }
  function typeName(e, v) {
    if (!v) return '—';
    var ty = ((state.ref.types || {})[e] || []).filter(function (x) { return x.id === v; })[0];
    return ty ? ty.name : v;
  }

  function renderDryrun() {
    var d = state.dryrun;
    var panel = h('section', { 'class': 'panel dryrun', id: 'dryrun', 'aria-labelledby': 'dryrun-title' },
      h('div', { 'class': 'panel__head' }, h('h3', { id: 'dryrun-title' }, t('dryTitle')),
        button('✕', 'close-dryrun', function () { state.dryrun = null; state.confirmSave = false; render(); }, 'btn--icon', { 'aria-label': t('close') })));
    if (d.stale) panel.appendChild(h('p', { 'class': 'dry-stale warn' }, t('dryStale')));
    append(panel, unsyncedNote('dry-unsynced'));
    panel.appendChild(h('p', { 'class': 'dry-summary', id: 'dry-summary' }, d.changed ? t('drySummary', { c: S.num(d.changed), e: S.num(d.evaluated) }) : t('dryNone')));
    (d.schemes || []).forEach(function (sc) {
      if (!sc.changed && !(sc.moves || []).length) return;
      var e = sc.entity;
      var block = h('div', { 'class': 'dry-scheme', 'data-entity': e }, h('h4', null, t('dryScheme', { e: t(e), c: S.num(sc.changed), n: S.num(sc.evaluated) })));
      if ((sc.moves || []).length) {
        var body = h('tbody');
        sc.moves.forEach(function (m) {
          body.appendChild(h('tr', { 'class': 'move', 'data-from': m.from, 'data-to': m.to },
            h('td', null, badgeOf(e, m.from, m.from_name)), h('td', { 'class': 'arrow', 'aria-hidden': 'true' }, '→'),
            h('td', null, badgeOf(e, m.to, m.to_name)), h('td', { 'class': 'num' }, S.num(m.count)),
            h('td', { 'class': 'samples' }, samplesLine(m.samples, true))));
        });
        block.appendChild(h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table moves' },
          h('thead', null, h('tr', null, h('th', null, t('dryFrom')), h('th'), h('th', null, t('dryTo')), h('th', { 'class': 'num' }, t('dryCount')), h('th', null, t('drySamples')))), body)));
      }
      var extra = h('ul', { 'class': 'dry-extra' });
      (sc.types || []).forEach(function (x) { extra.appendChild(h('li', null, t('dryTypes') + ': ' + typeName(e, x.from) + ' → ' + typeName(e, x.to) + ' — ' + S.num(x.count))); });
      (sc.pipelines || []).forEach(function (x) { extra.appendChild(h('li', null, t('dryPipes') + ': ' + pipelineName(x.from) + ' → ' + pipelineName(x.to) + ' — ' + S.num(x.count))); });
      if (sc.labels) extra.appendChild(h('li', null, t('dryLabels', { n: S.num(sc.labels) })));
      if (extra.children.length) block.appendChild(extra);
      panel.appendChild(block);
    });
    if (state.confirmSave && admin()) panel.appendChild(h('p', { 'class': 'dry-confirm' }, t('dryConfirm')));
    return panel;
  }

  // ---------- save ----------
  // save shows the dry run first, unless the admin has just looked at a
  // current one: saving rewrites records in the CRM.
  function save() {
    if (state.dryrun && !state.dryrun.stale) { doSave(); return; }
    dryrun(true);
  }

  function doSave() {
    clearTimeout(refreshTimer);
    var btns = ['save', 'confirm-save'].map(function (id) { return document.getElementById(id); }).filter(Boolean);
    btns.forEach(function (b) { b.disabled = true; b.textContent = t('saving'); });
    api('PUT', '/config', { base_version: state.version, config: toConfig() }).then(function (r) {
      if (r.status === 200) {
        state.version = r.data.version;
        state.dirty = false;
        rememberSavedFields();
        state.previewStale = true; // the recompute syncs the fields the rules now read
        state.problems = [];
        state.dryrun = null;
        state.confirmSave = false;
        state.dashboard = null;
        render();
        S.notice('ok', r.data.job_id ? t('savedRecompute', { v: state.version }) : t('saved', { v: state.version }));
        if (r.data.job_id) watchJob(false);
        else refresh();
        return;
      }
      render();
      if (r.status === 409) {
        api('GET', '/config').then(function (c) {
          var v = c.status === 200 ? c.data.version : '?';
          S.notice('err', t('conflict', { v: v }), button(t('reload'), 'reload', function () { location.reload(); }, 'btn--primary'));
          var info = document.getElementById('version');
          if (info) info.textContent = t('conflictShort');
        });
      } else if (r.status === 422) {
        setProblems(r.data.errors || [], true);
      } else if (r.status) {
        S.notice('err', S.message(r));
      }
    });
  }

  // ---------- recompute and its progress ----------
  function jobActive() { return !!state.job && (state.job.state === 'queued' || state.job.state === 'running'); }

  function recompute() {
    var btn = document.getElementById('recompute');
    if (btn) btn.disabled = true;
    api('POST', '/recompute', {}).then(function (r) {
      if (r.status === 202 || r.status === 200) { S.notice('ok', t('jobStart')); watchJob(false); }
      else { if (btn) btn.disabled = false; if (r.status) S.notice('err', S.message(r)); }
    });
  }

  var jobTimer = null;
  // watchJob polls the backfill's progress until it ends, drawing the bar.
  // On opening the page (quiet) a job that has already ended is not shown:
  // the overview tells the last recompute.
  function watchJob(quiet) {
    clearTimeout(jobTimer);
    api('GET', '/jobs/backfill').then(function (r) {
      if (r.status !== 200) return;
      state.job = r.data;
      if (quiet && !jobActive()) return;
      paintJob();
      if (jobActive()) { jobTimer = setTimeout(function () { watchJob(false); }, 500); return; }
      // The job has ended: what the pages show may have changed with it.
      var rb = document.getElementById('recompute');
      if (rb) rb.disabled = !state.version;
      state.dashboard = null;
      resetInsight();
      if (state.view === 'overview') loadDashboard();
      if (state.view === 'changes') loadAudit();
      refresh();
    });
  }

  function paintJob() {
    var box = document.getElementById('job');
    var j = state.job;
    box.textContent = '';
    if (!j || !j.state) { box.hidden = true; S.fit(); return; }
    box.hidden = false;
    box.setAttribute('data-state', j.state);
    var total = j.total || 0, done = j.done || 0;
    var share = j.state === 'done' ? 1 : total ? Math.min(1, done / total) : 0;
    var title, detail = '';
    if (j.state === 'done') title = t('jobDone', { n: S.num(done), w: S.num(j.writes || 0) });
    else if (j.state === 'failed') title = t('jobFailed', { e: (j.errors || []).join('; ') || '—' });
    else {
      title = t('jobRunning') + ' — ' + (T.phases[j.phase || j.state] || j.phase || j.state);
      if (total) detail = S.num(done) + ' / ' + S.num(total);
      if (typeof j.eta_s === 'number' && j.eta_s > 0) detail += (detail ? ' · ' : '') + (j.eta_s < 60 ? t('etaSoon') : t('eta', { t: S.duration(j.eta_s) }));
    }
    append(box, [
      h('div', { 'class': 'job__line' }, h('strong', { 'class': 'job__title', id: 'job-title' }, title),
        h('span', { 'class': 'job__detail muted', id: 'job-detail' }, detail)),
      h('div', { 'class': 'bar', role: 'progressbar', id: 'job-bar', 'aria-labelledby': 'job-title', 'aria-valuemin': '0', 'aria-valuemax': String(total || 100),
        'aria-valuenow': String(j.state === 'done' ? (total || 100) : total ? done : 0) },
        h('div', { 'class': 'bar__fill', style: 'width:' + (share * 100).toFixed(1) + '%' }))]);
    S.fit();
  }

  // ---------- overview ----------
  function loadDashboard() {
    api('GET', '/dashboard').then(function (r) {
      if (r.status !== 200) { if (r.status) S.notice('err', S.message(r)); return; }
      state.dashboard = r.data;
      if (state.view === 'overview') render();
    });
  }

  function renderOverview(panel) {
    if (state.segPage) { renderSegmentPage(panel); return; }
    var d = state.dashboard;
    if (!d) { panel.appendChild(h('p', { 'class': 'muted' }, t('loading'))); return; }
    var schemes = (d.schemes || []).filter(function (sc) { return ENTITIES.indexOf(sc.entity) >= 0; });
    if (!schemes.length) {
      panel.appendChild(h('div', { 'class': 'empty' }, h('p', null, t('ovEmpty')),
        admin() ? button(t('ovSetUp'), 'set-up', function () { showView('segments'); }, 'btn--primary') : null));
    }
    var grid = h('div', { 'class': 'ov-schemes' });
    schemes.forEach(function (sc) { grid.appendChild(renderSchemeStats(sc)); });
    panel.appendChild(grid);
    if (schemes.length) {
      var insight = h('section', { 'class': 'insight', id: 'insight', 'aria-labelledby': 'ins-title' });
      panel.appendChild(insight);
      paintInsight(insight, schemes.map(function (sc) { return sc.entity; }));
    }
    var lc = listsCard();
    if (lc) panel.appendChild(lc);
    panel.appendChild(h('div', { 'class': 'ov-status' }, renderLastJob(d.last_recompute), renderQueue(d.queue), renderRest(d.rest, d.portal)));
  }

  function renderSchemeStats(sc) {
    var e = sc.entity;
    var rows = (sc.segments || []).map(function (s) { return { s: s, rest: false }; });
    if (sc.otherwise && (sc.otherwise.count || sc.otherwise.name)) rows.push({ s: sc.otherwise, rest: !sc.otherwise.name });
    var bar = h('div', { 'class': 'stack', 'aria-hidden': 'true' });
    var body = h('tbody');
    rows.forEach(function (row) {
      var s = row.s;
      var color = row.rest ? '#d5dade' : S.safeColor(s.color || segmentInfo(e, s.key).color);
      var name = row.rest ? t('rest') : (s.name || s.key) + (s.stale ? ' ' + t('ovStale') : '');
      if (s.share > 0) bar.appendChild(h('span', { style: 'width:' + (s.share * 100).toFixed(2) + '%;background:' + color, title: name }));
      // The dot and the name side by side: a long name wraps beside its
      // dot, never under it.
      body.appendChild(h('tr', { 'data-key': s.key || '' },
        h('td', null, h('span', { 'class': 'ov-seg' }, S.swatch(color),
          row.rest || !s.key ? h('span', { 'class': 'ov-seg__name' }, name) : segLink(e, s.key, name, 'ov-seg__name'))), h('td', { 'class': 'num seg-records' }, S.num(s.count)),
        h('td', { 'class': 'num' }, S.pct(s.share)), h('td', { 'class': 'num' }, sc.revenue > 0 ? S.pct(s.revenue_share) : '—')));
    });
    return h('section', { 'class': 'card ov-scheme', 'data-entity': e },
      h('div', { 'class': 'card__head' }, h('h3', { 'class': 'card__title' }, t(e)),
        h('span', { 'class': 'muted' }, t('ovTotal') + ': ' + S.num(sc.total) + (sc.revenue > 0 ? ' · ' + money(sc.revenue, sc.currency) : ''))),
      bar,
      h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table' },
        h('thead', null, h('tr', null, h('th', null, t('ovSegments')), h('th', { 'class': 'num' }, t('ovRecords')), h('th', { 'class': 'num' }, t('ovShare')), h('th', { 'class': 'num' }, t('ovRevenue')))),
        body)));
  }

  // money is an amount in the portal's currency, by its sign where the
  // language has one ($, ₽, €) rather than its ISO code.
  function money(v, currency) {
    if (currency) {
      try {
        return v.toLocaleString(S.lang, { style: 'currency', currency: currency, currencyDisplay: 'narrowSymbol', minimumFractionDigits: 0, maximumFractionDigits: 0 });
      } catch (e) { /* not an ISO 4217 code: shown as it is */ }
    }
    return v.toLocaleString(S.lang, { maximumFractionDigits: 0 }) + (currency ? ' ' + currency : '');
  }

  function stat(id, title, children) {
    return h('section', { 'class': 'card stat', id: id }, h('h3', { 'class': 'stat__title' }, title), children);
  }

  function renderLastJob(j) {
    var out = [];
    if (!j) out.push(h('p', { 'class': 'muted' }, t('ovNever')));
    else {
      out.push(h('p', { 'class': 'stat__big' }, T.ovState[j.state] || j.state));
      out.push(h('p', { 'class': 'muted' }, S.when(j.updated || j.started) + (j.total ? ' · ' + S.num(j.done) + ' / ' + S.num(j.total) : '')));
    }
    if (admin() && state.version) out.push(button(t('recompute'), 'recompute', recompute, '', { id: 'ov-recompute', disabled: jobActive() }));
    return stat('ov-last', t('ovLast'), out);
  }

  function renderQueue(q) {
    if (!q) return stat('ov-queue', t('ovQueue'), h('p', { 'class': 'muted' }, t('ovNA')));
    var idle = !q.pending && !q.active && !q.retry;
    return stat('ov-queue', t('ovQueue'), idle ? h('p', { 'class': 'muted' }, t('ovQueueIdle')) : [
      h('p', { 'class': 'stat__big' }, S.num(q.pending || 0) + ' ' + t('ovPending') + ' · ' + S.num(q.active || 0) + ' ' + t('ovActive')),
      h('p', { 'class': 'muted' }, S.num(q.retry || 0) + ' ' + t('ovRetry') + (q.latency_s ? ' · ' + t('ovLatency', { t: S.duration(q.latency_s) }) : ''))]);
  }

  // renderRest shows the limits the way Bitrix24 counts them: a rate with
  // a burst (its leaky bucket), and each method's time in the last 10
  // minutes against its budget.
  function renderRest(r, portal) {
    var plan = portal && portal.plan && T.plans[portal.plan] ? h('p', { 'class': 'muted', id: 'ov-plan' }, t('ovPlan', { p: T.plans[portal.plan] })) : null;
    if (!r) return stat('ov-rest', t('ovRest'), [h('p', { 'class': 'muted' }, t('ovNA')), plan]);
    var limit = r.operating_limit_s || 0;
    var secs = function (x) { return x.toLocaleString(S.lang, { maximumFractionDigits: x < 1 ? 2 : x < 10 ? 1 : 0 }); };
    var ops = (r.operating || []).map(function (m) {
      var share = limit ? Math.min(1, m.seconds / limit) : 0;
      return h('tr', { 'data-method': m.method },
        // A long method name breaks at its dots, not mid-word.
        h('td', { 'class': 'ov-method' }, h('code', null, m.method.split('.').map(function (part, i) { return i ? [h('wbr'), '.' + part] : part; })),
          h('div', { 'class': 'bar bar--small' + (share > 0.8 ? ' bar--warn' : ''), role: 'progressbar', 'aria-label': m.method,
            'aria-valuemin': '0', 'aria-valuemax': String(limit), 'aria-valuenow': String(Math.round(m.seconds)) },
          h('div', { 'class': 'bar__fill', style: 'width:' + (share * 100).toFixed(1) + '%' }))),
        h('td', { 'class': 'num' }, t('ovOpsLine', { s: secs(m.seconds), l: secs(limit) })));
    });
    return stat('ov-rest', t('ovRest'), [
      h('p', { 'class': 'stat__big', id: 'ov-rate' }, t('ovRate', { n: S.num(r.rate_per_second), b: S.num(r.burst) })),
      h('p', { 'class': 'muted' }, t('ovReqHour', { n: S.num(r.requests_last_hour || 0) })),
      r.limited_last_hour ? h('p', { 'class': 'warn' }, t('ovLimited', { n: S.num(r.limited_last_hour) })) : null,
      h('h4', { 'class': 'stat__sub' }, t('ovOps')),
      ops.length ? h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table ov-ops' },
        h('thead', null, h('tr', null, h('th', null, t('ovMethod')), h('th', { 'class': 'num' }, t('ovOpsTime')))), h('tbody', null, ops)))
        : h('p', { 'class': 'muted' }, t('ovOpsNone')),
      limit ? h('p', { 'class': 'muted' }, t('ovOpsLimit', { l: secs(limit) })) : null,
      plan]);
  }

  // ---------- insight: trends, movement, a segment's page ----------
  // All three read the history the server keeps (snapshots, the moves log,
  // the mirror); each card is painted in place as its answer arrives, and
  // the answers are kept by scheme and period until a recompute ends.
  var TREND_DAYS = [30, 90, 365], MOVE_DAYS = [7, 30, 90];

  function resetInsight() {
    state.ins.trends = {};
    state.ins.moves = {};
    state.ins.cell = null;
    if (state.segPage) state.segPage.data = undefined;
  }

  // repaint replaces box's content, keeping the focus on the element of
  // the same id when it was inside (a period tab, a matrix cell).
  function repaint(box, content) {
    var a = document.activeElement, id = a && a.id && box.contains(a) ? a.id : '';
    box.textContent = '';
    append(box, content);
    if (id) {
      var el = document.getElementById(id);
      if (el && el !== document.activeElement) el.focus();
    }
    S.fit();
  }

  function periodTabs(prefix, list, selected, onSelect) {
    var tabs = tablist('tabs tabs--mini', list.map(function (n) { return { id: prefix + n, value: n, label: t('days', { n: n }) }; }), selected, onSelect);
    tabs.setAttribute('aria-label', t('period'));
    return tabs;
  }

  // csvButton downloads path as CSV: through fetch, as the API wants the
  // session's token in a header a plain link cannot send.
  function csvButton(id, path, name) {
    return button(t('csv'), 'download-csv', function () { S.download(path + '&format=csv', name); }, 'btn--link', { id: id, title: t('csvTitle'), disabled: !path });
  }

  // dayText is a day ("2025-12-05") in the page's language.
  function dayText(iso) {
    var d = new Date(iso + 'T00:00:00Z');
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleDateString(S.lang, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  }

  // periodOf is the last days days, today included, in UTC days as the
  // server counts them.
  function periodOf(days) {
    var now = Date.now();
    return { from: new Date(now - (days - 1) * 864e5).toISOString().slice(0, 10), to: new Date(now).toISOString().slice(0, 10) };
  }

  // segLink is a segment's name that opens the segment's page.
  function segLink(e, key, name, cls) {
    return h('button', { type: 'button', 'class': 'seg-link ' + (cls || ''), 'data-entity': e, 'data-key': key, title: t('sgOpen'),
      onclick: function () { openSegment(e, key, name); } }, name);
  }

  function paintInsight(box, entities) {
    var ins = state.ins;
    if (entities.indexOf(ins.entity) < 0) { ins.entity = entities[0]; ins.cell = null; }
    var trends = h('div', { id: 'ins-trends' }), moves = h('div', { id: 'ins-move' });
    var which = entities.length > 1
      ? tablist('tabs tabs--mini', entities.map(function (e) { return { id: 'ins-e-' + e, value: e, label: t(e) }; }), ins.entity,
        function (e) { ins.entity = e; ins.cell = null; paintInsight(box, entities); })
      : h('span', { 'class': 'muted' }, t(ins.entity));
    if (entities.length > 1) which.setAttribute('aria-label', t('insEntity'));
    repaint(box, [h('div', { 'class': 'insight__head' }, h('h2', { 'class': 'insight__title', id: 'ins-title' }, t('insTitle')), which), trends, moves]);
    paintTrends(trends);
    paintMoves(moves);
  }

  // ----- trends -----
  function loadTrends(e, days) {
    var cache = state.ins.trends, k = e + '/' + days;
    if (cache[k] !== undefined) return;
    cache[k] = null;
    api('GET', '/insight/trends?entity=' + e + '&days=' + days).then(function (r) {
      if (cache !== state.ins.trends) return; // a recompute ended meanwhile
      cache[k] = r.status === 200 ? r.data : { error: S.message(r) };
      paintTrends();
    });
  }

  // paintTrends draws the scheme of the overview, or on a segment's page
  // its scheme with that segment's band picked out.
  function paintTrends(box) {
    box = box || document.getElementById('ins-trends');
    if (!box) return;
    var page = state.segPage, e = page ? page.entity : state.ins.entity, days = state.ins.days;
    var data = state.ins.trends[e + '/' + days];
    if (data === undefined) { loadTrends(e, days); data = null; }
    repaint(box, trendsCard(e, days, data, page ? page.key : null));
  }

  function trendsCard(e, days, data, only) {
    var ok = data && !data.error;
    var card = h('section', { 'class': 'card ins-card', id: 'tr-card', 'data-entity': e, 'data-days': String(days), 'aria-labelledby': 'tr-title' },
      h('div', { 'class': 'card__head' }, h('h3', { 'class': 'card__title', id: 'tr-title' }, t('trTitle')),
        periodTabs('tr-days-', TREND_DAYS, days, function (n) { state.ins.days = n; paintTrends(); }),
        csvButton('tr-csv', ok ? '/insight/trends?entity=' + e + '&days=' + days : '', 'segments-' + e + '-' + days + 'd.csv')));
    if (!data) { card.appendChild(h('p', { 'class': 'muted' }, t('loading'))); return card; }
    if (data.error) { card.appendChild(h('p', { 'class': 'warn' }, data.error)); return card; }
    var chart = h('div', { 'class': 'chart-box', id: 'tr-chart' });
    chart.innerHTML = data.svg; // drawn and escaped by the server (package chart)
    // The legend takes each band's colour from the chart, which gives a
    // segment without a colour one of its palette.
    var fill = {};
    Array.prototype.forEach.call(chart.querySelectorAll('g.chart__series'), function (g) {
      fill[g.getAttribute('data-key')] = g.getAttribute('fill');
      if (only !== null && g.getAttribute('data-key') !== only) g.classList.add('is-dim');
    });
    var legend = h('ul', { 'class': 'legend', id: 'tr-legend', 'aria-label': t('trLegend') }, (data.series || []).map(function (s) {
      return h('li', { 'class': 'legend__item' + (only !== null && s.key !== only ? ' is-dim' : ''), 'data-key': s.key }, S.swatch(fill[s.key] || s.color),
        s.key && s.key !== only ? segLink(e, s.key, s.name, 'legend__name') : h('span', { 'class': 'legend__name' }, s.name));
    }));
    var main = h('div', { 'class': 'trend__chart' }, chart, legend, h('p', { 'class': 'chart-text muted', id: 'tr-text' }, data.text));
    card.appendChild(h('div', { 'class': 'trend' + (only === null ? ' trend--table' : '') }, main, only === null ? latestTable(data, fill) : null));
    return card;
  }

  // latestTable is what each segment is worth by the latest snapshot.
  function latestTable(data, fill) {
    var latest = data.latest || [];
    if (!latest.length) return h('p', { 'class': 'muted trend__latest' }, t('trNoLatest'));
    var last = '';
    (data.dates || []).forEach(function (d, i) {
      if ((data.series || []).some(function (s) { return s.counts[i] !== null; })) last = d;
    });
    var cur = function (v) { return money(v, data.currency); };
    return h('div', { 'class': 'trend__latest' }, h('h4', { 'class': 'stat__sub' }, t('trLatest', { d: dayText(last) })),
      h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table ins-latest', id: 'tr-latest' },
        h('thead', null, h('tr', null, h('th', null, t('segment')), h('th', { 'class': 'num' }, t('ovRecords')), h('th', { 'class': 'num' }, t('trWon')),
          h('th', { 'class': 'num' }, t('trAvg')), h('th', { 'class': 'num' }, t('trOpen')))),
        h('tbody', null, latest.map(function (s) {
          return h('tr', { 'data-key': s.key },
            h('td', null, h('span', { 'class': 'ov-seg' }, S.swatch(fill[s.key] || s.color), h('span', { 'class': 'ov-seg__name' }, s.name))),
            h('td', { 'class': 'num', 'data-count': String(s.count) }, S.num(s.count)), h('td', { 'class': 'num' }, cur(s.value)),
            h('td', { 'class': 'num' }, s.won > 0 ? cur(s.avg_deal) : '—'), h('td', { 'class': 'num' }, S.num(s.open)));
        })))));
  }

  // ----- movement -----
  function loadMoves(e, days) {
    var cache = state.ins.moves, k = e + '/' + days, p = periodOf(days);
    if (cache[k] !== undefined) return;
    cache[k] = null;
    api('GET', '/insight/movement?entity=' + e + '&from=' + p.from + '&to=' + p.to).then(function (r) {
      if (cache !== state.ins.moves) return;
      cache[k] = r.status === 200 ? r.data : { error: S.message(r) };
      paintMoves();
    });
  }

  function paintMoves(box) {
    box = box || document.getElementById('ins-move');
    if (!box) return;
    var e = state.ins.entity, days = state.ins.moveDays, data = state.ins.moves[e + '/' + days];
    if (data === undefined) { loadMoves(e, days); data = null; }
    repaint(box, movesCard(e, days, data));
  }

  function movesCard(e, days, data) {
    var ok = data && !data.error;
    var card = h('section', { 'class': 'card ins-card', id: 'mv-card', 'data-entity': e, 'data-days': String(days), 'aria-labelledby': 'mv-title' },
      h('div', { 'class': 'card__head' }, h('h3', { 'class': 'card__title', id: 'mv-title' }, t('mvTitle')),
        periodTabs('mv-days-', MOVE_DAYS, days, function (n) { state.ins.moveDays = n; state.ins.cell = null; paintMoves(); }),
        csvButton('mv-csv', ok ? '/insight/movement?entity=' + e + '&from=' + data.from + '&to=' + data.to : '', 'movement-' + e + '.csv')));
    if (!data) { card.appendChild(h('p', { 'class': 'muted' }, t('loading'))); return card; }
    if (data.error) { card.appendChild(h('p', { 'class': 'warn' }, data.error)); return card; }
    card.appendChild(h('p', { 'class': 'muted', id: 'mv-summary' }, data.moved
      ? t('mvMoved', { n: S.num(data.moved), c: S.num(data.changes) }) + (admin() ? ' ' + t('mvHint') : '') : t('mvNone')));
    if (data.moved) card.appendChild(matrix(e, data));
    var cell = state.ins.cell;
    if (cell && cell.entity === e && cell.from === data.from && cell.to === data.to) card.appendChild(cellRecords(cell));
    return card;
  }

  // heat is a cell's background: Bitrix24's light blue to its deep one.
  function heat(r) {
    var lo = [229, 249, 254], hi = [11, 102, 195];
    return 'rgb(' + lo.map(function (x, i) { return Math.round(x + (hi[i] - x) * r); }).join(',') + ')';
  }

  // matrix is the period's net moves: a row per segment records left, a
  // column per segment they entered; administrators open a cell's records.
  function matrix(e, data) {
    var segs = data.segments || [], counts = {}, top = 0, picked = state.ins.cell;
    (data.cells || []).forEach(function (c) { counts[c.from + '\n' + c.to] = c.count; top = Math.max(top, c.count); });
    var label = function (s) {
      return h('span', { 'class': 'mx-seg' }, S.swatch(s.color || (s.key ? '' : '#d5dade')), h('span', { 'class': 'mx-seg__name' }, s.name));
    };
    var rows = segs.map(function (from, i) {
      return h('tr', { 'data-key': from.key }, h('th', { scope: 'row' }, label(from)), segs.map(function (to, j) {
        var n = counts[from.key + '\n' + to.key] || 0;
        var attrs = { 'class': 'mx-cell' + (i === j ? ' mx-cell--same' : ''), 'data-from': from.key, 'data-to': to.key };
        if (!n) return h('td', attrs);
        var r = Math.sqrt(n / top), text = S.num(n), said = t('mvCell', { a: from.name, b: to.name, n: text });
        attrs['data-count'] = String(n);
        attrs.style = 'background:' + heat(r) + ';color:' + (r > 0.55 ? '#fff' : '#1c3f5e');
        if (!admin()) return h('td', attrs, h('span', { title: said }, text));
        var on = !!picked && picked.fromKey === from.key && picked.toKey === to.key;
        return h('td', attrs, h('button', { type: 'button', 'class': 'mx-btn', id: 'mx-' + i + '-' + j, 'aria-label': said, 'aria-pressed': String(on),
          onclick: function () { openCell(e, data, from, to); } }, text));
      }));
    });
    return h('div', { 'class': 'mx-wrap', id: 'mv-matrix-wrap' }, h('table', { 'class': 'mx', id: 'mv-matrix', 'data-from': data.from, 'data-to': data.to },
      h('caption', null, t('mvCaption', { e: t(e), from: dayText(data.from), to: dayText(data.to) })),
      h('thead', null, h('tr', null, h('td', { 'class': 'mx-corner' }, t('mvCorner')),
        segs.map(function (s) { return h('th', { scope: 'col', 'data-key': s.key }, label(s)); }))),
      h('tbody', null, rows)));
  }

  function openCell(e, data, from, to) {
    var cell = { entity: e, from: data.from, to: data.to, fromKey: from.key, toKey: to.key, fromName: from.name, toName: to.name, data: null };
    state.ins.cell = cell;
    paintMoves();
    api('GET', '/insight/movement/records?entity=' + e + '&from=' + data.from + '&to=' + data.to +
      '&from_segment=' + encodeURIComponent(from.key) + '&to_segment=' + encodeURIComponent(to.key)).then(function (r) {
      if (state.ins.cell !== cell) return;
      cell.data = r.status === 200 ? r.data : { error: S.message(r) };
      paintMoves();
    });
  }

  function cellRecords(cell) {
    var box = h('div', { 'class': 'mv-records', id: 'mv-records', 'aria-live': 'polite', 'data-from': cell.fromKey, 'data-to': cell.toKey });
    var d = cell.data;
    if (!d) { box.appendChild(h('p', { 'class': 'muted' }, t('loading'))); return box; }
    if (d.error) { box.appendChild(h('p', { 'class': 'warn' }, d.error)); return box; }
    var list = d.records || [];
    append(box, [
      h('div', { 'class': 'mv-records__head' }, h('h4', { 'class': 'stat__sub', id: 'mv-records-title' }, t('mvRecords', { a: cell.fromName, b: cell.toName, n: S.num(d.total) })),
        button('✕', 'close-records', function () { state.ins.cell = null; paintMoves(); }, 'btn--icon', { id: 'mv-records-close', 'aria-label': t('close') })),
      h('ul', { 'class': 'mv-list' }, list.map(function (x) {
        return h('li', { 'data-id': String(x.id) }, S.crmLink(x.url, x.title || ('#' + x.id)), ' ', h('span', { 'class': 'muted nowrap' }, S.when(x.at)));
      })),
      d.total > list.length ? h('p', { 'class': 'muted' }, t('mvShown', { k: S.num(list.length) })) : null]);
    return box;
  }

  // ----- a segment's page -----
  function openSegment(e, key, name) {
    state.segPage = { entity: e, key: key, name: name, data: undefined };
    render();
    window.scrollTo(0, 0);
    var back = document.getElementById('seg-back');
    if (back) back.focus();
  }

  // closeSegment goes back to the overview, to the name that opened it.
  function closeSegment() {
    var p = state.segPage;
    state.segPage = null;
    render();
    var links = document.querySelectorAll('.ov-scheme .seg-link');
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute('data-entity') === p.entity && links[i].getAttribute('data-key') === p.key) { links[i].focus(); break; }
    }
  }

  function loadSegment() {
    var p = state.segPage;
    p.data = null;
    api('GET', '/segments/' + p.entity + '/' + encodeURIComponent(p.key)).then(function (r) {
      if (state.segPage !== p) return;
      p.data = r.status === 200 ? r.data : { error: S.message(r) };
      paintSegmentPage();
    });
  }

  function renderSegmentPage(panel) {
    var box = h('div', { 'class': 'seg-page', id: 'seg-page' });
    panel.appendChild(box);
    paintSegmentPage(box);
  }

  function paintSegmentPage(box) {
    box = box || document.getElementById('seg-page');
    var p = state.segPage;
    if (!box || !p) return;
    if (p.data === undefined) loadSegment();
    var d = p.data, ok = d && !d.error;
    box.setAttribute('data-entity', p.entity);
    box.setAttribute('data-key', p.key);
    var out = [button(t('sgBack'), 'back', closeSegment, 'btn--link seg-back', { id: 'seg-back' }),
      h('div', { 'class': 'seg-page__head' }, ok && d.color ? S.swatch(d.color) : null,
        h('h2', { 'class': 'seg-page__title', id: 'seg-title' }, ok ? d.name : p.name), h('span', { 'class': 'muted' }, t(p.entity)),
        ok && admin() ? membersButton(p) : null)];
    if (!d) out.push(h('p', { 'class': 'muted' }, t('loading')));
    else if (d.error) out.push(h('p', { 'class': 'warn' }, d.error));
    else {
      if (d.removed) out.push(h('p', { 'class': 'warn', id: 'seg-removed' }, t('sgRemoved')));
      out.push(segFigures(d.figures || {}), h('div', { 'class': 'seg-grid' }, conditionsCard(d.conditions || []), sectionsCard(d.figures || {})));
    }
    var trends = h('div', { id: 'ins-trends' });
    out.push(trends);
    if (ok && d.entries) out.push(changesCard('seg-entries', t('sgEntries'), p.entity, d.entries), changesCard('seg-exits', t('sgExits'), p.entity, d.exits || []));
    repaint(box, out);
    paintTrends(trends);
  }

  // membersButton downloads every record of the segment as CSV, with a
  // link to its card and why it is there (administrators only).
  function membersButton(p) {
    return button(t('sgMembersCsv'), 'download-members', function (ev) {
      var btn = ev.currentTarget;
      btn.disabled = true;
      S.download('/segments/' + p.entity + '/' + encodeURIComponent(p.key) + '/members.csv', 'members-' + p.entity + '-' + p.key + '.csv')
        .then(function () { btn.disabled = false; });
    }, 'btn--link seg-export', { id: 'seg-export', title: t('sgMembersCsvTitle') });
  }

  function segFigures(f) {
    var fig = f.figures || {};
    return h('div', { 'class': 'seg-stats' },
      stat('seg-count', t('ovRecords'), [h('p', { 'class': 'stat__big', 'data-count': String(fig.count || 0) }, S.num(fig.count || 0)),
        h('p', { 'class': 'muted' }, t('sgOfTotal', { s: S.pct(f.share), n: S.num(f.total || 0) }))]),
      stat('seg-value', t('sgValue'), [h('p', { 'class': 'stat__big' }, money(fig.value || 0, f.currency)),
        h('p', { 'class': 'muted' }, t('sgWonDeals', { n: S.num(fig.won || 0) }))]),
      stat('seg-avg', t('trAvg'), h('p', { 'class': 'stat__big' }, fig.won ? money(f.avg_deal || 0, f.currency) : '—')),
      stat('seg-open', t('trOpen'), h('p', { 'class': 'stat__big' }, S.num(fig.open || 0))));
  }

  // conditionsCard shows the rule as the server words it: an outline,
  // each line at its depth.
  function conditionsCard(lines) {
    return h('section', { 'class': 'card stat', id: 'seg-conditions' }, h('h3', { 'class': 'stat__title' }, t('conditions')),
      lines.length ? h('ul', { 'class': 'outline' }, lines.map(function (l) {
        return h('li', { 'class': 'outline__line', 'data-depth': String(l.depth || 0), style: 'margin-left:' + Math.min(l.depth || 0, 6) * 18 + 'px' }, l.text);
      })) : h('p', { 'class': 'muted' }, '—'));
  }

  function sectionsCard(f) {
    var list = f.sections || [];
    return h('section', { 'class': 'card stat', id: 'seg-sections' }, h('h3', { 'class': 'stat__title' }, t('sgSections')),
      list.length ? h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table' },
        h('thead', null, h('tr', null, h('th', null, t('sgSection')), h('th', { 'class': 'num' }, t('sgDeals')), h('th', { 'class': 'num' }, t('sgSectionValue')))),
        h('tbody', null, list.map(function (s) {
          return h('tr', { 'data-id': String(s.id) }, h('td', null, s.name), h('td', { 'class': 'num' }, S.num(s.deals)), h('td', { 'class': 'num' }, money(s.value, f.currency)));
        })))) : h('p', { 'class': 'muted' }, t('sgNoSections')));
  }

  // changesCard lists a segment's latest entries or exits, each with why.
  function changesCard(id, title, e, list) {
    return h('section', { 'class': 'card stat seg-changes', id: id }, h('h3', { 'class': 'stat__title' }, title),
      !list.length ? h('p', { 'class': 'muted' }, t('sgNoMoves')) : h('div', { 'class': 'table-wrap' }, h('table', { 'class': 'table' },
        h('thead', null, h('tr', null, h('th', null, t('auWhen')), h('th', null, t('auRecordCol')), h('th', null, t('auChange')), h('th', null, t('auWhy')))),
        h('tbody', null, list.map(function (c) {
          var from = c.from || {}, to = c.to || {};
          return h('tr', { 'class': 'seg-change', 'data-id': String(c.id) }, h('td', { 'class': 'nowrap' }, S.when(c.at)),
            h('td', null, S.crmLink(c.url, c.title || ('#' + c.id))),
            h('td', { 'class': 'change' }, badgeOf(e, from.segment, from.segment_name), h('span', { 'class': 'arrow', 'aria-hidden': 'true' }, ' → '),
              badgeOf(e, to.segment, to.segment_name), c.trigger_text ? h('div', { 'class': 'muted' }, c.trigger_text) : null),
            h('td', { 'class': 'why-cell' }, S.why(c.why)));
        })))));
  }

  // ---------- changes (audit) ----------
  var auditSeq = 0;
  function loadAudit() {
    var f = state.auditFilter;
    var q = ['limit=' + state.auditLimit];
    if (f.entity) q.push('entity=' + encodeURIComponent(f.entity));
    if (f.segment) q.push('segment=' + encodeURIComponent(f.segment));
    if (f.record) q.push('record=' + encodeURIComponent(f.record));
    var seq = ++auditSeq;
    api('GET', '/audit?' + q.join('&')).then(function (r) {
      if (seq !== auditSeq) return;
      if (r.status !== 200) { if (r.status) S.notice('err', S.message(r)); return; }
      state.audit = r.data.entries || [];
      if (state.view === 'changes') paintAudit();
    });
  }

  function renderAudit(panel) {
    var f = state.auditFilter;
    var keys = [];
    ENTITIES.forEach(function (e) {
      var sc = state.schemes[e];
      if (!sc || (f.entity && f.entity !== e)) return;
      sc.segments.concat(sc.otherwise ? [sc.otherwise] : []).forEach(function (s) {
        if (s.key && !keys.some(function (k) { return k.value === s.key; })) keys.push({ value: s.key, label: (s.name || s.key) + (f.entity ? '' : ' (' + t(e) + ')') });
      });
    });
    if (f.segment && !keys.some(function (k) { return k.value === f.segment; })) keys.push({ value: f.segment, label: f.segment });
    var recTimer = null;
    panel.appendChild(h('div', { 'class': 'row filters' },
      field(t('auEntity'), select([{ value: '', label: t('auAllEntities') }].concat(ENTITIES.map(function (e) { return { value: e, label: t(e) }; })), f.entity,
        { id: 'audit-entity', onchange: function (ev) { f.entity = ev.target.value; state.auditLimit = 50; render(); loadAudit(); } })),
      field(t('auSegment'), select([{ value: '', label: t('auAllSegments') }].concat(keys), f.segment,
        { id: 'audit-segment', onchange: function (ev) { f.segment = ev.target.value; state.auditLimit = 50; loadAudit(); } })),
      field(t('auRecord'), h('input', { type: 'number', min: 1, id: 'audit-record', value: f.record, 'class': 'audit-record',
        oninput: function (ev) {
          f.record = ev.target.value.trim();
          clearTimeout(recTimer);
          recTimer = setTimeout(function () { state.auditLimit = 50; loadAudit(); }, 300);
        } }))));
    panel.appendChild(h('div', { id: 'audit-list' }));
    paintAudit();
  }

  function paintAudit() {
    var box = document.getElementById('audit-list');
    if (!box) return;
    box.textContent = '';
    var list = state.audit;
    if (!list) { box.appendChild(h('p', { 'class': 'muted' }, t('loading'))); return; }
    if (!list.length) { box.appendChild(h('div', { 'class': 'empty', id: 'audit-empty' }, t('auEmpty'))); S.fit(); return; }
    var body = h('tbody');
    list.forEach(function (e) {
      var from = e.from || {}, to = e.to || {};
      body.appendChild(h('tr', { 'class': 'audit-row', 'data-entity': e.entity, 'data-id': String(e.id) },
        h('td', { 'class': 'nowrap' }, S.when(e.at)),
        h('td', null, S.crmLink(e.url, e.title || ('#' + e.id)), h('div', { 'class': 'muted' }, t(e.entity + '1') + ' #' + e.id)),
        h('td', { 'class': 'change' }, badgeOf(e.entity, from.segment, from.segment_name), h('span', { 'class': 'arrow', 'aria-hidden': 'true' }, ' → '), badgeOf(e.entity, to.segment, to.segment_name),
          to.type !== from.type ? h('div', { 'class': 'muted' }, t('auType') + ': ' + (from.type_name || typeName(e.entity, from.type)) + ' → ' + (to.type_name || typeName(e.entity, to.type))) : null,
          to.pipeline !== from.pipeline ? h('div', { 'class': 'muted' }, t('pipeline') + ': ' + (from.pipeline_name || pipelineName(from.pipeline)) + ' → ' + (to.pipeline_name || pipelineName(to.pipeline))) : null,
          e.trigger_text ? h('div', { 'class': 'muted trigger' }, e.trigger_text) : null),
        h('td', { 'class': 'num' }, e.config_version ? String(e.config_version) : '—'),
        h('td', { 'class': 'why-cell' }, S.why(e.why))));
    });
    box.appendChild(h('div', { 'class': 'table-wrap card card--plain' }, h('table', { 'class': 'table audit' },
      h('thead', null, h('tr', null, h('th', null, t('auWhen')), h('th', null, t('auRecordCol')), h('th', null, t('auChange')), h('th', { 'class': 'num' }, t('auVersion')), h('th', null, t('auWhy')))),
      body)));
    if (list.length >= state.auditLimit && state.auditLimit < 200) {
      box.appendChild(button(t('auMore'), 'audit-more', function () { state.auditLimit = Math.min(200, state.auditLimit + 50); loadAudit(); }, 'btn--link'));
    }
    S.fit();
  }

  // ---------- start ----------
  S.start().then(function (ok) {
    if (!ok) return null;
    return Promise.all([api('GET', '/config'), api('GET', '/reference')]);
  }).then(function (rs) {
    if (!rs) return;
    if (rs[0].status !== 200 || rs[1].status !== 200) { S.fatal(S.message(rs[0].status !== 200 ? rs[0] : rs[1])); return; }
    state.version = rs[0].data.version;
    state.ref = rs[1].data;
    state.missingScopes = rs[1].data.missing_scopes || [];
    load(rs[0].data.config || { schemes: [] });
    rememberSavedFields();
    for (var i = 0; i < ENTITIES.length; i++) { if (state.schemes[ENTITIES[i]]) { state.tab = ENTITIES[i]; break; } }
    S.showUser(t('admin'), t('readOnly'));
    document.body.setAttribute('data-ready', admin() ? 'admin' : 'readonly');
    state.view = state.version ? 'overview' : 'segments';
    showView(state.view);
    if (state.version) refresh();
    watchJob(true);
    // The location facts' values come from the whole mirror: they follow
    // the page rather than hold it up.
    loadLists().then(function () { if (state.view === 'segments' || state.view === 'overview') render(); });
    api('GET', '/reference/locations').then(function (r) {
      if (r.status !== 200) return;
      state.locations = r.data;
      if (state.view === 'segments') render();
    });
  });
})();
