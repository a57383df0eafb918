package netio

import "runtime"

// Concurrent frames that the loop does not answer inline run on worker
// goroutines. A worker that finished its frame waits for the next one
// instead of exiting, up to maxIdleWorkers of them, so a steady stream of
// such frames (RocketMQ pulls that read records, SYNC_FLUSH sends) costs a
// hand-off to a parked goroutine rather than a new goroutine whose stack
// grows again for every frame (storage.Store.Read keeps 6 KiB on it: a new
// goroutine copied its stack three times per pull). Idle workers hold no
// timer; they exit when the engine has stopped.

// job is one frame for a worker.
type job struct {
	c     *Conn
	frame []byte
}

// maxIdleWorkers bounds the workers waiting for a frame.
func maxIdleWorkers() int64 { return int64(4 * runtime.GOMAXPROCS(0)) }

// spawn runs frame on an idle worker, or on a new one if none is waiting.
func (s *Server) spawn(c *Conn, frame []byte) {
	select {
	case s.jobs <- job{c, frame}:
	default:
		go s.work(c, frame)
	}
}

// work serves frame, then further frames handed by spawn while it is
// idle, until there are enough idle workers or the engine stopped.
func (s *Server) work(c *Conn, frame []byte) {
	for {
		s.serve(c, frame)
		if s.idleWorkers.Add(1) > s.maxIdle {
			s.idleWorkers.Add(-1)
			return
		}
		select {
		case j := <-s.jobs:
			s.idleWorkers.Add(-1)
			c, frame = j.c, j.frame
		case <-s.runDone:
			s.idleWorkers.Add(-1)
			return
		}
	}
}
