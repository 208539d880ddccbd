package handlers_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix/b24sim"
)

// exportConfig is savedInsightConfig with deals of buyers as premium.
const exportConfig = `{"schemes": [{"entity": "contact", "segments": [
  {"key": "buyer", "name": "Buyer", "color": "#d4380d", "when": {"all": [{"fact": "won_count", "op": ">=", "value": 2}]}, "set": {"label": true}}],
  "otherwise": {"key": "rest", "name": "Rest", "set": {"label": true}}},
 {"entity": "deal", "segments": [
  {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["buyer"]}]}, "set": {"label": true}}]}]}`

// exportCSV downloads a members export and reads it: its rows after the
// header, which comes first.
func exportCSV(t *testing.T, s *settingsStack, token, path string) (apiResp, []string, [][]string) {
	t.Helper()
	r := s.do("GET", path, token, nil)
	if r.Status != 200 {
		return r, nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("%s: content type %q", path, ct)
	}
	body, ok := strings.CutPrefix(string(r.Raw), "\ufeff")
	if !ok {
		t.Errorf("%s: no byte-order mark", path)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v, %d rows: %s", path, err, len(rows), r.Raw)
	}
	return r, rows[0], rows[1:]
}

// A segment's members export lists every record carrying the segment, in
// id order, with its mirrored name, its card link, the segment's name and
// why the rules put it there in the reader's language; the records in no
// segment and those of a removed segment too. It costs no REST request, is
// for administrators only, and keeps names from being read as formulas.
func TestExportMembersCSV(t *testing.T) {
	s := newSettingsStack(t, "en")
	s.sim.Seed(b24sim.GenOptions{Contacts: 80, Companies: 10, Deals: 250})
	admin, rep := s.login(1), s.login(s.rep.ID)
	applyConfig(t, s, admin, exportConfig)
	sb := readSimBase(t, s)
	keys := sb.contactKeys(2, false)
	won := map[int64]int{}
	for _, d := range sb.deals {
		if d.semantic == "S" {
			for _, c := range d.contacts {
				won[c]++
			}
		}
	}
	want := map[string][]int64{}
	for _, id := range slices.Sorted(mapKeys(keys)) {
		want[keys[id]] = append(want[keys[id]], id)
	}
	if len(want["buyer"]) < 3 || len(want["rest"]) < 3 {
		t.Fatalf("too few buyers or rest: %v", want)
	}
	ctx, member, mirror := context.Background(), s.sim.MemberID(), app.NewMirror(s.rdb)

	// Names a spreadsheet would read as formulas, put into the mirror.
	formulas := map[int64]string{want["buyer"][0]: `=HYPERLINK("https://evil.example/","Click")`, want["buyer"][1]: "+7 495 123-45-67",
		want["buyer"][2]: "@SUM(A1:A9)", want["rest"][0]: "-2+3"}
	clients, err := mirror.Clients(ctx, member, segment.EntityContact, slices.Collect(mapKeys(formulas)))
	if err != nil || len(clients) != len(formulas) {
		t.Fatalf("mirror clients: %v (%d)", err, len(clients))
	}
	var put []*app.MirrorClient
	for id, name := range formulas {
		cl := *clients[id]
		cl.Title = name
		put = append(put, &cl)
	}
	if err := mirror.PutClients(ctx, member, segment.EntityContact, put); err != nil {
		t.Fatal(err)
	}
	title := func(id int64) string {
		if f, ok := formulas[id]; ok {
			return "'" + f
		}
		return sb.contacts[id].title
	}

	s.sim.ResetLog()
	r, head, rows := exportCSV(t, s, admin, "/api/v1/segments/contact/buyer/members.csv")
	if r.Status != 200 {
		t.Fatalf("export: %d %s", r.Status, r.Raw)
	}
	if n := len(s.sim.Requests()); n != 0 {
		t.Errorf("the export sent %d REST requests: %v", n, s.commands())
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="members-contact-buyer.csv"` {
		t.Errorf("content disposition %q", cd)
	}
	if !slices.Equal(head, []string{"ID", "Name", "Link", "Segment", "Why"}) {
		t.Errorf("header %q", head)
	}
	if len(rows) != len(want["buyer"]) {
		t.Fatalf("%d rows, want the %d buyers", len(rows), len(want["buyer"]))
	}
	portal, err := s.store.Portal(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		id := want["buyer"][i]
		wantRow := []string{strconv.FormatInt(id, 10), title(id), portal.RecordURL("contact", id), "Buyer",
			fmt.Sprintf("Won deals: %d (at least 2)", won[id])}
		if !slices.Equal(row, wantRow) {
			t.Errorf("row %d:\n got %q\nwant %q", i, row, wantRow)
		}
	}
	if !strings.HasPrefix(rows[0][2], "http") || !strings.HasSuffix(rows[0][2], fmt.Sprintf("/crm/contact/details/%d/", want["buyer"][0])) {
		t.Errorf("card link %q", rows[0][2])
	}

	// The otherwise segment: why is that no segment held, and the nearest.
	_, _, rows = exportCSV(t, s, admin, "/api/v1/segments/contact/rest/members.csv")
	if len(rows) != len(want["rest"]) {
		t.Fatalf("%d rest rows, want %d", len(rows), len(want["rest"]))
	}
	for i, row := range rows {
		id := want["rest"][i]
		wantWhy := fmt.Sprintf("None of the segments above applies. Nearest: Buyer: Won deals: %d, needs at least 2", won[id])
		if row[0] != strconv.FormatInt(id, 10) || row[1] != title(id) || row[3] != "Rest" || row[4] != wantWhy {
			t.Errorf("rest row %d: %q, want id %d, why %q", i, row, id, wantWhy)
		}
	}

	// Deals: the records carrying premium in the mirror, why naming the
	// client's segment.
	dealIDs := make([]int64, len(sb.deals))
	for i, d := range sb.deals {
		dealIDs[i] = d.id
	}
	deals, err := mirror.Deals(ctx, member, dealIDs)
	if err != nil {
		t.Fatal(err)
	}
	var premium []int64
	for id, d := range deals {
		if d.Key == "premium" {
			premium = append(premium, id)
		}
	}
	slices.Sort(premium)
	_, _, rows = exportCSV(t, s, admin, "/api/v1/segments/deal/premium/members.csv")
	if len(premium) == 0 || len(rows) != len(premium) {
		t.Fatalf("%d premium rows, want %d", len(rows), len(premium))
	}
	for i, row := range rows {
		id := premium[i]
		if row[0] != strconv.FormatInt(id, 10) || row[1] != deals[id].Title || row[2] != portal.RecordURL("deal", id) || row[3] != "Premium" ||
			row[4] != "Segment of the deal's client: Buyer (is one of Buyer)" {
			t.Errorf("premium row %d: %q, want deal %d %q", i, row, id, deals[id].Title)
		}
	}

	// Records in no segment, and those of a segment no longer in the rules:
	// why says where the rules put them now.
	_, _, rows = exportCSV(t, s, admin, "/api/v1/segments/contact/_none/members.csv")
	if len(rows) != 0 {
		t.Errorf("no segment before any record lost its: %q", rows)
	}
	unset, gone := want["rest"][1], want["buyer"][3]
	clients, err = mirror.Clients(ctx, member, segment.EntityContact, []int64{unset, gone})
	if err != nil {
		t.Fatal(err)
	}
	clients[unset].Key, clients[gone].Key = "", "vip"
	if err := mirror.PutClients(ctx, member, segment.EntityContact, []*app.MirrorClient{clients[unset], clients[gone]}); err != nil {
		t.Fatal(err)
	}
	r, _, rows = exportCSV(t, s, admin, "/api/v1/segments/contact/_none/members.csv")
	wantNone := []string{strconv.FormatInt(unset, 10), sb.contacts[unset].title, portal.RecordURL("contact", unset), "No segment",
		fmt.Sprintf("By the rules now in Rest (change pending): None of the segments above applies. Nearest: Buyer: Won deals: %d, needs at least 2", won[unset])}
	if len(rows) != 1 || !slices.Equal(rows[0], wantNone) {
		t.Errorf("no segment: %q, want %q", rows, wantNone)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="members-contact-no-segment.csv"` {
		t.Errorf("no segment's file: %q", cd)
	}
	_, _, rows = exportCSV(t, s, admin, "/api/v1/segments/contact/vip/members.csv")
	wantGone := []string{strconv.FormatInt(gone, 10), sb.contacts[gone].title, portal.RecordURL("contact", gone), "vip (removed)",
		fmt.Sprintf("By the rules now in Buyer (change pending): Won deals: %d (at least 2)", won[gone])}
	if len(rows) != 1 || !slices.Equal(rows[0], wantGone) {
		t.Errorf("removed segment: %q, want %q", rows, wantGone)
	}

	// Administrators only; an unknown segment or record type is an error
	// that says so.
	if r := s.do("GET", "/api/v1/segments/contact/buyer/members.csv", rep, nil); r.Status != 403 || r.Body["error"] != "forbidden" ||
		!strings.Contains(fmt.Sprint(r.Body["message"]), "Only Bitrix24 administrators") {
		t.Errorf("a rep's export: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/segments/contact/nosuch/members.csv", admin, nil); r.Status != 404 || r.Body["error"] != "not_found" ||
		r.Body["message"] != "There is no such segment." {
		t.Errorf("unknown segment: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/segments/lead/buyer/members.csv", admin, nil); r.Status != 400 {
		t.Errorf("unknown record type: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/segments/contact/buyer/members.csv", "", nil); r.Status != 401 {
		t.Errorf("no session: %d %s", r.Status, r.Raw)
	}

	// In Russian: the header, the reasons, the errors.
	ru := s.do("POST", "/api/v1/session", "", map[string]string{"member_id": member, "auth_id": s.sim.IssueTokens(1).AccessToken, "lang": "ru"})
	tok, _ := ru.Body["token"].(string)
	if ru.Status != 200 || tok == "" {
		t.Fatalf("russian session: %d %s", ru.Status, ru.Raw)
	}
	_, head, rows = exportCSV(t, s, tok, "/api/v1/segments/contact/buyer/members.csv")
	if !slices.Equal(head, []string{"ID", "Название", "Ссылка", "Сегмент", "Почему"}) {
		t.Errorf("russian header %q", head)
	}
	if len(rows) != len(want["buyer"])-1 || rows[0][3] != "Buyer" || rows[0][4] != fmt.Sprintf("Выигранных сделок: %d (не меньше 2)", won[want["buyer"][0]]) {
		t.Errorf("russian rows: %q", rows[:min(2, len(rows))])
	}
	_, _, rows = exportCSV(t, s, tok, "/api/v1/segments/contact/_none/members.csv")
	if len(rows) != 1 || rows[0][3] != "Без сегмента" || !strings.HasPrefix(rows[0][4], "По правилам теперь в «Rest» (изменение ожидает записи): ") {
		t.Errorf("russian no segment: %q", rows)
	}
	if r := s.do("GET", "/api/v1/segments/contact/nosuch/members.csv", tok, nil); r.Status != 404 || r.Body["message"] != "Такого сегмента нет." {
		t.Errorf("russian unknown segment: %d %s", r.Status, r.Raw)
	}
}
