package format

import (
	"testing"

	// for -update, which every report package's tests accept (go test ./reports/... -update)
	_ "github.com/evalrun/evalrun/reports/internal/reporttest"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		us   int64
		want string
	}{
		{0, "0µs"}, {850, "850µs"}, {999, "999µs"}, {1000, "1ms"}, {3200, "3.2ms"}, {3250, "3.25ms"},
		{12345, "12.3ms"}, {125000, "125ms"}, {999700, "1s"}, {1250000, "1.25s"}, {100000000, "100s"},
		{1234000000, "1234s"},
	} {
		if got := Micros(tc.us); got != tc.want {
			t.Errorf("Micros(%d) = %q, want %q", tc.us, got, tc.want)
		}
	}
	if got := Count(1234567); got != "1,234,567" {
		t.Errorf("Count = %q", got)
	}
	if got := Count(-1234); got != "-1,234" {
		t.Errorf("Count = %q", got)
	}
	if got := Bytes(25690112); got != "24.5 MiB" {
		t.Errorf("Bytes = %q", got)
	}
	if got := Bytes(512); got != "512 B" {
		t.Errorf("Bytes = %q", got)
	}
}
