package machine

import (
	"strings"
	"testing"
)

// On the Linux machines the benchmarks run on, every fact reads.
func TestFacts(t *testing.T) {
	for name, v := range map[string]string{"CPUModel": CPUModel(), "Memory": Memory(), "Kernel": Kernel(), "LoadAvg": LoadAvg()} {
		if v == "?" || v == "" {
			t.Errorf("%s = %q", name, v)
		}
	}
	if m := Memory(); !strings.HasSuffix(m, " GiB") || strings.HasPrefix(m, "0.0") {
		t.Errorf("Memory = %q", m)
	}
	if n := len(strings.Fields(LoadAvg())); n != 3 {
		t.Errorf("LoadAvg has %d fields", n)
	}
}
