package grpcapi

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/twinmq/twinmq/wire/rmqpb"
)

// TestOffsets: UpdateOffset stores a group's offset in the broker's one
// offset table and GetOffset reads it back; QueryOffset answers a queue's
// beginning, end and the offset for a time; bad input gets its code and
// stores nothing.
func TestOffsets(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	for range 3 {
		f.send(t, "m")
	}
	mq := func(topic string, id int32) *rmqpb.MessageQueue {
		return &rmqpb.MessageQueue{Topic: &rmqpb.Resource{Name: topic}, Id: id}
	}
	// Where the sends went: a queue of t that holds them all (one
	// producer without a queue choice sends round robin or to one).
	var q int32 = -1
	var end int64
	for id := range int32(2) {
		r, err := f.cli.QueryOffset(ctx, &rmqpb.QueryOffsetRequest{MessageQueue: mq("t", id), QueryOffsetPolicy: rmqpb.QueryOffsetPolicy_END})
		if err != nil || r.GetStatus().GetCode() != rmqpb.Code_OK {
			t.Fatalf("END of t/%d: %v %v", id, r.GetStatus(), err)
		}
		if r.GetOffset() > end {
			q, end = id, r.GetOffset()
		}
	}
	if q < 0 {
		t.Fatal("no queue of t holds the sends")
	}
	if r, _ := f.cli.QueryOffset(ctx, &rmqpb.QueryOffsetRequest{MessageQueue: mq("t", q), QueryOffsetPolicy: rmqpb.QueryOffsetPolicy_BEGINNING}); r.GetOffset() != 0 {
		t.Fatalf("BEGINNING: %v", r)
	}
	past := timestamppb.New(time.UnixMilli(0))
	if r, _ := f.cli.QueryOffset(ctx, &rmqpb.QueryOffsetRequest{MessageQueue: mq("t", q), QueryOffsetPolicy: rmqpb.QueryOffsetPolicy_TIMESTAMP,
		Timestamp: past}); r.GetStatus().GetCode() != rmqpb.Code_OK || r.GetOffset() != 0 {
		t.Fatalf("TIMESTAMP 0: %v", r)
	}

	g := &rmqpb.Resource{Name: "g-offsets"}
	if r, _ := f.cli.GetOffset(ctx, &rmqpb.GetOffsetRequest{Group: g, MessageQueue: mq("t", q)}); r.GetStatus().GetCode() != rmqpb.Code_OFFSET_NOT_FOUND {
		t.Fatalf("GetOffset before any update: %v", r)
	}
	if r, _ := f.cli.UpdateOffset(ctx, &rmqpb.UpdateOffsetRequest{Group: g, MessageQueue: mq("t", q), Offset: 2}); r.GetStatus().GetCode() != rmqpb.Code_OK {
		t.Fatalf("UpdateOffset: %v", r)
	}
	if r, _ := f.cli.GetOffset(ctx, &rmqpb.GetOffsetRequest{Group: g, MessageQueue: mq("t", q)}); r.GetStatus().GetCode() != rmqpb.Code_OK || r.GetOffset() != 2 {
		t.Fatalf("GetOffset after update: %v", r)
	}

	for name, tc := range map[string]struct {
		req  *rmqpb.UpdateOffsetRequest
		want rmqpb.Code
	}{
		"negative offset":        {&rmqpb.UpdateOffsetRequest{Group: g, MessageQueue: mq("t", q), Offset: -1}, rmqpb.Code_ILLEGAL_OFFSET},
		"queue past the topic's": {&rmqpb.UpdateOffsetRequest{Group: g, MessageQueue: mq("t", 9), Offset: 1}, rmqpb.Code_BAD_REQUEST},
		"unknown topic":          {&rmqpb.UpdateOffsetRequest{Group: g, MessageQueue: mq("nope", 0), Offset: 1}, rmqpb.Code_TOPIC_NOT_FOUND},
		"internal topic":         {&rmqpb.UpdateOffsetRequest{Group: g, MessageQueue: mq("__twinmq_pop", 0), Offset: 1}, rmqpb.Code_ILLEGAL_TOPIC},
		"no group":               {&rmqpb.UpdateOffsetRequest{MessageQueue: mq("t", q), Offset: 1}, rmqpb.Code_ILLEGAL_CONSUMER_GROUP},
	} {
		if r, err := f.cli.UpdateOffset(ctx, tc.req); err != nil || r.GetStatus().GetCode() != tc.want {
			t.Errorf("%s: %v %v, want %v", name, r.GetStatus(), err, tc.want)
		}
	}
	if r, _ := f.cli.GetOffset(ctx, &rmqpb.GetOffsetRequest{Group: g, MessageQueue: mq("t", q)}); r.GetOffset() != 2 {
		t.Fatalf("a refused update changed the offset: %v", r)
	}
	if r, _ := f.cli.QueryOffset(ctx, &rmqpb.QueryOffsetRequest{MessageQueue: mq("t", q), QueryOffsetPolicy: rmqpb.QueryOffsetPolicy_TIMESTAMP}); r.GetStatus().GetCode() != rmqpb.Code_BAD_REQUEST {
		t.Fatalf("TIMESTAMP without a timestamp: %v", r)
	}
}
