package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"segmentor"
	"segmentor/app"
	"segmentor/app/segment"
	"segmentor/bitrix"
	"segmentor/bitrix/b24sim"
	"segmentor/engine"
)

// dryRun passes reads to the portal and refuses every write, keeping the
// command lines it refused: a fresh evaluation through it says what it
// would write without writing.
type dryRun struct {
	next    http.RoundTripper
	mu      sync.Mutex
	refused []string
}

func (d *dryRun) RoundTrip(req *http.Request) (*http.Response, error) {
	i := strings.Index(req.URL.Path, "/rest/")
	if i < 0 || req.Body == nil {
		return d.next.RoundTrip(req)
	}
	method := strings.TrimSuffix(req.URL.Path[i+len("/rest/"):], ".json")
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var writes []string
	refusal := map[string]string{"error": "E2E_DRY_RUN", "error_description": "the proof's evaluation writes nothing"}
	answer, _ := json.Marshal(refusal)
	if method == "batch" {
		var b struct{ Cmd map[string]string }
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, fmt.Errorf("dry run: batch body: %v", err)
		}
		errs := map[string]any{}
		for name, line := range b.Cmd {
			if m, _, _ := strings.Cut(line, "?"); !bitrix.IsReadMethod(m) {
				writes = append(writes, line)
				errs[name] = refusal
			}
		}
		if len(writes) == len(b.Cmd) {
			// Every command refused on its own, as a portal does: the
			// evaluation goes on to its next batch of writes.
			answer, _ = json.Marshal(map[string]any{"result": map[string]any{
				"result": []any{}, "result_error": errs, "result_total": []any{}, "result_next": []any{}, "result_time": []any{}}})
			return d.refuse(req, writes, http.StatusOK, answer), nil
		}
	} else if !bitrix.IsReadMethod(method) {
		writes = append(writes, method+" "+string(body))
	}
	if len(writes) == 0 {
		return d.next.RoundTrip(req)
	}
	return d.refuse(req, writes, http.StatusBadRequest, answer), nil
}

// refuse keeps the refused writes and answers for the portal.
func (d *dryRun) refuse(req *http.Request, writes []string, status int, body []byte) *http.Response {
	d.mu.Lock()
	d.refused = append(d.refused, writes...)
	d.mu.Unlock()
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Request: req,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(body)),
	}
}

// evaluation is what a fresh full evaluation found.
type evaluation struct {
	Stats engine.BackfillStats
	Wrong []string // the writes it would make (batch lines): each a record not in its correct state
}

// wrong reports whether the evaluation would write record (entity:id).
func (ev evaluation) wrong(record string) bool {
	for _, line := range ev.Wrong {
		m, q, _ := strings.Cut(line, "?")
		vals, err := url.ParseQuery(q)
		if err != nil {
			continue
		}
		if w, ok := updateOf(m, vals); ok && w.record == record {
			return true
		}
	}
	return false
}

// evaluate runs a fresh full evaluation of the portal: the engine's own
// backfill, on an empty mirror in another database and a copy of the saved
// config, reading the portal through the app's shared budget and tokens
// but writing nothing. A record it would write is not in its correct state.
func (c *cluster) evaluate() evaluation {
	c.t.Helper()
	return evaluatePortal(c.t, c.ctx, c.sim, c.store, c.rdb, c.scratch(), c.manifest)
}

// evaluatePortal is evaluate for any app's store on any Redis (rdb, whose
// tokens and shared budget it uses), with scratch an empty database.
func evaluatePortal(t testing.TB, ctx context.Context, sim *b24sim.Portal, store *app.Store, rdb, scratch redis.UniversalClient, manifest *segmentor.Manifest) evaluation {
	t.Helper()
	member := sim.MemberID()
	sc, err := store.Config(ctx, member)
	if err != nil || sc.Version == 0 {
		t.Fatalf("no saved config to evaluate: %v", err)
	}
	dir, err := store.Directory(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	seal, _ := app.NewSealer(secretKey)
	// The copy keeps the save time: "new deals" are those created after it.
	fresh := app.NewStore(scratch, seal, func() time.Time { return sc.SavedAt })
	if _, err := fresh.PutConfig(ctx, member, 0, sc.Config, sc.SavedBy); err != nil {
		t.Fatal(err)
	}
	if err := fresh.SaveDirectory(ctx, member, dir); err != nil {
		t.Fatal(err)
	}
	dry := &dryRun{next: http.DefaultTransport}
	client, err := bitrix.NewClient(bitrix.Config{
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), OAuthURL: sim.OAuthURL(),
		HTTPClient: &http.Client{Transport: dry, Timeout: 70 * time.Second},
		Redis:      rdb, Tokens: store, AllowHTTP: true,
		Profile: func(ctx context.Context, memberID string) (bitrix.Profile, error) {
			if p, err := store.Portal(ctx, memberID); err == nil {
				return bitrix.ProfileForLicense(p.License), nil
			}
			return bitrix.StandardProfile(), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cls := &engine.Classifier{Store: fresh, Mirror: app.NewMirror(scratch), Bitrix: client,
		FieldName: "UF_CRM_" + manifest.SegmentField.FieldName}
	st, err := cls.Backfill(ctx, member, app.TriggerRecompute)
	if err != nil && len(dry.refused) == 0 {
		t.Fatalf("fresh evaluation: %v", err)
	}
	sort.Strings(dry.refused)
	return evaluation{Stats: st, Wrong: dry.refused}
}

// requireCorrect fails unless a fresh evaluation would write nothing, and
// returns how many records it evaluated.
func (c *cluster) requireCorrect(when string) int {
	c.t.Helper()
	ev := c.evaluate()
	if len(ev.Wrong) > 0 {
		c.traceWrong(ev, 5)
	}
	return requireRight(c.t, when, ev)
}

// traceWrong logs, for the first n records the evaluation found wrong,
// what the app's mirror holds of them and every update the portal applied
// to them: whether the app thought the record right (a write recorded that
// did not land) or never saw it needed one.
func (c *cluster) traceWrong(ev evaluation, n int) {
	c.t.Helper()
	applied := appliedWrites(c.sim.Requests())
	mirror := app.NewMirror(c.rdb)
	member := c.sim.MemberID()
	for i, line := range ev.Wrong {
		if i == n {
			break
		}
		m, q, _ := strings.Cut(line, "?")
		vals, err := url.ParseQuery(q)
		if err != nil {
			continue
		}
		w, ok := updateOf(m, vals)
		if !ok {
			continue
		}
		entity, idText, _ := strings.Cut(w.record, ":")
		id, _ := strconv.ParseInt(idText, 10, 64)
		var row string
		if entity == "deal" {
			ds, err := mirror.Deals(c.ctx, member, []int64{id})
			if d := ds[id]; err == nil && d != nil {
				row = fmt.Sprintf("type %s, segment %d, key %q, stage %s", d.TypeID, d.Segment, d.Key, d.StageID)
			}
		} else {
			cs, err := mirror.Clients(c.ctx, member, segment.Entity(entity), []int64{id})
			if cl := cs[id]; err == nil && cl != nil {
				row = fmt.Sprintf("type %s, segment %d, key %q", cl.TypeID, cl.Segment, cl.Key)
			}
		}
		var now []string
		if rec, ok := c.sim.Record(entity, int(id)); ok {
			for _, f := range []string{"TYPE_ID", "COMPANY_TYPE", "CATEGORY_ID", "STAGE_ID", "UF_CRM_" + c.manifest.SegmentField.FieldName} {
				if v, ok := rec[f]; ok {
					now = append(now, fmt.Sprintf("%s=%v", f, v))
				}
			}
		}
		c.t.Logf("wrong %s: the portal holds %s; the app's mirror holds %s", w.record, strings.Join(now, " "), cmp.Or(row, "nothing"))
		for _, a := range applied {
			if a.record == w.record {
				c.t.Logf("  %s applied %s", a.at.Format("15:04:05.000"), a.value)
			}
		}
	}
}

// requireRight fails unless the fresh evaluation ev would write nothing,
// and returns how many records it evaluated.
func requireRight(t testing.TB, when string, ev evaluation) int {
	t.Helper()
	if len(ev.Wrong) > 0 || ev.Stats.Changed > 0 {
		for i, w := range ev.Wrong {
			if i == 10 {
				t.Errorf("… and %d more", len(ev.Wrong)-10)
				break
			}
			t.Errorf("%s: not in its correct state, would write %s", when, w)
		}
		t.Fatalf("%s: %d of %d records are not in their correct state", when, ev.Stats.Changed, ev.Stats.Evaluated)
	}
	if ev.Stats.Evaluated == 0 {
		t.Fatalf("%s: the fresh evaluation saw no records", when)
	}
	return ev.Stats.Evaluated
}

// write is one update the portal applied to a record.
type write struct {
	at     time.Time
	record string // entity:id
	value  string // method and fields, canonical
}

// appliedWrites reads the portal's request log for the record updates it
// applied, in order: batch commands and direct calls that succeeded.
func appliedWrites(reqs []b24sim.Request) []write {
	var out []write
	for _, r := range reqs {
		if r.Status != 200 {
			continue
		}
		if r.Method != "batch" {
			if isUpdate(r.Method) {
				vals := url.Values{}
				flatten(vals, "", map[string]any(r.Params))
				if w, ok := updateOf(r.Method, vals); ok {
					w.at = r.Time
					out = append(out, w)
				}
			}
			continue
		}
		cmds := r.Params.Map("cmd")
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		// The client sends its commands as w0, w1, …; the portal runs them
		// in that order, and CommandStatus follows it.
		slices.SortFunc(names, naturalCompare)
		for i, n := range names {
			if i >= len(r.CommandStatus) || r.CommandStatus[i] != 200 {
				continue
			}
			line := cmds.String(n)
			m, q, _ := strings.Cut(line, "?")
			if !isUpdate(m) {
				continue
			}
			vals, err := url.ParseQuery(q)
			if err != nil {
				continue
			}
			if w, ok := updateOf(m, vals); ok {
				w.at = r.Time
				out = append(out, w)
			}
		}
	}
	return out
}

func isUpdate(method string) bool {
	return strings.HasPrefix(method, "crm.") && strings.HasSuffix(method, ".update") && !strings.Contains(method, "userfield")
}

var itemEntities = map[string]string{"2": "deal", "3": "contact", "4": "company"}

// updateOf names the record an update is for and its canonical content
// (every field it sets, not the call's options).
func updateOf(method string, vals url.Values) (write, bool) {
	entity := strings.TrimSuffix(strings.TrimPrefix(method, "crm."), ".update")
	if entity == "item" {
		entity = itemEntities[vals.Get("entityTypeId")]
	}
	id := vals.Get("id")
	if entity == "" || id == "" {
		return write{}, false
	}
	var fields []string
	for k, vs := range vals {
		if strings.HasPrefix(k, "fields[") {
			fields = append(fields, k+"="+strings.Join(vs, ","))
		}
	}
	sort.Strings(fields)
	return write{record: entity + ":" + id, value: method + " " + strings.Join(fields, "&")}, true
}

// flatten writes nested params as bracketed form keys (fields[TYPE_ID]).
func flatten(out url.Values, prefix string, v any) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "[" + k + "]"
	}
	switch t := v.(type) {
	case b24sim.Params:
		flatten(out, prefix, map[string]any(t))
	case map[string]any:
		for k, x := range t {
			flatten(out, key(k), x)
		}
	case []any:
		for i, x := range t {
			flatten(out, key(strconv.Itoa(i)), x)
		}
	case nil:
		out.Add(prefix, "")
	default:
		out.Add(prefix, fmt.Sprint(t))
	}
}

// duplicates lists the updates that repeat, with the same values, the
// update applied to the same record just before: a write made twice for
// one change. (The proofs never edit the fields the app writes, so nothing
// else can make such a repeat necessary.)
func duplicates(ws []write) []string {
	last := map[string]write{}
	var out []string
	for _, w := range ws {
		if prev, ok := last[w.record]; ok && prev.value == w.value {
			out = append(out, fmt.Sprintf("%s: %s (at %s and again %s later)", w.record, w.value,
				prev.at.Format("15:04:05.000"), w.at.Sub(prev.at).Round(time.Millisecond)))
		}
		last[w.record] = w
	}
	return out
}

// naturalCompare orders the client's command names w2 before w10 (one
// prefix, then a number: shorter names are smaller numbers).
func naturalCompare(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// requireNoDuplicates fails if the portal applied any update twice in a
// row to one record, and returns how many updates it applied.
func (c *cluster) requireNoDuplicates() (writes, records int) {
	c.t.Helper()
	ws := appliedWrites(c.sim.Requests())
	if dups := duplicates(ws); len(dups) > 0 {
		for i, d := range dups {
			if i == 10 {
				break
			}
			c.t.Errorf("written twice for one change: %s", d)
		}
		c.t.Fatalf("%d of %d updates repeated the previous update of the same record", len(dups), len(ws))
	}
	seen := map[string]bool{}
	for _, w := range ws {
		seen[w.record] = true
	}
	return len(ws), len(seen)
}
