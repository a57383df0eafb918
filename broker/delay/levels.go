package delay

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultLevels is RocketMQ's messageDelayLevel (MessageStoreConfig): levels
// 1..18.
const DefaultLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// maxLevels bounds a configured level list; each level is a ConsumeQueue of
// ScheduleTopic.
const maxLevels = 64

// Levels is a parsed messageDelayLevel: Levels[i] is the delay of level i+1.
type Levels []time.Duration

// ParseLevels parses a messageDelayLevel string the way
// ScheduleMessageService.parseDelayLevel does: space-separated numbers with
// a unit s, m, h or d. The empty string gives DefaultLevels.
func ParseLevels(s string) (Levels, error) {
	if strings.TrimSpace(s) == "" {
		s = DefaultLevels
	}
	fields := strings.Fields(s)
	if len(fields) > maxLevels {
		return nil, fmt.Errorf("%w: %d levels, at most %d", ErrLevels, len(fields), maxLevels)
	}
	out := make(Levels, 0, len(fields))
	for _, f := range fields {
		d, err := parseLevel(f)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func parseLevel(f string) (time.Duration, error) {
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}
	unit, ok := units[f[len(f)-1]]
	if !ok || len(f) < 2 {
		return 0, fmt.Errorf("%w: %q has no unit s, m, h or d", ErrLevels, f)
	}
	n, err := strconv.ParseInt(f[:len(f)-1], 10, 32)
	if err != nil || n <= 0 || time.Duration(n) > (1<<62)/unit {
		return 0, fmt.Errorf("%w: %q is not a positive delay", ErrLevels, f)
	}
	return time.Duration(n) * unit, nil
}

// MustDefault returns the parsed DefaultLevels.
func MustDefault() Levels {
	l, _ := ParseLevels(DefaultLevels) // constant input: cannot fail
	return l
}

// Max is the highest level.
func (l Levels) Max() int { return len(l) }

// Clamp applies RocketMQ's rule to a DELAY property value: a level above the
// maximum is the maximum (ScheduleMessageService.getMaxDelayLevel), and
// level <= 0 means no delay (ok false).
func (l Levels) Clamp(level int) (int, bool) {
	if level <= 0 || len(l) == 0 {
		return 0, false
	}
	return min(level, len(l)), true
}

// Delay returns the delay of a level in 1..Max.
func (l Levels) Delay(level int) (time.Duration, bool) {
	if level < 1 || level > len(l) {
		return 0, false
	}
	return l[level-1], true
}

// QueueID is the ScheduleTopic queue holding a level: level-1
// (ScheduleMessageService.delayLevel2QueueId).
func QueueID(level int) int32 { return int32(level - 1) }

// String formats the levels back into messageDelayLevel syntax.
func (l Levels) String() string {
	parts := make([]string, len(l))
	for i, d := range l {
		switch {
		case d%(24*time.Hour) == 0:
			parts[i] = strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
		case d%time.Hour == 0:
			parts[i] = strconv.FormatInt(int64(d/time.Hour), 10) + "h"
		case d%time.Minute == 0:
			parts[i] = strconv.FormatInt(int64(d/time.Minute), 10) + "m"
		default:
			parts[i] = strconv.FormatInt(int64(d/time.Second), 10) + "s"
		}
	}
	return strings.Join(parts, " ")
}
