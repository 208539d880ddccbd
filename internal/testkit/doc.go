// Package testkit is what Segmentor's tests share: the whole application
// wired against a simulated portal, readers of the simulator's request
// log, and small helpers. Nothing outside tests imports it.
package testkit
