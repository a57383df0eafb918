package kafkaapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/kafka"
)

// fetchParts turns a partition's stored entries into the record batches a
// fetch answers with: a Kafka batch is its stored bytes (a slice of the
// mapped CommitLog, no copy), a run of consecutive RocketMQ messages is
// converted into one batch, or served from the cache of converted
// batches (xproto_fetchcache.go) (docs/design.md section 4: conversion only when
// one protocol reads the other's entries). logStart is the partition's
// logStartOffset; ctx bounds waiting for a conversion another fetch is
// making. It returns the slices, their total size, and whether the cache
// served or admitted any converted run (convertRun).
func (h *Handler) fetchParts(ctx context.Context, topic string, part int32, logStart int64, entries []log.Entry) (_ [][]byte, _ int, shared bool) {
	// A converted message takes two parts (its framing and its body,
	// ToKafkaParts), a stored Kafka batch one.
	parts := make([][]byte, 0, 2*len(entries)+1)
	size := 0
	run := make([][]byte, 0, len(entries))
	phys := make([]int64, 0, len(entries))
	var base int64
	flush := func() {
		if len(run) == 0 {
			return
		}
		n, sh := 0, false
		parts, n, sh = h.convertRun(ctx, queueKey{Topic: topic, Queue: part}, logStart, base, run, phys, parts)
		size += n
		shared = shared || sh
		run, phys = run[:0], phys[:0]
	}
	for _, e := range entries {
		switch e.Kind {
		case log.KindKafka:
			flush()
			parts = append(parts, e.Payload)
			size += len(e.Payload)
		case log.KindRocketMQ:
			if len(run) > 0 && e.QueueOffset != base+int64(len(run)) {
				flush()
			}
			if len(run) == 0 {
				base = e.QueueOffset
			}
			run = append(run, e.Payload)
			phys = append(phys, e.Phys)
		}
	}
	flush()
	return parts, size, shared
}

// markerLen is the size of the placeholder a partition's RecordBatches
// holds while kmsg encodes the response around it.
const markerLen = 16

// fetchMarkers names the partitions of one response: 12 random bytes (so
// no topic name or other field can hold them by chance) and an index.
type fetchMarkers [12]byte

func newFetchMarkers() fetchMarkers {
	var m fetchMarkers
	_, _ = rand.Read(m[:]) // never fails (crypto/rand)
	return m
}

func (m *fetchMarkers) marker(i int) []byte {
	b := make([]byte, markerLen)
	copy(b, m[:])
	binary.BigEndian.PutUint32(b[12:], uint32(i))
	return b
}

// replyParts writes a fetch response whose partitions' RecordBatches are
// markers standing for data[i]: kmsg encodes everything else, then each
// marker and its length prefix are replaced by the real length and the
// stored slices, and the lot goes out with one writev (netio WriteThen).
// release runs once netio no longer needs the slices. Should the markers
// not be found as expected, the batches are copied in instead.
func (r *request) replyParts(resp *kmsg.FetchResponse, m *fetchMarkers, data [][][]byte, release func()) {
	if !r.replied.CompareAndSwap(false, true) {
		release()
		return
	}
	defer r.release()
	r.fetchBytes = 0
	for _, parts := range data {
		for _, p := range parts {
			r.fetchBytes += len(p)
		}
	}
	r.applyPatch(resp)
	enc := kafka.AppendResponse(nil, r.hdr.CorrelationID, resp)
	bufs, ok := spliceParts(enc, m, data, resp.IsFlexible())
	if !ok {
		r.h.log.Warn("kafkaapi: fetch markers not found; copying the batches", "conn", r.conn.ID())
		fillParts(resp, m, data)
		bufs = [][]byte{kafka.AppendResponse(nil, r.hdr.CorrelationID, resp)}
	}
	r.h.observe(r.hdr.APIKey, r.start)
	r.h.failed.count(r.hdr.APIKey, resp)
	err := r.conn.WriteThen(func(error) { release() }, bufs...)
	if err != nil && !errors.Is(err, netio.ErrClosed) {
		r.h.log.Debug("kafkaapi: write", "conn", r.conn.ID(), "err", err)
	}
}

// spliceParts cuts enc at every marker, in order, and puts the data in.
func spliceParts(enc []byte, m *fetchMarkers, data [][][]byte, flexible bool) ([][]byte, bool) {
	prefix := 4 // nullable bytes: int32 length
	if flexible {
		prefix = 1 // compact bytes: uvarint(16+1)
	}
	bufs := make([][]byte, 0, 2*len(data)+1)
	size, cur := len(enc)-4, 0
	for i, parts := range data {
		mk := m.marker(i)
		at := bytes.Index(enc[max(cur, 4):], mk)
		if at < 0 {
			return nil, false
		}
		at += max(cur, 4)
		if at-prefix < cur {
			return nil, false
		}
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		var lp []byte
		if flexible {
			if enc[at-1] != markerLen+1 {
				return nil, false
			}
			lp = binary.AppendUvarint(nil, uint64(n)+1)
		} else {
			if binary.BigEndian.Uint32(enc[at-4:]) != markerLen {
				return nil, false
			}
			lp = binary.BigEndian.AppendUint32(nil, uint32(n))
		}
		bufs = append(bufs, enc[cur:at-prefix], lp)
		bufs = append(bufs, parts...)
		size += len(lp) + n - prefix - markerLen
		cur = at + markerLen
	}
	bufs = append(bufs, enc[cur:])
	binary.BigEndian.PutUint32(enc, uint32(size)) // bufs[0] starts at enc[0]
	return bufs, true
}

// fillParts replaces the markers by copies of the data (the slow path).
func fillParts(resp *kmsg.FetchResponse, m *fetchMarkers, data [][][]byte) {
	for ti := range resp.Topics {
		ps := resp.Topics[ti].Partitions
		for pi := range ps {
			rb := ps[pi].RecordBatches
			if len(rb) != markerLen || !bytes.Equal(rb[:12], m[:]) {
				continue
			}
			i := int(binary.BigEndian.Uint32(rb[12:]))
			if i >= len(data) {
				continue
			}
			ps[pi].RecordBatches = bytes.Join(data[i], nil)
		}
	}
}
