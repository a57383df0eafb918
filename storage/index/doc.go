// Package index is twinmq's IndexFile: a hash index from a message key or
// unique id ("topic#key", one namespace as RocketMQ's IndexService) to the
// CommitLog physical offsets of the entries carrying it, with their store
// time, for RocketMQ QUERY_MESSAGE (code 12) and the console's message
// search. It keeps RocketMQ's shape (…/store/index/IndexFile.java: header,
// hash slots holding the newest entry number, entries chained newest to
// oldest) in a format of our own.
//
// It is derived data. The store's dispatcher calls Put for each key of each
// appended CommitLog entry in CommitLog order; after a crash the store calls
// Truncate at its recovery point and re-dispatches from there.
//
// # Files
//
// The directory holds one file per IndexFile, named by 20 decimal digits:
// the beginPhyOffset of the file, or, when that would not be larger than
// the previous file's name (a file holding only keys of one CommitLog
// entry, possible only with tiny test sizes), the previous name plus one.
// Names only order the files; the header is authoritative. Other names in
// the directory are ignored. A file is created when the first key goes
// into it and a new one when the active (newest) file is full.
//
// # Layout, format version 1 (all integers big-endian)
//
//	header, 64 bytes
//	+--------+------+----------------------------------------------------+
//	| offset | size | field                                              |
//	+--------+------+----------------------------------------------------+
//	|      0 |    4 | magic "TWIX"                                       |
//	|      4 |    2 | format version = 1                                 |
//	|      6 |    2 | reserved, 0                                        |
//	|      8 |    8 | baseTimestamp: store time (ms) of entry 1          |
//	|     16 |    8 | beginTimestamp: smallest entry time (ms, quantized)|
//	|     24 |    8 | endTimestamp: largest entry time (ms, quantized)   |
//	|     32 |    8 | beginPhyOffset: phyOffset of entry 1               |
//	|     40 |    8 | endPhyOffset: phyOffset of the last entry          |
//	|     48 |    4 | slotCount S                                        |
//	|     52 |    4 | entryCapacity E (entries the file can hold)        |
//	|     56 |    4 | entryCount N (entries 1..N are in use)             |
//	|     60 |    4 | CRC-32C (Castagnoli) of bytes [0,60)               |
//	+--------+------+----------------------------------------------------+
//	slot table, S x 4 bytes at offset 64
//	  slot i: uint32 number of the newest entry whose keyHash % S == i,
//	          0 = empty
//	entries, 20 bytes each, entry k (1-based) at 64 + 4*S + 20*(k-1)
//	  +0  keyHash   uint32  FNV-1a 32 of the key's bytes
//	  +4  phyOffset int64   CommitLog offset of the entry holding the key
//	  +12 timeDiff  int32   floor((storeTime - baseTimestamp) / 1000 ms)
//	  +16 prevEntry uint32  previous entry of the same slot, 0 = none;
//	                        always < k, so every chain ends
//
// A file on disk is exactly 64 + 4*S + 20*N bytes; entries are never
// preallocated. Entry times are kept in seconds (as RocketMQ's timeDiff), so
// an entry's time is known as the second [t, t+999] with
// t = baseTimestamp + 1000*timeDiff; Query matches an entry when that second
// overlaps the asked range (no false negatives; the caller checks the
// message). beginTimestamp and endTimestamp are such quantized t values.
//
// # Durability
//
// The active file (and a full one not yet flushed) lives in memory as one
// []byte of the whole file, allocated when the file is started. Flush writes
// the dirty 4 KiB pages past the header, fsyncs, then writes the header and
// fsyncs again, so a durable header never counts an entry that is not
// durable (the header lies in the first 512-byte sector, written whole).
// A new file is created, written, synced, and then its directory is synced.
// Sealed files are read through read-only File.Map views.
//
// Open validates every header (magic, version, CRC, geometry); a bad one
// is an error wrapping ErrCorrupt that names the file and the offset. The
// newest file is loaded into memory and its entries 1..N are checked
// (prevEntry < k, phyOffset non-negative and non-decreasing); everything
// from the first bad entry on is dropped and the slot chains are rebuilt,
// so a file torn by a crash during Flush opens. A newest file shorter than
// a header or with an all-zero header was never flushed and is removed,
// and so is one without a single valid entry.
package index
