package wire

import (
	"net"
	"testing"
)

// The command writer is on the hot path: it must not allocate.
func TestWriteCommandAllocs(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := NewConn(a)
	q := "SELECT c FROM sbtest1 WHERE id = 42"
	arg := []byte(q)
	if n := testing.AllocsPerRun(100, func() {
		_ = c.WriteCommandString(3, q)
		_ = c.WriteCommandPacket(3, arg)
		c.w.Reset(a) // drop what was buffered (nobody reads the pipe)
	}); n != 0 {
		t.Fatalf("%v allocations per write, want 0", n)
	}
}
