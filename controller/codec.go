package controller

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// ErrCorrupt marks a log entry or snapshot that does not decode.
var ErrCorrupt = errors.New("controller: corrupt encoding")

// Encoding versions (doc.go draws both layouts). They never change; a new
// layout gets a new version.
const (
	commandVersion  byte = 1
	snapshotVersion byte = 1
	// maxEncoded bounds what a decoder accepts: the state of thousands of
	// groups is well under it.
	maxEncoded = 64 << 20
)

// EncodeCommand appends the log encoding of cmd to dst.
func EncodeCommand(dst []byte, cmd Command) ([]byte, error) {
	b, err := json.Marshal(cmd)
	if err != nil {
		return dst, fmt.Errorf("controller: encode command: %w", err)
	}
	dst = append(dst, commandVersion, byte(cmd.kind()))
	return append(dst, b...), nil
}

// DecodeCommand decodes one log entry.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) < 2 || len(b) > maxEncoded {
		return nil, fmt.Errorf("%w: command of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != commandVersion {
		return nil, fmt.Errorf("%w: command version %d", ErrCorrupt, b[0])
	}
	var cmd Command
	switch kind(b[1]) {
	case kindApplyBrokerID:
		cmd = &ApplyBrokerID{}
	case kindRegisterBroker:
		cmd = &RegisterBroker{}
	case kindAlterSyncStateSet:
		cmd = &AlterSyncStateSet{}
	case kindElectMaster:
		cmd = &ElectMaster{}
	case kindCleanBrokerData:
		cmd = &CleanBrokerData{}
	case kindSetControllerAddr:
		cmd = &SetControllerAddr{}
	default:
		return nil, fmt.Errorf("%w: command kind %d", ErrCorrupt, b[1])
	}
	if err := decodeJSON(b[2:], cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// snapshot is the JSON body of a snapshot.
type snapshot struct {
	Groups      []Group           `json:"groups"`
	Controllers map[string]string `json:"controllers,omitempty"`
}

// EncodeState appends the snapshot encoding of s to dst.
func EncodeState(dst []byte, s *State) ([]byte, error) {
	snap := snapshot{Groups: s.Groups(), Controllers: s.controllers}
	b, err := json.Marshal(snap)
	if err != nil {
		return dst, fmt.Errorf("controller: encode state: %w", err)
	}
	return append(append(dst, snapshotVersion), b...), nil
}

// DecodeState decodes a snapshot, checking what the state machine keeps
// true: members and SyncStateSets ascending without duplicates, the
// SyncStateSet made of members, the master a member of the SyncStateSet.
func DecodeState(b []byte) (*State, error) {
	if len(b) < 1 || len(b) > maxEncoded {
		return nil, fmt.Errorf("%w: snapshot of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %d", ErrCorrupt, b[0])
	}
	var snap snapshot
	if err := decodeJSON(b[1:], &snap); err != nil {
		return nil, err
	}
	s := &State{controllers: snap.Controllers}
	for i := range snap.Groups {
		g := snap.Groups[i]
		if err := g.check(); err != nil {
			return nil, err
		}
		if _, dup := s.groups[g.Name]; dup {
			return nil, fmt.Errorf("%w: group %q twice", ErrCorrupt, g.Name)
		}
		if s.groups == nil {
			s.groups = make(map[string]*Group)
		}
		s.groups[g.Name] = &g
	}
	return s, nil
}

// check reports a group that breaks the state machine's invariants.
func (g *Group) check() error {
	bad := func(why string) error { return fmt.Errorf("%w: group %q: %s", ErrCorrupt, g.Name, why) }
	switch {
	case g.Name == "":
		return bad("no name")
	case !slices.IsSortedFunc(g.Members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) }):
		return bad("members out of order")
	case !slices.IsSorted(g.SyncStateSet) || len(slices.Compact(slices.Clone(g.SyncStateSet))) != len(g.SyncStateSet):
		return bad("syncStateSet out of order")
	case g.HasMaster() && !g.InSyncStateSet(g.MasterID):
		return bad("master outside the syncStateSet")
	case g.MasterID < NoMaster || g.MasterEpoch < 0 || g.SyncStateSetEpoch < 0:
		return bad("negative id or epoch")
	}
	for i, m := range g.Members {
		if i > 0 && g.Members[i-1].ID == m.ID {
			return bad("member twice")
		}
		if m.ID >= g.NextBrokerID {
			return bad("nextBrokerId not past every member")
		}
	}
	for _, id := range g.SyncStateSet {
		if _, ok := g.Member(id); !ok {
			return bad("syncStateSet holds a non-member")
		}
	}
	return nil
}

// decodeJSON decodes exactly one JSON value, refusing unknown fields and
// trailing bytes.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if d.More() {
		return fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	return nil
}
