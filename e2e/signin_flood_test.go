package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"sync"
	"testing"
	"time"

	"segmentor/bitrix/b24sim"
	"segmentor/internal/await"
)

// One flood of made-up sign-ins (1,000 in a minute, from 20 client
// addresses behind the operator's proxy) while admins sign in and a
// contact wins a big deal: every real sign-in succeeds, the forged checks
// take at most a quarter of the portal's 2 requests a second, and the
// contact's new segment is written within 30 s. It runs alone: its flood
// keeps both cores busy for a minute, which would slow the timed proofs
// running beside it.
func TestSignInFloodLeavesThePortalItsBudget(t *testing.T) {
	const (
		forged   = 1000
		floodFor = time.Minute
		writeIn  = 30 * time.Second
	)
	// A Redis server and HTTP connections of its own: the flood's thousand
	// connections and keys end with it.
	rs := startRedisServer(t)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	c, _ := newBackfilledCluster(t, clusterOptions{
		Redis: rs.options(0),
		Sim:   b24sim.Options{Seed: 81},
		Gen:   b24sim.GenOptions{Contacts: 60, Companies: 10, Deals: 200, Years: 2},
		Env:   map[string]string{"TRUSTED_PROXIES": "127.0.0.1"},
	}, "worker-1")
	m := c.sim.MemberID()
	// A contact the big deal will make a VIP (PARTNER).
	contact := 0
	for ct := range c.sim.Records("contact") {
		if contact == 0 && fmt.Sprint(ct["TYPE_ID"]) != "PARTNER" {
			contact = atoi(ct["ID"])
		}
	}
	if contact == 0 {
		t.Fatal("every contact is a VIP already")
	}

	// signIn is a page's sign-in from addr with a token Bitrix24 gave it,
	// and the page's current session when it has one (as common.js sends
	// it); it answers the status and the new session.
	signIn := func(addr, token, session string) (int, string) {
		raw, _ := json.Marshal(map[string]string{"member_id": m, "auth_id": token, "session": session})
		req, _ := http.NewRequest("POST", c.baseURL()+"/api/v1/session", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := client.Do(req)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		var out struct{ Token string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Token
	}
	// The admin used Segmentor before the flood: their page has a session.
	_, adminSession := signIn("198.51.100.1", c.sim.IssueTokens(1).AccessToken, "")
	if adminSession == "" {
		t.Fatal("the admin's first sign-in failed")
	}
	rep := c.sim.AddUser(b24sim.User{Name: "Rita", LastName: "Rep", OwnOnly: true})

	c.sim.ResetLog()
	start := time.Now()
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		real     []int // the admin's sign-ins, every 5 s
		first    []int // first sign-ins of users with no session, every 10 s
		wg       sync.WaitGroup
	)
	gap := floodFor / forged
	for i := 0; i < forged; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, _ := signIn(fmt.Sprintf("203.0.113.%d", 1+i%20), fmt.Sprintf("f0rged%08d%020d", i, time.Now().UnixNano()), "")
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}(i)
		time.Sleep(gap)
		elapsed := time.Since(start)
		if i%83 == 41 { // every 5 s: the admin reopens the settings page
			wg.Add(1)
			go func() {
				defer wg.Done()
				mu.Lock()
				session := adminSession
				mu.Unlock()
				st, next := signIn("198.51.100.1", c.sim.IssueTokens(1).AccessToken, session)
				mu.Lock()
				defer mu.Unlock()
				real = append(real, st)
				if next != "" {
					adminSession = next
				}
			}()
		}
		if i%166 == 83 { // every 10 s: a rep who has no session yet, from an address of their own
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				st, _ := signIn(fmt.Sprintf("192.0.2.%d", n), c.sim.IssueTokens(rep.ID).AccessToken, "")
				mu.Lock()
				first = append(first, st)
				mu.Unlock()
			}(i/166 + 1)
		}
		if i == 166 { // 10 s in: the contact wins a big deal
			id, err := c.sim.UserAdd("deal", map[string]any{"TITLE": "Big order", "CONTACT_ID": contact,
				"OPPORTUNITY": "90000", "CLOSEDATE": time.Now().Format("2006-01-02")}, 1, false)
			if err == nil {
				err = c.sim.WinDeal(id, 1)
			}
			if err != nil {
				t.Fatal(err)
			}
			won := time.Now()
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok := await.Poll(writeIn, func() bool {
					ct, _ := c.sim.Record("contact", contact)
					return fmt.Sprint(ct["TYPE_ID"]) == "PARTNER"
				})
				mu.Lock()
				defer mu.Unlock()
				if !ok {
					t.Errorf("the contact that won a big deal %s in was not a VIP %s later", elapsed.Round(time.Second), writeIn)
					return
				}
				t.Logf("the contact's new segment was written %s after the win", time.Since(won).Round(100*time.Millisecond))
			}()
		}
	}
	wg.Wait()
	took := time.Since(start)

	forgedChecks := 0
	for _, r := range c.sim.Requests() {
		if r.UserID == 0 && r.Time.Sub(start) <= took {
			forgedChecks++
		}
	}
	share := float64(forgedChecks) / (2 * took.Seconds())
	mu.Lock()
	defer mu.Unlock()
	count := func(sts []int) (ok int) {
		for _, st := range sts {
			if st == 200 {
				ok++
			}
		}
		return ok
	}
	t.Logf("%d forged sign-ins in %s from 20 addresses: answers %v; %d reached the portal: %.1f %% of its 2 requests/s",
		forged, took.Round(100*time.Millisecond), statuses, forgedChecks, 100*share)
	t.Logf("meanwhile: the admin signed in %d of %d times; users with no session yet %d of %d times (%v)",
		count(real), len(real), count(first), len(first), first)
	if share > 0.25 {
		t.Errorf("the forged checks took %.1f %% of the portal's requests, more than a quarter", 100*share)
	}
	if count(real) != len(real) || len(real) < 10 {
		t.Errorf("the admin's sign-ins: %v, want every one 200", real)
	}
	if count(first) == 0 {
		t.Errorf("no first sign-in succeeded during the flood: %v", first)
	}
	if statuses[200] != 0 || statuses[0] != 0 || statuses[500] != 0 {
		t.Errorf("forged sign-ins answered %v: none may succeed, fail to answer or crash", statuses)
	}
}
