// Package b24sim is a simulated Bitrix24 portal for tests, benchmarks and the
// demo. One Portal serves, over real HTTP, the OAuth server (/oauth/token/)
// and the REST API (/rest/{method}) of one portal, with the quirks the real
// one has: numbers as strings, [] for empty objects, 503
// QUERY_LIMIT_EXCEEDED from a leaky bucket, per-method operating time,
// rotating refresh tokens, and online events POSTed to bound handlers for
// every change — the app's own writes included. A Host (host.go) serves
// many such portals from one listener with one shared OAuth server, as the
// Bitrix24 cloud does; an idle portal there costs its data and no goroutine.
//
// Its Go API stands for what people do in the portal's UI (edit a deal, win
// it, install the app) and lets tests inspect every request the app made.
package b24sim
