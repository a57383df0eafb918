package console

import (
	"net/http"

	"github.com/twinmq/twinmq/broker/delay"
)

// DelayLevelView is one delay level's queue.
type DelayLevelView struct {
	Level     int    `json:"level"`
	Delay     string `json:"delay"`
	Stored    int64  `json:"stored"`    // end offset of its queue
	Delivered int64  `json:"delivered"` // first offset not yet delivered
	Pending   int64  `json:"pending"`
}

// DelayView is the delay/timer page.
type DelayView struct {
	Running bool             `json:"running"`
	Levels  []DelayLevelView `json:"levels"`
	Timer   *TimerStats      `json:"timer"`
	// TimerStored counts the timer topic's stored messages (timer
	// messages accepted, fired or not).
	TimerStored int64 `json:"timerStored"`
}

// delayView: GET /api/delay.
func (s *Server) delayView(*http.Request) (any, error) {
	v := DelayView{Levels: []DelayLevelView{}}
	d := s.delay.Load()
	if d != nil {
		v.Running = true
		for i, dur := range d.Levels {
			lvl := i + 1
			_, end, err := s.queueRange(delay.ScheduleTopic, delay.QueueID(lvl))
			if err != nil {
				return nil, err
			}
			dv := DelayLevelView{Level: lvl, Delay: dur.String(), Stored: end}
			if d.Progress != nil {
				dv.Delivered = d.Progress(lvl)
			}
			dv.Pending = max(end-dv.Delivered, 0)
			v.Levels = append(v.Levels, dv)
		}
		if d.Timer != nil {
			ts := d.Timer()
			v.Timer = &ts
		}
	}
	if c, ok := s.cfg.Topics.Get(delay.TimerTopic); ok {
		for q := range c.Queues {
			if _, end, err := s.queueRange(c.Name, q); err == nil {
				v.TimerStored += end
			}
		}
	} else {
		for _, q := range s.cfg.Store.Queues(delay.TimerTopic) {
			v.TimerStored += q.Max
		}
	}
	return v, nil
}
