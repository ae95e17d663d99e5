package wire

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// ReadPacket returns packets whole in the read buffer in place and copies
// the others; either way each payload must come out as written, with the
// next packet's sequence id and Buffered counting only unread bytes.
func TestReadPacketInPlace(t *testing.T) {
	sizes := []int{0, 1, 5, 100, 4000, 16380, 16381, 20000, 3, 70000, 0, 12, MaxPayload, 7}
	var stream bytes.Buffer
	payloads := make([][]byte, len(sizes))
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		payloads[i] = p
		w := &Conn{w: bufio.NewWriter(&stream), Seq: byte(i)}
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
		_ = w.Flush()
	}
	for _, name := range []string{"whole reads", "one byte at a time", "half reads"} {
		var r io.Reader = bytes.NewReader(stream.Bytes())
		switch name {
		case "one byte at a time":
			r = iotest.OneByteReader(r)
		case "half reads":
			r = iotest.HalfReader(r)
		}
		c := &Conn{r: bufio.NewReaderSize(r, 16<<10)}
		for i, want := range payloads {
			got, err := c.ReadPacket()
			if err != nil {
				t.Fatalf("%s: packet %d: %v", name, i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: packet %d: %d bytes, want %d", name, i, len(got), len(want))
			}
			if c.Buffered() < 0 {
				t.Fatalf("%s: Buffered %d", name, c.Buffered())
			}
		}
		if c.Buffered() != 0 {
			t.Errorf("%s: %d bytes buffered after the last packet", name, c.Buffered())
		}
		if _, err := c.ReadPacket(); err != io.EOF {
			t.Errorf("%s: read past the end: %v", name, err)
		}
	}
}
