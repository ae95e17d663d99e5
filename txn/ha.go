package txn

import (
	"context"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/wire"
)

// Querier runs statements on one server: the HA recovery hands the
// resolver a connection to a newly promoted primary.
type Querier interface {
	QueryStrings(ctx context.Context, sql string) ([][]string, error)
	Exec(ctx context.Context, sql string) error
}

// ResolveOn finishes the prepared branches of this deployment found on one
// server by q (a replica just promoted: XA PREPARE is replicated, so the
// branches prepared on the failed primary are there): a branch whose dtid
// has the commit decision is committed, one with the abort decision rolled
// back. A branch without a decision is left to the resolver, which aborts
// it after the abort timeout unless its coordinator decides first. It
// returns what it did, for the recovery record.
func (c *Coordinator) ResolveOn(ctx context.Context, q Querier) (string, error) {
	rows, err := q.QueryStrings(ctx, "XA RECOVER")
	if err != nil {
		return "", fmt.Errorf("XA RECOVER: %w", err)
	}
	var branches []xid
	for _, row := range rows {
		if x, ok := parseRecoverRow(row, c.tag); ok {
			branches = append(branches, x)
		}
	}
	if len(branches) == 0 {
		return "no prepared branch", nil
	}
	s := &scan{decisions: map[string]decisionRow{}}
	if err := c.readDecisions(ctx, s); err != nil {
		return fmt.Sprintf("%d prepared branches left to the resolver", len(branches)), fmt.Errorf("reading the decisions: %w", err)
	}
	committed, rolledBack, left := 0, 0, 0
	for _, x := range branches {
		d, ok := s.decisions[x.gtrid]
		verb := ""
		switch {
		case ok && d.decision == DecisionCommit:
			verb = "XA COMMIT "
		case ok && d.decision == DecisionAbort:
			verb = "XA ROLLBACK "
		default:
			left++
			continue
		}
		if err := q.Exec(ctx, verb+x.String()); err != nil {
			if code := wire.AsError(err).Code; code != mysql.ER_XA_RBROLLBACK && code != mysql.ER_XAER_NOTA {
				left++
				c.observe(ActionError)
				continue
			}
		}
		if verb == "XA COMMIT " {
			committed++
			c.n.resCommits.Add(1)
			c.observe(ActionCommit)
		} else {
			rolledBack++
			c.n.resAborts.Add(1)
			c.observe(ActionRollback)
		}
	}
	return fmt.Sprintf("%d prepared branches: %d committed, %d rolled back, %d without a decision left to the resolver", len(branches), committed, rolledBack, left), nil
}
