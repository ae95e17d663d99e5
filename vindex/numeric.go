package vindex

import (
	"encoding/binary"
	"errors"
)

// numeric is Vitess' "numeric" vindex: the keyspace id is the value itself
// as an 8-byte big-endian uint64. Like Vitess (sqltypes.ToUint64), negative
// numbers are refused.
type numeric struct{}

func (numeric) Type() string { return "numeric" }

func (numeric) Map(value any) ([]byte, error) {
	n, negative, err := toUint64(value)
	if err == nil && negative {
		err = errors.New("negative number cannot be converted to unsigned")
	}
	if err != nil {
		return nil, valueError("numeric", value, err)
	}
	ksid := make([]byte, 8)
	binary.BigEndian.PutUint64(ksid, n)
	return ksid, nil
}
