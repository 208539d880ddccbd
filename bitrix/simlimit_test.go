package bitrix_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
)

// Bursts of forced QUERY_LIMIT_EXCEEDED (b24sim.LimitBurst): a short one is
// absorbed by the client's retries; one that outlasts them comes back as a
// *RateLimitedError, so a job reschedules on the limiter's terms instead of
// the generic task backoff, with the refusal still reachable underneath.
func TestSimQueryLimitBurst(t *testing.T) {
	// Not parallel, and 2 requests/s: a refusal fills the shared budget,
	// after which the next request anyone may send is 500 ms away — room
	// for a loaded machine to start the second process's call within it
	// (at 200 ms a busy CI machine once missed it).
	e := newSim(t, b24sim.Options{RatePerSecond: -1})
	profile := bitrix.Profile{Name: "test", Rate: 2, Burst: 10, Period: time.Second}
	p := e.newC(profile).Portal(e.sim.MemberID())
	ctx := context.Background()
	set := func(v string) error {
		_, err := p.Call(ctx, "app.option.set", map[string]any{"options": map[string]string{"k": v}}, nil)
		return err
	}
	refusals := func() int { return e.sim.Stats().QueryLimitRefusals }

	e.sim.LimitBurst(3)
	if err := set("short"); err != nil {
		t.Fatalf("a burst of 3 refusals: %v", err)
	}
	if got := refusals(); got != 3 {
		t.Fatalf("portal refused %d requests, want the 3 forced", got)
	}

	e.sim.LimitBurst(1000)
	start := time.Now()
	err := set("long")
	took := time.Since(start)
	e.sim.LimitBurst(0)
	var rl *bitrix.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("a burst outlasting the retries: err = %v (%T), want *RateLimitedError", err, err)
	}
	// The client's default of 6 repeats: 7 refused requests.
	if got := refusals() - 3; got != 7 {
		t.Errorf("portal refused %d requests of the long burst, want 7", got)
	}
	// RetryIn is the backoff step after the six already waited: RetryWait
	// (20 ms) doubled six times, jittered into its upper half.
	if rl.Reason != "query_limit" || rl.MemberID != e.sim.MemberID() || rl.Method != "app.option.set" ||
		rl.RetryIn < 640*time.Millisecond || rl.RetryIn > 1280*time.Millisecond {
		t.Errorf("RateLimitedError = %+v", rl)
	}
	var ae *bitrix.APIError
	if !errors.As(err, &ae) || ae.Code != bitrix.CodeQueryLimitExceeded || ae.Status != 503 ||
		!bitrix.IsQueryLimit(err) || !bitrix.IsTemporary(err) ||
		!errors.Is(err, &bitrix.APIError{Code: bitrix.CodeQueryLimitExceeded}) {
		t.Errorf("the refusal underneath: %#v", ae)
	}
	// Each retry waited at least the drain interval of the filled budget.
	if took < 6*500*time.Millisecond {
		t.Errorf("six retries took %v, want at least 3 s", took)
	}

	// The last refusal filled the shared budget: another process waits for
	// it rather than sending at once.
	resp, err := e.newC(profile).Portal(e.sim.MemberID()).Call(ctx, "app.option.get", map[string]any{"option": "k"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.LimiterWait <= 0 {
		t.Error("after the portal's refusals another process sent without waiting for the budget")
	}
	if got := refusals() - 10; got != 0 {
		t.Errorf("%d more refusals once the burst was over", got)
	}
}

// A refusal whose backoff would pass the caller's deadline returns at once.
func TestSimQueryLimitPastDeadline(t *testing.T) {
	e := newSim(t, b24sim.Options{RatePerSecond: -1})
	c, err := bitrix.NewClient(bitrix.Config{
		ClientID: e.sim.ClientID(), ClientSecret: e.sim.ClientSecret(), OAuthURL: e.sim.OAuthURL(),
		Redis: newRedis(t, e.ropts), Tokens: e.store, AllowHTTP: true,
		Profile: func(context.Context, string) (bitrix.Profile, error) { return bitrix.UnlimitedProfile(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.LimitBurst(1000)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.Portal(e.sim.MemberID()).Call(ctx, "user.admin", nil, nil)
	var rl *bitrix.RateLimitedError
	// The default first backoff step is 250–500 ms.
	if !errors.As(err, &rl) || rl.Reason != "query_limit" || rl.RetryIn < 250*time.Millisecond || !bitrix.IsQueryLimit(err) {
		t.Fatalf("err = %v, want a RateLimitedError of the first backoff step", err)
	}
	if got := e.sim.Stats().QueryLimitRefusals; got != 1 {
		t.Errorf("portal refused %d requests, want 1", got)
	}
}
