package b24sim

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkREST measures how many REST requests per second the simulator
// serves on this machine: limits off, parallel clients over real HTTP.
func BenchmarkREST(b *testing.B) {
	p := New(Options{RatePerSecond: -1, OperatingLimit: 1 << 62})
	defer p.Close()
	p.SetLogLimit(-1)
	tok := p.IssueTokens(1).AccessToken
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	target := p.ClientEndpoint() + "profile.json"
	body := `{"auth":"` + tok + `"}`
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(target, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
