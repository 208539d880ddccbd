package b24sim

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
)

// parseQuery parses a form body or query string; batch commands use it too.
func parseQuery(s string) (url.Values, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, fmt.Errorf("malformed form encoding: %v", err)
	}
	return v, nil
}

// mergeForm folds PHP-style bracketed keys into nested Params:
// fields[TITLE]=x, filter[>ID]=5, select[]=ID, cmd[a]=crm.deal.get?id=1.
func mergeForm(dst Params, vals url.Values) error {
	for _, key := range sortedValueKeys(vals) {
		for _, val := range vals[key] {
			path, err := splitKey(key)
			if err != nil {
				return err
			}
			if err := setPath(dst, path, val); err != nil {
				return fmt.Errorf("parameter %q: %v", key, err)
			}
		}
	}
	return nil
}

// splitKey turns "a[b][]" into ["a", "b", ""].
func splitKey(key string) ([]string, error) {
	i := strings.IndexByte(key, '[')
	if i < 0 {
		return []string{key}, nil
	}
	path := []string{key[:i]}
	rest := key[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, fmt.Errorf("malformed parameter name %q", key)
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, fmt.Errorf("malformed parameter name %q", key)
		}
		path = append(path, rest[1:j])
		rest = rest[j+1:]
	}
	return path, nil
}

func setPath(m Params, path []string, val string) error {
	k := path[0]
	if len(path) == 1 {
		m[k] = val
		return nil
	}
	child, ok := m[k].(Params)
	if !ok {
		if _, exists := m[k]; exists {
			return fmt.Errorf("both a value and a list")
		}
		child = Params{}
		m[k] = child
	}
	if path[1] == "" { // append: key[]
		path = append([]string{k, fmt.Sprint(len(child))}, path[2:]...)
	}
	return setPath(child, path[1:], val)
}

func sortedValueKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedKeys(m Params) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
