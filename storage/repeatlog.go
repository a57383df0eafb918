package storage

import (
	"log/slog"
	"sync"
	"time"
)

// repeatLogInterval is how often an error that keeps recurring is logged
// again, with the count of its repeats. A failed fsync fails the log for
// good, so every flush (every flushIntervalMs) and every checkpoint (every
// second) after it fails the same way: logged each time, it filled the
// log at two lines a second.
const repeatLogInterval = time.Minute

// repeatLog logs each message the first time at ERROR, and then at most
// once per repeatLogInterval, as a reminder that says how many times it
// recurred meanwhile. The zero value is ready; it is safe for concurrent
// use.
type repeatLog struct {
	mu   sync.Mutex
	msgs map[string]*repeated
}

type repeated struct {
	first, last time.Time // first seen, last logged
	skipped     int       // recurrences since last logged
}

// error logs msg with args, unless msg was logged less than
// repeatLogInterval before now.
func (r *repeatLog) error(log *slog.Logger, now time.Time, msg string, args ...any) {
	r.mu.Lock()
	if r.msgs == nil {
		r.msgs = map[string]*repeated{}
	}
	st := r.msgs[msg]
	switch {
	case st == nil:
		r.msgs[msg] = &repeated{first: now, last: now}
	case now.Sub(st.last) < repeatLogInterval:
		st.skipped++
		r.mu.Unlock()
		return
	default:
		args = append(args, "repeats", st.skipped+1, "since", st.first.Format(time.RFC3339))
		st.last, st.skipped = now, 0
	}
	r.mu.Unlock()
	log.Error(msg, args...)
}
