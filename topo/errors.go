package topo

import (
	"strconv"
	"strings"
)

// Error is an error of a configuration written down (the config file, or a
// keyspace document in etcd): the file (or source), the key path in it (such
// as "keyspaces.customer.shards") and the reason. Line is the line in File when
// known (syntax errors, unknown keys, wrong value kinds), else 0.
//
// Error() reads "<file>: <key>: <reason>", "<file>: <key>: <reason> (line N)"
// when both key and line are known, or "<file>: line N: <reason>".
type Error struct {
	File   string
	Line   int
	Key    string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	switch {
	case e.Key != "":
		b.WriteString(e.Key)
		b.WriteString(": ")
	case e.Line > 0:
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Key != "" && e.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(")")
	}
	return b.String()
}

// Errors is what a Builder (config.Load, BuildSnapshot) returns when it
// finds several errors: one per line.
// errors.As(err, &*topo.Error) finds the first.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// maxErrors caps how many errors one Builder reports.
const maxErrors = 20

// errs collects errors; err() returns nil, the only one, or an Errors.
type errs struct {
	list Errors
}

func (c *errs) add(e *Error) {
	if len(c.list) < maxErrors {
		c.list = append(c.list, e)
	}
}

func (c *errs) err() error {
	switch len(c.list) {
	case 0:
		return nil
	case 1:
		return c.list[0]
	}
	return c.list
}
