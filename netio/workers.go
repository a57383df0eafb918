package netio

import "runtime"

// Concurrent frames that the loop does not answer inline, and Serial
// connections' turns (serveSerial), run on worker goroutines. A worker
// that finished its job waits for the next one instead of exiting, up to
// maxIdleWorkers of them, so a steady stream of such frames (RocketMQ
// pulls that read records, SYNC_FLUSH sends, Kafka requests) costs a
// hand-off to a parked goroutine rather than a new goroutine whose stack
// grows again for every frame (storage.Store.Read keeps 6 KiB on it: a new
// goroutine copied its stack three times per pull). Idle workers hold no
// timer; they exit when the engine has stopped.

// job is one frame for a worker, or a Serial connection's turn to have
// its queued frames served (serveSerial).
type job struct {
	c      *Conn
	frame  []byte
	serial bool
}

// maxIdleWorkers bounds the workers waiting for a frame.
func maxIdleWorkers() int64 { return int64(4 * runtime.GOMAXPROCS(0)) }

// spawn runs frame on an idle worker, or on a new one if none is waiting.
func (s *Server) spawn(c *Conn, frame []byte) { s.hand(job{c: c, frame: frame}) }

// spawnSerial runs serveSerial(c) on an idle worker, or on a new one. A
// Kafka producer with one request in flight starts serveSerial for every
// request; a parked worker spares it a new goroutine, whose stack the
// produce path grew again each time, and the exit after it.
func (s *Server) spawnSerial(c *Conn) { s.hand(job{c: c, serial: true}) }

func (s *Server) hand(j job) {
	select {
	case s.jobs <- j:
	default:
		go s.work(j)
	}
}

// work runs j, then further jobs handed while it is idle, until there
// are enough idle workers or the engine stopped.
func (s *Server) work(j job) {
	for {
		if j.serial {
			s.serveSerial(j.c)
		} else {
			s.serve(j.c, j.frame)
		}
		if s.idleWorkers.Add(1) > s.maxIdle {
			s.idleWorkers.Add(-1)
			return
		}
		select {
		case j = <-s.jobs:
			s.idleWorkers.Add(-1)
		case <-s.runDone:
			s.idleWorkers.Add(-1)
			return
		}
	}
}
