package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"segmentor/internal/await"

	"github.com/redis/go-redis/v9"
)

// redisServer is a private redis-server with AOF on (fsync on every
// write), in a temp dir, that a test may stop and start again.
type redisServer struct {
	t    *testing.T
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisServer starts redis-server from REDIS_SERVER_BIN or PATH; it
// fails under CI when there is none, and skips elsewhere.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("redis-server")
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but there is no redis-server (set REDIS_SERVER_BIN or put it in PATH; .ci/run installs it)")
		}
		t.Skip("needs redis-server (REDIS_SERVER_BIN or PATH)")
	}
	s := &redisServer{t: t, bin: bin, dir: t.TempDir(), addr: freeAddr(t)}
	s.start()
	t.Cleanup(func() {
		if s.running() {
			_ = s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
		}
	})
	return s
}

func (s *redisServer) running() bool { return s.done != nil && !closed(s.done) }

func (s *redisServer) start() {
	s.t.Helper()
	host, port, _ := strings.Cut(s.addr, ":")
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = exec.Command(s.bin, "--bind", host, "--port", port, "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--databases", "16", "--maxmemory-policy", "noeviction")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	s.done = done
	go func() {
		_ = s.cmd.Wait()
		logf.Close()
		close(done)
	}()
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	if !await.Poll(10*time.Second, func() bool { return c.Ping(context.Background()).Err() == nil || !s.running() }) || !s.running() {
		b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		s.t.Fatalf("redis-server at %s did not answer:\n%s", s.addr, b)
	}
}

// restart stops the server with SIGTERM (it finishes writing its AOF) and
// starts it again on the same directory and port.
func (s *redisServer) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// stop stops the server with SIGTERM and waits for it to exit.
func (s *redisServer) stop() {
	s.t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.t.Fatal("redis-server did not stop within 20s of SIGTERM")
	}
}

// options are go-redis options for database db of the server.
func (s *redisServer) options(db int) *redis.Options {
	return &redis.Options{Addr: s.addr, DB: db}
}
