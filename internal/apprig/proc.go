package apprig

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is one segmentor process (web or worker) a tool runs: a process of
// its own, so that its CPU time and memory are its own (/proc/<pid>/stat,
// /proc/<pid>/status), apart from the simulated portals' and the tool's.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // its stderr and stdout (JSON logs)
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// BuildBinary builds ./cmd/segmentor into dir, from the module root the
// tool runs in (go run ./cmd/…), and returns its path.
func BuildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "segmentor")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/segmentor")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/segmentor (run the tool from the module root, or pass -bin): %v\n%s", err, out)
	}
	return bin, nil
}

// StartProc starts bin in role with exactly env (plus PATH), logging into
// dir/name.log.
func StartProc(bin, dir, name, role string, env map[string]string) (*Proc, error) {
	p := &Proc{Name: name, Log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	p.Cmd = exec.Command(bin, role)
	p.Cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		p.Cmd.Env = append(p.Cmd.Env, k+"="+v)
	}
	p.Cmd.Stdout, p.Cmd.Stderr = f, f
	if err := p.Cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Err is how the process exited: nil for status 0, and nil while it runs.
func (p *Proc) Err() error {
	if p.Running() {
		return nil
	}
	return p.err
}

// Kill ends the process with SIGKILL (kill -9) and waits for it.
func (p *Proc) Kill() {
	if p.Running() {
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Stop asks the process to shut down (SIGTERM) and kills it after d. Its
// error says how a shutdown went wrong: not within d, or a failing exit.
func (p *Proc) Stop(d time.Duration) error {
	if !p.Running() {
		return nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM", p.Name, p.err)
		}
		return nil
	case <-time.After(d):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.Name, d)
	}
}

// Tail returns the last n lines of the process's log.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Logged reports whether a log line contains s.
func (p *Proc) Logged(s string) bool { return p.CountLogged(s) > 0 }

// CountLogged counts the log lines that contain every one of parts.
func (p *Proc) CountLogged(parts ...string) int {
	f, err := os.Open(p.Log)
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

// WaitFor polls ok every 100 ms until it holds, the process exits, or d passes.
func (p *Proc) WaitFor(ctx context.Context, d time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(d)
	for {
		if ok() {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("%s exited before %s:\n%s", p.Name, what, p.Tail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s within %s:\n%s", p.Name, what, d, p.Tail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// HTTPOK reports whether url answers 200.
func HTTPOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// CPUSeconds is the process's user plus system CPU time so far, from
// /proc/<pid>/stat (utime and stime, fields 14 and 15, in clock ticks of
// 1/100 s, Linux's USER_HZ).
func (p *Proc) CPUSeconds() (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it are counted from its closing one.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", p.Cmd.Process.Pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", p.Cmd.Process.Pid, len(f))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", p.Cmd.Process.Pid, f[11], f[12])
	}
	return (utime + stime) / 100, nil
}

// RSSBytes is the process's resident set (VmRSS) now.
func (p *Proc) RSSBytes() int64 { return p.status("VmRSS:") }

// PeakRSSBytes is the process's peak resident set so far (VmHWM, the
// kernel's high-water mark): a peak between two samples is not missed.
func (p *Proc) PeakRSSBytes() int64 { return p.status("VmHWM:") }

// status reads one kB figure of /proc/<pid>/status; 0 when it cannot.
func (p *Proc) status(field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// FreeAddr returns a loopback address nothing listens on right now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}
