// Package bitrix is a client for the Bitrix24 REST API (v2) as used by a
// marketplace application installed by OAuth into many portals.
//
// One Client serves the whole application (client id and secret, the OAuth
// server, the HTTP client, Redis, the token store); a Portal is a cheap handle
// on one installed portal, named by its member_id:
//
//	c, err := bitrix.NewClient(bitrix.Config{ClientID: id, ClientSecret: secret,
//		Redis: rdb, Tokens: store})
//	p := c.Portal(memberID)
//	var deal struct{ ID bitrix.ID; OPPORTUNITY bitrix.Money }
//	_, err = p.Call(ctx, "crm.deal.get", map[string]any{"id": 7405}, &deal)
//
// What the client does on every request, so callers need not:
//
//   - waits for the portal's request budget, a GCRA limiter in Redis shared by
//     every process of the application (Bitrix24 counts requests per portal,
//     whoever sends them), and for any per-method pause left by
//     OPERATION_TIME_LIMIT; a wait longer than the context allows returns a
//     *RateLimitedError carrying the wait instead of blocking;
//   - injects the access token as the auth parameter and refreshes it when the
//     portal answers expired_token or the stored expiry has passed; a refresh is
//     single-flight across processes (Redis lock per portal, re-read, refresh,
//     save, then use), because Bitrix24 refresh tokens are single-use;
//   - checks every answer for an error key whatever its HTTP status and returns
//     a typed *APIError; HTML or other non-JSON answers become an
//     *UnexpectedResponseError;
//   - retries QUERY_LIMIT_EXCEEDED (the request never ran) with jittered
//     backoff, filling the shared budget so no process adds refusals, and
//     transport errors and 5xx answers only for reads, never for writes that
//     may have run; refusals that outlast the retries return a
//     *RateLimitedError saying when to try again;
//   - re-POSTs to the new host when a renamed portal answers 302, and reports
//     the new endpoint so it can be stored.
//
// Batch sends up to 50 named commands in one request, BatchAll any number of
// independent commands, and Scan streams every record of a list method by ID
// keyset, 50 pages chained in one batch (about 2,500 rows per request).
//
// The package also parses what Bitrix24 POSTs to the application: the
// installer and placement iframe requests (ParseInstall, ParsePlacement) and
// event notifications (ParseEvent), with VerifyApplicationToken for the
// constant-time authenticity check.
package bitrix
