package ops

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/admin"
)

// TestBadConfigExits78: a configuration that does not load ends serve (and
// the commands that read one) with 78, EX_CONFIG, which the systemd unit
// does not restart (RestartPreventExitStatus=78); SHARDGATE_CONFIG names
// the file when --config is not given.
func TestBadConfigExits78(t *testing.T) {
	if binary == "" {
		t.Skip("no binary (SHARDGATE_SKIP_MARIADB=1)")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: {http: nowhere}\nunknown_key: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  []string
	}{
		{[]string{"serve", "--config", bad}, nil},
		{[]string{"serve"}, []string{"SHARDGATE_CONFIG=" + bad}},
		{[]string{"vschema", "check", "--offline", "--config", bad}, nil},
		{[]string{"topo", "get", "--config", bad}, nil},
	} {
		cmd := exec.Command(binary, c.args...)
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 78 {
			t.Errorf("%v %v: %v, want exit status 78\n%s", c.env, c.args, err, out)
		}
		if !strings.Contains(string(out), "unknown_key") {
			t.Errorf("%v: the error does not name the key:\n%s", c.args, out)
		}
	}
	// A good file whose etcd cannot be reached is no configuration error,
	// and the etcd commands take their endpoints from it.
	good := filepath.Join(dir, "etcd.yaml")
	if err := os.WriteFile(good, []byte("topology:\n  source: etcd\n  etcd: {endpoints: [\"127.0.0.1:9\"], prefix: /from-config, dial_timeout: 1s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "topo", "get", "--config", good)
	cmd.Env = append(os.Environ(), "SHARDGATE_ETCD=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 78 || !strings.Contains(string(out), "127.0.0.1:9") {
		t.Errorf("topo get with the config's etcd: %v\n%s", err, out)
	}
	// --version: commit, build date and Go version.
	out, err = exec.Command(binary, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "commit") || !strings.Contains(string(out), "go1.") {
		t.Errorf("--version: %v %s", err, out)
	}
}

// TestSystemdWatchdog: with WATCHDOG_USEC set (the unit's WatchdogSec), the
// proxy sends WATCHDOG=1 at half the interval while it runs.
func TestSystemdWatchdog(t *testing.T) {
	sock, received := notifySocket(t)
	count := func(s string) int {
		n := 0
		for _, g := range received() {
			if g == s {
				n++
			}
		}
		return n
	}
	startProcEnv(t, configYAML(t, options{}), []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"})
	eventually(t, 5*time.Second, "READY=1", func() bool { return count("READY=1") == 1 })
	start := time.Now()
	eventually(t, 5*time.Second, "5 watchdog pings", func() bool { return count("WATCHDOG=1") >= 5 })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("5 pings of a 200ms watchdog took %v", d)
	}
}

// TestHTTPSAndAdminListener: with listen.http_tls both HTTP listeners speak
// HTTPS only; with listen.admin, listen.http takes no action and the admin
// listener does (with the login and the CSRF header).
func TestHTTPSAndAdminListener(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	y := configYAML(t, options{
		listenExtra: "  admin: 127.0.0.1:0\n  http_tls: {cert: " + cert + ", key: " + key + "}\n",
		users:       "  - {name: ops, password: opspw, admin: true}\n",
	})
	p := startProc(t, y)
	var adminAddr string
	for _, line := range strings.Split(p.log(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "admin listening" {
			if a, ok := rec["admin"].(string); ok {
				adminAddr = a
			}
		}
	}
	if adminAddr == "" {
		t.Fatalf("no admin listener in the log:\n%s", p.log())
	}
	web := strings.Replace(p.HTTP, "http://", "https://", 1)
	adm := "https://" + adminAddr
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
	req := func(method, url string, auth bool) (int, string) {
		t.Helper()
		r, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			r.SetBasicAuth("ops", "opspw")
			r.Header.Set(admin.CSRFHeader, "1")
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := req("GET", web+"/metrics", false); code != 200 || !strings.Contains(body, "shardgate_build_info") {
		t.Errorf("metrics over HTTPS: %d", code)
	}
	if resp, err := http.Get(p.HTTP + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("listen.http answers plain HTTP although listen.http_tls is set")
		}
	}
	if code, body := req("POST", web+"/api/top/reset", true); code != 404 || !strings.Contains(body, "listen.admin") {
		t.Errorf("action on listen.http: %d %s", code, body)
	}
	if code, _ := req("GET", web+"/debug/pprof/cmdline", true); code != 404 {
		t.Errorf("pprof on listen.http: %d", code)
	}
	if code, body := req("POST", adm+"/api/top/reset", true); code != 200 {
		t.Errorf("action on listen.admin: %d %s", code, body)
	}
	if code, _ := req("POST", adm+"/api/top/reset", false); code == 200 {
		t.Error("action on listen.admin without login")
	}
	if code, _ := req("GET", adm+"/debug/pprof/cmdline", true); code != 200 {
		t.Errorf("pprof on listen.admin: %d", code)
	}
}
