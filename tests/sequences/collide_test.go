package sequences

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/internal/testenv"
)

// Issue 26: no sharded table gets ids that collide across shards without
// the user asking for it.

// TestSequenceForExistingTable: a table the vschema lists without
// auto_increment, created on the shards before (each shard numbered its
// rows: ids 1 and 2 on both), gets a sequence when an auto_vschema proxy
// starts, seeded above the largest id of any shard; new rows get ids no
// shard holds.
func TestSequenceForExistingTable(t *testing.T) {
	dropEverywhere(t, "iq_old", "iq_old_seq")
	for i, s := range servers[1:3] {
		if err := s.Exec(context.Background(), fmt.Sprintf(idCreate, "customer.iq_old"),
			fmt.Sprintf("INSERT INTO customer.iq_old (c, v) VALUES (%d, 'x'), (%d, 'y')", i, i),
			fmt.Sprintf("INSERT INTO customer.iq_old (id, c, v) VALUES (%d, %d, 'z')", 40+i, i)); err != nil {
			t.Fatal(err)
		}
	}
	p := start(t)
	db := p.DB(t, "customer")
	if got, want := fmt.Sprint(vschemaTables(t, db)["iq_old"]), "[sharded c hash id from commerce.iq_old_seq vschema+auto]"; got != want {
		t.Errorf("SHOW VSCHEMA TABLES iq_old: %s, want %s", got, want)
	}
	if next, _ := seqNext(t, "iq_old_seq"); next != 42 {
		t.Errorf("commerce.iq_old_seq created with next_id %d, want 42 (above the largest id, 41, on shard 80-)", next)
	}
	a, b := shardKeys(t)
	mustExec(t, db, fmt.Sprintf("INSERT INTO iq_old (c, v) VALUES (%d, 'a'), (%d, 'b')", a, b))
	for _, r := range readShards(t, "iq_old", "v") {
		if (r.v == "a" || r.v == "b") && r.id < 42 {
			t.Errorf("new row %s got id %d, which a shard had numbered before", r.v, r.id)
		}
	}
}

// noAutoVSchema is the vschema of a keyspace without auto_vschema: iq_w1
// listed without a sequence, iq_w2 with one, iq_ms with one that does not
// exist.
const noAutoVSchema = `vindexes:
  hash: {type: hash}
tables:
  iq_w1:
    column_vindexes: [{column: c, name: hash}]
  iq_w2:
    column_vindexes: [{column: c, name: hash}]
    auto_increment: {column: id, sequence: commerce.iq_w2_seq}
  iq_ms:
    column_vindexes: [{column: c, name: hash}]
    auto_increment: {column: id, sequence: commerce.iq_ms_seq}
`

// TestAutoIncrementWarning: without auto_vschema, DDL through the proxy
// that gives a sharded table an AUTO_INCREMENT column without a sequence
// succeeds with a warning (SHOW WARNINGS names the table, the column and
// the vschema entry to add); Router.CheckIDs and `shardgate vschema check`
// report such tables of an existing schema.
func TestAutoIncrementWarning(t *testing.T) {
	for _, tbl := range []string{"iq_w1", "iq_w2", "iq_w3", "iq_w4", "iq_w5", "iq_ms"} {
		dropEverywhere(t, tbl, tbl+"_seq")
	}
	createMySeq(t, "iq_w2_seq", 1000)
	q := testenv.StartProxy(t, testenv.Topology{Global: servers[0], Shards: servers[1:3], NoAutoVSchema: true, VSchema: noAutoVSchema})
	c, err := q.DB(t, "customer").Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type ddl struct {
		sql  string
		want []string // words of the warning; nil: no warning
	}
	for _, d := range []ddl{
		{fmt.Sprintf(idCreate, "iq_w1"), []string{"customer.iq_w1", "AUTO_INCREMENT column id", "collide", "auto_increment: {column: id, sequence: commerce.iq_w1_seq}"}},
		{fmt.Sprintf(idCreate, "iq_w2"), nil},
		{"CREATE TABLE iq_w3 (c BIGINT NOT NULL PRIMARY KEY, v INT)", nil},
		{"ALTER TABLE iq_w3 ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT, ADD KEY (id)", []string{"iq_w3", "no vschema entry", "AUTO_INCREMENT column id"}},
		{"CREATE TABLE iq_w4 LIKE iq_w1", []string{"iq_w4", "no vschema entry"}},
		{"CREATE TABLE iq_w5 (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY) ", []string{"iq_w5"}},
		{fmt.Sprintf(idCreate, "iq_ms"), nil},
	} {
		res, err := c.ExecContext(context.Background(), d.sql)
		if err != nil {
			t.Fatalf("%s: %v", d.sql, err)
		}
		_ = res
		warnings := rows(t, c, "SHOW WARNINGS")
		count := oneInt(t, c, "SHOW COUNT(*) WARNINGS")
		switch {
		case d.want == nil && len(warnings) != 0:
			t.Errorf("%s: warnings %v, want none", d.sql, warnings)
		case d.want != nil && (len(warnings) != 1 || count != 1):
			t.Errorf("%s: warnings %v (count %d), want one", d.sql, warnings, count)
		case d.want != nil:
			w := warnings[0]
			if w[0] != "Warning" || w[1] != "1105" {
				t.Errorf("%s: warning %v, want level Warning, code 1105", d.sql, w)
			}
			for _, word := range d.want {
				if !strings.Contains(w[2], word) {
					t.Errorf("%s: warning %q lacks %q", d.sql, w[2], word)
				}
			}
		}
	}
	// The warning goes with the statement's OK packet: the mariadb CLI
	// with --show-warnings asks for warnings only when it counts some.
	host, port, _ := strings.Cut(q.Addr, ":")
	out, err := runCLI(t, "mariadb", "-h", host, "-P", port, "-u", "app", "-psecret", "--show-warnings", "customer",
		"-e", "ALTER TABLE iq_w1 COMMENT 'still numbered by the shards'")
	if err != nil || !strings.Contains(out, "Warning (Code 1105): shardgate: sharded table customer.iq_w1: AUTO_INCREMENT column id has no sequence") {
		t.Errorf("mariadb --show-warnings -e 'ALTER TABLE iq_w1 ...': %v\n%s", err, out)
	}

	// An existing schema: what the proxy reports, and the CLI.
	ps, err := q.Router.CheckIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Table] = p.Message
	}
	for _, tbl := range []string{"iq_w1", "iq_w3", "iq_w4", "iq_w5", "iq_ms"} {
		if got[tbl] == "" {
			t.Errorf("CheckIDs does not report %s (got %v)", tbl, ps)
		}
	}
	if m := got["iq_ms"]; !strings.Contains(m, "commerce.iq_ms_seq") || !strings.Contains(m, "does not exist") {
		t.Errorf("CheckIDs on iq_ms: %q, want its missing sequence named", m)
	}
	if m, ok := got["iq_w2"]; ok {
		t.Errorf("CheckIDs reports iq_w2, which has its sequence: %s", m)
	}
	// With auto_vschema the same tables all get sequences.
	if ps, err := start(t).Router.CheckIDs(context.Background()); err != nil || len(ps) != 0 {
		t.Errorf("CheckIDs with auto_vschema: %v, %v; want no problem", ps, err)
	}

	bin := buildShardgate(t)
	cfg := q.Config.Path
	out, err = runCLI(t, bin, "vschema", "check", "--config", cfg)
	if err == nil || !strings.Contains(out, "PROBLEM: sharded table customer.iq_w1") || !strings.Contains(out, "problem(s) with the ids of sharded tables") {
		t.Errorf("vschema check: exit %v, output:\n%s\nwant exit 1 naming iq_w1", err, out)
	}
	if out, err := runCLI(t, bin, "vschema", "check", "--offline", "--config", cfg); err != nil || !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Errorf("vschema check --offline: %v\n%s", err, out)
	}
}

// buildShardgate builds cmd/shardgate into the test's temporary folder.
func buildShardgate(t *testing.T) string {
	t.Helper()
	bin, err := testenv.BuildShardgate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func runCLI(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}
