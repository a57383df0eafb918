package kafkaapi

// Leader epochs. A broker group's partitions share its master epoch: 0
// without a controller, the controller's masterEpoch with one, growing at
// every failover. Stored batches carry the epoch they were appended in,
// Metadata and ListOffsets give the current one, and OffsetForLeaderEpoch
// finds where an epoch ended from the group's epoch list (the HA epoch
// file: each epoch with the CommitLog offset it began at), so Kafka
// clients can detect a truncation (KIP-101, KIP-320) as against Kafka.

// EpochStart is one master epoch and the CommitLog offset it began at.
type EpochStart struct {
	Epoch int32
	Start int64
}

// leaderEpoch is this broker's current leader epoch.
func (h *Handler) leaderEpoch() int32 {
	if h.cfg.LeaderEpoch == nil {
		return 0
	}
	return max(h.cfg.LeaderEpoch(), 0)
}

// checkLeaderEpoch checks a request's current leader epoch (-1: none):
// a newer one than ours is UNKNOWN_LEADER_EPOCH (this broker has not
// learned it yet), an older one FENCED_LEADER_EPOCH (the client's metadata
// is stale).
func (h *Handler) checkLeaderEpoch(current int32) int16 {
	e := h.leaderEpoch()
	switch {
	case current < 0:
		return errNone
	case current > e:
		return errUnknownLeaderEpoch
	case current < e:
		return errFencedLeaderEpoch
	}
	return errNone
}

// epochEnd answers OffsetForLeaderEpoch for queue of topic and epoch as
// Kafka's LeaderEpochFileCache.endOffsetFor does: the current epoch ends
// at the high watermark; an older one at the first offset of the next
// epoch that began after it, in this queue; an epoch older than every
// known one answers its own number with the first known epoch's start;
// one newer than the current is unknown (-1, -1).
func (h *Handler) epochEnd(topic string, queue, epoch int32) (int32, int64, int16) {
	cur := h.leaderEpoch()
	start, hwm, err := h.queueRange(topic, queue)
	if err != nil {
		return -1, -1, codeOf(err)
	}
	switch {
	case epoch > cur || epoch < 0:
		return -1, -1, errNone
	case epoch == cur:
		return cur, hwm, errNone
	}
	var list []EpochStart
	if h.cfg.Epochs != nil {
		list = h.cfg.Epochs()
	}
	// The largest epoch not above the one asked for, and where the next
	// began.
	found, next := int32(-1), int64(-1)
	for i, e := range list {
		if e.Epoch <= epoch {
			found = e.Epoch
			continue
		}
		if i == 0 { // asked for an epoch before every known one
			found = epoch
		}
		next = e.Start
		break
	}
	if next < 0 { // no later epoch began: the asked one is still running
		return cur, hwm, errNone
	}
	off, err := h.firstAtOrAfter(topic, queue, next, start, hwm)
	if err != nil {
		return -1, -1, codeOf(err)
	}
	return found, off, errNone
}

// firstAtOrAfter is the first offset in [start, end) of the queue whose
// entry lies at CommitLog offset phys or later, or end: a binary search
// over the ConsumeQueue (its entries are in CommitLog order).
func (h *Handler) firstAtOrAfter(topic string, queue int32, phys, start, end int64) (int64, error) {
	lo, hi := start, end
	for lo < hi {
		mid := lo + (hi-lo)/2
		p, _, _, err := h.logs.EntryAt(topic, queue, mid)
		if err != nil {
			return 0, err
		}
		if p >= phys {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}
