package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthcheck asks the process running beside it (same container) whether
// it is up: GET /healthz on LISTEN_ADDR, or on OPS_ADDR for a worker. The
// image has no shell or curl, so Docker's HEALTHCHECK runs this.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	addr := firstNonEmpty(getenv("LISTEN_ADDR"), ":8080")
	if getenv("ROLE") == "worker" {
		if addr = getenv("OPS_ADDR"); addr == "" {
			return errors.New("healthcheck: a worker serves /healthz only when OPS_ADDR is set")
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s answered %d", url, resp.StatusCode)
	}
	return nil
}
