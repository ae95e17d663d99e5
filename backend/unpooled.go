package backend

import "context"

// DialUnpooled opens a connection to the pool's server that is not part of
// the pool: it takes no slot (pool.size does not bound it, and a pool
// whose connections are all checked out does not delay it) and never goes
// back to the pool. The caller closes it with Close, never Release. It is
// for the proxy's own monitoring, which must work precisely when every
// pooled connection is held: the deadlock detector looks at transactions
// that may pin all of them.
func (p *Pool) DialUnpooled(ctx context.Context) (*Conn, error) {
	return p.dial(ctx, false)
}

// Server is the address of the server this connection is connected to
// (host:port or a socket path): the server whose thread ThreadID is.
func (c *Conn) Server() string { return c.pool.addr }
