package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/httpapi"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/timer"
	"github.com/twinmq/twinmq/storage"
)

// maxTimerMaxDelaySec bounds timerMaxDelaySec (about 100 years): due
// times stay far from int64 overflow.
const maxTimerMaxDelaySec = 100 * 365 * 24 * 3600

// delayPolicy maps the delay settings onto delay.Policy.
func (c *Config) delayPolicy() (delay.Policy, error) {
	levels, err := delay.ParseLevels(c.MessageDelayLevel)
	if err != nil {
		return delay.Policy{}, fmt.Errorf("messageDelayLevel %q: %w", c.MessageDelayLevel, err)
	}
	if c.TimerMaxDelaySec <= 0 || c.TimerMaxDelaySec > maxTimerMaxDelaySec {
		return delay.Policy{}, fmt.Errorf("timerMaxDelaySec %d: must be in 1..%d", c.TimerMaxDelaySec, maxTimerMaxDelaySec)
	}
	if c.TimerPrecisionMs <= 0 || c.TimerPrecisionMs > 3_600_000 {
		return delay.Policy{}, fmt.Errorf("timerPrecisionMs %d: must be in 1..3600000", c.TimerPrecisionMs)
	}
	p := delay.Policy{
		Levels: levels, TimerDisabled: !c.TimerWheelEnable,
		TimerMaxDelay:  time.Duration(c.TimerMaxDelaySec) * time.Second,
		TimerPrecision: time.Duration(c.TimerPrecisionMs) * time.Millisecond,
	}
	p.Validate()
	return p, nil
}

func addDelayFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("message-delay-level", d.MessageDelayLevel, "delay of each DELAY level, space-separated (s, m, h, d)")
	fs.Bool("timer-wheel-enable", d.TimerWheelEnable, "accept timer messages (TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS)")
	fs.Int64("timer-max-delay-sec", d.TimerMaxDelaySec, "longest timer delay accepted, in seconds")
	fs.Int64("timer-precision-ms", d.TimerPrecisionMs, "timer due times are rounded up to a multiple of this")
}

// delaySetup turns on delay, timer, retry and DLQ handling in the
// protocol adapters as they are constructed, then starts the services that
// deliver due messages through the adapters' Builds.
type delaySetup struct {
	policy delay.Policy
	builds delay.Builds
	// svc are the services once started (the web console shows them).
	svc atomic.Pointer[timer.Services]
}

// services returns the running delivery services, or nil.
func (d *delaySetup) services() *timer.Services {
	if d == nil {
		return nil
	}
	return d.svc.Load()
}

func newDelaySetup(cfg Config) *delaySetup {
	p, _ := cfg.delayPolicy() // validated with the config
	return &delaySetup{policy: p, builds: delay.Builds{}}
}

// remoting enables delays on the RocketMQ broker; call it before serving.
func (d *delaySetup) remoting(b *remotingapi.Broker) {
	if d == nil {
		return
	}
	b.EnableDelay(d.policy)
	d.builds[storage.KindRocketMQ] = b.DelayBuild
}

// kafka enables delays on the Kafka handler; call it before serving.
func (d *delaySetup) kafka(h *kafkaapi.Handler) {
	if d == nil {
		return
	}
	h.EnableDelay(d.policy)
	d.builds[storage.KindKafka] = h.DelayBuild
}

// start starts the delivery services once the adapters are set up; stop
// ends them (pending messages stay on disk).
func (d *delaySetup) start(ctx context.Context, store *storage.Store, logger *slog.Logger) (stop func(), err error) {
	svc, err := timer.StartServices(ctx, store, d.policy, d.builds.Build, logger)
	if err != nil {
		return nil, fmt.Errorf("delay: %w", err)
	}
	d.svc.Store(svc)
	logger.Info("delay services running", "messageDelayLevel", d.policy.Levels.String(),
		"timerWheelEnable", !d.policy.TimerDisabled, "timerMaxDelay", d.policy.TimerMaxDelay,
		"timerPrecision", d.policy.TimerPrecision)
	return func() {
		d.svc.CompareAndSwap(svc, nil)
		svc.Close()
	}, nil
}

// metrics registers the delay and timer services' metrics with mon: a
// broker with no services running (a slave) reports none.
func (d *delaySetup) metrics(mon *httpapi.Server) {
	if d == nil {
		return
	}
	levels := func(name, help string, kind httpapi.Kind, at func(*delay.Scheduler, int) int64) {
		mon.Metric(name, help, kind, func() []httpapi.Sample {
			svc := d.svc.Load()
			if svc == nil {
				return nil
			}
			out := make([]httpapi.Sample, 0, svc.Levels.Levels())
			for lvl := 1; lvl <= svc.Levels.Levels(); lvl++ {
				out = append(out, httpapi.Sample{Labels: []string{"level", strconv.Itoa(lvl)}, Value: float64(at(svc.Levels, lvl))})
			}
			return out
		})
	}
	levels("twinmq_delay_messages_pending", "Messages waiting in SCHEDULE_TOPIC_XXXX for their delay level's time, by level.",
		httpapi.Gauge, (*delay.Scheduler).Pending)
	levels("twinmq_delay_messages_fired_total", "Delay-level messages delivered to their topics since the services started, by level.",
		httpapi.Counter, (*delay.Scheduler).Fired)
	stat := func(name, help string, kind httpapi.Kind, at func(timer.Stats) int64) {
		mon.Metric(name, help, kind, func() []httpapi.Sample {
			svc := d.svc.Load()
			if svc == nil || svc.Timer == nil {
				return nil
			}
			return []httpapi.Sample{{Value: float64(at(svc.Timer.Stats()))}}
		})
	}
	stat("twinmq_timer_messages_ingested_total", "Timer messages (TIMER_DELIVER_MS ...) taken into the timer wheel since the services started.",
		httpapi.Counter, func(s timer.Stats) int64 { return s.Ingested })
	stat("twinmq_timer_messages_fired_total", "Timer messages delivered to their topics since the services started.",
		httpapi.Counter, func(s timer.Stats) int64 { return s.Fired })
	stat("twinmq_timer_messages_dropped_total", "Timer messages that could not be rebuilt for delivery since the services started.",
		httpapi.Counter, func(s timer.Stats) int64 { return s.Dropped })
	stat("twinmq_timer_slots_pending", "Timer-wheel slots (timerPrecisionMs wide) holding timers not yet fired.",
		httpapi.Gauge, func(s timer.Stats) int64 { return int64(s.PendingSlots) })
	stat("twinmq_timer_messages_loaded", "Timer messages due within the wheel's look-ahead, held in memory to fire.",
		httpapi.Gauge, func(s timer.Stats) int64 { return int64(s.InHeap) })
}

// withDelay starts the delay services once the listeners before it are
// up; the returned stop ends the services, then calls stop. If the
// services cannot start, it calls stop and returns the error.
func withDelay(ctx context.Context, dl *delaySetup, store *storage.Store, logger *slog.Logger,
	stop func(context.Context)) (func(context.Context), error) {
	stopDelay, err := dl.start(ctx, store, logger)
	if err != nil {
		stop(context.Background())
		return nil, err
	}
	return func(sctx context.Context) {
		stop(sctx)
		stopDelay()
	}, nil
}
