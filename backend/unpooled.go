package backend

import (
	"context"
	"fmt"
)

// DialUnpooled opens a connection to addr, one of the shard's servers (a
// replication group's primary or a replica), that is not part of the pool:
// it takes no slot (pool.size does not bound it, and a pool whose
// connections are all checked out does not delay it) and never goes back
// to the pool. The caller closes it with Close, never Release. It is for
// the proxy's own monitoring, which must work precisely when every pooled
// connection is held: the deadlock detector looks at transactions that may
// pin all of them.
func (p *Pool) DialUnpooled(ctx context.Context, addr string) (*Conn, error) {
	i, ok := p.g.byAddr[addr]
	if !ok {
		return nil, fmt.Errorf("shard %s: server %s is not one of its servers", p.g.name, addr)
	}
	return p.g.writers[i].dial(ctx, false)
}

// Servers lists the addresses of the shard's servers, in config order.
func (p *Pool) Servers() []string {
	addrs := make([]string, len(p.g.writers))
	for i, s := range p.g.writers {
		addrs[i] = s.addr
	}
	return addrs
}

// Server is the address of the server this connection is connected to
// (host:port or a socket path): the server whose thread ThreadID is.
func (c *Conn) Server() string { return c.pool.addr }
