package b24sim

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// OpenPlacementAt is what opening a bound placement POSTs (see
// OpenPlacement), sent to target instead of the bound handler, with
// PLACEMENT_OPTIONS exactly as given: a browser test captures the POST to
// replay it, and may send options Bitrix24 sends on bad days ("undefined",
// "{}"). It fails, like OpenPlacement, when the placement is not bound or
// the app is not installed.
func (p *Portal) OpenPlacementAt(ctx context.Context, target, placement string, userID int, options string) (*http.Response, error) {
	placement = strings.ToUpper(placement)
	p.mu.Lock()
	bound := false
	for _, pb := range p.events.placements {
		bound = bound || pb.placement == placement
	}
	installed, lang := p.events.installed, p.events.lang
	u := p.users[userID]
	p.mu.Unlock()
	switch {
	case u == nil:
		return nil, fmt.Errorf("b24sim: open placement: no user %d", userID)
	case !installed:
		return nil, ErrNotInstalled
	case !bound:
		return nil, fmt.Errorf("b24sim: no handler bound to placement %s", placement)
	}
	return p.postFrame(ctx, nil, target, userID, lang, placement, options)
}
