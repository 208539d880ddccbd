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
	_, lang, err := p.placementFrame(placement, userID)
	if err != nil {
		return nil, err
	}
	return p.postFrame(ctx, nil, target, userID, lang, placement, options)
}

// placementFrame finds the handler bound to placement and the portal's
// language, or says why userID cannot open it.
func (p *Portal) placementFrame(placement string, userID int) (handler, lang string, err error) {
	p.mu.Lock()
	for _, pb := range p.events.placements {
		if pb.placement == placement {
			handler = pb.handler
			break
		}
	}
	installed, lang := p.events.installed, p.events.lang
	u := p.users[userID]
	p.mu.Unlock()
	switch {
	case u == nil:
		return "", "", fmt.Errorf("b24sim: open placement: no user %d", userID)
	case !installed:
		return "", "", ErrNotInstalled
	case handler == "":
		return "", "", fmt.Errorf("b24sim: no handler bound to placement %s", placement)
	}
	return handler, lang, nil
}
