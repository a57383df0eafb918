package kafkaapi

import (
	"context"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/kafka"
)

// A compressed batch is decompressed to be validated (and for its keys
// and TAGS), and the output lives until the batch is checked: a 33 KB
// zstd batch can ask for the whole 64 MiB limit, and sixteen of them at
// once held 1 GiB (issue 15). So the output is charged to the broker-wide
// decompression budget (Config.DecompressBudget) as it grows. When the
// budget refuses, the partition's batch is built again once the budget
// has room for its whole limit, charged up front, so that a waiter holds
// nothing while it waits and waiters cannot starve each other into a
// deadlock. The produce request's timeout bounds the wait (then
// REQUEST_TIMED_OUT, which clients retry). The inline path never waits:
// it declines the frame and a worker takes it.

// codeBudgetSpent is buildEntry's answer when the decompression budget
// refused; it never reaches a client.
const codeBudgetSpent int16 = -100

// decompressBudget is the handler's decompression budget as a
// kafka.Budget (nil when there is none: a nil *netio.Budget in the
// interface would not be nil).
func (h *Handler) decompressBudget() kafka.Budget {
	if h.cfg.DecompressBudget == nil {
		return nil
	}
	return h.cfg.DecompressBudget
}

// buildEntryReserved waits until the decompression budget has room for
// the batch's whole decompression limit, then builds its entry with that
// reservation, released when it is built.
func (h *Handler) buildEntryReserved(ctx context.Context, cfg topics.Config, part int32, records []byte) (log.Message, kafka.BatchHeader, bool, int16) {
	b := h.cfg.DecompressBudget
	n := int64(kafka.DefaultMaxDecompressed)
	if err := b.Charge(ctx, n); err != nil {
		h.log.Warn("kafkaapi: produce waited too long for the decompression budget",
			"topic", cfg.Name, "partition", part, "budget", b.Limit(), "err", err)
		return log.Message{}, kafka.BatchHeader{}, false, errRequestTimedOut
	}
	defer b.Release(n)
	return h.buildEntry(cfg, part, records, nil)
}
