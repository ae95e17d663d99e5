package mariadbd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The replication account every server of a group has (created at each start, not
// replicated): replicas log in to their primary with it.
const (
	ReplUser     = "repl"
	ReplPassword = "repl"
)

// AppUser is an account of every group member (empty password) with the privileges an
// application needs, and PROCESS for the deadlock detector (ProxyGlobalGrants), but neither
// SUPER nor READ_ONLY ADMIN, so read_only stops its writes: the account a proxy should use on
// a replication group.
const AppUser = "shardgate"

const replInitSQL = `CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, BINLOG MONITOR ON *.* TO 'repl'@'%';
CREATE USER IF NOT EXISTS 'shardgate'@'%' IDENTIFIED BY '';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES, CREATE VIEW, SHOW VIEW ON *.* TO 'shardgate'@'%';
GRANT ` + ProxyGlobalGrants + ` ON *.* TO 'shardgate'@'%';
`

// replicationArgs are the options of a member of a GTID replication group (see
// Options.GTIDDomain). Semi-sync waits AFTER_SYNC (lossless: nothing is visible before a
// replica has it), and not at all when no replica is connected (a lone primary stays
// writable); the primary side is switched on only on the primary (Group.Start,
// shardgate's promotion), since replicas that log their updates would block their
// appliers on acknowledgements.
func replicationArgs(domain int, serverID uint32) []string {
	return []string{
		"--log-bin=mysql-bin",
		"--binlog-format=ROW",
		"--server-id=" + strconv.FormatUint(uint64(serverID), 10),
		"--gtid-domain-id=" + strconv.Itoa(domain),
		"--gtid-strict-mode=ON",
		"--log-slave-updates=ON",
		"--relay-log=relay-bin",
		"--rpl-semi-sync-slave-enabled=ON",
		"--rpl-semi-sync-slave-kill-conn-timeout=1", // STOP SLAVE with a hung primary waits this long
		"--rpl-semi-sync-master-wait-point=AFTER_SYNC",
		"--rpl-semi-sync-master-wait-no-slave=OFF",
		"--rpl-semi-sync-master-timeout=10000",
		"--slave-net-timeout=10",
	}
}

// Group is a MariaDB GTID replication group: Servers[0] is started as the primary, the
// others replicate from it.
type Group struct {
	Domain  int
	Servers []*Server
}

// StartGroup starts n servers under dir (dir/s0 … dir/s<n-1>) in gtid_domain_id domain:
// s0 is the primary (read_only off, semi-sync primary side on), the others are read-only
// replicas of it (MASTER_USE_GTID=slave_pos, semi-sync). It returns once every replica
// replicates. On error the servers that did start are killed.
func StartGroup(ctx context.Context, dir string, n, domain int) (*Group, error) {
	if n < 1 || domain <= 0 {
		return nil, fmt.Errorf("mariadbd: a group needs at least one server and a gtid domain above 0")
	}
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			servers[i], errs[i] = StartWithOptions(ctx, filepath.Join(dir, "s"+strconv.Itoa(i)),
				Options{GTIDDomain: domain, ReadOnly: i > 0})
		})
	}
	wg.Wait()
	g := &Group{Domain: domain, Servers: servers}
	err := errors.Join(errs...)
	if err == nil {
		err = g.wire(ctx)
	}
	if err != nil {
		KillAll(servers)
		return nil, err
	}
	return g, nil
}

// StartGroups starts one group per domain (under dir/g<domain>) in parallel.
func StartGroups(ctx context.Context, dir string, n int, domains ...int) ([]*Group, error) {
	groups := make([]*Group, len(domains))
	errs := make([]error, len(domains))
	var wg sync.WaitGroup
	for i, d := range domains {
		wg.Go(func() {
			groups[i], errs[i] = StartGroup(ctx, filepath.Join(dir, "g"+strconv.Itoa(d)), n, d)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, g := range groups {
			if g != nil {
				g.Kill()
			}
		}
		return nil, err
	}
	return groups, nil
}

func (g *Group) wire(ctx context.Context) error {
	p := g.Servers[0]
	if err := p.Exec(ctx, "SET GLOBAL rpl_semi_sync_master_enabled=ON", "SET GLOBAL read_only=OFF"); err != nil {
		return err
	}
	for _, r := range g.Servers[1:] {
		if err := r.ReplicateFrom(ctx, p); err != nil {
			return err
		}
	}
	return g.WaitCaughtUp(ctx, p)
}

// Primary is Servers[0], the server StartGroup made primary.
func (g *Group) Primary() *Server { return g.Servers[0] }

// Addrs lists the servers' addresses.
func (g *Group) Addrs() []string {
	a := make([]string, len(g.Servers))
	for i, s := range g.Servers {
		a[i] = s.Addr()
	}
	return a
}

// Kill kills every server of the group.
func (g *Group) Kill() { KillAll(g.Servers) }

// Stop stops every server of the group gracefully.
func (g *Group) Stop() { StopAll(g.Servers) }

// ReplicateFrom makes s a replica of primary (GTID, from s's gtid_slave_pos) and starts
// replication.
func (s *Server) ReplicateFrom(ctx context.Context, primary *Server) error {
	return s.Exec(ctx, "STOP SLAVE",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			primary.Port, ReplUser, ReplPassword),
		"START SLAVE")
}

// WaitCaughtUp waits until every other running server of the group has applied
// everything primary has in its binary log.
func (g *Group) WaitCaughtUp(ctx context.Context, primary *Server) error {
	db, err := primary.DB("")
	if err != nil {
		return err
	}
	defer db.Close()
	var pos string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return fmt.Errorf("mariadbd: %s: %w", primary.Addr(), err)
	}
	for _, s := range g.Servers {
		if s == primary || !s.Running() {
			continue
		}
		if err := s.WaitGTID(ctx, pos, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// WaitGTID waits until s has applied pos (MASTER_GTID_WAIT).
func (s *Server) WaitGTID(ctx context.Context, pos string, timeout time.Duration) error {
	db, err := s.DB("")
	if err != nil {
		return err
	}
	defer db.Close()
	var res sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds()).Scan(&res); err != nil {
		return fmt.Errorf("mariadbd: %s: MASTER_GTID_WAIT: %w", s.Addr(), err)
	}
	if !res.Valid || res.Int64 != 0 {
		return fmt.Errorf("mariadbd: %s has not applied %s within %v (replication broken? see %s)", s.Addr(), pos, timeout, s.LogFile)
	}
	return nil
}

// RestartWithArgs starts the server again like Restart, with extra mariadbd options for
// this start only (e.g. "--init-rpl-role=SLAVE" to rejoin an old primary as a replica).
func (s *Server) RestartWithArgs(ctx context.Context, args ...string) error {
	s.mu.Lock()
	s.once = args
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.once = nil
		s.mu.Unlock()
	}()
	return s.Restart(ctx)
}

// SetReadOnly changes whether the server starts read-only (Options.ReadOnly) at its next
// Restart.
func (s *Server) SetReadOnly(ro bool) {
	s.mu.Lock()
	s.opts.ReadOnly = ro
	s.mu.Unlock()
}

// Pause stops the server's process with SIGSTOP (a hung server: connections stay open,
// nothing answers); Resume continues it.
func (s *Server) Pause() error { return s.sendSignal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.sendSignal(syscall.SIGCONT) }

func (s *Server) sendSignal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("mariadbd: %s is not running", s.Dir)
	}
	return cmd.Process.Signal(sig)
}
