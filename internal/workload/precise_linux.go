package workload

import (
	"syscall"
	"time"
)

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

// preciseThread readies the calling OS thread (locked to the dispatcher)
// for short sleeps: the kernel's default timer slack of 50 µs would add
// that much to every wake-up.
func preciseThread() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1000, 0) // 1 µs; best effort
}

// threadSleep sleeps the calling OS thread for d with the kernel's
// high-resolution timers (nanosleep), not the Go scheduler's timers, which
// wake up to a millisecond late when the process idles. The dispatcher's
// thread is locked, so nothing else waits on it.
func threadSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil) // an interrupted sleep ends early: the caller checks the clock
}
