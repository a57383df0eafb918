package vfs

import "fmt"

// Op names a MemFS operation for error injection.
type Op int

// The operations InjectError can fail.
const (
	OpWrite    Op = iota // File.WriteAt
	OpSync               // File.Sync
	OpSyncDir            // FS.SyncDir
	OpCreate             // FS.Create
	OpRename             // FS.Rename; the name passed is newname
	OpRemove             // FS.Remove and FS.RemoveAll
	OpTruncate           // File.Truncate
	OpOpen               // FS.Open and FS.OpenReadWrite
	OpRead               // File.ReadAt
	OpMkdir              // FS.MkdirAll
	OpLock               // FS.Lock
)

var opNames = [...]string{
	OpWrite: "write", OpSync: "sync", OpSyncDir: "syncdir", OpCreate: "create",
	OpRename: "rename", OpRemove: "remove", OpTruncate: "truncate", OpOpen: "open",
	OpRead: "read", OpMkdir: "mkdir", OpLock: "lock",
}

func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}
