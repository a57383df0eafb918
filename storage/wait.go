package storage

// waiter is a parked long poll: fn runs once the queue's max offset passes
// after.
type waiter struct {
	after int64
	fn    func()
	fired bool
}

// Notify calls fn once, on the goroutine that dispatches the entry (the
// dispatcher, or a DispatchNow or ReleaseDispatch caller) and holding
// dispatchMu, when (topic, queue) has an entry at or past offset (max
// offset > offset); at once, on the caller's goroutine and with no lock
// held, if it already has. It parks no goroutine: long polls
// (Kafka MaxWaitMs, RocketMQ suspendTimeoutMillis) register here and
// finish from fn or from their own timer. fn must not block. The returned
// cancel removes the registration; it reports whether fn had not run.
func (s *Store) Notify(topic string, queue int32, offset int64, fn func()) (cancel func() bool) {
	k := queueKey{topic, queue}
	w := &waiter{after: offset, fn: fn}
	s.waitMu.Lock()
	if q := s.queue(topic, queue); q != nil && q.MaxOffset() > offset {
		s.waitMu.Unlock()
		fn()
		return func() bool { return false }
	}
	s.waiters[k] = append(s.waiters[k], w)
	s.nwaiters.Add(1)
	s.waitMu.Unlock()
	// The entry waited for may be written already and left for the lazy
	// dispatch tick: an append wakes the dispatcher only for a waiter it
	// sees, and a Kafka produce with acks registers right after its
	// append. Waking it now saves the waiter up to lazyDispatchInterval.
	if s.visibleOffset() > s.dispatched.Load() {
		s.wakeDispatcher() // a waiter is registered now: it wakes
	}
	return func() bool {
		s.waitMu.Lock()
		defer s.waitMu.Unlock()
		if w.fired {
			return false
		}
		ws := s.waiters[k]
		for i, x := range ws {
			if x == w {
				ws[i] = ws[len(ws)-1]
				s.waiters[k] = ws[:len(ws)-1]
				break
			}
		}
		if len(s.waiters[k]) == 0 {
			delete(s.waiters, k)
		}
		w.fired = true
		s.nwaiters.Add(-1)
		return true
	}
}

// notify fires the waiters of queues that reached new max offsets.
func (s *Store) notify(touched map[queueKey]int64) {
	if len(touched) == 0 {
		return
	}
	var fire []func()
	s.waitMu.Lock()
	for k, max := range touched {
		ws := s.waiters[k]
		if len(ws) == 0 {
			continue
		}
		keep := ws[:0]
		for _, w := range ws {
			if max > w.after {
				w.fired = true
				s.nwaiters.Add(-1)
				fire = append(fire, w.fn)
			} else {
				keep = append(keep, w)
			}
		}
		if len(keep) == 0 {
			delete(s.waiters, k)
		} else {
			s.waiters[k] = keep
		}
	}
	s.waitMu.Unlock()
	for _, fn := range fire {
		fn()
	}
}
