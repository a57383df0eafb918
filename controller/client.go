package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// ErrNoLeader is returned when no controller names a leader before the
// context ends.
var ErrNoLeader = errors.New("controller: no controller leader found")

// CodeError is a response that is not SUCCESS.
type CodeError struct {
	Op     string // the request, e.g. "CONTROLLER_ELECT_MASTER"
	Code   Code
	Remark string
}

func (e *CodeError) Error() string {
	return "controller: " + e.Op + ": " + e.Code.String() + ": " + e.Remark
}

// IsCode reports whether err is a CodeError with code.
func IsCode(err error, code Code) bool {
	var ce *CodeError
	return errors.As(err, &ce) && ce.Code == code
}

// Client is what a broker uses to talk to the controllers: it finds the
// leader among the ';'-separated addresses (controllerAddr), follows
// CONTROLLER_NOT_LEADER, and redials after a connection fails. Its
// methods are safe for concurrent use.
type Client struct {
	addrs []string
	// secret signs the requests that change the controller's state
	// (nameserver.SignControllerRequest); "" sends them unsigned.
	secret string

	mu     sync.Mutex // guards leader and conns
	leader string
	conns  map[string]*nameserver.Client
}

// SetSecret makes c sign its state-changing requests with the
// registration secret the name servers hosting the controller share. Call
// it before the first request.
func (c *Client) SetSecret(secret string) { c.secret = secret }

// NewClient returns a client of the controllers at controllerAddr,
// "host:port;host:port". It dials lazily.
func NewClient(controllerAddr string) (*Client, error) {
	var addrs []string
	for _, a := range strings.Split(controllerAddr, ";") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("controller: no controller address in %q", controllerAddr)
	}
	return &Client{addrs: addrs, conns: map[string]*nameserver.Client{}}, nil
}

// Close closes every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, conn := range c.conns {
		_ = conn.Close()
		delete(c.conns, a)
	}
	return nil
}

// Registration is what CONTROLLER_REGISTER_BROKER tells a broker.
type Registration struct {
	BrokerID int64
	ReplicaInfo
}

// ReplicaInfo is a group's master and SyncStateSet. MasterID is NoMaster
// while there is none (or, from Register, while the master is not alive).
type ReplicaInfo struct {
	MasterID          int64
	MasterAddr        string
	MasterEpoch       int32
	SyncStateSet      []int64
	SyncStateSetEpoch int32
}

// Metadata is CONTROLLER_GET_METADATA_INFO of one controller.
type Metadata struct {
	LeaderID, LeaderAddr string
	IsLeader             bool
	Peers                string
}

// Register registers a broker (RocketMQ 5.1's flow, register.go): with
// brokerID 0 it asks for the next id and applies for it (with the check
// code "addr;now"), retrying when another broker wins the id; then it
// registers addr under its id. A broker keeps the returned id and passes
// it on later starts.
func (c *Client) Register(ctx context.Context, cluster, brokerName, addr string, brokerID int64) (Registration, error) {
	checkCode := addr + ";" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	for attempt := 0; brokerID <= 0; attempt++ {
		resp, err := c.invoke(ctx, CodeControllerGetNextBrokerID, map[string]string{"clusterName": cluster, "brokerName": brokerName}, nil)
		if err != nil {
			return Registration{}, err
		}
		next, err := strconv.ParseInt(resp.ExtFields["nextBrokerId"], 10, 64)
		if err != nil {
			return Registration{}, fmt.Errorf("controller: CONTROLLER_GET_NEXT_BROKER_ID: bad nextBrokerId: %w", err)
		}
		_, err = c.invoke(ctx, CodeControllerApplyBrokerID, map[string]string{"clusterName": cluster, "brokerName": brokerName,
			"appliedBrokerId": strconv.FormatInt(next, 10), "registerCheckCode": checkCode}, nil)
		switch {
		case err == nil:
			brokerID = next
		case IsCode(err, ControllerBrokerIDInvalid) && attempt < 10:
			continue // another broker took it first
		default:
			return Registration{}, err
		}
	}
	resp, err := c.invoke(ctx, CodeControllerRegisterBroker, map[string]string{"clusterName": cluster, "brokerName": brokerName,
		"brokerId": strconv.FormatInt(brokerID, 10), "brokerAddress": addr,
		"invokeTime": strconv.FormatInt(time.Now().UnixMilli(), 10)}, nil)
	if err != nil {
		return Registration{}, err
	}
	ri, err := replicaInfo(resp)
	if err != nil {
		return Registration{}, err
	}
	return Registration{BrokerID: brokerID, ReplicaInfo: ri}, nil
}

// Heartbeat sends BROKER_HEARTBEAT to the leader.
func (c *Client) Heartbeat(ctx context.Context, hb Heartbeat) error {
	ext := map[string]string{"clusterName": hb.Cluster, "brokerName": hb.BrokerName, "brokerAddr": hb.Addr,
		"brokerId": strconv.FormatInt(hb.BrokerID, 10), "epoch": strconv.Itoa(int(hb.Epoch)),
		"maxOffset": strconv.FormatInt(hb.MaxOffset, 10), "confirmOffset": strconv.FormatInt(hb.ConfirmOffset, 10),
		"electionPriority": strconv.Itoa(int(hb.ElectionPriority))}
	if hb.Timeout > 0 {
		ext["heartbeatTimeoutMills"] = strconv.FormatInt(hb.Timeout.Milliseconds(), 10)
	}
	_, err := c.invoke(ctx, CodeBrokerHeartbeat, ext, nil)
	return err
}

// GetReplicaInfo asks the leader for a group's master and SyncStateSet.
func (c *Client) GetReplicaInfo(ctx context.Context, brokerName string) (ReplicaInfo, error) {
	resp, err := c.invoke(ctx, CodeControllerGetReplicaInfo, map[string]string{"brokerName": brokerName}, nil)
	if err != nil {
		return ReplicaInfo{}, err
	}
	return replicaInfo(resp)
}

// AlterSyncStateSet reports the master's new SyncStateSet at its epochs
// and returns the new syncStateSetEpoch. A stale view fails with
// CONTROLLER_FENCED_MASTER_EPOCH or CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH.
func (c *Client) AlterSyncStateSet(ctx context.Context, brokerName string, masterID int64, masterEpoch int32,
	syncStateSet []int64, syncStateSetEpoch int32) (int32, error) {
	body, _ := json.Marshal(SyncStateSetBody{SyncStateSet: syncStateSet, SyncStateSetEpoch: syncStateSetEpoch})
	resp, err := c.invoke(ctx, CodeControllerAlterSyncStateSet, map[string]string{"brokerName": brokerName,
		"masterBrokerId": strconv.FormatInt(masterID, 10), "masterEpoch": strconv.Itoa(int(masterEpoch)),
		"invokeTime": strconv.FormatInt(time.Now().UnixMilli(), 10)}, body)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(resp.ExtFields["newSyncStateSetEpoch"], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("controller: CONTROLLER_ALTER_SYNC_STATE_SET: bad newSyncStateSetEpoch: %w", err)
	}
	return int32(n), nil
}

// ElectMaster asks for an election in a group: brokerID asks to be the
// first master of a group that never had one, or with designate to
// become master now. The result is the group after the election; an
// election that keeps the master fails with CONTROLLER_MASTER_STILL_EXIST.
func (c *Client) ElectMaster(ctx context.Context, cluster, brokerName string, brokerID int64, designate bool) (ReplicaInfo, error) {
	resp, err := c.invoke(ctx, CodeControllerElectMaster, map[string]string{"clusterName": cluster, "brokerName": brokerName,
		"brokerId": strconv.FormatInt(brokerID, 10), "designateElect": strconv.FormatBool(designate),
		"invokeTime": strconv.FormatInt(time.Now().UnixMilli(), 10)}, nil)
	if err != nil {
		return ReplicaInfo{}, err
	}
	return replicaInfo(resp)
}

// Metadata asks the controller at addr (one of controllerAddr) who leads.
func (c *Client) Metadata(ctx context.Context, addr string) (Metadata, error) {
	resp, err := c.invokeAt(ctx, addr, remoting.NewRequest(CodeControllerGetMetadataInfo, 0))
	if err != nil {
		return Metadata{}, err
	}
	if resp.Code != int32(Success) {
		return Metadata{}, &CodeError{Op: "CONTROLLER_GET_METADATA_INFO", Code: Code(resp.Code), Remark: resp.Remark}
	}
	f := resp.ExtFields
	return Metadata{LeaderID: f["controllerLeaderId"], LeaderAddr: f["controllerLeaderAddress"],
		IsLeader: f["isLeader"] == "true", Peers: f["peers"]}, nil
}

// replicaInfo reads masterBrokerId, masterAddress, masterEpoch and a
// SyncStateSet body (or the syncStateSet of an ElectMasterBody).
func replicaInfo(resp *remoting.Command) (ReplicaInfo, error) {
	f := fields{ext: resp.ExtFields}
	ri := ReplicaInfo{MasterID: f.int64("masterBrokerId", NoMaster, false), MasterAddr: resp.ExtFields["masterAddress"],
		MasterEpoch: f.int32("masterEpoch", 0, false), SyncStateSetEpoch: f.int32("syncStateSetEpoch", 0, false)}
	if f.err != nil {
		return ReplicaInfo{}, fmt.Errorf("controller: response: %w", f.err)
	}
	var body struct {
		SyncStateSet      []int64 `json:"syncStateSet"`
		SyncStateSetEpoch *int32  `json:"syncStateSetEpoch"`
	}
	if len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			return ReplicaInfo{}, fmt.Errorf("controller: response body: %w", err)
		}
	}
	ri.SyncStateSet = body.SyncStateSet
	if body.SyncStateSetEpoch != nil {
		ri.SyncStateSetEpoch = *body.SyncStateSetEpoch
	}
	return ri, nil
}

// invoke sends a request to the leader, finding it first, and follows
// CONTROLLER_NOT_LEADER and broken connections until ctx ends. A response
// other than SUCCESS is a *CodeError.
func (c *Client) invoke(ctx context.Context, code int32, ext map[string]string, body []byte) (*remoting.Command, error) {
	op := codeName(code)
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("controller: %s: %w (last: %v)", op, ctx.Err(), last)
			case <-time.After(min(time.Duration(attempt)*50*time.Millisecond, 500*time.Millisecond)):
			}
		}
		addr, err := c.findLeader(ctx)
		if err != nil {
			last = err
			continue
		}
		req := remoting.NewRequest(code, 0)
		req.ExtFields, req.Body = ext, body
		resp, err := c.invokeAt(ctx, addr, req)
		if err != nil {
			last = err
			c.setLeader(addr, "")
			continue
		}
		if resp.Code == int32(ControllerNotLeader) {
			last = &CodeError{Op: op, Code: ControllerNotLeader, Remark: resp.Remark}
			c.setLeader(addr, resp.ExtFields["controllerLeaderAddress"])
			continue
		}
		if resp.Code != int32(Success) {
			return resp, &CodeError{Op: op, Code: Code(resp.Code), Remark: resp.Remark}
		}
		return resp, nil
	}
}

// setLeader replaces a leader found wrong (was) with next ("" to look
// again).
func (c *Client) setLeader(was, next string) {
	c.mu.Lock()
	if c.leader == was {
		c.leader = next
	}
	c.mu.Unlock()
}

// findLeader returns the known leader or asks each controller.
func (c *Client) findLeader(ctx context.Context) (string, error) {
	c.mu.Lock()
	leader := c.leader
	c.mu.Unlock()
	if leader != "" {
		return leader, nil
	}
	var errs []error
	for _, a := range c.addrs {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		md, err := c.Metadata(actx, a)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case md.IsLeader:
			leader = a
		case md.LeaderAddr != "":
			leader = md.LeaderAddr
		default:
			continue
		}
		c.mu.Lock()
		c.leader = leader
		c.mu.Unlock()
		return leader, nil
	}
	return "", fmt.Errorf("%w among %v: %w", ErrNoLeader, c.addrs, errors.Join(errs...))
}

// invokeAt sends req to addr over a cached connection.
func (c *Client) invokeAt(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	c.mu.Lock()
	conn := c.conns[addr]
	c.mu.Unlock()
	if conn == nil || conn.Err() != nil {
		var err error
		if conn, err = nameserver.Dial(ctx, addr); err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		c.mu.Lock()
		if old := c.conns[addr]; old != nil {
			_ = old.Close()
		}
		c.conns[addr] = conn
		c.mu.Unlock()
	}
	nameserver.SignControllerRequest(c.secret, req, time.Now().UnixNano()) // anew at each attempt
	resp, err := conn.Invoke(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("controller: %s at %s: %w", codeName(req.Code), addr, err)
	}
	return resp, nil
}

var requestNames = map[int32]string{
	CodeBrokerHeartbeat: "BROKER_HEARTBEAT", CodeControllerAlterSyncStateSet: "CONTROLLER_ALTER_SYNC_STATE_SET",
	CodeControllerElectMaster: "CONTROLLER_ELECT_MASTER", CodeControllerRegisterBroker: "CONTROLLER_REGISTER_BROKER",
	CodeControllerGetReplicaInfo: "CONTROLLER_GET_REPLICA_INFO", CodeControllerGetMetadataInfo: "CONTROLLER_GET_METADATA_INFO",
	CodeControllerGetSyncStateData: "CONTROLLER_GET_SYNC_STATE_DATA", CodeCleanBrokerData: "CLEAN_BROKER_DATA",
	CodeControllerGetNextBrokerID: "CONTROLLER_GET_NEXT_BROKER_ID", CodeControllerApplyBrokerID: "CONTROLLER_APPLY_BROKER_ID",
}

func codeName(code int32) string {
	if n, ok := requestNames[code]; ok {
		return n
	}
	return "request " + strconv.Itoa(int(code))
}
