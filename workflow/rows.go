package workflow

import (
	"context"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/backend"
	"github.com/shardgate/shardgate/wire"
)

// rowReader streams the rows of a text-protocol result set, one at a time,
// without holding the result in memory.
type rowReader struct {
	c     *backend.Conn
	ncols int
	done  bool
}

// query sends sql and reads the result's column definitions.
func query(ctx context.Context, c *backend.Conn, sql string) (*rowReader, error) {
	if err := c.WriteQuery(ctx, sql); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Shard(), err)
	}
	p, err := c.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Shard(), err)
	}
	switch p[0] {
	case wire.ErrHeader:
		return nil, fmt.Errorf("%s: %w", c.Shard(), wire.ParseError(p))
	case wire.OKHeader:
		return &rowReader{c: c, done: true}, nil
	}
	n, _, _ := mysql.LengthEncodedInt(p)
	for i := 0; i <= int(n); i++ { // definitions and EOF
		if _, err := c.Read(); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Shard(), err)
		}
	}
	return &rowReader{c: c, ncols: int(n)}, nil
}

// next returns the next row (nil values are NULL; the row is the caller's)
// or nil at the end.
func (r *rowReader) next() ([][]byte, error) {
	if r.done {
		return nil, nil
	}
	p, err := r.c.Read()
	if err != nil {
		r.done = true
		return nil, fmt.Errorf("%s: %w", r.c.Shard(), err)
	}
	if wire.IsEOF(p) {
		r.done = true
		return nil, nil
	}
	if p[0] == wire.ErrHeader {
		r.done = true
		return nil, fmt.Errorf("%s: %w", r.c.Shard(), wire.ParseError(p))
	}
	// One allocation for the row's bytes, one for its slice.
	row := make([][]byte, r.ncols)
	buf := make([]byte, 0, len(p))
	pos := 0
	for i := 0; i < r.ncols; i++ {
		v, isNull, w, err := mysql.LengthEncodedString(p[pos:])
		if err != nil {
			r.c.MarkBroken()
			r.done = true
			return nil, fmt.Errorf("%s: malformed row: %w", r.c.Shard(), err)
		}
		pos += w
		if !isNull {
			start := len(buf)
			buf = append(buf, v...)
			row[i] = buf[start:len(buf):len(buf)]
		}
	}
	return row, nil
}

// close reads what is left of the result, so the connection can be reused
// (or marks it broken when that fails).
func (r *rowReader) close() {
	for !r.done {
		if _, err := r.next(); err != nil {
			r.c.MarkBroken()
			return
		}
	}
}
