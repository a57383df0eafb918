package delay

import (
	"fmt"

	"github.com/twinmq/twinmq/storage"
)

// Builds dispatches a due entry to the Build of the adapter that wrote it:
// a RocketMQ producer's delayed message is a storage.KindRocketMQ entry, a
// Kafka producer's a storage.KindKafka one, and both wait in the same
// ScheduleTopic and TimerTopic queues.
type Builds map[storage.Kind]Build

// Build is the Build of the entry's kind; an entry of a kind no adapter
// registered is an error (the services log and drop it).
func (b Builds) Build(e storage.ReadEntry) ([]storage.Entry, error) {
	fn := b[e.Kind]
	if fn == nil {
		return nil, fmt.Errorf("%w: no adapter builds entries of kind %d", ErrNoTarget, e.Kind)
	}
	return fn(e)
}
