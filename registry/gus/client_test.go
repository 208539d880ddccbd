package gus_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"segmentor/internal/fakeclock"
	"segmentor/registry"
	"segmentor/registry/gus"
	"segmentor/registry/gussim"
)

var start = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type stack struct {
	sim    *gussim.Server
	client *gus.Client
	clock  *fakeclock.Clock
	url    string
}

// setup serves a simulator under a path prefix (a client building its own
// URL would miss it) and returns a client of it; change adjusts the
// client's config.
func setup(t *testing.T, opts gussim.Options, change func(*gus.Config)) *stack {
	t.Helper()
	clock := fakeclock.At(start)
	if opts.Clock == nil {
		opts.Clock = clock
	}
	sim := gussim.New(opts)
	mux := http.NewServeMux()
	mux.Handle("/api"+gussim.Path, sim)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close) // runs first: lets hanging requests go
	cfg := gus.Config{Endpoint: ts.URL + "/api" + gussim.Path, Key: gus.TestKey, HTTP: ts.Client(), Clock: clock}
	if change != nil {
		change(&cfg)
	}
	c, err := gus.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &stack{sim: sim, client: c, clock: clock, url: cfg.Endpoint}
}

func (s *stack) want(t *testing.T, nip string) registry.Company {
	t.Helper()
	want, ok := s.sim.Company(nip)
	if !ok {
		t.Fatalf("simulator does not know %s", nip)
	}
	want.FetchedAt = s.clock.Now()
	return want
}

func TestLookupFindsCatalogueCompanies(t *testing.T) {
	for _, plain := range []bool{false, true} {
		s := setup(t, gussim.Options{Seed: 7, Companies: 60, Plain: plain}, nil)
		kinds := map[string]int{}
		for _, nip := range s.sim.NIPs() {
			got, err := s.client.Lookup(context.Background(), nip)
			if err != nil {
				t.Fatalf("plain=%v: Lookup(%s): %v", plain, nip, err)
			}
			if diff := cmp.Diff(s.want(t, nip), *got); diff != "" {
				t.Errorf("plain=%v: Lookup(%s) (-want +got):\n%s", plain, nip, diff)
			}
			kinds[got.LegalForm]++
			kinds[string(got.Status)]++
		}
		if kinds["JDG"] == 0 || kinds["sp. z o.o."] == 0 || kinds["active"] == 0 {
			t.Errorf("plain=%v: the catalogue lacks variety: %v", plain, kinds)
		}
		st := s.sim.Stats()
		if st.ByOperation["Zaloguj"] != 1 || st.ByOperation["DaneSzukajPodmioty"] != 60 || st.ByOperation["DanePobierzPelnyRaport"] != 120 {
			t.Errorf("plain=%v: operations = %v, want one login, then a search and two reports per company", plain, st.ByOperation)
		}
	}
}

func TestLookupAcceptsTheFormsPeopleType(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 1}, nil)
	nip := s.sim.NIPs()[0]
	got, err := s.client.Lookup(context.Background(), "PL "+nip[:3]+"-"+nip[3:6]+"-"+nip[6:8]+"-"+nip[8:])
	if err != nil {
		t.Fatal(err)
	}
	if got.TaxID != nip {
		t.Errorf("TaxID = %s, want %s", got.TaxID, nip)
	}
}

func TestLookupAddedCompanies(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 1}, nil)
	registered := time.Date(2012, 3, 5, 0, 0, 0, 0, time.UTC)
	companies := []registry.Company{
		{TaxID: "5261040828", REGON: "000331501", Name: "GŁÓWNY URZĄD STATYSTYCZNY", PKD: "84.11.Z", PKDSection: "O",
			Region: "Mazowieckie", LegalForm: "sp. z o.o.", Registered: registered, Status: registry.StatusActive},
		{TaxID: "7740001454", REGON: "610188201", Name: "ZAMKNIĘTA SPÓŁKA AKCYJNA", PKD: "19.20.Z", PKDSection: "C",
			Region: "Mazowieckie", LegalForm: "S.A.", Registered: registered, Status: registry.StatusClosed},
		{TaxID: "1132853869", REGON: "146146146", Name: "JAN NOWAK USŁUGI BUDOWLANE", PKD: "41.20.Z", PKDSection: "F",
			Region: "Łódzkie", LegalForm: "JDG", Registered: registered, Status: registry.StatusSuspended},
		{TaxID: "9542751368", REGON: "240566850", Name: "ANNA WÓJCIK SKLEP", PKD: "47.11.Z", PKDSection: "G",
			Region: "Śląskie", LegalForm: "JDG", Registered: registered, Status: registry.StatusClosed},
	}
	for _, c := range companies {
		if _, ok := registry.ValidNIP(c.TaxID); !ok {
			t.Fatalf("test NIP %s is invalid", c.TaxID)
		}
		s.sim.Add(c)
		got, err := s.client.Lookup(context.Background(), c.TaxID)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", c.TaxID, err)
		}
		c.FetchedAt = start
		if diff := cmp.Diff(c, *got); diff != "" {
			t.Errorf("Lookup(%s) (-want +got):\n%s", c.TaxID, diff)
		}
	}
}

func TestLookupNotFound(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 5}, nil)
	_, err := s.client.Lookup(context.Background(), "5261040828")
	if !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if st := s.sim.Stats(); st.ByOperation["DanePobierzPelnyRaport"] != 0 || st.ByOperation["GetValue"] != 0 {
		t.Errorf("operations = %v: a not-found answer needs no report and no session check", st.ByOperation)
	}
}

func TestInvalidNIPIsNeverSent(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 1}, nil)
	for _, bad := range []string{"", "5261040827", "12345", "PL52610408280", "abc"} {
		if _, err := s.client.Lookup(context.Background(), bad); !errors.Is(err, registry.ErrInvalidTaxID) {
			t.Errorf("Lookup(%q) err = %v, want ErrInvalidTaxID", bad, err)
		}
	}
	if n := s.sim.Stats().Requests; n != 0 {
		t.Errorf("%d requests sent for invalid NIPs", n)
	}
}

func TestRegistryDownIsUnavailable(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 1}, func(c *gus.Config) {
		c.HTTP = &http.Client{Timeout: 200 * time.Millisecond}
	})
	nip := s.sim.NIPs()[0]
	for _, o := range []gussim.Outage{gussim.Refused, gussim.Hanging} {
		s.sim.SetOutage(o)
		if _, err := s.client.Lookup(context.Background(), nip); !errors.Is(err, registry.ErrUnavailable) {
			t.Errorf("outage %d: err = %v, want ErrUnavailable", o, err)
		}
	}
	s.sim.SetOutage(gussim.Up)
	if _, err := s.client.Lookup(context.Background(), nip); err != nil {
		t.Errorf("back up: %v", err)
	}
}

func TestRateLimitedIsUnavailable(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 1}, nil)
	s.sim.SetLimit(gussim.Limit{Rate: 1, Per: time.Hour, Burst: 2}) // the login and the search
	_, err := s.client.Lookup(context.Background(), s.sim.NIPs()[0])
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if st := s.sim.Stats(); st.Limited != 1 {
		t.Errorf("limited %d requests, want 1", st.Limited)
	}
}

func TestBadKeyIsUnauthorized(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 1}, func(c *gus.Config) { c.Key = "zlyklucz000000000000" })
	_, err := s.client.Lookup(context.Background(), s.sim.NIPs()[0])
	if !errors.Is(err, registry.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if strings.Count(err.Error(), "gus:") != 1 {
		t.Errorf("err = %q: the context should be said once", err)
	}
	if st := s.sim.Stats(); st.Requests != 1 {
		t.Errorf("%d requests, want only the login", st.Requests)
	}
}

func TestKeysFromOptionsAreAccepted(t *testing.T) {
	s := setup(t, gussim.Options{Seed: 1, Companies: 1, Keys: []string{"portalkey00000000001"}},
		func(c *gus.Config) { c.Key = "portalkey00000000001" })
	if _, err := s.client.Lookup(context.Background(), s.sim.NIPs()[0]); err != nil {
		t.Fatal(err)
	}
}

func TestExpiredSessionLogsInAgain(t *testing.T) {
	ctx := context.Background()
	t.Run("service restarted", func(t *testing.T) {
		s := setup(t, gussim.Options{Seed: 1, Companies: 2}, nil)
		nips := s.sim.NIPs()
		if _, err := s.client.Lookup(ctx, nips[0]); err != nil {
			t.Fatal(err)
		}
		s.sim.ExpireSessions()
		got, err := s.client.Lookup(ctx, nips[1])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want(t, nips[1]), *got); diff != "" {
			t.Errorf("after relogin (-want +got):\n%s", diff)
		}
		st := s.sim.Stats()
		if st.ByOperation["Zaloguj"] != 2 || st.ByOperation["GetValue"] != 1 {
			t.Errorf("operations = %v, want a session check and a second login", st.ByOperation)
		}
	})
	t.Run("idle past the service's timeout", func(t *testing.T) {
		// The client would keep its session two hours; the service ends it
		// after one idle hour.
		s := setup(t, gussim.Options{Seed: 1, Companies: 2}, func(c *gus.Config) { c.SessionTTL = 2 * time.Hour })
		nips := s.sim.NIPs()
		if _, err := s.client.Lookup(ctx, nips[0]); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(61 * time.Minute)
		if _, err := s.client.Lookup(ctx, nips[1]); err != nil {
			t.Fatal(err)
		}
		if st := s.sim.Stats(); st.ByOperation["Zaloguj"] != 2 {
			t.Errorf("operations = %v, want a second login", st.ByOperation)
		}
	})
	t.Run("client renews before the timeout", func(t *testing.T) {
		s := setup(t, gussim.Options{Seed: 1, Companies: 2}, nil)
		nips := s.sim.NIPs()
		if _, err := s.client.Lookup(ctx, nips[0]); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(55 * time.Minute)
		if _, err := s.client.Lookup(ctx, nips[1]); err != nil {
			t.Fatal(err)
		}
		if st := s.sim.Stats(); st.ByOperation["Zaloguj"] != 2 || st.ByOperation["GetValue"] != 0 {
			t.Errorf("operations = %v, want a fresh login and no wasted call", st.ByOperation)
		}
	})
}

func TestValueAndClose(t *testing.T) {
	ctx := context.Background()
	s := setup(t, gussim.Options{Seed: 1, Companies: 1}, nil)
	for name, want := range map[string]string{"StatusSesji": "1", "StatusUslugi": "1", "KomunikatKod": "0"} {
		got, err := s.client.Value(ctx, name)
		if err != nil || got != want {
			t.Errorf("Value(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if err := s.client.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.sim.Stats(); st.ByOperation["Wyloguj"] != 1 {
		t.Errorf("operations = %v, want a logout", st.ByOperation)
	}
}

func TestNewNeedsAKey(t *testing.T) {
	if _, err := gus.New(gus.Config{}); err == nil {
		t.Error("New without a key succeeded")
	}
}
