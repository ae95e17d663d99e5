package engine

import (
	"strconv"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// limit skips offset rows and stops after count.
type limit struct {
	in            stream
	offset, count uint64
	seen          uint64
}

func (l *limit) Fields() []*wire.Field { return l.in.Fields() }

func (l *limit) Next() (row, error) {
	for l.seen < l.offset {
		r, err := l.in.Next()
		if r == nil || err != nil {
			return nil, err
		}
		l.seen++
	}
	if l.seen >= l.offset+l.count {
		return nil, nil
	}
	r, err := l.in.Next()
	if r != nil {
		l.seen++
	}
	return r, err
}

func (l *limit) Close() { l.in.Close() }

// limitValue reads a LIMIT count or offset.
func limitValue(v *ValueRef, binds []sqlval.Value) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	val := v.Resolve(binds)
	n, err := strconv.ParseUint(val.Raw, 10, 64)
	if err != nil {
		return 0, wire.Errorf(mysql.ER_WRONG_ARGUMENTS, "Incorrect arguments to LIMIT: %q", val.Raw)
	}
	return n, nil
}
