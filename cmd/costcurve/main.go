// Command costcurve prints what Segmentor costs as a portal grows: one
// table for simulated portals of -sizes deals (default 10,000, 100,000 and
// 1,000,000; a third as many contacts, a tenth as many companies, 1 to 3
// product rows a deal from a catalog of 120):
//
//	go run ./cmd/costcurve [flags]
//
// For each size it starts a b24sim Host with one portal at a raised limit
// (-rate requests a second, a bucket of -burst), runs the real app as
// separate processes (one web, one worker, built from ./cmd/segmentor,
// fresh for each size, with B24_RATE_LIMIT at the same limit) on a private
// redis-server (-own-redis) or on database -db of REDIS_URL's server
// (flushed before and after), installs the portal as Bitrix24 does and
// saves a config through the API, which starts the backfill. Then it
// measures:
//
//   - the backfill's requests, read and write apart, counted from the
//     simulator's request log, against the least the portal allows: the
//     rows read over 2,500 a request (a batch of 50 pages of 50), the
//     records changed over 50 a request;
//   - the backfill's wall time, from the config's save to the backfill's
//     end, against the least the request limit allows: max(0, requests −
//     burst) / rate; and against the least Bitrix24's other limit allows,
//     each method's operating time (480 s in any 10 minutes; b24sim
//     charges -call-cost a call, 10 ms by default), which binds first once the request limit is
//     raised: what a run spends in a minute stays counted for ten, so a
//     method that runs more than k whole 480 s (k = ⌈operating/480 s⌉ − 1)
//     needs at least 10k − 1 minutes, for the method that runs longest;
//   - Redis bytes per mirrored record (deals, contacts and companies):
//     MEMORY USAGE (SAMPLES 0) summed over the portal's mirror keys,
//     seg:p:{member}:m:*; the server's used_memory growth is printed
//     beside it;
//   - the worker's and the web's peak RSS (VmHWM), over the whole size;
//   - preview and dry-run through the web API as the settings page calls
//     them (POST /api/v1/preview, /api/v1/dryrun with a draft config): the
//     first after a web process's start (cold: it decodes the mirror) and
//     the median of -warm more;
//   - the nightly recompute: the portal's turn queued as the nightly task
//     queues it (jobs.TypeNightlyPortal), its time until its backfill ends
//     and its requests.
//
// It prints the table, and how each figure grows with the record count
// (the ratio between sizes: flat, linear, ...). It exits non-zero only
// when it cannot run (a process dies, a backfill fails), never because of
// a figure.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"segmentor/internal/apprig"
)

type options struct {
	sizes       []int
	rate, burst int
	callCost    time.Duration
	warm        int
	db          int
	ownRedis    bool
	bin         string
	keep        bool
	timeout     time.Duration
	logLevel    string
}

func main() {
	var o options
	sizes := flag.String("sizes", "10000,100000,1000000", "deals of each portal measured, comma-separated (a third as many contacts, a tenth as many companies)")
	flag.IntVar(&o.rate, "rate", 50, "the portals' raised limit, requests a second (the simulator's and the app's B24_RATE_LIMIT)")
	flag.IntVar(&o.burst, "burst", 250, "the portals' bucket, requests")
	flag.DurationVar(&o.callCost, "call-cost", 10*time.Millisecond, "the operating time the simulator charges a method's call (its default 10ms): Bitrix24 allows each method 480 s in any 10 minutes, so at a raised request limit this bounds a large backfill's writes")
	flag.IntVar(&o.warm, "warm", 5, "warm previews and dry runs timed after the first (their median is printed)")
	flag.IntVar(&o.db, "db", 1000, "the Redis database of REDIS_URL's server the app uses (flushed before and after)")
	flag.BoolVar(&o.ownRedis, "own-redis", false, "start a private redis-server for each size (REDIS_SERVER_BIN, else redis-server on PATH) instead of using REDIS_URL")
	flag.StringVar(&o.bin, "bin", "", "the segmentor binary; default: go build ./cmd/segmentor")
	flag.BoolVar(&o.keep, "keep", false, "keep the processes' logs (their directory is printed)")
	flag.DurationVar(&o.timeout, "timeout", 12*time.Hour, "how long one size's backfill, or its nightly recompute, may take before the run fails")
	flag.StringVar(&o.logLevel, "log-level", "warn", "the app's LOG_LEVEL")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			fmt.Fprintf(os.Stderr, "costcurve: -sizes: %q is not a number of deals (at least 10)\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.rate < 1 || o.burst < 1 || o.callCost <= 0 {
		fmt.Fprintln(os.Stderr, "costcurve: -rate and -burst must be at least 1, -call-cost above 0")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "costcurve:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	dir, err := os.MkdirTemp("", "segmentor-costcurve-")
	if err != nil {
		return err
	}
	if o.keep {
		printf("logs in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.bin
	if bin == "" {
		printf("building ./cmd/segmentor\n")
		if bin, err = apprig.BuildBinary(dir); err != nil {
			return err
		}
	}
	var rows []*row
	for i, n := range o.sizes {
		sdir := fmt.Sprintf("%s/%d-%d", dir, i+1, n)
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return err
		}
		r, err := measure(ctx, o, bin, sdir, n)
		if err != nil {
			return fmt.Errorf("%d deals: %w", n, err)
		}
		rows = append(rows, r)
		printf("%d deals measured in %s\n", n, since(r.t0))
	}
	report(os.Stdout, o, rows, time.Since(start))
	return nil
}

func printf(format string, args ...any) {
	fmt.Printf("%s  "+format, append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
