// Package handlers is Segmentor's HTTP surface on gin: the routes Bitrix24
// calls (install, events, app page, card tabs), the settings page's JSON API,
// and the operator endpoints (health, readiness, metrics). Handlers are
// methods on small structs holding narrow interfaces; Router wires them.
package handlers
