package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// noRedirects is the client for calls made with a token a portal sent us:
// a redirect must never carry that token to a host we did not choose.
var noRedirects = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// callWithToken POSTs one REST method with a token at a portal's stored
// endpoint and decodes its result into result (a pointer). Any error
// envelope, non-200 status or empty result is an error.
func callWithToken(ctx context.Context, client *http.Client, allowHTTP bool, endpoint, method, token string, result any) error {
	if !strings.HasPrefix(endpoint, "https://") && !(allowHTTP && strings.HasPrefix(endpoint, "http://")) {
		return fmt.Errorf("endpoint %q is not https", endpoint)
	}
	body, _ := json.Marshal(map[string]string{"auth": token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+method, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if client == nil {
		client = noRedirects
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&out); err != nil {
		return fmt.Errorf("%s answer: %w", method, err)
	}
	if resp.StatusCode != http.StatusOK || out.Error != "" || len(out.Result) == 0 || string(out.Result) == "null" {
		return fmt.Errorf("%s refused the token: %d %s", method, resp.StatusCode, out.Error)
	}
	if err := json.Unmarshal(out.Result, result); err != nil {
		return fmt.Errorf("%s result: %w", method, err)
	}
	return nil
}
