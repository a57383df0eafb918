package kafkaapi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The BROKER_LOGGER resource (KIP-412): Kafka lists its log4j loggers with
// their levels and lets IncrementalAlterConfigs change them at run time.
// twinmq has one slog logger for the whole process, so it lists one
// logger, "root", at the level Config.Logger logs at. With
// Config.LogLevel (the LevelVar behind that logger) SET changes it and
// DELETE restores the level the broker started with; without it the
// logger is read-only and changes get INVALID_REQUEST.

const rootLogger = "root"

// brokerLoggers describes the loggers: root, at the logger's level.
func (h *Handler) brokerLoggers() []describedConfig {
	d := describedConfig{name: rootLogger, value: logLevelName(h.log), typ: kmsg.ConfigTypeString}
	d.isDefault = h.cfg.LogLevel == nil || h.cfg.LogLevel.Level() == h.cfg.startLevel
	return []describedConfig{d}
}

// loggerSource is a logger's source: as set at startup (the default of a
// logger) or changed since (DYNAMIC_BROKER_LOGGER_CONFIG).
func (d describedConfig) loggerSource() kmsg.ConfigSource {
	if d.isDefault {
		return kmsg.ConfigSourceStaticBrokerConfig
	}
	return kmsg.ConfigSourceDynamicBrokerLoggerConfig
}

// logLevelName is log4j's name for the lowest level l logs at.
func logLevelName(l *slog.Logger) string {
	ctx := context.Background()
	switch {
	case l.Enabled(ctx, slog.LevelDebug-4):
		return "TRACE"
	case l.Enabled(ctx, slog.LevelDebug):
		return "DEBUG"
	case l.Enabled(ctx, slog.LevelInfo):
		return "INFO"
	case l.Enabled(ctx, slog.LevelWarn):
		return "WARN"
	case l.Enabled(ctx, slog.LevelError):
		return "ERROR"
	}
	return "OFF"
}

// log4jLevels are the levels a logger can be set to, as log4j names them
// (Kafka refuses other names with INVALID_CONFIG). FATAL logs as ERROR:
// slog has nothing above it but OFF.
var log4jLevels = map[string]slog.Level{
	"TRACE": slog.LevelDebug - 4, "DEBUG": slog.LevelDebug, "INFO": slog.LevelInfo,
	"WARN": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError,
	"OFF": slog.LevelError + 100,
}

// checkLoggerName answers a BROKER_LOGGER resource not named by this
// broker's id, as Kafka's ConfigHelper does.
func (h *Handler) checkLoggerName(name string) (int16, *string) {
	if name != strconv.Itoa(int(h.cfg.NodeID)) {
		return errInvalidRequest, strp(fmt.Sprintf("unexpected broker id, expected %d but received %q", h.cfg.NodeID, name))
	}
	return errNone, nil
}

// alterBrokerLoggers applies IncrementalAlterConfigs operations to the
// loggers: all are checked before any applies, so a refused request
// changes nothing.
func (h *Handler) alterBrokerLoggers(name string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig,
	validateOnly bool) (int16, *string) {
	if code, msg := h.checkLoggerName(name); code != errNone {
		return code, msg
	}
	if h.cfg.LogLevel == nil {
		return errInvalidRequest, strp("the broker's log level cannot change at run time")
	}
	level := h.cfg.LogLevel.Level()
	for _, op := range ops {
		if op.Name != rootLogger {
			return errInvalidConfig, strp(fmt.Sprintf("logger %s does not exist: twinmq has one logger, %s", op.Name, rootLogger))
		}
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			l, ok := log4jLevels[derefString(op.Value)]
			if !ok {
				return errInvalidConfig, strp(fmt.Sprintf("cannot set the log level of %s to %q: not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF", op.Name, derefString(op.Value)))
			}
			level = l
		case kmsg.IncrementalAlterConfigOpDelete:
			level = h.cfg.startLevel
		default:
			return errInvalidConfig, strp(fmt.Sprintf("operation %v is not allowed on a logger", op.Op))
		}
	}
	if !validateOnly {
		h.cfg.LogLevel.Set(level)
		h.log.Info("kafkaapi: log level changed", "level", level)
	}
	return errNone, nil
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
