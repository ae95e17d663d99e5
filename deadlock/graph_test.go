package deadlock

import (
	"testing"
	"time"

	"github.com/shardgate/shardgate/txn"
)

func cand(session uint32, first time.Time, branches ...txn.Branch) candidate {
	return candidate{st: Statement{Session: session, Seq: 1}, first: first, tx: Transaction{ID: 7, Branches: branches}}
}

func TestBuildGraph(t *testing.T) {
	now := time.Now()
	cands := []candidate{
		cand(1, now, txn.Branch{Shard: "ks/-80", Server: "s1", ThreadID: 10}, txn.Branch{Shard: "ks/80-", Server: "s2", ThreadID: 20}),
		cand(2, now, txn.Branch{Shard: "ks/-80", Server: "s1", ThreadID: 11}, txn.Branch{Shard: "ks/80-", Server: "s2", ThreadID: 21}),
	}
	rows := map[string][]trxRow{
		"s1": {
			{thread: 10, trx: "100", weight: 3},
			{thread: 11, trx: "101", weight: 2, query: "UPDATE t SET v = 2 WHERE k = 1", lock: "101:5:3:2", blocker: "100"},
			// blocked by a transaction of no candidate (another client): no edge
			{thread: 11, trx: "101", weight: 2, lock: "101:5:3:2", blocker: "999"},
		},
		"s2": {
			{thread: 20, trx: "200", weight: 4, lock: "200:6:3:2", blocker: "201"},
			{thread: 21, trx: "201", weight: 1},
			// a thread no candidate holds (its connection went back to the pool)
			{thread: 22, trx: "202", weight: 50, blocker: "200"},
		},
	}
	g := buildGraph(cands, rows)
	if len(g.edges) != 2 {
		t.Fatalf("edges %+v, want 2", g.edges)
	}
	if e := g.edges[0]; e.from != 1 || e.to != 0 || e.shard != "ks/-80" || e.fromThread != 11 || e.key.server != "s1" || e.key.lock != "101:5:3:2" {
		t.Errorf("edge on s1: %+v", e)
	}
	if e := g.edges[1]; e.from != 0 || e.to != 1 || e.shard != "ks/80-" {
		t.Errorf("edge on s2: %+v", e)
	}
	// weights: once per InnoDB transaction, summed over branches
	if g.weight[0] != 3+4 || g.weight[1] != 2+1 {
		t.Errorf("weights %v, want [7 3]", g.weight)
	}
	cyc := findCycle(len(cands), g.edges, nil)
	if len(cyc) != 2 || cyc[0].to != cyc[1].from || cyc[1].to != cyc[0].from {
		t.Errorf("cycle %+v", cyc)
	}
}

func edges(pairs ...[2]int) []edge {
	var out []edge
	for _, p := range pairs {
		out = append(out, edge{from: p[0], to: p[1]})
	}
	return out
}

func TestFindCycle(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		edges   []edge
		removed []bool
		want    int // cycle length, 0 = none
	}{
		{"none", 2, nil, nil, 0},
		{"chain", 4, edges([2]int{0, 1}, [2]int{1, 2}, [2]int{2, 3}), nil, 0},
		{"two", 2, edges([2]int{0, 1}, [2]int{1, 0}), nil, 2},
		{"three", 3, edges([2]int{0, 1}, [2]int{1, 2}, [2]int{2, 0}), nil, 3},
		{"cycle after a tail", 4, edges([2]int{0, 1}, [2]int{1, 2}, [2]int{2, 3}, [2]int{3, 1}), nil, 3},
		{"diamond, no cycle", 4, edges([2]int{0, 1}, [2]int{0, 2}, [2]int{1, 3}, [2]int{2, 3}), nil, 0},
		{"removed member", 3, edges([2]int{0, 1}, [2]int{1, 0}, [2]int{1, 2}), []bool{true, false, false}, 0},
		{"second cycle left", 4, edges([2]int{0, 1}, [2]int{1, 0}, [2]int{2, 3}, [2]int{3, 2}), []bool{true, false, false, false}, 2},
	} {
		cyc := findCycle(tc.n, tc.edges, tc.removed)
		if len(cyc) != tc.want {
			t.Errorf("%s: cycle %+v, want length %d", tc.name, cyc, tc.want)
			continue
		}
		for i, e := range cyc {
			if next := cyc[(i+1)%len(cyc)]; e.to != next.from {
				t.Errorf("%s: %+v is not a cycle", tc.name, cyc)
			}
		}
	}
}

func TestVictimChoice(t *testing.T) {
	now := time.Now()
	a := candidate{st: Statement{Session: 1}, first: now, weight: 5}
	b := candidate{st: Statement{Session: 2}, first: now.Add(time.Second), weight: 5}
	c := candidate{st: Statement{Session: 3}, first: now, weight: 2}
	if !worse(&c, &a) || worse(&a, &c) {
		t.Error("the transaction with less work is the victim")
	}
	if !worse(&b, &a) || worse(&a, &b) {
		t.Error("on equal work, the command that started waiting last is the victim")
	}
	d := candidate{st: Statement{Session: 4}, first: now, weight: 5}
	if !worse(&d, &a) {
		t.Error("then the newer session")
	}
}

func TestDeadlockShards(t *testing.T) {
	d := Deadlock{Members: []Member{{WaitShard: "ks/80-"}, {WaitShard: "ks/-80"}, {WaitShard: "ks/80-"}}}
	if got := d.Shards(); len(got) != 2 || got[0] != "ks/-80" || got[1] != "ks/80-" {
		t.Errorf("Shards() = %v", got)
	}
}
