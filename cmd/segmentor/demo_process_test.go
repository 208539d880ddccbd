package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"segmentor/internal/await"
)

// TestMain lets a test run the command as a user does: the test binary,
// started again with SEGMENTOR_ARGS set, is `segmentor $SEGMENTOR_ARGS`,
// with main's own flags, environment, signals and exit status.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("SEGMENTOR_ARGS"); ok {
		os.Args = append([]string{"segmentor"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startCommand starts the command in a process of its own, with env added to
// the test's environment; its output is read from the buffers.
func startCommand(t *testing.T, env []string, args string) (cmd *exec.Cmd, stdout, stderr *syncBuffer) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	cmd = exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{"SEGMENTOR_ARGS=" + args, "TMPDIR=" + t.TempDir()}, env...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, stdout, stderr
}

// `segmentor demo -h` prints the demo's flags and exits 0, as asking for
// help is not a failure.
func TestDemoHelpExitsZero(t *testing.T) {
	t.Parallel()
	cmd, stdout, stderr := startCommand(t, nil, "demo -h")
	if err := cmd.Wait(); err != nil {
		t.Errorf("segmentor demo -h: %v\nstderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"usage: segmentor demo [flags]", "-listen", "LISTEN_ADDR", "-deals"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("segmentor demo -h does not print %q:\n%s", want, stderr.String())
		}
	}
	if stdout.String() != "" {
		t.Errorf("segmentor demo -h ran the demo:\n%s", stdout.String())
	}
}

// The demo listens on LISTEN_ADDR, and Ctrl-C (SIGINT) stops the command
// with exit status 0, its last line saying so.
func TestDemoCommandListensOnListenAddrAndStopsOnCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo in a process")
	}
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd, stdout, stderr := startCommand(t, []string{"LISTEN_ADDR=" + addr},
		"demo -contacts 40 -companies 10 -deals 150 -pace 50ms -refresh 100ms")
	await.That(t, 90*time.Second, "the demo to go live", func() bool { return strings.Contains(stdout.String(), "Summary every") })
	if want := "Settings page, signed in as the portal's admin:  http://" + addr + "/\n"; !strings.Contains(stdout.String(), want) {
		t.Errorf("the demo does not print %q:\n%s", want, stdout.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("nothing answers on LISTEN_ADDR %s: %v", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz on LISTEN_ADDR = %d", resp.StatusCode)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("after Ctrl-C the demo exited with %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo did not stop within 60 s of Ctrl-C:\n%s", stdout.String())
	}
	if !strings.HasSuffix(stdout.String(), "\nStopped.\n") {
		t.Errorf("the demo's last line after Ctrl-C is not \"Stopped.\":\n%s", stdout.String())
	}
}
