package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"segmentor/app"
)

// Page serves the settings page Bitrix24 opens in its iframe (placement
// DEFAULT) and the CRM card tab (placement.go). The pages are static; what
// Bitrix24 POSTs (member_id, AUTH_ID, LANG, the placement) is put into them
// so that they can start a session even when the BX24 library cannot be
// loaded.
type Page struct {
	Store  *app.Store
	Static fs.FS // static/, with index.html and card.html as templates
	tmpl   *template.Template
	card   *template.Template
}

// NewPage parses the page templates from static.
func NewPage(store *app.Store, static fs.FS) (*Page, error) {
	t, err := template.ParseFS(static, "index.html")
	if err != nil {
		return nil, fmt.Errorf("settings page template: %w", err)
	}
	card, err := template.ParseFS(static, "card.html")
	if err != nil {
		return nil, fmt.Errorf("card tab template: %w", err)
	}
	return &Page{Store: store, Static: static, tmpl: t, card: card}, nil
}

type pageData struct {
	Lang     string
	MemberID string
	AuthID   string
	// The card tab's record (placement.go); empty on the settings page.
	Placement string
	Entity    string
	RecordID  int64
}

// App serves GET and POST /b24/app.
func (p *Page) App(c *gin.Context) {
	p.serve(c, p.tmpl, nil)
}

// serve renders tmpl with what Bitrix24 posted; fill, when set, adds what
// only that page needs.
func (p *Page) serve(c *gin.Context, tmpl *template.Template, fill func(*pageData)) {
	if c.Request.Method == http.MethodPost {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
		_ = c.Request.ParseForm()
	}
	member := c.PostForm("member_id")
	if member == "" {
		member = c.Query("member_id")
	}
	d := pageData{Lang: c.Query("LANG"), AuthID: c.PostForm("AUTH_ID")}
	ancestors := "'none'"
	if member != "" {
		if portal, err := p.Store.Portal(c.Request.Context(), member); err == nil {
			d.MemberID = portal.MemberID
			if d.Lang == "" {
				d.Lang = portal.Lang
			}
			if o := portalOrigin(portal.ClientEndpoint); o != "" {
				ancestors = o
			}
		}
	}
	d.Lang = langOf(d.Lang)
	if d.MemberID == "" {
		d.AuthID = "" // a token for a portal we do not know is of no use to the page
	}
	if fill != nil {
		fill(&d)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		c.String(http.StatusInternalServerError, "page error")
		return
	}
	// Framed by the portal's own origin only; no X-Frame-Options, which
	// cannot name an origin and would leave Bitrix24's widget area empty.
	// The router's private middleware keeps the token out of caches.
	setPagePolicy(c.Writer.Header(), ancestors, "")
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

// Assets serves the pages' scripts and styles.
func (p *Page) Assets() http.Handler {
	files := http.FileServer(http.FS(p.Static))
	return http.StripPrefix("/static", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/index.html", "/card.html":
			http.NotFound(w, r) // the templates, only served rendered
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
}
