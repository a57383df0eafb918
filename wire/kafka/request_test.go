package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// frame encodes req as a client would, minus the size prefix.
func frame(req kmsg.Request, version int16, clientID *string, corr int32) []byte {
	req.SetVersion(version)
	var opts []kmsg.RequestFormatterOpt
	if clientID != nil {
		opts = append(opts, kmsg.FormatterClientID(*clientID))
	}
	return kmsg.NewRequestFormatter(opts...).AppendRequest(nil, req, corr)[4:]
}

func TestParseRequest(t *testing.T) {
	id := "client-1"
	meta := kmsg.NewPtrMetadataRequest()
	topic := "orders"
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	meta.Topics = append(meta.Topics, mt)

	flexMeta := frame(meta, 12, &id, 9)
	// Header v2 with one tagged field (tag 5, 2 bytes) after the client id.
	tagged := append(bytes.Clone(flexMeta[:8+2+len(id)]), 1, 5, 2, 0xaa, 0xbb)
	tagged = append(tagged, flexMeta[8+2+len(id)+1:]...)

	cases := []struct {
		name     string
		frame    []byte
		key, ver int16
		clientID *string
		flexible bool
		err      error
	}{
		{"metadata v1 header v1", frame(meta, 1, &id, 7), 3, 1, &id, false, nil},
		{"metadata v12 header v2", flexMeta, 3, 12, &id, true, nil},
		{"header v2 with tags", tagged, 3, 12, &id, true, nil},
		{"null client id", frame(meta, 4, nil, 7), 3, 4, nil, false, nil},
		{"api versions v3", frame(kmsg.NewPtrApiVersionsRequest(), 3, &id, 7), 18, 3, &id, true, nil},
		{"controlled shutdown v0", []byte{0, 7, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1}, 7, 0, nil, false, nil}, // no client id
		{"unknown key", []byte{0x7f, 0, 0, 1, 0, 0, 0, 7, 0xff, 0xff}, 0x7f00, 1, nil, false, ErrUnknownAPIKey},
		{"unsupported version", []byte{0, 18, 0x7f, 0, 0, 0, 0, 7}, 18, 0x7f00, nil, false, ErrUnsupportedVersion},
		{"negative version", []byte{0, 3, 0xff, 0xff, 0, 0, 0, 7}, 3, -1, nil, false, ErrUnsupportedVersion},
		{"short frame", []byte{0, 3, 0}, 0, 0, nil, false, ErrShortFrame},
		{"truncated client id", []byte{0, 3, 0, 1, 0, 0, 0, 7, 0, 9, 'a'}, 3, 1, nil, false, ErrMalformedRequest},
		{"truncated tags", flexMeta[:8+2+len(id)], 3, 12, &id, true, ErrMalformedRequest},
		{"truncated body", frame(meta, 1, &id, 7)[:8+2+len(id)+3], 3, 1, &id, false, ErrMalformedRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, req, err := ParseRequest(tc.frame)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err == ErrShortFrame {
				return
			}
			if h.APIKey != tc.key || h.APIVersion != tc.ver || h.CorrelationID != 7 && h.CorrelationID != 9 {
				t.Fatalf("header %+v", h)
			}
			if err != nil {
				return
			}
			if h.Flexible != tc.flexible || (h.ClientID == nil) != (tc.clientID == nil) ||
				h.ClientID != nil && *h.ClientID != *tc.clientID {
				t.Fatalf("header %+v", h)
			}
			if req.Key() != tc.key || req.GetVersion() != tc.ver {
				t.Fatalf("request key %d v%d", req.Key(), req.GetVersion())
			}
			if m, ok := req.(*kmsg.MetadataRequest); ok && (len(m.Topics) != 1 || *m.Topics[0].Topic != topic) {
				t.Fatalf("metadata topics %+v", m.Topics)
			}
		})
	}
	var unk *UnknownAPIKeyError
	if _, _, err := ParseRequest([]byte{0x7f, 0, 0, 1, 0, 0, 0, 7}); !errors.As(err, &unk) || unk.Key != 0x7f00 {
		t.Errorf("unknown key error %v", err)
	}
	var unv *UnsupportedVersionError
	if _, _, err := ParseRequest([]byte{0, 18, 0x7f, 0, 0, 0, 0, 7}); !errors.As(err, &unv) || unv.Key != 18 || unv.Version != 0x7f00 {
		t.Errorf("unsupported version error %v", err)
	}
}

func TestGoldenRequests(t *testing.T) {
	for _, tc := range []struct {
		file string
		key  int16
	}{{"request-produce.bin", 0}, {"request-fetch.bin", 1}} {
		h, req, err := ParseRequest(readFixture(t, tc.file))
		if err != nil || h.APIKey != tc.key || req.Key() != tc.key || h.ClientID == nil || *h.ClientID != "kgo" {
			t.Fatalf("%s: %+v %v", tc.file, h, err)
		}
		if p, ok := req.(*kmsg.ProduceRequest); ok {
			if _, err := ValidateBatch(p.Topics[0].Partitions[0].Records, 0); err != nil {
				t.Errorf("%s: batch: %v", tc.file, err)
			}
		}
	}
}

func TestAppendResponse(t *testing.T) {
	meta := kmsg.NewPtrMetadataResponse()
	apiv := kmsg.NewPtrApiVersionsResponse()
	cases := []struct {
		name    string
		resp    kmsg.Response
		version int16
		tagByte bool
	}{
		{"metadata v1 header v0", meta, 1, false},
		{"metadata v12 header v1", meta, 12, true},
		{"api versions v3 stays header v0", apiv, 3, false},
		{"api versions v0", apiv, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.resp.SetVersion(tc.version)
			out := AppendResponse([]byte{9, 9}, 0x01020304, tc.resp)[2:]
			if int(binary.BigEndian.Uint32(out)) != len(out)-4 {
				t.Fatalf("size prefix %d, frame %d", binary.BigEndian.Uint32(out), len(out)-4)
			}
			if binary.BigEndian.Uint32(out[4:]) != 0x01020304 {
				t.Fatalf("correlation id %x", out[4:8])
			}
			body := out[8:]
			if tc.tagByte {
				if body[0] != 0 {
					t.Fatalf("header tag byte %x", body[0])
				}
				body = body[1:]
			}
			if !bytes.Equal(body, tc.resp.AppendTo(nil)) {
				t.Fatalf("body differs")
			}
		})
	}
}

func TestApiVersionsUnsupported(t *testing.T) {
	out := AppendResponse(nil, 7, ApiVersionsUnsupported(0, 3))
	want := []byte{
		0, 0, 0, 16, // size
		0, 0, 0, 7, // correlation id, header v0
		0, 35, // UNSUPPORTED_VERSION
		0, 0, 0, 1, // one key
		0, 18, 0, 0, 0, 3, // ApiVersions 0..3
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("got %x\nwant %x", out, want)
	}
}
