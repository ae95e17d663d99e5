package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// JoinSelect is the SELECT of a cross-shard join: it reads the joined rows
// of its source (a tree of Joins over leaf Routes, plan_join.go), keeps the
// select items, sorts (ORDER BY, in memory, bounded by
// limits.max_memory_rows) and cuts (LIMIT). SelectMerge reads it as a
// stream when the query aggregates.
type JoinSelect struct {
	Source    joinSource
	Leaves    []JoinLeafShape // per leaf: its fixed items, then its wildcards
	Output    []JoinOut
	Order     []SortKey
	Count     *ValueRef
	Offset    *ValueRef
	MaxRows   int
	EvalShard *topo.Shard // a shard that evaluates expressions
	Hidden    int         // last outputs only sorted by (ORDER BY items not selected)
}

// JoinLeafShape is how a leaf's columns are laid out: fixed items, then one
// wildcard per alias.
type JoinLeafShape struct {
	Fixed int
	Stars []string
}

// JoinOut is one select item: a leaf's fixed item, or a leaf's wildcard.
type JoinOut struct {
	Leaf, Item int
	Star       bool
}

// Execute implements Primitive.
func (j *JoinSelect) Execute(ctx context.Context, vc VCursor) error {
	s, err := j.open(ctx, vc)
	if err != nil {
		return err
	}
	n := len(s.Fields()) - j.Hidden
	if len(j.Order) > 0 {
		s = &memSort{in: s, keys: j.Order, maxRows: j.MaxRows}
	}
	if j.Count != nil {
		count, err := limitValue(j.Count, vc.Binds())
		if err != nil {
			s.Close()
			return err
		}
		offset, err := limitValue(j.Offset, vc.Binds())
		if err != nil {
			s.Close()
			return err
		}
		s = &limit{in: s, offset: offset, count: count}
	}
	defer s.Close()
	return writeStream(vc, s, n)
}

// open starts the join and returns its select items (before ORDER BY and
// LIMIT); SelectMerge aggregates over it.
func (j *JoinSelect) open(ctx context.Context, vc VCursor) (stream, error) {
	src, err := j.Source.openWide(ctx, vc)
	if err != nil {
		return nil, err
	}
	cols, err := j.columns(src.Fields(), src.leafStarts())
	if err != nil {
		src.Close()
		return nil, err
	}
	ps := &projectStream{in: src, cols: cols}
	for _, c := range cols {
		ps.fields = append(ps.fields, src.Fields()[c])
	}
	return ps, nil
}

// columns maps the select items to columns of the joined rows. A leaf's
// wildcards share the columns after its fixed items: each takes the run of
// columns of its table.
func (j *JoinSelect) columns(fields []*wire.Field, starts []int) ([]int, error) {
	if len(starts) != len(j.Leaves)+1 {
		return nil, wire.Errorf(mysql.ER_UNKNOWN_ERROR, "shardgate: a join produced %d leaves, planned %d", len(starts)-1, len(j.Leaves))
	}
	stars := make([][][2]int, len(j.Leaves))
	for li, l := range j.Leaves {
		from, to := starts[li]+l.Fixed, starts[li+1]
		if len(l.Stars) == 1 {
			stars[li] = [][2]int{{from, to}}
			continue
		}
		c := from
		for _, alias := range l.Stars {
			begin := c
			for c < to && strings.EqualFold(fields[c].Table, alias) {
				c++
			}
			stars[li] = append(stars[li], [2]int{begin, c})
		}
		if c != to {
			return nil, Unsupported("SELECT * over tables the shard names differently (name the columns)")
		}
	}
	var cols []int
	for _, o := range j.Output {
		if !o.Star {
			cols = append(cols, starts[o.Leaf]+o.Item)
			continue
		}
		sp := stars[o.Leaf][o.Item]
		for c := sp[0]; c < sp[1]; c++ {
			cols = append(cols, c)
		}
	}
	return cols, nil
}

// projectStream keeps some columns of its input.
type projectStream struct {
	in     stream
	cols   []int
	fields []*wire.Field
	out    row
}

func (p *projectStream) Fields() []*wire.Field { return p.fields }

func (p *projectStream) Next() (row, error) {
	r, err := p.in.Next()
	if r == nil || err != nil {
		return nil, err
	}
	p.out = p.out[:0]
	for _, c := range p.cols {
		p.out = append(p.out, r[c])
	}
	return p.out, nil
}

func (p *projectStream) Close() { p.in.Close() }

// Describe implements Primitive.
func (j *JoinSelect) Describe() string {
	var items []string
	for _, o := range j.Output {
		if o.Star {
			items = append(items, fmt.Sprintf("leaf %d %s.*", o.Leaf, j.Leaves[o.Leaf].Stars[o.Item]))
		} else {
			items = append(items, fmt.Sprintf("leaf %d item %d", o.Leaf, o.Item+1))
		}
	}
	s := fmt.Sprintf("JoinSelect (columns: %s)\n  %s", strings.Join(items, ", "), strings.ReplaceAll(j.Source.Describe(), "\n", "\n  "))
	if len(j.Order) > 0 {
		s += fmt.Sprintf("\n  Sort keys=[%s] (in memory, max %d rows)", describeKeys(j.Order), j.MaxRows)
	}
	if j.Count != nil {
		s += fmt.Sprintf("\n  Limit count=%s", j.Count)
	}
	if j.Hidden > 0 {
		s += fmt.Sprintf("\n  Trim %d hidden columns", j.Hidden)
	}
	return s
}
