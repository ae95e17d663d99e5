package topo

import (
	"regexp"
	"strconv"
	"strings"
)

// Error is a configuration error: the file, the key path in it (such as
// "keyspaces.customer.shards") and the reason. Line is the line in File when
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

// Errors is what Load returns when it finds several errors: one per line.
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

// maxErrors caps how many errors one Load reports.
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

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlErrors turns an error of yaml.v3 (syntax: "yaml: line 3: ...", or a
// *yaml.TypeError with one "line N: ..." per problem) into Errors of file.
func yamlErrors(file, what string, msgs []string) Errors {
	var out Errors
	for _, m := range msgs {
		e := &Error{File: file, Reason: what + strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Reason = what + sm[2]
		}
		out = append(out, e)
	}
	return out
}
