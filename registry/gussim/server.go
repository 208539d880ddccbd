package gussim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"segmentor/registry"
)

// TestKey is GUS's public test key; the simulator always accepts it.
const TestKey = "abcde12345abcde12345"

// Path is where New's handler expects requests when mounted as the real
// service is; the handler answers on any path whose envelope's wsa:To
// names it.
const Path = "/wsBIR/UslugaBIRzewnPubl.svc"

// Options configures a Server.
type Options struct {
	Seed      uint64   // the catalogue's seed
	Companies int      // catalogue size; default 1000
	Keys      []string // user keys accepted besides TestKey
	// SessionTTL ends a session idle that long; default 60 minutes (what
	// GUS documents).
	SessionTTL time.Duration
	// Clock ages sessions and paces the rate limit; default the wall clock.
	Clock interface{ Now() time.Time }
	// Plain answers application/soap+xml instead of MTOM multipart.
	Plain bool
}

// Outage is how the simulated service fails.
type Outage int

// The outages SetOutage switches to.
const (
	Up      Outage = iota // answering
	Refused               // every request gets 503 Service Unavailable
	Hanging               // requests get no answer until the client gives up
)

// Limit is a request rate the service enforces: Rate requests per Per, at
// most Burst at once. The zero Limit enforces nothing.
type Limit struct {
	Rate  int
	Per   time.Duration
	Burst int
}

// Stats counts what the service was asked.
type Stats struct {
	Requests    int            // HTTP requests, all of them
	ByOperation map[string]int // answered requests by SOAP operation
	Refused     int            // refused for an outage
	Limited     int            // refused over the rate limit (429)
}

// Server is the simulated service. Its methods are safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	byNIP    map[string]*entity
	byREGON  map[string]*entity
	nips     []string // the catalogue, in generation order
	keys     map[string]bool
	sessions map[string]time.Time // sid → last used
	rng      *rand.Rand           // session ids, REGONs of added companies
	outage   Outage
	limit    Limit
	tat      time.Time // the rate limit's theoretical arrival time (GCRA)
	stats    Stats
	closed   chan struct{}
	closing  sync.Once
}

// New returns a simulator holding opts.Companies generated companies.
func New(opts Options) *Server {
	if opts.Companies <= 0 {
		opts.Companies = 1000
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 60 * time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = registry.SystemClock
	}
	s := &Server{
		opts:     opts,
		byNIP:    make(map[string]*entity, opts.Companies),
		byREGON:  make(map[string]*entity, opts.Companies),
		keys:     map[string]bool{TestKey: true},
		sessions: map[string]time.Time{},
		rng:      rand.New(rand.NewPCG(opts.Seed, 0x51d)),
		stats:    Stats{ByOperation: map[string]int{}},
		closed:   make(chan struct{}),
	}
	for _, k := range opts.Keys {
		s.keys[k] = true
	}
	for _, e := range generate(opts.Seed, opts.Companies) {
		s.byNIP[e.nip], s.byREGON[e.regon] = e, e
		s.nips = append(s.nips, e.nip)
	}
	return s
}

// NIPs lists the catalogue's tax IDs (added companies excluded).
func (s *Server) NIPs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.nips)
}

// Company is the company the registry holds under nip, as a correct client
// reports it (FetchedAt zero).
func (s *Server) Company(nip string) (registry.Company, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byNIP[nip]
	if !ok {
		return registry.Company{}, false
	}
	return e.company(), true
}

// Add puts c in the registry, replacing any company with its tax ID. Its
// LegalForm decides the type: "JDG" (also "gospodarstwo rolne", "osoba
// fizyczna") is a natural person's activity, anything else a legal person.
// A missing REGON is made up.
func (s *Server) Add(c registry.Company) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := fromCompany(c, randomREGON(s.rng))
	if old, ok := s.byNIP[e.nip]; ok {
		delete(s.byREGON, old.regon)
	}
	s.byNIP[e.nip], s.byREGON[e.regon] = e, e
}

// Register puts a made-up company under nip, made as the catalogue's are
// (a demo's portal has its own companies' NIPs), and returns it as a
// correct client reports it. A NIP the registry holds already is left as
// it is.
func (s *Server) Register(nip string) registry.Company {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byNIP[nip]
	if !ok {
		e = randomEntity(s.rng, nip)
		for s.byREGON[e.regon] != nil {
			e.regon = randomREGON(s.rng)
		}
		s.byNIP[nip], s.byREGON[e.regon] = e, e
	}
	return e.company()
}

// SetOutage switches how the service fails (Up to answer again).
func (s *Server) SetOutage(o Outage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = o
}

// SetLimit enforces a request rate; the zero Limit lifts it.
func (s *Server) SetLimit(l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.tat = l, time.Time{}
}

// ExpireSessions ends every session, as a restart of the service would.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByOperation = make(map[string]int, len(s.stats.ByOperation))
	for k, v := range s.stats.ByOperation {
		st.ByOperation[k] = v
	}
	return st
}

// Close releases requests held by a Hanging outage; call it before closing
// an httptest.Server that serves the simulator.
func (s *Server) Close() { s.closing.Do(func() { close(s.closed) }) }

// The service's namespaces.
const (
	nsSOAP     = "http://www.w3.org/2003/05/soap-envelope"
	nsWSA      = "http://www.w3.org/2005/08/addressing"
	nsPubl     = "http://CIS/BIR/PUBL/2014/07"
	nsBIR      = "http://CIS/BIR/2014/07"
	actionPubl = nsPubl + "/IUslugaBIRzewnPubl/"
	actionBIR  = nsBIR + "/IUslugaBIR/"
)

// request is a parsed envelope: its addressing headers, the operation and
// its parameters (nested ones flattened: pParametryWyszukiwania's Nip is
// "Nip").
type request struct {
	action, to string
	op         xml.Name
	params     map[string]string
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if wait, ok := s.admit(); !ok {
		if wait {
			select {
			case <-r.Context().Done():
			case <-s.closed:
			}
		} else {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		}
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.withinLimit() {
		// How GUS refuses over its quota is not documented; 429 is what a
		// quota enforced at the HTTP edge would send.
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/soap+xml" {
		// A WCF SOAP 1.2 binding refuses other content types so.
		http.Error(w, "Cannot process the message because the content type was not the expected type 'application/soap+xml; charset=utf-8'.", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.fault(w, http.StatusBadRequest, "a:BadRequest", "unreadable request")
		return
	}
	req, err := parseRequest(body)
	if err != nil {
		s.fault(w, http.StatusBadRequest, "s:Sender", err.Error())
		return
	}
	if u, err := url.Parse(req.to); err != nil || u.Path != r.URL.Path {
		s.fault(w, http.StatusInternalServerError, "a:DestinationUnreachable",
			"The message with To '"+req.to+"' cannot be processed at the receiver, due to an AddressFilter mismatch at the EndpointDispatcher.")
		return
	}
	ns, base := nsPubl, actionPubl
	if req.op.Local == "GetValue" {
		ns, base = nsBIR, actionBIR
	}
	if req.action != base+req.op.Local || req.op.Space != ns {
		s.fault(w, http.StatusInternalServerError, "a:ActionNotSupported",
			"The message with Action '"+req.action+"' cannot be processed at the receiver, due to a ContractFilter mismatch at the EndpointDispatcher.")
		return
	}
	result, ok := s.answer(req, r.Header.Get("sid"))
	if !ok {
		s.fault(w, http.StatusInternalServerError, "a:ActionNotSupported", "unknown operation "+req.op.Local)
		return
	}
	s.reply(w, req.action+"Response", req.op.Local, ns, result)
}

// admit counts a request and says whether an outage turns it away, and how.
func (s *Server) admit() (hang, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	if s.outage == Up {
		return false, true
	}
	s.stats.Refused++
	return s.outage == Hanging, false
}

// withinLimit applies the rate limit (GCRA on the simulator's clock).
func (s *Server) withinLimit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limit
	if l.Rate <= 0 || l.Per <= 0 {
		return true
	}
	now := s.opts.Clock.Now()
	interval := l.Per / time.Duration(l.Rate)
	tat := s.tat
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > interval*time.Duration(max(l.Burst, 1)-1) {
		s.stats.Limited++
		return false
	}
	s.tat = tat.Add(interval)
	return true
}

// answer runs one operation; the result is the text of its <…Result>.
func (s *Server) answer(req request, sid string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.ByOperation[req.op.Local]++
	now := s.opts.Clock.Now()
	for id, used := range s.sessions {
		if now.Sub(used) >= s.opts.SessionTTL {
			delete(s.sessions, id)
		}
	}
	_, live := s.sessions[sid]
	if live {
		s.sessions[sid] = now
	}
	switch req.op.Local {
	case "Zaloguj":
		if !s.keys[req.params["pKluczUzytkownika"]] {
			return "", true // the service's answer to a key it does not know
		}
		id := s.newSID()
		s.sessions[id] = now
		return id, true
	case "Wyloguj":
		id := req.params["pIdentyfikatorSesji"]
		_, ok := s.sessions[id]
		delete(s.sessions, id)
		return boolText(ok), true
	case "GetValue":
		return s.value(req.params["pNazwaParametru"], live), true
	case "DaneSzukajPodmioty":
		if !live {
			return "", true // an expired or unknown session gets nothing
		}
		return s.search(req.params["Nip"]), true
	case "DanePobierzPelnyRaport":
		if !live {
			return "", true
		}
		return s.report(req.params["pRegon"], req.params["pNazwaRaportu"]), true
	}
	return "", false
}

func (s *Server) value(name string, live bool) string {
	switch name {
	case "StatusSesji":
		return boolDigit(live)
	case "StatusUslugi":
		return "1"
	case "KomunikatUslugi":
		return ""
	case "StanDanych":
		return s.opts.Clock.Now().Format("02-01-2006")
	case "KomunikatKod":
		if !live {
			return "7"
		}
		return "0"
	case "KomunikatTresc":
		if !live {
			return "Brak sesji. Sesja wygasła lub przekazano nieprawidłową wartość identyfikatora sesji."
		}
		return ""
	}
	return ""
}

func (s *Server) newSID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := make([]byte, 20)
		for i := range b {
			b[i] = alphabet[s.rng.IntN(len(alphabet))]
		}
		if _, taken := s.sessions[string(b)]; !taken {
			return string(b)
		}
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// parseRequest reads a SOAP 1.2 envelope.
func parseRequest(body []byte) (request, error) {
	req := request{params: map[string]string{}}
	d := xml.NewDecoder(bytes.NewReader(body))
	var stack []xml.Name
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return request{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name)
			text.Reset()
			if len(stack) == 3 && stack[1].Local == "Body" && stack[1].Space == nsSOAP {
				req.op = t.Name
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			v := strings.TrimSpace(text.String())
			switch {
			case len(stack) == 3 && stack[1].Local == "Header" && t.Name.Space == nsWSA && t.Name.Local == "Action":
				req.action = v
			case len(stack) == 3 && stack[1].Local == "Header" && t.Name.Space == nsWSA && t.Name.Local == "To":
				req.to = v
			case len(stack) >= 4 && stack[1].Local == "Body":
				req.params[t.Name.Local] = v
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
	if len(stack) != 0 || req.op.Local == "" {
		return request{}, errors.New("no SOAP 1.2 body")
	}
	if req.action == "" || req.to == "" {
		return request{}, errors.New("the message lacks the WS-Addressing To and Action headers")
	}
	return req, nil
}
