// Package gussim simulates GUS BIR1.1, the REGON registry's web service,
// over real HTTP: SOAP 1.2 envelopes with WS-Addressing in, MTOM multipart
// out, user keys, sessions in the "sid" header that expire, and a
// catalogue of companies generated from a seed (Polish names, all sixteen
// voivodeships, PKD codes across the sections, legal persons and sole
// traders, some suspended, some closed). Tests and demos add their own
// companies with Add; a NIP it does not know gets the registry's "not
// found" answer (ErrorCode 4).
//
// Switches make it misbehave as the real one can: refuse every request
// (503), hang until the client gives up, enforce a request rate (429), end
// every session. It counts what it is asked.
//
// It is written from the service's description, independently of
// registry/gus, so that the client's tests check the client against the
// protocol rather than against itself.
package gussim
