package delay

// The delay-level core: a deterministic state machine with no goroutines,
// no I/O and no clock (STYLE.md habit 8). The driver (Scheduler) feeds it
// events with the current time and carries out the effects it returns.
//
// Per level the core walks the level's queue in order, as RocketMQ's
// ScheduleMessageService.DeliverDelayedMessageTimerTask does: messages of
// one level share one delay, so their due times rise with the queue offset
// and the first message not yet due stops the walk. Each level is in one
// phase at a time, so the driver has at most one read or delivery in flight
// per level.

// phase of a level.
type phase uint8

const (
	phaseIdle       phase = iota // nothing asked yet
	phaseReading                 // a Read is out
	phaseDelivering              // a Deliver is out
	phaseWaitData                // a Watch is out: the queue has nothing at next
	phaseWaitTime                // the head is not due until wake
)

// Item is one scheduled entry as the core sees it.
type Item struct {
	Offset int64 // first logical offset of the entry
	Next   int64 // offset after it
	DueMs  int64 // delivery time, the entry's tags code
}

// Event is an input of Core.Step.
type Event interface{ event() }

// EvStart starts every level.
type EvStart struct{}

// EvTick says time has passed (a timer fired).
type EvTick struct{}

// EvAppended says a level's queue has data at the offset its Watch named.
type EvAppended struct{ Level int }

// EvRead is the answer to a Read: the entries at From (which is past the
// asked offset when retention removed the entries in between), in order.
// No items means the queue has nothing at From.
type EvRead struct {
	Level int
	From  int64
	Items []Item
}

// EvDelivered says a Deliver is durable, its progress record with it.
type EvDelivered struct {
	Level int
	Next  int64
}

// EvFailed says a Read or Deliver failed; the level retries after
// RetryMs.
type EvFailed struct{ Level int }

func (EvStart) event()     {}
func (EvTick) event()      {}
func (EvAppended) event()  {}
func (EvRead) event()      {}
func (EvDelivered) event() {}
func (EvFailed) event()    {}

// Effect is an output of Core.Step.
type Effect interface{ effect() }

// Read asks for up to a batch of entries of a level's queue from From.
type Read struct {
	Level int
	From  int64
}

// Deliver asks to re-store Items (due, consecutive) to their real topics
// and to record Next as the level's progress, in one append.
type Deliver struct {
	Level int
	Items []Item
	Next  int64
}

// Watch asks to be told (EvAppended) when a level's queue has an entry at
// From.
type Watch struct {
	Level int
	From  int64
}

// WakeAt asks for an EvTick at AtMs (the earliest time any level waits
// for); it replaces any earlier WakeAt.
type WakeAt struct{ AtMs int64 }

func (Read) effect()    {}
func (Deliver) effect() {}
func (Watch) effect()   {}
func (WakeAt) effect()  {}

// RetryMs is how long a level waits after a failed read or delivery.
const RetryMs = 1000

type level struct {
	phase phase
	next  int64 // first offset not yet delivered
	wake  int64 // phaseWaitTime: when to read again
}

// Core is the scheduling state of every level.
type Core struct {
	levels []level // levels[i] is level i+1
}

// NewCore returns a core for n levels whose delivery progress is next
// (next[i] for level i+1; missing levels start at 0).
func NewCore(n int, next []int64) *Core {
	c := &Core{levels: make([]level, n)}
	for i := range c.levels {
		if i < len(next) {
			c.levels[i].next = next[i]
		}
	}
	return c
}

// Next returns a level's delivery progress.
func (c *Core) Next(lvl int) int64 { return c.levels[lvl-1].next }

// Step applies one event at nowMs and returns the effects to carry out.
func (c *Core) Step(ev Event, nowMs int64) []Effect {
	var out []Effect
	switch ev := ev.(type) {
	case EvStart:
		for i := range c.levels {
			out = c.read(out, i)
		}
	case EvTick:
		for i := range c.levels {
			if l := &c.levels[i]; l.phase == phaseWaitTime && l.wake <= nowMs {
				out = c.read(out, i)
			}
		}
	case EvAppended:
		if l := c.level(ev.Level); l != nil && l.phase == phaseWaitData {
			out = c.read(out, ev.Level-1)
		}
	case EvRead:
		out = c.onRead(out, ev, nowMs)
	case EvDelivered:
		if l := c.level(ev.Level); l != nil && l.phase == phaseDelivering {
			l.next = max(l.next, ev.Next)
			out = c.read(out, ev.Level-1)
		}
	case EvFailed:
		if l := c.level(ev.Level); l != nil && (l.phase == phaseReading || l.phase == phaseDelivering) {
			l.phase, l.wake = phaseWaitTime, nowMs+RetryMs
		}
	}
	return c.wakeAt(out)
}

func (c *Core) level(lvl int) *level {
	if lvl < 1 || lvl > len(c.levels) {
		return nil // an event for a level the core does not have: ignored
	}
	return &c.levels[lvl-1]
}

func (c *Core) read(out []Effect, i int) []Effect {
	c.levels[i].phase = phaseReading
	return append(out, Read{Level: i + 1, From: c.levels[i].next})
}

// onRead delivers the due prefix of a batch, or waits for the head's time
// or for new data.
func (c *Core) onRead(out []Effect, ev EvRead, nowMs int64) []Effect {
	l := c.level(ev.Level)
	if l == nil || l.phase != phaseReading {
		return out
	}
	// Retention may have removed entries the level never delivered; the
	// driver logs that. Progress moves on, never back.
	l.next = max(l.next, ev.From)
	due := 0
	for _, it := range ev.Items {
		if it.DueMs > nowMs || it.Offset < l.next {
			break
		}
		due++
	}
	switch {
	case due > 0:
		l.phase = phaseDelivering
		items := ev.Items[:due:due]
		return append(out, Deliver{Level: ev.Level, Items: items, Next: items[due-1].Next})
	case len(ev.Items) > 0 && ev.Items[0].Offset >= l.next:
		l.phase, l.wake = phaseWaitTime, ev.Items[0].DueMs
		return out
	default:
		l.phase = phaseWaitData
		return append(out, Watch{Level: ev.Level, From: l.next})
	}
}

// wakeAt appends the earliest wake time, if any level waits for one.
func (c *Core) wakeAt(out []Effect) []Effect {
	at, ok := int64(0), false
	for _, l := range c.levels {
		if l.phase == phaseWaitTime && (!ok || l.wake < at) {
			at, ok = l.wake, true
		}
	}
	if ok {
		out = append(out, WakeAt{AtMs: at})
	}
	return out
}
