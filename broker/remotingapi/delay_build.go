package remotingapi

import (
	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// DelayBuild is not a send path: the delay and timer services call it
// for a due message and append its result, with their progress record,
// to the store in one write (broker/delay.Build takes store entries).

// DelayBuild re-stores a due SCHEDULE_TOPIC_XXXX or timer-topic message
// to its real topic and queue with the properties a RocketMQ consumer
// expects (delay.DeliveryEdits): a new record, new offsets, same UNIQ_KEY.
// delay.Builds hands it the KindRocketMQ entries only; a payload that is
// no stored message fails to decode.
func (b *Broker) DelayBuild(e storage.ReadEntry) ([]storage.Entry, error) {
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
