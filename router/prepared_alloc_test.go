package router

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shardgate/shardgate/router/sqlval"
)

// COM_STMT_EXECUTE is on the hot path: decoding the parameters and building
// the shard's packet reuse the session's buffers.
func TestExecuteAllocs(t *testing.T) {
	st := &PreparedStmt{SQL: "SELECT c FROM sbtest1 WHERE id = ?", NParams: 1, vals: []sqlval.Value{{Kind: sqlval.Param}}}
	// null bitmap, new-params-bound flag, the type (LONGLONG), the value 42
	first := []byte{0, 1, mysql.MYSQL_TYPE_LONGLONG, 0}
	first = binary.LittleEndian.AppendUint64(first, 100042)
	again := []byte{0, 0} // the same types as before (sysbench, libmariadb)
	again = binary.LittleEndian.AppendUint64(again, 100043)

	var fwd, pkt []byte
	var binds []sqlval.Value
	check := func(p []byte, want string) {
		t.Helper()
		var err error
		fwd, binds, err = st.bind(p, fwd[:0], binds[:0])
		if err != nil {
			t.Fatal(err)
		}
		if len(binds) != 1 || binds[0].Kind != sqlval.Int || binds[0].Raw != want {
			t.Fatalf("binds %+v, want the integer %s", binds, want)
		}
		pkt = st.executePacket(pkt[:0], 7, fwd, st.types)
	}
	check(first, "100042")
	check(again, "100043")
	// id 7, no cursor, 1 iteration, null bitmap, types sent, LONGLONG, 100043
	want := []byte{7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, mysql.MYSQL_TYPE_LONGLONG, 0}
	want = binary.LittleEndian.AppendUint64(want, 100043)
	if string(pkt) != string(want) {
		t.Errorf("shard packet %v, want %v", pkt, want)
	}
	// One allocation is left: the integer's decimal text, the form of the
	// plan's values (strconv has it ready-made only below 100).
	if n := testing.AllocsPerRun(100, func() { check(again, "100043") }); n > 1 {
		t.Errorf("%v allocations per execute, want at most 1", n)
	}
}

// Buffers grown by long data are not kept by the session.
func TestKeepBuffer(t *testing.T) {
	if b := keepBuffer(make([]byte, 10, 1024)); b == nil {
		t.Error("a 1 KiB buffer was dropped")
	}
	if b := keepBuffer(make([]byte, 10, 1<<20)); b != nil {
		t.Error("a 1 MiB buffer was kept")
	}
}

// A statement of many parameters is scanned once, not once per parameter.
func TestParamValuesLinear(t *testing.T) {
	sql := "INSERT INTO t VALUES " + strings.Repeat("(?, ?, ?, ?),", 499) + "(?, ?, ?, ?)"
	var vals []sqlval.Value
	allocs := testing.AllocsPerRun(5, func() { vals = paramValues(sql, vals[:0]) })
	if len(vals) != 2000 {
		t.Fatalf("%d parameters, want 2000", len(vals))
	}
	if allocs > 40 {
		t.Errorf("%v allocations for 2000 parameters: the SQL is scanned more than once", allocs)
	}
}
