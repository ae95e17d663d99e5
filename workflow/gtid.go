package workflow

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// gtid is one MariaDB GTID: domain-server-sequence.
type gtid struct {
	Domain, Server uint32
	Seq            uint64
}

func (g gtid) String() string {
	return strconv.FormatUint(uint64(g.Domain), 10) + "-" + strconv.FormatUint(uint64(g.Server), 10) + "-" + strconv.FormatUint(g.Seq, 10)
}

// position is a MariaDB GTID position: the last GTID of each domain (as
// @@gtid_binlog_pos and a replica's gtid_slave_pos read).
type position map[uint32]gtid

// parsePosition reads "0-1-100,1-2-7" ("" is the empty position).
func parsePosition(s string) (position, error) {
	p := position{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("GTID %q: want domain-server-sequence", part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("GTID %q: want numbers domain-server-sequence", part)
		}
		p[uint32(d)] = gtid{uint32(d), uint32(sv), seq}
	}
	return p, nil
}

// String renders the position by domain.
func (p position) String() string {
	if len(p) == 0 {
		return ""
	}
	ds := make([]uint32, 0, len(p))
	for d := range p {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = p[d].String()
	}
	return strings.Join(parts, ",")
}

func (p position) clone() position {
	c := make(position, len(p))
	for d, g := range p {
		c[d] = g
	}
	return c
}

// covers reports whether p has everything q has: in each domain of q, a
// sequence number at least as high.
func (p position) covers(q position) bool {
	for d, g := range q {
		if g.Seq == 0 {
			continue
		}
		if h, ok := p[d]; !ok || h.Seq < g.Seq {
			return false
		}
	}
	return true
}

// set records g as the last GTID of its domain.
func (p position) set(g gtid) { p[g.Domain] = g }
