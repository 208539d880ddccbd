// Package browsertest finds the Chromium the browser tests drive. Without
// one a test goes on without its browser part, unless CI is set: under CI a
// missing browser is a failure, never a silent skip.
package browsertest

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the browser's path, or "" when none is installed
// outside CI (a test then skips its browser part).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but no chromium is installed: the browser test must run")
	}
	return ""
}

// Artifacts is the directory a test writes what a person looks at after
// the run (screenshots): TEST_ARTIFACTS when set, else the test's own
// temporary directory. It logs the path.
func Artifacts(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("artifacts in %s", dir)
	return dir
}
