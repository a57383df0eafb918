package xproto

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/twinmq/twinmq/wire/kafka"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Pull builds the body of one PULL_MESSAGE response whose entries include
// stored Kafka batches (issue 7). It writes what ToRocketMQ writes for
// each batch and passes stored RocketMQ messages through, in the order
// they are added, but:
//
//   - records are read in place, their headers written as properties as
//     they are read (torocketmq_records.go), without an allocation per
//     record, and all the converted messages of the pull go into one
//     buffer of exactly their size (Parts), not a buffer per batch grown
//     as it fills;
//   - a body of ZeroCopyMin bytes or more from an uncompressed batch is
//     not copied: it is handed out as a slice of the batch, between the
//     buffer's pieces, for the pull's writev (the stored message layout
//     puts BODY between the fixed fields and TOPIC, so a message is the
//     buffer's piece up to BODYLEN, the body, and the buffer's piece from
//     TOPICLEN on);
//   - the fixed fields common to a batch's messages (QUEUEID,
//     PHYSICALOFFSET, SYSFLAG, hosts, STORETIMESTAMP) are encoded once per
//     batch and copied per record.
//
// Add the entries with AddKafka and AddStored, then call Parts once. A
// Pull is not safe for concurrent use; Reset makes it ready for another
// pull (it keeps its scratch, so pool it).
type Pull struct {
	entries []pullEntry
	recs    []pullRec
	props   []byte   // the records' properties, one after the other
	tmpl    []byte   // each Kafka entry's stored-message template
	decomp  [][]byte // one per compressed batch: its records alias it until Reset
	nComp   int
	size    int // the bytes the buffer of Parts takes
	pieces  int // at most the pieces Parts hands out
	msgs    int // the messages added

	// Max, if positive, bounds the messages of the pull (RocketMQ's
	// maxMsgNums): AddKafka stops at the record that would pass it.
	Max int
}

// Len is the number of messages the pull holds.
func (p *Pull) Len() int { return p.msgs }

// Full reports whether the pull holds Max messages.
func (p *Pull) Full() bool { return p.Max > 0 && p.msgs >= p.Max }

// pullEntry is one added entry: a stored message passed through
// (stored != nil) or the records [recs, recsEnd) of a Kafka batch.
type pullEntry struct {
	stored         []byte
	recs, recsEnd  int
	tmpl           int // the template's position in Pull.tmpl
	headLen        int // the template's bytes before BODY (BODYLEN included)
	tailLen        int // TOPICLEN and TOPIC
	zeroCopyBodies bool
}

// pullRec is one converted record.
type pullRec struct {
	queueOffset, born int64
	tagsCode          int64  // of TAGS ("" when none), for filters
	value             []byte // aliases the batch or a decompression buffer
	props, propsEnd   int    // in Pull.props
}

// Positions in a stored message (remoting package doc) that differ
// between the records of a batch.
const (
	storedBodyCRCPos = 8
	storedBornTSPos  = remoting.StoredSysFlagPos + 4
)

// A Pull keeps across Reset at most maxPooledBuffers decompression
// buffers, each of at most maxPooledBuffer bytes, so that one pull of
// huge batches does not pin memory in the pool.
const (
	maxPooledBuffers = 4
	maxPooledBuffer  = 4 << 20
)

// Reset empties p, keeping its scratch.
func (p *Pull) Reset() {
	clear(p.entries) // let go of the stored messages
	clear(p.recs)
	p.entries, p.recs, p.props, p.tmpl = p.entries[:0], p.recs[:0], p.props[:0], p.tmpl[:0]
	if len(p.decomp) > maxPooledBuffers {
		clear(p.decomp[maxPooledBuffers:])
		p.decomp = p.decomp[:maxPooledBuffers]
	}
	for i, b := range p.decomp {
		if cap(b) > maxPooledBuffer {
			p.decomp[i] = nil
		}
	}
	p.nComp, p.size, p.pieces, p.msgs, p.Max = 0, 0, 0, 0, 0
}

// AddStored adds a stored RocketMQ message (or several, back to back),
// passed through as it is.
func (p *Pull) AddStored(msg []byte) {
	if len(msg) > 0 {
		p.entries = append(p.entries, pullEntry{stored: msg})
		p.pieces += 2 // the message, the buffer's piece after it
		p.msgs++
	}
}

// AddKafka adds the records of the stored Kafka batch whose offsets are
// >= from and whose TAGS hash code keep accepts (nil keeps all; a record
// without TAGS has the code of ""), converted as ToRocketMQ converts them.
// It returns the offset after the batch, or, when the pull is Full before
// the batch ends, the offset of the first record it did not take. On an
// error nothing of the batch is added. The batch must stay as it is until
// the parts are written.
func (p *Pull) AddKafka(batch []byte, e KafkaEntry, from int64, keep func(tagsCode int64) bool) (int64, error) {
	h, err := kafka.ParseBatchHeader(batch)
	if err != nil {
		return from, fmt.Errorf("xproto: kafka batch: %w", err)
	}
	next := h.BaseOffset + int64(h.LastOffsetDelta) + 1
	if h.IsControl() {
		return next, nil
	}
	compressed := h.Compression() != kafka.CodecNone
	var scratch []byte
	if compressed {
		if p.nComp == len(p.decomp) {
			p.decomp = append(p.decomp, nil)
		}
		scratch = p.decomp[p.nComp]
	}
	records, scratch, err := recordsOf(batch, &h, scratch)
	if compressed {
		p.decomp[p.nComp] = scratch
	}
	if err != nil {
		return from, err
	}
	pe := p.template(e)
	pe.recs, pe.zeroCopyBodies = len(p.recs), !compressed
	recs, props := len(p.recs), len(p.props)
	fixed := pe.headLen + pe.tailLen + 2
	size, pieces := 0, 0
	logAppend := h.TimestampType() == kafka.TimestampLogAppendTime
	for i := range h.NumRecords {
		rec, rest, ok := nextRecord(records)
		start := len(p.props)
		var tags []byte
		if ok && rec.offsetDelta == i {
			p.props, tags, ok = appendRawProperties(p.props, &rec, e.Phys, rec.offsetDelta)
		}
		if !ok || rec.offsetDelta != i {
			err = fmt.Errorf("record %d: %w", i, errRecord)
			break
		}
		records = rest
		off := h.BaseOffset + int64(rec.offsetDelta)
		if off < from {
			p.props = p.props[:start]
			continue
		}
		code := remoting.TagsHashCode(string(tags))
		if keep != nil && !keep(code) {
			p.props = p.props[:start]
			continue
		}
		if p.Max > 0 && p.msgs+len(p.recs)-recs >= p.Max {
			next, records = off, nil // the next pull starts here
			break
		}
		born := h.FirstTimestamp + rec.timestampDelta
		if logAppend {
			born = h.MaxTimestamp
		}
		p.recs = append(p.recs, pullRec{queueOffset: off, born: born, tagsCode: code, value: rec.value, props: start, propsEnd: len(p.props)})
		size += fixed + len(p.props) - start
		if !pe.zeroCopyBodies || len(rec.value) < ZeroCopyMin {
			size += len(rec.value)
		} else {
			pieces += 2 // the body, the buffer's piece after it
		}
	}
	if err == nil && len(records) != 0 {
		err = fmt.Errorf("%d bytes after %d records: %w", len(records), h.NumRecords, errRecord)
	}
	if err != nil {
		p.recs, p.props, p.tmpl = p.recs[:recs], p.props[:props], p.tmpl[:pe.tmpl]
		return from, fmt.Errorf("xproto: kafka records: %w", err)
	}
	if compressed {
		p.nComp++
	}
	pe.recsEnd = len(p.recs)
	p.msgs += pe.recsEnd - pe.recs
	p.entries = append(p.entries, pe)
	p.size += size
	p.pieces += pieces
	return next, nil
}

// template appends to p.tmpl the stored message every record of e starts
// from: AppendStoredMessage's bytes with an empty body and properties.
func (p *Pull) template(e KafkaEntry) pullEntry {
	m := remoting.MessageExt{QueueID: e.QueueID, CommitLogOffset: e.Phys,
		BornHost: e.StoreHost, StoreTimestamp: e.StoreTime, StoreHost: e.StoreHost, Topic: e.Topic}
	m.SysFlag = remoting.HostSysFlags(m.BornHost, m.StoreHost)
	pe := pullEntry{tmpl: len(p.tmpl)}
	p.tmpl = remoting.AppendStoredMessage(p.tmpl, &m)
	n := len(p.tmpl) - pe.tmpl
	pe.tailLen = n - remoting.StoredLen(&remoting.MessageExt{SysFlag: m.SysFlag}) + 1 // TOPICLEN's 1 or 2 bytes and the topic
	pe.headLen = n - pe.tailLen - 2
	return pe
}

// Parts appends to dst the pieces of the pull's body, in the order the
// entries were added: pieces of one new buffer holding the converted
// messages (bodies under ZeroCopyMin and decompressed ones included),
// the bodies left in their batches, and the stored messages. n is their
// total length. The pieces alias no memory of p, so p may be Reset
// before they are written.
func (p *Pull) Parts(dst [][]byte) (parts [][]byte, n int) {
	buf := make([]byte, 0, p.size)
	dst = slices.Grow(dst, p.pieces+1)
	run := 0 // start of the buffer's piece not yet handed out
	flush := func() {
		if len(buf) > run {
			dst = append(dst, buf[run:len(buf):len(buf)])
			n += len(buf) - run
			run = len(buf)
		}
	}
	for i := range p.entries {
		pe := &p.entries[i]
		if pe.stored != nil {
			flush()
			dst = append(dst, pe.stored)
			n += len(pe.stored)
			continue
		}
		for i := range p.recs[pe.recs:pe.recsEnd] {
			r := &p.recs[pe.recs+i]
			if pe.inPlace(r) {
				buf = p.appendMessage(buf, pe, r, false)
				flush()
				dst = append(dst, r.value)
				n += len(r.value)
				buf = p.appendTail(buf, pe, r)
				continue
			}
			buf = p.appendMessage(buf, pe, r, true)
			buf = p.appendTail(buf, pe, r)
		}
	}
	flush()
	return dst, n
}

// appendMessage appends record r's stored message up to its body, and the
// body too with body; appendTail appends what follows the body.
func (p *Pull) appendMessage(buf []byte, pe *pullEntry, r *pullRec, body bool) []byte {
	tmpl := p.tmpl[pe.tmpl : pe.tmpl+pe.headLen+pe.tailLen]
	props := p.props[r.props:r.propsEnd]
	start := len(buf)
	buf = append(buf, tmpl[:pe.headLen]...)
	m := buf[start:]
	binary.BigEndian.PutUint32(m, uint32(pe.headLen+len(r.value)+pe.tailLen+2+len(props)))
	binary.BigEndian.PutUint32(m[storedBodyCRCPos:], remoting.BodyCRC(r.value))
	binary.BigEndian.PutUint64(m[remoting.StoredQueueOffsetPos:], uint64(r.queueOffset))
	binary.BigEndian.PutUint64(m[storedBornTSPos:], uint64(r.born))
	binary.BigEndian.PutUint32(m[pe.headLen-4:], uint32(len(r.value)))
	if body {
		buf = append(buf, r.value...)
	}
	return buf
}

func (p *Pull) appendTail(buf []byte, pe *pullEntry, r *pullRec) []byte {
	props := p.props[r.props:r.propsEnd]
	buf = append(buf, p.tmpl[pe.tmpl+pe.headLen:pe.tmpl+pe.headLen+pe.tailLen]...)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(props)))
	return append(buf, props...)
}

// Owned writes every converted message of the pull (not the stored ones
// passed through) into one buffer of its own and calls fn in order with
// each one's queue offset, TAGS hash code and bytes, in up to three
// pieces whose concatenation is the message Parts hands out: head, body
// and tail. The buffer stays valid after Reset (a cache may keep it). A
// body Parts leaves in the batch (of an uncompressed batch, ZeroCopyMin
// bytes or more) is body, a slice of the batch, valid as long as the batch
// is, with head and tail in the buffer; any other message is all head
// (body and tail nil).
func (p *Pull) Owned(fn func(queueOffset, tagsCode int64, head, body, tail []byte)) {
	size := 0
	p.eachConverted(func(pe *pullEntry, r *pullRec) {
		size += pe.headLen + pe.tailLen + 2 + r.propsEnd - r.props
		if !pe.inPlace(r) {
			size += len(r.value)
		}
	})
	buf := make([]byte, 0, size)
	p.eachConverted(func(pe *pullEntry, r *pullRec) {
		start := len(buf)
		if !pe.inPlace(r) {
			buf = p.appendMessage(buf, pe, r, true)
			buf = p.appendTail(buf, pe, r)
			fn(r.queueOffset, r.tagsCode, buf[start:len(buf):len(buf)], nil, nil)
			return
		}
		buf = p.appendMessage(buf, pe, r, false)
		mid := len(buf)
		buf = p.appendTail(buf, pe, r)
		fn(r.queueOffset, r.tagsCode, buf[start:mid:mid], r.value, buf[mid:len(buf):len(buf)])
	})
}

// eachConverted calls fn for every converted record, in order.
func (p *Pull) eachConverted(fn func(pe *pullEntry, r *pullRec)) {
	for i := range p.entries {
		pe := &p.entries[i]
		if pe.stored != nil {
			continue
		}
		for j := pe.recs; j < pe.recsEnd; j++ {
			fn(pe, &p.recs[j])
		}
	}
}

// inPlace reports whether r's body stays in the batch (Parts writes it
// as a piece of its own instead of copying it).
func (pe *pullEntry) inPlace(r *pullRec) bool {
	return pe.zeroCopyBodies && len(r.value) >= ZeroCopyMin
}
