// Package wire frames MySQL protocol packets over a connection: buffered
// reads into a reused buffer, buffered writes flushed once per response, and
// the small encoders (OK, ERR, EOF, column definitions, rows) both the proxy
// and the backend use. Constants and error codes come from go-mysql's mysql
// package.
package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
)

// MaxPayload is the largest payload of one physical packet; longer logical
// packets are split into 0xffffff-byte pieces.
const MaxPayload = 1<<24 - 1

// ErrPacketTooLarge is returned when a logical packet exceeds the limit.
var ErrPacketTooLarge = errors.New("packet larger than max_allowed_packet")

// Conn reads and writes MySQL packets. It is not safe for concurrent use.
type Conn struct {
	nc  net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	Seq uint8 // sequence id of the next packet to write; set from each read

	buf       []byte // reused payload buffer
	consumed  int    // bytes of r returned in place by ReadPacket, to skip
	hdr       [4]byte
	MaxPacket int // limit on a logical packet read; 0 = no limit
}

// NewConn wraps nc with 16 KiB read and write buffers.
func NewConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 16<<10)}
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Reset switches the connection to nc (after a TLS upgrade), keeping buffers.
func (c *Conn) Reset(nc net.Conn) {
	c.nc = nc
	c.consumed = 0
	c.r.Reset(nc)
	c.w.Reset(nc)
}

// Buffered reports whether unread bytes are buffered.
func (c *Conn) Buffered() int { return c.r.Buffered() - c.consumed }

// ReadPacket reads one logical packet and returns its payload. The slice is
// valid until the next ReadPacket.
func (c *Conn) ReadPacket() ([]byte, error) {
	if c.consumed > 0 {
		_, _ = c.r.Discard(c.consumed) // buffered: cannot fail
		c.consumed = 0
	}
	// A packet already whole in the read buffer (the rows of a result
	// usually are) is returned in place, without copying it.
	if b := c.r.Buffered(); b >= 4 {
		h, _ := c.r.Peek(4)
		n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
		if n < MaxPayload && b >= 4+n && (c.MaxPacket <= 0 || n <= c.MaxPacket) {
			p, _ := c.r.Peek(4 + n)
			c.Seq = h[3] + 1
			c.consumed = 4 + n
			return p[4:], nil
		}
	}
	c.buf = c.buf[:0]
	for {
		if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
			return nil, err
		}
		n := int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
		c.Seq = c.hdr[3] + 1
		if c.MaxPacket > 0 && len(c.buf)+n > c.MaxPacket {
			// Drain the oversized packet so the stream stays in sync.
			if err := c.discard(n); err != nil {
				return nil, err
			}
			return nil, ErrPacketTooLarge
		}
		start := len(c.buf)
		if cap(c.buf)-start < n {
			nb := make([]byte, start, start+n)
			copy(nb, c.buf)
			c.buf = nb
		}
		c.buf = c.buf[:start+n]
		if _, err := io.ReadFull(c.r, c.buf[start:]); err != nil {
			return nil, err
		}
		if n < MaxPayload {
			break
		}
	}
	// Do not pin a huge buffer for the life of the connection.
	p := c.buf
	if cap(c.buf) > 1<<20 {
		c.buf = nil
	}
	return p, nil
}

func (c *Conn) discard(n int) error {
	for {
		if _, err := c.r.Discard(n); err != nil {
			return err
		}
		if n < MaxPayload {
			return nil
		}
		if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
			return err
		}
		n = int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
		c.Seq = c.hdr[3] + 1 // the reply follows the last piece
	}
}

// WritePacket buffers one logical packet with the next sequence id.
func (c *Conn) WritePacket(payload []byte) error {
	for {
		n := len(payload)
		if n > MaxPayload {
			n = MaxPayload
		}
		c.hdr = [4]byte{byte(n), byte(n >> 8), byte(n >> 16), c.Seq}
		c.Seq++
		if _, err := c.w.Write(c.hdr[:]); err != nil {
			return err
		}
		if _, err := c.w.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if n < MaxPayload {
			return nil
		}
	}
}

// Flush sends everything buffered.
func (c *Conn) Flush() error { return c.w.Flush() }

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Error is a MySQL error as sent in an ERR packet.
type Error struct {
	Code    uint16
	State   string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.State, e.Message) }

// WriteCommandString buffers a packet made of one command byte and s,
// without building the payload in a temporary slice.
func (c *Conn) WriteCommandString(cmd byte, s string) error { return writeCommand(c, cmd, s) }

// WriteCommandPacket is WriteCommandString for a byte-slice argument.
func (c *Conn) WriteCommandPacket(cmd byte, arg []byte) error { return writeCommand(c, cmd, arg) }

func writeCommand[T string | []byte](c *Conn, cmd byte, arg T) error {
	n := 1 + len(arg)
	if n >= MaxPayload {
		b := make([]byte, 0, n)
		b = append(append(b, cmd), arg...)
		return c.WritePacket(b)
	}
	c.hdr = [4]byte{byte(n), byte(n >> 8), byte(n >> 16), c.Seq}
	c.Seq++
	if _, err := c.w.Write(c.hdr[:]); err != nil {
		return err
	}
	if err := c.w.WriteByte(cmd); err != nil {
		return err
	}
	var err error
	switch a := any(arg).(type) {
	case string:
		_, err = c.w.WriteString(a)
	case []byte:
		_, err = c.w.Write(a)
	}
	return err
}

// Discard returns a Conn over nc whose writes are dropped: for running a
// command whose response the caller does not forward.
func Discard(nc net.Conn) *Conn { return NewConn(discard{nc}) }

type discard struct{ net.Conn }

func (discard) Write(p []byte) (int, error) { return len(p), nil }
