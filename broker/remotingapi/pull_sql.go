package remotingapi

import (
	"fmt"
	"strings"
	"sync"

	sqlfilter "github.com/twinmq/twinmq/broker/filter"
	"github.com/twinmq/twinmq/wire/remoting"
)

// SQL92 subscriptions (RocketMQ's property filter, broker/filter). A pull
// whose expressionType is SQL92 reads its queue without the tags-code
// filter and keeps the messages whose properties match; those that do not
// are skipped (nextBeginOffset passes them), and a pull that matched none
// answers PULL_RETRY_IMMEDIATELY (NO_MATCHED_MESSAGE), as a Java broker
// with enablePropertyFilter does. The expression is the pull's
// subscription when it carries one, else the one the consumer's heartbeat
// registered; one that does not compile answers SUBSCRIPTION_PARSE_FAILED.
// The client filters nothing itself for SQL92 (its subscription has no
// tags), so the broker's answer is what the consumer gets.

// sqlCacheMax bounds the compiled expressions kept (a consumer group has
// one; a client making up expressions gets no more than this many).
const sqlCacheMax = 1024

// sqlCache maps expressions to their compiled form.
type sqlCache struct {
	mu sync.Mutex
	m  map[string]*sqlfilter.Expr
}

func (c *sqlCache) compile(expr string) (*sqlfilter.Expr, error) {
	c.mu.Lock()
	e, ok := c.m[expr]
	c.mu.Unlock()
	if ok {
		return e, nil
	}
	e, err := sqlfilter.Compile(expr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*sqlfilter.Expr)
	}
	if len(c.m) < sqlCacheMax {
		c.m[expr] = e
	}
	c.mu.Unlock()
	return e, nil
}

// compileSQL sets r.sql for an SQL92 pull: one that says SQL92, or one
// whose consumer's heartbeat registered the subscription as SQL92 (the
// Go client's pulls say TAG whatever the subscription, and carry its
// expression).
func (b *Broker) compileSQL(r *pullRequest) error {
	hbExpr, hbType := b.clients.subscriptionOf(r.group, r.topic)
	expr := r.subscription
	if r.sysFlag&pullSubscription == 0 {
		expr = hbExpr
	}
	switch {
	case strings.EqualFold(r.expressionType, "SQL92"):
	case strings.EqualFold(hbType, "SQL92") && expr == hbExpr:
	default:
		return nil
	}
	e, err := b.sqls.compile(expr)
	if err != nil {
		return fmt.Errorf("parse the consumer's subscription failed, group: %s: %w", r.group, err)
	}
	r.sql = e
	return nil
}

// matchSQL keeps the messages of out that e matches. The records are
// copied out of the mapped parts (an SQL92 pull pays one copy), which are
// released.
func matchSQL(out *pullResult, e *sqlfilter.Expr) {
	all := make([]byte, 0, out.n)
	for _, p := range out.parts {
		all = append(all, p...)
	}
	out.release()
	kept := all[:0]
	var v remoting.StoredView
	for off := 0; off < len(all); {
		n, err := v.Parse(all[off:])
		if err != nil {
			break // cannot happen: the store verified every record
		}
		rec := all[off : off+n]
		props := v.Properties
		if e.Match(func(k string) (string, bool) { return remoting.LookupProperty(props, k) }) {
			kept = append(kept, rec...) // never overtakes off: kept only shrinks the buffer
		}
		off += n
	}
	out.parts, out.n = nil, len(kept)
	if len(kept) == 0 {
		out.code, out.status = remoting.PullRetryImmediately, "NO_MATCHED_MESSAGE"
		return
	}
	out.parts = [][]byte{kept}
}
