package remotingapi

import (
	"context"
	"errors"
	"testing"

	"github.com/twinmq/twinmq/wire/remoting"
)

// TestInvokeInProcess: Invoke answers an admin code as the network path
// does, counts it, and refuses the codes that belong to a connection.
func TestInvokeInProcess(t *testing.T) {
	b, _, _ := startBroker(t)
	ctx := context.Background()
	req := remoting.NewRequest(remoting.GetConsumerListByGroup, 0)
	req.ExtFields["consumerGroup"] = "nobody"
	resp, err := b.Invoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code == remoting.Success {
		t.Fatalf("a group without consumers: %d %s", resp.Code, resp.Remark)
	}
	var served int64
	b.Requests(func(code int32, n int64) {
		if code == remoting.GetConsumerListByGroup {
			served = n
		}
	})
	if served != 1 {
		t.Fatalf("served %d GET_CONSUMER_LIST_BY_GROUP, want 1", served)
	}
	for _, code := range []int32{remoting.SendMessage, remoting.PullMessage, remoting.HeartBeat, 99999} {
		if _, err := b.Invoke(ctx, remoting.NewRequest(code, 0)); !errors.Is(err, ErrNotInProcess) {
			t.Errorf("code %d in process: %v, want ErrNotInProcess", code, err)
		}
	}
}
