// Package machine reads the facts a benchmark report states about the
// machine it ran on (Linux /proc); "?" where one cannot be read.
package machine

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUModel is the first processor's model name.
func CPUModel() string {
	v, ok := procField("/proc/cpuinfo", "model name")
	if !ok {
		return "?"
	}
	return v
}

// Memory is the machine's RAM, e.g. "23.5 GiB".
func Memory() string {
	v, ok := procField("/proc/meminfo", "MemTotal")
	if !ok {
		return "?"
	}
	kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f GiB", kb/1024/1024)
}

// Kernel is the running kernel's release.
func Kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// LoadAvg is the 1, 5 and 15 minute load averages.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// procField returns the value of the first "key: value" line of a /proc
// file whose key is key.
func procField(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
