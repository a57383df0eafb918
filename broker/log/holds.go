package log

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/storage"
)

// Reason says why a parked read is answered.
type Reason int

const (
	// Woken: a watched queue has an entry at or past its offset.
	Woken Reason = iota
	// Timeout: the read's wait is over.
	Timeout
	// Cut: Cut named its owner (its connection closed) or the holds are
	// draining (the listener shuts down, or the broker closes).
	Cut
)

func (r Reason) String() string {
	switch r {
	case Woken:
		return "woken"
	case Timeout:
		return "timeout"
	case Cut:
		return "cut"
	}
	return "unknown"
}

// Watch is a queue a parked read waits on: it wakes once the queue has an
// entry at or past Offset (its max offset passes Offset).
type Watch struct {
	Topic  string
	Queue  int32
	Offset int64
}

// HoldsConfig configures Holds. Zero values have defaults.
type HoldsConfig struct {
	// Workers answer woken reads (default 0: a goroutine per answer). A
	// worker is a long-lived goroutine whose stack has grown to what an
	// answer needs: a goroutine per wake-up cost a newproc, about three
	// stack copies and an exit per message when one producer's every
	// send woke a consumer's pull (a fifth of the broker's CPU per send
	// with one RocketMQ producer).
	Workers int
	// Queue bounds the woken reads waiting for a worker (default 1024);
	// past it an answer gets a goroutine of its own.
	Queue int
}

// Holds parks long-poll reads until one of their queues grows, their wait
// is over, or they are cut, and then answers each exactly once, on a
// worker or a goroutine of its own: never on the caller's goroutine, never
// on the store's dispatcher (which calls the wake-ups and must not block).
// Methods are safe for concurrent use.
type Holds struct {
	store *storage.Store
	cfg   HoldsConfig

	work    chan func()
	workers sync.WaitGroup
	stop    chan struct{}
	// workMu guards working: dispatch sends to work under RLock, so once
	// Close has turned working off no answer can be left in work.
	workMu   sync.RWMutex
	working  bool
	draining atomic.Bool

	// mu guards byOwner: the holds of each owner (a connection), for Cut.
	mu      sync.Mutex
	byOwner map[any]map[*hold]struct{}

	// held observes each hold's time, by Reason; nil until SetObserver.
	held atomic.Pointer[[numReasons]Observer]
}

// numReasons sizes the per-Reason tables.
const numReasons = int(Cut) + 1

// Observer receives a duration in seconds; a Prometheus histogram's
// child (prometheus.Observer) is one.
type Observer interface{ Observe(seconds float64) }

// SetObserver makes the holds report how long each parked read waited,
// from Park to its answer being due, to the Observer resolve returns for
// why it was answered (called here, once per Reason; nil: not measured).
func (h *Holds) SetObserver(resolve func(Reason) Observer) {
	var obs [numReasons]Observer
	for r := range numReasons {
		obs[r] = resolve(Reason(r))
	}
	h.held.Store(&obs)
}

// NewHolds returns Holds over store and starts its workers; Close stops
// them.
func NewHolds(store *storage.Store, cfg HoldsConfig) *Holds {
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	h := &Holds{store: store, cfg: cfg, stop: make(chan struct{}), byOwner: map[any]map[*hold]struct{}{}}
	if cfg.Workers > 0 {
		h.work = make(chan func(), cfg.Queue)
		h.workers.Add(cfg.Workers)
		for range cfg.Workers {
			go h.worker()
		}
		h.working = true
	}
	return h
}

func (h *Holds) worker() {
	defer h.workers.Done()
	for {
		select {
		case <-h.stop:
			return
		case fn := <-h.work:
			fn()
		}
	}
}

// dispatch runs fn on a worker, or on a goroutine of its own when none is
// free or the workers stopped. It never blocks.
func (h *Holds) dispatch(fn func()) {
	h.workMu.RLock()
	if h.working {
		select {
		case h.work <- fn:
			h.workMu.RUnlock()
			return
		default:
		}
	}
	h.workMu.RUnlock()
	go fn()
}

// hold is one parked read. mu guards the wake-up handles while Park
// registers them; fired makes the first wake-up the only one.
type hold struct {
	h     *Holds
	owner any
	fn    func(Reason)
	fired atomic.Bool
	start time.Time // when parked, if observed

	mu      sync.Mutex
	timer   *time.Timer
	cancels []func() bool
}

// Park holds a read until one of watches grows (Woken), wait is over
// (Timeout), or Cut names owner or the holds drain (Cut), and then calls
// fn(reason) once, on a worker. A watch that has grown already wakes it
// at once. owner groups holds for Cut (nil is an owner too); a caller whose owner
// may have gone while it parked (a connection closed before Park) checks
// and calls Cut itself afterwards.
func (h *Holds) Park(owner any, watches []Watch, wait time.Duration, fn func(Reason)) {
	x := &hold{h: h, owner: owner, fn: fn}
	if h.held.Load() != nil {
		x.start = time.Now()
	}
	h.mu.Lock()
	set := h.byOwner[owner]
	if set == nil {
		set = map[*hold]struct{}{}
		h.byOwner[owner] = set
	}
	set[x] = struct{}{}
	h.mu.Unlock()
	x.mu.Lock()
	x.timer = time.AfterFunc(max(wait, 0), func() { x.fire(Timeout) })
	for _, w := range watches {
		x.cancels = append(x.cancels, h.store.Notify(w.Topic, w.Queue, w.Offset, func() { x.fire(Woken) }))
	}
	x.mu.Unlock()
	// A drain that began before the hold was recorded: Drain sets
	// draining before it looks at byOwner.
	if h.draining.Load() {
		x.fire(Cut)
	}
}

// fire answers the hold for reason, the first time only.
func (x *hold) fire(reason Reason) {
	if !x.fired.CompareAndSwap(false, true) {
		return
	}
	if obs := x.h.held.Load(); obs != nil && !x.start.IsZero() && obs[reason] != nil {
		obs[reason].Observe(time.Since(x.start).Seconds())
	}
	x.h.dispatch(func() {
		x.release()
		x.fn(reason)
	})
}

// release forgets the hold and its wake-ups.
func (x *hold) release() {
	h := x.h
	h.mu.Lock()
	if set := h.byOwner[x.owner]; set != nil {
		delete(set, x)
		if len(set) == 0 {
			delete(h.byOwner, x.owner)
		}
	}
	h.mu.Unlock()
	x.mu.Lock() // waits for Park to finish registering
	x.timer.Stop()
	for _, c := range x.cancels {
		c()
	}
	x.mu.Unlock()
}

// Cut answers owner's parked reads now (reason Cut): its connection
// closed, so waiting on only holds the answer back.
func (h *Holds) Cut(owner any) {
	h.mu.Lock()
	var cut []*hold
	for x := range h.byOwner[owner] {
		cut = append(cut, x)
	}
	h.mu.Unlock()
	for _, x := range cut {
		x.fire(Cut)
	}
}

// Drain answers every parked read now (reason Cut), and every read parked
// later at once: the listener shuts down, and a parked read would hold it
// until its wait is over.
func (h *Holds) Drain() {
	h.draining.Store(true)
	h.mu.Lock()
	var cut []*hold
	for _, set := range h.byOwner {
		for x := range set {
			cut = append(cut, x)
		}
	}
	h.mu.Unlock()
	for _, x := range cut {
		x.fire(Cut)
	}
}

// Draining reports whether Drain has been called.
func (h *Holds) Draining() bool { return h.draining.Load() }

// Close drains and stops the workers; answers still due then run on
// goroutines of their own.
func (h *Holds) Close() {
	h.Drain()
	h.workMu.Lock()
	was := h.working
	h.working = false
	h.workMu.Unlock()
	if !was {
		return
	}
	close(h.stop)
	h.workers.Wait()
	for { // answers queued for a worker that stopped first
		select {
		case fn := <-h.work:
			go fn()
		default:
			return
		}
	}
}
