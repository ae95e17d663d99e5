package router

import (
	"context"
	"regexp"
	"strings"

	"go.uber.org/zap"
)

// Rights of the shard account that a statement slipping past the policy
// (package policy) could turn against the servers: SUPER (shutdown, SET GLOBAL,
// kill any session), FILE (read and write the servers' files), GRANT OPTION
// (create accounts). The proxy needs none of them (docs/operations.md).
var (
	reDangerousGrant = regexp.MustCompile(`(?i)\bGRANT\s+(.*?)\s+ON\s+(\S+)\s+TO\b.*?(\bWITH\b.*\bGRANT\s+OPTION\b)?$`)
	dangerousRights  = []string{"ALL PRIVILEGES", "SUPER", "FILE", "SHUTDOWN", "CREATE USER"}
)

// CheckPrivilegesInBackground runs CheckPrivileges once on a goroutine the
// router owns (a shard that is down must not delay startup).
func (r *Router) CheckPrivilegesInBackground() {
	r.background(func(ctx context.Context) { r.CheckPrivileges(ctx) })
}

// CheckPrivileges asks every shard server for the grants of the account
// the proxy uses and logs a warning for each right it should not have. It
// returns the warnings (one per server and right); servers it cannot reach
// are skipped.
func (r *Router) CheckPrivileges(ctx context.Context) []string {
	seen := map[string]bool{}
	var warnings []string
	for _, p := range r.Pools() {
		if seen[p.Addr()] {
			continue
		}
		seen[p.Addr()] = true
		c, err := p.GetPlain(ctx)
		if err != nil {
			continue
		}
		rows, err := c.QueryStrings(ctx, "SHOW GRANTS")
		c.Release()
		if err != nil {
			continue
		}
		if r.cfg.Deadlock.Threshold > 0 && !hasProcess(rows) {
			w := "the shard account of " + p.Name() + " (" + p.Addr() + ") lacks PROCESS: the deadlock detector cannot read its lock waits, so deadlocks across shards end in innodb_lock_wait_timeout (GRANT PROCESS ON *.* TO it; docs/operations.md)"
			r.log.Warn("shard account lacks PROCESS: deadlocks across shards are not detected", zap.String("shard", p.Name()), zap.String("server", p.Addr()))
			warnings = append(warnings, w)
		}
		for _, right := range riskyRights(rows) {
			w := "the shard account of " + p.Name() + " (" + p.Addr() + ") holds " + right +
				": a client statement that got past shardgate would run with it; give the proxy a least-privilege account (docs/operations.md, trust model)"
			r.log.Warn("shard account has more rights than shardgate needs", zap.String("shard", p.Name()), zap.String("server", p.Addr()), zap.String("right", right))
			warnings = append(warnings, w)
		}
	}
	return warnings
}

// riskyRights returns the dangerous rights SHOW GRANTS rows give.
func riskyRights(rows [][]string) []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		m := reDangerousGrant.FindStringSubmatch(strings.TrimSpace(row[0]))
		if m == nil {
			continue
		}
		privs, on := strings.ToUpper(m[1]), m[2]
		if m[3] != "" {
			add("GRANT OPTION")
		}
		if on != "*.*" {
			continue // rights on one database are what the proxy needs
		}
		for _, right := range dangerousRights {
			if strings.Contains(privs, right) {
				add(right + " ON *.*")
			}
		}
	}
	return out
}

// hasProcess reports whether SHOW GRANTS rows give PROCESS on *.* (or ALL
// PRIVILEGES there), which the deadlock detector needs.
func hasProcess(rows [][]string) bool {
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		m := reDangerousGrant.FindStringSubmatch(strings.TrimSpace(row[0]))
		if m == nil || m[2] != "*.*" {
			continue
		}
		for _, priv := range strings.Split(strings.ToUpper(m[1]), ",") {
			if p := strings.TrimSpace(priv); p == "PROCESS" || p == "ALL PRIVILEGES" || p == "ALL" {
				return true
			}
		}
	}
	return false
}
