package topo

import (
	"context"
	"fmt"
)

// PutKeyspaceDocs writes keyspace documents to etcd after checking that the
// topology they make with the keyspaces already there (all of them replaced
// by docs when prune is set) loads. It writes all of them or none.
func PutKeyspaceDocs(ctx context.Context, e *Etcd, docs map[string]*KeyspaceDoc, opts SnapshotOptions, prune bool) error {
	if len(docs) == 0 {
		return fmt.Errorf("no keyspace to write")
	}
	if opts.Source == "" {
		opts.Source = e.Source()
	}
	have, _, err := e.Keyspaces(ctx)
	if err != nil {
		return err
	}
	all := map[string][]byte{}
	if !prune {
		all = have
	}
	enc := map[string][]byte{}
	for name, d := range docs {
		if cur, ok := have[name]; ok {
			if od, err := ParseKeyspaceDoc(cur); err == nil {
				if why := WorkflowMarksChanged(od, d); why != "" {
					return fmt.Errorf("refused: keyspace %s: %s; finish the workflow (complete or cancel) first, or copy its marks (shardgate topo get) into the new document", name, why)
				}
			}
		}
		enc[name] = d.Marshal()
		all[name] = enc[name]
	}
	if _, err := BuildSnapshot(all, opts); err != nil {
		return fmt.Errorf("refused, the topology would not load:\n%w", err)
	}
	return e.PutKeyspaces(ctx, enc, prune)
}

// ApplyVSchema replaces the vschema of a keyspace in etcd with a Vitess
// VSchema JSON document, after checking it alone (LoadVSchemaJSON) and with
// the rest of the topology (BuildSnapshot). The write is conditional on the
// keyspace document being unchanged since it was read; it retries a few
// times when another writer was faster.
func ApplyVSchema(ctx context.Context, e *Etcd, keyspace string, vschemaJSON []byte, opts SnapshotOptions) error {
	vs, err := LoadVSchemaJSON(vschemaJSON)
	if err != nil {
		return fmt.Errorf("refused, the vschema does not load:\n%w", err)
	}
	if opts.Source == "" {
		opts.Source = e.Source()
	}
	for attempt := 0; attempt < 5; attempt++ {
		all, _, err := e.Keyspaces(ctx)
		if err != nil {
			return err
		}
		cur, modRev, err := e.Keyspace(ctx, keyspace)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("keyspace %q is not in etcd under %s: create it first (shardgate topo put)", keyspace, e.Prefix())
		}
		d, err := ParseKeyspaceDoc(cur)
		if err != nil {
			return fmt.Errorf("the document of keyspace %q in etcd does not load (%v): fix it with shardgate topo put", keyspace, err)
		}
		d.VSchema = vs
		doc := d.Marshal()
		all[keyspace] = doc
		if _, err := BuildSnapshot(all, opts); err != nil {
			return fmt.Errorf("refused, the topology would not load with this vschema:\n%w", err)
		}
		ok, err := e.PutKeyspaceIf(ctx, keyspace, doc, modRev)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("keyspace %q kept changing in etcd while the vschema was applied: try again", keyspace)
}
