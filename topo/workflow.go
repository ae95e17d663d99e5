package topo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/shardgate/shardgate/internal/yamlcheck"
)

// WorkflowMark is what an online workflow (Reshard, MoveTables) writes
// into a keyspace's document while it moves tables of that keyspace, so
// that every proxy applies it with the topology: which tables move, and,
// during a traffic switch, that statements on them wait (Hold).
type WorkflowMark struct {
	// Type is reshard or movetables.
	Type string `yaml:"type" json:"type"`
	// Tables are the moving tables, lower case; empty: every table of the
	// keyspace (a reshard).
	Tables []string `yaml:"tables" json:"tables,omitempty"`
	// Hold, when not empty, names the traffic switch in progress: every
	// proxy holds new statements on the moving tables in its buffer until
	// the document changes again (the switch's flip, or its abort).
	Hold string `yaml:"hold" json:"hold,omitempty"`
}

// Moves reports whether the mark covers table (any case).
func (m *WorkflowMark) Moves(table string) bool {
	if len(m.Tables) == 0 {
		return true
	}
	for _, t := range m.Tables {
		if strings.EqualFold(t, table) {
			return true
		}
	}
	return false
}

// MovingTable returns the workflow moving table (any case) of this
// keyspace and whether its statements are held now ("" when none moves it).
func (k *Keyspace) MovingTable(table string) (workflow string, hold bool) {
	for _, name := range sortedKeys(k.Workflows) {
		if m := k.Workflows[name]; m.Moves(table) {
			return name, m.Hold != ""
		}
	}
	return "", false
}

// Holding reports whether a traffic switch holds statements of this
// keyspace now.
func (k *Keyspace) Holding() bool {
	for _, m := range k.Workflows {
		if m.Hold != "" {
			return true
		}
	}
	return false
}

// RoutedTo returns the keyspace that serves table (any case) when this
// keyspace routes it elsewhere (MoveTables), else "".
func (k *Keyspace) RoutedTo(table string) string {
	if len(k.RoutedTables) == 0 {
		return ""
	}
	if ks, ok := k.RoutedTables[table]; ok {
		return ks
	}
	return k.RoutedTables[strings.ToLower(table)]
}

// AllShards returns the serving shards followed by the non-serving ones.
func (k *Keyspace) AllShards() []*Shard {
	if len(k.NonServing) == 0 {
		return k.Shards
	}
	out := make([]*Shard, 0, len(k.Shards)+len(k.NonServing))
	return append(append(out, k.Shards...), k.NonServing...)
}

// FindShard returns the shard of that name, serving or not.
func (k *Keyspace) FindShard(name string) *Shard {
	for _, s := range k.Shards {
		if s.Name == name {
			return s
		}
	}
	for _, s := range k.NonServing {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func sortShardsByRange(shards []*Shard) {
	sort.SliceStable(shards, func(i, j int) bool {
		return bytes.Compare(shards[i].KeyRange.Start, shards[j].KeyRange.Start) < 0
	})
}

// workflowMarks checks and copies routed_tables and workflows.
func (b *Builder) workflowMarks(ks *Keyspace, key string, rk *RawKeyspace) {
	for _, t := range sortedKeys(rk.RoutedTables) {
		target := rk.RoutedTables[t]
		k := yamlcheck.Key(yamlcheck.Key(key, "routed_tables"), t)
		if t == "" || target == "" || !validKeyspaceName(target) {
			b.Errorf(k, "want a table name and the keyspace that serves it, got %q: %q", t, target)
			continue
		}
		if strings.EqualFold(target, ks.Name) {
			b.Errorf(k, "table %s is routed to its own keyspace", t)
			continue
		}
		if ks.RoutedTables == nil {
			ks.RoutedTables = map[string]string{}
		}
		ks.RoutedTables[strings.ToLower(t)] = target
	}
	for _, name := range sortedKeys(rk.Workflows) {
		m := rk.Workflows[name]
		k := yamlcheck.Key(yamlcheck.Key(key, "workflows"), name)
		if m == nil {
			b.Errorf(k, "empty workflow mark")
			continue
		}
		switch m.Type {
		case "reshard", "movetables":
		default:
			b.Errorf(yamlcheck.Key(k, "type"), "must be reshard or movetables, not %q", m.Type)
			continue
		}
		c := &WorkflowMark{Type: m.Type, Hold: m.Hold}
		for _, t := range m.Tables {
			c.Tables = append(c.Tables, strings.ToLower(t))
		}
		if ks.Workflows == nil {
			ks.Workflows = map[string]*WorkflowMark{}
		}
		ks.Workflows[name] = c
	}
}

// WorkflowMarksChanged reports whether a new document of a keyspace would
// change what online workflows wrote into the old one (serving flags,
// routed tables, workflow marks): `topo put` refuses that while a workflow
// runs, since it would undo its switch.
func WorkflowMarksChanged(old, nu *KeyspaceDoc) string {
	if old == nil || len(old.Workflows) == 0 {
		return ""
	}
	ow, _ := json.Marshal(old.Workflows)
	nw, _ := json.Marshal(nu.Workflows)
	if len(old.Workflows) > 0 && !bytes.Equal(ow, nw) {
		names := sortedKeys(old.Workflows)
		return fmt.Sprintf("workflow %s is moving tables of this keyspace and the new document drops or changes its marks", strings.Join(names, ", "))
	}
	if len(old.Workflows) > 0 {
		for name, s := range old.Shards {
			n := nu.Shards[name]
			if n == nil || (s.Serving == nil) != (n.Serving == nil) || (s.Serving != nil && *s.Serving != *n.Serving) {
				return fmt.Sprintf("shard %s: its serving flag is managed by the running workflow", name)
			}
		}
	}
	return ""
}
