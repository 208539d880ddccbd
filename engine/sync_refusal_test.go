package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
)

// A list method the portal refuses inside the sync's batches
// (OPERATION_TIME_LIMIT) ends the sync, within its job's deadline, with a
// *bitrix.RateLimitedError: the job is run again once the method's pause
// is over, instead of sleeping on its worker or failing onto the generic
// backoff. (Either the client's wait for the method's pause passes the
// deadline, or the scan's page is refused past its retries: refusedPage.)
func TestSyncGivesBackOnAPageKeptRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 300, Companies: 40, Deals: 900})
	// One deal page costs the whole budget: every later one is refused.
	e.sim.SetOperating(time.Second, map[string]time.Duration{"crm.item.list": 2 * time.Second})
	start := time.Now()
	_, err := e.cls.Sync(ctx, e.memberID, engine.SyncOptions{})
	took := time.Since(start)
	var rl *bitrix.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("sync ended with %v (%T), want a *bitrix.RateLimitedError", err, err)
	}
	if rl.Reason != "operating" || rl.Method != "crm.item.list" || rl.RetryIn <= 0 || rl.RetryIn > 10*time.Minute {
		t.Errorf("rate limited %+v: want reason operating, method crm.item.list, a wait within the 10-minute window", rl)
	}
	if !bitrix.IsTemporary(err) {
		t.Errorf("%v is not temporary", err)
	}
	if took > 10*time.Second {
		t.Errorf("the sync held its worker %v waiting out the pause", took)
	}
	if got := e.sim.Stats().OperatingRefusals; got == 0 {
		t.Error("the simulator refused no page: the test did not limit the method")
	}
}

// refusedPage's own answer, for a page refused past the scan's retries
// while the client had no pause to wait for.
func TestRefusedPageIsRateLimited(t *testing.T) {
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 1})
	refusal := &bitrix.APIError{Code: bitrix.CodeOperationTimeLimit, Status: 429}
	err := engine.RefusedPage(context.Background(), e.portal, "crm.item.list", refusal, e.now)
	var rl *bitrix.RateLimitedError
	if !errors.As(err, &rl) || rl.Reason != "operating" || rl.RetryIn != time.Minute || !bitrix.IsOperationLimit(err) {
		t.Errorf("operating refusal: %#v", err)
	}
	refusal = &bitrix.APIError{Code: bitrix.CodeQueryLimitExceeded, Status: 503}
	err = engine.RefusedPage(context.Background(), e.portal, "crm.contact.list", refusal, e.now)
	if !errors.As(err, &rl) || rl.Reason != "query_limit" || rl.RetryIn != 15*time.Second || !bitrix.IsQueryLimit(err) {
		t.Errorf("query limit refusal: %#v", err)
	}
}

// So does a changes job whose re-read the portal refuses for a limit: the
// job is run again later, not failed towards being archived with its
// records' changes.
func TestChangesGiveBackOnARefusedReread(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := newEngineEnv(t, b24sim.GenOptions{Contacts: 50, Companies: 10, Deals: 100})
	e.sim.SetOperating(time.Second, map[string]time.Duration{"crm.contact.list": 2 * time.Second})
	ids := []int64{1, 2, 3}
	var err error
	for range 2 { // the first list runs and spends the method's budget
		if err = e.cls.Apply(ctx, engine.Change{MemberID: e.memberID, Entity: "contact", IDs: ids}); err != nil {
			break
		}
	}
	var rl *bitrix.RateLimitedError
	if !errors.As(err, &rl) || rl.Method != "crm.contact.list" || rl.RetryIn <= 0 {
		t.Fatalf("re-read refused: %v (%T), want a *bitrix.RateLimitedError for crm.contact.list", err, err)
	}
}
