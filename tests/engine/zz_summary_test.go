package engine

import (
	"strings"
	"sync"
	"testing"
)

// The results of this run, repeated by TestZZSummary.
var (
	summaryMu   sync.Mutex
	lastTally   *tally
	lastSize    int
	memoryLines []string
)

func noteMemory(line string) {
	summaryMu.Lock()
	defer summaryMu.Unlock()
	memoryLines = append(memoryLines, line)
}

// TestZZSummary repeats the corpus summary and the memory figures as the
// package's last test, so they end the verbose output (go test runs the
// files in name order).
func TestZZSummary(t *testing.T) {
	summaryMu.Lock()
	defer summaryMu.Unlock()
	if lastTally == nil && len(memoryLines) == 0 {
		t.Skip("neither TestEngineCorpus nor TestScatterMemory ran")
	}
	var out []string
	if len(memoryLines) > 0 {
		out = append(out, "scatter memory (1M rows, 4 shards):")
		out = append(out, memoryLines...)
	}
	if lastTally != nil {
		out = append(out, lastTally.summary(lastSize))
	}
	t.Log(strings.Join(out, "\n"))
}
