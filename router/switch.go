package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shardgate/shardgate/router/planner"
	"github.com/shardgate/shardgate/router/sqlval"
	"github.com/shardgate/shardgate/wire"
)

// Online workflows (package workflow) move tables between shards and
// keyspaces. The router sees them only through the topology: shards that
// serve (topo.Keyspace.Shards), tables routed to another keyspace
// (RoutedTables), and, during a traffic switch, marks that hold the moving
// tables (topo.WorkflowMark.Hold). A statement that names a held table
// waits in the Holder (the HA layer's buffer) until the next topology is
// applied, then is planned again: the switch's flip and the end of the
// hold arrive in the same etcd document, so a statement that waited runs
// on the new routing, once.

// Holder is the buffer statements wait in while a traffic switch holds the
// tables they name (ha.Manager implements it). It returns nil when changed
// is closed, an error for the client when the buffer gives up.
type Holder interface {
	Hold(ctx context.Context, what string, changed <-chan struct{}, since time.Time) error
}

type holderRef struct{ h Holder }

// SetHolder installs the buffer held statements wait in; without one they
// wait up to defaultHoldWindow.
func (r *Router) SetHolder(h Holder) { r.holder.Store(&holderRef{h}) }

const defaultHoldWindow = 10 * time.Second

// mustHold reports whether a statement of this plan waits: it names held
// tables and its session's transaction is not already on one of their
// keyspace's shards (a transaction in flight there finishes there, before
// the switch fences the sources).
func (vc *vcursor) mustHold(plan *planner.Plan) bool {
	if plan == nil || len(plan.Held) == 0 {
		return false
	}
	if vc.s.Tx.Active() {
		for _, name := range vc.s.Tx.Shards() {
			ks, _, _ := strings.Cut(name, "/")
			for _, h := range plan.Held {
				if ks == h {
					return false
				}
			}
		}
	}
	return true
}

// waitHold waits until the topology in force changes (or the buffer gives
// up) and loads the new state.
func (vc *vcursor) waitHold(ctx context.Context, plan *planner.Plan, since time.Time) error {
	st := vc.st
	what := fmt.Sprintf("tables of keyspace %s", strings.Join(plan.Held, ", "))
	var err error
	if h := vc.r.holder.Load(); h != nil {
		err = h.h.Hold(ctx, what, st.changed, since)
	} else {
		t := time.NewTimer(time.Until(since.Add(defaultHoldWindow)))
		select {
		case <-st.changed:
		case <-t.C:
			err = wire.Errorf(mysql.ER_LOCK_DEADLOCK, "%s: a traffic switch held them for longer than %s: the statement was not run, retry it", what, defaultHoldWindow)
		case <-ctx.Done():
			err = ctx.Err()
		}
		t.Stop()
	}
	vc.st = vc.r.state.Load()
	return err
}

// planTextHeld is planText, waiting while a traffic switch holds the
// statement's tables.
func (vc *vcursor) planTextHeld(ctx context.Context, sql string) (*planner.Plan, []sqlval.Value, error) {
	plan, binds, err := vc.planText(ctx, sql)
	var since time.Time
	for err == nil && vc.mustHold(plan) {
		if since.IsZero() {
			since = time.Now()
		}
		if err = vc.waitHold(ctx, plan, since); err != nil {
			return nil, nil, err
		}
		plan, binds, err = vc.planText(ctx, sql)
	}
	return plan, binds, err
}

// movedTable turns the error of a statement that reached a table a traffic
// switch had just fenced (renamed away on the side that stopped serving:
// 1146) inside a transaction that was already on that side into a
// retryable one: the transaction must start again, on the new side.
func (vc *vcursor) movedTable(err error) error {
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != mysql.ER_NO_SUCH_TABLE || vc.plan == nil || !vc.s.Tx.Active() {
		return err
	}
	for _, name := range vc.plan.Keyspaces {
		if ks, ok := vc.r.state.Load().snap.Keyspace(name); ok && len(ks.Workflows) > 0 {
			for wf := range ks.Workflows {
				return wire.Errorf(mysql.ER_LOCK_DEADLOCK, "%s (a traffic switch of workflow %s moved the table while this transaction was open on its old shards): ROLLBACK and retry the transaction", we.Message, wf)
			}
		}
	}
	return err
}
