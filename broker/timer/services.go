package timer

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/storage"
)

// Services are a broker's two delivery services: the delay-level
// Scheduler (SCHEDULE_TOPIC_XXXX) and the timer Service (the timer
// topic), started over one store with one Build.
type Services struct {
	Levels *delay.Scheduler
	Timer  *Service
}

// StartServices starts both services. Levels are the broker's
// messageDelayLevel; without timers (timerWheelEnable false) only the
// delay levels run.
func StartServices(ctx context.Context, store *storage.Store, p delay.Policy, build delay.Build, logger *slog.Logger) (*Services, error) {
	p.Validate()
	if logger == nil {
		logger = slog.Default()
	}
	lv, err := delay.Start(ctx, delay.Config{Store: store, Levels: p.Levels, Build: build, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("timer: start delay levels: %w", err)
	}
	s := &Services{Levels: lv}
	if p.TimerDisabled {
		return s, nil
	}
	s.Timer, err = Start(ctx, Config{Store: store, Build: build, Logger: logger})
	if err != nil {
		_ = lv.Close()
		return nil, fmt.Errorf("timer: start timer wheel: %w", err)
	}
	return s, nil
}

// Close stops both services; pending messages stay on disk for the next
// start.
func (s *Services) Close() {
	if s.Timer != nil {
		_ = s.Timer.Close()
	}
	_ = s.Levels.Close()
}
