package bitrix

import (
	"context"
	"errors"
	"fmt"
)

// The application's own methods (scope basic): app.info, event.*,
// placement.*, profile.

// AppInfo is app.info's answer (api-reference/common/system/app-info.md).
type AppInfo struct {
	ID            ID     `json:"ID"`
	Code          string `json:"CODE"`
	Version       int    `json:"VERSION"`
	Status        string `json:"STATUS"`
	Installed     bool   `json:"INSTALLED"`
	LicenseFamily string `json:"LICENSE_FAMILY"`
	LanguageID    string `json:"LANGUAGE_ID"`
}

// App is the application's methods about itself.
var App app

type app struct{}

// Info is app.info: the application as the token's portal has it.
func (app) Info(name string) Command { return Command{Name: name, Method: "app.info"} }

// EventHandler is one row of event.get.
type EventHandler struct {
	Event   string `json:"event"`
	Handler string `json:"handler"`
}

// Events are event.get, event.bind, event.unbind (api-reference/events/).
var Events events

type events struct{}

// Get lists the application's bound handlers.
func (events) Get(name string) Command { return Command{Name: name, Method: "event.get"} }

// Bind sends event to handler.
func (events) Bind(name, event, handler string) Command {
	return Command{Name: name, Method: "event.bind", Params: map[string]any{"event": event, "handler": handler}}
}

// Unbind stops sending event to handler.
func (events) Unbind(name, event, handler string) Command {
	return Command{Name: name, Method: "event.unbind", Params: map[string]any{"event": event, "handler": handler}}
}

// PlacementHandler is one row of placement.get.
type PlacementHandler struct {
	Placement string `json:"placement"`
	Handler   string `json:"handler"`
}

// Placements are placement.get and placement.bind (api-reference/widgets/).
var Placements placements

type placements struct{}

// Get lists the application's placements.
func (placements) Get(name string) Command { return Command{Name: name, Method: "placement.get"} }

// Bind shows handler at a placement (a card tab), titled per language.
func (placements) Bind(name, placement, handler string, titles map[string]string) Command {
	langs := map[string]any{}
	for lang, title := range titles {
		langs[lang] = map[string]string{"TITLE": title}
	}
	return Command{Name: name, Method: "placement.bind", Params: map[string]any{
		"PLACEMENT": placement, "HANDLER": handler, "TITLE": titles["en"], "LANG_ALL": langs}}
}

// UserProfile is profile's answer: who the token's user is.
type UserProfile struct {
	ID       ID     `json:"ID"`
	Admin    Bool   `json:"ADMIN"`
	Name     string `json:"NAME"`
	LastName string `json:"LAST_NAME"`
}

// Users is the token's user's own methods.
var Users users

type users struct{}

// Profile is profile: the token's user, and whether they are an admin.
func (users) Profile(name string) Command { return Command{Name: name, Method: "profile"} }

// Info reads app.info with the portal's grant, or the user's (AsUser).
func (p *PortalClient) Info(ctx context.Context) (AppInfo, error) {
	var info AppInfo
	_, err := p.Do(ctx, App.Info("info"), &info)
	if err == nil && info.ID == 0 {
		err = errors.New("bitrix: app.info answer has no app ID")
	}
	return info, err
}

// Profile reads profile with the portal's grant, or the user's (AsUser).
func (p *PortalClient) Profile(ctx context.Context) (UserProfile, error) {
	var prof UserProfile
	_, err := p.Do(ctx, Users.Profile("profile"), &prof)
	if err == nil && prof.ID <= 0 {
		err = errors.New("bitrix: profile answer has no user ID")
	}
	return prof, err
}

// Do runs one command as a call of its own and decodes its result into out
// (skipped when nil).
func (p *PortalClient) Do(ctx context.Context, cmd Command, out any) (*Response, error) {
	return p.Call(ctx, cmd.Method, cmd.Params, out)
}

// ItemRef names one CRM record: its entity and ID.
type ItemRef struct {
	Entity Entity
	ID     int64
}

// Item is crm.item.get of one record (api-reference/crm/universal/crm-item-get.md).
func (r ItemRef) Item(name string) Command {
	return Command{Name: name, Method: "crm.item.get", Params: map[string]any{"entityTypeId": r.Entity.TypeID(), "id": r.ID}}
}

// Holder is what a portal says about an access token it sent us.
type Holder struct {
	User  UserProfile
	AppID string // the application the token was issued to (app.info ID)
	// Record is the portal's answer to reading the record asked about with
	// the token: nil when the user may read it, the *APIError otherwise
	// (ACCESS_DENIED, NOT_FOUND).
	Record error
}

// WhoHolds asks the portal, in one request, who holds this handle's token
// (profile), which application it is of (app.info) and, when rec is given,
// whether its user may read that record (crm.item.get): a sign-in costs the
// portal one request of its budget, not three. Meant for AsUser handles.
func (p *PortalClient) WhoHolds(ctx context.Context, rec *ItemRef) (Holder, error) {
	cmds := []Command{Users.Profile("profile"), App.Info("info")}
	if rec != nil {
		cmds = append(cmds, rec.Item("record"))
	}
	res, _, err := p.Batch(ctx, cmds, false)
	if err != nil {
		return Holder{}, err
	}
	var h Holder
	var info AppInfo
	if err := res.Decode("profile", &h.User); err != nil {
		return Holder{}, fmt.Errorf("bitrix: profile: %w", err)
	}
	if err := res.Decode("info", &info); err != nil {
		return Holder{}, fmt.Errorf("bitrix: app.info: %w", err)
	}
	if h.User.ID <= 0 || info.ID == 0 {
		return Holder{}, errors.New("bitrix: profile or app.info answered without an ID")
	}
	h.AppID = info.ID.String()
	if rec != nil {
		h.Record = res.Err("record")
	}
	return h, nil
}

// CanRead asks the portal whether this handle's user may read rec
// (crm.item.get with their token): nil, or the portal's refusal.
func (p *PortalClient) CanRead(ctx context.Context, rec ItemRef) error {
	_, err := p.Do(ctx, rec.Item("record"), nil)
	return err
}
