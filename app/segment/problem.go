package segment

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"segmentor/app/i18n"
)

// Lang selects the language of messages shown to admins and explanations
// shown to everyone.
type Lang = i18n.Lang

// Languages with messages. Any other Lang falls back to English.
const (
	EN = i18n.EN
	RU = i18n.RU
	PL = i18n.PL
	IT = i18n.IT
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
	CodeCompanyOnly  Code = "company_only_fact"
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
	CodeUnknownList  Code = "unknown_list"
	CodeListEntity   Code = "list_entity"
)

// messages holds each code's text in every language; %[n]s are the
// Problem's Args. The text follows a prefix naming the record type and the
// segment, so it starts in lower case.
var messages = i18n.Catalog[Code]{
	EN: {
		CodeJSONSyntax:   "the settings are not valid JSON (line %[1]s, column %[2]s)",
		CodeJSONObject:   "%[1]q must be an object {…}",
		CodeJSONList:     "%[1]q must be a list […]",
		CodeJSONText:     "%[1]q must be text",
		CodeJSONInteger:  "%[1]q must be a whole number",
		CodeJSONBool:     "%[1]q must be true or false",
		CodeJSONTrailing: "there is more after the end of the JSON (line %[1]s, column %[2]s)",
		CodeJSONUTF8:     "the text is not valid UTF-8",
		CodeJSONControl:  "the control character %[1]s is not allowed here; remove it",
		CodeJSONDupKey:   "the key %[1]q appears twice",
		CodeJSONDepth:    "the JSON is nested more than %[1]s levels deep",
		CodeUnknownKey:   "unknown setting %[1]q",
		CodeNoEntity:     "the scheme does not say which records it is for: set entity to contact, company or deal",
		CodeBadEntity:    "%[1]q is not a record type: use contact, company or deal",
		CodeDupScheme:    "there is already a scheme for these records; each record type has only one",
		CodeNoSegments:   "the scheme has no segments",
		CodeNoKey:        "the segment has no key; give it a short code such as vip",
		CodeBadKey:       "the key %[1]q is not valid: use up to 32 lowercase Latin letters, digits and _, starting with a letter",
		CodeDupKey:       "the key %[1]q is already used by segment %[2]q in this scheme",
		CodeNoName:       "the segment has no name",
		CodeLongName:     "the name is longer than %[1]s characters",
		CodeBadColor:     "the color %[1]q is not valid: use a hex color such as #d4a017",
		CodeNoWhen:       "the segment has no conditions; add at least one, or make it the \"otherwise\" segment",
		CodeWhenOnOther:  "the \"otherwise\" segment takes everything the other segments did not; it cannot have conditions",
		CodeUnknownType:  "the type %[1]q does not exist in this portal (known types: %[2]s)",
		CodePipeNotDeal:  "only deals can be moved to a pipeline",
		CodeUnknownPipe:  "pipeline %[1]s does not exist in this portal",
		CodeNoStage:      "choose the stage the deals are moved to",
		CodeUnknownStage: "the stage “%[1]s” does not exist in this portal",
		CodeStageNotPipe: "the stage “%[1]s” is not in pipeline %[2]s",
		CodeBadApply:     "%[1]q is not a choice of which deals to move: use new_only, first_stage or always",
		CodeEmptyGroup:   "the group “%[1]s” has no conditions",
		CodeMixed:        "a condition is either a group (all, any, not) or a fact comparison, not both",
		CodeEmptyCond:    "the condition is empty: choose a fact or make it a group",
		CodeTooDeep:      "conditions are nested more than %[1]s levels deep",
		CodeNoFact:       "the condition has no fact",
		CodeUnknownFact:  "unknown fact %[1]q",
		CodeNoField:      "choose the field the condition reads",
		CodeBadField:     "%[1]q is not a field name: field names are in capitals, such as %[2]s",
		CodeUnknownField: "the field %[1]q does not exist in this portal",
		CodeDealOnly:     "“%[1]s” can only be used in deal rules",
		CodeClientOnly:   "“%[1]s” can only be used in contact and company rules",
		CodeCompanyOnly:  "“%[1]s” can only be used in company rules: the registry knows companies, not people",
		CodeNoOp:         "the condition on “%[1]s” has no operator: choose one under “Is”",
		CodeUnknownOp:    "unknown operator %[1]q",
		CodeOpNotForFact: "“%[1]s” cannot be used with “%[2]s”",
		CodeNoValue:      "“%[1]s %[2]s …” needs a value",
		CodeExtraValue:   "“%[1]s” takes no value",
		CodeWantNumber:   "“%[1]s %[2]s …” needs a number, not %[3]s",
		CodeWantText:     "“%[1]s %[2]s …” needs text, not %[3]s",
		CodeWantList:     "“%[1]s %[2]s …” needs one or more values",
		CodeEmptyList:    "choose at least one value for “%[1]s”",
		CodeWantRange:    "“between” needs two numbers, from and to, with from ≤ to",
		CodeNoWindow:     "“%[1]s” has no period: clear “Last N days”",
		CodeWindowRange:  "“Last N days” must be a whole number from 1 to %[1]s",
		CodeNeedWindow:   "“%[1]s” compares two periods: set “Last N days”",
		CodeRFMScore:     "RFM scores go from 0 (no purchases) to 5, not %[1]s",
		CodeRFMCode:      "%[1]q is not an RFM code: use three digits from 0 to 5, such as \"545\"",
		CodeStageNoPipe:  "a stage condition needs a pipeline: add a condition on “%[1]s” to this segment",
		CodeUnknownSeg:   "%[1]q is not a key of a contact or company segment",
		CodeUnknownSrc:   "the source %[1]q does not exist in this portal",
		CodeUnknownList:  "there is no list %[1]q", CodeListEntity: "the list %[1]q holds records of another kind",
	},
	RU: {
		CodeJSONSyntax:   "настройки — некорректный JSON (строка %[1]s, столбец %[2]s)",
		CodeJSONObject:   "«%[1]s» должно быть объектом {…}",
		CodeJSONList:     "«%[1]s» должно быть списком […]",
		CodeJSONText:     "«%[1]s» должно быть текстом",
		CodeJSONInteger:  "«%[1]s» должно быть целым числом",
		CodeJSONBool:     "«%[1]s» должно быть true или false",
		CodeJSONTrailing: "после конца JSON есть что-то ещё (строка %[1]s, столбец %[2]s)",
		CodeJSONUTF8:     "текст — некорректный UTF-8",
		CodeJSONControl:  "управляющий символ %[1]s здесь недопустим; удалите его",
		CodeJSONDupKey:   "ключ «%[1]s» указан дважды",
		CodeJSONDepth:    "JSON вложен глубже %[1]s уровней",
		CodeUnknownKey:   "неизвестный параметр «%[1]s»",
		CodeNoEntity:     "не указано, для каких записей схема: задайте entity — contact, company или deal",
		CodeBadEntity:    "«%[1]s» — не тип записей: используйте contact, company или deal",
		CodeDupScheme:    "для этих записей уже есть схема; у каждого типа записей может быть только одна",
		CodeNoSegments:   "в схеме нет ни одного сегмента",
		CodeNoKey:        "у сегмента нет ключа; задайте короткий код, например vip",
		CodeBadKey:       "ключ «%[1]s» недопустим: используйте до 32 строчных латинских букв, цифр и _, начиная с буквы",
		CodeDupKey:       "ключ «%[1]s» уже занят сегментом «%[2]s» этой схемы",
		CodeNoName:       "у сегмента нет названия",
		CodeLongName:     "название длиннее %[1]s символов",
		CodeBadColor:     "цвет «%[1]s» недопустим: укажите его в виде #d4a017",
		CodeNoWhen:       "у сегмента нет условий; добавьте хотя бы одно или сделайте его сегментом «иначе»",
		CodeWhenOnOther:  "сегмент «иначе» получает всё, что не попало в другие сегменты; условий у него быть не может",
		CodeUnknownType:  "типа «%[1]s» нет на портале (есть: %[2]s)",
		CodePipeNotDeal:  "переносить в воронку можно только сделки",
		CodeUnknownPipe:  "воронки %[1]s нет на портале",
		CodeNoStage:      "выберите стадию, в которую переносить сделки",
		CodeUnknownStage: "стадии «%[1]s» нет на портале",
		CodeStageNotPipe: "стадия «%[1]s» не относится к воронке %[2]s",
		CodeBadApply:     "«%[1]s» — неверный выбор сделок для переноса: используйте new_only, first_stage или always",
		CodeEmptyGroup:   "в группе «%[1]s» нет условий",
		CodeMixed:        "условие — это либо группа (all, any, not), либо сравнение факта, но не то и другое сразу",
		CodeEmptyCond:    "условие пустое: выберите факт или сделайте его группой",
		CodeTooDeep:      "условия вложены глубже %[1]s уровней",
		CodeNoFact:       "в условии не выбран факт",
		CodeUnknownFact:  "неизвестный факт «%[1]s»",
		CodeNoField:      "выберите поле, которое читает условие",
		CodeBadField:     "«%[1]s» — не имя поля: имена полей пишутся заглавными, например %[2]s",
		CodeUnknownField: "поля «%[1]s» нет на портале",
		CodeDealOnly:     "«%[1]s» можно использовать только в правилах для сделок",
		CodeClientOnly:   "«%[1]s» можно использовать только в правилах для контактов и компаний",
		CodeCompanyOnly:  "«%[1]s» можно использовать только в правилах для компаний: в реестре есть компании, а не люди",
		CodeNoOp:         "в условии на «%[1]s» не выбрано условие сравнения",
		CodeUnknownOp:    "неизвестный оператор «%[1]s»",
		CodeOpNotForFact: "«%[1]s» нельзя применять к «%[2]s»",
		CodeNoValue:      "в условии «%[1]s %[2]s …» нужно значение",
		CodeExtraValue:   "«%[1]s» не принимает значения",
		CodeWantNumber:   "в условии «%[1]s %[2]s …» нужно число, а не %[3]s",
		CodeWantText:     "в условии «%[1]s %[2]s …» нужен текст, а не %[3]s",
		CodeWantList:     "в условии «%[1]s %[2]s …» нужно одно или несколько значений",
		CodeEmptyList:    "выберите хотя бы одно значение для «%[1]s»",
		CodeWantRange:    "«между» требует двух чисел, от и до, где от ≤ до",
		CodeNoWindow:     "у «%[1]s» нет периода: очистите «За N дней»",
		CodeWindowRange:  "«За N дней» должно быть целым числом от 1 до %[1]s",
		CodeNeedWindow:   "«%[1]s» сравнивает два периода: задайте «За N дней»",
		CodeRFMScore:     "оценки RFM — от 0 (нет покупок) до 5, а не %[1]s",
		CodeRFMCode:      "«%[1]s» — не код RFM: используйте три цифры от 0 до 5, например «545»",
		CodeStageNoPipe:  "для условия на стадию нужна воронка: добавьте в сегмент условие на «%[1]s»",
		CodeUnknownSeg:   "«%[1]s» — не ключ сегмента контактов или компаний",
		CodeUnknownSrc:   "источника «%[1]s» нет на портале",
		CodeUnknownList:  "списка «%[1]s» нет", CodeListEntity: "в списке «%[1]s» записи другого типа",
	},
	PL: {
		CodeJSONSyntax:   "ustawienia nie są poprawnym JSON-em (wiersz %[1]s, kolumna %[2]s)",
		CodeJSONObject:   "„%[1]s” musi być obiektem {…}",
		CodeJSONList:     "„%[1]s” musi być listą […]",
		CodeJSONText:     "„%[1]s” musi być tekstem",
		CodeJSONInteger:  "„%[1]s” musi być liczbą całkowitą",
		CodeJSONBool:     "„%[1]s” musi mieć wartość true lub false",
		CodeJSONTrailing: "po końcu JSON-a jest jeszcze coś (wiersz %[1]s, kolumna %[2]s)",
		CodeJSONUTF8:     "tekst nie jest poprawnym UTF-8",
		CodeJSONControl:  "znak sterujący %[1]s jest tu niedozwolony; usuń go",
		CodeJSONDupKey:   "klucz „%[1]s” występuje dwa razy",
		CodeJSONDepth:    "JSON jest zagnieżdżony głębiej niż %[1]s poziomów",
		CodeUnknownKey:   "nieznane ustawienie „%[1]s”",
		CodeNoEntity:     "nie wskazano, do jakich rekordów odnosi się schemat: ustaw entity na contact, company lub deal",
		CodeBadEntity:    "„%[1]s” nie jest typem rekordów: użyj contact, company lub deal",
		CodeDupScheme:    "dla tych rekordów istnieje już schemat; każdy typ rekordów może mieć tylko jeden",
		CodeNoSegments:   "schemat nie ma żadnego segmentu",
		CodeNoKey:        "segment nie ma klucza; nadaj mu krótki kod, np. vip",
		CodeBadKey:       "klucz „%[1]s” jest nieprawidłowy: użyj do 32 małych liter łacińskich, cyfr i _, zaczynając od litery",
		CodeDupKey:       "klucz „%[1]s” jest już używany przez segment „%[2]s” w tym schemacie",
		CodeNoName:       "segment nie ma nazwy",
		CodeLongName:     "nazwa jest dłuższa niż %[1]s znaków",
		CodeBadColor:     "kolor „%[1]s” jest nieprawidłowy: podaj go w postaci #d4a017",
		CodeNoWhen:       "segment nie ma warunków; dodaj co najmniej jeden albo uczyń go segmentem „Wszyscy pozostali”",
		CodeWhenOnOther:  "segment „Wszyscy pozostali” obejmuje wszystko, czego nie objęły inne segmenty; nie może mieć warunków",
		CodeUnknownType:  "typ „%[1]s” nie istnieje w tym portalu (dostępne typy: %[2]s)",
		CodePipeNotDeal:  "do lejka można przenosić tylko deale",
		CodeUnknownPipe:  "lejek %[1]s nie istnieje w tym portalu",
		CodeNoStage:      "wybierz etap, do którego mają trafiać deale",
		CodeUnknownStage: "etap „%[1]s” nie istnieje w tym portalu",
		CodeStageNotPipe: "etap „%[1]s” nie należy do lejka %[2]s",
		CodeBadApply:     "„%[1]s” nie określa, które deale przenosić: użyj new_only, first_stage lub always",
		CodeEmptyGroup:   "grupa „%[1]s” nie ma warunków",
		CodeMixed:        "warunek jest albo grupą (all, any, not), albo porównaniem faktu, nie jednym i drugim naraz",
		CodeEmptyCond:    "warunek jest pusty: wybierz fakt albo zrób z niego grupę",
		CodeTooDeep:      "warunki są zagnieżdżone głębiej niż %[1]s poziomów",
		CodeNoFact:       "w warunku nie wybrano faktu",
		CodeUnknownFact:  "nieznany fakt „%[1]s”",
		CodeNoField:      "wybierz pole, które odczytuje warunek",
		CodeBadField:     "„%[1]s” nie jest nazwą pola: nazwy pól pisze się wielkimi literami, np. %[2]s",
		CodeUnknownField: "pole „%[1]s” nie istnieje w tym portalu",
		CodeDealOnly:     "„%[1]s” można stosować tylko w regułach dla deali",
		CodeClientOnly:   "„%[1]s” można stosować tylko w regułach dla kontaktów i firm",
		CodeCompanyOnly:  "„%[1]s” można stosować tylko w regułach dla firm: rejestr zna firmy, nie osoby",
		CodeNoOp:         "w warunku dla „%[1]s” nie wybrano porównania: wybierz je w polu „Warunek”",
		CodeUnknownOp:    "nieznany operator „%[1]s”",
		CodeOpNotForFact: "„%[1]s” nie można stosować do „%[2]s”",
		CodeNoValue:      "warunek „%[1]s %[2]s …” wymaga wartości",
		CodeExtraValue:   "„%[1]s” nie przyjmuje wartości",
		CodeWantNumber:   "warunek „%[1]s %[2]s …” wymaga liczby, a nie %[3]s",
		CodeWantText:     "warunek „%[1]s %[2]s …” wymaga tekstu, a nie %[3]s",
		CodeWantList:     "warunek „%[1]s %[2]s …” wymaga jednej lub kilku wartości",
		CodeEmptyList:    "wybierz co najmniej jedną wartość dla „%[1]s”",
		CodeWantRange:    "„pomiędzy” wymaga dwóch liczb, od i do, przy czym od ≤ do",
		CodeNoWindow:     "„%[1]s” nie ma okresu: wyczyść pole „Ostatnie N dni”",
		CodeWindowRange:  "„Ostatnie N dni” musi być liczbą całkowitą od 1 do %[1]s",
		CodeNeedWindow:   "„%[1]s” porównuje dwa okresy: ustaw „Ostatnie N dni”",
		CodeRFMScore:     "oceny RFM wynoszą od 0 (brak zakupów) do 5, a nie %[1]s",
		CodeRFMCode:      "„%[1]s” nie jest kodem RFM: użyj trzech cyfr od 0 do 5, np. „545”",
		CodeStageNoPipe:  "warunek na etap wymaga lejka: dodaj do tego segmentu warunek na „%[1]s”",
		CodeUnknownSeg:   "„%[1]s” nie jest kluczem segmentu kontaktów ani firm",
		CodeUnknownSrc:   "źródło „%[1]s” nie istnieje w tym portalu",
		CodeUnknownList:  "nie ma listy „%[1]s”", CodeListEntity: "lista „%[1]s” zawiera rekordy innego rodzaju",
	},
	IT: {
		CodeJSONSyntax:   "le impostazioni non sono un JSON valido (riga %[1]s, colonna %[2]s)",
		CodeJSONObject:   "“%[1]s” deve essere un oggetto {…}",
		CodeJSONList:     "“%[1]s” deve essere un elenco […]",
		CodeJSONText:     "“%[1]s” deve essere un testo",
		CodeJSONInteger:  "“%[1]s” deve essere un numero intero",
		CodeJSONBool:     "“%[1]s” deve essere true o false",
		CodeJSONTrailing: "c'è altro dopo la fine del JSON (riga %[1]s, colonna %[2]s)",
		CodeJSONUTF8:     "il testo non è UTF-8 valido",
		CodeJSONControl:  "il carattere di controllo %[1]s non è ammesso qui; rimuovilo",
		CodeJSONDupKey:   "la chiave “%[1]s” compare due volte",
		CodeJSONDepth:    "il JSON è annidato su più di %[1]s livelli",
		CodeUnknownKey:   "impostazione sconosciuta “%[1]s”",
		CodeNoEntity:     "lo schema non indica a quali record si applica: imposta entity su contact, company o deal",
		CodeBadEntity:    "“%[1]s” non è un tipo di record: usa contact, company o deal",
		CodeDupScheme:    "esiste già uno schema per questi record; ogni tipo di record può averne uno solo",
		CodeNoSegments:   "lo schema non ha segmenti",
		CodeNoKey:        "il segmento non ha una chiave; assegnagli un codice breve, ad esempio vip",
		CodeBadKey:       "la chiave “%[1]s” non è valida: usa fino a 32 lettere latine minuscole, cifre e _, iniziando con una lettera",
		CodeDupKey:       "la chiave “%[1]s” è già usata dal segmento “%[2]s” in questo schema",
		CodeNoName:       "il segmento non ha un nome",
		CodeLongName:     "il nome supera i %[1]s caratteri",
		CodeBadColor:     "il colore “%[1]s” non è valido: usa un colore esadecimale come #d4a017",
		CodeNoWhen:       "il segmento non ha condizioni; aggiungine almeno una oppure rendilo il segmento “Tutti gli altri”",
		CodeWhenOnOther:  "il segmento “Tutti gli altri” raccoglie tutto ciò che gli altri segmenti non hanno preso; non può avere condizioni",
		CodeUnknownType:  "il tipo “%[1]s” non esiste in questo portale (tipi disponibili: %[2]s)",
		CodePipeNotDeal:  "solo i deal possono essere spostati in una pipeline",
		CodeUnknownPipe:  "la pipeline %[1]s non esiste in questo portale",
		CodeNoStage:      "scegli la fase in cui spostare i deal",
		CodeUnknownStage: "la fase “%[1]s” non esiste in questo portale",
		CodeStageNotPipe: "la fase “%[1]s” non appartiene alla pipeline %[2]s",
		CodeBadApply:     "“%[1]s” non indica quali deal spostare: usa new_only, first_stage o always",
		CodeEmptyGroup:   "il gruppo “%[1]s” non ha condizioni",
		CodeMixed:        "una condizione è o un gruppo (all, any, not) o il confronto di un dato, non entrambe le cose",
		CodeEmptyCond:    "la condizione è vuota: scegli un dato o trasformala in un gruppo",
		CodeTooDeep:      "le condizioni sono annidate su più di %[1]s livelli",
		CodeNoFact:       "nella condizione non è scelto alcun dato",
		CodeUnknownFact:  "dato sconosciuto “%[1]s”",
		CodeNoField:      "scegli il campo che la condizione legge",
		CodeBadField:     "“%[1]s” non è il nome di un campo: i nomi dei campi sono in maiuscolo, come %[2]s",
		CodeUnknownField: "il campo “%[1]s” non esiste in questo portale",
		CodeDealOnly:     "“%[1]s” si può usare solo nelle regole per i deal",
		CodeClientOnly:   "“%[1]s” si può usare solo nelle regole per contatti e aziende",
		CodeCompanyOnly:  "“%[1]s” si può usare solo nelle regole per le aziende: il registro conosce aziende, non persone",
		CodeNoOp:         "la condizione su “%[1]s” non ha un operatore: sceglilo in “Condizione”",
		CodeUnknownOp:    "operatore sconosciuto “%[1]s”",
		CodeOpNotForFact: "“%[1]s” non si può usare con “%[2]s”",
		CodeNoValue:      "“%[1]s %[2]s …” richiede un valore",
		CodeExtraValue:   "“%[1]s” non richiede alcun valore",
		CodeWantNumber:   "“%[1]s %[2]s …” richiede un numero, non %[3]s",
		CodeWantText:     "“%[1]s %[2]s …” richiede un testo, non %[3]s",
		CodeWantList:     "“%[1]s %[2]s …” richiede uno o più valori",
		CodeEmptyList:    "scegli almeno un valore per “%[1]s”",
		CodeWantRange:    "“tra” richiede due numeri, da e a, con da ≤ a",
		CodeNoWindow:     "“%[1]s” non ha un periodo: svuota “Ultimi N giorni”",
		CodeWindowRange:  "“Ultimi N giorni” deve essere un numero intero da 1 a %[1]s",
		CodeNeedWindow:   "“%[1]s” confronta due periodi: imposta “Ultimi N giorni”",
		CodeRFMScore:     "i punteggi RFM vanno da 0 (nessun acquisto) a 5, non %[1]s",
		CodeRFMCode:      "“%[1]s” non è un codice RFM: usa tre cifre da 0 a 5, ad esempio “545”",
		CodeStageNoPipe:  "una condizione sulla fase richiede una pipeline: aggiungi a questo segmento una condizione su “%[1]s”",
		CodeUnknownSeg:   "“%[1]s” non è la chiave di un segmento di contatti o aziende",
		CodeUnknownSrc:   "la fonte “%[1]s” non esiste in questo portale",
		CodeUnknownList:  "la lista “%[1]s” non esiste", CodeListEntity: "la lista “%[1]s” contiene record di un altro tipo",
	},
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
	argList
)

// argKinds lists, per code, the Args shown in the editor's words.
var argKinds = map[Code][]argKind{
	CodeDealOnly: {argFact}, CodeClientOnly: {argFact}, CodeCompanyOnly: {argFact}, CodeNoOp: {argFact}, CodeOpNotForFact: {argOp, argFact},
	CodeNoValue: {argFact, argOp}, CodeExtraValue: {argOp}, CodeWantNumber: {argFact, argOp}, CodeWantText: {argFact, argOp},
	CodeWantList: {argFact, argOp}, CodeEmptyList: {argFact}, CodeNoWindow: {argFact}, CodeNeedWindow: {argFact},
	CodeUnknownStage: {argStage}, CodeStageNotPipe: {argStage}, CodeEmptyGroup: {argGroup},
	CodeUnknownList: {argList}, CodeListEntity: {argList},
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
	lang = lang.Known()
	tmpl := messages.Text(lang, p.Code)
	if tmpl == "" {
		out.Message, out.Text = string(p.Code), string(p.Code)
		return out
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
				return said.Text(lang, saidPipeline)
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
	case argList:
		if names != nil && names.Lists[a] != "" {
			return names.Lists[a]
		}
	case argStage:
		if names != nil && names.Values[EntityDeal]["STAGE_ID"][a] != "" {
			return names.Values[EntityDeal]["STAGE_ID"][a]
		}
	}
	return a
}

func (p Problem) prefix(lang Lang) string {
	var parts []string
	if name := entityName(p.Entity, lang); name != "" {
		parts = append(parts, name)
	}
	if p.Segment != "" {
		parts = append(parts, said.Format(lang, saidSegment, p.Segment))
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
	switch e {
	case EntityContact:
		return said.Text(lang, saidContacts)
	case EntityCompany:
		return said.Text(lang, saidCompanies)
	case EntityDeal:
		return said.Text(lang, saidDeals)
	}
	return ""
}

// said are the words a problem's prefix and arguments use besides the
// editor's labels.
type saidKey uint8

const (
	saidContacts saidKey = iota
	saidCompanies
	saidDeals
	saidSegment
	saidPipeline
)

var said = i18n.Catalog[saidKey]{
	EN: {saidContacts: "contacts", saidCompanies: "companies", saidDeals: "deals", saidSegment: "segment \"%s\"", saidPipeline: "Pipeline"},
	RU: {saidContacts: "контакты", saidCompanies: "компании", saidDeals: "сделки", saidSegment: "сегмент «%s»", saidPipeline: "Воронка"},
	PL: {saidContacts: "kontakty", saidCompanies: "firmy", saidDeals: "deale", saidSegment: "segment „%s”", saidPipeline: "Lejek"},
	IT: {saidContacts: "contatti", saidCompanies: "aziende", saidDeals: "deal", saidSegment: "segmento “%s”", saidPipeline: "Pipeline"},
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
