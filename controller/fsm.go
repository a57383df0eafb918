package controller

import (
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// fsm is the raft.FSM over a State: raft calls Apply, Snapshot and Restore
// from its own goroutine; request handlers read through view. mu guards
// state.
type fsm struct {
	mu    sync.RWMutex
	state *State
}

var _ raft.FSM = (*fsm)(nil)

// Apply implements raft.FSM: the Result of the decoded command, or a
// SYSTEM_ERROR result for an entry that does not decode (written by a
// newer twinmq, or corrupt: it changes nothing on any node).
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return Result{Code: Success}
	}
	cmd, err := DecodeCommand(l.Data)
	if err != nil {
		return Result{Code: SystemError, Remark: fmt.Sprintf("log index %d: %v", l.Index, err)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Apply(cmd)
}

// view calls fn with the state under the read lock.
func (f *fsm) view(fn func(s *State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.state)
}

// Snapshot implements raft.FSM: the encoded state, taken under the lock
// (a few KiB per hundred groups, so copying beats a copy-on-write tree).
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	b, err := EncodeState(nil, f.state)
	f.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return fsmSnapshot(b), nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(io.LimitReader(rc, maxEncoded+1))
	if err != nil {
		return fmt.Errorf("controller: restore: %w", err)
	}
	s, err := DecodeState(b)
	if err != nil {
		return fmt.Errorf("controller: restore: %w", err)
	}
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("controller: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (fsmSnapshot) Release() {}
