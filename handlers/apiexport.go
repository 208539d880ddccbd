package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/i18n"
	"segmentor/app/segment"
	"segmentor/engine"
)

// The export of a segment's members: every record carrying the segment
// now, as a CSV file (id, name, link to the card, segment, why), streamed
// from the mirror. No REST request: the names are the mirror's titles, the
// links are made from the portal's address, and why is the saved rules'
// reason, evaluated over the base in memory.

// MemberLister lists a segment's members from the mirror (engine.Analyst).
type MemberLister interface {
	Members(ctx context.Context, memberID string, e segment.Entity, key string, cfg *segment.Config, why func(segment.Reason) string) ([]engine.Member, error)
}

var _ MemberLister = (*engine.Analyst)(nil)

// noSegmentKey names, in the export's route, the records in no segment:
// segment keys start with a letter, so no segment can have it.
const noSegmentKey = "_none"

// exportFlushRows is how many rows go out between flushes.
const exportFlushRows = 2000

// exportTexts are the export's own words, by key, in every language
// Segmentor speaks; what other views say too ("No segment", "There is no
// such segment.") comes from texts.
var exportTexts = i18n.Catalog[string]{
	i18n.EN: {
		"id": "ID", "name": "Name", "link": "Link", "segment": "Segment", "why": "Why",
		"pending":   "By the rules now in %s (change pending): ",
		"forbidden": "Only Bitrix24 administrators can download a segment's records; the segment's page shows how many there are.",
		"no_export": "Exports are not available on this server.",
	},
	i18n.RU: {
		"id": "ID", "name": "Название", "link": "Ссылка", "segment": "Сегмент", "why": "Почему",
		"pending":   "По правилам теперь в «%s» (изменение ожидает записи): ",
		"forbidden": "Скачать записи сегмента могут только администраторы Битрикс24; страница сегмента показывает, сколько их.",
		"no_export": "Выгрузка на этом сервере недоступна.",
	},
	i18n.PL: {
		"id": "ID", "name": "Nazwa", "link": "Link", "segment": "Segment", "why": "Dlaczego",
		"pending":   "Według reguł teraz w „%s” (zmiana oczekuje na zapis): ",
		"forbidden": "Tylko administratorzy Bitrix24 mogą pobrać rekordy segmentu; strona segmentu pokazuje, ile ich jest.",
		"no_export": "Eksport nie jest dostępny na tym serwerze.",
	},
	i18n.IT: {
		"id": "ID", "name": "Nome", "link": "Link", "segment": "Segmento", "why": "Perché",
		"pending":   "Secondo le regole ora in «%s» (modifica in attesa): ",
		"forbidden": "Solo gli amministratori di Bitrix24 possono scaricare i record di un segmento; la pagina del segmento mostra quanti sono.",
		"no_export": "L'esportazione non è disponibile su questo server.",
	},
}

// exportText is the export's text k in lang with args filled in.
func exportText(lang, k string, args ...any) string {
	return exportTexts.Format(i18n.Parse(lang), k, args...)
}

func exportError(code, lang, k string) error {
	return &app.Error{Code: code, Message: exportText(lang, k), Err: errInUserLanguage}
}

// ExportMembers streams the records carrying a segment now as CSV (GET
// /segments/:entity/:key/members.csv; key _none: the records in no
// segment): administrators only, as the records it names may be any.
func (a *API) ExportMembers(c *gin.Context) {
	sess := sessionOf(c)
	ctx := c.Request.Context()
	if !sess.Admin {
		apiError(c, sess.Lang, exportError(app.EForbidden, sess.Lang, "forbidden"))
		return
	}
	e, ok := parseEntity(c.Param("entity"))
	if !ok {
		apiError(c, sess.Lang, badEntity(sess.Lang))
		return
	}
	lister, ok := a.Insight.(MemberLister)
	if !ok {
		apiError(c, sess.Lang, exportError(app.EUnavailable, sess.Lang, "no_export"))
		return
	}
	key := c.Param("key")
	if key == noSegmentKey {
		key = ""
	} else if len(key) > 64 {
		apiError(c, sess.Lang, userError(app.ENotFound, sess.Lang, "no_such_segment"))
		return
	}
	cfg := a.savedConfig(ctx, sess.MemberID)
	seg := savedSegment(cfg, e, key)
	t, _, _, err := a.teller(ctx, sess.MemberID, sess.Lang, cfg)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	members, err := lister.Members(ctx, sess.MemberID, e, key, cfg, func(r segment.Reason) string {
		return csvCell(memberWhy(t, sess.Lang, e, key, r))
	})
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	if key != "" && seg == nil && len(members) == 0 {
		apiError(c, sess.Lang, userError(app.ENotFound, sess.Lang, "no_such_segment"))
		return
	}
	portal, err := a.Store.Portal(ctx, sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	name := say(sess.Lang, "no_segment")
	switch {
	case seg != nil:
		name = seg.Name
	case key != "":
		name = say(sess.Lang, "removed", t.SegmentName(e, key))
	}
	file := strings.Map(func(r rune) rune { // a key of the rules, or one a record carries
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '-'
	}, key)
	if file == "" {
		file = "no-segment"
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="members-%s-%s.csv"`, e, file))
	c.Status(http.StatusOK)
	link := recordLinker(portal, e)
	bw := bufio.NewWriterSize(c.Writer, 64<<10)
	// A byte-order mark, so that spreadsheet programs read UTF-8 names.
	_, _ = bw.WriteString("\ufeff")
	w := csv.NewWriter(bw)
	_ = w.Write([]string{exportText(sess.Lang, "id"), exportText(sess.Lang, "name"), exportText(sess.Lang, "link"),
		exportText(sess.Lang, "segment"), exportText(sess.Lang, "why")})
	row := make([]string, 5)
	segName := csvCell(name)
	for i, m := range members {
		row[0], row[1], row[2], row[3], row[4] = strconv.FormatInt(m.ID, 10), csvCell(m.Title), link(m.ID), segName, m.Why
		if err := w.Write(row); err != nil {
			return // the reader went away
		}
		if (i+1)%exportFlushRows == 0 {
			if w.Flush(); w.Error() != nil || bw.Flush() != nil || ctx.Err() != nil {
				return
			}
			c.Writer.Flush()
		}
	}
	w.Flush()
	_ = bw.Flush()
	c.Writer.Flush()
}

// recordLinker makes the card links of e's records: the portal's address
// read once, not for each row.
func recordLinker(p *app.Portal, e segment.Entity) func(id int64) string {
	one := p.RecordURL(string(e), 1)
	prefix, ok := strings.CutSuffix(one, "/1/")
	if !ok {
		return func(id int64) string { return p.RecordURL(string(e), id) }
	}
	prefix += "/"
	return func(id int64) string { return prefix + strconv.FormatInt(id, 10) + "/" }
}

// memberWhy says in one line why a record carrying key is there: the
// conditions that held ("; " between them), or, in no segment or the
// otherwise one, that none held and the nearest miss. When the rules now
// put the record elsewhere (a write pending), it says so first.
func memberWhy(t *segment.Teller, lang string, e segment.Entity, key string, r segment.Reason) string {
	told := t.Reason(e, r)
	var s string
	if r.Segment != "" && !r.Otherwise && len(told.Lines) > 0 {
		s = strings.Join(told.Lines, "; ")
	} else {
		s = strings.TrimSpace(told.Summary + " " + strings.Join(told.Lines, "; "))
	}
	if r.Segment != key {
		to := say(lang, "no_segment")
		if r.Segment != "" {
			to = t.SegmentName(e, r.Segment)
		}
		s = exportText(lang, "pending", to) + s
	}
	return s
}

// csvCell keeps a cell from being read as a formula by a spreadsheet
// program: text starting with =, +, -, @, a tab or a carriage return gets
// a leading apostrophe, which spreadsheets show as text.
func csvCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}
