package grpcapi

import (
	"bytes"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// FuzzMessageRoundTrip: whatever a producer puts in a message, the
// adapter either refuses it or stores it so that a consumer receives the
// same body, tag, keys, message group and user properties (no property
// can smuggle in another through the stored encoding's separators).
func FuzzMessageRoundTrip(f *testing.F) {
	f.Add([]byte("body"), "TagA", "k1", "k2", "p", "v", "grp")
	f.Add([]byte{0}, "a|b", "a b", "", "UNIQ_KEY", "x", "")
	f.Add([]byte("b"), "t", "k", "k", "a\x01b", "c\x02d", "g\x01")
	s := &Server{cfg: Config{MaxMessageSize: 1 << 20, Now: func() time.Time { return time.UnixMilli(1) }},
		log: slog.New(slog.DiscardHandler), storeHost: netip.MustParseAddrPort("127.0.0.1:10911")}
	s.uniq = remoting.NewUniqIDGenerator(s.storeHost.Addr(), 1, 0, s.cfg.Now)
	f.Fuzz(func(t *testing.T, body []byte, tag, k1, k2, pk, pv, group string) {
		in := &rmqpb.Message{Topic: &rmqpb.Resource{Name: "t"}, Body: body,
			SystemProperties: &rmqpb.SystemProperties{Keys: []string{k1, k2}}, UserProperties: map[string]string{pk: pv}}
		if tag != "" {
			in.SystemProperties.Tag = &tag
		}
		if group != "" {
			in.SystemProperties.MessageGroup = &group
		}
		m, err := s.storedMessage(in, 4, netip.MustParseAddrPort("10.0.0.1:5000"))
		if err != nil {
			return
		}
		stored := remoting.AppendStoredMessage(nil, m)
		dm, _, err := remoting.DecodeStoredMessage(stored)
		if err != nil {
			t.Fatalf("stored message does not decode: %v", err)
		}
		out := s.toProto(&dm, dm.QueueID, 0, "h", 1, time.Second, rmqpb.Language_GOLANG)
		sp := out.GetSystemProperties()
		if !bytes.Equal(out.GetBody(), body) || sp.GetTag() != tag || !slices.Equal(sp.GetKeys(), []string{k1, k2}) ||
			sp.GetMessageGroup() != group || !maps.Equal(out.GetUserProperties(), map[string]string{pk: pv}) {
			t.Fatalf("sent body %q tag %q keys %q group %q props %q\nreceived %q %q %q %q %q", body, tag, []string{k1, k2}, group,
				map[string]string{pk: pv}, out.GetBody(), sp.GetTag(), sp.GetKeys(), sp.GetMessageGroup(), out.GetUserProperties())
		}
	})
}
