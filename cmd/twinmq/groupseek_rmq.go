package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// rocketmqConsumers asks the broker at addr for GET_CONSUMER_LIST_BY_GROUP
// (38): the client ids of group's RocketMQ consumers that heartbeat to
// it. A broker with none answers SYSTEM_ERROR "no consumer for this
// group", as the Java broker does; that is an empty list here.
func rocketmqConsumers(ctx context.Context, addr, group string) ([]string, error) {
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("--broker-addr: %w", err)
	}
	defer c.Close()
	req := remoting.NewRequest(remoting.GetConsumerListByGroup, 0)
	req.ExtFields["consumerGroup"] = group
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("--broker-addr %s: %w", addr, err)
	}
	if resp.Code == remoting.SystemError && strings.Contains(resp.Remark, "no consumer") {
		return nil, nil
	}
	if resp.Code != remoting.Success {
		return nil, fmt.Errorf("--broker-addr %s: GET_CONSUMER_LIST_BY_GROUP answered %d: %s", addr, resp.Code, resp.Remark)
	}
	var body struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("--broker-addr %s: GET_CONSUMER_LIST_BY_GROUP body: %w", addr, err)
	}
	return body.ConsumerIDList, nil
}
