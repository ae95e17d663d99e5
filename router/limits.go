package router

import "github.com/shardgate/shardgate/router/engine"

// LimitObserver is told of every limit hit; the Observer may implement it
// (metrics does).
type LimitObserver interface {
	LimitHit(limit string)
}

// limitHit counts a limit hit with the observer.
func (r *Router) limitHit(limit string) {
	if o, ok := r.obs.(LimitObserver); ok {
		o.LimitHit(limit)
	}
}

// noteLimit counts err's limit, if a limit stopped the statement.
func (r *Router) noteLimit(err error) {
	if name := engine.LimitOf(err); name != "" {
		r.limitHit(name)
	}
}
