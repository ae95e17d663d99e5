package planner

import (
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/shardgate/shardgate/topo"
	"github.com/shardgate/shardgate/wire"
)

// Online workflows move tables between keyspaces (MoveTables): the
// topology routes a moved table to the keyspace that serves it now, and a
// traffic switch holds the moving tables while it flips (switch.go).

// holdSet collects, while a statement is planned, the keyspaces whose
// tables it names that a switch holds.
type holdSet struct{ keyspaces []string }

func (h *holdSet) add(ks string) {
	for _, k := range h.keyspaces {
		if k == ks {
			return
		}
	}
	h.keyspaces = append(h.keyspaces, ks)
}

// routeTable applies a keyspace's routed tables (MoveTables) and notes a
// hold on the table. It returns the keyspace that serves the table.
func (p *planner) routeTable(ks *topo.Keyspace, table string) *topo.Keyspace {
	if to := ks.RoutedTo(table); to != "" {
		if k, ok := p.env.Keyspace(to); ok {
			ks = k
		}
	}
	if len(ks.Workflows) > 0 {
		if _, hold := ks.MovingTable(table); hold {
			if p.held == nil {
				p.held = &holdSet{}
			}
			p.held.add(ks.Name)
		}
	}
	return ks
}

// checkMovingDDL refuses DDL on a table an online workflow is moving: the
// copy and the binlog streams would not follow it.
func checkMovingDDL(ks *topo.Keyspace, table string) error {
	if len(ks.Workflows) == 0 {
		return nil
	}
	if wf, _ := ks.MovingTable(table); wf != "" {
		return wire.Errorf(mysql.ER_OPTION_PREVENTS_STATEMENT,
			"shardgate: table %s.%s is being moved by workflow %s (%s); DDL on it is refused until the workflow is completed or cancelled (shardgate %s --workflow %s complete|cancel)",
			ks.Name, table, wf, ks.Workflows[wf].Type, ks.Workflows[wf].Type, wf)
	}
	return nil
}
