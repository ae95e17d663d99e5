// The data: sbtest1 prepared through the proxy and directly, checked on each shard, and the
// rows a run adds taken out again.

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// loadStats describes preparing the table.
type loadStats struct {
	rows                  int
	proxySecs, directSecs float64
	shard1, shard2        int
	maxProxy, maxDirect   int64  // largest id after prepare: rows above it are removed after each run
	vschema               string // SHOW VSCHEMA TABLES line of sbtest1 through the proxy
	sequence              string // the sequence's row in the global keyspace after prepare
}

// prepareArgs is the sysbench command line that creates and fills sbtest1 on a target: plain
// `sysbench oltp_read_write prepare`, with its default --auto_inc=on (an AUTO_INCREMENT id,
// multi-row INSERTs without ids, then CREATE INDEX k_1).
func prepareArgs(o options, t *target) []string {
	return append(append([]string{"oltp_read_write"}, connArgs(o, t)...), "prepare")
}

// connArgs are the sysbench options that reach sbtest1 on a target.
func connArgs(o options, t *target) []string {
	return []string{
		"--db-driver=mysql",
		"--mysql-host=127.0.0.1",
		"--mysql-port=" + t.port(),
		"--mysql-user=" + t.user,
		"--mysql-password=" + t.password,
		"--mysql-db=" + t.db,
		"--tables=1",
		"--table-size=" + strconv.Itoa(o.rows),
	}
}

// prepareTable runs sysbench's prepare against t; a failure carries sysbench's error lines
// and, for the proxy, the proxy's log of the run.
func (e *env) prepareTable(ctx context.Context, o options, t *target) (float64, error) {
	args := prepareArgs(o, t)
	var logOffset int64
	if st, err := os.Stat(e.proxyLog); err == nil {
		logOffset = st.Size()
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "sysbench", args...)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	secs := time.Since(start).Seconds()
	if err != nil {
		msg := fmt.Sprintf("sysbench %s against %s: %v\n%s", strings.Join(args, " "), t.name, err, indent(sysbenchErrors(string(out))))
		if t.name == "proxy" {
			if log := newLog(e.proxyLog, logOffset); strings.TrimSpace(log) != "" {
				msg += "\n  proxy log:\n" + indent(tailLines(log, 20))
			}
		}
		return secs, errors.New(msg)
	}
	return secs, nil
}

// load prepares sbtest1 through the proxy and on the direct server with sysbench, then checks
// the rows on each shard and on the direct server.
func (e *env) load(ctx context.Context, o options, proxy, direct *target) (loadStats, error) {
	st := loadStats{rows: o.rows}
	var err error
	fmt.Printf("sysbench oltp_read_write prepare (%d rows, AUTO_INCREMENT ids) through the proxy ...\n", o.rows)
	if st.proxySecs, err = e.prepareTable(ctx, o, proxy); err != nil {
		return st, err
	}
	fmt.Println("sysbench oltp_read_write prepare on the direct server ...")
	if st.directSecs, err = e.prepareTable(ctx, o, direct); err != nil {
		return st, err
	}

	var max1, max2 int64
	if st.shard1, max1, err = countMax(ctx, e.shard1.DSN("customer"), "sbtest1"); err != nil {
		return st, err
	}
	if st.shard2, max2, err = countMax(ctx, e.shard2.DSN("customer"), "sbtest1"); err != nil {
		return st, err
	}
	st.maxProxy = max(max1, max2)
	d, maxD, err := countMax(ctx, e.direct.DSN("sbtest"), "sbtest1")
	if err != nil {
		return st, err
	}
	st.maxDirect = maxD
	if st.shard1+st.shard2 != o.rows || d != o.rows || st.shard1 == 0 || st.shard2 == 0 {
		return st, fmt.Errorf("row counts after prepare: shard -80 %d + shard 80- %d (want %d, both > 0), direct %d", st.shard1, st.shard2, o.rows, d)
	}
	st.vschema = vschemaLine(ctx, "app:secret@tcp("+e.proxyAddr+")/customer", "sbtest1")
	st.sequence = queryString(ctx, e.global.DSN("commerce"), "SELECT CONCAT('next_id ', next_id, ', cache ', cache) FROM sbtest1_seq")
	fmt.Printf("  proxy %.1fs (%d rows on -80, %d on 80-, ids up to %d; vschema: %s; commerce.sbtest1_seq: %s), direct %.1fs\n",
		st.proxySecs, st.shard1, st.shard2, st.maxProxy, st.vschema, st.sequence, st.directSecs)
	return st, nil
}

// trim deletes the rows a run added (ids above the largest prepared one) from the servers
// behind t, so that every run and target sees the same table, and waits for InnoDB to purge
// them so that the purge does not run during the next measured run.
func (e *env) trim(ctx context.Context, t *target, load loadStats) {
	limit := load.maxDirect
	if t.schema == "customer" {
		limit = load.maxProxy
	}
	for _, s := range t.tables {
		db, err := sql.Open("mysql", s.DSN(t.schema))
		if err != nil {
			continue
		}
		res, err := db.ExecContext(ctx, "DELETE FROM sbtest1 WHERE id > ?", limit)
		if err != nil {
			fmt.Printf("  removing the rows the run added on :%d: %v\n", s.Port, err)
		} else if n, _ := res.RowsAffected(); n > 0 {
			waitPurge(ctx, db)
		}
		db.Close()
	}
}

// waitPurge waits (at most 30 s) until InnoDB's history list is short again.
func waitPurge(ctx context.Context, db *sql.DB) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var n int64
		err := db.QueryRowContext(ctx, "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'").Scan(&n)
		if err != nil || n < 1000 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// vschemaLine is the SHOW VSCHEMA TABLES row of table, its columns joined, or "?".
func vschemaLine(ctx context.Context, dsn, table string) string {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "?"
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SHOW VSCHEMA TABLES")
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if rows.Scan(ptrs...) != nil {
			return "?"
		}
		if len(vals) > 0 && strings.EqualFold(vals[0].String, table) {
			var parts []string
			for i, v := range vals[1:] {
				parts = append(parts, cols[i+1]+"="+v.String)
			}
			return strings.Join(parts, ", ")
		}
	}
	return "? (" + table + " not listed)"
}

func queryString(ctx context.Context, dsn, q string) string {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "?"
	}
	defer db.Close()
	var s string
	if err := db.QueryRowContext(ctx, q).Scan(&s); err != nil {
		return "?"
	}
	return s
}
