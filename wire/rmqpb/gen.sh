#!/bin/sh
# Regenerates the Go code of RocketMQ 5's gRPC protocol (apache.rocketmq.v2)
# from the apache/rocketmq-apis repository.
#
# Usage: wire/rmqpb/gen.sh /path/to/rocketmq-apis   (a clone or a bare git dir)
#
# Needs: protoc (Debian: apt-get install protobuf-compiler; 3.21.12 used),
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
#
# Why the package is renamed: RocketMQ's own Go client
# (github.com/apache/rocketmq-clients/golang/v5, which the compat tests
# run in the broker's process) registers apache/rocketmq/v2/*.proto and
# the apache.rocketmq.v2.* names in protobuf's global registry, and a
# second registration of the same names panics at init. So the files are
# generated as twinmq/rmqpb/*.proto in proto package twinmq.rmqpb.v2: the
# messages encode to the same bytes (the protobuf encoding carries field
# numbers, never names), and the gRPC method paths are set back to
# /apache.rocketmq.v2.MessagingService/... below, which is all a client
# sees of the names.
set -eu
APIS=${1:?usage: gen.sh /path/to/rocketmq-apis}
COMMIT=3e60073c6dab3430feaec443824802e23ecda681 # rocketmq-apis main, 2026
OUT=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/twinmq/rmqpb"
for f in definition service; do
	git -C "$APIS" show "$COMMIT:apache/rocketmq/v2/$f.proto" |
		sed -e 's/^package apache\.rocketmq\.v2;/package twinmq.rmqpb.v2;/' \
			-e 's#import "apache/rocketmq/v2/#import "twinmq/rmqpb/#' \
			>"$TMP/twinmq/rmqpb/$f.proto"
done
M="Mtwinmq/rmqpb/definition.proto=github.com/twinmq/twinmq/wire/rmqpb,Mtwinmq/rmqpb/service.proto=github.com/twinmq/twinmq/wire/rmqpb"
protoc -I "$TMP" --go_out="$TMP" --go_opt=paths=source_relative,"$M" \
	--go-grpc_out="$TMP" --go-grpc_opt=paths=source_relative,"$M" \
	twinmq/rmqpb/definition.proto twinmq/rmqpb/service.proto
cp "$TMP/twinmq/rmqpb/definition.pb.go" "$TMP/twinmq/rmqpb/service.pb.go" "$OUT/"
sed -e 's/"twinmq\.rmqpb\.v2\.MessagingService/"apache.rocketmq.v2.MessagingService/' \
	-e 's#"/twinmq\.rmqpb\.v2\.MessagingService/#"/apache.rocketmq.v2.MessagingService/#' \
	"$TMP/twinmq/rmqpb/service_grpc.pb.go" >"$OUT/service_grpc.pb.go"
gofmt -l "$OUT"
