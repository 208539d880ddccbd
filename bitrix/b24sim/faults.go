package b24sim

import "net/http"

// STUB — to be replaced by fault injection and portal rename.
type faultState struct{}

func (p *Portal) injectFault(w http.ResponseWriter, r *http.Request, entry *Request) bool {
	return false
}
