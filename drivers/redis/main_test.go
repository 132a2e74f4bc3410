package redis

import (
	"context"
	"os"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	// go-redis reports every failed dial (a killed node) through its
	// process-wide logger: keep the test output readable.
	goredis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}
