package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/wire/remoting"
)

// DLQView is one dead-letter queue.
type DLQView struct {
	Group    string `json:"group"`
	Topic    string `json:"topic"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	ResentTo int64  `json:"resentTo"` // the group's offset on it: where the next re-send starts
	Pending  int64  `json:"pending"`
}

// listDLQ: GET /api/dlq.
func (s *Server) listDLQ(*http.Request) (any, error) {
	out := []DLQView{}
	for _, c := range s.cfg.Topics.List() {
		group, ok := strings.CutPrefix(c.Name, delay.DLQPrefix)
		if !ok {
			continue
		}
		// A DLQ has one queue (RocketMQ's dlqNums), 0.
		start, end, err := s.queueRange(c.Name, 0)
		if err != nil {
			return nil, err
		}
		v := DLQView{Group: group, Topic: c.Name, Start: start, End: end}
		from, _ := s.cfg.Offsets.Fetch(group, c.Name, 0)
		v.ResentTo = max(from, v.Start)
		v.Pending = max(v.End-v.ResentTo, 0)
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b DLQView) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}

// resendDLQ: POST /api/dlq/{group}/resend: twinmq's ResendDLQ admin
// request (`twinmq message resend-dlq`), in process.
func (s *Server) resendDLQ(r *http.Request) (any, error) {
	group := r.PathValue("group")
	rmq, err := s.rocketMQAdmin()
	if err != nil {
		return nil, err
	}
	req := remoting.NewRequest(remotingapi.ResendDLQ, 0)
	req.ExtFields["group"] = group
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	resp, err := rmq.Invoke(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Code != remoting.Success {
		status := http.StatusBadRequest
		if resp.Code == remoting.TopicNotExist {
			status = http.StatusNotFound
		}
		return nil, &protocolError{status: status, code: "ROCKETMQ_" + strconv.Itoa(int(resp.Code)), msg: resp.Remark}
	}
	var res remotingapi.ResendDLQResult
	if err := json.Unmarshal(resp.Body, &res); err != nil {
		return nil, fmt.Errorf("console: ResendDLQ answer: %w", err)
	}
	s.log.Info("console: DLQ re-sent", "group", group, "resent", res.Resent, "skipped", res.Skipped, "remote", r.RemoteAddr)
	return res, nil
}
