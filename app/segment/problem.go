package segment

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lang selects the language of messages shown to admins.
type Lang string

// Languages with messages. Any other Lang falls back to English.
const (
	EN Lang = "en"
	RU Lang = "ru"
)

// Code names a kind of problem in a config; it is stable, so the settings
// page can react to it without matching message text.
type Code string

// Problem codes.
const (
	CodeJSONSyntax   Code = "json_syntax"
	CodeJSONObject   Code = "json_object"
	CodeJSONList     Code = "json_list"
	CodeJSONText     Code = "json_text"
	CodeJSONInteger  Code = "json_integer"
	CodeJSONBool     Code = "json_bool"
	CodeJSONTrailing Code = "json_trailing"
	CodeJSONUTF8     Code = "json_utf8"
	CodeJSONControl  Code = "json_control"
	CodeJSONDupKey   Code = "json_duplicate_key"
	CodeJSONDepth    Code = "json_too_deep"
	CodeUnknownKey   Code = "unknown_key"
	CodeNoEntity     Code = "no_entity"
	CodeBadEntity    Code = "bad_entity"
	CodeDupScheme    Code = "duplicate_scheme"
	CodeNoSegments   Code = "no_segments"
	CodeNoKey        Code = "no_key"
	CodeBadKey       Code = "bad_key"
	CodeDupKey       Code = "duplicate_key"
	CodeNoName       Code = "no_name"
	CodeLongName     Code = "long_name"
	CodeBadColor     Code = "bad_color"
	CodeNoWhen       Code = "no_when"
	CodeWhenOnOther  Code = "when_on_otherwise"
	CodeUnknownType  Code = "unknown_type"
	CodePipeNotDeal  Code = "pipeline_not_deal"
	CodeUnknownPipe  Code = "unknown_pipeline"
	CodeNoStage      Code = "no_stage"
	CodeUnknownStage Code = "unknown_stage"
	CodeStageNotPipe Code = "stage_not_in_pipeline"
	CodeBadApply     Code = "bad_apply"
	CodeEmptyGroup   Code = "empty_group"
	CodeMixed        Code = "mixed_condition"
	CodeEmptyCond    Code = "empty_condition"
	CodeTooDeep      Code = "too_deep"
	CodeNoFact       Code = "no_fact"
	CodeUnknownFact  Code = "unknown_fact"
	CodeNoField      Code = "no_field"
	CodeBadField     Code = "bad_field"
	CodeUnknownField Code = "unknown_field"
	CodeDealOnly     Code = "deal_only_fact"
	CodeClientOnly   Code = "client_only_fact"
	CodeNoOp         Code = "no_op"
	CodeUnknownOp    Code = "unknown_op"
	CodeOpNotForFact Code = "op_not_for_fact"
	CodeNoValue      Code = "no_value"
	CodeExtraValue   Code = "extra_value"
	CodeWantNumber   Code = "want_number"
	CodeWantText     Code = "want_text"
	CodeWantList     Code = "want_list"
	CodeEmptyList    Code = "empty_list"
	CodeWantRange    Code = "want_range"
	CodeNoWindow     Code = "window_not_allowed"
	CodeWindowRange  Code = "window_range"
	CodeNeedWindow   Code = "window_required"
	CodeRFMScore     Code = "rfm_score"
	CodeRFMCode      Code = "rfm_code"
	CodeStageNoPipe  Code = "stage_needs_pipeline"
	CodeUnknownSeg   Code = "unknown_client_segment"
	CodeUnknownSrc   Code = "unknown_source"
)

// messages holds the English and Russian text of each code; %[n]s are the
// Problem's Args. The text follows a prefix naming the record type and the
// segment, so it starts in lower case.
var messages = map[Code][2]string{
	CodeJSONSyntax:   {"the settings are not valid JSON (line %[1]s, column %[2]s)", "настройки — некорректный JSON (строка %[1]s, столбец %[2]s)"},
	CodeJSONObject:   {"%[1]q must be an object {…}", "«%[1]s» должно быть объектом {…}"},
	CodeJSONList:     {"%[1]q must be a list […]", "«%[1]s» должно быть списком […]"},
	CodeJSONText:     {"%[1]q must be text", "«%[1]s» должно быть текстом"},
	CodeJSONInteger:  {"%[1]q must be a whole number", "«%[1]s» должно быть целым числом"},
	CodeJSONBool:     {"%[1]q must be true or false", "«%[1]s» должно быть true или false"},
	CodeJSONTrailing: {"there is more after the end of the JSON (line %[1]s, column %[2]s)", "после конца JSON есть что-то ещё (строка %[1]s, столбец %[2]s)"},
	CodeJSONUTF8:     {"the text is not valid UTF-8", "текст — некорректный UTF-8"},
	CodeJSONControl:  {"the control character %[1]s is not allowed here; remove it", "управляющий символ %[1]s здесь недопустим; удалите его"},
	CodeJSONDupKey:   {"the key %[1]q appears twice", "ключ «%[1]s» указан дважды"},
	CodeJSONDepth:    {"the JSON is nested more than %[1]s levels deep", "JSON вложен глубже %[1]s уровней"},
	CodeUnknownKey:   {"unknown setting %[1]q", "неизвестный параметр «%[1]s»"},
	CodeNoEntity:     {"the scheme does not say which records it is for: set entity to contact, company or deal", "не указано, для каких записей схема: задайте entity — contact, company или deal"},
	CodeBadEntity:    {"%[1]q is not a record type: use contact, company or deal", "«%[1]s» — не тип записей: используйте contact, company или deal"},
	CodeDupScheme:    {"there is already a scheme for these records; each record type has only one", "для этих записей уже есть схема; у каждого типа записей может быть только одна"},
	CodeNoSegments:   {"the scheme has no segments", "в схеме нет ни одного сегмента"},
	CodeNoKey:        {"the segment has no key; give it a short code such as vip", "у сегмента нет ключа; задайте короткий код, например vip"},
	CodeBadKey:       {"the key %[1]q is not valid: use up to 32 lowercase Latin letters, digits and _, starting with a letter", "ключ «%[1]s» недопустим: используйте до 32 строчных латинских букв, цифр и _, начиная с буквы"},
	CodeDupKey:       {"the key %[1]q is already used by segment %[2]q in this scheme", "ключ «%[1]s» уже занят сегментом «%[2]s» этой схемы"},
	CodeNoName:       {"the segment has no name", "у сегмента нет названия"},
	CodeLongName:     {"the name is longer than %[1]s characters", "название длиннее %[1]s символов"},
	CodeBadColor:     {"the color %[1]q is not valid: use a hex color such as #d4a017", "цвет «%[1]s» недопустим: укажите его в виде #d4a017"},
	CodeNoWhen:       {"the segment has no conditions; add at least one, or make it the \"otherwise\" segment", "у сегмента нет условий; добавьте хотя бы одно или сделайте его сегментом «иначе»"},
	CodeWhenOnOther:  {"the \"otherwise\" segment takes everything the other segments did not; it cannot have conditions", "сегмент «иначе» получает всё, что не попало в другие сегменты; условий у него быть не может"},
	CodeUnknownType:  {"the type %[1]q does not exist in this portal (known types: %[2]s)", "типа «%[1]s» нет на портале (есть: %[2]s)"},
	CodePipeNotDeal:  {"only deals can be moved to a pipeline", "переносить в воронку можно только сделки"},
	CodeUnknownPipe:  {"pipeline %[1]s does not exist in this portal", "воронки %[1]s нет на портале"},
	CodeNoStage:      {"choose the stage the deals are moved to", "выберите стадию, в которую переносить сделки"},
	CodeUnknownStage: {"the stage “%[1]s” does not exist in this portal", "стадии «%[1]s» нет на портале"},
	CodeStageNotPipe: {"the stage “%[1]s” is not in pipeline %[2]s", "стадия «%[1]s» не относится к воронке %[2]s"},
	CodeBadApply:     {"%[1]q is not a choice of which deals to move: use new_only, first_stage or always", "«%[1]s» — неверный выбор сделок для переноса: используйте new_only, first_stage или always"},
	CodeEmptyGroup:   {"the group “%[1]s” has no conditions", "в группе «%[1]s» нет условий"},
	CodeMixed:        {"a condition is either a group (all, any, not) or a fact comparison, not both", "условие — это либо группа (all, any, not), либо сравнение факта, но не то и другое сразу"},
	CodeEmptyCond:    {"the condition is empty: choose a fact or make it a group", "условие пустое: выберите факт или сделайте его группой"},
	CodeTooDeep:      {"conditions are nested more than %[1]s levels deep", "условия вложены глубже %[1]s уровней"},
	CodeNoFact:       {"the condition has no fact", "в условии не выбран факт"},
	CodeUnknownFact:  {"unknown fact %[1]q", "неизвестный факт «%[1]s»"},
	CodeNoField:      {"choose the field the condition reads", "выберите поле, которое читает условие"},
	CodeBadField:     {"%[1]q is not a field name: field names are in capitals, such as %[2]s", "«%[1]s» — не имя поля: имена полей пишутся заглавными, например %[2]s"},
	CodeUnknownField: {"the field %[1]q does not exist in this portal", "поля «%[1]s» нет на портале"},
	CodeDealOnly:     {"“%[1]s” can only be used in deal rules", "«%[1]s» можно использовать только в правилах для сделок"},
	CodeClientOnly:   {"“%[1]s” can only be used in contact and company rules", "«%[1]s» можно использовать только в правилах для контактов и компаний"},
	CodeNoOp:         {"the condition on “%[1]s” has no operator: choose one under “Is”", "в условии на «%[1]s» не выбрано условие сравнения"},
	CodeUnknownOp:    {"unknown operator %[1]q", "неизвестный оператор «%[1]s»"},
	CodeOpNotForFact: {"“%[1]s” cannot be used with “%[2]s”", "«%[1]s» нельзя применять к «%[2]s»"},
	CodeNoValue:      {"“%[1]s %[2]s …” needs a value", "в условии «%[1]s %[2]s …» нужно значение"},
	CodeExtraValue:   {"“%[1]s” takes no value", "«%[1]s» не принимает значения"},
	CodeWantNumber:   {"“%[1]s %[2]s …” needs a number, not %[3]s", "в условии «%[1]s %[2]s …» нужно число, а не %[3]s"},
	CodeWantText:     {"“%[1]s %[2]s …” needs text, not %[3]s", "в условии «%[1]s %[2]s …» нужен текст, а не %[3]s"},
	CodeWantList:     {"“%[1]s %[2]s …” needs one or more values", "в условии «%[1]s %[2]s …» нужно одно или несколько значений"},
	CodeEmptyList:    {"choose at least one value for “%[1]s”", "выберите хотя бы одно значение для «%[1]s»"},
	CodeWantRange:    {"“between” needs two numbers, from and to, with from ≤ to", "«между» требует двух чисел, от и до, где от ≤ до"},
	CodeNoWindow:     {"“%[1]s” has no period: clear “Last N days”", "у «%[1]s» нет периода: очистите «За N дней»"},
	CodeWindowRange:  {"“Last N days” must be a whole number from 1 to %[1]s", "«За N дней» должно быть целым числом от 1 до %[1]s"},
	CodeNeedWindow:   {"“%[1]s” compares two periods: set “Last N days”", "«%[1]s» сравнивает два периода: задайте «За N дней»"},
	CodeRFMScore:     {"RFM scores go from 0 (no purchases) to 5, not %[1]s", "оценки RFM — от 0 (нет покупок) до 5, а не %[1]s"},
	CodeRFMCode:      {"%[1]q is not an RFM code: use three digits from 0 to 5, such as \"545\"", "«%[1]s» — не код RFM: используйте три цифры от 0 до 5, например «545»"},
	CodeStageNoPipe:  {"a stage condition needs a pipeline: add a condition on “%[1]s” to this segment", "для условия на стадию нужна воронка: добавьте в сегмент условие на «%[1]s»"},
	CodeUnknownSeg:   {"%[1]q is not a key of a contact or company segment", "«%[1]s» — не ключ сегмента контактов или компаний"},
	CodeUnknownSrc:   {"the source %[1]q does not exist in this portal", "источника «%[1]s» нет на портале"},
}

// Problem is one thing wrong with a config.
type Problem struct {
	Path    string   // where: "schemes[0].segments[1].when.all[0]"
	Code    Code     // what, machine-readable
	Entity  Entity   // the scheme's record type, when known
	Segment string   // the segment's name (or key), when inside one
	Args    []string // the details the message quotes
}

// argKind says how a message shows one of its Args: a fact by its
// label, an operator in words, a stage by its name.
type argKind uint8

const (
	argAsIs argKind = iota
	argFact
	argOp
	argStage
	argGroup
)

// argKinds lists, per code, the Args shown in the editor's words.
var argKinds = map[Code][]argKind{
	CodeDealOnly: {argFact}, CodeClientOnly: {argFact}, CodeNoOp: {argFact}, CodeOpNotForFact: {argOp, argFact},
	CodeNoValue: {argFact, argOp}, CodeExtraValue: {argOp}, CodeWantNumber: {argFact, argOp}, CodeWantText: {argFact, argOp},
	CodeWantList: {argFact, argOp}, CodeEmptyList: {argFact}, CodeNoWindow: {argFact}, CodeNeedWindow: {argFact},
	CodeUnknownStage: {argStage}, CodeStageNotPipe: {argStage}, CodeEmptyGroup: {argGroup},
}

// Message is the problem as a sentence for a Bitrix24 admin, naming the
// record type and segment it is in.
func (p Problem) Message(lang Lang) string { return p.Say(lang, nil).Message }

// Say renders the problem in lang with the editor's labels and the
// portal's names (nil: field and stage codes as they are): the whole
// message, and its text without the record type and segment, for a
// place that shows them already (the segment's card in the editor).
func (p Problem) Say(lang Lang, names *Names) LocalizedProblem {
	out := LocalizedProblem{Path: p.Path, Code: p.Code}
	m, ok := messages[p.Code]
	if !ok {
		out.Message, out.Text = string(p.Code), string(p.Code)
		return out
	}
	lang = lang.known()
	tmpl := m[0]
	if lang == RU {
		tmpl = m[1]
	}
	kinds := argKinds[p.Code]
	args := make([]any, len(p.Args))
	for i, a := range p.Args {
		args[i] = a
		if i < len(kinds) {
			args[i] = p.word(kinds[i], a, lang, names)
		}
	}
	if p.Code == CodeStageNoPipe {
		args = []any{p.word(argFact, FieldPrefix+"CATEGORY_ID", lang, names)}
	}
	for len(args) > 0 && !strings.Contains(tmpl, "%["+strconv.Itoa(len(args))+"]") {
		args = args[:len(args)-1] // a detail this message does not quote
	}
	text := fmt.Sprintf(tmpl, args...)
	out.Text = capitalize(text) + "."
	out.Message = out.Text
	if prefix := p.prefix(lang); prefix != "" {
		out.Message = prefix + ": " + text + "."
	}
	return out
}

// word shows one argument as the editor does.
func (p Problem) word(k argKind, a string, lang Lang, names *Names) string {
	w := WordsIn(lang)
	switch k {
	case argFact:
		if f, ok := strings.CutPrefix(a, FieldPrefix); ok {
			if names != nil && names.Fields[p.Entity][f] != "" {
				return names.Fields[p.Entity][f]
			}
			if f == "CATEGORY_ID" {
				return pickLang(lang, "Pipeline", "Воронка")
			}
			return f
		}
		if l := w.Facts[a]; l != "" {
			return l
		}
	case argOp:
		if l := w.Ops[Op(a)]; l != "" {
			return l
		}
	case argGroup:
		if l := w.Groups[a]; l != "" {
			return l
		}
	case argStage:
		if names != nil && names.Values[EntityDeal]["STAGE_ID"][a] != "" {
			return names.Values[EntityDeal]["STAGE_ID"][a]
		}
	}
	return a
}

func pickLang(lang Lang, en, ru string) string {
	if lang == RU {
		return ru
	}
	return en
}

func (p Problem) prefix(lang Lang) string {
	var parts []string
	if name := entityName(p.Entity, lang); name != "" {
		parts = append(parts, name)
	}
	if p.Segment != "" {
		if lang == RU {
			parts = append(parts, "сегмент «"+p.Segment+"»")
		} else {
			parts = append(parts, "segment \""+p.Segment+"\"")
		}
	}
	return capitalize(strings.Join(parts, ", "))
}

func (p Problem) Error() string {
	if p.Path == "" {
		return p.Message(EN)
	}
	return p.Path + ": " + p.Message(EN)
}

// Problems is every problem found in a config. As an error it reads in
// English; handlers localize it with In.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// LocalizedProblem is a Problem as the API answers it: where, what, the
// message, and its text without the record type and segment (for the
// field in the segment's card).
type LocalizedProblem struct {
	Path    string `json:"path"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Text    string `json:"text"`
}

// In renders every problem in lang with the portal's names (nil: none).
func (ps Problems) In(lang Lang, names *Names) []LocalizedProblem {
	out := make([]LocalizedProblem, len(ps))
	for i, p := range ps {
		out[i] = p.Say(lang, names)
	}
	return out
}

func entityName(e Entity, lang Lang) string {
	ru := lang == RU
	switch {
	case e == EntityContact && ru:
		return "контакты"
	case e == EntityContact:
		return "contacts"
	case e == EntityCompany && ru:
		return "компании"
	case e == EntityCompany:
		return "companies"
	case e == EntityDeal && ru:
		return "сделки"
	case e == EntityDeal:
		return "deals"
	}
	return ""
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
