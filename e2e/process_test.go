package e2e

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// proc is one segmentor process (web or worker) started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // its stderr (JSON logs)
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startProc starts the binary with role and exactly env (plus PATH).
func startProc(t *testing.T, name, role string, env map[string]string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(binary(t), role)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- last log lines of %s:\n%s", p.name, p.tail(25))
		}
	})
	return p
}

// running reports whether the process has not exited.
func (p *proc) running() bool { return !closed(p.done) }

// closed reports whether ch is closed (a process's done channel).
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// kill ends the process with SIGKILL (kill -9) and waits for it.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// stop asks the process to shut down (SIGTERM) and waits up to d.
func (p *proc) stop(t *testing.T, d time.Duration) {
	t.Helper()
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(d):
		p.kill()
		t.Errorf("%s did not stop within %s of SIGTERM", p.name, d)
	}
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// count returns how many log lines contain every one of parts.
func (p *proc) count(parts ...string) int {
	f, err := os.Open(p.log)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
next:
	for sc.Scan() {
		for _, part := range parts {
			if !bytes.Contains(sc.Bytes(), []byte(part)) {
				continue next
			}
		}
		n++
	}
	return n
}

// waitHTTP polls url until it answers 200, the process dies, or d passes.
func (p *proc) waitHTTP(t *testing.T, url string, d time.Duration) {
	t.Helper()
	answered := await.Poll(d, func() bool {
		if !p.running() {
			t.Fatalf("%s exited (%v) before answering %s:\n%s", p.name, p.err, url, p.tail(20))
		}
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if !answered {
		t.Fatalf("%s did not answer %s within %s:\n%s", p.name, url, d, p.tail(20))
	}
}
