package engine

import (
	"errors"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shardgate/shardgate/wire"
)

// ClientError wraps a failure to write to the client.
type ClientError struct{ Err error }

func (e ClientError) Error() string { return "client: " + e.Err.Error() }

// limitError is a statement stopped by one of the proxy's limits: the
// client gets the MySQL error, and the limit counts in
// shardgate_limit_hits_total{limit}.
type limitError struct {
	err   *wire.Error
	limit string // the configuration key without "limits.", e.g. max_memory_rows
}

func (e *limitError) Error() string { return e.err.Error() }

func (e *limitError) Unwrap() error { return e.err }

// LimitErrorf is a limitError for limit (code, SQLSTATE and message as
// wire.Errorf).
func LimitErrorf(limit string, code uint16, format string, args ...any) error {
	return &limitError{err: wire.Errorf(code, format, args...), limit: limit}
}

// LimitOf returns the name of the limit that stopped a statement with err,
// or "".
func LimitOf(err error) string {
	var le *limitError
	if errors.As(err, &le) {
		return le.limit
	}
	return ""
}

func Unsupported(format string, args ...any) error {
	return wire.Errorf(mysql.ER_NOT_SUPPORTED_YET, "not supported by shardgate: "+format, args...)
}

// NoCol marks an absent column reference.
const NoCol = -1 << 30

// RefusalText is an error's message without the refusal's prefix.
func RefusalText(err error) string {
	return strings.TrimPrefix(wire.AsError(err).Message, "not supported by shardgate: ")
}
