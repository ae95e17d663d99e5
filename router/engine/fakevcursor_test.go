package engine

// A VCursor over fake shards, so the operators can be tested without a
// MariaDB (in the spirit of Vitess's go/vt/vtgate/engine/fake_vcursor_test.go).
//
// Primitives read shard results from *backend.Conn, whose only constructor
// is the pool's dial: each fake shard is therefore a tiny MySQL server on a
// loopback listener that does the handshake go-mysql's client expects and
// then answers every COM_QUERY with a canned response in the text protocol,
// written with the wire package's encoders. The shards' connections come
// from real backend.Pools, so what the operators do with a connection
// (drain, mark broken, give back) runs as in production. The client side is
// captured packet by packet (Write, WriteOK, WriteEOF) and decoded back
// into rows.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/config"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// NULL stands for an SQL NULL in canned and decoded rows.
const NULL = "\x00NULL\x00"

// canned is a fake shard's response to one statement.
type canned struct {
	fields []*wire.Field
	rows   [][]string // NULL for NULL
	// err is sent instead of a result set; ok likewise.
	err *wire.Error
	ok  *wire.OK
	// rowErr, when set, is sent as an ERR packet after failAfter rows
	// (a statement that fails mid-result: killed, a deadlock, a bad cast).
	rowErr    *wire.Error
	failAfter int
	// drop closes the connection after dropAfter rows (a shard that dies).
	drop      bool
	dropAfter int
}

// result is the canned result set of fields and rows.
func result(fields []*wire.Field, rows ...[]string) *canned {
	return &canned{fields: fields, rows: rows}
}

// failing sends the first k rows, then err.
func (c *canned) failing(k int, err *wire.Error) *canned {
	c.rowErr, c.failAfter = err, k
	return c
}

// dropping sends the first k rows, then closes the connection.
func (c *canned) dropping(k int) *canned {
	c.drop, c.dropAfter = true, k
	return c
}

// R is a row of text values (NULL for NULL).
func R(vals ...string) []string { return vals }

// fakeShard is one shard's fake server.
type fakeShard struct {
	shard *topo.Shard
	name  string // "ks/<shard>", as backend.Conn.Shard names it
	ln    net.Listener

	mu       sync.Mutex
	respond  func(sql string) *canned
	received []string
	conns    []net.Conn
}

func (s *fakeShard) setResponse(f func(sql string) *canned) {
	s.mu.Lock()
	s.respond = f
	s.mu.Unlock()
}

// always answers every statement with c.
func (s *fakeShard) always(c *canned) { s.setResponse(func(string) *canned { return c }) }

func (s *fakeShard) queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

func (s *fakeShard) serve() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		id := uint32(len(s.conns))
		s.mu.Unlock()
		go s.serveConn(nc, id)
	}
}

// handshake is the server side of the connection phase: a protocol 10
// greeting offering mysql_native_password, whatever answer, then OK.
func handshake(c *wire.Conn, id uint32) error {
	caps := uint32(mysql.CLIENT_LONG_PASSWORD | mysql.CLIENT_FOUND_ROWS | mysql.CLIENT_LONG_FLAG |
		mysql.CLIENT_CONNECT_WITH_DB | mysql.CLIENT_PROTOCOL_41 | mysql.CLIENT_TRANSACTIONS |
		mysql.CLIENT_SECURE_CONNECTION | mysql.CLIENT_MULTI_STATEMENTS | mysql.CLIENT_MULTI_RESULTS |
		mysql.CLIENT_PS_MULTI_RESULTS | mysql.CLIENT_PLUGIN_AUTH | mysql.CLIENT_CONNECT_ATTRS |
		mysql.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
	b := []byte{10}
	b = append(b, "5.5.5-10.11.6-MariaDB-fake\x00"...)
	b = binary.LittleEndian.AppendUint32(b, id)
	b = append(b, "abcdefgh\x00"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps))
	b = append(b, 45)
	b = binary.LittleEndian.AppendUint16(b, mysql.SERVER_STATUS_AUTOCOMMIT)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps>>16))
	b = append(b, 21)
	b = append(b, make([]byte, 10)...)
	b = append(b, "ijklmnopqrst\x00"...)
	b = append(b, "mysql_native_password\x00"...)
	c.Seq = 0
	if err := c.WritePacket(b); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	if _, err := c.ReadPacket(); err != nil {
		return err
	}
	if err := c.WritePacket(wire.AppendOK(nil, &wire.OK{Status: mysql.SERVER_STATUS_AUTOCOMMIT})); err != nil {
		return err
	}
	return c.Flush()
}

func (s *fakeShard) serveConn(nc net.Conn, id uint32) {
	defer nc.Close()
	c := wire.NewConn(nc)
	if err := handshake(c, id); err != nil {
		return
	}
	for {
		p, err := c.ReadPacket()
		if err != nil || len(p) == 0 {
			return
		}
		switch p[0] {
		case mysql.COM_QUIT:
			return
		case mysql.COM_PING, mysql.COM_RESET_CONNECTION:
			_ = c.WritePacket(wire.AppendOK(nil, &wire.OK{Status: mysql.SERVER_STATUS_AUTOCOMMIT}))
		case mysql.COM_QUERY:
			sql := string(p[1:])
			s.mu.Lock()
			s.received = append(s.received, sql)
			respond := s.respond
			s.mu.Unlock()
			var resp *canned
			if respond != nil {
				resp = respond(sql)
			}
			if resp == nil {
				resp = &canned{err: wire.Errorf(mysql.ER_UNKNOWN_ERROR, "fake shard %s: no response for %q", s.name, sql)}
			}
			if !writeCanned(c, resp) {
				_ = c.Flush()
				return // dropped
			}
		default:
			_ = c.WritePacket(wire.AppendError(nil, wire.Errorf(mysql.ER_UNKNOWN_COM_ERROR, "fake shard: command %d", p[0])))
		}
		if err := c.Flush(); err != nil {
			return
		}
	}
}

// writeCanned writes a response; false when the connection is to be
// dropped.
func writeCanned(c *wire.Conn, r *canned) bool {
	const status = mysql.SERVER_STATUS_AUTOCOMMIT
	switch {
	case r.err != nil:
		_ = c.WritePacket(wire.AppendError(nil, r.err))
		return true
	case r.ok != nil:
		ok := *r.ok
		ok.Status |= status
		_ = c.WritePacket(wire.AppendOK(nil, &ok))
		return true
	}
	_ = c.WritePacket(wire.AppendLenEncInt(nil, uint64(len(r.fields))))
	for _, f := range r.fields {
		_ = c.WritePacket(wire.AppendField(nil, f))
	}
	_ = c.WritePacket(wire.AppendEOF(nil, 0, status))
	for i, row := range r.rows {
		if r.rowErr != nil && i == r.failAfter {
			_ = c.WritePacket(wire.AppendError(nil, r.rowErr))
			return true
		}
		if r.drop && i == r.dropAfter {
			return false
		}
		var b []byte
		for _, v := range row {
			b = wire.AppendTextValue(b, []byte(v), v == NULL)
		}
		_ = c.WritePacket(b)
	}
	if r.rowErr != nil {
		_ = c.WritePacket(wire.AppendError(nil, r.rowErr))
		return true
	}
	if r.drop {
		return false
	}
	_ = c.WritePacket(wire.AppendEOF(nil, 0, status))
	return true
}

// sentQuery is a statement a primitive sent to a shard (Send, Trace).
type sentQuery struct{ shard, sql string }

// outPacket is a packet written to the client.
type outPacket struct {
	kind byte // 'p' Write, 'o' WriteOK, 'e' WriteEOF
	data []byte
	ok   wire.OK
}

// fakeVCursor implements VCursor over fake shards.
type fakeVCursor struct {
	t       *testing.T
	binds   []sqlval.Value
	sql     string
	pools   map[*topo.Shard]*backend.Pool
	connErr map[*topo.Shard]error // Conn fails for these shards

	out  []outPacket
	sent []sentQuery

	taken      map[*backend.Conn]int
	takes      int
	dones      int
	ids        IDState
	maxRows    int
	probes     ProbeCounters
	warnings   uint16
	rows       int64
	collected  int
	facts      SessionFacts
	writeFails int // Write fails from this packet on (0: never)
}

var _ VCursor = (*fakeVCursor)(nil)

func (vc *fakeVCursor) Binds() []sqlval.Value     { return vc.binds }
func (vc *fakeVCursor) SetBinds(b []sqlval.Value) { vc.binds = b }
func (vc *fakeVCursor) SQL() string               { return vc.sql }
func (vc *fakeVCursor) Prepared() bool            { return false }
func (vc *fakeVCursor) Facts() SessionFacts       { return vc.facts }

func (vc *fakeVCursor) Conn(ctx context.Context, sh *topo.Shard) (*backend.Conn, error) {
	if err := vc.connErr[sh]; err != nil {
		return nil, err
	}
	p := vc.pools[sh]
	if p == nil {
		return nil, fmt.Errorf("no pool for shard %s", sh.Name)
	}
	c, err := p.Get(ctx, false)
	if err != nil {
		return nil, err
	}
	vc.taken[c]++
	vc.takes++
	return c, nil
}

func (vc *fakeVCursor) Done(c *backend.Conn) {
	if vc.taken[c] == 0 {
		vc.t.Errorf("Done of a connection to %s that is not taken", c.Shard())
		return
	}
	vc.taken[c]--
	if vc.taken[c] == 0 {
		delete(vc.taken, c)
	}
	vc.dones++
	c.Release()
}

func (vc *fakeVCursor) Send(ctx context.Context, c *backend.Conn, q []byte) error {
	vc.Trace(c.Shard(), q)
	if q != nil {
		return c.WriteCommand(ctx, mysql.COM_QUERY, q)
	}
	return c.WriteQuery(ctx, vc.sql)
}

func (vc *fakeVCursor) Trace(shard string, q []byte) {
	sql := string(q)
	if q == nil {
		sql = vc.sql
	}
	vc.sent = append(vc.sent, sentQuery{shard, sql})
}

func (vc *fakeVCursor) Calls(n int) []ShardCall { return make([]ShardCall, n) }

func (vc *fakeVCursor) RenderEnv(sh *topo.Shard) RenderEnv {
	return RenderEnv{Binds: vc.binds, Keyspace: "ks", ShardDB: sh.Database, Autocommit: true}
}

func (vc *fakeVCursor) Write(p []byte) error {
	if vc.writeFails > 0 && len(vc.out)+1 >= vc.writeFails {
		return ClientError{Err: errors.New("client went away")}
	}
	vc.out = append(vc.out, outPacket{kind: 'p', data: append([]byte(nil), p...)})
	return nil
}

func (vc *fakeVCursor) WriteOK(ok wire.OK) error {
	vc.out = append(vc.out, outPacket{kind: 'o', ok: ok})
	return nil
}

func (vc *fakeVCursor) WriteEOF(warnings uint16) error {
	vc.out = append(vc.out, outPacket{kind: 'e', data: wire.AppendEOF(nil, warnings, mysql.SERVER_STATUS_AUTOCOMMIT)})
	return nil
}

func (vc *fakeVCursor) AddRows(n int64)        { vc.rows += n }
func (vc *fakeVCursor) SetWarnings(n uint16)   { vc.warnings = n }
func (vc *fakeVCursor) IDs() *IDState          { return &vc.ids }
func (vc *fakeVCursor) ApplyIDs()              {}
func (vc *fakeVCursor) MaxMemoryRows() int     { return vc.maxRows }
func (vc *fakeVCursor) Probes() *ProbeCounters { return &vc.probes }
func (vc *fakeVCursor) Log() *zap.Logger       { return zap.NewNop() }

func (vc *fakeVCursor) CollectWarnings(ctx context.Context, c *backend.Conn) { vc.collected++ }

func (vc *fakeVCursor) ReserveIDs(ctx context.Context, seq string, n int) ([]uint64, error) {
	return nil, errors.New("fakeVCursor: no sequences")
}

func (vc *fakeVCursor) SchemaChanged(ctx context.Context, d *DDL, succeeded bool) (uint16, error) {
	return 0, nil
}

// fixture is a sharded keyspace of fake shards and a cursor over it.
type fixture struct {
	t      *testing.T
	ks     *topo.Keyspace
	shards []*fakeShard
	vc     *fakeVCursor
}

var shardNames = [...]string{"-40", "40-80", "80-c0", "c0-"}

// newFixture starts n fake shards (at most 4) of keyspace "ks".
func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	f := &fixture{t: t, ks: &topo.Keyspace{Name: "ks", Sharded: true}}
	f.vc = &fakeVCursor{t: t, pools: map[*topo.Shard]*backend.Pool{}, connErr: map[*topo.Shard]error{}, taken: map[*backend.Conn]int{}, sql: "SELECT client text"}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sh := &topo.Shard{Name: shardNames[i], Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: "u", Database: "db"}
		fs := &fakeShard{shard: sh, name: "ks/" + sh.Name, ln: ln}
		go fs.serve()
		pool := backend.NewPool("ks", sh, config.PoolConfig{Size: 8, WaitTimeout: 2 * time.Second, ConnectTimeout: 2 * time.Second})
		f.vc.pools[sh] = pool
		f.ks.Shards = append(f.ks.Shards, sh)
		f.shards = append(f.shards, fs)
		t.Cleanup(func() {
			pool.Close()
			ln.Close()
			fs.mu.Lock()
			for _, c := range fs.conns {
				c.Close()
			}
			fs.mu.Unlock()
		})
	}
	return f
}

// each sets every shard's response: cs[i] for shard i.
func (f *fixture) each(cs ...*canned) {
	f.t.Helper()
	if len(cs) != len(f.shards) {
		f.t.Fatalf("%d responses for %d shards", len(cs), len(f.shards))
	}
	for i, c := range cs {
		f.shards[i].always(c)
	}
}

// out is what the client received.
type out struct {
	err    error
	fields []*wire.Field
	rows   [][]string
	ok     *wire.OK
	eofs   int
}

// run executes p with a fresh client and returns what the client saw.
// Every connection taken must have been given back.
func (f *fixture) run(p Primitive) *out {
	f.t.Helper()
	vc := f.vc
	vc.out, vc.sent = nil, nil
	vc.ids = IDState{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.Execute(ctx, vc)
	o := decodeOut(f.t, vc.out)
	o.err = err
	if len(vc.taken) != 0 || vc.takes != vc.dones {
		f.t.Errorf("connections not given back: %d taken, %d given back", vc.takes, vc.dones)
	}
	return o
}

// decodeOut decodes the client's packets: a result set or an OK.
func decodeOut(t *testing.T, pk []outPacket) *out {
	t.Helper()
	o := &out{}
	if len(pk) == 0 {
		return o
	}
	if pk[0].kind == 'o' {
		ok := pk[0].ok
		o.ok = &ok
		if len(pk) > 1 {
			t.Errorf("packets after an OK: %d", len(pk)-1)
		}
		return o
	}
	n, _, _ := mysql.LengthEncodedInt(pk[0].data)
	i := 1
	for ; i < len(pk) && len(o.fields) < int(n); i++ {
		fd, err := wire.ParseField(pk[i].data)
		if err != nil {
			t.Fatalf("column definition %d: %v", len(o.fields), err)
		}
		o.fields = append(o.fields, fd)
	}
	for ; i < len(pk); i++ {
		p := pk[i]
		if p.kind == 'e' {
			o.eofs++
			continue
		}
		if p.kind != 'p' {
			t.Fatalf("unexpected packet kind %c in a result set", p.kind)
		}
		var row []string
		b := p.data
		for len(b) > 0 {
			if b[0] == 0xfb {
				row = append(row, NULL)
				b = b[1:]
				continue
			}
			v, _, w, err := mysql.LengthEncodedString(b)
			if err != nil {
				t.Fatalf("bad row packet %q: %v", p.data, err)
			}
			row = append(row, string(v))
			b = b[w:]
		}
		if len(row) != int(n) {
			t.Fatalf("row of %d values, %d columns: %q", len(row), n, p.data)
		}
		o.rows = append(o.rows, row)
	}
	return o
}

// fmtRows shows rows for failure messages.
func fmtRows(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("\n    [")
		for j, v := range r {
			if j > 0 {
				b.WriteString(" | ")
			}
			if v == NULL {
				b.WriteString("NULL")
			} else {
				b.WriteString(strconv.Quote(v))
			}
		}
		b.WriteString("]")
	}
	if len(rows) == 0 {
		b.WriteString(" (none)")
	}
	return b.String()
}

// wantRows checks a successful result set: rows exactly, in order.
func (o *out) wantRows(t *testing.T, want ...[]string) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("error: %v", o.err)
	}
	if o.ok != nil {
		t.Fatalf("an OK (%+v), want a result set", *o.ok)
	}
	if o.eofs != 2 {
		t.Errorf("%d EOF packets, want 2", o.eofs)
	}
	if fmtRows(o.rows) != fmtRows(want) {
		t.Errorf("rows:%s\nwant:%s", fmtRows(o.rows), fmtRows(want))
	}
}

// wantErr checks that the statement failed with a MySQL error of code and
// a message containing msg.
func (o *out) wantErr(t *testing.T, code uint16, msg string) {
	t.Helper()
	if o.err == nil {
		t.Fatalf("no error; rows:%s", fmtRows(o.rows))
	}
	e := wire.AsError(o.err)
	if e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("error %v, want code %d containing %q", o.err, code, msg)
	}
}

// wantColumns checks the names of the client's columns.
func (o *out) wantColumns(t *testing.T, names ...string) {
	t.Helper()
	var got []string
	for _, f := range o.fields {
		got = append(got, f.Name)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("columns %q, want %q", got, names)
	}
}

// Column definitions as MariaDB sends them.

func intCol(name string) *wire.Field {
	return &wire.Field{Name: name, OrgName: name, Type: mysql.MYSQL_TYPE_LONG, Charset: 63, Length: 11, Flags: mysql.BINARY_FLAG | mysql.NUM_FLAG}
}

func bigintCol(name string) *wire.Field {
	return &wire.Field{Name: name, OrgName: name, Type: mysql.MYSQL_TYPE_LONGLONG, Charset: 63, Length: 20, Flags: mysql.BINARY_FLAG | mysql.NUM_FLAG}
}

func typedIntCol(name string, typ byte, unsigned bool) *wire.Field {
	f := intCol(name)
	f.Type = typ
	if unsigned {
		f.Flags |= mysql.UNSIGNED_FLAG
	}
	return f
}

func decCol(name string, decimals byte) *wire.Field {
	return &wire.Field{Name: name, OrgName: name, Type: mysql.MYSQL_TYPE_NEWDECIMAL, Charset: 63, Length: 12, Decimals: decimals, Flags: mysql.BINARY_FLAG | mysql.NUM_FLAG}
}

func floatCol(name string) *wire.Field {
	return &wire.Field{Name: name, OrgName: name, Type: mysql.MYSQL_TYPE_DOUBLE, Charset: 63, Length: 22, Decimals: 31, Flags: mysql.BINARY_FLAG | mysql.NUM_FLAG}
}

// strCol is a VARCHAR of utf8mb4_general_ci.
func strCol(name string) *wire.Field {
	return &wire.Field{Name: name, OrgName: name, Type: mysql.MYSQL_TYPE_VAR_STRING, Charset: 45, Length: 400}
}

// binStrCol is a VARCHAR of utf8mb4_bin (the connection's charset, with
// BINARY_FLAG).
func binStrCol(name string) *wire.Field {
	return &wire.Field{Name: name, OrgName: name, Type: mysql.MYSQL_TYPE_VAR_STRING, Charset: 45, Length: 400, Flags: mysql.BINARY_FLAG}
}

// varbinCol is a VARBINARY.
func varbinCol(name string) *wire.Field {
	return &wire.Field{Name: name, OrgName: name, Type: mysql.MYSQL_TYPE_VAR_STRING, Charset: 63, Length: 100, Flags: mysql.BINARY_FLAG}
}

// weightCol is a hidden weight column (WEIGHT_STRING, or weightOf's IF).
func weightCol() *wire.Field {
	return &wire.Field{Name: "w", Type: mysql.MYSQL_TYPE_VAR_STRING, Charset: 63, Length: 100, Flags: mysql.BINARY_FLAG}
}

// Template helpers.

func tmpl(sql string) Template { return ParseTemplate(sql) }

func lit(kind sqlval.Kind, raw string) *ValueRef {
	return &ValueRef{Bind: -1, Lit: sqlval.Value{Kind: kind, Raw: raw}}
}

func intLit(n int) *ValueRef { return lit(sqlval.Int, strconv.Itoa(n)) }

// scatter is a Route to every shard of f running query.
func (f *fixture) scatter(query string) *Route {
	return &Route{Opcode: RouteScatter, Keyspace: f.ks, Query: tmpl(query)}
}

// inList returns the values of the first "IN (...)" of sql, unquoted.
func inList(sql string) []string {
	i := strings.Index(sql, "IN (")
	if i < 0 {
		return nil
	}
	rest := sql[i+4:]
	j := strings.LastIndexByte(rest, ')')
	var vals []string
	for _, v := range strings.Split(rest[:j], ", ") {
		if v == "NULL" {
			continue
		}
		if uq, err := strconv.Unquote(`"` + strings.Trim(v, "'") + `"`); err == nil {
			v = uq
		}
		vals = append(vals, v)
	}
	return vals
}

// sameKey says whether a shard would find v = k: numbers by value, strings
// as utf8mb4_general_ci with PAD SPACE (enough for the tests' data).
func sameKey(v, k string) bool {
	x, ok1 := new(big.Rat).SetString(v)
	y, ok2 := new(big.Rat).SetString(k)
	if ok1 && ok2 {
		return x.Cmp(y) == 0
	}
	return sqlval.CompareGeneral([]byte(v), []byte(k)) == 0
}

// table answers the queries of a join's inner side: the rows whose column
// key matches a value of the query's IN list (none for IN (NULL)).
func table(fields []*wire.Field, key int, rows ...[]string) func(string) *canned {
	return func(sql string) *canned {
		keys := inList(sql)
		c := &canned{fields: fields}
		for _, r := range rows {
			for _, k := range keys {
				if r[key] != NULL && sameKey(r[key], k) {
					c.rows = append(c.rows, r)
					break
				}
			}
		}
		return c
	}
}

// TestFakeShard: the fake server speaks enough MySQL for a Route: the
// rows of every shard reach the client in shard order, and each shard
// received the client's statement.
func TestFakeShard(t *testing.T) {
	f := newFixture(t, 2)
	f.each(
		result([]*wire.Field{intCol("a"), strCol("b")}, R("1", "x"), R("2", NULL)),
		result([]*wire.Field{intCol("a"), strCol("b")}, R("3", "")),
	)
	o := f.run(f.scatter("SELECT a, b FROM t"))
	o.wantRows(t, R("1", "x"), R("2", NULL), R("3", ""))
	o.wantColumns(t, "a", "b")
	for _, s := range f.shards {
		if q := s.queries(); len(q) != 1 || q[0] != "SELECT client text" {
			t.Errorf("shard %s received %q", s.name, q)
		}
	}
	if len(f.vc.sent) != 2 || f.vc.sent[0].shard != "ks/-40" || f.vc.sent[1].shard != "ks/40-80" {
		t.Errorf("traced %+v", f.vc.sent)
	}
	// The connections went back to the pools and serve the next statement.
	o = f.run(f.scatter("SELECT a, b FROM t"))
	o.wantRows(t, R("1", "x"), R("2", NULL), R("3", ""))
	f.wantOneConnEach(t)
}

// wantOneConnEach checks that every shard served the fixture's statements
// on one connection: each was given back and reused, none was dropped.
func (f *fixture) wantOneConnEach(t *testing.T) {
	t.Helper()
	for _, s := range f.shards {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n != 1 {
			t.Errorf("shard %s: %d connections, want 1 reused", s.name, n)
		}
	}
}
