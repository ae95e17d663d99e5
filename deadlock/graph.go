package deadlock

import "sort"

// edgeKey identifies one wait across rounds: on a server, a transaction's
// lock request (the requesting trx, the requested lock) blocked by another
// trx, between two sessions' commands in their transactions. Seen in two
// rounds, the wait lasted the whole time between them.
type edgeKey struct {
	server               string
	reqTrx, lock, blkTrx string
	from, to             Statement
	fromTx, toTx         uint64
}

// edge is a wait of candidate from (its branch on a server) for candidate to.
type edge struct {
	from, to   int
	key        edgeKey
	fromThread uint32 // the waiting connection's thread id on key.server
	shard      string // the waiting branch's shard
	query      string // the waiting statement, as the server runs it
}

// trxRow is one InnoDB transaction of a candidate's branch, with the lock
// it waits for and the transaction that blocks it (a transaction blocked
// by several has a row for each; lock and blocker are "" when it does not
// wait).
type trxRow struct {
	thread  uint32
	trx     string
	weight  int64
	query   string
	lock    string
	blocker string
}

// graph is the wait-for graph between candidates, and each candidate's
// work (InnoDB's trx_weight summed over its branches).
type graph struct {
	edges  []edge
	weight []int64
}

type serverThread struct {
	server string
	thread uint32
}

// buildGraph maps the servers' transactions (rows, by server address) to
// the candidates through their branches' thread ids. Waits on
// transactions that are not candidates' (other clients, other proxies,
// commands that did not run long yet, branches left prepared) are no
// edges: they cannot close a cycle the detector could break.
func buildGraph(cands []candidate, rows map[string][]trxRow) graph {
	type owner struct {
		cand  int
		shard string
	}
	byThread := map[serverThread]owner{}
	for i, c := range cands {
		for _, b := range c.tx.Branches {
			byThread[serverThread{b.Server, b.ThreadID}] = owner{i, b.Shard}
		}
	}
	g := graph{weight: make([]int64, len(cands))}
	servers := make([]string, 0, len(rows))
	for s := range rows {
		servers = append(servers, s)
	}
	sort.Strings(servers)
	for _, server := range servers {
		rs := rows[server]
		byTrx := map[string]int{}
		for _, r := range rs {
			o, ok := byThread[serverThread{server, r.thread}]
			if !ok {
				continue
			}
			if _, counted := byTrx[r.trx]; !counted {
				g.weight[o.cand] += r.weight
			}
			byTrx[r.trx] = o.cand
		}
		for _, r := range rs {
			if r.blocker == "" {
				continue
			}
			o, ok := byThread[serverThread{server, r.thread}]
			if !ok {
				continue
			}
			to, ok := byTrx[r.blocker]
			if !ok || to == o.cand {
				continue
			}
			g.edges = append(g.edges, edge{from: o.cand, to: to, fromThread: r.thread, shard: o.shard, query: r.query,
				key: edgeKey{server: server, reqTrx: r.trx, lock: r.lock, blkTrx: r.blocker,
					from: cands[o.cand].st, to: cands[to].st, fromTx: cands[o.cand].tx.ID, toTx: cands[to].tx.ID}})
		}
	}
	return g
}

// findCycle returns the edges of one cycle among the n nodes, in order
// (each edge's to is the next one's from), ignoring removed nodes; nil
// when there is none.
func findCycle(n int, edges []edge, removed []bool) []edge {
	gone := func(u int) bool { return removed != nil && removed[u] }
	adj := make([][]int, n)
	for i, e := range edges {
		if !gone(e.from) && !gone(e.to) {
			adj[e.from] = append(adj[e.from], i)
		}
	}
	const (
		white = iota
		gray
		black
	)
	color := make([]byte, n)
	var path []int // edges from the search's root to the node being visited
	var visit func(u int) []edge
	visit = func(u int) []edge {
		color[u] = gray
		for _, ei := range adj[u] {
			v := edges[ei].to
			switch color[v] {
			case white:
				path = append(path, ei)
				if c := visit(v); c != nil {
					return c
				}
				path = path[:len(path)-1]
			case gray: // v is on the path: the path from v, then ei, is a cycle
				k := 0
				for k < len(path) && edges[path[k]].from != v {
					k++
				}
				cyc := make([]edge, 0, len(path)-k+1)
				for _, pi := range path[k:] {
					cyc = append(cyc, edges[pi])
				}
				return append(cyc, edges[ei])
			}
		}
		color[u] = black
		return nil
	}
	for u := 0; u < n; u++ {
		if color[u] == white && !gone(u) {
			if c := visit(u); c != nil {
				return c
			}
		}
	}
	return nil
}
