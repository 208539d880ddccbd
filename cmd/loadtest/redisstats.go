package main

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

// redisCounts is what INFO says the server has done so far: commands in
// all (total_commands_processed, which counts the commands a script runs
// as well as the script's own call) and calls per command (commandstats).
// Both are the server's, over every database: the load test's figures are
// the app's only when nothing else uses the server meanwhile (-own-redis
// makes sure).
type redisCounts struct {
	at    time.Time
	total int64
	calls map[string]int64
}

func readCounts(ctx context.Context, rdb *redis.Client) (redisCounts, error) {
	c := redisCounts{at: time.Now(), calls: map[string]int64{}}
	stats, err := rdb.Info(ctx, "stats").Result()
	if err != nil {
		return c, fmt.Errorf("INFO stats: %w", err)
	}
	for line := range strings.SplitSeq(stats, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			c.total, _ = strconv.ParseInt(v, 10, 64)
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
		c.calls[name], _ = strconv.ParseInt(calls, 10, 64)
	}
	return c, nil
}

// redisDelta is what the server did between two readings. The two INFO
// calls of a reading are themselves counted: 2 commands per reading.
type redisDelta struct {
	secs  float64
	total int64
	calls map[string]int64
}

func (a redisCounts) to(b redisCounts) redisDelta {
	d := redisDelta{secs: b.at.Sub(a.at).Seconds(), total: b.total - a.total - 2, calls: map[string]int64{}}
	for k, v := range b.calls {
		if n := v - a.calls[k]; n > 0 {
			d.calls[k] = n
		}
	}
	d.calls["info"] -= 2
	return d
}

func (d redisDelta) perSecond() float64 {
	if d.secs <= 0 {
		return 0
	}
	return float64(d.total) / d.secs
}

// top names the n commands called most, with their rates.
func (d redisDelta) top(n int) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range d.calls {
		if v > 0 {
			all = append(all, kv{k, v})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	var parts []string
	for _, e := range all[:min(n, len(all))] {
		parts = append(parts, fmt.Sprintf("%s %.1f/s", e.k, float64(e.v)/max(d.secs, 1e-9)))
	}
	return strings.Join(parts, ", ")
}

// ownRedis starts a private redis-server (AOF off, in a temp dir) so that
// INFO's counters are the app's alone; stop ends it.
func ownRedis(bin, dir string) (url string, stop func(), err error) {
	addr, err := freeAddr()
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
