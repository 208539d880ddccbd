package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"segmentor/internal/apprig"
	"segmentor/internal/await"
)

// binDir holds the segmentor binary built once for the package's tests.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	// These tests mostly wait: on portals that answer two requests a
	// second, on asynq's retries, on processes starting. They run all at
	// once (their processes take about one core together) unless
	// -test.parallel says otherwise.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "8")
	}
	dir, err := os.MkdirTemp("", "segmentor-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds ./cmd/segmentor once (a plain build: the processes are
// under test, not the race detector's speed).
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "segmentor")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/segmentor")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build ./cmd/segmentor: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := apprig.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// proc is one segmentor process (web or worker) started by a test.
type proc struct{ *apprig.Proc }

// startProc starts the binary with role and exactly env (plus PATH); it is
// killed when the test ends, and its last log lines shown if it failed.
func startProc(t *testing.T, name, role string, env map[string]string) *proc {
	t.Helper()
	ap, err := apprig.StartProc(binary(t), t.TempDir(), name, role, env)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{ap}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- last log lines of %s:\n%s", p.Name, p.Tail(25))
		}
	})
	return p
}

// closed reports whether ch is closed (a process's done channel).
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stop asks the process to shut down (SIGTERM) and waits up to d; a
// shutdown that fails or takes longer fails the test.
func (p *proc) stop(t *testing.T, d time.Duration) {
	t.Helper()
	if err := p.Stop(d); err != nil {
		t.Error(err)
	}
}

// waitHTTP polls url until it answers 200, the process dies, or d passes.
func (p *proc) waitHTTP(t *testing.T, url string, d time.Duration) {
	t.Helper()
	answered := await.Poll(d, func() bool {
		if !p.Running() {
			t.Fatalf("%s exited (%v) before answering %s:\n%s", p.Name, p.Err(), url, p.Tail(20))
		}
		return apprig.HTTPOK(url)
	})
	if !answered {
		t.Fatalf("%s did not answer %s within %s:\n%s", p.Name, url, d, p.Tail(20))
	}
}
