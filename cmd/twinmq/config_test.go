package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "twinmq.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addServeFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestLoadConfigPrecedence(t *testing.T) {
	// Each source sets dataDir, so the winner shows which source ranks
	// highest; the other keys show that lower sources still apply.
	file := writeYAML(t, "dataDir: /from/file\nflushDiskType: SYNC_FLUSH\nsegmentSize: 65536\nkafkaAddr: ':19092'\n")
	env := []string{
		"TWINMQ_DATA_DIR=/from/env",
		"TWINMQ_FLUSH_INTERVAL_MS=250",
		"TWINMQ_SEGMENT_SIZE=131072",
		"PATH=/bin",
	}
	tests := []struct {
		name    string
		file    string
		env     []string
		args    []string
		want    func(*Config)
		wantErr string
	}{
		{name: "defaults", want: func(*Config) {}},
		{
			name: "file over defaults",
			file: file,
			want: func(c *Config) {
				c.DataDir = "/from/file"
				c.FlushDiskType = "SYNC_FLUSH"
				c.SegmentSize = 65536
				c.KafkaAddr = ":19092"
			},
		},
		{
			name: "env over file",
			file: file,
			env:  env,
			want: func(c *Config) {
				c.DataDir = "/from/env"
				c.FlushDiskType = "SYNC_FLUSH"
				c.FlushIntervalMs = 250
				c.SegmentSize = 131072
				c.KafkaAddr = ":19092"
			},
		},
		{
			name: "flags over env",
			file: file,
			env:  env,
			args: []string{"--data-dir", "/from/flag", "--flush-disk-type", "async_flush", "--retention-bytes", "4096"},
			want: func(c *Config) {
				c.DataDir = "/from/flag"
				c.FlushDiskType = "ASYNC_FLUSH"
				c.FlushIntervalMs = 250
				c.SegmentSize = 131072
				c.KafkaAddr = ":19092"
				c.RetentionBytes = 4096
			},
		},
		{
			name: "unset flag keeps env and file",
			file: file,
			env:  env,
			args: []string{"--http-addr", ":0"},
			want: func(c *Config) {
				c.DataDir = "/from/env"
				c.FlushDiskType = "SYNC_FLUSH"
				c.FlushIntervalMs = 250
				c.SegmentSize = 131072
				c.KafkaAddr = ":19092"
				c.HTTPAddr = ":0"
			},
		},
		{
			name: "limits",
			env:  []string{"TWINMQ_MAX_CONNECTIONS_PER_IP=50", "TWINMQ_DISK_RESERVE_BYTES=-1"},
			args: []string{"--queued-max-request-bytes", "1048576", "--max-connections", "1000", "--request-read-timeout-ms", "0"},
			want: func(c *Config) {
				c.QueuedMaxRequestBytes, c.MaxConnections, c.MaxConnectionsPerIP = 1<<20, 1000, 50
				c.RequestReadTimeoutMs, c.DiskReserveBytes = 0, -1
			},
		},
		{name: "negative budget", args: []string{"--queued-max-decompress-bytes", "-5"}, wantErr: "queuedMaxDecompressBytes -5"},
		{name: "negative connections", env: []string{"TWINMQ_MAX_CONNECTIONS=-1"}, wantErr: "maxConnections -1"},
		{name: "unknown file key", file: writeYAML(t, "flushDisktype: SYNC_FLUSH\n"), wantErr: `unknown key "flushDisktype"`},
		{name: "unknown env var", env: []string{"TWINMQ_FLUSH_DISKTYPE=SYNC_FLUSH"}, wantErr: "unknown variable TWINMQ_FLUSH_DISKTYPE"},
		{name: "missing file", file: "/nonexistent/twinmq.yaml", wantErr: "/nonexistent/twinmq.yaml"},
		{name: "bad number in env", env: []string{"TWINMQ_SEGMENT_SIZE=big"}, wantErr: "segmentSize"},
		{name: "bad flush type", args: []string{"--flush-disk-type", "SOMETIMES"}, wantErr: "flushDiskType"},
		{name: "small segment", args: []string{"--segment-size", "100"}, wantErr: "segmentSize 100"},
		{name: "zero retention", args: []string{"--retention-hours", "0"}, wantErr: "retentionHours is 0"},
		{name: "bad address", args: []string{"--kafka-addr", "9092"}, wantErr: "kafkaAddr"},
		{name: "bad log level", env: []string{"TWINMQ_LOG_LEVEL=loud"}, wantErr: "logLevel"},
		{name: "bad namesrvAddr", env: []string{"TWINMQ_NAMESRV_ADDR=a:1;b"}, wantErr: `namesrvAddr "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(tt.file, serveFlags(t, tt.args...), tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := defaultConfig()
			tt.want(&want)
			if got != want {
				t.Errorf("config\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// The sample file documents the defaults; keep them equal.
func TestExampleYAMLIsDefaults(t *testing.T) {
	got, err := loadConfig("twinmq.example.yaml", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := defaultConfig(); got != want {
		t.Errorf("twinmq.example.yaml\n got %+v\nwant %+v", got, want)
	}
}

func TestEnvNames(t *testing.T) {
	// The README documents this mapping: TWINMQ_ + the key in upper snake case.
	for env, key := range map[string]string{
		"data_dir":          "dataDir",
		"flush_disk_type":   "flushDiskType",
		"flush_interval_ms": "flushIntervalMs",
		"namesrv_addr":      "namesrvAddr",
		"http_addr":         "httpAddr",
		"advertised_host":   "advertisedHost",
	} {
		if got := camelKey(env, '_'); got != key {
			t.Errorf("camelKey(%q) = %q, want %q", env, got, key)
		}
	}
}

func TestStorageConfig(t *testing.T) {
	c := defaultConfig()
	c.DataDir = "/var/lib/twinmq"
	c.FlushDiskType = "SYNC_FLUSH"
	c.FlushIntervalMs = 250
	sc := c.storageConfig(nil)
	if sc.Dir != filepath.FromSlash("/var/lib/twinmq/store") || sc.FlushDiskType != "SYNC_FLUSH" ||
		sc.FlushInterval.Milliseconds() != 250 || sc.SegmentSize != 1<<30 ||
		sc.RetentionHours != 72 || sc.RetentionBytes != -1 {
		t.Errorf("storageConfig = %+v", sc)
	}
}
