package nameserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/twinmq/twinmq/internal/atomicfile"
)

// The KV config on disk is Java's kvConfig.json (KVConfigManager.persist,
// KVConfigSerializeWrapper): one JSON object,
//
//	{"configTable":{"<namespace>":{"<key>":"<value>",...},...}}
//
// rewritten whole after every put and delete that changes it, as Java
// does: the table is small (mqadmin's order configs, a few settings) and
// bounded by maxKVConfigBytes. A write goes to kvConfig.json.tmp, is
// fsynced, renamed over kvConfig.json, and the directory is fsynced, so a
// crash leaves the old file or the new one, never a torn one.
type kvConfigFile struct {
	ConfigTable map[string]map[string]string `json:"configTable"`
}

// KVConfigFile is the file name under the name server's directory, Java's.
const KVConfigFile = "kvConfig.json"

// ErrKVConfigFile marks a kvConfig.json that cannot be read back.
var ErrKVConfigFile = errors.New("nameserver: bad kvConfig.json")

// LoadKVConfig makes s keep its KV config (codes 100, 101, 102, 219) in
// dir/kvConfig.json: it reads the file if there is one, and every change
// from then on is written there before it is answered. Call it before s
// serves. A file that does not parse, or that exceeds the bounds a
// running name server keeps, is an error rather than an empty table: an
// operator's order configs must not vanish silently.
func (s *Server) LoadKVConfig(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nameserver: kv config dir: %w", err)
	}
	path := filepath.Join(dir, KVConfigFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("nameserver: kv config: %w", err)
	}
	s.kv.mu.Lock()
	defer s.kv.mu.Unlock()
	s.kv.path = path
	if b == nil {
		return nil
	}
	if len(b) > 4*maxKVConfigBytes {
		return fmt.Errorf("%w: %s: %d bytes", ErrKVConfigFile, path, len(b))
	}
	var f kvConfigFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrKVConfigFile, path, err)
	}
	entries, size := 0, 0
	for ns, m := range f.ConfigTable {
		if len(m) == 0 {
			delete(f.ConfigTable, ns)
			continue
		}
		for k, v := range m {
			entries++
			size += len(ns) + len(k) + len(v)
		}
	}
	if entries > maxKVConfigEntries || size > maxKVConfigBytes {
		return fmt.Errorf("%w: %s: %d entries, %d bytes exceed the bounds", ErrKVConfigFile, path, entries, size)
	}
	s.kv.table, s.kv.entries, s.kv.bytes = f.ConfigTable, entries, size
	s.log.Info("KV config loaded", "path", path, "entries", entries)
	return nil
}

// persistLocked writes the table to kv.path (nothing without one).
func (kv *kvConfig) persistLocked() error {
	if kv.path == "" {
		return nil
	}
	table := kv.table
	if table == nil {
		table = map[string]map[string]string{}
	}
	b, err := json.MarshalIndent(kvConfigFile{ConfigTable: table}, "", "\t")
	if err != nil {
		return fmt.Errorf("nameserver: kv config: %w", err)
	}
	if err := atomicfile.Write(kv.path, b); err != nil {
		return fmt.Errorf("nameserver: kv config: %w", err)
	}
	return nil
}
