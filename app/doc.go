// Package app is Segmentor's domain: portals (tenants), their configs, the
// mirror of CRM records the rules need, and the audit trail. It knows Redis
// as its store but nothing of HTTP or the job queue; handlers and jobs call
// into it, and cmd/segmentor wires it together.
package app
