package bitrix

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Payloads from the protocol notes (docs examples and the PHP SDK's
// recorded fixtures).
const (
	installQueryDocs = "DOMAIN=portal.bitrix24.com&PROTOCOL=1&LANG=en&APP_SID=dd8cec11e347088fe87c44870a9f1dba"
	installBodyDocs  = "AUTH_ID=ahodg4h37n89vo17gbkgq0x1l825nnb5&AUTH_EXPIRES=3600&REFRESH_ID=2lg086mxijlpvwh0h7r4nl19udm4try5" +
		"&SERVER_ENDPOINT=https%3A%2F%2Foauth.bitrix.info%2Frest%2F&APPLICATION_TOKEN=ec1b2074a9d3f5c81b6e40d27a95cf38" +
		"&APPLICATION_SCOPE=crm%2Centity%2Cim%2Ctask&member_id=a223c6b3710f85df22e9377d6c4f7553&status=F&PLACEMENT=DEFAULT"
	installQuerySDK = "DOMAIN=bitrix24-php-sdk-playground.bitrix24.com&PROTOCOL=1&LANG=en&APP_SID=926d17365a87fbb35bace60dcc8f08cf"
	installBodySDK  = "AUTH_ID=4991e866a9b2c3d4&AUTH_EXPIRES=3600&REFRESH_ID=39101067a9b2c3d4&member_id=010b6886ebc205e43ae65000ee00addb" +
		"&status=L&PLACEMENT=DEFAULT&PLACEMENT_OPTIONS=%7B%22any%22%3A%2228%5C%2F%22%7D"
	placementBody = "AUTH_ID=ahodg4h37n89vo17gbkgq0x1l825nnb5&AUTH_EXPIRES=3600&REFRESH_ID=2lg086mxijlpvwh0h7r4nl19udm4try5" +
		"&member_id=a223c6b3710f85df22e9377d6c4f7553&status=P&PLACEMENT=CRM_DEAL_DETAIL_TAB" +
		"&PLACEMENT_OPTIONS=%7B%22ID%22%3A%228061%22%2C%22URI%22%3A%22%2Fcrm%2Fdeal%2Fdetails%2F8061%2F%22%7D"

	eventContactAddSDK = "event=ONCRMCONTACTADD&event_handler_id=58&data%5BFIELDS%5D%5BID%5D=134806&ts=1727018926" +
		"&auth%5Baccess_token%5D=be45f066a9b2&auth%5Bexpires%5D=1727022526&auth%5Bexpires_in%5D=3600" +
		"&auth%5Bscope%5D=crm%2Cplacement%2Cuser_brief&auth%5Bdomain%5D=bitrix24-php-sdk-playground.bitrix24.com" +
		"&auth%5Bserver_endpoint%5D=https%3A%2F%2Foauth.bitrix.info%2Frest%2F&auth%5Bstatus%5D=L" +
		"&auth%5Bclient_endpoint%5D=https%3A%2F%2Fbitrix24-php-sdk-playground.bitrix24.com%2Frest%2F" +
		"&auth%5Bmember_id%5D=010b6886ebc205e43ae65000ee00addb&auth%5Buser_id%5D=1&auth%5Bapplication_token%5D=51856fefc120afa4b628cc82d3935cce"
	eventDealUpdateDocs = "event=ONCRMDEALUPDATE&event_handler_id=201&data[FIELDS][ID]=759&ts=1736405807" +
		"&auth[access_token]=ydtj8pho532wydb5&auth[expires]=1736409407&auth[expires_in]=3600&auth[scope]=crm" +
		"&auth[domain]=some-domain.bitrix24.com&auth[server_endpoint]=https://oauth.bitrix.info/rest/&auth[status]=F" +
		"&auth[client_endpoint]=https://some-domain.bitrix24.com/rest/&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553" +
		"&auth[user_id]=1&auth[application_token]=51856fefc120afa4b628cc82d3935cce"
	eventDealUpdateRobot = "event=ONCRMDEALUPDATE&event_handler_id=201&data[FIELDS][ID]=760&ts=1736405807" +
		"&auth[domain]=some-domain.bitrix24.com&auth[client_endpoint]=https://some-domain.bitrix24.com/rest/" +
		"&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553&auth[application_token]=51856fefc120afa4b628cc82d3935cce"
	// api-reference/crm/requisites/events/on-crm-address-register.md
	eventAddressRegister = "event=onCrmAddressRegister&data[FIELDS][TYPE_ID]=1&data[FIELDS][ENTITY_TYPE_ID]=8" +
		"&data[FIELDS][ENTITY_ID]=1&data[FIELDS][ANCHOR_ID]=17192&data[FIELDS][ANCHOR_TYPE_ID]=3&ts=1466439714" +
		"&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553&auth[application_token]=51856fefc120afa4b628cc82d3935cce"
	eventMoveToCategory = "event=ONCRMDEALMOVETOCATEGORY&data[FIELDS][ID]=6675&data[FIELDS][CATEGORY_ID]=1" +
		"&data[FIELDS][STAGE_ID]=C1:NEW&ts=1736405807&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553" +
		"&auth[application_token]=51856fefc120afa4b628cc82d3935cce"
	eventAppInstall = "event=ONAPPINSTALL&event_handler_id=1&data[VERSION]=1&data[ACTIVE]=Y&data[INSTALLED]=Y" +
		"&data[LANGUAGE_ID]=en&ts=1762089975&auth[access_token]=at1&auth[expires]=1762093575&auth[expires_in]=3600" +
		"&auth[scope]=crm,placement,user_brief&auth[domain]=test.bitrix24.com&auth[server_endpoint]=https://oauth.bitrix.info/rest/" +
		"&auth[status]=L&auth[client_endpoint]=https://test.bitrix24.com/rest/&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553" +
		"&auth[user_id]=1&auth[refresh_token]=rt1&auth[application_token]=51856fefc120afa4b628cc82d3935cce"
	eventAppUpdate = "event=ONAPPUPDATE&data[VERSION]=4&data[PREVIOUS_VERSION]=3&data[LANGUAGE_ID]=de&ts=1762089975" +
		"&auth[access_token]=at2&auth[refresh_token]=rt2&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553" +
		"&auth[application_token]=0000aaaa1111bbbb2222cccc3333dddd"
	eventAppUninstall = "event=ONAPPUNINSTALL&data[LANGUAGE_ID]=de&data[CLEAN]=1&ts=1466439714" +
		"&auth[domain]=test.bitrix24.com&auth[server_endpoint]=https://oauth.bitrix.info/rest/" +
		"&auth[client_endpoint]=https://test.bitrix24.com/rest/&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553" +
		"&auth[application_token]=51856fefc120afa4b628cc82d3935cce"
	eventOffline = "event=ONOFFLINEEVENT&ts=1762089975&auth[access_token]=at3&auth[refresh_token]=rt3" +
		"&auth[member_id]=a223c6b3710f85df22e9377d6c4f7553&auth[application_token]=51856fefc120afa4b628cc82d3935cce"
)

func mustQuery(t testing.TB, s string) url.Values {
	v, err := url.ParseQuery(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestParseInstall(t *testing.T) {
	f, err := ParseInstall(mustQuery(t, installQueryDocs), mustQuery(t, installBodyDocs))
	if err != nil {
		t.Fatal(err)
	}
	want := &FrameRequest{
		Domain: "portal.bitrix24.com", HTTPS: true, Lang: "en", AppSID: "dd8cec11e347088fe87c44870a9f1dba",
		AuthID: "ahodg4h37n89vo17gbkgq0x1l825nnb5", AuthExpires: 3600, RefreshID: "2lg086mxijlpvwh0h7r4nl19udm4try5",
		ServerEndpoint: "https://oauth.bitrix.info/rest/", ApplicationToken: "ec1b2074a9d3f5c81b6e40d27a95cf38",
		Scope: []string{"crm", "entity", "im", "task"}, MemberID: "a223c6b3710f85df22e9377d6c4f7553", Status: "F", Placement: "DEFAULT",
	}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("docs install (-want +got):\n%s", d)
	}

	// Older portals send no SERVER_ENDPOINT, APPLICATION_TOKEN, APPLICATION_SCOPE.
	f, err = ParseInstall(mustQuery(t, installQuerySDK), mustQuery(t, installBodySDK))
	if err != nil {
		t.Fatal(err)
	}
	if f.ApplicationToken != "" || f.ServerEndpoint != "" || f.Scope != nil || f.Status != "L" {
		t.Errorf("sdk install = %+v", f)
	}
	if d := cmp.Diff(map[string]any{"any": "28/"}, f.PlacementOptions); d != "" {
		t.Errorf("options: %s", d)
	}
}

func TestParseInstallRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/b24/install?"+installQueryDocs, strings.NewReader(installBodyDocs))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	f, err := ParseInstallRequest(r)
	if err != nil || f.Domain != "portal.bitrix24.com" || f.RefreshID == "" {
		t.Errorf("f = %+v, %v", f, err)
	}
	big := httptest.NewRequest(http.MethodPost, "/b24/install", strings.NewReader("AUTH_ID="+strings.Repeat("a", 2<<20)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ParseInstallRequest(big); err == nil {
		t.Error("2 MiB body accepted")
	}
	if _, err := ParseInstallRequest(nil); err == nil {
		t.Error("nil request accepted")
	}
}

func TestParseFrameErrors(t *testing.T) {
	tests := []struct {
		name, query, body string
		placement         bool
		fields            []string
	}{
		{"empty", "", "", false, []string{"member_id", "AUTH_ID", "REFRESH_ID"}},
		{"bad member", installQueryDocs, strings.Replace(installBodyDocs, "member_id=a223", "member_id=a2%3C3", 1), false, []string{"member_id"}},
		{"bad protocol", "PROTOCOL=2&DOMAIN=x.bitrix24.com", installBodyDocs, false, []string{"PROTOCOL"}},
		{"bad domain", "DOMAIN=https://evil/x", installBodyDocs, false, []string{"DOMAIN"}},
		{"bad expires", installQueryDocs, strings.Replace(installBodyDocs, "AUTH_EXPIRES=3600", "AUTH_EXPIRES=soon", 1), false, []string{"AUTH_EXPIRES"}},
		{"bad server endpoint", installQueryDocs, strings.Replace(installBodyDocs, "SERVER_ENDPOINT=https", "SERVER_ENDPOINT=ftp", 1), false, []string{"SERVER_ENDPOINT"}},
		{"token with space", installQueryDocs, strings.Replace(installBodyDocs, "AUTH_ID=ahodg", "AUTH_ID=a+hodg", 1), false, []string{"AUTH_ID"}},
		{"installer with other placement", installQueryDocs, strings.Replace(installBodyDocs, "PLACEMENT=DEFAULT", "PLACEMENT=CRM_DEAL_DETAIL_TAB", 1), false, []string{"PLACEMENT"}},
		{"options not json", installQueryDocs, placementBody + "x", true, []string{"PLACEMENT_OPTIONS"}},
		{"options array", installQueryDocs, strings.Replace(placementBody, "PLACEMENT_OPTIONS=%7B", "PLACEMENT_OPTIONS=%5B1%5D%7B", 1), true, []string{"PLACEMENT_OPTIONS"}},
		{"placement missing", installQueryDocs, strings.Replace(placementBody, "PLACEMENT=CRM_DEAL_DETAIL_TAB", "", 1), true, []string{"PLACEMENT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := ParseInstall
			if tt.placement {
				parse = ParsePlacement
			}
			_, err := parse(mustQuery(t, tt.query), mustQuery(t, tt.body))
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want RequestError", err)
			}
			var got []string
			for _, p := range re.Problems {
				got = append(got, p.Field)
			}
			if d := cmp.Diff(tt.fields, got); d != "" {
				t.Errorf("fields (-want +got):\n%s\n%v", d, err)
			}
		})
	}
}

func TestParsePlacement(t *testing.T) {
	tests := []struct {
		name    string
		options string
		want    map[string]any
		id      ID
	}{
		{"card tab", `{"ID":"8061","URI":"/crm/deal/details/8061/"}`, map[string]any{"ID": "8061", "URI": "/crm/deal/details/8061/"}, 8061},
		{"numeric id", `{"ID":8061}`, nil, 8061},
		{"undefined", `undefined`, nil, 0},
		{"empty", ``, nil, 0},
		{"php empty", `[]`, map[string]any{}, 0},
		{"no id", `{"any":"28\/"}`, map[string]any{"any": "28/"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := mustQuery(t, placementBody)
			body.Set("PLACEMENT_OPTIONS", tt.options)
			f, err := ParsePlacement(mustQuery(t, installQueryDocs), body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				if d := cmp.Diff(tt.want, f.PlacementOptions); d != "" {
					t.Errorf("options: %s", d)
				}
			}
			if id, ok := f.PlacementID(); id != tt.id || ok != (tt.id != 0) {
				t.Errorf("PlacementID = %d, %v", id, ok)
			}
			if f.Placement != "CRM_DEAL_DETAIL_TAB" {
				t.Errorf("Placement = %q", f.Placement)
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/b24/placement?"+installQueryDocs, strings.NewReader(placementBody))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if f, err := ParsePlacementRequest(r); err != nil || f.MemberID != "a223c6b3710f85df22e9377d6c4f7553" {
		t.Errorf("request: %+v, %v", f, err)
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		check  func(t *testing.T, e *Event)
		entity string
		action string
	}{
		{"contact add (sdk fixture)", eventContactAddSDK, func(t *testing.T, e *Event) {
			if e.RecordID != 134806 || e.HandlerID != 58 || e.Time.Unix() != 1727018926 || e.Auth.UserID != 1 ||
				e.Auth.MemberID != "010b6886ebc205e43ae65000ee00addb" || e.Auth.Expires.Unix() != 1727022526 ||
				e.Auth.ClientEndpoint != "https://bitrix24-php-sdk-playground.bitrix24.com/rest/" || e.Data["FIELDS.ID"] != "134806" {
				t.Errorf("event = %+v", e)
			}
		}, "contact", "add"},
		{"deal update (docs)", eventDealUpdateDocs, func(t *testing.T, e *Event) {
			if e.RecordID != 759 || e.Auth.AccessToken == "" || e.Token() == nil || e.Token().Expiry.Unix() != 1736409407 {
				t.Errorf("event = %+v", e)
			}
		}, "deal", "update"},
		{"deal update by a robot: no token", eventDealUpdateRobot, func(t *testing.T, e *Event) {
			if e.Auth.AccessToken != "" || e.Token() != nil || e.RecordID != 760 {
				t.Errorf("event = %+v", e)
			}
		}, "deal", "update"},
		{"move to category", eventMoveToCategory, func(t *testing.T, e *Event) {
			if e.RecordID != 6675 || !e.HasCategory || e.CategoryID != 1 || e.StageID != "C1:NEW" {
				t.Errorf("event = %+v", e)
			}
		}, "deal", "movetocategory"},
		{"app install", eventAppInstall, func(t *testing.T, e *Event) {
			tok := e.Token()
			if e.Version != "1" || !e.Active || !e.Installed || e.LanguageID != "en" || tok == nil ||
				tok.RefreshToken != "rt1" || tok.ClientEndpoint != "https://test.bitrix24.com/rest/" || tok.Status != "L" {
				t.Errorf("event = %+v token = %+v", e, tok)
			}
		}, "", ""},
		{"app update", eventAppUpdate, func(t *testing.T, e *Event) {
			if e.Version != "4" || e.PreviousVersion != "3" || e.Auth.ApplicationToken != "0000aaaa1111bbbb2222cccc3333dddd" {
				t.Errorf("event = %+v", e)
			}
		}, "", ""},
		// api-reference/common/events/on-app-update.md: the versions are strings.
		{"app update (docs: \"2.1.0\")", strings.NewReplacer("data[VERSION]=4", "data[VERSION]=2.1.0",
			"data[PREVIOUS_VERSION]=3", "data[PREVIOUS_VERSION]=2.0.3").Replace(eventAppUpdate), func(t *testing.T, e *Event) {
			if e.Version != "2.1.0" || e.PreviousVersion != "2.0.3" || e.LanguageID != "de" {
				t.Errorf("event = %+v", e)
			}
		}, "", ""},
		{"app uninstall", eventAppUninstall, func(t *testing.T, e *Event) {
			if !e.Clean || e.Auth.AccessToken != "" || e.Time.Unix() != 1466439714 {
				t.Errorf("event = %+v", e)
			}
		}, "", ""},
		{"offline event", eventOffline, func(t *testing.T, e *Event) {
			if e.Auth.RefreshToken != "rt3" || len(e.Data) != 0 {
				t.Errorf("event = %+v", e)
			}
		}, "", ""},
		{"requisite delete (only its id)", strings.Replace(eventDealUpdateDocs, "ONCRMDEALUPDATE", "ONCRMREQUISITEDELETE", 1), func(t *testing.T, e *Event) {
			if e.RecordID != 759 {
				t.Errorf("event = %+v", e)
			}
		}, "requisite", "delete"},
		// An address names its requisite and anchor, and has no ID: the
		// requisite's addresses changed.
		{"address register (docs)", eventAddressRegister, func(t *testing.T, e *Event) {
			if e.Name != EventAddressRegister || e.RecordID != 1 || e.AddressOf != AddressOfRequisite || e.AnchorType != 3 || e.AnchorID != 17192 {
				t.Errorf("event = %+v", e)
			}
		}, "requisite", "update"},
		{"address unregister", strings.Replace(eventAddressRegister, "onCrmAddressRegister", "ONCRMADDRESSUNREGISTER", 1), func(t *testing.T, e *Event) {
			if e.RecordID != 1 {
				t.Errorf("event = %+v", e)
			}
		}, "requisite", "update"},
		{"a lead's address", strings.Replace(eventAddressRegister, "data[FIELDS][ENTITY_TYPE_ID]=8", "data[FIELDS][ENTITY_TYPE_ID]=1", 1), func(t *testing.T, e *Event) {
			if e.AddressOf != 1 {
				t.Errorf("event = %+v", e)
			}
		}, "lead", "update"},
		{"lower-case name", strings.Replace(eventDealUpdateDocs, "ONCRMDEALUPDATE", "OnCrmDealUpdate", 1), func(t *testing.T, e *Event) {
			if e.Name != EventDealUpdate {
				t.Errorf("name = %q", e.Name)
			}
		}, "deal", "update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEvent(mustQuery(t, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, e)
			if ent, act := e.Entity(); ent != tt.entity || act != tt.action {
				t.Errorf("Entity() = %q, %q", ent, act)
			}
		})
	}
}

func TestParseEventErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"empty", "", []string{"event", "auth[member_id]", "auth[application_token]"}},
		{"no record id", strings.Replace(eventDealUpdateDocs, "data[FIELDS][ID]=759", "", 1), []string{"data[FIELDS][ID]"}},
		{"zero record id", strings.Replace(eventDealUpdateDocs, "data[FIELDS][ID]=759", "data[FIELDS][ID]=0", 1), []string{"data[FIELDS][ID]"}},
		{"bad record id", strings.Replace(eventDealUpdateDocs, "data[FIELDS][ID]=759", "data[FIELDS][ID]=x", 1), []string{"data[FIELDS][ID]"}},
		{"no application token", strings.Replace(eventDealUpdateDocs, "&auth[application_token]=51856fefc120afa4b628cc82d3935cce", "", 1), []string{"auth[application_token]"}},
		{"bad ts", strings.Replace(eventDealUpdateDocs, "ts=1736405807", "ts=yesterday", 1), []string{"ts"}},
		{"bad event name", strings.Replace(eventDealUpdateDocs, "event=ONCRMDEALUPDATE", "event=ON CRM", 1), []string{"event"}},
		{"no category", strings.Replace(eventMoveToCategory, "&data[FIELDS][CATEGORY_ID]=1", "", 1), []string{"data[FIELDS][CATEGORY_ID]"}},
		{"address without its holder", strings.Replace(eventAddressRegister, "data[FIELDS][ENTITY_ID]=1&", "", 1), []string{"data[FIELDS][ENTITY_ID]"}},
		{"address of a bad holder", strings.NewReplacer("data[FIELDS][ENTITY_ID]=1&", "data[FIELDS][ENTITY_ID]=0&",
			"data[FIELDS][ENTITY_TYPE_ID]=8", "data[FIELDS][ENTITY_TYPE_ID]=x").Replace(eventAddressRegister), []string{"data[FIELDS][ENTITY_TYPE_ID]", "data[FIELDS][ENTITY_ID]"}},
		{"bad clean", strings.Replace(eventAppUninstall, "data[CLEAN]=1", "data[CLEAN]=maybe", 1), []string{"data[CLEAN]"}},
		{"bad version", strings.Replace(eventAppUpdate, "data[VERSION]=4", "data[VERSION]=4%3Cscript%3E", 1), []string{"data[VERSION]"}},
		{"overlong version", strings.Replace(eventAppUpdate, "data[PREVIOUS_VERSION]=3", "data[PREVIOUS_VERSION]="+strings.Repeat("9", 33), 1), []string{"data[PREVIOUS_VERSION]"}},
		{"bad client endpoint", strings.Replace(eventDealUpdateDocs, "auth[client_endpoint]=https://", "auth[client_endpoint]=javascript:", 1), []string{"auth[client_endpoint]"}},
		{"bad member", strings.Replace(eventDealUpdateDocs, "auth[member_id]=a223", "auth[member_id]=a2/3", 1), []string{"auth[member_id]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent(mustQuery(t, tt.body))
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v", err)
			}
			var got []string
			for _, p := range re.Problems {
				got = append(got, p.Field)
			}
			if d := cmp.Diff(tt.fields, got); d != "" {
				t.Errorf("fields (-want +got):\n%s\n%v", d, err)
			}
		})
	}
}

func TestParseEventRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/b24/events", strings.NewReader(eventContactAddSDK))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e, err := ParseEventRequest(r)
	if err != nil || e.Name != EventContactAdd {
		t.Fatalf("%+v, %v", e, err)
	}
	if !e.Verify("51856fefc120afa4b628cc82d3935cce") || e.Verify("51856fefc120afa4b628cc82d3935ccf") || e.Verify("") {
		t.Error("Verify")
	}
}

func TestVerifyApplicationToken(t *testing.T) {
	tests := []struct {
		got, stored string
		want        bool
	}{
		{"abc", "abc", true}, {"abc", "abd", false}, {"abc", "abcd", false}, {"", "", false}, {"abc", "", false}, {"", "abc", false},
	}
	for _, tt := range tests {
		if VerifyApplicationToken(tt.got, tt.stored) != tt.want {
			t.Errorf("Verify(%q, %q) != %v", tt.got, tt.stored, tt.want)
		}
	}
}

var eventSeeds = []string{eventContactAddSDK, eventDealUpdateDocs, eventDealUpdateRobot, eventMoveToCategory,
	eventAppInstall, eventAppUpdate, eventAppUninstall, eventOffline, "", "event=", "auth[member_id]=%zz"}

func FuzzParseEvent(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, _ := url.ParseQuery(body) // keeps what parsed before a bad escape
		e, err := ParseEvent(form)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || len(re.Problems) == 0 || err.Error() == "" {
				t.Fatalf("error of the wrong shape: %#v", err)
			}
			return
		}
		if e.Name == "" || e.Name != strings.ToUpper(e.Name) || !validMemberID(e.Auth.MemberID) || e.Auth.ApplicationToken == "" {
			t.Fatalf("accepted an invalid event: %+v", e)
		}
		if ent, _ := e.Entity(); ent != "" && e.RecordID <= 0 {
			t.Fatalf("record event without id: %+v", e)
		}
	})
}

func FuzzParseInstall(f *testing.F) {
	f.Add(installQueryDocs, installBodyDocs)
	f.Add(installQuerySDK, installBodySDK)
	f.Add("", "")
	f.Add("PROTOCOL=0", "AUTH_ID=a&REFRESH_ID=b&member_id=c&PLACEMENT_OPTIONS=undefined")
	f.Fuzz(func(t *testing.T, query, body string) {
		q, _ := url.ParseQuery(query)
		b, _ := url.ParseQuery(body)
		fr, err := ParseInstall(q, b)
		if err != nil {
			return
		}
		if fr.AuthID == "" || fr.RefreshID == "" || !validMemberID(fr.MemberID) {
			t.Fatalf("accepted an invalid install: %+v", fr)
		}
	})
}

func FuzzParsePlacement(f *testing.F) {
	f.Add(installQueryDocs, placementBody)
	f.Add("", "AUTH_ID=a&member_id=c&PLACEMENT=X&PLACEMENT_OPTIONS=undefined")
	f.Add("", "AUTH_ID=a&member_id=c&PLACEMENT=X&PLACEMENT_OPTIONS=%5B%5D")
	f.Add("", "AUTH_ID=a&member_id=c&PLACEMENT=X&PLACEMENT_OPTIONS=%7B%22ID%22%3A1e400%7D")
	f.Fuzz(func(t *testing.T, query, body string) {
		q, _ := url.ParseQuery(query)
		b, _ := url.ParseQuery(body)
		fr, err := ParsePlacement(q, b)
		if err != nil {
			return
		}
		if fr.Placement == "" || fr.AuthID == "" {
			t.Fatalf("accepted an invalid placement: %+v", fr)
		}
		_, _ = fr.PlacementID()
	})
}
