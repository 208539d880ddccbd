package b24sim

import (
	"runtime"
	"testing"
)

// BenchmarkSeed100k seeds 100,000 deals (with 20,000 contacts and 5,000
// companies) per iteration and reports the time and retained heap per deal.
func BenchmarkSeed100k(b *testing.B) {
	const deals = 100000
	opts := GenOptions{Deals: deals, Contacts: 20000, Companies: 5000}
	// Retained heap, measured once: the portal alone, then seeded.
	var before, after runtime.MemStats
	p := New(Options{RatePerSecond: -1, Seed: 3})
	runtime.GC()
	runtime.ReadMemStats(&before)
	p.Seed(opts)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if p.Count("deal") != deals {
		b.Fatal("wrong count")
	}
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	p.Close()
	b.ResetTimer()
	for b.Loop() {
		p := New(Options{RatePerSecond: -1, Seed: 3})
		p.Seed(opts)
		p.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/deals, "ns/deal")
	b.ReportMetric(float64(heap)/deals, "heap-B/deal")
}

// BenchmarkKeysetPage reads one 50-row keyset page of crm.deal.list in the
// middle of 100,000 deals, in process (no HTTP).
func BenchmarkKeysetPage(b *testing.B) {
	p := New(Options{RatePerSecond: -1, Seed: 3})
	defer p.Close()
	p.Seed(GenOptions{Deals: 100000, Contacts: 20000, Companies: 5000})
	fn := p.methods["crm.deal.list"]
	c := &Call{Method: "crm.deal.list", User: &User{ID: 1, Admin: true}, Params: Params{
		"order": map[string]any{"ID": "ASC"}, "filter": map[string]any{">ID": "50000"}, "start": "-1",
		"select": []any{"ID", "STAGE_ID", "OPPORTUNITY", "DATE_MODIFY"}}}
	for b.Loop() {
		if _, err := fn(p, c); err != nil {
			b.Fatal(err)
		}
	}
}
