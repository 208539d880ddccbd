package apprig

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counts is what INFO says the server has done so far: commands in all
// (total_commands_processed, which counts the commands a script runs as
// well as the script's own call) and calls per command (commandstats).
// Both are the server's, over every database: a tool's figures are the
// app's only when nothing else uses the server meanwhile (a private
// server, OwnRedis, makes sure).
type Counts struct {
	At    time.Time
	Total int64
	Calls map[string]int64
}

// ReadCounts reads the server's counters (two INFO calls).
func ReadCounts(ctx context.Context, rdb *redis.Client) (Counts, error) {
	c := Counts{At: time.Now(), Calls: map[string]int64{}}
	stats, err := rdb.Info(ctx, "stats").Result()
	if err != nil {
		return c, fmt.Errorf("INFO stats: %w", err)
	}
	for line := range strings.SplitSeq(stats, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			c.Total, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	cs, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return c, fmt.Errorf("INFO commandstats: %w", err)
	}
	for line := range strings.SplitSeq(cs, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		c.Calls[name], _ = strconv.ParseInt(calls, 10, 64)
	}
	return c, nil
}

// Delta is what the server did between two readings. The two INFO calls
// of a reading are themselves counted: 2 commands per reading.
type Delta struct {
	Secs  float64
	Total int64
	Calls map[string]int64
}

// To is what the server did from reading a to reading b.
func (a Counts) To(b Counts) Delta {
	d := Delta{Secs: b.At.Sub(a.At).Seconds(), Total: b.Total - a.Total - 2, Calls: map[string]int64{}}
	for k, v := range b.Calls {
		if n := v - a.Calls[k]; n > 0 {
			d.Calls[k] = n
		}
	}
	d.Calls["info"] -= 2
	return d
}

// PerSecond is the commands a second over the delta.
func (d Delta) PerSecond() float64 {
	if d.Secs <= 0 {
		return 0
	}
	return float64(d.Total) / d.Secs
}

// Top names the n commands called most, with their rates.
func (d Delta) Top(n int) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range d.Calls {
		if v > 0 {
			all = append(all, kv{k, v})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	var parts []string
	for _, e := range all[:min(n, len(all))] {
		parts = append(parts, fmt.Sprintf("%s %.1f/s", e.k, float64(e.v)/max(d.Secs, 1e-9)))
	}
	return strings.Join(parts, ", ")
}

// UsedMemory is the server's used_memory (INFO memory), in bytes.
func UsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO memory: %w", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory has no used_memory")
}

// OwnRedis starts a private redis-server (AOF off, in dir/redis) so that
// INFO's counters are the app's alone; stop ends it.
func OwnRedis(bin, dir string) (url string, stop func(), err error) {
	addr, err := FreeAddr()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", rdir, "--save", "",
		"--appendonly", "no", "--maxmemory-policy", "noeviction", "--databases", "16")
	log, err := os.Create(filepath.Join(rdir, "redis.log"))
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
	}
	url = "redis://" + addr + "/0"
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	for range 100 {
		if c.Ping(context.Background()).Err() == nil {
			return url, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("%s did not answer on %s", bin, addr)
}
