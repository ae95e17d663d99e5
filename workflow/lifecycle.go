package workflow

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/shardgate/shardgate/topo"
)

// complete ends a switched workflow: the reverse streams stop, the old
// copies on the sources are dropped, the workflow's marks leave the
// keyspace documents (a reshard's source shards leave its keyspace; a
// moved table keeps its route from the old keyspace, so statements that
// name it there still work).
func (r *runner) complete(ctx context.Context, wf *Workflow) (string, error) {
	if wf.Phase != PhaseSwitched {
		return "", fmt.Errorf("%w: complete needs traffic on the targets (phase switched, after switchtraffic), not %s; cancel drops the targets' copies instead", ErrConflict, wf.Phase)
	}
	r.stopActivity()
	src, _, err := r.endpoints(wf)
	if err != nil {
		return "", err
	}
	if err := dropAll(ctx, src, wf.Tables, true); err != nil {
		return "", fmt.Errorf("dropping the old copies on the sources: %w (run complete again)", err)
	}
	err = r.finish(ctx, wf, PhaseCompleted, func(docs map[string]*topo.KeyspaceDoc) error {
		if wf.Type == TypeReshard {
			d := docs[wf.Keyspace]
			for _, n := range wf.SourceShards {
				delete(d.Shards, n)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("completed: the copies of %s on %s were dropped", strings.Join(wf.Tables, ", "), joinNames(src))
	if wf.Type == TypeReshard {
		msg += fmt.Sprintf("; shards %s left keyspace %s (their databases are left in place)", strings.Join(wf.SourceShards, ","), wf.Keyspace)
	}
	return msg, nil
}

// cancelWorkflow stops a workflow whose traffic is on the sources and
// drops what it made on the targets; the sources are left untouched.
func (r *runner) cancelWorkflow(ctx context.Context, wf *Workflow) (string, error) {
	if !wf.Phase.onSources() && wf.Phase != PhaseError {
		return "", fmt.Errorf("%w: traffic is on the targets (phase %s): reversetraffic first, then cancel (or complete to keep the targets)", ErrConflict, wf.Phase)
	}
	if wf.Phase == PhaseError && wf.Switches != nil {
		if last := wf.Switches[len(wf.Switches)-1]; last.OK && last.Direction == "forward" {
			// an error after a forward switch: traffic is on the targets
			return "", fmt.Errorf("%w: the workflow stopped on an error with traffic on the targets: reversetraffic is not possible; fix the error and complete it", ErrConflict)
		}
	}
	r.stopActivity()
	_, dst, err := r.endpoints(wf)
	if err != nil {
		return "", err
	}
	if err := dropAll(ctx, dst, wf.Tables, false); err != nil {
		return "", fmt.Errorf("dropping the copies on the targets: %w (run cancel again)", err)
	}
	err = r.finish(ctx, wf, PhaseCancelled, func(docs map[string]*topo.KeyspaceDoc) error {
		if wf.Type == TypeMoveTables {
			d := docs[wf.Keyspace]
			for _, t := range wf.Tables {
				delete(d.RoutedTables, strings.ToLower(t))
			}
			if len(d.RoutedTables) == 0 {
				d.RoutedTables = nil
			}
			if d.VSchema != nil {
				for _, t := range wf.AddedVSchema {
					delete(d.VSchema.Tables, t)
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("cancelled: the copies of %s on %s were dropped; the sources are untouched", strings.Join(wf.Tables, ", "), joinNames(dst)), nil
}

// finish moves the workflow to a terminal phase, removes its marks from
// the keyspace documents (with more changes from fn) and its stream and
// acknowledgement records, in one etcd transaction.
func (r *runner) finish(ctx context.Context, wf *Workflow, phase Phase, fn func(map[string]*topo.KeyspaceDoc) error) error {
	kss := []string{wf.Keyspace}
	if wf.SourceKeyspace != wf.Keyspace {
		kss = append(kss, wf.SourceKeyspace)
	}
	e := r.m.cfg.Etcd
	extra := []topo.Write{
		{Key: e.StreamsPrefix(r.ks, r.name), Delete: true, Prefix: true, Any: true},
		{Key: e.AcksPrefix(r.ks, r.name), Delete: true, Prefix: true, Any: true},
	}
	err := r.commitDocs(ctx, kss, func(docs map[string]*topo.KeyspaceDoc) error {
		for _, d := range docs {
			delete(d.Workflows, r.name)
			if len(d.Workflows) == 0 {
				d.Workflows = nil
			}
		}
		return fn(docs)
	}, func(w *Workflow) error {
		w.Phase = phase
		w.Error = ""
		w.Switching = nil
		return nil
	}, extra)
	if err == nil {
		r.log.Info("workflow finished", zap.String("phase", string(phase)))
	}
	return err
}

// dropAll drops the tables (fenced: their _sg_ copies; else both names) on
// every shard.
func dropAll(ctx context.Context, eps []*endpoint, tables []string, fencedOnly bool) error {
	var wg sync.WaitGroup
	errs := make([]error, len(eps))
	for i, e := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.conn(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Release()
			var names []string
			for _, t := range tables {
				names = append(names, quoteID(e.db())+"."+quoteID(fenceName(t)))
				if !fencedOnly {
					names = append(names, quoteID(e.db())+"."+quoteID(t))
				}
			}
			errs[i] = exec(ctx, c, "DROP TABLE IF EXISTS "+strings.Join(names, ", "))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
