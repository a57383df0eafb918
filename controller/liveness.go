package controller

import (
	"cmp"
	"slices"
	"time"
)

// Leader-local liveness (RocketMQ's DefaultBrokerHeartbeatManager): when
// each broker last sent BROKER_HEARTBEAT, and what it reported. It is not
// replicated: a new leader knows nobody's heartbeats, so for one timeout
// after it takes office it treats every master as alive (grace), and
// elects only once a master has been silent for a whole timeout under it.
// Like the state machine it has no clock: callers pass now. It is not safe
// for concurrent use; Controller guards it with its own lock.

// DefaultBrokerHeartbeatTimeout is how long a silent broker stays alive.
// RocketMQ's controllerHeartBeatTimeoutMills is 10 s; twinmq's brokers
// heartbeat every 500 ms, and 3 s (six missed heartbeats) keeps a
// failover under 5 s (issue 14's target), at the cost of electing a new
// master when a master stalls for 3 s (a long GC pause, a SIGSTOP); the
// stalled master then stops taking writes when it hears of it.
const DefaultBrokerHeartbeatTimeout = 3 * time.Second

// Heartbeat is one BROKER_HEARTBEAT (BrokerHeartbeatRequestHeader).
type Heartbeat struct {
	Cluster    string
	BrokerName string
	BrokerID   int64
	Addr       string
	// Epoch and MaxOffset are the broker's last log epoch and offset;
	// ElectionPriority is smaller-is-preferred. They rank candidates.
	Epoch            int32
	MaxOffset        int64
	ConfirmOffset    int64
	ElectionPriority int32
	// Timeout overrides the controller's timeout for this broker when set
	// (heartbeatTimeoutMills).
	Timeout time.Duration
}

type brokerKey struct {
	name string
	id   int64
}

type liveEntry struct {
	Heartbeat
	last time.Time
}

// Liveness tracks heartbeats.
type Liveness struct {
	timeout time.Duration
	since   time.Time // when this node last became leader
	brokers map[brokerKey]*liveEntry
}

// NewLiveness returns an empty table with the default timeout of brokers
// that do not name their own.
func NewLiveness(timeout time.Duration) *Liveness {
	return &Liveness{timeout: timeout, brokers: make(map[brokerKey]*liveEntry)}
}

// Lead starts a term as leader at now: the table is forgotten and the
// grace period starts.
func (l *Liveness) Lead(now time.Time) {
	l.since = now
	clear(l.brokers)
}

// Beat records hb at now. A report with an older epoch or offset than the
// last one keeps the newer position (onBrokerHeartbeat).
func (l *Liveness) Beat(hb Heartbeat, now time.Time) {
	k := brokerKey{hb.BrokerName, hb.BrokerID}
	e, ok := l.brokers[k]
	if !ok {
		l.brokers[k] = &liveEntry{Heartbeat: hb, last: now}
		return
	}
	newer := hb.Epoch > e.Epoch || hb.Epoch == e.Epoch && hb.MaxOffset > e.MaxOffset
	pos := e.Heartbeat
	e.Heartbeat, e.last = hb, now
	if !newer {
		e.Epoch, e.MaxOffset, e.ConfirmOffset = pos.Epoch, pos.MaxOffset, pos.ConfirmOffset
	}
}

func (l *Liveness) timeoutOf(e *liveEntry) time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return l.timeout
}

// Alive reports whether broker id of brokerName was heard from within its
// timeout.
func (l *Liveness) Alive(brokerName string, id int64, now time.Time) bool {
	e, ok := l.brokers[brokerKey{brokerName, id}]
	return ok && now.Sub(e.last) <= l.timeoutOf(e)
}

// inGrace reports whether this leader is too new to call anyone dead.
func (l *Liveness) inGrace(now time.Time) bool { return now.Sub(l.since) < l.timeout }

// MasterAlive reports whether g's master counts as alive: heard from, or
// the leader is in its grace period.
func (l *Liveness) MasterAlive(g *Group, now time.Time) bool {
	return g.HasMaster() && (l.inGrace(now) || l.Alive(g.Name, g.MasterID, now))
}

// Ranked lists g's alive members, best master candidate first: higher
// epoch, then higher maxOffset, then lower electionPriority
// (DefaultElectPolicy's comparator), then lower id.
func (l *Liveness) Ranked(g *Group, now time.Time) []int64 {
	var alive []*liveEntry
	for _, m := range g.Members {
		if l.Alive(g.Name, m.ID, now) {
			alive = append(alive, l.brokers[brokerKey{g.Name, m.ID}])
		}
	}
	slices.SortFunc(alive, func(a, b *liveEntry) int {
		return cmp.Or(cmp.Compare(b.Epoch, a.Epoch), cmp.Compare(b.MaxOffset, a.MaxOffset),
			cmp.Compare(a.ElectionPriority, b.ElectionPriority), cmp.Compare(a.BrokerID, b.BrokerID))
	})
	ids := make([]int64, len(alive))
	for i, e := range alive {
		ids[i] = e.BrokerID
	}
	return ids
}

// NeedElect lists the groups whose master is not alive while another
// member is (ReplicasInfoManager.scanNeedReelectBrokerSets), and forgets
// brokers silent for ten timeouts.
func (l *Liveness) NeedElect(groups []Group, now time.Time) []string {
	for k, e := range l.brokers {
		if now.Sub(e.last) > 10*l.timeoutOf(e) {
			delete(l.brokers, k)
		}
	}
	var out []string
	for i := range groups {
		g := &groups[i]
		if !g.HasMaster() || l.MasterAlive(g, now) {
			continue
		}
		if len(l.Ranked(g, now)) > 0 {
			out = append(out, g.Name)
		}
	}
	return out
}
