package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twinmq/twinmq/storage"
)

// errNotImplemented is returned by the commands whose servers do not exist yet.
var errNotImplemented = errors.New("not implemented yet")

// run is `twinmq serve`: it opens the store, runs until ctx is done, then
// closes the store.
func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	store, err := storage.Open(ctx, cfg.storageConfig(logger))
	if err != nil {
		return fmt.Errorf("serve: open store %s: %w", cfg.storeDir(), err)
	}
	logger.Info("store open",
		"dir", cfg.storeDir(),
		"flushDiskType", cfg.FlushDiskType,
		"flushIntervalMs", cfg.FlushIntervalMs,
		"segmentSize", cfg.SegmentSize)
	// The protocol servers are later work; say so rather than pretend.
	logger.Warn("listeners not yet enabled; no client can connect",
		"kafka", cfg.KafkaAddr,
		"remoting", cfg.RemotingAddr,
		"namesrv", cfg.NamesrvListen,
		"http", cfg.HTTPAddr,
		"advertisedHost", cfg.AdvertisedHost)

	<-ctx.Done()
	logger.Info("stopping", "cause", context.Cause(ctx))
	if err := store.Close(); err != nil {
		return fmt.Errorf("serve: close store %s: %w", cfg.storeDir(), err)
	}
	logger.Info("stopped")
	return nil
}

// runNamesrv is `twinmq namesrv`.
func runNamesrv(_ context.Context, cfg Config, logger *slog.Logger) error {
	logger.Info("twinmq namesrv",
		"namesrv", cfg.NamesrvListen,
		"http", cfg.HTTPAddr)
	return fmt.Errorf("namesrv: %w", errNotImplemented)
}

// runBroker is `twinmq broker`.
func runBroker(_ context.Context, cfg Config, logger *slog.Logger) error {
	addrs, err := cfg.namesrvAddrs()
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	logger.Info("twinmq broker",
		"store", cfg.storeDir(),
		"flushDiskType", cfg.FlushDiskType,
		"kafka", cfg.KafkaAddr,
		"remoting", cfg.RemotingAddr,
		"ha", cfg.HAAddr,
		"http", cfg.HTTPAddr,
		"advertisedHost", cfg.AdvertisedHost,
		"namesrvAddr", addrs)
	return fmt.Errorf("broker: %w", errNotImplemented)
}
