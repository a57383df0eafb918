package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/twinmq/twinmq/netio"
)

// After a burst of large requests (or decompressions) the Go runtime
// keeps the heap it grew: it collects only when allocation resumes, and
// returns freed pages to the system gradually after that, so an idle
// broker held 1.8 GB for minutes after sixteen decompression bombs (issue
// 15). returnMemory looks at the budgets every memoryCheckInterval and,
// when one peaked above burstBytes since the last look and is nearly
// empty now, collects and returns the freed memory at once
// (debug.FreeOSMemory: a full collection, tens of milliseconds, only
// after such a burst).
const (
	memoryCheckInterval = 10 * time.Second
	burstBytes          = 64 << 20
)

func returnMemory(ctx context.Context, logger *slog.Logger, budgets ...*netio.Budget) {
	t := time.NewTicker(memoryCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		burst := false
		for _, b := range budgets {
			if peak := b.TakePeak(); peak > burstBytes && b.Used() < burstBytes/4 {
				burst = true
			}
		}
		if burst {
			debug.FreeOSMemory()
			logger.Debug("returned memory to the system after a burst")
		}
	}
}
