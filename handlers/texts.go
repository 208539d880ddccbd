package handlers

import (
	"segmentor/app"
	"segmentor/app/i18n"
)

// texts are what the handlers say to people, by key, in every language
// Segmentor speaks; a counted text gives its plural forms (i18n.Plural).
// TestHandlerTexts checks that every key is in every language and that
// every key the handlers name is here.
var texts = i18n.Catalog[string]{
	i18n.EN: {
		"send_base_config": "Send {base_version, config}.",
		"send_config":      "Send {config}.",
		"send_type":        "Send {entity, id, name}.",
		"too_large":        "The request is too large: the limit is %d KB. A config that large has far more segments or values than any real one.",
		"problems":         "The settings have problems; fix the marked fields.",

		"bad_days":               "days must be 30, 90 or 365.",
		"csv_day":                "day",
		"csv_segment_key":        "segment key",
		"csv_segment":            "segment",
		"csv_records":            "records",
		"csv_won":                "won in 365 days",
		"csv_won_deals":          "won deals",
		"csv_open_deals":         "open deals",
		"csv_currency":           "currency",
		"csv_estimated":          "estimated",
		"csv_from":               "from",
		"csv_to":                 "to",
		"yes":                    "yes",
		"no":                     "no",
		"trend_title":            "%s by segment, last %d day|%s by segment, last %d days",
		"estimated_label":        "Estimated from deal dates",
		"trend_none":             "No daily figures yet: Segmentor keeps them from the first recompute on, once a day.",
		"trend_days":             "%d day with figures of the last %d (%s to %s).|%d days with figures of the last %d (%s to %s).",
		"trend_all_estimated":    "All of them are estimated from deal dates.",
		"trend_estimated_before": "Those before %s are estimated from deal dates: Segmentor kept figures from then on.",
		"trend_change":           "%s: %d → %d.",
		"removed":                "%s (removed)",
		"no_segment":             "No segment",
		"bad_date":               "%s must be a date like 2026-12-31.",
		"bad_period":             "The period must run forward and span at most %d days.",
		"moves_forbidden":        "Only Bitrix24 administrators see which records moved; the matrix shows how many.",
		"no_such_segment":        "There is no such segment.",
		"section":                "Section %d",
		"otherwise_rule":         "Every record the segments above do not take.",
		"contacts":               "Contacts",
		"companies":              "Companies",
		"deals":                  "Deals",

		"no_preview":        "Previews are not available on this server.",
		"bad_window":        "revenue_window_days must be 0 (all time) to 3650.",
		"bad_entity":        "The record type must be contact, company or deal.",
		"bad_id":            "The record id must be a positive whole number.",
		"open_card":         "Open this record's card in Bitrix24 to see its segment here: Bitrix24 checks there that you may see it.",
		"changes_forbidden": "Only Bitrix24 administrators see the list of changes; each record's card shows its own.",
		"long_key":          "The segment key is too long.",
		"bad_limit":         "limit must be a whole number from 1 to 200.",

		"no_record":        "Bitrix24 has no such record: it may have been deleted.",
		"record_denied":    "Your Bitrix24 access rights do not let you see this record, so Segmentor does not show it either.",
		"too_many_signins": "Too many sign-ins from your network; try again in %d s.",
		"portal_busy":      "Your Bitrix24 portal is busy with Segmentor's requests right now; try again in %d s.",

		"trigger_change":    "A change in the CRM",
		"trigger_setup":     "First classification after install",
		"trigger_config":    "Recompute after the rules were saved",
		"trigger_recompute": "Recompute started by an administrator",
		"trigger_nightly":   "Scheduled recompute",

		"unseen_gone_contact":    "Bitrix24 has no contact with ID %d: it was deleted or never existed.",
		"unseen_gone_company":    "Bitrix24 has no company with ID %d: it was deleted or never existed.",
		"unseen_gone_deal":       "Bitrix24 has no deal with ID %d: it was deleted or never existed.",
		"unseen_new_contact":     "Bitrix24 has this contact, but Segmentor has not read it yet: a new record is picked up within a few minutes. Reopen this tab then.",
		"unseen_new_company":     "Bitrix24 has this company, but Segmentor has not read it yet: a new record is picked up within a few minutes. Reopen this tab then.",
		"unseen_new_deal":        "Bitrix24 has this deal, but Segmentor has not read it yet: a new record is picked up within a few minutes. Reopen this tab then.",
		"unseen_unknown_contact": "Segmentor has not read a contact with ID %d, and could not ask Bitrix24 whether it has one. Open the record's card in Bitrix24 to check.",
		"unseen_unknown_company": "Segmentor has not read a company with ID %d, and could not ask Bitrix24 whether it has one. Open the record's card in Bitrix24 to check.",
		"unseen_unknown_deal":    "Segmentor has not read a deal with ID %d, and could not ask Bitrix24 whether it has one. Open the record's card in Bitrix24 to check.",
	},
	i18n.RU: {
		"send_base_config": "Отправьте {base_version, config}.",
		"send_config":      "Отправьте {config}.",
		"send_type":        "Отправьте {entity, id, name}.",
		"too_large":        "Запрос слишком велик: предел — %d КБ. В настройках такого размера сегментов или значений гораздо больше, чем бывает на деле.",
		"problems":         "В настройках есть ошибки; исправьте отмеченные поля.",

		"bad_days":               "days должно быть 30, 90 или 365.",
		"csv_day":                "день",
		"csv_segment_key":        "ключ сегмента",
		"csv_segment":            "сегмент",
		"csv_records":            "записей",
		"csv_won":                "выиграно за 365 дней",
		"csv_won_deals":          "выигранных сделок",
		"csv_open_deals":         "открытых сделок",
		"csv_currency":           "валюта",
		"csv_estimated":          "оценка",
		"csv_from":               "из",
		"csv_to":                 "в",
		"yes":                    "да",
		"no":                     "нет",
		"trend_title":            "%s по сегментам, последний %d день|%s по сегментам, последние %d дня|%s по сегментам, последние %d дней",
		"estimated_label":        "Оценка по датам сделок",
		"trend_none":             "Ежедневных данных пока нет: Segmentor сохраняет их раз в день, начиная с первого пересчёта.",
		"trend_days":             "Данные за %d день из последних %d (%s — %s).|Данные за %d дня из последних %d (%s — %s).|Данные за %d дней из последних %d (%s — %s).",
		"trend_all_estimated":    "Все они оценены по датам сделок.",
		"trend_estimated_before": "Данные до %s оценены по датам сделок: с этого дня Segmentor сохраняет их сам.",
		"trend_change":           "%s: %d → %d.",
		"removed":                "%s (удалён)",
		"no_segment":             "Без сегмента",
		"bad_date":               "%s должно быть датой вида 2026-12-31.",
		"bad_period":             "Период должен идти вперёд и быть не длиннее %d дней.",
		"moves_forbidden":        "Какие записи перешли, видят только администраторы Битрикс24; матрица показывает, сколько.",
		"no_such_segment":        "Такого сегмента нет.",
		"section":                "Раздел %d",
		"otherwise_rule":         "Все записи, которые не взяли сегменты выше.",
		"contacts":               "Контакты",
		"companies":              "Компании",
		"deals":                  "Сделки",

		"no_preview":        "Предпросмотр на этом сервере недоступен.",
		"bad_window":        "revenue_window_days должно быть от 0 (за всё время) до 3650.",
		"bad_entity":        "Тип записи должен быть contact, company или deal.",
		"bad_id":            "Номер записи должен быть целым положительным числом.",
		"open_card":         "Откройте карточку этой записи в Битрикс24, чтобы увидеть её сегмент: Битрикс24 проверит там, что вам можно её видеть.",
		"changes_forbidden": "Список изменений видят только администраторы Битрикс24; карточка каждой записи показывает свои.",
		"long_key":          "Слишком длинный ключ сегмента.",
		"bad_limit":         "limit должен быть целым числом от 1 до 200.",

		"no_record":        "В Битрикс24 нет такой записи: возможно, её удалили.",
		"record_denied":    "Ваши права в Битрикс24 не позволяют видеть эту запись, поэтому Segmentor её тоже не показывает.",
		"too_many_signins": "Слишком много входов из вашей сети; повторите через %d с.",
		"portal_busy":      "Ваш портал Битрикс24 сейчас занят запросами Segmentor; повторите через %d с.",

		"trigger_change":    "Изменение в CRM",
		"trigger_setup":     "Первая классификация после установки",
		"trigger_config":    "Пересчёт после сохранения правил",
		"trigger_recompute": "Пересчёт, запущенный администратором",
		"trigger_nightly":   "Плановый пересчёт",

		"unseen_gone_contact":    "В Битрикс24 нет контакта с ID %d: запись удалили или её никогда не было.",
		"unseen_gone_company":    "В Битрикс24 нет компании с ID %d: запись удалили или её никогда не было.",
		"unseen_gone_deal":       "В Битрикс24 нет сделки с ID %d: запись удалили или её никогда не было.",
		"unseen_new_contact":     "Контакт есть в Битрикс24, но Segmentor ещё не прочитал эту запись: новые записи учитываются в течение нескольких минут. Откройте вкладку позже.",
		"unseen_new_company":     "Компания есть в Битрикс24, но Segmentor ещё не прочитал эту запись: новые записи учитываются в течение нескольких минут. Откройте вкладку позже.",
		"unseen_new_deal":        "Сделка есть в Битрикс24, но Segmentor ещё не прочитал эту запись: новые записи учитываются в течение нескольких минут. Откройте вкладку позже.",
		"unseen_unknown_contact": "Segmentor не читал контакта с ID %d и не смог спросить Битрикс24, есть ли такая запись. Откройте её карточку в Битрикс24, чтобы проверить.",
		"unseen_unknown_company": "Segmentor не читал компании с ID %d и не смог спросить Битрикс24, есть ли такая запись. Откройте её карточку в Битрикс24, чтобы проверить.",
		"unseen_unknown_deal":    "Segmentor не читал сделки с ID %d и не смог спросить Битрикс24, есть ли такая запись. Откройте её карточку в Битрикс24, чтобы проверить.",
	},
	i18n.PL: {
		"send_base_config": "Wyślij {base_version, config}.",
		"send_config":      "Wyślij {config}.",
		"send_type":        "Wyślij {entity, id, name}.",
		"too_large":        "Żądanie jest za duże: limit wynosi %d KB. Ustawienia tej wielkości mają znacznie więcej segmentów lub wartości niż jakiekolwiek prawdziwe.",
		"problems":         "Ustawienia zawierają błędy; popraw zaznaczone pola.",

		"bad_days":               "days musi wynosić 30, 90 lub 365.",
		"csv_day":                "dzień",
		"csv_segment_key":        "klucz segmentu",
		"csv_segment":            "segment",
		"csv_records":            "rekordy",
		"csv_won":                "wygrane w ciągu 365 dni",
		"csv_won_deals":          "wygrane deale",
		"csv_open_deals":         "otwarte deale",
		"csv_currency":           "waluta",
		"csv_estimated":          "szacunek",
		"csv_from":               "z",
		"csv_to":                 "do",
		"yes":                    "tak",
		"no":                     "nie",
		"trend_title":            "%s według segmentów, ostatni %d dzień|%s według segmentów, ostatnie %d dni|%s według segmentów, ostatnie %d dni",
		"estimated_label":        "Szacunek na podstawie dat deali",
		"trend_none":             "Nie ma jeszcze danych dziennych: Segmentor zapisuje je raz dziennie, począwszy od pierwszego przeliczenia.",
		"trend_days":             "Dane z %d dnia z ostatnich %d (%s – %s).|Dane z %d dni z ostatnich %d (%s – %s).|Dane z %d dni z ostatnich %d (%s – %s).",
		"trend_all_estimated":    "Wszystkie są szacunkami na podstawie dat deali.",
		"trend_estimated_before": "Dane sprzed %s są szacunkami na podstawie dat deali: od tego dnia Segmentor zapisuje je sam.",
		"trend_change":           "%s: %d → %d.",
		"removed":                "%s (usunięty)",
		"no_segment":             "Bez segmentu",
		"bad_date":               "%s musi być datą w postaci 2026-12-31.",
		"bad_period":             "Okres musi biec do przodu i obejmować najwyżej %d dni.",
		"moves_forbidden":        "Tylko administratorzy Bitrix24 widzą, które rekordy się przeniosły; macierz pokazuje, ile ich jest.",
		"no_such_segment":        "Nie ma takiego segmentu.",
		"section":                "Sekcja %d",
		"otherwise_rule":         "Wszystkie rekordy, których nie objęły powyższe segmenty.",
		"contacts":               "Kontakty",
		"companies":              "Firmy",
		"deals":                  "Deale",

		"no_preview":        "Podgląd nie jest dostępny na tym serwerze.",
		"bad_window":        "revenue_window_days musi wynosić od 0 (cały okres) do 3650.",
		"bad_entity":        "Typ rekordu musi być jednym z: contact, company, deal.",
		"bad_id":            "ID rekordu musi być dodatnią liczbą całkowitą.",
		"open_card":         "Otwórz kartę tego rekordu w Bitrix24, aby zobaczyć tutaj jego segment: Bitrix24 sprawdzi tam, czy możesz go widzieć.",
		"changes_forbidden": "Tylko administratorzy Bitrix24 widzą listę zmian; karta każdego rekordu pokazuje jego własne.",
		"long_key":          "Klucz segmentu jest za długi.",
		"bad_limit":         "limit musi być liczbą całkowitą od 1 do 200.",

		"no_record":        "W Bitrix24 nie ma takiego rekordu: mógł zostać usunięty.",
		"record_denied":    "Twoje uprawnienia w Bitrix24 nie pozwalają widzieć tego rekordu, więc Segmentor też go nie pokazuje.",
		"too_many_signins": "Zbyt wiele logowań z Twojej sieci; spróbuj ponownie za %d s.",
		"portal_busy":      "Twój portal Bitrix24 jest teraz zajęty żądaniami Segmentor; spróbuj ponownie za %d s.",

		"trigger_change":    "Zmiana w CRM",
		"trigger_setup":     "Pierwsza klasyfikacja po instalacji",
		"trigger_config":    "Przeliczenie po zapisaniu reguł",
		"trigger_recompute": "Przeliczenie uruchomione przez administratora",
		"trigger_nightly":   "Zaplanowane przeliczenie",

		"unseen_gone_contact":    "W Bitrix24 nie ma kontaktu o ID %d: został usunięty albo nigdy nie istniał.",
		"unseen_gone_company":    "W Bitrix24 nie ma firmy o ID %d: została usunięta albo nigdy nie istniała.",
		"unseen_gone_deal":       "W Bitrix24 nie ma deala o ID %d: został usunięty albo nigdy nie istniał.",
		"unseen_new_contact":     "Ten kontakt jest w Bitrix24, ale Segmentor jeszcze go nie odczytał: nowe rekordy są uwzględniane w ciągu kilku minut. Otwórz tę zakładkę później.",
		"unseen_new_company":     "Ta firma jest w Bitrix24, ale Segmentor jeszcze jej nie odczytał: nowe rekordy są uwzględniane w ciągu kilku minut. Otwórz tę zakładkę później.",
		"unseen_new_deal":        "Ten deal jest w Bitrix24, ale Segmentor jeszcze go nie odczytał: nowe rekordy są uwzględniane w ciągu kilku minut. Otwórz tę zakładkę później.",
		"unseen_unknown_contact": "Segmentor nie odczytał kontaktu o ID %d i nie mógł zapytać Bitrix24, czy taki istnieje. Otwórz kartę rekordu w Bitrix24, aby to sprawdzić.",
		"unseen_unknown_company": "Segmentor nie odczytał firmy o ID %d i nie mógł zapytać Bitrix24, czy taka istnieje. Otwórz kartę rekordu w Bitrix24, aby to sprawdzić.",
		"unseen_unknown_deal":    "Segmentor nie odczytał deala o ID %d i nie mógł zapytać Bitrix24, czy taki istnieje. Otwórz kartę rekordu w Bitrix24, aby to sprawdzić.",
	},
	i18n.IT: {
		"send_base_config": "Invia {base_version, config}.",
		"send_config":      "Invia {config}.",
		"send_type":        "Invia {entity, id, name}.",
		"too_large":        "La richiesta è troppo grande: il limite è %d KB. Impostazioni così grandi hanno molti più segmenti o valori di qualsiasi configurazione reale.",
		"problems":         "Le impostazioni contengono errori; correggi i campi evidenziati.",

		"bad_days":               "days deve essere 30, 90 o 365.",
		"csv_day":                "giorno",
		"csv_segment_key":        "chiave del segmento",
		"csv_segment":            "segmento",
		"csv_records":            "record",
		"csv_won":                "vinto in 365 giorni",
		"csv_won_deals":          "deal vinti",
		"csv_open_deals":         "deal aperti",
		"csv_currency":           "valuta",
		"csv_estimated":          "stima",
		"csv_from":               "da",
		"csv_to":                 "a",
		"yes":                    "sì",
		"no":                     "no",
		"trend_title":            "%s per segmento, ultimo %d giorno|%s per segmento, ultimi %d giorni",
		"estimated_label":        "Stima dalle date dei deal",
		"trend_none":             "Non ci sono ancora dati giornalieri: Segmentor li salva una volta al giorno, a partire dal primo ricalcolo.",
		"trend_days":             "Dati di %d giorno degli ultimi %d (dal %s al %s).|Dati di %d giorni degli ultimi %d (dal %s al %s).",
		"trend_all_estimated":    "Sono tutti stimati dalle date dei deal.",
		"trend_estimated_before": "I dati prima del %s sono stimati dalle date dei deal: da quel giorno Segmentor li salva da sé.",
		"trend_change":           "%s: %d → %d.",
		"removed":                "%s (rimosso)",
		"no_segment":             "Nessun segmento",
		"bad_date":               "%s deve essere una data come 2026-12-31.",
		"bad_period":             "Il periodo deve andare in avanti e durare al massimo %d giorni.",
		"moves_forbidden":        "Solo gli amministratori di Bitrix24 vedono quali record si sono spostati; la matrice mostra quanti sono.",
		"no_such_segment":        "Questo segmento non esiste.",
		"section":                "Sezione %d",
		"otherwise_rule":         "Tutti i record che i segmenti sopra non prendono.",
		"contacts":               "Contatti",
		"companies":              "Aziende",
		"deals":                  "Deal",

		"no_preview":        "Le anteprime non sono disponibili su questo server.",
		"bad_window":        "revenue_window_days deve essere da 0 (tutto il periodo) a 3650.",
		"bad_entity":        "Il tipo di record deve essere contact, company o deal.",
		"bad_id":            "L'ID del record deve essere un numero intero positivo.",
		"open_card":         "Apri la scheda di questo record in Bitrix24 per vederne qui il segmento: lì Bitrix24 verifica che tu possa vederlo.",
		"changes_forbidden": "Solo gli amministratori di Bitrix24 vedono l'elenco delle modifiche; la scheda di ogni record mostra le proprie.",
		"long_key":          "La chiave del segmento è troppo lunga.",
		"bad_limit":         "limit deve essere un numero intero da 1 a 200.",

		"no_record":        "Questo record non esiste in Bitrix24: potrebbe essere stato eliminato.",
		"record_denied":    "I tuoi permessi di accesso in Bitrix24 non ti consentono di vedere questo record, quindi nemmeno Segmentor lo mostra.",
		"too_many_signins": "Troppi accessi dalla tua rete; riprova tra %d s.",
		"portal_busy":      "Il tuo portale Bitrix24 è ora occupato dalle richieste di Segmentor; riprova tra %d s.",

		"trigger_change":    "Una modifica nel CRM",
		"trigger_setup":     "Prima classificazione dopo l'installazione",
		"trigger_config":    "Ricalcolo dopo il salvataggio delle regole",
		"trigger_recompute": "Ricalcolo avviato da un amministratore",
		"trigger_nightly":   "Ricalcolo programmato",

		"unseen_gone_contact":    "Bitrix24 non ha alcun contatto con ID %d: è stato eliminato o non è mai esistito.",
		"unseen_gone_company":    "Bitrix24 non ha alcuna azienda con ID %d: è stata eliminata o non è mai esistita.",
		"unseen_gone_deal":       "Bitrix24 non ha alcun deal con ID %d: è stato eliminato o non è mai esistito.",
		"unseen_new_contact":     "Questo contatto esiste in Bitrix24, ma Segmentor non l'ha ancora letto: un nuovo record viene considerato entro pochi minuti. Riapri questa scheda più tardi.",
		"unseen_new_company":     "Questa azienda esiste in Bitrix24, ma Segmentor non l'ha ancora letta: un nuovo record viene considerato entro pochi minuti. Riapri questa scheda più tardi.",
		"unseen_new_deal":        "Questo deal esiste in Bitrix24, ma Segmentor non l'ha ancora letto: un nuovo record viene considerato entro pochi minuti. Riapri questa scheda più tardi.",
		"unseen_unknown_contact": "Segmentor non ha letto alcun contatto con ID %d e non ha potuto chiedere a Bitrix24 se esiste. Apri la scheda del record in Bitrix24 per verificarlo.",
		"unseen_unknown_company": "Segmentor non ha letto alcuna azienda con ID %d e non ha potuto chiedere a Bitrix24 se esiste. Apri la scheda del record in Bitrix24 per verificarlo.",
		"unseen_unknown_deal":    "Segmentor non ha letto alcun deal con ID %d e non ha potuto chiedere a Bitrix24 se esiste. Apri la scheda del record in Bitrix24 per verificarlo.",
	},
}

// apiTexts are the API's errors by code, for a reader of another language
// than the English of the domain's own messages.
var apiTexts = i18n.Catalog[string]{
	i18n.EN: {
		app.EInvalid:      "The request is not valid.",
		app.ENotFound:     "Not found.",
		app.EConflict:     "Someone else saved the settings while you were editing them. Reload the page to see their changes.",
		app.EUnauthorized: "Your session is not valid or has expired; open the app again from your portal.",
		app.EForbidden:    "Only a Bitrix24 administrator can change the settings.",
		app.EUnavailable:  "The service is unavailable for a moment; try again in a minute.",
		app.ETooMany:      "Too many requests; try again later.",
		app.ETooLarge:     "The request is too large.",
		app.EInternal:     "Internal error.",
	},
	i18n.RU: {
		app.EInvalid:      "Запрос составлен неверно.",
		app.ENotFound:     "Не найдено.",
		app.EConflict:     "Кто-то сохранил настройки, пока вы их редактировали. Перезагрузите страницу, чтобы увидеть изменения.",
		app.EUnauthorized: "Сеанс недействителен или истёк; откройте приложение заново из портала.",
		app.EForbidden:    "Изменять настройки может только администратор Битрикс24.",
		app.EUnavailable:  "Сервис временно недоступен; повторите попытку через минуту.",
		app.ETooMany:      "Слишком много запросов; повторите попытку позже.",
		app.ETooLarge:     "Запрос слишком велик.",
		app.EInternal:     "Внутренняя ошибка.",
	},
	i18n.PL: {
		app.EInvalid:      "Żądanie jest nieprawidłowe.",
		app.ENotFound:     "Nie znaleziono.",
		app.EConflict:     "Ktoś inny zapisał ustawienia w trakcie ich edycji. Odśwież stronę, aby zobaczyć zmiany.",
		app.EUnauthorized: "Sesja jest nieważna lub wygasła; otwórz aplikację ponownie ze swojego portalu.",
		app.EForbidden:    "Ustawienia może zmieniać tylko administrator Bitrix24.",
		app.EUnavailable:  "Usługa jest chwilowo niedostępna; spróbuj ponownie za minutę.",
		app.ETooMany:      "Zbyt wiele żądań; spróbuj ponownie później.",
		app.ETooLarge:     "Żądanie jest za duże.",
		app.EInternal:     "Błąd wewnętrzny.",
	},
	i18n.IT: {
		app.EInvalid:      "La richiesta non è valida.",
		app.ENotFound:     "Non trovato.",
		app.EConflict:     "Qualcun altro ha salvato le impostazioni mentre le stavi modificando. Ricarica la pagina per vedere le modifiche.",
		app.EUnauthorized: "La sessione non è valida o è scaduta; riapri l'app dal tuo portale.",
		app.EForbidden:    "Solo un amministratore di Bitrix24 può modificare le impostazioni.",
		app.EUnavailable:  "Il servizio è momentaneamente non disponibile; riprova tra un minuto.",
		app.ETooMany:      "Troppe richieste; riprova più tardi.",
		app.ETooLarge:     "La richiesta è troppo grande.",
		app.EInternal:     "Errore interno.",
	},
}

// langOf maps Bitrix24's LANG to the language the pages and the API
// speak: "en", "ru", "pl" or "it".
func langOf(lang string) string { return string(i18n.Parse(lang)) }

// say is the text key in lang (a session's or a page's language), with
// args filled in; the key itself when there is no such text.
func say(lang, key string, args ...any) string {
	if _, ok := texts[i18n.EN][key]; !ok {
		return key
	}
	return texts.Format(i18n.Parse(lang), key, args...)
}

// sayN is a counted text key in lang in the plural form for n.
func sayN(lang, key string, n int, args ...any) string {
	if _, ok := texts[i18n.EN][key]; !ok {
		return key
	}
	return texts.Count(i18n.Parse(lang), key, float64(n), args...)
}

// userError is an error whose message is already in the user's language:
// texts' key with args.
func userError(code, lang, key string, args ...any) error {
	return &app.Error{Code: code, Message: say(lang, key, args...), Err: errInUserLanguage}
}
