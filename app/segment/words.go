package segment

import "strings"

// Words are the labels a person reads for the parts of a condition: the
// settings page's editor shows them (GET /api/v1/reference hands them to
// it) and every explanation and problem message is written with them, so
// the card tab says what the editor says.
type Words struct {
	Facts  map[string]string `json:"facts"`  // fact name → label
	Ops    map[Op]string     `json:"ops"`    // operator → words
	Groups map[string]string `json:"groups"` // all, any, not → words
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
		},
		Ops: map[Op]string{
			OpEq: "equals", OpNe: "does not equal", OpLt: "less than", OpLe: "at most", OpGt: "more than", OpGe: "at least",
			OpIn: "is one of", OpNotIn: "is none of", OpContains: "contains", OpBetween: "between",
			OpEmpty: "is empty", OpNotEmpty: "is not empty",
		},
		Groups: map[string]string{"all": "All of these (AND)", "any": "Any of these (OR)", "not": "None of these (NOT)"},
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
		},
		Ops: map[Op]string{
			OpEq: "равно", OpNe: "не равно", OpLt: "меньше", OpLe: "не больше", OpGt: "больше", OpGe: "не меньше",
			OpIn: "одно из", OpNotIn: "ни одно из", OpContains: "содержит", OpBetween: "между",
			OpEmpty: "пусто", OpNotEmpty: "не пусто",
		},
		Groups: map[string]string{"all": "Все условия (И)", "any": "Любое из условий (ИЛИ)", "not": "Ни одно из условий (НЕ)"},
	},
}

// Languages lists the languages Segmentor speaks, English first.
func Languages() []Lang { return []Lang{EN, RU} }

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
	phNeeds
	phNot
	phLastDays
	phDays
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

var phrases = map[Lang]map[phrase]string{
	EN: {
		phNoValue: "no value", phNeeds: "needs", phNot: "not", phLastDays: "in the last %s days", phDays: "%s days",
		phOutOf5: "%s of 5", phNoPurchases: "no purchases", phFromNothing: "up from nothing", phAnd: "and",
		phNoneApplies: "None of the segments above applies.", phNoSegment: "No segment's conditions hold.",
		phNearest: "Nearest", phNotChecked: "not checked: an earlier condition decided", phMore: "and %s more",
		phTimes: "×%s", phNoActivities: "no activities", phNoInbound: "no inbound calls or e-mails",
	},
	RU: {
		phNoValue: "нет значения", phNeeds: "нужно", phNot: "не", phLastDays: "за последние %s дн.", phDays: "%s дн.",
		phOutOf5: "%s из 5", phNoPurchases: "покупок нет", phFromNothing: "рост с нуля", phAnd: "и",
		phNoneApplies: "Ни один из сегментов выше не подходит.", phNoSegment: "Условия ни одного сегмента не выполняются.",
		phNearest: "Ближе всего", phNotChecked: "не проверялось: решило предыдущее условие", phMore: "и ещё %s",
		phTimes: "×%s", phNoActivities: "дел нет", phNoInbound: "входящих звонков и писем нет",
	},
}

func (lang Lang) say(p phrase) string {
	if m, ok := phrases[lang]; ok {
		return m[p]
	}
	return phrases[EN][p]
}

// known returns lang if Segmentor speaks it, else English.
func (lang Lang) known() Lang {
	if _, ok := words[lang]; ok {
		return lang
	}
	return EN
}

// ParseLang is the language Segmentor speaks for a Bitrix24 language code
// (a portal's or a user's LANG): Russian for ru, ua, by and kz, else
// English.
func ParseLang(code string) Lang {
	switch strings.ToLower(code) {
	case "ru", "ua", "by", "kz":
		return RU
	}
	return EN
}
