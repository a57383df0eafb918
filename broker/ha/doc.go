// Package ha is master/slave replication of a broker group (RocketMQ's
// classic HA, docs/design.md section 6): a slave connects to its master's
// HA port (haAddr, 10912), and the master streams its CommitLog to it
// byte for byte; the slave appends the bytes at exactly the offsets sent
// (storage.Store.AppendReplica verifies every entry, CRC included, before
// writing it) and builds its ConsumeQueues and index by its own dispatch.
// Everything durable about the broker (topics, consumer offsets, group
// metadata, producer state, delay progress) is kept in internal topics of
// that same CommitLog, so it reaches the slave with the data.
//
// On a SYNC_MASTER an append is acknowledged once every in-sync slave
// holds it (Master.WaitReplicated, through broker/log's Replicator), and
// readers see only what the in-sync slaves hold: the master raises the
// store's visibility gate (storage.Store.SetReplicated) as reports come
// in. A slave is in sync while it is connected and less than MaxGap
// (256 MiB) behind; an ASYNC_MASTER streams the same way and acknowledges
// at once.
//
// # Wire protocol, version 1
//
// One TCP connection per slave, opened by the slave. All integers are
// big-endian. The stream after the handshake is RocketMQ's classic HA
// stream (reports of 8 bytes up, frames with a 12-byte header down);
// twinmq adds the handshake in front so that a master refuses a peer that
// is not a slave of its group, and tells the slave where the stream
// starts.
//
// Hello, slave to master, first on the connection:
//
//	+--------+---------+-------+----------+-----------+---------------+
//	| magic  | version | flags | brokerId | minOffset | writtenOffset |
//	| u32    | u16 = 1 | u16=0 | i64      | i64       | i64           |
//	+--------+---------+-------+----------+-----------+---------------+
//	 0        4         6       8          16          24            32
//	then clusterLen u16, cluster, brokerNameLen u16, brokerName (each
//	at most 255 bytes), and, when flags bit 0 is set, the slave's epoch
//	list. Flags bit 1 asks for confirmed offsets in the frames (below).
//	magic = 0x54514841 ("TQHA"); other flag bits are refused, so a
//	twinmq slave that asks for confirmed offsets needs a master that
//	knows them (upgrade masters first).
//
//	epoch list: count u16 (<= 1024), then count x (epoch i32, start i64),
//	sorted by both
//
// Reply, master to slave:
//
//	+--------+---------+--------+-------------+-----------+--------+------------+
//	| magic  | version | status | startOffset | reasonLen | reason | epoch list |
//	| u32    | u16 = 1 | u16    | i64         | u16       | <=1KiB | (above)    |
//	+--------+---------+--------+-------------+-----------+--------+------------+
//	 0        4         6        8             16          18
//	status 0: accepted, the stream starts at startOffset; 1: refused
//	(wrong cluster or group, a brokerId that is not a slave's, a log that
//	is not a prefix of the master's), and the master closes; 2: truncate
//	the log to startOffset and connect again. The epoch list is the
//	master's (empty in classic mode), which the slave keeps as its own.
//
// Then the master sends frames and the slave sends reports, until either
// closes:
//
//	frame:  phyOffset i64 | bodySize i32 | [confirmOffset i64] |
//	        bodySize bytes of CommitLog (bodySize <= 256 KiB; 0 is a
//	        heartbeat, sent after 5 s idle, and on a stream with confirmed
//	        offsets whenever the confirmed offset moved)
//	report: maxPhyOffset i64, the slave's written end, after every append
//	        and every 5 s
//
// confirmOffset, present when the hello asked for it, is the master's
// high watermark when it sent the frame: what every in-sync replica holds
// (a SYNC_MASTER's replicated mark; an ASYNC_MASTER's written end). The
// slave keeps its store's visibility gate on and raises it to that
// offset, so its readers (RocketMQ pulls from the slave, Kafka follower
// fetches) never see a record a failover could take back. RocketMQ 5's
// AutoSwitchHAService carries its confirmOffset in the same place.
//
// The body is raw CommitLog bytes from phyOffset, not cut at entry
// boundaries; the slave holds back an incomplete entry until the next
// frame completes it. A frame that does not start where the previous one
// ended, a body over 256 KiB, a report past the master's end, bytes that
// fail verification, or 20 s of silence (haHousekeepingInterval) end the
// connection; the slave reconnects and resumes at its written end. A
// slave's bytes never change the master's data: the master only reads its
// log for a slave and only counts its reports.
//
// # Epochs (controller mode)
//
// After a failover the old master may hold a tail that the new master
// never got. Each broker keeps an epoch list (epoch.go; RocketMQ's
// EpochFileCache): <masterEpoch, startOffset> for each master that wrote
// its log, a new entry appended by a broker that becomes master. The slave
// sends its list in the hello; the master finds the last epoch both lists
// hold with the same start, and the two logs agree up to where the shorter
// leaves that epoch (CommonEnd). A slave past that point is told to
// truncate there (StatusTruncate, storage.Store.Truncate) and reconnects.
//
// Where the stream starts: an empty slave gets all of the master's
// retained log (from its oldest segment; RocketMQ starts at the last
// segment, which leaves a slave that cannot stand in for the master); a
// slave with data continues at its written end. A slave whose end is past
// the master's, or before the master's oldest byte, is refused: its log
// is not a prefix of the master's, which classic mode cannot repair.
package ha
