package app

import "time"

// PortalState is where a portal is in its life with the app.
type PortalState string

const (
	StateInstalling  PortalState = "installing"   // tokens stored, setup not finished
	StateActive      PortalState = "active"       // setup done; events are processed
	StateNeedsReauth PortalState = "needs_reauth" // tokens died; an admin must open the app
	StateUninstalled PortalState = "uninstalled"  // the app was removed from the portal
)

// Portal is one Bitrix24 portal that installed the app, keyed by member_id.
// Its endpoints come from the OAuth server, never from a request.
type Portal struct {
	MemberID       string      `json:"member_id"`
	Domain         string      `json:"domain"`
	ClientEndpoint string      `json:"client_endpoint"`
	ServerEndpoint string      `json:"server_endpoint"`
	Scope          string      `json:"scope"`
	Status         string      `json:"status"`  // L, F, D, T, P from the OAuth server / app.info
	License        string      `json:"license"` // app.info LICENSE_FAMILY, e.g. "ent"
	Lang           string      `json:"lang"`
	InstalledBy    int64       `json:"installed_by"`
	AppVersion     int         `json:"app_version"`
	AppID          string      `json:"app_id"` // app.info ID: tells our app's tokens from other apps' on the portal
	State          PortalState `json:"state"`
	StateReason    string      `json:"state_reason,omitempty"`
	Setup          SetupStatus `json:"setup"`
	// After a confirmed uninstall: when it was, when the data is purged
	// (zero once purged or reinstalled), when it was purged.
	UninstalledAt time.Time `json:"uninstalled_at,omitzero"`
	PurgeAt       time.Time `json:"purge_at,omitzero"`
	PurgedAt      time.Time `json:"purged_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// SetupStatus is the progress of the install-time setup job, shown on the
// install page.
type SetupStatus struct {
	Phase    string    `json:"phase"` // pending, running, done, failed
	Step     string    `json:"step,omitempty"`
	Version  string    `json:"version,omitempty"` // the app version it ran for, after an update
	Error    string    `json:"error,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
}
