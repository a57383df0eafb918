package cluster

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often a Poller asks the name servers: a new
// master or topic reaches Kafka clients' metadata within about this long.
const DefaultInterval = time.Second

// Fetch asks the name servers for the cluster as they see it.
type Fetch func(ctx context.Context) (View, error)

// Poller keeps the latest View. View is safe for concurrent use; Run
// refreshes it until its context ends.
type Poller struct {
	self     string
	fetch    Fetch
	interval time.Duration
	log      *slog.Logger
	view     atomic.Pointer[View]
	kick     chan struct{}
	failed   bool // Run's goroutine only: the last fetch failed (logged once)
}

// NewPoller returns a poller for group self. Its view holds only self
// until the first fetch.
func NewPoller(self string, fetch Fetch, interval time.Duration, log *slog.Logger) *Poller {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Poller{self: self, fetch: fetch, interval: interval, log: log, kick: make(chan struct{}, 1)}
	p.view.Store(&View{Self: self, Groups: []Group{{Name: self}}})
	return p
}

// View returns the latest view; never nil.
func (p *Poller) View() *View { return p.view.Load() }

// Kick asks for a refresh now (after a topic was created or deleted); it
// never blocks.
func (p *Poller) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Refresh fetches once and stores the result.
func (p *Poller) Refresh(ctx context.Context) error {
	v, err := p.fetch(ctx)
	if err != nil {
		return err
	}
	v.Self = p.self
	if _, ok := v.Group(p.self); !ok { // not registered yet: still ours
		i, _ := slices.BinarySearchFunc(v.Groups, p.self, func(g Group, n string) int { return strings.Compare(g.Name, n) })
		v.Groups = slices.Insert(v.Groups, i, Group{Name: p.self})
	}
	p.view.Store(&v)
	return nil
}

// Run refreshes every interval and on Kick until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	var burst []time.Duration
	for {
		fctx, cancel := context.WithTimeout(ctx, 3*p.interval)
		err := p.Refresh(fctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !p.failed:
			p.log.Warn("cluster: cannot read the cluster view from the name servers; keeping the last one", "err", err)
			p.failed = true
		case err == nil && p.failed:
			p.log.Info("cluster: cluster view read again")
			p.failed = false
		}
		var soon <-chan time.Time
		if len(burst) > 0 {
			soon = time.After(burst[0])
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-soon:
			burst = burst[1:]
		case <-p.kick:
			// A topic changed here; the other groups' registrations of
			// the same change may reach the name servers a moment later.
			burst = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}
		}
	}
}
