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
// DEFAULT). The page is static; what Bitrix24 POSTs (member_id, AUTH_ID,
// LANG) is put into it so that it can start a session even when the BX24
// library cannot be loaded.
type Page struct {
	Store  *app.Store
	Static fs.FS // static/, with index.html as a template
	tmpl   *template.Template
}

// NewPage parses the page template from static.
func NewPage(store *app.Store, static fs.FS) (*Page, error) {
	t, err := template.ParseFS(static, "index.html")
	if err != nil {
		return nil, fmt.Errorf("settings page template: %w", err)
	}
	return &Page{Store: store, Static: static, tmpl: t}, nil
}

type pageData struct {
	Lang     string
	MemberID string
	AuthID   string
}

// App serves GET and POST /b24/app.
func (p *Page) App(c *gin.Context) {
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
	var buf bytes.Buffer
	if err := p.tmpl.Execute(&buf, d); err != nil {
		c.String(http.StatusInternalServerError, "page error")
		return
	}
	h := c.Writer.Header()
	// Framed by the portal's own origin only; no X-Frame-Options, which
	// cannot name an origin and would leave Bitrix24's widget area empty.
	h.Set("Content-Security-Policy", "frame-ancestors "+ancestors)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

// Assets serves the page's scripts and styles.
func (p *Page) Assets() http.Handler {
	files := http.FileServer(http.FS(p.Static))
	return http.StripPrefix("/static", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/index.html" || r.URL.Path == "/" {
			http.NotFound(w, r) // the template, only served rendered
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
}
