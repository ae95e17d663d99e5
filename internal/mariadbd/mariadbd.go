// Package mariadbd starts real, throwaway MariaDB servers (one mariadbd per folder, each with its
// own datadir, socket, free TCP port and tmpdir) for tests and for `shardgate demo`.
//
// A new folder gets a copy of a template datadir bootstrapped once with mariadb-install-db (and
// cached, see CacheDir); a folder that already holds a datadir is reused, so Kill/Stop followed
// by Start or Restart keeps the data. Servers listen on 127.0.0.1 only, root has an empty
// password over TCP, and they are tuned for speed rather than durability against OS crashes
// (a kill -9 of mariadbd loses nothing committed). On Linux a server is SIGKILLed when the
// process that started it exits, even on panic, so no orphans remain.
package mariadbd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// StartTimeout bounds how long Start waits for a server to accept connections (ctx may
// bound it further).
var StartTimeout = 60 * time.Second

// StopTimeout bounds a graceful Stop before the server is killed.
var StopTimeout = 60 * time.Second

// Options tune a server. The zero value is what Start uses.
type Options struct {
	// Binlog enables a row-based binary log (log-bin, binlog_format=ROW, a server_id derived
	// from the folder) instead of --skip-log-bin, e.g. for change-data-capture tests.
	Binlog bool
	// Args are extra mariadbd options, appended last so they override the defaults,
	// e.g. "--max-allowed-packet=64M".
	Args []string
	// GTIDDomain, when not 0, makes the server a member of a MariaDB GTID replication
	// group (group.go): binary log, this gtid_domain_id, gtid_strict_mode, log_slave_updates,
	// semi-sync (the replica side on; the primary side is switched on by whoever makes it
	// primary) and the replication account ReplUser.
	GTIDDomain int
	// ReadOnly starts the server with read_only=ON (a replica).
	ReadOnly bool
}

// Server is one running mariadbd under its own folder.
type Server struct {
	Dir     string // the server's folder (absolute)
	Socket  string // unix socket path
	Port    int    // TCP port on 127.0.0.1
	DataDir string // Dir/data
	LogFile string // Dir/error.log, the server's error log (appended to across restarts)

	bin     Binaries
	opts    Options
	once    []string // extra arguments of the next start only (RestartWithArgs)
	sockDir string   // private short folder holding Socket when Dir is too long for a socket path

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// errBind marks a start that failed because the TCP port was taken.
var errBind = errors.New("port in use")

// Start bootstraps (or reuses) the datadir under dir and starts one mariadbd on a free port,
// waiting until it accepts connections as root over TCP. ctx bounds the wait.
func Start(ctx context.Context, dir string) (*Server, error) {
	return StartWithOptions(ctx, dir, Options{})
}

// StartWithOptions is Start with Options.
func StartWithOptions(ctx context.Context, dir string, opts Options) (*Server, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Dir:     abs,
		DataDir: filepath.Join(abs, "data"),
		LogFile: filepath.Join(abs, "error.log"),
		bin:     bin,
		opts:    opts,
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	if err := claimDir(s); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			releaseDir(s)
		}
	}()
	if pid, alive := runningPid(filepath.Join(abs, "mysqld.pid")); alive {
		return nil, fmt.Errorf("mariadbd: a mariadbd (pid %d) is already running on %s", pid, abs)
	}
	s.Socket = filepath.Join(abs, "mysqld.sock")
	if len(s.Socket) > 100 { // sun_path holds 108 bytes
		d, err := os.MkdirTemp("", "sgdb-")
		if err != nil {
			return nil, err
		}
		s.sockDir = d
		s.Socket = filepath.Join(d, "mysqld.sock")
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := prepareDatadir(ctx, bin, s.DataDir); err != nil {
		s.removeSockDir()
		return nil, err
	}
	if err := s.run(ctx, false); err != nil {
		s.removeSockDir()
		return nil, err
	}
	ok = true
	return s, nil
}

// Restart starts the server again on the same folder and the same port (stopping it
// gracefully first if it is still running).
func (s *Server) Restart(ctx context.Context) error {
	if s.Running() {
		if err := s.Stop(); err != nil {
			return err
		}
	}
	if err := claimDir(s); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := s.run(ctx, true); err != nil {
		releaseDir(s)
		return err
	}
	return nil
}

// run launches mariadbd, retrying on a port clash (with a new port unless samePort).
func (s *Server) run(ctx context.Context, samePort bool) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if !samePort {
			if s.Port, err = pickPort(); err != nil {
				return err
			}
		}
		err = s.launch(ctx)
		if err == nil || !errors.Is(err, errBind) || ctx.Err() != nil {
			return err
		}
		if samePort {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return err
}

// ProxyGrants are the rights shardgate needs on each database it serves:
// DML, DDL, temporary tables and views. XA, KILL QUERY of its own
// connections and reading information_schema need no grant; nothing on the
// mysql schema.
const ProxyGrants = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, CREATE VIEW, SHOW VIEW"

// ProxyGlobalGrants are its rights on *.*: PROCESS, for the deadlock
// detector to read information_schema.INNODB_TRX and INNODB_LOCK_WAITS
// (without it MariaDB answers 1227). Nothing else (SUPER, FILE, GRANT
// OPTION); clients cannot use it through the proxy (docs/operations.md).
const ProxyGlobalGrants = "PROCESS"

// CreateProxyAccount creates (or resets) the least-privilege account
// user@'%', user@'127.0.0.1' and user@'localhost' with ProxyGrants on each
// of databases, creating them, and ProxyGlobalGrants. It is what
// docs/operations.md asks of an operator.
func (s *Server) CreateProxyAccount(ctx context.Context, user, password string, databases ...string) error {
	var stmts []string
	for _, host := range []string{"%", "127.0.0.1", "localhost"} {
		acct := fmt.Sprintf("'%s'@'%s'", user, host)
		stmts = append(stmts, fmt.Sprintf("CREATE USER IF NOT EXISTS %s IDENTIFIED BY '%s'", acct, password),
			fmt.Sprintf("GRANT %s ON *.* TO %s", ProxyGlobalGrants, acct))
		for _, db := range databases {
			stmts = append(stmts, fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s`", db),
				fmt.Sprintf("GRANT %s ON `%s`.* TO %s", ProxyGrants, db, acct))
		}
	}
	return s.Exec(ctx, stmts...)
}

// initSQL runs at every start (--init-file): root must be able to log in over TCP with an
// empty password, whatever created the datadir.
const initSQL = `SET sql_log_bin=0;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
`

func (s *Server) args() []string {
	a := []string{
		"--no-defaults",
		"--datadir=" + s.DataDir,
		"--socket=" + s.Socket,
		"--port=" + strconv.Itoa(s.Port),
		"--bind-address=127.0.0.1",
		"--tmpdir=" + filepath.Join(s.Dir, "tmp"),
		"--pid-file=" + filepath.Join(s.Dir, "mysqld.pid"),
		"--log-error=" + s.LogFile,
		"--init-file=" + filepath.Join(s.Dir, "init.sql"),
		"--skip-name-resolve",
		"--max-connections=1000",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=64M",
		"--innodb-log-file-size=" + logFileSize,
		"--innodb-flush-log-at-trx-commit=2",
		"--innodb-doublewrite=0", // torn pages need an OS crash, not a process crash
		"--sync-binlog=0",
		"--performance-schema=OFF",
	}
	if os.Geteuid() == 0 {
		a = append(a, "--user=root")
	}
	if s.opts.GTIDDomain != 0 {
		a = append(a, replicationArgs(s.opts.GTIDDomain, s.serverID())...)
	} else if s.opts.Binlog {
		h := fnv.New32a()
		h.Write([]byte(s.Dir))
		a = append(a, "--log-bin=mysql-bin", "--binlog-format=ROW",
			"--server-id="+strconv.FormatUint(uint64(h.Sum32()%(1<<31)+1), 10))
	} else {
		a = append(a, "--skip-log-bin")
	}
	if s.opts.ReadOnly {
		a = append(a, "--read-only=ON")
	}
	a = append(a, s.opts.Args...)
	return append(a, s.once...)
}

// serverID derives a server_id from the folder, as the binlog options do.
func (s *Server) serverID() uint32 {
	h := fnv.New32a()
	h.Write([]byte(s.Dir))
	return h.Sum32()%(1<<31) + 1
}

// launch starts mariadbd once and waits until it serves connections.
func (s *Server) launch(ctx context.Context) error {
	for _, d := range []string{filepath.Join(s.Dir, "tmp"), filepath.Dir(s.Socket)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	init := initSQL
	if s.opts.GTIDDomain != 0 {
		init += replInitSQL
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "init.sql"), []byte(init), 0o600); err != nil {
		return err
	}
	logf, err := os.OpenFile(s.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	var offset int64
	if st, err := logf.Stat(); err == nil {
		offset = st.Size()
	}
	cmd := exec.Command(s.bin.Mariadbd, s.args()...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf // early messages, before --log-error takes over
	cmd.SysProcAttr = sysProcAttr()
	err = startProcess(cmd)
	logf.Close()
	if err != nil {
		return fmt.Errorf("mariadbd: starting %s: %w", s.bin.Mariadbd, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	err = s.waitReady(ctx, done)
	if err == nil {
		return nil
	}
	cmd.Process.Kill()
	<-done
	s.mu.Lock()
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	log := s.logSince(offset)
	if strings.Contains(log, "Bind on TCP/IP port") || strings.Contains(log, "Address already in use") {
		err = fmt.Errorf("%w: %v", errBind, err)
	}
	return fmt.Errorf("mariadbd: mariadbd on %s (port %d): %w\n--- tail of %s ---\n%s", s.Dir, s.Port, err, s.LogFile, tail([]byte(log), 30))
}

func (s *Server) waitReady(ctx context.Context, done <-chan struct{}) error {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = s.Addr()
	cfg.Timeout = 2 * time.Second
	cfg.ReadTimeout = 10 * time.Second
	cfg.WriteTimeout = 10 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	tick := time.NewTicker(15 * time.Millisecond)
	defer tick.Stop()
	lastErr := errors.New("not accepting connections yet")
	for {
		select {
		case <-done:
			return errors.New("mariadbd exited during startup: " + s.exitStatus())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
			c.Close()
			// Cancel the query if our server exits: whoever accepted the connection may not be it.
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			go func() {
				select {
				case <-done:
					cancel()
				case <-qctx.Done():
				}
			}()
			var sock string
			err = db.QueryRowContext(qctx, "SELECT @@socket").Scan(&sock)
			cancel()
			switch {
			case err == nil && sock == s.Socket:
				return nil
			case err == nil:
				lastErr = fmt.Errorf("port %d is served by another server (socket %s)", s.Port, sock)
			default:
				lastErr = err
				var me *mysql.MySQLError
				if errors.As(err, &me) && me.Number == 1045 { // access denied: will not fix itself
					select {
					case <-done: // not ours: our server failed to bind
						return errors.New("mariadbd exited during startup: " + s.exitStatus())
					case <-time.After(300 * time.Millisecond):
						return err
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
		case <-done:
		case <-tick.C:
		}
	}
}

func (s *Server) exitStatus() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.ProcessState != nil {
		return s.cmd.ProcessState.String()
	}
	return "exited"
}

func (s *Server) logSince(offset int64) string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return err.Error()
	}
	if offset > int64(len(b)) {
		offset = 0
	}
	return string(b[offset:])
}

// LogTail returns the last n lines of the server's error log.
func (s *Server) LogTail(n int) string { return tail([]byte(s.logSince(0)), n) }

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// DSN is a go-sql-driver DSN for root (empty password) over TCP, database db ("" for none),
// with multiStatements=true and interpolateParams=false.
func (s *Server) DSN(db string) string {
	return "root@tcp(" + s.Addr() + ")/" + db + "?multiStatements=true&interpolateParams=false"
}

// DB opens a *sql.DB on DSN(db). The caller closes it.
func (s *Server) DB(db string) (*sql.DB, error) { return sql.Open("mysql", s.DSN(db)) }

// Exec runs the statements in order as root on one connection (no default database).
func (s *Server) Exec(ctx context.Context, stmts ...string) error {
	db, err := s.DB("")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("mariadbd: %s: %w", s.Addr(), err)
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			if len(q) > 200 {
				q = q[:200] + "..."
			}
			return fmt.Errorf("mariadbd: %s: %q: %w", s.Addr(), q, err)
		}
	}
	return nil
}

// Running reports whether the mariadbd process is alive.
func (s *Server) Running() bool {
	started, ended := s.processState()
	return started && !ended
}

// exited reports whether the server's process has exited by itself (crashed or killed from
// outside) without Stop or Kill having been called.
func (s *Server) exited() bool {
	started, ended := s.processState()
	return started && ended
}

// processState tells whether a process was started (and not yet reaped by
// Stop or Kill) and whether it has ended.
func (s *Server) processState() (started, ended bool) {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false, false
	}
	select {
	case <-done:
		return true, true
	default:
		return true, false
	}
}

// Pid is the mariadbd process id, or 0 when it is not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop shuts the server down gracefully (SIGTERM, then wait; SIGKILL after StopTimeout).
// Stopping a server that is not running is a no-op.
func (s *Server) Stop() error {
	return s.signal(syscall.SIGTERM, StopTimeout)
}

// Kill kills the server with SIGKILL (as in a crash) and waits for it to exit. Its datadir is
// kept: Start on the same folder, or Restart, recovers it.
func (s *Server) Kill() error {
	return s.signal(syscall.SIGKILL, 0)
}

func (s *Server) signal(sig syscall.Signal, timeout time.Duration) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	var err error
	select {
	case <-done:
	default:
		cmd.Process.Signal(sig) // fails only if it has already exited
		if timeout > 0 {
			select {
			case <-done:
			case <-time.After(timeout):
				cmd.Process.Kill()
				err = fmt.Errorf("mariadbd: mariadbd on %s did not stop within %v; killed it", s.Dir, timeout)
				<-done
			}
		} else {
			<-done
		}
	}
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd, s.done = nil, nil
	}
	s.mu.Unlock()
	releaseDir(s)
	s.removeSockDir()
	return err
}

func (s *Server) removeSockDir() {
	if s.sockDir != "" {
		os.RemoveAll(s.sockDir)
	}
}

// StartCluster starts n servers in parallel under dir (dir/s0, dir/s1, ...). On error the
// servers that did start are killed.
func StartCluster(ctx context.Context, dir string, n int) ([]*Server, error) {
	return StartClusterWithOptions(ctx, dir, n, Options{})
}

// StartClusterWithOptions is StartCluster with Options for every server.
func StartClusterWithOptions(ctx context.Context, dir string, n int, opts Options) ([]*Server, error) {
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			servers[i], errs[i] = StartWithOptions(ctx, filepath.Join(dir, "s"+strconv.Itoa(i)), opts)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range servers {
			if s != nil {
				s.Kill()
			}
		}
		return nil, err
	}
	return servers, nil
}

// StopAll stops the servers gracefully, in parallel. Nil entries are ignored.
func StopAll(servers []*Server) {
	each(servers, (*Server).Stop)
}

// KillAll kills the servers (SIGKILL), in parallel: the fast way to discard throwaway servers.
func KillAll(servers []*Server) {
	each(servers, (*Server).Kill)
}

func each(servers []*Server, f func(*Server) error) {
	var wg sync.WaitGroup
	for _, s := range servers {
		if s != nil {
			wg.Go(func() { f(s) })
		}
	}
	wg.Wait()
}

// Ports handed out in this process are never handed out again, so a stopped server's port
// stays free for its Restart.
var ports struct {
	sync.Mutex
	used map[int]bool
}

func pickPort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if ports.used == nil {
		ports.used = map[int]bool{}
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("mariadbd: picking a free port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports.used[p] {
			ports.used[p] = true
			return p, nil
		}
	}
	return 0, errors.New("mariadbd: no free port found")
}

// Folders with a server (being) started by this process.
var dirs struct {
	sync.Mutex
	m map[string]*Server
}

func claimDir(s *Server) error {
	dirs.Lock()
	defer dirs.Unlock()
	if dirs.m == nil {
		dirs.m = map[string]*Server{}
	}
	if o, ok := dirs.m[s.Dir]; ok && o != s && !o.exited() {
		return fmt.Errorf("mariadbd: a server started by this process is already running on %s", s.Dir)
	}
	dirs.m[s.Dir] = s
	return nil
}

func releaseDir(s *Server) {
	dirs.Lock()
	defer dirs.Unlock()
	if dirs.m[s.Dir] == s {
		delete(dirs.m, s.Dir)
	}
}

// runningPid reports the pid in a pid file if that process is alive and is a mariadbd.
func runningPid(pidFile string) (int, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, false
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil {
		base := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
		return pid, base == "mariadbd" || base == "mysqld"
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return pid, true // cannot tell (no /proc): assume it is
	}
	c := strings.TrimSpace(string(comm))
	return pid, c == "mariadbd" || c == "mysqld"
}
