package log

import "github.com/twinmq/twinmq/storage"

// Message is one entry a produce or a send appends: a RocketMQ message in
// its stored encoding, or a Kafka record batch as the producer sent it.
// Its fields mean what storage.Entry's do (storage/commitlog/entry.go);
// Kind is the log's own, KindRocketMQ or KindKafka (Append refuses
// anything else). Encode writes the offsets and the store time into the
// payload as it lies in the write buffer (RocketMQ QUEUEOFFSET,
// PHYSICALOFFSET and STORETIMESTAMP; Kafka baseOffset).
type Message struct {
	Kind      Kind
	Topic     string
	QueueID   int32
	Count     int32   // queue offsets covered: 1, or a batch's records
	TagsCodes []int64 // none, one for all, or Count
	Keys      []string
	Payload   []byte
	Encode    func(payload []byte, phys, queueOffset, storeTime int64)
}

// Position is where an appended message landed.
type Position struct {
	Phys        int64 // CommitLog offset of the entry (RocketMQ's offset message id)
	Size        int32 // whole entry size in the CommitLog
	QueueOffset int64 // first queue offset (a Kafka batch's baseOffset)
	StoreTime   int64 // ms since the epoch (Kafka's LogAppendTime)
}

// Position(storage.Position) below converts field by field: the compiler
// refuses it if the two ever differ.
var _ = Position(storage.Position{})

// StoreEntry is m as the store appends it, for the services that append
// to the store themselves, in one write with records of their own: the
// delay and timer services deliver due messages with their progress
// (package broker/delay's Build).
func (m *Message) StoreEntry() storage.Entry { return m.storeEntry() }

func (m *Message) storeEntry() storage.Entry {
	return storage.Entry{
		Kind: storeKind(m.Kind), Topic: m.Topic, QueueID: m.QueueID, Count: m.Count,
		TagsCodes: m.TagsCodes, Keys: m.Keys, Payload: m.Payload, Encode: m.Encode,
	}
}

// storeKind is the store's kind of a protocol's entry (Append refuses
// KindOther before it gets here).
func storeKind(k Kind) storage.Kind {
	switch k {
	case KindRocketMQ:
		return storage.KindRocketMQ
	case KindKafka:
		return storage.KindKafka
	}
	return 0
}

// oneAppend backs the store entry and the position of a one-message
// Append with one allocation: a single send and a single-batch produce,
// the hot paths, then cost what they did when the adapters built store
// entries themselves (one slice of entries, the store's positions).
type oneAppend struct {
	entries [1]storage.Entry
	pos     [1]Position
}

// appendBuffers returns room for n store entries and n positions.
func appendBuffers(n int) ([]storage.Entry, []Position) {
	if n == 1 {
		b := new(oneAppend)
		return b.entries[:], b.pos[:]
	}
	return make([]storage.Entry, n), make([]Position, n)
}
