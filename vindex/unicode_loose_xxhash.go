package vindex

import (
	"errors"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// unicodeLooseXXHash is Vitess' "unicode_loose_xxhash" vindex: strings that
// compare equal case- and accent-insensitively ("Test", "TEST", "Tést") get
// the same keyspace id. The value is normalized exactly as Vitess does it
// (vindexes/unicode.go): trailing spaces are dropped (MySQL PAD SPACE), then
// it is replaced by its golang.org/x/text/collate key for English with
// collate.Loose (UCA primary strength), and that key is hashed like xxhash.
//
// Because this is the same library and algorithm as Vitess, the keyspace ids
// match Vitess' test vectors. They can only differ where the x/text version
// (its Unicode/CLDR tables) differs from the one the Vitess build used, which
// affects rare or newly assigned characters, not ASCII or common Latin text.
// Note this is not MySQL's utf8mb4_0900_ai_ci weight string either, only an
// agreement with Vitess.
type unicodeLooseXXHash struct {
	// A Collator and its Buffer are not safe for concurrent use, so they are
	// pooled per vindex instead of locked.
	pool sync.Pool
}

type pooledCollator struct {
	col *collate.Collator
	buf collate.Buffer
}

func newUnicodeLooseXXHash() *unicodeLooseXXHash {
	u := &unicodeLooseXXHash{}
	u.pool.New = func() any {
		return &pooledCollator{col: collate.New(language.English, collate.Loose)}
	}
	return u
}

func (*unicodeLooseXXHash) Type() string { return "unicode_loose_xxhash" }

func (u *unicodeLooseXXHash) Map(value any) ([]byte, error) {
	var s string
	switch v := value.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		var buf [24]byte
		b, err := appendText(buf[:0], value)
		if err != nil {
			return nil, valueError("unicode_loose_xxhash", value, err)
		}
		s = string(b)
	}
	// The collator cannot take invalid UTF-8 (Vitess refuses it too).
	if !utf8.ValidString(s) {
		return nil, valueError("unicode_loose_xxhash", value, errors.New("invalid UTF-8"))
	}
	s = strings.TrimRight(s, " ")

	c := u.pool.Get().(*pooledCollator)
	c.buf.Reset() // Key appends to the buffer; start afresh each time.
	sum := xxhash.Sum64(c.col.KeyFromString(&c.buf, s))
	u.pool.Put(c)
	return xxKeyspaceID(sum), nil
}
