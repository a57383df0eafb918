package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/storage/commitlog"
	"github.com/twinmq/twinmq/storage/consumequeue"
	"github.com/twinmq/twinmq/storage/index"
	"github.com/twinmq/twinmq/storage/vfs"
)

// Entry is what the broker appends; see commitlog.Entry.
type Entry = commitlog.Entry

// Position is where an appended entry landed.
type Position = commitlog.Position

// Kind says which protocol wrote an entry.
type Kind = commitlog.Kind

// The entry kinds.
const (
	KindRocketMQ = commitlog.KindRocketMQ
	KindKafka    = commitlog.KindKafka
	KindInternal = commitlog.KindInternal
)

// Errors of the facade. Storage errors of the parts (commitlog.ErrCorrupt,
// ...) are wrapped and reach callers through errors.Is.
var (
	ErrClosed           = errors.New("storage: store closed")
	ErrQueueNotFound    = errors.New("storage: queue not found")
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	ErrCorrupt          = commitlog.ErrCorrupt
	ErrFailed           = commitlog.ErrFailed
	// ErrNoSpace: the data directory's file system is full, or below
	// Config.DiskReserveBytes; the append was refused, nothing of it was
	// written, and a retry succeeds once there is space (diskfull.go).
	ErrNoSpace       = commitlog.ErrNoSpace
	ErrEntryTooLarge = commitlog.ErrEntryTooLarge
	ErrFormat        = errors.New("storage: data directory of another format")
)

const (
	formatName  = "FORMAT"
	formatText  = "twinmq-store 2\n"
	abortName   = "abort"
	lockName    = "lock"
	clDir       = "commitlog"
	cqDir       = "consumequeue"
	indexDir    = "index"
	keySep      = "#"
	maxReadUnit = 32 // units read per ConsumeQueue call; small, as it lives on the caller's stack
)

// formatTextV1 is the format before topic-deletion records, which Open
// upgrades in place (upgradeFormat).
const formatTextV1 = "twinmq-store 1\n"

type queueKey struct {
	topic string
	queue int32
}

// Store is the facade the broker uses: one CommitLog, the ConsumeQueues and
// the IndexFile derived from it, flushing, recovery and retention.
//
// Ownership: whoever holds dispatchMu owns every mutation of derived data
// (ConsumeQueue appends, truncation, deletion, index puts, checkpoints).
// The dispatcher goroutine holds it while it serves each event; other
// goroutines ask it through s.ops, except DispatchNow, which dispatches on
// its caller's goroutine when the dispatcher is idle, and a HoldDispatch
// caller, which holds it until ReleaseDispatch. Appends are serialized by
// the CommitLog. queuesMu guards the queues map (readers look queues up).
// The package doc gives the lock order of all of these.
type Store struct {
	cfg   Config
	log   *commitlog.Log
	index *index.Index
	lock  io.Closer

	queuesMu sync.RWMutex
	queues   map[queueKey]*consumequeue.Queue

	dispatchMu sync.Mutex          // owns derived data; see above
	held       atomic.Bool         // an appender holds dispatchMu (HoldDispatch)
	dispatched atomic.Int64        // every entry below is in the ConsumeQueues
	cpGen      uint64              // checkpoints written; owned with dispatchMu (checkpointConcurrent)
	units      []consumequeue.Unit // dispatcher scratch
	touched    map[queueKey]int64  // dispatcher scratch
	kick       chan struct{}
	lazyArmed  atomic.Bool  // the dispatcher's catch-up tick is armed
	nwaiters   atomic.Int64 // parked long polls (Notify)
	flushKick  chan struct{}
	ops        chan func()
	done       chan struct{}
	wg         sync.WaitGroup

	// gated and replicated are the SYNC_MASTER visibility gate
	// (GateVisible, SetReplicated): while gated, readers see nothing at
	// or past replicated, which only rises.
	gated      atomic.Bool
	replicated atomic.Int64
	// onWritten is called after every local CommitLog write (OnWritten).
	onWritten atomic.Pointer[func()]

	// keepMs is the age in ms past which retention deletes segments: the
	// configured RetentionHours until SetRetentionMs raises or lowers it;
	// negative keeps every segment.
	keepMs atomic.Int64

	// failLog logs the failures that recur once the log has failed (every
	// flush, every checkpoint) once, then as a periodic reminder.
	failLog repeatLog
	// noSpace refuses appends: the disk is full or below the reserve
	// (diskfull.go).
	noSpace atomic.Bool

	flushes atomic.Int64 // flush passes, for the group-commit benchmark and Stats
	// obs are the latency histograms (observe.go), nil until
	// SetObservers; opened is the monotonic base of vis's times.
	obs    atomic.Pointer[Observers]
	opened time.Time
	vis    visRing
	// flushEvery is ASYNC_FLUSH's period in ns (SetFlushInterval);
	// capBytes the CommitLog's size cap (SetRetentionBytes).
	flushEvery atomic.Int64
	capBytes   atomic.Int64
	records    atomic.Int64 // records dispatched since Open (Stats)
	wakeups    atomic.Int64 // appends that woke the dispatcher (tests)

	// syncMu guards syncQueue, the SYNC_FLUSH appends waiting for the
	// flusher; syncSpare and syncEntries are flusher scratch.
	syncMu      sync.Mutex
	syncQueue   []*syncReq
	syncSpare   []*syncReq
	syncEntries []Entry
	// syncTarget, syncClosed and syncGen are under syncMu too: the group
	// size gather waits for (gathered tells the flusher it is reached),
	// whether failQueued ran (appends are refused), and the channel closed
	// once the requests now queued are answered.
	syncTarget int
	syncClosed bool
	syncGen    chan struct{}
	gathered   chan struct{}
	syncReqs   sync.Pool // *syncReq

	waitMu  sync.Mutex
	waiters map[queueKey][]*waiter

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error

	recovery RecoveryReport
}

// RecoveryReport says what Open found and did.
type RecoveryReport struct {
	CleanShutdown   bool
	FromOffset      int64
	EndOffset       int64
	EntriesScanned  int
	DroppedBytes    int64
	Reason          string
	RebuiltQueues   int
	CheckpointError string
	Duration        time.Duration
}

// Recovery reports what Open found and did.
func (s *Store) Recovery() RecoveryReport { return s.recovery }

// Dir is the data directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// FlushDiskType reports the flush mode.
func (s *Store) FlushDiskType() FlushDiskType { return s.cfg.FlushDiskType }

// Open opens or creates the store in cfg.Dir, recovers it and starts the
// dispatcher, the flusher and retention.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:       cfg,
		queues:    map[queueKey]*consumequeue.Queue{},
		kick:      make(chan struct{}, 1),
		flushKick: make(chan struct{}, 1),
		gathered:  make(chan struct{}, 1),
		syncGen:   make(chan struct{}),
		ops:       make(chan func()),
		done:      make(chan struct{}),
		waiters:   map[queueKey][]*waiter{},
		touched:   map[queueKey]int64{},
		opened:    time.Now(),
	}
	s.flushEvery.Store(int64(cfg.FlushInterval))
	s.capBytes.Store(cfg.RetentionBytes)
	s.keepMs.Store(s.RetentionMs())
	if err := s.open(ctx); err != nil {
		s.closeParts()
		if s.lock != nil {
			s.lock.Close()
		}
		return nil, err
	}
	s.checkSpace()
	s.wg.Add(2)
	go s.dispatchLoop()
	go s.flushLoop()
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	fsys, dir := s.cfg.FS, s.cfg.Dir
	if err := vfs.MkdirAllDurable(fsys, dir); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	lk, err := fsys.Lock(path.Join(dir, lockName))
	if err != nil {
		return fmt.Errorf("storage: lock %s (is another twinmq using it?): %w", dir, err)
	}
	s.lock = lk
	v1, err := checkFormat(fsys, dir)
	if err != nil {
		return err
	}
	_, err = fsys.Stat(path.Join(dir, abortName))
	clean := errors.Is(err, fs.ErrNotExist)
	f, err := fsys.Create(path.Join(dir, abortName))
	if err != nil {
		return fmt.Errorf("storage: create abort marker: %w", err)
	}
	f.Close()
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("storage: sync dir %s: %w", dir, err)
	}
	s.log, err = commitlog.Open(commitlog.Options{
		FS: fsys, Dir: path.Join(dir, clDir), SegmentSize: s.cfg.SegmentSize,
		MaxEntrySize: s.cfg.MaxEntrySize, ZeroAhead: s.cfg.ZeroAhead,
		MappedWrites: s.cfg.FlushDiskType == AsyncFlush, MappedMinUnflushed: s.cfg.MappedMinUnflushed,
		ResidentSegments: max(s.cfg.ResidentSegments, 0),
		Logger:           s.cfg.Logger, Now: s.cfg.Now,
	})
	if err != nil {
		return err
	}
	s.index, err = index.Open(index.Config{FS: fsys, Dir: path.Join(dir, indexDir), Slots: s.cfg.IndexSlots, Entries: s.cfg.IndexEntries})
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := s.recover(ctx, clean); err != nil {
		return err
	}
	if v1 {
		return s.upgradeFormat()
	}
	return nil
}

// upgradeFormat rewrites a version 1 FORMAT as version 2, once recovery
// has succeeded and before anything can append a topic-deletion record,
// which a version 1 binary would dispatch as an entry of queue -1. Version
// 2 changes no bytes already stored: a version 1 directory is a version 2
// directory whose CommitLog holds no deletion records, so its topics
// deleted before the upgrade stay protected only as version 1 protected
// them (their queues removed, the checkpoint written), not against a
// lost checkpoint or a rebuilt queue of a topic created again (package
// doc, Topic deletion).
func (s *Store) upgradeFormat() error {
	if err := writeFileAtomic(s.cfg.FS, s.cfg.Dir, formatName, []byte(formatText)); err != nil {
		return err
	}
	s.cfg.Logger.Info("storage: upgraded the data directory format", "dir", s.cfg.Dir,
		"from", strings.TrimSpace(formatTextV1), "to", strings.TrimSpace(formatText))
	return nil
}

// checkFormat refuses a directory written by another format version and
// marks a new one; v1 reports a version 1 directory, which Open upgrades.
func checkFormat(fsys vfs.FS, dir string) (v1 bool, err error) {
	p := path.Join(dir, formatName)
	b, err := readFile(fsys, p)
	if errors.Is(err, fs.ErrNotExist) {
		names, lerr := fsys.List(dir)
		if lerr != nil {
			return false, fmt.Errorf("storage: list %s: %w", dir, lerr)
		}
		for _, n := range names {
			if n != lockName {
				return false, fmt.Errorf("storage: %s holds %q but no %s file: not a twinmq data directory: %w", dir, n, formatName, ErrFormat)
			}
		}
		return false, writeFileAtomic(fsys, dir, formatName, []byte(formatText))
	}
	if err != nil {
		return false, fmt.Errorf("storage: read %s: %w", p, err)
	}
	switch string(b) {
	case formatText:
		return false, nil
	case formatTextV1:
		return true, nil
	}
	return false, fmt.Errorf("storage: %s says %q; this twinmq reads %q (and upgrades %q): %w",
		p, strings.TrimSpace(string(b)), strings.TrimSpace(formatText), strings.TrimSpace(formatTextV1), ErrFormat)
}

// topicDir names a topic's ConsumeQueue directory. Topic names may hold
// characters a path cannot ('/' is refused by both protocols, but "." and
// ".." are names), so they are escaped.
func topicDir(topic string) string {
	var b strings.Builder
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if c == '/' || c == '%' || c == 0 || (c == '.' && (topic == "." || topic == "..")) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func topicFromDir(name string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '%' {
			b.WriteByte(name[i])
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		var c byte
		if _, err := fmt.Sscanf(name[i+1:i+3], "%02X", &c); err != nil {
			return "", false
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), true
}

func (s *Store) queueDir(k queueKey) string {
	return path.Join(s.cfg.Dir, cqDir, topicDir(k.topic), fmt.Sprint(k.queue))
}

// queue returns the ConsumeQueue of (topic, queue), or nil.
func (s *Store) queue(topic string, queue int32) *consumequeue.Queue {
	s.queuesMu.RLock()
	defer s.queuesMu.RUnlock()
	return s.queues[queueKey{topic, queue}]
}

// openQueue opens or creates a queue; dispatcher only.
func (s *Store) openQueue(k queueKey) (*consumequeue.Queue, error) {
	if q := s.queue(k.topic, k.queue); q != nil {
		return q, nil
	}
	q, err := consumequeue.Open(s.cfg.FS, s.queueDir(k), s.cfg.ConsumeQueueUnits)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s.queuesMu.Lock()
	s.queues[k] = q
	s.queuesMu.Unlock()
	return q, nil
}

// Close flushes everything, writes a final checkpoint, removes the abort
// marker and releases the directory.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.done)
		s.wg.Wait()
		s.dispatchMu.Lock() // a DispatchNow under way finishes first
		defer s.dispatchMu.Unlock()
		err := s.finalCheckpoint()
		s.closeParts()
		if err == nil {
			err = s.cfg.FS.Remove(path.Join(s.cfg.Dir, abortName))
			if err == nil {
				err = s.cfg.FS.SyncDir(s.cfg.Dir)
			}
		}
		if s.lock != nil {
			s.lock.Close()
		}
		s.closeErr = err
	})
	return s.closeErr
}

func (s *Store) finalCheckpoint() error {
	if err := s.log.Err(); err != nil {
		return fmt.Errorf("storage: not closed cleanly: %w", err)
	}
	if _, err := s.log.Flush(); err != nil {
		return fmt.Errorf("storage: final flush: %w", err)
	}
	if err := s.dispatchTo(s.log.WrittenOffset()); err != nil {
		return err
	}
	return s.checkpoint()
}

func (s *Store) closeParts() {
	s.queuesMu.Lock()
	for _, q := range s.queues {
		q.Close()
	}
	s.queues = map[queueKey]*consumequeue.Queue{}
	s.queuesMu.Unlock()
	if s.index != nil {
		s.index.Close()
	}
	if s.log != nil {
		s.log.Close()
	}
}
