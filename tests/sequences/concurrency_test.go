package sequences

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shardgate/shardgate/internal/testenv"
)

// stmtRecord is one INSERT of the concurrent test: its rows' tags, in order,
// and the last-insert-id the driver got in the OK packet.
type stmtRecord struct {
	tags   []string
	lastID int64
}

// TestTwoProxiesConcurrentInserts: two proxies on the same configuration, 8
// goroutines each (half text INSERTs, half prepared; single- and multi-row;
// ids left out, NULL or 0) fill one auto-increment table whose sequence
// reserves small blocks, so both proxies keep coming back to the sequence
// row. No id may be handed out twice.
func TestTwoProxiesConcurrentInserts(t *testing.T) {
	p := start(t)
	dropEverywhere(t, "conc_t", "conc_t_seq")
	mustExec(t, p.DB(t, "customer"), "CREATE TABLE conc_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(40) NOT NULL)")
	// Blocks of 7 ids: about 140 reservations, interleaved between proxies.
	mustExec(t, direct(t, servers[0], "commerce"), "UPDATE conc_t_seq SET cache = 7 WHERE id = 0")
	q := restart(t, p) // learns conc_t from the shards at startup

	const perG, stmtsPerG = 8, 30
	var mu sync.Mutex
	var recs []stmtRecord
	var wg sync.WaitGroup
	errs := make(chan error, 2*perG)
	for pi, px := range []*testenv.Proxy{p, q} {
		db, err := sql.Open("mysql", px.DSN("customer"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(perG)
		for g := 0; g < perG; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine, err := concWorker(db, pi, g, stmtsPerG)
				mu.Lock()
				recs = append(recs, mine...)
				mu.Unlock()
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	rs := checkPlacement(t, "conc_t", "tag")
	byTag := map[string]int64{}
	for _, r := range rs {
		if prev, dup := byTag[r.v]; dup {
			t.Errorf("tag %s inserted twice (ids %d and %d)", r.v, prev, r.id)
		}
		byTag[r.v] = r.id
	}
	want := 0
	for _, rec := range recs {
		want += len(rec.tags)
	}
	if want != 2*perG*(stmtsPerG/2)*(1+4) {
		t.Errorf("recorded %d rows, want %d (some statements failed)", want, 2*perG*(stmtsPerG/2)*(1+4))
	}
	if len(rs) != want {
		t.Errorf("conc_t has %d rows on the shards, want %d", len(rs), want)
	}
	badLast, badOrder := 0, 0
	for _, rec := range recs {
		first, ok := byTag[rec.tags[0]]
		if !ok {
			t.Errorf("row %s missing", rec.tags[0])
			continue
		}
		if rec.lastID != first && badLast < 5 {
			t.Errorf("INSERT of %v: Result.LastInsertId() = %d, want the first row's id %d", rec.tags, rec.lastID, first)
			badLast++
		}
		prev := int64(0)
		for _, tag := range rec.tags {
			id := byTag[tag]
			if id <= prev && badOrder < 5 {
				t.Errorf("INSERT of %v: ids not increasing in row order (%s got %d after %d)", rec.tags, tag, id, prev)
				badOrder++
			}
			prev = id
		}
	}
	ids := sortedIDs(rs)
	// The test means something only if the proxies' blocks interleave: in
	// id order, the proxy that inserted the row changes many times.
	owner := map[int64]byte{}
	for _, r := range rs {
		owner[r.id] = r.v[1]
	}
	switches := 0
	for i := 1; i < len(ids); i++ {
		if owner[ids[i]] != owner[ids[i-1]] {
			switches++
		}
	}
	if switches < 10 {
		t.Errorf("in id order the inserting proxy changes only %d times: the two proxies did not compete for blocks", switches)
	}
	t.Logf("%d rows, ids %d..%d, proxy changes in id order: %d", len(ids), ids[0], ids[len(ids)-1], switches)
	if next, _ := seqNext(t, "conc_t_seq"); len(ids) > 0 && next <= ids[len(ids)-1] {
		t.Errorf("conc_t_seq next_id = %d, but id %d is used", next, ids[len(ids)-1])
	}
}

// concWorker runs n INSERTs on db: even goroutines as text, odd ones as
// prepared statements; even statements one row, odd ones three.
func concWorker(db *sql.DB, proxy, g, n int) ([]stmtRecord, error) {
	var recs []stmtRecord
	tag := func(s, r int) string { return fmt.Sprintf("p%d-g%d-s%d-r%d", proxy, g, s, r) }
	prepared := g%2 == 1
	var single, multi *sql.Stmt
	if prepared {
		var err error
		if single, err = db.Prepare("INSERT INTO conc_t (tag) VALUES (?)"); err != nil {
			return nil, err
		}
		defer single.Close()
		if multi, err = db.Prepare("INSERT INTO conc_t (id, tag) VALUES (?, ?), (?, ?), (?, ?), (?, ?)"); err != nil {
			return nil, err
		}
		defer multi.Close()
	}
	for s := 0; s < n; s++ {
		var res sql.Result
		var err error
		var tags []string
		switch {
		case s%2 == 0 && !prepared:
			tags = []string{tag(s, 0)}
			res, err = db.Exec("INSERT INTO conc_t (tag) VALUES ('" + tags[0] + "')")
		case s%2 == 0:
			tags = []string{tag(s, 0)}
			res, err = single.Exec(tags[0])
		case !prepared:
			tags = []string{tag(s, 0), tag(s, 1), tag(s, 2), tag(s, 3)}
			res, err = db.Exec(fmt.Sprintf("INSERT INTO conc_t (id, tag) VALUES (NULL, '%s'), (0, '%s'), (NULL, '%s'), (0, '%s')", tags[0], tags[1], tags[2], tags[3]))
		default:
			tags = []string{tag(s, 0), tag(s, 1), tag(s, 2), tag(s, 3)}
			res, err = multi.Exec(nil, tags[0], 0, tags[1], nil, tags[2], int64(0), tags[3])
		}
		if err != nil {
			return recs, fmt.Errorf("proxy %d goroutine %d statement %d (%s): %w", proxy, g, s, strings.Join(tags, ","), err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return recs, err
		}
		recs = append(recs, stmtRecord{tags: tags, lastID: id})
	}
	return recs, nil
}

// TestRestartMidBlock: a proxy that handed out part of a reserved block and
// is replaced by another leaves the rest of the block unused: ids skip, and
// never repeat.
func TestRestartMidBlock(t *testing.T) {
	a := start(t)
	dropEverywhere(t, "rst_t", "rst_t_seq")
	mustExec(t, a.DB(t, "customer"), "CREATE TABLE rst_t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))")
	if next, cache := seqNext(t, "rst_t_seq"); next != 1 || cache != 1000 {
		t.Errorf("new sequence rst_t_seq seeded with next_id=%d cache=%d, want 1 and 1000", next, cache)
	}
	mustExec(t, direct(t, servers[0], "commerce"), "UPDATE rst_t_seq SET cache = 50 WHERE id = 0")

	insert := func(db *sql.DB, who string, n int) {
		t.Helper()
		for i := 0; i < n; i += 2 {
			mustExec(t, db, fmt.Sprintf("INSERT INTO rst_t (v) VALUES ('%s%d'), ('%s%d')", who, i, who, i+1))
		}
	}
	idsOf := func(prefix string) []int64 {
		var out []shardRow
		for _, r := range checkPlacement(t, "rst_t", "v") {
			if strings.HasPrefix(r.v, prefix) {
				out = append(out, r)
			}
		}
		return sortedIDs(out)
	}

	insert(a.DB(t, "customer"), "a", 10)
	if got, want := fmtIDs(idsOf("a")), "1,2,3,4,5,6,7,8,9,10"; got != want {
		t.Errorf("first proxy's ids %s, want %s (the start of block [1,51))", got, want)
	}
	if next, _ := seqNext(t, "rst_t_seq"); next != 51 {
		t.Errorf("after one block of 50: next_id = %d, want 51", next)
	}
	a.Stop() // ids 11..50 of its block are lost

	b := restart(t, a)
	insert(b.DB(t, "customer"), "b", 10)
	if got, want := fmtIDs(idsOf("b")), "51,52,53,54,55,56,57,58,59,60"; got != want {
		t.Errorf("restarted proxy's ids %s, want %s (a new block; the old block's rest skipped)", got, want)
	}
	// A third proxy while the second still serves its block: both go on
	// without overlapping.
	c := restart(t, a)
	insert(c.DB(t, "customer"), "c", 4)
	insert(b.DB(t, "customer"), "d", 4)
	if got, want := fmtIDs(idsOf("c")), "101,102,103,104"; got != want {
		t.Errorf("third proxy's ids %s, want %s", got, want)
	}
	if got, want := fmtIDs(idsOf("d")), "61,62,63,64"; got != want {
		t.Errorf("second proxy's later ids %s, want %s (rest of its block)", got, want)
	}
	if n := len(checkPlacement(t, "rst_t", "v")); n != 28 {
		t.Errorf("rst_t has %d rows, want 28", n)
	}
}
