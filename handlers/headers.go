package handlers

import (
	"crypto/rand"
	"net/http"

	"github.com/gin-gonic/gin"
)

// nosniff is on every answer: a browser must take our JSON and text for
// what their Content-Type says, never guess HTML (or a script) from them.
func nosniff(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// private is on every answer that can carry a token, a session or a signed
// link (the API, Bitrix24's routes, the pages, the queue view): no cache,
// the browser's or a proxy's, may keep it, and no page passes its URL on
// as a Referer.
func private(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Next()
}

// bx24Library is where Bitrix24's JS library (BX24) is loaded from: the
// pages talk to the portal around their frame through it.
const bx24Library = "https://api.bitrix24.com"

// setPagePolicy gives an HTML page its Content-Security-Policy: framed by
// ancestors only (the portal's origin, or 'none'), and scripts from the
// app's own files and Bitrix24's library only, plus the page's inline
// script when it has a nonce. They are two policies, both enforced: the
// first names the portal, the second is the app's own, the same on every
// page but for the nonce.
func setPagePolicy(h http.Header, ancestors, nonce string) {
	scripts := "script-src 'self' " + bx24Library
	if nonce != "" {
		scripts += " 'nonce-" + nonce + "'"
	}
	h.Set("Content-Security-Policy", "frame-ancestors "+ancestors)
	h.Add("Content-Security-Policy", scripts+"; object-src 'none'; base-uri 'none'")
}

// newNonce returns a fresh nonce for one page's inline script: 128 random
// bits in base32, whose letters and digits a CSP nonce accepts.
func newNonce() string { return rand.Text() }
