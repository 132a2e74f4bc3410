package workload

import (
	"syscall"
	"time"
)

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

// preciseThread readies the calling OS thread for short sleeps: the
// kernel's default timer slack of 50 µs would add up to that much to
// every wake-up. Go's threads are shared, so the others it runs sleep
// with 1 µs slack too (their wake-ups only get more punctual).
func preciseThread() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1000, 0) // 1 µs; best effort
}

// threadSleep sleeps the calling OS thread for d with the kernel's
// high-resolution timers (nanosleep), not the Go scheduler's timers, which
// wake up to a millisecond late when the process idles. The thread blocks
// in the call; the Go scheduler hands its P to other goroutines meanwhile.
func threadSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil) // an interrupted sleep ends early: the caller checks the clock
}
