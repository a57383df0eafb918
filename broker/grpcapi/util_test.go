package grpcapi

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func durationpbTimestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
