package b24sim

import "net/http"

// STUB — to be replaced by the OAuth server (tokens, rotation, expiry).
type authState struct{}

func (p *Portal) initAuth() {}

func (p *Portal) authenticate(token string) (*User, *Error) {
	if token == "" {
		return nil, errorf(401, "NO_AUTH_FOUND", "Wrong authorization data")
	}
	return p.users[1], nil
}

func (p *Portal) serveOAuth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "not implemented"})
}
