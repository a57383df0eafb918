package netio

import (
	"fmt"
	"log/slog"
	"sync/atomic"
)

// gnetLogger feeds gnet's logs into the Server's slog.Logger. Fatalf logs
// at error level and does not exit: no log.Fatal in library code.
type gnetLogger struct {
	l *slog.Logger
	// draining: the listener is being shut down, and the acceptor's
	// failed accept and exit that follow are expected (Debug, not Error).
	draining *atomic.Bool
}

func (g gnetLogger) Debugf(format string, args ...any) {
	g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Infof(format string, args ...any) {
	g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Warnf(format string, args ...any) {
	g.l.Warn("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Errorf(format string, args ...any) {
	if g.draining != nil && g.draining.Load() {
		g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
		return
	}
	g.l.Error("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.l.Error("gnet: " + fmt.Sprintf(format, args...))
}
