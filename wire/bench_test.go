package wire

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// Microbenchmarks of the per-query packet work; `go test -bench . ./wire`.

// loopConn reads its packets from a fixed stream, over and over.
type loopConn struct {
	data []byte
	r    *bytes.Reader
}

func (l *loopConn) Read(p []byte) (int, error) {
	if l.r.Len() == 0 {
		l.r.Reset(l.data)
	}
	return l.r.Read(p)
}

func benchConn(stream []byte) *Conn {
	l := &loopConn{data: stream, r: bytes.NewReader(stream)}
	return &Conn{r: bufio.NewReaderSize(l, 16<<10), w: bufio.NewWriterSize(io.Discard, 16<<10)}
}

// packet frames payload with a header (seq 1).
func packet(payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 1}, payload...)
}

func BenchmarkReadPacket(b *testing.B) {
	row := AppendTextValue(nil, []byte("12345"), false)
	row = AppendTextValue(row, bytes.Repeat([]byte("x"), 120), false)
	c := benchConn(packet(row))
	b.SetBytes(int64(len(row) + 4))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ReadPacket(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteCommand(b *testing.B) {
	c := benchConn(nil)
	q := "SELECT c FROM sbtest1 WHERE id = 42"
	b.ReportAllocs()
	for b.Loop() {
		c.Seq = 0
		if err := c.WriteCommandString(3, q); err != nil {
			b.Fatal(err)
		}
		_ = c.Flush()
	}
}

func BenchmarkWriteOK(b *testing.B) {
	c := benchConn(nil)
	ok := OK{AffectedRows: 1, LastInsertID: 100975, Status: 2}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendOK(buf[:0], &ok)
		if err := c.WritePacket(buf); err != nil {
			b.Fatal(err)
		}
		_ = c.Flush()
	}
}

func BenchmarkParseOK(b *testing.B) {
	p := AppendOK(nil, &OK{AffectedRows: 3, LastInsertID: 100975, Status: 2, Info: "Rows matched: 3  Changed: 3  Warnings: 0"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseOK(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendField(b *testing.B) {
	f := &Field{Schema: "customer", Table: "sbtest1", OrgTable: "sbtest1", Name: "c", OrgName: "c", Charset: 45, Length: 480, Type: 254}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendField(buf[:0], f)
	}
}
