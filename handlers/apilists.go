package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"segmentor/app"
	"segmentor/app/i18n"
	"segmentor/app/segment"
	"segmentor/engine"
)

// Static lists' routes (administrators, but for reading the lists' names,
// which the editor offers to every user of the page):
//
//	GET    /lists                          → {"lists": [List…]}
//	POST   /lists/freeze                   {entity, segment, name} → List
//	PATCH  /lists/:key                     {name} → List
//	DELETE /lists/:key                     → 204
//	POST   /list-uploads                   multipart (file, name | list, entity, by) or text/csv with them in the query → 202 draft
//	GET    /list-uploads/:id               → the draft: state, done, total, eta_s; once done its report with samples
//	GET    /list-uploads/:id/not-found.csv → every row not found, ambiguous or unreadable
//	POST   /list-uploads/:id/confirm       → List (201)
//	DELETE /list-uploads/:id               → 204

// ListKeeper keeps the portal's lists (engine.ListBook).
type ListKeeper interface {
	Upload(ctx context.Context, memberID string, u engine.Upload) (*app.ListDraft, error)
	Draft(ctx context.Context, memberID, id string) (*app.ListDraft, error)
	Confirm(ctx context.Context, memberID, id string, userID int64) (*app.List, error)
	Cancel(ctx context.Context, memberID, id string) error
	Freeze(ctx context.Context, memberID string, e segment.Entity, key, name string, userID int64) (*app.List, error)
	Delete(ctx context.Context, memberID, key string) error
}

var _ ListKeeper = (*engine.ListBook)(nil)

// listSamples is how many rows of each kind a report shows; the download
// has them all.
const listSamples = 20

// listTexts are the lists' error messages, in every language.
var listTexts = i18n.Catalog[string]{
	i18n.EN: {
		"not_utf8":      "The file is not UTF-8 text. In Excel choose Save as › “CSV UTF-8”.",
		"empty":         "The file has no values.",
		"too_many_rows": "The file has more than %d rows; split it.",
		"too_large":     "The file is larger than %d MB.",
		"bad_csv":       "The file is not a readable CSV table (line %d).",
		"no_column":     "No column of ids, e-mails or phones was found: name it in the first row (ID, E-mail or Phone) or choose what the file holds.",
		"bad_by":        "Choose ids, e-mails or phones.",
		"no_file":       "Send the list as a CSV file.",
		"no_lists":      "Lists are not available on this server.",
		"line":          "Line", "value": "Value", "problem": "Problem",
		"not_found": "not found", "ambiguous": "several records: %s", "bad_id": "not a record id", "bad_email": "not an e-mail", "bad_phone": "not a phone",
	},
	i18n.RU: {
		"not_utf8":      "Файл не в кодировке UTF-8. В Excel выберите «Сохранить как» › «CSV UTF-8».",
		"empty":         "В файле нет значений.",
		"too_many_rows": "В файле больше %d строк; разделите его.",
		"too_large":     "Файл больше %d МБ.",
		"bad_csv":       "Файл не читается как таблица CSV (строка %d).",
		"no_column":     "Не найден столбец с ID, e-mail или телефонами: подпишите его в первой строке (ID, E-mail или Телефон) или выберите, что в файле.",
		"bad_by":        "Выберите: ID, e-mail или телефоны.",
		"no_file":       "Отправьте список файлом CSV.",
		"no_lists":      "Списки на этом сервере недоступны.",
		"line":          "Строка", "value": "Значение", "problem": "Проблема",
		"not_found": "не найдено", "ambiguous": "несколько записей: %s", "bad_id": "не ID записи", "bad_email": "не e-mail", "bad_phone": "не телефон",
	},
	i18n.PL: {
		"not_utf8":      "Plik nie jest tekstem UTF-8. W Excelu wybierz Zapisz jako › „CSV UTF-8”.",
		"empty":         "Plik nie zawiera wartości.",
		"too_many_rows": "Plik ma więcej niż %d wierszy; podziel go.",
		"too_large":     "Plik jest większy niż %d MB.",
		"bad_csv":       "Pliku nie da się odczytać jako tabeli CSV (wiersz %d).",
		"no_column":     "Nie znaleziono kolumny z ID, e-mailami ani telefonami: nazwij ją w pierwszym wierszu (ID, E-mail lub Telefon) albo wybierz, co zawiera plik.",
		"bad_by":        "Wybierz ID, e-maile lub telefony.",
		"no_file":       "Wyślij listę jako plik CSV.",
		"no_lists":      "Listy nie są dostępne na tym serwerze.",
		"line":          "Wiersz", "value": "Wartość", "problem": "Problem",
		"not_found": "nie znaleziono", "ambiguous": "kilka rekordów: %s", "bad_id": "to nie ID rekordu", "bad_email": "to nie e-mail", "bad_phone": "to nie telefon",
	},
	i18n.IT: {
		"not_utf8":      "Il file non è testo UTF-8. In Excel scegli Salva con nome › “CSV UTF-8”.",
		"empty":         "Il file non contiene valori.",
		"too_many_rows": "Il file ha più di %d righe; dividilo.",
		"too_large":     "Il file supera %d MB.",
		"bad_csv":       "Il file non è una tabella CSV leggibile (riga %d).",
		"no_column":     "Nessuna colonna di ID, e-mail o telefoni trovata: intitolala nella prima riga (ID, E-mail o Telefono) o scegli cosa contiene il file.",
		"bad_by":        "Scegli ID, e-mail o telefoni.",
		"no_file":       "Invia la lista come file CSV.",
		"no_lists":      "Le liste non sono disponibili su questo server.",
		"line":          "Riga", "value": "Valore", "problem": "Problema",
		"not_found": "non trovato", "ambiguous": "più record: %s", "bad_id": "non è un ID di record", "bad_email": "non è un'e-mail", "bad_phone": "non è un telefono",
	},
}

func listText(lang, k string, args ...any) string {
	return listTexts.Format(i18n.Parse(lang), k, args...)
}

func listError(code, lang, k string, args ...any) error {
	return &app.Error{Code: code, Message: listText(lang, k, args...), Err: errInUserLanguage}
}

// fileError words an upload that cannot be read.
func fileError(lang string, err error) error {
	var fe *app.ListFileError
	if !errors.As(err, &fe) {
		return err
	}
	switch fe.Code {
	case "too_many_rows":
		return listError(app.ETooLarge, lang, fe.Code, fe.Max)
	case "too_large":
		return listError(app.ETooLarge, lang, fe.Code, fe.Max>>20)
	case "bad_csv":
		return listError(app.EInvalid, lang, fe.Code, fe.Line)
	}
	return listError(app.EInvalid, lang, fe.Code)
}

func (a *API) lists(c *gin.Context, sess Session) bool {
	if a.Lists == nil {
		apiError(c, sess.Lang, listError(app.EUnavailable, sess.Lang, "no_lists"))
		return false
	}
	return true
}

// GetLists answers the portal's lists.
func (a *API) GetLists(c *gin.Context) {
	sess := sessionOf(c)
	lists, err := a.Store.Lists(c.Request.Context(), sess.MemberID)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"lists": lists})
}

// UploadList takes a list file and answers its draft, being matched.
func (a *API) UploadList(c *gin.Context) {
	sess := sessionOf(c)
	if !a.lists(c, sess) {
		return
	}
	u, err := readUpload(c)
	if err != nil {
		apiError(c, sess.Lang, fileError(sess.Lang, err))
		return
	}
	u.UserID = sess.UserID
	d, err := a.Lists.Upload(c.Request.Context(), sess.MemberID, *u)
	if err != nil {
		apiError(c, sess.Lang, fileError(sess.Lang, err))
		return
	}
	c.JSON(http.StatusAccepted, draftView(d))
}

// readUpload reads a multipart form (file, name, list, entity, by) or a
// text/csv body with the same in the query.
func readUpload(c *gin.Context) (*engine.Upload, error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, app.MaxListBytes+64<<10)
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	u := &engine.Upload{}
	var err error
	if mt == "multipart/form-data" {
		fh, ferr := c.FormFile("file")
		if ferr != nil {
			if big := new(http.MaxBytesError); errors.As(ferr, &big) {
				return nil, &app.ListFileError{Code: "too_large", Max: app.MaxListBytes}
			}
			return nil, app.Errorf(app.EInvalid, "Send the list as a CSV file.")
		}
		if fh.Size > app.MaxListBytes {
			return nil, &app.ListFileError{Code: "too_large", Max: app.MaxListBytes}
		}
		f, oerr := fh.Open()
		if oerr != nil {
			return nil, oerr
		}
		defer f.Close()
		if u.Data, err = io.ReadAll(io.LimitReader(f, app.MaxListBytes+1)); err != nil {
			return nil, err
		}
		u.File = fh.Filename
	} else {
		if u.Data, err = io.ReadAll(c.Request.Body); err != nil {
			var big *http.MaxBytesError
			if errors.As(err, &big) {
				return nil, &app.ListFileError{Code: "too_large", Max: app.MaxListBytes}
			}
			return nil, err
		}
		u.File = c.Query("file")
	}
	if len(u.Data) > app.MaxListBytes {
		return nil, &app.ListFileError{Code: "too_large", Max: app.MaxListBytes}
	}
	field := func(k string) string {
		if v := c.PostForm(k); v != "" {
			return v
		}
		return c.Query(k)
	}
	u.Name, u.Key = field("name"), field("list")
	u.Entity, u.By = segment.Entity(field("entity")), app.MatchBy(field("by"))
	if u.Entity == "" {
		u.Entity = segment.EntityContact
	}
	if len(u.File) > 200 {
		u.File = u.File[:200]
	}
	return u, nil
}

// draftReport is a draft as the page shows it: its report's rows sampled.
type draftReport struct {
	*app.ListDraft
	ETA        *int                `json:"eta_s"`
	Matched    int                 `json:"matched"`
	Rows       int                 `json:"rows"`
	Duplicates int                 `json:"duplicates"`
	NotFound   int                 `json:"not_found"`
	Ambiguous  int                 `json:"ambiguous"`
	Invalid    int                 `json:"invalid"`
	Samples    map[string][]sample `json:"samples,omitempty"`
}

type sample struct {
	Line int     `json:"line"`
	Raw  string  `json:"raw"`
	IDs  []int64 `json:"ids,omitempty"`
	Why  string  `json:"why,omitempty"`
}

func draftView(d *app.ListDraft) draftReport {
	v := draftReport{ListDraft: d}
	if d.State == "running" || d.State == "queued" {
		// findbycomm answers about a value a call at worst, 50 calls a
		// request, 2 requests a second: the portal's pace bounds the wait.
		eta := (d.Total - d.Done + 99) / 100
		v.ETA = &eta
	}
	rep := d.Report
	if rep == nil {
		return v
	}
	v.NotFound, v.Ambiguous, v.Invalid = len(rep.NotFound), len(rep.Ambiguous), len(rep.Invalid)
	v.Matched, v.Rows, v.Duplicates = rep.Matched, rep.Rows, rep.Duplicates
	v.Samples = map[string][]sample{"not_found": {}, "ambiguous": {}, "invalid": {}}
	for _, e := range rep.NotFound[:min(listSamples, len(rep.NotFound))] {
		v.Samples["not_found"] = append(v.Samples["not_found"], sample{Line: e.Line, Raw: e.Raw})
	}
	for _, e := range rep.Ambiguous[:min(listSamples, len(rep.Ambiguous))] {
		v.Samples["ambiguous"] = append(v.Samples["ambiguous"], sample{Line: e.Line, Raw: e.Raw, IDs: e.IDs})
	}
	for _, e := range rep.Invalid[:min(listSamples, len(rep.Invalid))] {
		v.Samples["invalid"] = append(v.Samples["invalid"], sample{Line: e.Line, Raw: e.Raw, Why: e.Reason})
	}
	shown := *d
	shown.Report = nil // the counts and samples above say it
	v.ListDraft = &shown
	return v
}

// ListDraft answers an upload's progress, then its report.
func (a *API) ListDraft(c *gin.Context) {
	sess := sessionOf(c)
	if !a.lists(c, sess) {
		return
	}
	d, err := a.Lists.Draft(c.Request.Context(), sess.MemberID, c.Param("id"))
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, draftView(d))
}

// ListDraftRows downloads every row of an upload that will not be in the
// list: not found, ambiguous, unreadable, in the reader's language.
func (a *API) ListDraftRows(c *gin.Context) {
	sess := sessionOf(c)
	if !a.lists(c, sess) {
		return
	}
	d, err := a.Lists.Draft(c.Request.Context(), sess.MemberID, c.Param("id"))
	if err == nil && d.Report == nil {
		err = app.Errorf(app.EConflict, "The upload is still being matched.")
	}
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="not-found-`+d.ID+`.csv"`)
	c.Status(http.StatusOK)
	bw := bufio.NewWriter(c.Writer)
	_, _ = bw.WriteString("\uFEFF") // Excel reads UTF-8 with a mark
	w := csv.NewWriter(bw)
	_ = w.Write([]string{listText(sess.Lang, "line"), listText(sess.Lang, "value"), listText(sess.Lang, "problem")})
	rep := d.Report
	for _, e := range rep.NotFound {
		_ = w.Write([]string{strconv.Itoa(e.Line), csvCell(e.Raw), listText(sess.Lang, "not_found")})
	}
	for _, e := range rep.Ambiguous {
		ids := make([]string, len(e.IDs))
		for i, id := range e.IDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		_ = w.Write([]string{strconv.Itoa(e.Line), csvCell(e.Raw), listText(sess.Lang, "ambiguous", strings.Join(ids, ", "))})
	}
	for _, e := range rep.Invalid {
		_ = w.Write([]string{strconv.Itoa(e.Line), csvCell(e.Raw), listText(sess.Lang, e.Reason)})
	}
	w.Flush()
	_ = bw.Flush()
}

// ConfirmList writes a matched upload as its list.
func (a *API) ConfirmList(c *gin.Context) {
	sess := sessionOf(c)
	if !a.lists(c, sess) {
		return
	}
	l, err := a.Lists.Confirm(c.Request.Context(), sess.MemberID, c.Param("id"), sess.UserID)
	if err != nil && l == nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusCreated, l)
}

// CancelList forgets an upload.
func (a *API) CancelList(c *gin.Context) {
	sess := sessionOf(c)
	if !a.lists(c, sess) {
		return
	}
	if err := a.Lists.Cancel(c.Request.Context(), sess.MemberID, c.Param("id")); err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// FreezeList makes a list of a segment's records now.
func (a *API) FreezeList(c *gin.Context) {
	sess := sessionOf(c)
	if !a.lists(c, sess) {
		return
	}
	var req struct {
		Entity  string `json:"entity"`
		Segment string `json:"segment"`
		Name    string `json:"name"`
	}
	if err := decodeBody(c, &req); err != nil {
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "send_config"))
		return
	}
	e, ok := parseEntity(req.Entity)
	if !ok || e == segment.EntityDeal {
		apiError(c, sess.Lang, badEntity(sess.Lang))
		return
	}
	l, err := a.Lists.Freeze(c.Request.Context(), sess.MemberID, e, req.Segment, req.Name, sess.UserID)
	if err != nil && l == nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusCreated, l)
}

// RenameList changes a list's name.
func (a *API) RenameList(c *gin.Context) {
	sess := sessionOf(c)
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeBody(c, &req); err != nil {
		apiError(c, sess.Lang, bodyError(sess.Lang, err, "send_config"))
		return
	}
	l, err := a.Store.RenameList(c.Request.Context(), sess.MemberID, c.Param("key"), req.Name)
	if err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.JSON(http.StatusOK, l)
}

// DeleteList removes a list.
func (a *API) DeleteList(c *gin.Context) {
	sess := sessionOf(c)
	if !a.lists(c, sess) {
		return
	}
	if err := a.Lists.Delete(c.Request.Context(), sess.MemberID, c.Param("key")); err != nil {
		apiError(c, sess.Lang, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func listRoutes(auth, admin *gin.RouterGroup, a *API) {
	auth.GET("/lists", a.GetLists)
	admin.POST("/lists/freeze", a.FreezeList)
	admin.PATCH("/lists/:key", a.RenameList)
	admin.DELETE("/lists/:key", a.DeleteList)
	admin.POST("/list-uploads", a.UploadList)
	admin.GET("/list-uploads/:id", a.ListDraft)
	admin.GET("/list-uploads/:id/not-found.csv", a.ListDraftRows)
	admin.POST("/list-uploads/:id/confirm", a.ConfirmList)
	admin.DELETE("/list-uploads/:id", a.CancelList)
}

// listNames adds the portal's list names to names (explanations and
// problems name lists by them).
func (a *API) listNames(ctx context.Context, memberID string, names *segment.Names) (map[string]segment.Entity, error) {
	kinds, byKey, err := a.Store.ListVocabulary(ctx, memberID)
	if err != nil {
		return nil, err
	}
	if names != nil {
		names.Lists = byKey
	}
	return kinds, nil
}
