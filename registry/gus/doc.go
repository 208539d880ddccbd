// Package gus is a registry.Provider on GUS BIR1.1, the web service of
// Poland's REGON registry ("Baza Internetowa REGON", UslugaBIRzewnPubl).
//
// The service speaks SOAP 1.2 with WS-Addressing (wsa:To and wsa:Action in
// every envelope) and answers in MTOM multipart. A session starts with
// Zaloguj(key); its id goes in the HTTP header "sid" of every later call.
// DaneSzukajPodmioty(Nip) finds the entity, DanePobierzPelnyRaport(Regon,
// report) reads its full report and its PKD report; the data arrives as an
// XML document escaped inside the SOAP answer, and errors ("not found" is
// ErrorCode 4) arrive inside that document. GetValue(StatusSesji) says
// whether a session is alive: an expired one gets empty answers, and the
// client logs in again.
//
// Sources (reference only, nothing copied): the envelopes, actions, report
// names and field names of GUS's BIR1.1 manual as public clients reproduce
// them (johnzuk/GusApi among them), and write-ups of live calls to the test
// service found in public repositories. Comments mark what could not be
// confirmed.
package gus
