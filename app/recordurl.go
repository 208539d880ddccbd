package app

import (
	"net/url"
	"strconv"
)

// RecordURL links to a record's card in the portal, e.g.
// https://acme.bitrix24.com/crm/deal/details/5/. The host is the portal's
// stored endpoint (as the OAuth server reported it), else its domain; ""
// when neither is known.
func (p *Portal) RecordURL(entity string, id int64) string {
	origin := ""
	if u, err := url.Parse(p.ClientEndpoint); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
		origin = u.Scheme + "://" + u.Host
	} else if p.Domain != "" {
		origin = "https://" + p.Domain
	}
	if origin == "" {
		return ""
	}
	return origin + "/crm/" + entity + "/details/" + strconv.FormatInt(id, 10) + "/"
}
