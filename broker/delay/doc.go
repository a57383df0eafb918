// Package delay holds twinmq's protocol-neutral delay services (issue 6,
// docs/rocketmq-protocol.md §6.1-6.3): the RocketMQ delay levels, the placement rules of delay
// and timer properties, and the retry / dead-letter decisions. Both
// adapters use it: a RocketMQ DELAY property and a Kafka DELAY header are
// the same thing (docs/design.md section 4).
//
// # How an adapter uses it
//
// On send, for each message (not for prepared transaction messages):
//
//	pl, err := policy.Place(lookup, topic, queue, now)
//	// err: ErrBadProperty / ErrTimerIllegal -> MESSAGE_ILLEGAL (13),
//	//      ErrTimerDisabled -> SYSTEM_ERROR (1)
//	// store to pl.Topic / pl.Queue with pl.Edits applied to the
//	// properties and, for RouteLevel and RouteTimer, TagsCodes
//	// []int64{pl.DueMs}; answer with the queue the producer asked for.
//
// The Scheduler (delay levels) and the timer wheel (package broker/timer)
// then watch ScheduleTopic and TimerTopic and call the adapter's Build for
// each due entry; Build decodes the adapter's own payload, applies
// DeliveryEdits, targets Target(props) and encodes the new entry.
//
// On CONSUMER_SEND_MSG_BACK (36), the adapter finds the message by
// CommitLog offset and stores a copy as DecideSendBack says (the copy
// carries DELAY, so it goes through Place). On SEND_MESSAGE to a %RETRY%
// topic, DecideRetrySend says whether it goes to the DLQ instead.
//
// # The delay-level core
//
// Core is a deterministic state machine (STYLE.md habit 8) stepped by the
// Scheduler's one goroutine. Each level walks its ScheduleTopic queue in
// offset order; the first message not yet due stops it until its time
// (the messages of a level share one delay, so due times rise with the
// offset) and an empty queue parks on storage.Store.Notify. A delivery is
// one Append: the re-stored messages and a progress record (ProgressTopic,
// layout in progress.go). Recovery truncates a torn tail, so a progress
// record is never durable without the messages it covers; a crash can only
// lose a delivery and its record together, which then repeat
// (at-least-once). Start replays the records and delivers at once whatever
// fell due while the broker was down.
package delay
