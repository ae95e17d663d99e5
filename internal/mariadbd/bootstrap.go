package mariadbd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotInstalled is returned (wrapped) when mariadbd or mariadb-install-db cannot be found.
var ErrNotInstalled = errors.New(`mariadb-server is not installed: run "apt-get install mariadb-server"`)

// Binaries holds the paths of the MariaDB programs this package runs.
type Binaries struct {
	Mariadbd  string // the server, e.g. /usr/sbin/mariadbd
	InstallDB string // the bootstrap script, e.g. /usr/bin/mariadb-install-db
}

var extraDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin"}

func findProgram(names ...string) (string, bool) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, true
		}
	}
	for _, d := range extraDirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p, true
			}
		}
	}
	return "", false
}

// FindBinaries locates mariadbd and mariadb-install-db via PATH, then /usr/sbin, /usr/bin and
// /usr/local. The error wraps ErrNotInstalled when either is missing.
func FindBinaries() (Binaries, error) {
	var b Binaries
	var ok bool
	if b.Mariadbd, ok = findProgram("mariadbd", "mysqld"); !ok {
		return b, fmt.Errorf("mariadbd: mariadbd not found in PATH or %s: %w", strings.Join(extraDirs, ", "), ErrNotInstalled)
	}
	if b.InstallDB, ok = findProgram("mariadb-install-db", "mysql_install_db"); !ok {
		return b, fmt.Errorf("mariadbd: mariadb-install-db not found in PATH or %s: %w", strings.Join(extraDirs, ", "), ErrNotInstalled)
	}
	return b, nil
}

// bootstrapArgs are the server options given to mariadb-install-db. Changing them changes the
// template cache key.
var bootstrapArgs = []string{
	"--auth-root-authentication-method=normal",
	"--skip-test-db",
	"--skip-name-resolve",
	"--innodb-buffer-pool-size=64M",
	"--innodb-log-file-size=" + logFileSize,
}

const logFileSize = "8M"

// bootstrap runs mariadb-install-db into datadir (which must not exist or be empty).
func bootstrap(ctx context.Context, bin Binaries, datadir string) error {
	args := append([]string{"--no-defaults", "--datadir=" + datadir}, bootstrapArgs...)
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	if base := installBasedir(bin.Mariadbd); base != "" {
		args = append(args, "--basedir="+base)
	}
	cmd := exec.CommandContext(ctx, bin.InstallDB, args...)
	cmd.SysProcAttr = sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := startProcess(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return fmt.Errorf("mariadbd: %s failed: %v\n%s", filepath.Base(bin.InstallDB), err, tail(out.Bytes(), 40))
	}
	if _, err := os.Stat(filepath.Join(datadir, "mysql")); err != nil {
		return fmt.Errorf("mariadbd: %s did not create %s/mysql:\n%s", filepath.Base(bin.InstallDB), datadir, tail(out.Bytes(), 40))
	}
	return nil
}

// installBasedir returns a --basedir for mariadb-install-db when mariadbd lives outside the
// standard /usr layout (so the script can find it), or "" to keep the script's default.
func installBasedir(mariadbd string) string {
	d := filepath.Dir(mariadbd)
	if d == "/usr/sbin" || d == "/usr/bin" {
		return ""
	}
	return filepath.Dir(d)
}

// The template datadir is bootstrapped once and then copied for every new server: copying
// ~25 MB is much cheaper than running mariadb-install-db (~0.8 s of mostly CPU) per server.
// It is cached on disk (under $TMPDIR/shardgate-localdb-<uid>/, keyed by the mariadbd binary
// and the bootstrap options) so that parallel test processes share it too; a manifest of file
// sizes guards against a cache that was partly removed (e.g. by a /tmp cleaner).
var tmpl struct {
	mu  sync.Mutex
	dir string
}

const manifestName = "shardgate-template-manifest"

var errNoCache = errors.New("mariadbd: template cache unusable")

// CacheDir is where the template datadir is cached. Override with SHARDGATE_LOCALDB_CACHE.
func CacheDir() string {
	if d := os.Getenv("SHARDGATE_LOCALDB_CACHE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "shardgate-localdb-"+strconv.Itoa(os.Getuid()))
}

func templateKey(bin Binaries) string {
	h := sha256.New()
	fmt.Fprintln(h, "v1", bin.Mariadbd, bin.InstallDB, os.Geteuid() == 0, strings.Join(bootstrapArgs, " "))
	for _, p := range []string{bin.Mariadbd, bin.InstallDB} {
		if st, err := os.Stat(p); err == nil {
			fmt.Fprintln(h, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// templateDatadir returns a bootstrapped, read-only-by-convention datadir to copy from.
func templateDatadir(ctx context.Context, bin Binaries) (string, error) {
	tmpl.mu.Lock()
	defer tmpl.mu.Unlock()
	if tmpl.dir != "" && verifyManifest(tmpl.dir) == nil {
		return tmpl.dir, nil
	}
	root := CacheDir()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("%w: %v", errNoCache, err)
	}
	final := filepath.Join(root, "template-"+templateKey(bin))
	if verifyManifest(final) == nil {
		tmpl.dir = final
		return final, nil
	}
	work, err := os.MkdirTemp(root, "bootstrap-")
	if err != nil {
		return "", fmt.Errorf("%w: %v", errNoCache, err)
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "data")
	if err := bootstrap(ctx, bin, data); err != nil {
		return "", err
	}
	if err := writeManifest(data); err != nil {
		return "", err
	}
	// Replace a stale (failed verification) template, then publish ours atomically. If another
	// process published a valid one meanwhile, the rename fails and we use theirs.
	if _, err := os.Stat(final); err == nil && verifyManifest(final) != nil {
		stale := final + ".stale-" + strconv.Itoa(os.Getpid())
		if os.Rename(final, stale) == nil {
			os.RemoveAll(stale)
		}
	}
	if err := os.Rename(data, final); err != nil {
		if verifyManifest(final) != nil {
			return "", fmt.Errorf("mariadbd: publishing template datadir: %w", err)
		}
	}
	tmpl.dir = final
	return final, nil
}

func writeManifest(dir string) error {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%d %s\n", info.Size(), rel)
		return nil
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, manifestName), []byte(b.String()), 0o600)
}

func verifyManifest(dir string) error {
	m, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return err
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(m)), "\n") {
		size, rel, ok := strings.Cut(line, " ")
		if !ok {
			return errors.New("bad manifest")
		}
		st, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		if strconv.FormatInt(st.Size(), 10) != size {
			return fmt.Errorf("%s: size changed", rel)
		}
		n++
	}
	if n == 0 {
		return errors.New("empty manifest")
	}
	return nil
}

// copyDir copies the regular files and folders of src into dst (created), skipping the
// manifest. Files are copied by a few goroutines: with ~200 small files the cost is system calls.
func copyDir(src, dst string) error {
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if rel != manifestName && d.Type().IsRegular() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	next := make(chan string)
	for w := range errs {
		wg.Go(func() {
			for rel := range next {
				if errs[w] == nil {
					errs[w] = copyFile(filepath.Join(src, rel), filepath.Join(dst, rel))
				}
			}
		})
	}
	for _, rel := range files {
		next <- rel
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // copy_file_range on Linux
		out.Close()
		return err
	}
	return out.Close()
}

// prepareDatadir makes sure datadir holds a bootstrapped data directory, reusing it if present.
func prepareDatadir(ctx context.Context, bin Binaries, datadir string) error {
	if st, err := os.Stat(filepath.Join(datadir, "mysql")); err == nil && st.IsDir() {
		return nil // reuse
	}
	if entries, err := os.ReadDir(datadir); err == nil && len(entries) > 0 {
		return fmt.Errorf("mariadbd: %s exists but holds no MariaDB data directory (no mysql/ folder)", datadir)
	}
	os.Remove(datadir)
	partial := datadir + ".partial"
	os.RemoveAll(partial)
	src, err := templateDatadir(ctx, bin)
	if err == nil {
		err = copyDir(src, partial)
	} else if errors.Is(err, errNoCache) {
		// No usable cache (e.g. unwritable $TMPDIR): bootstrap this server directly.
		os.RemoveAll(partial)
		err = bootstrap(ctx, bin, partial)
	}
	if err != nil {
		os.RemoveAll(partial)
		return err
	}
	return os.Rename(partial, datadir)
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	s := strings.TrimRight(string(b), "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
