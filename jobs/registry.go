package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/engine"
	"segmentor/registry"
	"segmentor/registry/gus"
)

// TypeRegistry looks a portal's companies up in the company registry.
const TypeRegistry = "registry:lookup"

// RegistryPayload names the portal; Full first reads every company's
// requisites for their tax IDs (lookups just turned on, and nightly).
type RegistryPayload struct {
	MemberID string `json:"member_id"`
	Full     bool   `json:"full,omitempty"`
	// Rewrite first writes the chosen values of every company already
	// answered for (the admin chose other fields to write to).
	Rewrite bool `json:"rewrite,omitempty"`
}

// RegistryWork is what the registry task needs of the engine
// (engine.Classifier).
type RegistryWork interface {
	ReadTaxIDs(ctx context.Context, memberID string) ([]int64, int, error)
	Enrich(ctx context.Context, memberID string, provider registry.Provider, opts engine.EnrichOptions) (engine.EnrichStats, error)
	ReclassifyCompanies(ctx context.Context, memberID string, ids []int64, uses func(*segment.Rules) bool) error
	WriteRegistryFields(ctx context.Context, memberID string, fields map[string]string) (int, error)
}

// How a registry task paces itself: it looks up registryChunk companies
// at a time and gives its worker back after registryRunFor, going on in a
// task of its own. At the registry's published limit (33 lookups a minute)
// a chunk takes about three minutes.
const (
	registryChunk  = 100
	registryRunFor = 10 * time.Minute
)

// LookUpCompanies queues a registry run for the portal: with full, its
// companies' tax IDs are read first. A run already queued takes the
// request in (it reads what is due when it starts).
func (q *Queue) LookUpCompanies(ctx context.Context, memberID string, full bool) error {
	return q.lookUp(ctx, RegistryPayload{MemberID: memberID, Full: full}, "registry:"+memberID, 0)
}

// RewriteRegistryFields queues the writing of every answered company's
// chosen registry values into its fields, then the lookups due.
func (q *Queue) RewriteRegistryFields(ctx context.Context, memberID string) error {
	return q.lookUp(ctx, RegistryPayload{MemberID: memberID, Rewrite: true}, "registry-rewrite:"+memberID, 0)
}

func (q *Queue) lookUp(ctx context.Context, p RegistryPayload, id string, in time.Duration) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	t := asynq.NewTask(TypeRegistry, b, asynq.Queue(QueueLow), asynq.TaskID(id), asynq.ProcessIn(in),
		asynq.MaxRetry(5), asynq.Timeout(registryRunFor+5*time.Minute))
	if _, err := q.Client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue registry lookups: %w", err)
	}
	return nil
}

// handleRegistry runs a portal's registry lookups while companies are
// due, within registryRunFor; the rest, or a registry that is down or over
// its budget, goes on in a later task ("registry-next:"). A refused key
// or a missing one stops lookups until the admin changes the settings;
// the settings page shows why.
func (w *Worker) handleRegistry(ctx context.Context, t *asynq.Task) error {
	var p RegistryPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.MemberID == "" {
		return fmt.Errorf("registry payload: %v: %w", err, asynq.SkipRetry)
	}
	if w.Registry == nil || w.Providers == nil {
		return nil
	}
	if _, err := w.activePortal(ctx, p.MemberID, false); err != nil {
		return err
	}
	rs, err := w.Store.RegistrySettings(ctx, p.MemberID)
	if err != nil || !rs.Enabled {
		return err
	}
	run := app.RegistryRun{At: w.now()}
	provider, err := w.Providers.For(rs.Key)
	if err != nil {
		run.Problem = app.RegistryNoKey
		return w.Store.SetRegistryRun(ctx, p.MemberID, run)
	}
	if p.Full {
		changed, _, err := w.Registry.ReadTaxIDs(ctx, p.MemberID)
		if err != nil {
			return wrapReauth(err)
		}
		// Companies whose tax ID changed have lost their registry facts.
		if err := w.Registry.ReclassifyCompanies(ctx, p.MemberID, changed, (*segment.Rules).UsesRegistry); err != nil {
			return wrapReauth(err)
		}
	}
	defer w.kickActions(ctx, p.MemberID)
	if p.Rewrite {
		n, err := w.Registry.WriteRegistryFields(ctx, p.MemberID, rs.WriteBack)
		if err != nil {
			return wrapReauth(err)
		}
		run.Written += n
	}
	until := w.now().Add(registryRunFor)
	for {
		st, err := w.Registry.Enrich(ctx, p.MemberID, provider, engine.EnrichOptions{MaxLookups: registryChunk, WriteBack: rs.WriteBack,
			RetryAfter: w.RegistryRetry})
		run.Asked += st.Asked
		run.Found += st.Found
		run.NotFound += st.NotFound
		run.Changed += st.Changed
		run.Written += st.Written
		run.Remaining = st.Due - st.Asked
		switch {
		case errors.Is(err, registry.ErrUnauthorized):
			run.Problem = app.RegistryKeyRefused
			w.Log.Warn("registry key refused", "portal", p.MemberID, "error", err)
			return w.Store.SetRegistryRun(ctx, p.MemberID, run)
		case err != nil:
			_ = w.Store.SetRegistryRun(ctx, p.MemberID, run)
			return wrapReauth(err)
		}
		next := time.Duration(-1)
		switch {
		case st.RetryIn > 0:
			next = st.RetryIn
			if st.Unavailable > 0 {
				run.Problem = app.RegistryDown
			}
		case st.More && w.now().After(until):
			next = 0
		case st.More:
			continue
		}
		if next >= 0 && w.Queue != nil {
			run.Next = w.now().Add(next)
			if err := w.Queue.lookUp(ctx, RegistryPayload{MemberID: p.MemberID}, "registry-next:"+p.MemberID, next); err != nil {
				return err
			}
		}
		return w.Store.SetRegistryRun(ctx, p.MemberID, run)
	}
}

// RegistryProviders gives each portal its registry provider: the GUS BIR
// client for its key (or the operator's), behind a cache every portal
// shares (registry data is public) and a request budget per key (the
// registry's limits are per key).
type RegistryProviders struct {
	Redis redis.UniversalClient
	// Endpoint is the GUS BIR service; default gus.ProductionURL.
	Endpoint string
	// DefaultKey is used for portals without a key of their own; "" for
	// none (then such a portal's lookups stop with app.RegistryNoKey).
	DefaultKey string
	// HTTP sends the requests; default gus's.
	HTTP *http.Client
	// Limit is each key's budget; default registry.DefaultLimit().
	Limit redis_rate.Limit
	// MaxWait bounds a lookup's wait for the budget (default 20 s): past
	// it the run gives its worker back and goes on later.
	MaxWait time.Duration

	mu    sync.Mutex
	byKey map[string]*registry.Cached
}

// For is the provider for a portal whose own key is key ("" for the
// default one).
func (r *RegistryProviders) For(key string) (registry.Provider, error) {
	if key == "" {
		key = r.DefaultKey
	}
	if key == "" {
		return nil, errors.New("registry: no API key")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.byKey[key]; p != nil {
		return p, nil
	}
	client, err := gus.New(gus.Config{Endpoint: r.Endpoint, Key: key, HTTP: r.HTTP})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(key))
	maxWait := r.MaxWait
	if maxWait <= 0 {
		maxWait = 20 * time.Second
	}
	cached, err := registry.NewCached(client, registry.CacheConfig{Redis: r.Redis, KeyPrefix: "seg:registry:",
		BudgetKey: "seg:registry:budget:" + hex.EncodeToString(sum[:8]), Limit: r.Limit, MaxWait: maxWait})
	if err != nil {
		return nil, err
	}
	if r.byKey == nil {
		r.byKey = map[string]*registry.Cached{}
	}
	r.byKey[key] = cached
	return cached, nil
}
