package vindex

// binaryVindex is Vitess' "binary" vindex: the keyspace id is the value's
// bytes as is (integers as their decimal text, like sqltypes.Value.ToBytes).
// The result is always a fresh copy, since Map must not retain value.
type binaryVindex struct{}

func (binaryVindex) Type() string { return "binary" }

func (binaryVindex) Map(value any) ([]byte, error) {
	// make (not nil) so an empty value still yields a non-nil keyspace id.
	ksid, err := appendText(make([]byte, 0, textLen(value)), value)
	if err != nil {
		return nil, valueError("binary", value, err)
	}
	return ksid, nil
}

// textLen sizes the copy so binary allocates exactly once.
func textLen(value any) int {
	switch v := value.(type) {
	case []byte:
		return len(v)
	case string:
		return len(v)
	}
	return 20 // longest uint64 / int64 decimal text
}
