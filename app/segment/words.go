package segment

import "segmentor/app/i18n"

// Words are the labels a person reads for the parts of a condition: the
// settings page's editor shows them (GET /api/v1/reference hands them to
// it) and every explanation and problem message is written with them, so
// the card tab says what the editor says.
type Words struct {
	Facts  map[string]string `json:"facts"`  // fact name → label
	Ops    map[Op]string     `json:"ops"`    // operator → words
	Groups map[string]string `json:"groups"` // all, any, not → words
	// Values name the codes some facts take (a registry status, a PKD
	// section): fact → code → label. The editor offers them as choices.
	Values map[string]map[string]string `json:"values"`
}

// words holds every language's labels; wordsIn falls back to English.
var words = map[Lang]Words{
	EN: {
		Facts: map[string]string{
			"won_amount": "Won amount", "won_count": "Won deals", "avg_won_amount": "Average won deal",
			"lost_count": "Lost deals", "open_deals": "Open deals", "days_since_last_won": "Days since last purchase",
			"days_since_first_won": "Days since first purchase", "product_groups": "Product groups bought",
			"growth": "Revenue growth (× previous period)", "rfm_r": "RFM recency (1–5)",
			"rfm_f": "RFM frequency (1–5)", "rfm_m": "RFM monetary (1–5)", "rfm": "RFM code",
			"client_segment": "Segment of the deal's client",

			"days_since_last_activity": "Days since last activity", "activities": "Activities (calls, e-mails, meetings, tasks)",
			"calls": "Calls", "emails": "E-mails", "meetings": "Meetings", "tasks": "Tasks",
			"inbound_activities": "Inbound calls and e-mails", "outbound_activities": "Outbound calls and e-mails",
			"days_since_last_inbound": "Days since last inbound call or e-mail", "open_activities": "Open activities",
			"country": "Country", "region": "Region (voivodeship, state)", "city": "City", "postal_prefix": "Postal code area (first two characters)",
			"static_list":          "In list",
			"registry:pkd_section": "Industry (PKD section)", "registry:pkd": "Main activity (PKD code)",
			"registry:region": "Registered voivodeship", "registry:legal_form": "Legal form",
			"registry:status": "Registry status", "registry:age_years": "Years since registration",
		},
		Ops: map[Op]string{
			OpEq: "equals", OpNe: "does not equal", OpLt: "less than", OpLe: "at most", OpGt: "more than", OpGe: "at least",
			OpIn: "is one of", OpNotIn: "is none of", OpContains: "contains", OpBetween: "between",
			OpEmpty: "is empty", OpNotEmpty: "is not empty",
		},
		Groups: map[string]string{"all": "All of these (AND)", "any": "Any of these (OR)", "not": "None of these (NOT)"},
		Values: map[string]map[string]string{
			"registry:status":      {"active": "active", "suspended": "suspended", "closed": "closed (struck off)"},
			"registry:pkd_section": {"A": "A · Agriculture, forestry and fishing", "B": "B · Mining and quarrying", "C": "C · Manufacturing", "D": "D · Electricity, gas, steam and air conditioning supply", "E": "E · Water supply, sewerage and waste management", "F": "F · Construction", "G": "G · Wholesale and retail trade; repair of motor vehicles", "H": "H · Transportation and storage", "I": "I · Accommodation and food service", "J": "J · Information and communication", "K": "K · Financial and insurance activities", "L": "L · Real estate activities", "M": "M · Professional, scientific and technical activities", "N": "N · Administrative and support service activities", "O": "O · Public administration and defence", "P": "P · Education", "Q": "Q · Human health and social work", "R": "R · Arts, entertainment and recreation", "S": "S · Other service activities", "T": "T · Households as employers", "U": "U · Extraterritorial organisations"},
		},
	},
	RU: {
		Facts: map[string]string{
			"won_amount": "Сумма выигранных сделок", "won_count": "Выигранных сделок", "avg_won_amount": "Средняя выигранная сделка",
			"lost_count": "Проигранных сделок", "open_deals": "Открытых сделок", "days_since_last_won": "Дней с последней покупки",
			"days_since_first_won": "Дней с первой покупки", "product_groups": "Купленные группы товаров",
			"growth": "Рост выручки (× к прошлому периоду)", "rfm_r": "RFM давность (1–5)",
			"rfm_f": "RFM частота (1–5)", "rfm_m": "RFM деньги (1–5)", "rfm": "RFM код",
			"client_segment": "Сегмент клиента сделки",

			"days_since_last_activity": "Дней с последнего дела", "activities": "Дел (звонков, писем, встреч, задач)",
			"calls": "Звонков", "emails": "Писем", "meetings": "Встреч", "tasks": "Задач",
			"inbound_activities": "Входящих звонков и писем", "outbound_activities": "Исходящих звонков и писем",
			"days_since_last_inbound": "Дней с последнего входящего звонка или письма", "open_activities": "Открытых дел",
			"country": "Страна", "region": "Регион (воеводство, область)", "city": "Город", "postal_prefix": "Почтовый район (первые два символа индекса)",
			"static_list":          "В списке",
			"registry:pkd_section": "Отрасль (секция PKD)", "registry:pkd": "Основной вид деятельности (код PKD)",
			"registry:region": "Воеводство регистрации", "registry:legal_form": "Организационно-правовая форма",
			"registry:status": "Статус в реестре", "registry:age_years": "Лет с регистрации",
		},
		Ops: map[Op]string{
			OpEq: "равно", OpNe: "не равно", OpLt: "меньше", OpLe: "не больше", OpGt: "больше", OpGe: "не меньше",
			OpIn: "одно из", OpNotIn: "ни одно из", OpContains: "содержит", OpBetween: "между",
			OpEmpty: "пусто", OpNotEmpty: "не пусто",
		},
		Groups: map[string]string{"all": "Все условия (И)", "any": "Любое из условий (ИЛИ)", "not": "Ни одно из условий (НЕ)"},
		Values: map[string]map[string]string{
			"registry:status":      {"active": "действует", "suspended": "деятельность приостановлена", "closed": "ликвидирована"},
			"registry:pkd_section": {"A": "A · Сельское, лесное хозяйство и рыболовство", "B": "B · Добыча полезных ископаемых", "C": "C · Обрабатывающая промышленность", "D": "D · Электроэнергия, газ, пар и кондиционирование", "E": "E · Водоснабжение, канализация и отходы", "F": "F · Строительство", "G": "G · Оптовая и розничная торговля; ремонт автотранспорта", "H": "H · Транспорт и хранение", "I": "I · Гостиницы и общественное питание", "J": "J · Информация и связь", "K": "K · Финансы и страхование", "L": "L · Операции с недвижимостью", "M": "M · Профессиональная, научная и техническая деятельность", "N": "N · Административная и вспомогательная деятельность", "O": "O · Государственное управление и оборона", "P": "P · Образование", "Q": "Q · Здравоохранение и социальные услуги", "R": "R · Культура, спорт и отдых", "S": "S · Прочие услуги", "T": "T · Домашние хозяйства как работодатели", "U": "U · Экстерриториальные организации"},
		},
	},
	PL: {
		Facts: map[string]string{
			"won_amount": "Kwota wygranych deali", "won_count": "Wygrane deale", "avg_won_amount": "Średnia wartość wygranego deala",
			"lost_count": "Przegrane deale", "open_deals": "Otwarte deale", "days_since_last_won": "Dni od ostatniego zakupu",
			"days_since_first_won": "Dni od pierwszego zakupu", "product_groups": "Kupione grupy produktów",
			"growth": "Wzrost przychodu (× poprzedni okres)", "rfm_r": "RFM – aktualność (1–5)",
			"rfm_f": "RFM – częstotliwość (1–5)", "rfm_m": "RFM – wartość (1–5)", "rfm": "Kod RFM",
			"client_segment": "Segment klienta deala",

			"days_since_last_activity": "Dni od ostatniej aktywności", "activities": "Aktywności (połączenia, e-maile, spotkania, zadania)",
			"calls": "Połączenia", "emails": "E-maile", "meetings": "Spotkania", "tasks": "Zadania",
			"inbound_activities": "Połączenia i e-maile przychodzące", "outbound_activities": "Połączenia i e-maile wychodzące",
			"days_since_last_inbound": "Dni od ostatniego przychodzącego połączenia lub e-maila", "open_activities": "Otwarte aktywności",
			"country": "Kraj", "region": "Region (województwo)", "city": "Miejscowość", "postal_prefix": "Obszar pocztowy (pierwsze dwa znaki kodu)",
			"static_list":          "Na liście",
			"registry:pkd_section": "Branża (sekcja PKD)", "registry:pkd": "Przeważająca działalność (kod PKD)",
			"registry:region": "Województwo siedziby", "registry:legal_form": "Forma prawna",
			"registry:status": "Status w rejestrze", "registry:age_years": "Lata od rejestracji",
		},
		Ops: map[Op]string{
			OpEq: "równa się", OpNe: "nie równa się", OpLt: "mniej niż", OpLe: "co najwyżej", OpGt: "więcej niż", OpGe: "co najmniej",
			OpIn: "jedno z", OpNotIn: "żadne z", OpContains: "zawiera", OpBetween: "pomiędzy",
			OpEmpty: "jest puste", OpNotEmpty: "nie jest puste",
		},
		Groups: map[string]string{"all": "Wszystkie warunki (I)", "any": "Dowolny z warunków (LUB)", "not": "Żaden z warunków (NIE)"},
		Values: map[string]map[string]string{
			"registry:status":      {"active": "aktywna", "suspended": "działalność zawieszona", "closed": "wykreślona"},
			"registry:pkd_section": {"A": "A · Rolnictwo, leśnictwo, łowiectwo i rybactwo", "B": "B · Górnictwo i wydobywanie", "C": "C · Przetwórstwo przemysłowe", "D": "D · Wytwarzanie i zaopatrywanie w energię elektryczną, gaz, parę wodną i powietrze do układów klimatyzacyjnych", "E": "E · Dostawa wody; gospodarowanie ściekami i odpadami", "F": "F · Budownictwo", "G": "G · Handel hurtowy i detaliczny; naprawa pojazdów samochodowych", "H": "H · Transport i gospodarka magazynowa", "I": "I · Zakwaterowanie i gastronomia", "J": "J · Informacja i komunikacja", "K": "K · Działalność finansowa i ubezpieczeniowa", "L": "L · Obsługa rynku nieruchomości", "M": "M · Działalność profesjonalna, naukowa i techniczna", "N": "N · Administrowanie i działalność wspierająca", "O": "O · Administracja publiczna i obrona narodowa", "P": "P · Edukacja", "Q": "Q · Opieka zdrowotna i pomoc społeczna", "R": "R · Kultura, rozrywka i rekreacja", "S": "S · Pozostała działalność usługowa", "T": "T · Gospodarstwa domowe zatrudniające pracowników", "U": "U · Organizacje i zespoły eksterytorialne"},
		},
	},
	IT: {
		Facts: map[string]string{
			"won_amount": "Importo dei deal vinti", "won_count": "Deal vinti", "avg_won_amount": "Valore medio dei deal vinti",
			"lost_count": "Deal persi", "open_deals": "Deal aperti", "days_since_last_won": "Giorni dall'ultimo acquisto",
			"days_since_first_won": "Giorni dal primo acquisto", "product_groups": "Gruppi di prodotti acquistati",
			"growth": "Crescita del fatturato (× periodo precedente)", "rfm_r": "RFM recenza (1–5)",
			"rfm_f": "RFM frequenza (1–5)", "rfm_m": "RFM valore (1–5)", "rfm": "Codice RFM",
			"client_segment": "Segmento del cliente del deal",

			"days_since_last_activity": "Giorni dall'ultima attività", "activities": "Attività (chiamate, e-mail, riunioni, incarichi)",
			"calls": "Chiamate", "emails": "E-mail", "meetings": "Riunioni", "tasks": "Incarichi",
			"inbound_activities": "Chiamate ed e-mail in entrata", "outbound_activities": "Chiamate ed e-mail in uscita",
			"days_since_last_inbound": "Giorni dall'ultima chiamata o e-mail in entrata", "open_activities": "Attività aperte",
			"country": "Paese", "region": "Regione (voivodato, provincia)", "city": "Città", "postal_prefix": "Zona postale (prime due cifre del CAP)",
			"static_list":          "Nella lista",
			"registry:pkd_section": "Settore (sezione PKD)", "registry:pkd": "Attività principale (codice PKD)",
			"registry:region": "Voivodato della sede", "registry:legal_form": "Forma giuridica",
			"registry:status": "Stato nel registro", "registry:age_years": "Anni dalla registrazione",
		},
		Ops: map[Op]string{
			OpEq: "uguale a", OpNe: "diverso da", OpLt: "meno di", OpLe: "al massimo", OpGt: "più di", OpGe: "almeno",
			OpIn: "uno tra", OpNotIn: "nessuno tra", OpContains: "contiene", OpBetween: "tra",
			OpEmpty: "è vuoto", OpNotEmpty: "non è vuoto",
		},
		Groups: map[string]string{"all": "Tutte le condizioni (E)", "any": "Almeno una condizione (O)", "not": "Nessuna condizione (NON)"},
		Values: map[string]map[string]string{
			"registry:status":      {"active": "attiva", "suspended": "attività sospesa", "closed": "cancellata"},
			"registry:pkd_section": {"A": "A · Agricoltura, silvicoltura e pesca", "B": "B · Estrazione di minerali", "C": "C · Attività manifatturiere", "D": "D · Fornitura di energia elettrica, gas, vapore e aria condizionata", "E": "E · Fornitura di acqua; reti fognarie e gestione dei rifiuti", "F": "F · Costruzioni", "G": "G · Commercio all'ingrosso e al dettaglio; riparazione di autoveicoli", "H": "H · Trasporto e magazzinaggio", "I": "I · Alloggio e ristorazione", "J": "J · Informazione e comunicazione", "K": "K · Attività finanziarie e assicurative", "L": "L · Attività immobiliari", "M": "M · Attività professionali, scientifiche e tecniche", "N": "N · Noleggio, agenzie di viaggio, servizi di supporto alle imprese", "O": "O · Amministrazione pubblica e difesa", "P": "P · Istruzione", "Q": "Q · Sanità e assistenza sociale", "R": "R · Attività artistiche, sportive e di intrattenimento", "S": "S · Altre attività di servizi", "T": "T · Famiglie come datori di lavoro", "U": "U · Organizzazioni extraterritoriali"},
		},
	},
}

// Languages lists the languages Segmentor speaks, English first.
func Languages() []Lang { return i18n.All() }

// WordsIn returns the labels in lang (English for any other).
func WordsIn(lang Lang) Words {
	if w, ok := words[lang]; ok {
		return w
	}
	return words[EN]
}

// phrase is a fixed piece of an explanation, in every language.
type phrase uint8

const (
	phNoValue phrase = iota
	phLastDay
	phLastDays
	phDays
	phDaysCompared
	phOutOf5
	phNoPurchases
	phFromNothing
	phAnd
	phNoneApplies
	phNoSegment
	phNearest
	phNotChecked
	phMore
	phTimes
	phNoActivities
	phNoInbound
)

// phrases are counted where a number precedes a noun: "%s day|%s days"
// (i18n.Plural). phDaysCompared is the count a comparison asks for: in
// Russian "не меньше 21 дня", in the genitive.
var phrases = i18n.Catalog[phrase]{
	EN: {
		phNoValue: "no value", phLastDay: "in the last day", phLastDays: "in the last %s day|in the last %s days", phDays: "%s day|%s days", phDaysCompared: "%s day|%s days",
		phOutOf5: "%s of 5", phNoPurchases: "no purchases", phFromNothing: "up from nothing", phAnd: "and",
		phNoneApplies: "None of the segments above applies.", phNoSegment: "No segment's conditions hold.",
		phNearest: "Nearest", phNotChecked: "not checked: an earlier condition decided", phMore: "and %s more",
		phTimes: "×%s", phNoActivities: "no activities", phNoInbound: "no inbound calls or e-mails",
	},
	RU: {
		phNoValue: "нет значения", phLastDay: "за последний день", phLastDays: "за последний %s день|за последние %s дня|за последние %s дней",
		phDays: "%s день|%s дня|%s дней", phDaysCompared: "%s дня|%s дней|%s дней",
		phOutOf5: "%s из 5", phNoPurchases: "покупок нет", phFromNothing: "рост с нуля", phAnd: "и",
		phNoneApplies: "Ни один из сегментов выше не подходит.", phNoSegment: "Условия ни одного сегмента не выполняются.",
		phNearest: "Ближе всего", phNotChecked: "не проверялось: решило предыдущее условие", phMore: "и ещё %s",
		phTimes: "×%s", phNoActivities: "дел нет", phNoInbound: "входящих звонков и писем нет",
	},
	PL: {
		phNoValue: "brak wartości", phLastDay: "w ostatnim dniu", phLastDays: "w ostatnim %s dniu|w ostatnich %s dniach|w ostatnich %s dniach",
		phDays: "%s dzień|%s dni|%s dni", phDaysCompared: "%s dzień|%s dni|%s dni",
		phOutOf5: "%s z 5", phNoPurchases: "brak zakupów", phFromNothing: "wzrost od zera", phAnd: "a",
		phNoneApplies: "Żaden z powyższych segmentów nie pasuje.", phNoSegment: "Warunki żadnego segmentu nie są spełnione.",
		phNearest: "Najbliżej", phNotChecked: "nie sprawdzono: rozstrzygnął wcześniejszy warunek", phMore: "i jeszcze %s",
		phTimes: "×%s", phNoActivities: "brak aktywności", phNoInbound: "brak przychodzących połączeń i e-maili",
	},
	IT: {
		phNoValue: "nessun valore", phLastDay: "nell'ultimo giorno", phLastDays: "nell'ultimo %s giorno|negli ultimi %s giorni",
		phDays: "%s giorno|%s giorni", phDaysCompared: "%s giorno|%s giorni",
		phOutOf5: "%s su 5", phNoPurchases: "nessun acquisto", phFromNothing: "crescita da zero", phAnd: "e",
		phNoneApplies: "Nessuno dei segmenti qui sopra si applica.", phNoSegment: "Le condizioni di nessun segmento sono soddisfatte.",
		phNearest: "Il più vicino", phNotChecked: "non verificata: ha deciso una condizione precedente", phMore: "e un'altra|e altre %s",
		phTimes: "×%s", phNoActivities: "nessuna attività", phNoInbound: "nessuna chiamata o e-mail in entrata",
	},
}

// ParseLang is the language Segmentor speaks for a Bitrix24 language code
// (a portal's or a user's LANG): see i18n.Parse.
func ParseLang(code string) Lang { return i18n.Parse(code) }
