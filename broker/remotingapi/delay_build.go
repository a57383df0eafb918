package remotingapi

import (
	"fmt"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// The delivery side of delayed messages (sendback.go routes them): the
// delay scheduler and the timer service read a due entry from
// SCHEDULE_TOPIC_XXXX or the timer topic and append what DelayBuild makes
// of it to the store themselves, in one write with their progress record
// (package broker/delay), hence the store's types here.

// DelayBuild re-stores a due SCHEDULE_TOPIC_XXXX or timer-topic message
// to its real topic and queue with the properties a RocketMQ consumer
// expects (delay.DeliveryEdits): a new record, new offsets, same UNIQ_KEY.
func (b *Broker) DelayBuild(e storage.ReadEntry) ([]storage.Entry, error) {
	if e.Kind != storage.KindRocketMQ {
		return nil, fmt.Errorf("remotingapi: scheduled entry of kind %d is not a RocketMQ message", e.Kind)
	}
	m, _, err := remoting.DecodeStoredMessage(e.Payload)
	if err != nil {
		return nil, err
	}
	route := delay.RouteLevel
	if m.Topic == delay.TimerTopic {
		route = delay.RouteTimer
	}
	topic, queue, err := delay.Target(lookupIn(m.Properties))
	if err != nil {
		return nil, err
	}
	props := applyEdits(remoting.ParsePropertyList(m.Properties), delay.DeliveryEdits(route))
	m.Topic, m.QueueID, m.StoreHost = topic, queue, b.storeHost
	m.Properties = remoting.AppendPropertyList(nil, props)
	m.SysFlag = m.SysFlag&^remoting.SysFlagStoreHostV6 | remoting.HostSysFlags(m.BornHost, b.storeHost)&remoting.SysFlagStoreHostV6
	out := b.entry(&m) // entry copies body and properties
	return []storage.Entry{out.StoreEntry()}, nil
}
