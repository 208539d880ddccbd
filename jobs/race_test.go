//go:build race

package jobs_test

// raceDetector says the tests run with -race, which makes CPU-bound work
// several times slower: the scale test then runs at a fifth of its size.
const raceDetector = true
