package e2e

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/shardgate/shardgate/internal/testenv"
	"github.com/shardgate/shardgate/vindex"
)

// TestVitessHashVectors pins the hash vindex used by the placement checks to
// the Vitess values quoted in issue 3, so a wrong vindex cannot make the
// proxy and the test agree on a wrong placement.
func TestVitessHashVectors(t *testing.T) {
	h, err := vindex.New("hash", nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]string{1: "166b40b44aba4bd6", 2: "06e7ea22ce92708f", 100: "83aab1569cbe1b08"} {
		ksid, err := h.Map(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(ksid); got != want {
			t.Errorf("hash(%d) = %s, want %s", id, got, want)
		}
	}
	// 1 -> 0x16.. is on -80, 100 -> 0x83.. on 80-.
	if shardOf(t, int64(1), shardNames2) != 0 || shardOf(t, int64(100), shardNames2) != 1 {
		t.Errorf("key ranges: hash(1) not on -80 or hash(100) not on 80-")
	}
}

// placementIDs returns n distinct sharding keys spread over the 64-bit range,
// a few of them negative.
func placementIDs(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		id := int64(i)*7_777_777 + 13
		if i%97 == 5 {
			id = -id
		}
		if i%211 == 7 {
			id = int64(i)<<40 + 1 // large values
		}
		ids[i] = id
	}
	return ids
}

// TestPlacement inserts 1000 rows through the proxy (single-row and
// multi-row INSERTs, text and prepared) and reads each shard directly: every
// row must sit on the shard the Vitess hash of its customer_id names, once.
func TestPlacement(t *testing.T) {
	p := startShared(t, "")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS place_t")
	mustExec(t, db, "CREATE TABLE place_t (customer_id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT NOT NULL) DEFAULT CHARSET=utf8mb4")

	ids := placementIDs(1000)
	name := func(i int) string { return fmt.Sprintf("row-%d-é", i) }
	insertErrs := 0
	report := func(what string, err error) {
		if err != nil {
			insertErrs++
			if insertErrs <= 10 {
				t.Errorf("%s: %v", short(what), err)
			}
		}
	}
	// 0..249: single-row text INSERTs with literals.
	for i := 0; i < 250; i++ {
		q := fmt.Sprintf("INSERT INTO place_t (customer_id, name, n) VALUES (%d, '%s', %d)", ids[i], name(i), i)
		_, err := db.Exec(q)
		report(q, err)
	}
	// 250..499: one prepared single-row INSERT, executed 250 times (binary protocol).
	stmt, err := db.Prepare("INSERT INTO place_t (customer_id, name, n) VALUES (?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	for i := 250; i < 500; i++ {
		_, err := stmt.Exec(ids[i], name(i), i)
		report(fmt.Sprintf("prepared INSERT id %d", ids[i]), err)
	}
	stmt.Close()
	// 500..749: multi-row text INSERTs of 50 rows.
	for start := 500; start < 750; start += 50 {
		var vals []string
		for i := start; i < start+50; i++ {
			vals = append(vals, fmt.Sprintf("(%d, '%s', %d)", ids[i], name(i), i))
		}
		q := "INSERT INTO place_t (customer_id, name, n) VALUES " + strings.Join(vals, ", ")
		res, err := db.Exec(q)
		report(q, err)
		if err == nil {
			if n, _ := res.RowsAffected(); n != 50 {
				t.Errorf("multi-row INSERT at %d: %d rows affected, want 50", start, n)
			}
		}
	}
	// 750..999: prepared multi-row INSERTs of 25 rows (binary protocol), reused.
	ph := strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", 25), ", ")
	mstmt, err := db.Prepare("INSERT INTO place_t (customer_id, name, n) VALUES " + ph)
	if err != nil {
		t.Fatal(err)
	}
	for start := 750; start < 1000; start += 25 {
		var args []any
		for i := start; i < start+25; i++ {
			args = append(args, ids[i], name(i), i)
		}
		res, err := mstmt.Exec(args...)
		report(fmt.Sprintf("prepared multi-row INSERT at %d", start), err)
		if err == nil {
			if n, _ := res.RowsAffected(); n != 25 {
				t.Errorf("prepared multi-row INSERT at %d: %d rows affected, want 25", start, n)
			}
		}
	}
	mstmt.Close()
	if insertErrs > 0 {
		t.Errorf("%d INSERTs failed through the proxy", insertErrs)
	}

	// Read each shard directly.
	want := map[int64]string{}
	for i, id := range ids {
		want[id] = fmt.Sprintf("%q|%q|%q", fmt.Sprint(id), name(i), fmt.Sprint(i))
	}
	seen := map[int64]int{}
	misplaced := 0
	for si, srv := range []int{1, 2} {
		rows := mustQuery(t, directDB(t, srv, "customer"), "SELECT customer_id, name, n FROM place_t")
		for _, r := range rows {
			var id int64
			if _, err := fmt.Sscan(strings.Trim(strings.SplitN(r, "|", 2)[0], `"`), &id); err != nil {
				t.Fatalf("bad id in row %s", r)
			}
			seen[id]++
			if w, ok := want[id]; !ok {
				t.Errorf("shard %s holds a row that was never inserted: %s", shardNames2[si], r)
				continue
			} else if w != r {
				t.Errorf("shard %s: row %s, want %s", shardNames2[si], r, w)
			}
			if owner := shardOf(t, id, shardNames2); owner != si {
				misplaced++
				if misplaced <= 10 {
					t.Errorf("customer_id %d is on shard %s, the Vitess hash puts it on %s", id, shardNames2[si], shardNames2[owner])
				}
			}
		}
		if len(rows) == 0 {
			t.Errorf("shard %s holds no rows", shardNames2[si])
		}
	}
	if misplaced > 0 {
		t.Errorf("%d rows on the wrong shard", misplaced)
	}
	missing, dup := 0, 0
	for _, id := range ids {
		switch n := seen[id]; {
		case n == 0:
			missing++
			if missing <= 10 {
				t.Errorf("customer_id %d is on no shard", id)
			}
		case n > 1:
			dup++
			t.Errorf("customer_id %d is on %d shards", id, n)
		}
	}
	if missing > 0 || dup > 0 {
		t.Errorf("%d rows missing, %d duplicated", missing, dup)
	}

	// Through the proxy: a scatter read returns the same 1000 rows, and routed
	// reads by literal and by parameter find each row.
	var all []string
	for _, id := range ids {
		all = append(all, want[id])
	}
	wantRows(t, "scatter SELECT through the proxy", mustQuery(t, db, "SELECT customer_id, name, n FROM place_t"), all, false)
	for i := 0; i < len(ids); i += 37 {
		id := ids[i]
		wantRows(t, fmt.Sprintf("routed SELECT id %d (literal)", id),
			mustQuery(t, db, fmt.Sprintf("SELECT customer_id, name, n FROM place_t WHERE customer_id = %d", id)), []string{want[id]}, true)
		wantRows(t, fmt.Sprintf("routed SELECT id %d (parameter)", id),
			mustQuery(t, db, "SELECT customer_id, name, n FROM place_t WHERE customer_id = ?", id), []string{want[id]}, true)
	}
}

// TestLargeScatterStreams: a plain scatter SELECT (no merge needed) streams
// rows from the shards; it is not bounded by limits.max_memory_rows, and
// every row arrives exactly once, in the text and the binary protocol.
func TestLargeScatterStreams(t *testing.T) {
	p := startShared(t, "limits:\n  max_memory_rows: 1000\n")
	db := p.DB(t, "customer")
	mustExec(t, db, "DROP TABLE IF EXISTS place_t")
	mustExec(t, db, "CREATE TABLE place_t (customer_id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT NOT NULL)")
	const total, batch = 20000, 1000
	for start := 0; start < total; start += batch {
		var vals []string
		for i := start; i < start+batch; i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'name %d', %d)", i+1, i+1, i%7))
		}
		if n := mustExec(t, db, "INSERT INTO place_t (customer_id, name, n) VALUES "+strings.Join(vals, ", ")); n != batch {
			t.Fatalf("INSERT batch at %d: %d rows", start, n)
		}
	}
	for _, tc := range []struct {
		what string
		args []any
	}{{"text", nil}, {"binary", []any{-1}}} {
		q := "SELECT customer_id, name FROM place_t"
		if tc.args != nil {
			q += " WHERE n > ?"
		}
		rows, err := db.QueryContext(ctx(t), q, tc.args...)
		if err != nil {
			t.Errorf("%s scatter of %d rows: %v", tc.what, total, err)
			continue
		}
		seen := make([]bool, total+1)
		count, bad := 0, 0
		for rows.Next() {
			var id int
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				t.Fatal(err)
			}
			count++
			if id < 1 || id > total || seen[id] || name != fmt.Sprintf("name %d", id) {
				bad++
				if bad < 5 {
					t.Errorf("%s scatter: unexpected or repeated row %d %q", tc.what, id, name)
				}
				continue
			}
			seen[id] = true
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s scatter of %d rows: %v after %d rows", tc.what, total, err, count)
		}
		rows.Close()
		if count != total || bad != 0 {
			t.Errorf("%s scatter: %d rows (%d bad), want %d", tc.what, count, bad, total)
		}
	}
}

// TestPlacementFourShards: with 4 shards (-40, 40-80, 80-c0, c0-) rows
// land where the Vitess hash puts them, for text and prepared INSERTs, and
// routed reads find them.
func TestPlacementFourShards(t *testing.T) {
	cl := testenv.Cluster(t, 5)
	p := testenv.StartProxy(t, testenv.Topology{Global: cl[0], Shards: cl[1:5], VSchema: testVSchema})
	names := testenv.ShardNames(4)
	db := p.DB(t, "customer")
	mustExec(t, db, "CREATE TABLE place_t (customer_id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT NOT NULL)")
	ids := placementIDs(400)
	var vals []string
	for i, id := range ids[:200] {
		vals = append(vals, fmt.Sprintf("(%d, 'r%d', %d)", id, i, i))
	}
	if n := mustExec(t, db, "INSERT INTO place_t (customer_id, name, n) VALUES "+strings.Join(vals, ", ")); n != 200 {
		t.Errorf("multi-row INSERT: %d rows, want 200", n)
	}
	for i, id := range ids[200:] {
		mustExec(t, db, "INSERT INTO place_t (customer_id, name, n) VALUES (?, ?, ?)", id, fmt.Sprintf("r%d", i+200), i+200)
	}
	want := make([][]string, 4)
	for i, id := range ids {
		s := shardOf(t, id, names)
		want[s] = append(want[s], fmt.Sprintf("%q|%q|%q", fmt.Sprint(id), fmt.Sprintf("r%d", i), fmt.Sprint(i)))
	}
	for s := range names {
		if len(want[s]) == 0 {
			t.Fatalf("no test id hashes to shard %s", names[s])
		}
		got := mustQuery(t, directDB2(t, cl[s+1].DSN("customer")), "SELECT customer_id, name, n FROM place_t")
		wantRows(t, "rows on shard "+names[s], got, want[s], false)
	}
	for i := 0; i < len(ids); i += 13 {
		wantRows(t, fmt.Sprintf("routed read of %d", ids[i]), mustQuery(t, db, "SELECT name FROM place_t WHERE customer_id = ?", ids[i]),
			[]string{fmt.Sprintf("%q", fmt.Sprintf("r%d", i))}, true)
	}
	// An IN list over all four shards.
	wantRows(t, "IN over four shards", mustQuery(t, db, fmt.Sprintf("SELECT n FROM place_t WHERE customer_id IN (%d, %d, %d, %d, %d)", ids[0], ids[1], ids[2], ids[3], ids[4])),
		[]string{`"0"`, `"1"`, `"2"`, `"3"`, `"4"`}, false)
}
