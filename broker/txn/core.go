package txn

import (
	"cmp"
	"errors"
	"math"
	"slices"
)

// The pure core: one function per request. Each takes the current Meta
// (nil for a transactional id never seen) and returns the next one, or a
// sentinel error and no change. The caller persists the result before
// acting on it. Kafka's TransactionCoordinator is the reference for each
// check; the KIP is cited where one decides it.

// Errors of the core; the adapters map them to their protocol's codes.
var (
	// ErrInvalidMapping: the transactional id is unknown or owned by
	// another producer id (INVALID_PRODUCER_ID_MAPPING).
	ErrInvalidMapping = errors.New("txn: producer id does not own the transactional id")
	// ErrFenced: the producer's epoch is not the current one; a newer
	// producer with the same transactional id took over (KIP-588
	// PRODUCER_FENCED, INVALID_PRODUCER_EPOCH for older versions).
	ErrFenced = errors.New("txn: producer fenced")
	// ErrInvalidState: the request does not fit the transaction's state
	// (INVALID_TXN_STATE).
	ErrInvalidState = errors.New("txn: invalid transaction state")
	// ErrConcurrent: the previous transaction is still completing
	// (CONCURRENT_TRANSACTIONS, retriable).
	ErrConcurrent = errors.New("txn: a transaction is completing")
	// ErrInvalidTimeout: the timeout is not in (0, max]
	// (INVALID_TRANSACTION_TIMEOUT).
	ErrInvalidTimeout = errors.New("txn: invalid transaction timeout")
	// ErrNotFound: no such transactional id (admin requests).
	ErrNotFound = errors.New("txn: transactional id not found")
)

// InitRequest is an InitProducerId with a transactional id. ProducerID
// and Epoch are -1 unless the producer asks to keep its id (KIP-360).
type InitRequest struct {
	TimeoutMs  int32
	ProducerID int64
	Epoch      int16
}

// Init decides an InitProducerId. An open transaction is aborted first:
// Init returns it in PrepareAbort with its epoch bumped (the old producer
// is fenced) and abort true; the caller writes the markers, completes the
// abort and calls Init again. Otherwise the epoch is bumped, or a new
// producer id taken when the epoch would overflow (KIP-360).
func Init(m *Meta, id string, req InitRequest, maxTimeoutMs int32, now int64, alloc func() int64) (next Meta, abort bool, err error) {
	if req.TimeoutMs <= 0 || req.TimeoutMs > maxTimeoutMs {
		return Meta{}, false, ErrInvalidTimeout
	}
	if m == nil {
		if req.ProducerID >= 0 {
			return Meta{}, false, ErrInvalidMapping
		}
		return Meta{ID: id, ProducerID: alloc(), TimeoutMs: req.TimeoutMs, State: Empty, UpdateMs: now,
			PrevProducerID: -1, NextProducerID: -1}, false, nil
	}
	if req.ProducerID >= 0 && (req.ProducerID != m.ProducerID || req.Epoch != m.Epoch) {
		return Meta{}, false, ErrFenced
	}
	switch m.State {
	case PrepareCommit, PrepareAbort:
		return Meta{}, false, ErrConcurrent
	case Ongoing:
		n := clone(m)
		n.State, n.UpdateMs = PrepareAbort, now
		fenceEpoch(&n)
		return n, true, nil
	}
	n := Meta{ID: id, ProducerID: m.ProducerID, Epoch: m.Epoch, TimeoutMs: req.TimeoutMs, State: Empty, UpdateMs: now,
		PrevProducerID: -1, NextProducerID: -1}
	bumpEpoch(&n, alloc)
	return n, false, nil
}

// bumpEpoch moves to the next epoch, or to a new producer id at epoch 0
// when the epoch is exhausted (Kafka keeps MaxInt16 itself unused).
func bumpEpoch(m *Meta, alloc func() int64) {
	if m.Epoch >= math.MaxInt16-1 {
		m.ProducerID, m.Epoch = alloc(), 0
		return
	}
	m.Epoch++
}

// fenceEpoch bumps the epoch of an aborting transaction, whose markers
// must carry its producer id: an exhausted epoch stays (the next Init
// takes a new producer id).
func fenceEpoch(m *Meta) {
	if m.Epoch < math.MaxInt16-1 {
		m.Epoch++
	}
}

// check is what every request of an initialized producer must pass.
func check(m *Meta, pid int64, epoch int16) error {
	switch {
	case m == nil || m.State == Dead || pid != m.ProducerID:
		return ErrInvalidMapping
	case epoch != m.Epoch:
		return ErrFenced
	case m.State == PrepareCommit || m.State == PrepareAbort:
		return ErrConcurrent
	}
	return nil
}

// begin opens a transaction if none is: the first AddPartitions or
// AddOffsets after Init or a completed transaction. v2 says what opened
// it: a KIP-890 part 2 implicit add (Produce v12+, TxnOffsetCommit v5+).
func begin(m *Meta, v2 bool, now int64) Meta {
	n := clone(m)
	if n.State != Ongoing {
		n.State, n.StartMs, n.V2 = Ongoing, now, v2
		n.Partitions, n.Groups, n.Offsets = nil, nil, nil
	}
	n.UpdateMs = now
	return n
}

// AddPartitions adds partitions to the transaction: AddPartitionsToTxn
// (v2 false), or the partition leader adding a Produce v12+ batch's
// partition itself (v2 true, KIP-890 part 2: the client sends no
// AddPartitionsToTxn).
func AddPartitions(m *Meta, pid int64, epoch int16, parts []Partition, v2 bool, now int64) (Meta, error) {
	if err := check(m, pid, epoch); err != nil {
		return Meta{}, err
	}
	n := begin(m, v2, now)
	for _, p := range parts {
		if i, found := slices.BinarySearchFunc(n.Partitions, p, comparePartition); !found {
			n.Partitions = slices.Insert(n.Partitions, i, p)
		}
	}
	return n, nil
}

// Verify reports whether the open transaction of pid and epoch holds
// every one of parts (KIP-890 part 1: the broker checks that a
// transactional batch's partition was added before it appends it).
func Verify(m *Meta, pid int64, epoch int16, parts []Partition) error {
	if err := check(m, pid, epoch); err != nil {
		return err
	}
	if m.State != Ongoing {
		return ErrInvalidState
	}
	for _, p := range parts {
		if _, found := slices.BinarySearchFunc(m.Partitions, p, comparePartition); !found {
			return ErrInvalidState
		}
	}
	return nil
}

// AddOffsets adds a consumer group to the transaction (AddOffsetsToTxn).
func AddOffsets(m *Meta, pid int64, epoch int16, group string, now int64) (Meta, error) {
	if err := check(m, pid, epoch); err != nil {
		return Meta{}, err
	}
	n := begin(m, false, now)
	if i, found := slices.BinarySearch(n.Groups, group); !found {
		n.Groups = slices.Insert(n.Groups, i, group)
	}
	return n, nil
}

// CommitOffsets records consumer offsets the transaction commits
// (TxnOffsetCommit). They become visible only when the transaction
// commits. The group must have been added (AddOffsets), unless implicit:
// TxnOffsetCommit v5+ adds its group, and opens the transaction if none
// is (KIP-890 part 2: the client sends no AddOffsetsToTxn).
func CommitOffsets(m *Meta, pid int64, epoch int16, group string, offs []Offset, implicit bool, now int64) (Meta, error) {
	if err := check(m, pid, epoch); err != nil {
		return Meta{}, err
	}
	var n Meta
	switch {
	case m.State == Ongoing && slices.Contains(m.Groups, group):
		n = clone(m)
	case implicit:
		n = begin(m, true, now)
		if i, found := slices.BinarySearch(n.Groups, group); !found {
			n.Groups = slices.Insert(n.Groups, i, group)
		}
	default:
		return Meta{}, ErrInvalidState
	}
	n.UpdateMs = now
	for _, o := range offs {
		o.Group = group
		i := slices.IndexFunc(n.Offsets, func(x Offset) bool {
			return x.Group == o.Group && x.Topic == o.Topic && x.Partition == o.Partition && x.Owner == o.Owner
		})
		if i >= 0 {
			n.Offsets[i] = o
		} else {
			n.Offsets = append(n.Offsets, o)
		}
	}
	return n, nil
}

// End decides an EndTxn. An open transaction goes to PrepareCommit or
// PrepareAbort (markers true: the caller writes them, then Complete). v2
// is KIP-890 part 2 (EndTxn v5+, endV2). Without it (endV1), the epoch
// stays; a retried EndTxn of a transaction completing (markers true
// again, next unchanged: the caller finishes them) or completed the same
// way is a success, the other way INVALID_TXN_STATE.
func End(m *Meta, pid int64, epoch int16, commit, v2 bool, now int64, alloc func() int64) (next Meta, markers bool, err error) {
	if v2 {
		return endV2(m, pid, epoch, commit, now, alloc)
	}
	if m != nil && m.State != Dead && m.ProducerID == pid && m.Epoch == epoch && preparing(m.State) {
		if sameOutcome(m.State, commit) {
			return *m, true, nil
		}
		return Meta{}, false, ErrInvalidState
	}
	if err := check(m, pid, epoch); err != nil {
		return Meta{}, false, err
	}
	switch {
	case m.State == Ongoing:
		return prepare(m, commit, false, now, nil), true, nil
	case completed(m.State) && sameOutcome(m.State, commit):
		return *m, false, nil
	}
	return Meta{}, false, ErrInvalidState
}

// endV2 decides an EndTxn v5+ (KIP-890 part 2, Kafka's transaction.version
// 2): every commit or abort bumps the epoch, the markers carry the bumped
// one (so the transaction's late batches are fenced at each partition),
// and the reply gives the producer its next epoch; an exhausted epoch
// moves to a new producer id at Complete. The producer's epoch is the
// bumped one's predecessor in a retry: a retry of the same outcome is a
// success (finishing the markers if they are still being written), of the
// other one INVALID_TXN_STATE. With nothing open, an abort is legal and
// bumps the epoch (the client aborts when its produces may have added
// partitions it never heard back about); a commit is INVALID_TXN_STATE.
func endV2(m *Meta, pid int64, epoch int16, commit bool, now int64, alloc func() int64) (Meta, bool, error) {
	if m == nil || m.State == Dead {
		return Meta{}, false, ErrInvalidMapping
	}
	retry := m.V2 && (preparing(m.State) || completed(m.State)) &&
		(pid == m.ProducerID && int32(epoch)+1 == int32(m.Epoch) ||
			completed(m.State) && pid == m.PrevProducerID && epoch == math.MaxInt16-1 && m.Epoch == 0)
	switch {
	case retry && sameOutcome(m.State, commit):
		return *m, preparing(m.State), nil
	case retry:
		return Meta{}, false, ErrInvalidState
	case pid != m.ProducerID:
		return Meta{}, false, ErrInvalidMapping
	case epoch != m.Epoch:
		return Meta{}, false, ErrFenced
	case preparing(m.State):
		return Meta{}, false, ErrConcurrent
	case m.State != Ongoing && commit:
		return Meta{}, false, ErrInvalidState
	}
	return prepare(m, commit, true, now, alloc), true, nil
}

// prepare moves m to PrepareCommit or PrepareAbort; v2 bumps the epoch
// (Kafka keeps MaxInt16 for this bump and the fencing ones: the producer
// never gets it) and takes the next producer id when the epoch is
// exhausted.
func prepare(m *Meta, commit, v2 bool, now int64, alloc func() int64) Meta {
	n := clone(m)
	n.State, n.UpdateMs, n.V2 = PrepareAbort, now, v2
	if commit {
		n.State = PrepareCommit
	}
	if v2 {
		if n.Epoch >= math.MaxInt16-1 {
			n.NextProducerID = alloc()
		}
		n.Epoch++
	}
	return n
}

func preparing(s State) bool { return s == PrepareCommit || s == PrepareAbort }
func completed(s State) bool { return s == CompleteCommit || s == CompleteAbort }

// sameOutcome reports whether a Prepare or Complete state s ends the way
// an EndTxn with commit asks.
func sameOutcome(s State, commit bool) bool {
	return (s == PrepareCommit || s == CompleteCommit) == commit
}

// Complete ends a Prepare state once every marker is written.
func Complete(m *Meta, now int64) Meta {
	n := clone(m)
	switch m.State {
	case PrepareCommit:
		n.State = CompleteCommit
	case PrepareAbort:
		n.State = CompleteAbort
	default:
		return n
	}
	n.Partitions, n.Groups, n.Offsets, n.UpdateMs = nil, nil, nil, now
	if n.NextProducerID >= 0 {
		// KIP-890 part 2: the markers went out with the exhausted id's
		// last epoch; the producer goes on with the new id.
		n.PrevProducerID, n.ProducerID, n.Epoch, n.NextProducerID = n.ProducerID, n.NextProducerID, 0, -1
	}
	return n
}

// Expire aborts a transaction open longer than its timeout
// (transaction.timeout.ms), bumping the epoch so that the producer, if
// it is still alive, is fenced rather than writing into an aborted
// transaction.
func Expire(m *Meta, now int64) (Meta, bool) {
	if m.State != Ongoing || now-m.StartMs <= int64(m.TimeoutMs) {
		return Meta{}, false
	}
	return ForceAbort(m, now)
}

// ForceAbort aborts an open transaction whatever its age (an operator
// aborting a hanging transaction), fencing its producer.
func ForceAbort(m *Meta, now int64) (Meta, bool) {
	if m.State != Ongoing {
		return Meta{}, false
	}
	n := clone(m)
	n.State, n.UpdateMs = PrepareAbort, now
	fenceEpoch(&n)
	return n, true
}

func comparePartition(a, b Partition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Partition, b.Partition))
}

func clone(m *Meta) Meta {
	n := *m
	n.Partitions = slices.Clone(m.Partitions)
	n.Groups = slices.Clone(m.Groups)
	n.Offsets = slices.Clone(m.Offsets)
	return n
}

// Idle reports whether a transactional id has been unused for longer than
// expiration with no transaction open or completing
// (transactional.id.expiration.ms): its record can go.
func Idle(m *Meta, now int64, expiration int64) bool {
	switch m.State {
	case Empty, CompleteCommit, CompleteAbort:
		return now-m.UpdateMs > expiration
	}
	return false
}
