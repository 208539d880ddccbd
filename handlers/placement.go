package handlers

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// placementEntities maps the CRM card tabs the app binds (app.json) to the
// record type the tab shows.
var placementEntities = map[string]string{
	"CRM_CONTACT_DETAIL_TAB": "contact",
	"CRM_COMPANY_DETAIL_TAB": "company",
	"CRM_DEAL_DETAIL_TAB":    "deal",
}

// Placement serves POST /b24/placement: the card tab that shows a record's
// segment and why. The record is named by PLACEMENT and PLACEMENT_OPTIONS
// ({"ID":"17"}); the page starts a session like the settings page and asks
// the API, which checks the user. Options it cannot read leave the record
// empty, and the page says so.
func (p *Page) Placement(c *gin.Context) {
	p.serve(c, p.card, func(d *pageData) {
		d.Placement = strings.ToUpper(strings.TrimSpace(c.PostForm("PLACEMENT")))
		d.Entity = placementEntities[d.Placement]
		d.RecordID = placementRecordID(c.PostForm("PLACEMENT_OPTIONS"))
	})
}

// placementRecordID reads ID from PLACEMENT_OPTIONS, a JSON object whose
// ID Bitrix24 sends as a string ("17") or a number; 0 when there is none.
// Telephony placements send the literal "undefined", which is not JSON.
func placementRecordID(options string) int64 {
	var o struct {
		ID json.RawMessage `json:"ID"`
	}
	if json.Unmarshal([]byte(options), &o) != nil || len(o.ID) == 0 {
		return 0
	}
	raw := string(o.ID)
	if s, err := strconv.Unquote(raw); err == nil {
		raw = s
	}
	id, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}
