package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/twinmq/twinmq/broker/remotingapi"
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

// resetRocketMQConsumers sends the broker at addr one
// INVOKE_BROKER_TO_RESET_OFFSET (222) per topic of rows, with the new
// offsets in its body (twinmq's extension of the request: Java's admin
// sends none, broker/remotingapi/admin_reset.go). The broker commits them
// and tells each live consumer of group with RESET_CONSUMER_CLIENT_OFFSET
// (220), so a running RocketMQ consumer drops what it holds and resumes
// from the new offsets instead of writing its old ones back. Partition N
// is queue N of that broker (one broker group).
func resetRocketMQConsumers(ctx context.Context, addr, group string, rows []seekRow) error {
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("--broker-addr: %w", err)
	}
	defer c.Close()
	byTopic := make(map[string][]seekRow)
	var order []string
	for _, r := range rows {
		if byTopic[r.topic] == nil {
			order = append(order, r.topic)
		}
		byTopic[r.topic] = append(byTopic[r.topic], r)
	}
	for _, topic := range order {
		table := make(map[remotingapi.MessageQueue]int64)
		for _, r := range byTopic[topic] {
			table[remotingapi.MessageQueue{Topic: topic, QueueID: r.partition}] = r.next
		}
		req := remoting.NewRequest(remotingapi.InvokeBrokerToResetOffset, 0)
		req.ExtFields["topic"], req.ExtFields["group"] = topic, group
		req.ExtFields["timestamp"], req.ExtFields["isForce"] = "-1", "true"
		req.Body = remotingapi.EncodeResetOffsetBody(table)
		resp, err := c.Invoke(ctx, req)
		if err != nil {
			return fmt.Errorf("--broker-addr %s: INVOKE_BROKER_TO_RESET_OFFSET: %w", addr, err)
		}
		if resp.Code != remoting.Success {
			return fmt.Errorf("--broker-addr %s: INVOKE_BROKER_TO_RESET_OFFSET on %s answered %d: %s", addr, topic, resp.Code, resp.Remark)
		}
	}
	return nil
}
