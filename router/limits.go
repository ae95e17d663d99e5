package router

import (
	"errors"

	"github.com/shardgate/shardgate/wire"
)

// limitError is a statement stopped by one of the proxy's limits: the
// client gets the MySQL error, and the limit counts in
// shardgate_limit_hits_total{limit}.
type limitError struct {
	err   *wire.Error
	limit string // the configuration key without "limits.", e.g. max_memory_rows
}

func (e *limitError) Error() string { return e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

// limitErrorf is a limitError for limit (code, SQLSTATE and message as
// wire.Errorf).
func limitErrorf(limit string, code uint16, format string, args ...any) error {
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

// LimitObserver is told of every limit hit; the Observer may implement it
// (metrics does).
type LimitObserver interface {
	LimitHit(limit string)
}

// limitHit counts a limit hit with the observer.
func (r *Router) limitHit(limit string) {
	if o, ok := r.obs.(LimitObserver); ok {
		o.LimitHit(limit)
	}
}

// noteLimit counts err's limit, if a limit stopped the statement.
func (r *Router) noteLimit(err error) {
	if name := LimitOf(err); name != "" {
		r.limitHit(name)
	}
}
