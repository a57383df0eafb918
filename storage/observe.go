package storage

import (
	"sync"
	"sync/atomic"
	"time"
)

// Observer receives a duration in seconds; a Prometheus histogram's child
// (prometheus.Observer) is one. The storage package knows no metrics
// library: the command resolves the histograms once and hands them here.
type Observer interface{ Observe(seconds float64) }

// Observers are the store's latency histograms (SetObservers). A nil
// field is not measured.
type Observers struct {
	// Fsync: each fsync of the CommitLog, ASYNC_FLUSH's periodic ones and
	// SYNC_FLUSH's group commits alike.
	Fsync Observer
	// GroupCommit: each SYNC_FLUSH append, from queued for the flusher to
	// acknowledged (gathering, the group's write and its fsync).
	GroupCommit Observer
	// Visible: each append, from the CommitLog write (ASYNC_FLUSH) or from
	// queued for the flusher (SYNC_FLUSH) to the dispatch that makes its
	// last entry readable (Kafka's high watermark, RocketMQ's maxOffset
	// passes it). On a SYNC_MASTER this includes replication, which holds
	// the dispatch back (GateVisible).
	Visible Observer
}

// SetObservers makes the store report its latencies to o, from now on.
// Without it (the default) the store reads no clock for them.
func (s *Store) SetObservers(o Observers) { s.obs.Store(&o) }

// observers is nil when none are set.
func (s *Store) observers() *Observers { return s.obs.Load() }

// since is the monotonic time since the store opened, in ns: what the
// visibility ring records (an int64, not a time.Time, to keep it flat).
func (s *Store) since() int64 { return int64(time.Since(s.opened)) }

// visRing remembers, for the Visible histogram, when each recent append
// was written and where its bytes end, until the dispatch passes that end.
// It holds at most len(at) appends: past that an append is not sampled,
// so a dispatcher that falls far behind costs no memory (its delay still
// shows in the appends that were sampled). Appends record in the order
// they take mu, which may differ slightly from their CommitLog order: an
// append recorded behind one that ends later is then observed when that
// one is, at most one dispatch pass late.
type visRing struct {
	mu   sync.Mutex // guards the ring
	end  [1024]int64
	at   [1024]int64
	head int
	n    int
}

// push records an append ending at end, written at ns, unless the
// dispatch has passed end already (the dispatcher ran between the write
// and this push): then it is observed at once, at now(). The check is
// under mu, which the dispatcher takes to drain only after it has
// advanced dispatched, so an append is never left behind a drain that
// missed it.
func (r *visRing) push(end, ns int64, dispatched *atomic.Int64, o Observer, now func() int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if end <= dispatched.Load() {
		o.Observe(float64(now()-ns) / 1e9)
		return
	}
	if r.n < len(r.end) {
		i := (r.head + r.n) % len(r.end)
		r.end[i], r.at[i] = end, ns
		r.n++
	}
}

// drain observes now-at for every recorded append ending at or below
// upTo, and forgets them.
func (r *visRing) drain(upTo, now int64, o Observer) {
	r.mu.Lock()
	for r.n > 0 && r.end[r.head] <= upTo {
		o.Observe(float64(now-r.at[r.head]) / 1e9)
		r.head = (r.head + 1) % len(r.end)
		r.n--
	}
	r.mu.Unlock()
}

// appended records pos's end for the Visible histogram o, written at ns.
func (s *Store) appended(pos []Position, ns int64, o Observer) {
	if len(pos) == 0 {
		return
	}
	last := pos[len(pos)-1]
	s.vis.push(last.Phys+int64(last.Size), ns, &s.dispatched, o, s.since)
}

// madeVisible observes the appends the dispatch up to end made readable.
func (s *Store) madeVisible(end int64) {
	if o := s.observers(); o != nil && o.Visible != nil {
		s.vis.drain(end, s.since(), o.Visible)
	}
}
