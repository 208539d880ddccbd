package bitrix

import "time"

// Activities are the timeline's activities — calls, e-mails, meetings,
// tasks — read with crm.activity.list
// (api-reference/crm/timeline/activities/activity-base/crm-activity-list.md):
// UPPER_CASE fields, every value a string, 50 a page. Its default order is
// START_TIME, so every read here orders by ID itself.
var Activities activities

type activities struct{}

// ActivityFields are the fields the app reads of an activity: whose it is,
// what kind, which way, whether it is done, and when.
var ActivityFields = []string{"ID", "OWNER_TYPE_ID", "OWNER_ID", "TYPE_ID", "DIRECTION", "COMPLETED", "START_TIME", "CREATED"}

// ActivityOwners are the owner types (crm.enum.ownertype) whose activities
// the app reads: contacts', companies' and deals'.
var ActivityOwners = []int{EntityContact.TypeID(), EntityCompany.TypeID(), EntityDeal.TypeID()}

// ModifiedSince is the keyset scan of the ids of the ActivityOwners'
// activities changed since t (LAST_UPDATED).
func (a activities) ModifiedSince(t time.Time) Lister {
	return a.Lister([]string{"ID"}, map[string]any{">=LAST_UPDATED": t.Format(time.RFC3339), "@OWNER_TYPE_ID": ActivityOwners})
}

// Lister is the keyset scan of crm.activity.list by ID.
func (activities) Lister(select_ []string, filter map[string]any) Lister {
	return Lister{Method: "crm.activity.list", Params: selectParams(select_), Filter: filter, IDField: "ID"}
}

// List is one page of crm.activity.list in ID order (@ID for a list of ids).
func (activities) List(name string, select_ []string, filter map[string]any, start int) Command {
	return Command{Name: name, Method: "crm.activity.list", Params: listParams(select_, filter, map[string]string{"ID": "ASC"}, start)}
}

// Activity is a crm.activity.list row with the ActivityFields.
type Activity struct {
	ID        ID   `json:"ID"`
	OwnerType ID   `json:"OWNER_TYPE_ID"` // crm.enum.ownertype: Entity.TypeID of its owner
	OwnerID   ID   `json:"OWNER_ID"`
	TypeID    ID   `json:"TYPE_ID"`   // crm.enum.activitytype: 1 meeting, 2 call, 3 task, 4 e-mail
	Direction ID   `json:"DIRECTION"` // crm.enum.activitydirection: 0 none, 1 incoming, 2 outgoing
	Completed Bool `json:"COMPLETED"`
	Start     Time `json:"START_TIME"`
	Created   Time `json:"CREATED"`
}

// OwnerEntity is the entity whose timeline holds the activity; "" for
// one the app does not read (a lead's, a smart process's).
func (a Activity) OwnerEntity() Entity {
	for _, e := range []Entity{EntityContact, EntityCompany, EntityDeal} {
		if int(a.OwnerType) == e.TypeID() {
			return e
		}
	}
	return ""
}
