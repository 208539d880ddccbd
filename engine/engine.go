package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
)

// Classifier is the classification engine: it re-reads the
// changed records in one batch, refreshes the mirror, evaluates the portal's
// rules on facts from the mirror and writes only the difference in batches
// of 50 (design.md §2); it also runs full syncs and backfills.
type Classifier struct {
	Store  *app.Store
	Mirror *app.Mirror
	Bitrix *bitrix.Client
	// FieldName is the Segment list field, e.g. UF_CRM_SEGMENTOR.
	FieldName string
	Clock     func() time.Time
	Log       *slog.Logger
	// RFMMaxAge is how long live classification reuses a portal's RFM
	// quintiles before rebuilding them from the mirror; default 10 minutes.
	RFMMaxAge time.Duration
	// InDoubtWait is how long after sending a write batch whose answer never
	// came the engine waits before re-reading its records (see journal.go);
	// default 30 s, negative for none.
	InDoubtWait time.Duration
	// ActionsSettle is how long a batch of actions short of 50 commands
	// waits, once, for the rest of a burst; default 1 s, negative for none.
	ActionsSettle time.Duration
	// ResumeWithin is how recent an interrupted backfill's sync must be for
	// the next run to resume from its checkpoint instead of syncing again;
	// default one hour.
	ResumeWithin time.Duration
	// Sleep waits (default: a timer); tests inject it with Clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Exclusive, when set, holds off the portal's live changes until
	// release (the jobs' changes lock): a backfill takes it around each
	// write batch, so that no live change lands between its check of what
	// changed since its snapshot and its write (backfill.go, fresher).
	Exclusive func(ctx context.Context, memberID string) (release func(), err error)
	// RegistryChanged, when set, is told that companies' tax IDs changed,
	// so that the registry is asked about them (the jobs queue a lookup
	// run).
	RegistryChanged func(ctx context.Context, memberID string)

	mu    sync.Mutex
	cache map[string]*portalRules
}

func (c *Classifier) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

func (c *Classifier) fieldName() string {
	if c.FieldName != "" {
		return c.FieldName
	}
	return "UF_CRM_SEGMENTOR"
}

func (c *Classifier) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// portalRules is a portal's compiled config version, cached until a new
// version is saved.
type portalRules struct {
	version int
	since   time.Time
	cfg     segment.Config
	rules   *segment.Rules
	rows    bool // product_groups is used: mirror product sections

	rfm      map[segment.Entity]*segment.RFM
	rfmBuilt time.Time
	// rfmRefreshing: a background rebuild of rfm is under way (ensureRFM).
	rfmRefreshing bool
}

func (pr *portalRules) syncOptions() SyncOptions {
	o := SyncOptions{Fields: map[segment.Entity][]string{}, Rows: pr.rows}
	for _, e := range []segment.Entity{segment.EntityContact, segment.EntityCompany, segment.EntityDeal} {
		o.Fields[e] = pr.rules.Fields(e)
	}
	return o
}

// rulesFor returns the portal's compiled rules, nil when no config is saved.
func (c *Classifier) rulesFor(ctx context.Context, memberID string) (*portalRules, error) {
	sc, err := c.Store.Config(ctx, memberID)
	if err != nil {
		return nil, err
	}
	if sc.Version == 0 || len(sc.Config) == 0 {
		return nil, nil
	}
	c.mu.Lock()
	if pr := c.cache[memberID]; pr != nil && pr.version == sc.Version {
		c.mu.Unlock()
		return pr, nil
	}
	c.mu.Unlock()
	cfg, err := segment.ParseSavedConfig(sc.Config)
	if err != nil {
		return nil, fmt.Errorf("config %s v%d: %w", memberID, sc.Version, err)
	}
	rules, err := segment.Compile(cfg)
	if err != nil {
		return nil, fmt.Errorf("config %s v%d: %w", memberID, sc.Version, err)
	}
	pr := &portalRules{version: sc.Version, since: sc.SavedAt, cfg: cfg, rules: rules, rows: usesFact(cfg, "product_groups")}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]*portalRules{}
	}
	c.cache[memberID] = pr
	c.mu.Unlock()
	return pr, nil
}

func usesFact(cfg segment.Config, fact string) bool {
	var walk func(*segment.Condition) bool
	walk = func(cd *segment.Condition) bool {
		if cd == nil {
			return false
		}
		if cd.Fact == fact {
			return true
		}
		for i := range cd.All {
			if walk(&cd.All[i]) {
				return true
			}
		}
		for i := range cd.Any {
			if walk(&cd.Any[i]) {
				return true
			}
		}
		return walk(cd.Not)
	}
	for _, s := range cfg.Schemes {
		for _, seg := range s.Segments {
			if walk(seg.When) {
				return true
			}
		}
	}
	return false
}

// parts is what the engine's pieces share, resolved from the Classifier's
// fields.
type parts struct {
	store  *app.Store
	mirror *app.Mirror
	bitrix *bitrix.Client
	field  string // the Segment field, UF_CRM_…
	clock  func() time.Time
	log    *slog.Logger
}

func (p parts) now() time.Time { return p.clock() }

func (c *Classifier) parts() parts {
	return parts{store: c.Store, mirror: c.Mirror, bitrix: c.Bitrix, field: c.fieldName(), clock: c.now, log: c.log()}
}

// reader refreshes the mirror from the portal: a change's re-read of its
// records (with their product rows and products), and the storing of a
// full sync.
type reader struct{ parts }

func (c *Classifier) reader() *reader { return &reader{c.parts()} }

// writer writes plans back to the portal, 50 commands a request, keeps the
// write journal and settles what a dead run left in doubt, and keeps the
// Segment field's items in step with the config.
type writer struct {
	parts
	inDoubt time.Duration
	sleep   func(ctx context.Context, d time.Duration) error
}

func (c *Classifier) writer() *writer {
	return &writer{parts: c.parts(), inDoubt: c.inDoubtWait(), sleep: c.sleep}
}

// segmentName is the name of a segment of e in these rules; "" when they
// have none by that key.
func (pr *portalRules) segmentName(e segment.Entity, key string) string {
	if key == "" {
		return ""
	}
	for _, s := range pr.cfg.Schemes {
		if s.Entity != e {
			continue
		}
		for _, sg := range s.All() {
			if sg.Key == key {
				return sg.Name
			}
		}
	}
	return ""
}
