package redistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterAddrsEnv names the seed nodes (host:port, comma-separated) of a
// running Redis Cluster for the tests; .ci/run starts one (.ci/redis-cluster)
// and sets it.
const ClusterAddrsEnv = "REDIS_CLUSTER_TEST_ADDRS"

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster returns a client of a Redis Cluster of three masters: the one at
// REDIS_CLUSTER_TEST_ADDRS, or else one of its own, started from
// REDIS_SERVER_BIN in a temp dir and stopped when the test ends. Without
// either it skips the test, saying what to set; under CI it fails instead.
//
// A cluster has one database, so tests on a shared one keep apart by their
// keys (portals of their own member_ids); asynq's keys are shared by all.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	var addrs []string
	for _, a := range strings.Split(os.Getenv(ClusterAddrsEnv), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		bin := os.Getenv("REDIS_SERVER_BIN")
		if bin == "" {
			if os.Getenv("CI") != "" {
				t.Fatalf("CI is set but neither %s nor REDIS_SERVER_BIN is: the Redis Cluster tests must run (see .ci/run)", ClusterAddrsEnv)
			}
			t.Skipf("needs a Redis Cluster: set %s to a running cluster's nodes (.ci/redis-cluster start DIR prints them), or REDIS_SERVER_BIN to start one", ClusterAddrsEnv)
		}
		addrs = StartCluster(t, bin, 3)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitClusterOK(ctx, c); err != nil {
		t.Fatalf("redis cluster at %s: %v", strings.Join(addrs, ","), err)
	}
	return c
}

// PrivateCluster is Cluster for a test that needs the cluster to itself
// (asynq's keys, the scheduler's lock): always one of its own, from
// REDIS_SERVER_BIN, or skipped (under CI failed) without it.
func PrivateCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER_BIN")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but REDIS_SERVER_BIN is not: the Redis Cluster tests must run (see .ci/run)")
		}
		t.Skip("needs REDIS_SERVER_BIN to start a Redis Cluster of its own")
	}
	addrs := StartCluster(t, bin, 3)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitClusterOK(ctx, c); err != nil {
		t.Fatalf("redis cluster at %s: %v", strings.Join(addrs, ","), err)
	}
	return c
}

// waitClusterOK waits until the cluster serves every slot and every master
// answers.
func waitClusterOK(ctx context.Context, c *redis.ClusterClient) error {
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			if err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() }); err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StartCluster starts a Redis Cluster of n masters from bin (redis-server)
// on free local ports, in a temp dir, the slots split evenly; it returns the
// nodes' addresses, and the nodes are killed when the test ends. It assigns
// the slots and joins the nodes itself (CLUSTER ADDSLOTS, CLUSTER MEET), as
// redis-cli --cluster create does, so it needs no redis-cli.
func StartCluster(t testing.TB, bin string, n int) []string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var addrs []string
	var nodes []*redis.Client
	for i := range n {
		port := freeClusterPort(t)
		nodeDir := filepath.Join(dir, strconv.Itoa(port))
		if err := os.Mkdir(nodeDir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", nodeDir,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
			"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction",
			"--logfile", "redis.log")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start cluster node %d (%s): %v", i, bin, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
		})
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = c.Close() })
		for c.Ping(ctx).Err() != nil {
			select {
			case <-done:
				log, _ := os.ReadFile(filepath.Join(nodeDir, "redis.log"))
				t.Fatalf("cluster node %s exited:\n%s", addr, log)
			case <-ctx.Done():
				t.Fatalf("cluster node %s does not answer", addr)
			case <-time.After(20 * time.Millisecond):
			}
		}
		addrs, nodes = append(addrs, addr), append(nodes, c)
	}
	for i, c := range nodes {
		slots := make([]int, 0, clusterSlots/n+1)
		for s := i * clusterSlots / n; s < (i+1)*clusterSlots/n; s++ {
			slots = append(slots, s)
		}
		if err := c.ClusterAddSlots(ctx, slots...).Err(); err != nil {
			t.Fatalf("cluster node %s: add slots: %v", addrs[i], err)
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(addrs[i])
			p, _ := strconv.Atoi(port)
			if err := nodes[0].ClusterMeet(ctx, host, strconv.Itoa(p)).Err(); err != nil {
				t.Fatalf("cluster meet %s: %v", addrs[i], err)
			}
		}
	}
	for _, c := range nodes {
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r\n") {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the cluster did not form: %s %v", info, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return addrs
}

// freeClusterPort finds a port free for a node and for its cluster bus
// (the port + 10000).
func freeClusterPort(t testing.TB) int {
	t.Helper()
	for attempt := 0; ; attempt++ {
		if attempt == 1000 {
			t.Fatal("no free port for a cluster node")
		}
		port := 20000 + rand.IntN(35000)
		a, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		_ = a.Close()
		if err != nil {
			continue
		}
		_ = b.Close()
		return port
	}
}
