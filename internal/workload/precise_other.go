//go:build !linux

package workload

import "time"

// preciseThread does nothing where the timer slack cannot be set.
func preciseThread() {}

// threadSleep sleeps with the Go scheduler's timers (see the Linux version).
func threadSleep(d time.Duration) { time.Sleep(d) }
