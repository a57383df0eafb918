package groups

import (
	"errors"
	"slices"
	"time"
)

// State is a classic group's state.
type State int8

// The states of Kafka's GroupMetadata.
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

// String returns Kafka's name of the state (DescribeGroups, ListGroups).
func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	case Dead:
		return "Dead"
	}
	return "Unknown"
}

// ParseState is String's inverse (ListGroups v4 state filters, KIP-518);
// case-insensitive as Kafka's.
func ParseState(s string) (State, bool) {
	for st := Empty; st <= Dead; st++ {
		if equalFold(st.String(), s) {
			return st, true
		}
	}
	return 0, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// Errors of the package; the Kafka adapter maps each to its error code.
var (
	ErrInvalidGroupID          = errors.New("groups: invalid group id")
	ErrUnknownMemberID         = errors.New("groups: unknown member id")
	ErrIllegalGeneration       = errors.New("groups: illegal generation")
	ErrInconsistentProtocol    = errors.New("groups: inconsistent group protocol")
	ErrRebalanceInProgress     = errors.New("groups: rebalance in progress")
	ErrMemberIDRequired        = errors.New("groups: member id required")
	ErrFencedInstanceID        = errors.New("groups: fenced instance id")
	ErrGroupMaxSize            = errors.New("groups: group max size reached")
	ErrInvalidSessionTimeout   = errors.New("groups: invalid session timeout")
	ErrCoordinatorNotAvailable = errors.New("groups: coordinator not available")
	ErrNonEmptyGroup           = errors.New("groups: group not empty")
	ErrGroupNotFound           = errors.New("groups: group id not found")
	ErrCorrupt                 = errors.New("groups: corrupt group record")
	// ErrMetadataTooLarge: a member's protocol metadata or assignment is
	// over MaxMemberMetadata.
	ErrMetadataTooLarge = errors.New("groups: member metadata too large")
	// ErrGroupTooLarge: the group's record would be over MaxRecordSize
	// (Kafka fails the store with RECORD_TOO_LARGE and answers
	// UNKNOWN_SERVER_ERROR).
	ErrGroupTooLarge = errors.New("groups: group metadata too large")
)

// Default bounds of a group's metadata: the record must fit one CommitLog
// entry (16 MiB by default).
const (
	DefaultMaxMemberMetadata = 1 << 20
	DefaultMaxRecordSize     = 8 << 20
)

// Protocol is one assignor a member supports, with its metadata (for the
// "consumer" protocol type, a ConsumerProtocolSubscription).
type Protocol struct {
	Name     string
	Metadata []byte
}

// Member is one member of a group.
type Member struct {
	ID               string
	InstanceID       string // group.instance.id (KIP-345); "" for dynamic members
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	Protocols        []Protocol
	Assignment       []byte

	// Runtime state, not persisted.
	joinToken   Token // parked JoinGroup, 0 if none
	syncToken   Token // parked SyncGroup, 0 if none
	heartbeatAt time.Time
}

// metadata returns the member's metadata for protocol name.
func (m *Member) metadata(name string) ([]byte, bool) {
	for _, p := range m.Protocols {
		if p.Name == name {
			return p.Metadata, true
		}
	}
	return nil, false
}

func (m *Member) sameProtocols(ps []Protocol) bool {
	return slices.EqualFunc(m.Protocols, ps, func(a, b Protocol) bool {
		return a.Name == b.Name && string(a.Metadata) == string(b.Metadata)
	})
}

// keepAlive says whether the member's session is suspended: a member with
// a parked JoinGroup or SyncGroup is alive by definition, as in Kafka.
func (m *Member) keepAlive() bool { return m.joinToken != 0 || m.syncToken != 0 }

// Token names a parked call (a JoinGroup or SyncGroup waiting for the
// rebalance); the driver maps it to its callback.
type Token uint64

// Config configures a group core. The coordinator fills it.
type Config struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long
	// the first rebalance of an Empty group waits for more members.
	InitialRebalanceDelay time.Duration
	MinSessionTimeout     time.Duration
	MaxSessionTimeout     time.Duration
	// MaxSize is group.max.size; 0 means unlimited.
	MaxSize int
	// NewMemberID returns a fresh member id for a client id.
	NewMemberID func(clientID string) string
	// MaxMemberMetadata bounds one member's protocol metadata (all
	// protocols together) and its assignment; MaxRecordSize the group's
	// record. 0: the defaults.
	MaxMemberMetadata int
	MaxRecordSize     int
}

func (c Config) maxMemberMetadata() int {
	if c.MaxMemberMetadata > 0 {
		return c.MaxMemberMetadata
	}
	return DefaultMaxMemberMetadata
}

func (c Config) maxRecordSize() int {
	if c.MaxRecordSize > 0 {
		return c.MaxRecordSize
	}
	return DefaultMaxRecordSize
}

// metadataSize is what a member's metadata adds to the group record.
func (m *Member) metadataSize() int {
	n := len(m.Assignment) + len(m.ID) + len(m.InstanceID) + len(m.ClientID) + len(m.ClientHost) + 64
	for _, p := range m.Protocols {
		n += len(p.Name) + len(p.Metadata) + 16
	}
	return n
}

// Group is the deterministic core of one classic group. It is not safe
// for concurrent use; the driver serializes calls.
type Group struct {
	cfg Config

	ID           string
	State        State
	ProtocolType string
	Protocol     string
	Generation   int32
	Leader       string
	members      map[string]*Member
	order        []string             // member ids in join order (leader choice, replies)
	statics      map[string]string    // instance id -> member id
	pending      map[string]time.Time // MEMBER_ID_REQUIRED ids -> expiry (KIP-394)

	// Rebalance timing.
	rebalanceAt    time.Time // join (Preparing) or sync (Completing) deadline
	initialDelay   bool      // the rebalance is an initial delayed join
	initialEnd     time.Time // latest end of the initial delayed join
	newMemberAdded bool
}

// New returns an Empty group.
func New(id string, cfg Config) *Group {
	return &Group{
		cfg: cfg, ID: id, members: map[string]*Member{},
		statics: map[string]string{}, pending: map[string]time.Time{},
	}
}

// Members returns the members in join order. The caller must not modify
// them.
func (g *Group) Members() []*Member {
	out := make([]*Member, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, g.members[id])
	}
	return out
}

// Member returns a member by id.
func (g *Group) Member(id string) (*Member, bool) {
	m, ok := g.members[id]
	return m, ok
}

// Len returns the number of members.
func (g *Group) Len() int { return len(g.members) }

func (g *Group) add(m *Member) {
	g.members[m.ID] = m
	g.order = append(g.order, m.ID)
	if m.InstanceID != "" {
		g.statics[m.InstanceID] = m.ID
	}
	if g.State == PreparingRebalance && g.initialDelay {
		g.newMemberAdded = true
	}
}

func (g *Group) remove(id string) {
	m, ok := g.members[id]
	if !ok {
		return
	}
	delete(g.members, id)
	g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
	if m.InstanceID != "" && g.statics[m.InstanceID] == id {
		delete(g.statics, m.InstanceID)
	}
	if g.Leader == id {
		g.Leader = ""
		if len(g.order) > 0 {
			g.Leader = g.order[0]
		}
	}
}
