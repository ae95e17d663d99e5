package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// BuildShardgate builds cmd/shardgate into dir and returns the binary's
// path, for tests that run the proxy as its own process (kill -9, signals,
// the CLI).
func BuildShardgate(dir string) (string, error) {
	bin := filepath.Join(dir, "shardgate")
	out, err := exec.Command(goTool(), "build", "-o", bin, "github.com/shardgate/shardgate/cmd/shardgate").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build shardgate: %v\n%s", err, out)
	}
	return bin, nil
}

// goTool is the go command: on PATH, else the one of the toolchain that
// built the test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}
