package vindex

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// xxHash is Vitess' "xxhash" vindex: xxhash64 of the value's text bytes.
// Integers are hashed as their decimal text (Vitess hashes
// sqltypes.Value.ToBytes), and Vitess stores the sum LITTLE-endian
// (vXXHash uses binary.LittleEndian), so we do too.
type xxHash struct{}

func (xxHash) Type() string { return "xxhash" }

func (xxHash) Map(value any) ([]byte, error) {
	var sum uint64
	switch v := value.(type) {
	case string:
		sum = xxhash.Sum64String(v)
	case []byte:
		sum = xxhash.Sum64(v)
	default:
		var buf [24]byte
		b, err := appendText(buf[:0], value)
		if err != nil {
			return nil, valueError("xxhash", value, err)
		}
		sum = xxhash.Sum64(b)
	}
	return xxKeyspaceID(sum), nil
}

// xxKeyspaceID lays out an xxhash64 sum the way Vitess does.
func xxKeyspaceID(sum uint64) []byte {
	ksid := make([]byte, 8)
	binary.LittleEndian.PutUint64(ksid, sum)
	return ksid
}
