package e2e

import (
	"testing"

	"github.com/shardgate/shardgate/internal/testenv"
)

// BenchmarkPointSelect measures a routed point select through the
// in-process proxy (client, proxy and mariadbd share the process's
// allocation counts: compare runs, not absolute figures).
func BenchmarkPointSelect(b *testing.B) {
	testenv.RequireMariaDB(b)
	p := testenv.StartProxy(b, testenv.Topology{Global: servers[0], Shards: servers[1:3], VSchema: testVSchema})
	db := p.DB(b, "customer", "interpolateParams=true")
	for _, q := range []string{
		"DROP TABLE IF EXISTS bench_t",
		"CREATE TABLE bench_t (customer_id BIGINT NOT NULL PRIMARY KEY, c CHAR(120) NOT NULL)",
		"INSERT INTO bench_t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')",
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("text", func(b *testing.B) {
		b.ReportAllocs()
		var c string
		for i := 0; i < b.N; i++ {
			if err := db.QueryRow("SELECT c FROM bench_t WHERE customer_id = ?", i%4+1).Scan(&c); err != nil {
				b.Fatal(err)
			}
		}
	})
	// COM_STMT_EXECUTE, as sysbench --db-ps-mode=auto sends it.
	b.Run("prepared", func(b *testing.B) {
		ps := p.DB(b, "customer")
		st, err := ps.Prepare("SELECT c FROM bench_t WHERE customer_id = ?")
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		b.ReportAllocs()
		var c string
		for i := 0; i < b.N; i++ {
			if err := st.QueryRow(i%4 + 1).Scan(&c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
