package nameserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twinmq/twinmq/wire/remoting"
)

// Trusted registration (issue 15). With a registration secret configured,
// a REGISTER_BROKER (103) or UNREGISTER_BROKER (104) must carry two extra
// ext fields, which a Java name server ignores (it reads only the fields
// of its header class), so a twinmq broker with a secret still registers
// with one:
//
//	registrationTimestamp  decimal Unix nanoseconds, strictly increasing per broker address
//	registrationSignature  lowercase hex HMAC-SHA256(secret, signed content)
//
// The signed content, layout version 2, is each of these as a uvarint
// length followed by its bytes, in this order:
//
//	"twinmq-registration-v2", request code (decimal), clusterName,
//	brokerName, brokerId, brokerAddr, haServerAddr, masterEpoch,
//	twinmqKafkaAddr, twinmqKafkaNodeId, twinmqKafkaClusterId,
//	twinmqKafkaReplicas, twinmqKafkaIsr, twinmqKafkaRack,
//	registrationTimestamp, SHA-256 of the body (32 bytes)
//
// The secret never travels. A captured request is refused once its
// timestamp is more than MaxRegistrationSkew from the name server's clock,
// or is not newer than the last one accepted from that broker address, so
// it cannot be replayed to take the broker's registration onto another
// connection (which would drop its routes when that connection closed).
const (
	extRegTimestamp = "registrationTimestamp"
	extRegSignature = "registrationSignature"
	signContext     = "twinmq-registration-v2" // v2 added twinmqKafkaRack
	// MaxRegistrationSkew bounds the difference between a signed
	// request's timestamp and the name server's clock.
	MaxRegistrationSkew = 5 * time.Minute
)

// ErrUnauthorized refuses a registration without a valid signature.
var ErrUnauthorized = errors.New("nameserver: registration not signed with the registration secret")

// signedFields are the ext fields the signature covers, in order.
var signedFields = []string{"clusterName", "brokerName", "brokerId", "brokerAddr", "haServerAddr", "masterEpoch",
	"twinmqKafkaAddr", "twinmqKafkaNodeId", "twinmqKafkaClusterId", "twinmqKafkaReplicas", "twinmqKafkaIsr", "twinmqKafkaRack", extRegTimestamp}

// SignRegistration adds the timestamp ts (Unix nanoseconds) and the
// signature under secret to req, a REGISTER_BROKER or UNREGISTER_BROKER
// whose other ext fields and body are final.
func SignRegistration(secret string, req *remoting.Command, ts int64) {
	req.ExtFields[extRegTimestamp] = strconv.FormatInt(ts, 10)
	req.ExtFields[extRegSignature] = hex.EncodeToString(registrationMAC(secret, req))
}

func registrationMAC(secret string, req *remoting.Command) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	var buf []byte
	field := func(s string) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(s)))
		m.Write(buf)
		m.Write([]byte(s))
	}
	field(signContext)
	field(strconv.Itoa(int(req.Code)))
	for _, k := range signedFields {
		field(req.ExtFields[k])
	}
	sum := sha256.Sum256(req.Body)
	field(string(sum[:]))
	return m.Sum(nil)
}

// verifier checks signed registrations; the zero secret accepts all.
type verifier struct {
	secret string
	skew   time.Duration

	mu   sync.Mutex       // guards last
	last map[string]int64 // brokerAddr -> newest accepted timestamp
}

// verify checks req's signature and timestamp at now, and on success
// records the timestamp as the newest of its brokerAddr. The map holds
// one entry per address that ever signed correctly: only holders of the
// secret add to it.
func (v *verifier) verify(req *remoting.Command, now time.Time) error {
	if v.secret == "" {
		return nil
	}
	f := req.ExtFields
	sig, err := hex.DecodeString(f[extRegSignature])
	if err != nil || len(sig) != sha256.Size || !hmac.Equal(sig, registrationMAC(v.secret, req)) {
		return ErrUnauthorized // hmac.Equal compares in constant time
	}
	ts, err := strconv.ParseInt(f[extRegTimestamp], 10, 64)
	if err != nil {
		return ErrUnauthorized
	}
	if d := now.Sub(time.Unix(0, ts)); d > v.skew || d < -v.skew {
		return fmt.Errorf("%w: timestamp %s off the name server's clock by %s (at most %s)",
			ErrUnauthorized, time.Unix(0, ts).UTC().Format(time.RFC3339Nano), d, v.skew)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	addr := f["brokerAddr"]
	if ts <= v.last[addr] {
		return fmt.Errorf("%w: timestamp %d not newer than the last accepted from %s (a replay?)", ErrUnauthorized, ts, addr)
	}
	v.last[addr] = ts
	return nil
}

// Signed controller requests. With a registration secret, the requests
// that change the embedded controller's state (BROKER_HEARTBEAT 904,
// CONTROLLER_ALTER_SYNC_STATE_SET 1001, CONTROLLER_ELECT_MASTER 1002,
// CONTROLLER_REGISTER_BROKER 1003, CLEAN_BROKER_DATA 1011,
// CONTROLLER_APPLY_BROKER_ID 1013) must be signed with it, as
// registrations are: a forged heartbeat would keep a dead master "alive",
// a forged election would move a group's master. Reads (1004-1006, 1012)
// stay open: brokers and `twinmq cluster info` find the leader with them.
// The signed content covers every ext field (sorted by name) but the
// signature, under the context "twinmq-controller-v1":
//
//	context, request code (decimal), then name and value of each ext
//	field, then SHA-256 of the body, each as a uvarint length and bytes
//
// with the same two fields (registrationTimestamp, registrationSignature),
// the same clock skew bound, and timestamps strictly increasing per
// request code and broker (clusterName, brokerName, brokerId, brokerAddr,
// brokerAddress), so a captured request cannot be replayed.
var signedControllerCodes = map[int32]bool{904: true, 1001: true, 1002: true, 1003: true, 1011: true, 1013: true}

const controllerSignContext = "twinmq-controller-v1"

// SignControllerRequest adds the timestamp ts (Unix nanoseconds) and the
// signature under secret to req, whose other ext fields and body are
// final. Requests the controller does not require signed are left as
// they are.
func SignControllerRequest(secret string, req *remoting.Command, ts int64) {
	if secret == "" || !signedControllerCodes[req.Code] {
		return
	}
	if req.ExtFields == nil {
		req.ExtFields = map[string]string{}
	}
	req.ExtFields[extRegTimestamp] = strconv.FormatInt(ts, 10)
	delete(req.ExtFields, extRegSignature)
	req.ExtFields[extRegSignature] = hex.EncodeToString(controllerMAC(secret, req))
}

func controllerMAC(secret string, req *remoting.Command) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	var buf []byte
	field := func(s string) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(s)))
		m.Write(buf)
		m.Write([]byte(s))
	}
	field(controllerSignContext)
	field(strconv.Itoa(int(req.Code)))
	for _, k := range slices.Sorted(maps.Keys(req.ExtFields)) {
		if k == extRegSignature {
			continue
		}
		field(k)
		field(req.ExtFields[k])
	}
	sum := sha256.Sum256(req.Body)
	field(string(sum[:]))
	return m.Sum(nil)
}

// verifyController checks a controller request as verify checks a
// registration; requests that need no signature pass.
func (v *verifier) verifyController(req *remoting.Command, now time.Time) error {
	if v.secret == "" || !signedControllerCodes[req.Code] {
		return nil
	}
	f := req.ExtFields
	sig, err := hex.DecodeString(f[extRegSignature])
	if err != nil || len(sig) != sha256.Size || !hmac.Equal(sig, controllerMAC(v.secret, req)) {
		return ErrUnauthorized
	}
	ts, err := strconv.ParseInt(f[extRegTimestamp], 10, 64)
	if err != nil {
		return ErrUnauthorized
	}
	if d := now.Sub(time.Unix(0, ts)); d > v.skew || d < -v.skew {
		return fmt.Errorf("%w: timestamp off the name server's clock by %s (at most %s)", ErrUnauthorized, d, v.skew)
	}
	key := strings.Join([]string{"ctl", strconv.Itoa(int(req.Code)), f["clusterName"], f["brokerName"], f["brokerId"],
		f["brokerAddr"], f["brokerAddress"]}, "\x00")
	v.mu.Lock()
	defer v.mu.Unlock()
	if ts <= v.last[key] {
		return fmt.Errorf("%w: timestamp %d not newer than the last accepted (a replay?)", ErrUnauthorized, ts)
	}
	v.last[key] = ts
	return nil
}
