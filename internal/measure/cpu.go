package measure

import (
	"syscall"
	"time"
)

// CPUTime is CPU time a process used, split as the kernel accounts it.
type CPUTime struct {
	User, Sys time.Duration
}

// Sub returns c - d.
func (c CPUTime) Sub(d CPUTime) CPUTime { return CPUTime{User: c.User - d.User, Sys: c.Sys - d.Sys} }

// ProcessCPU returns the CPU time this process (every goroutine and
// thread: load generator, driver clients, recorder) has used so far.
func ProcessCPU() CPUTime {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return CPUTime{}
	}
	return CPUTime{User: time.Duration(ru.Utime.Nano()), Sys: time.Duration(ru.Stime.Nano())}
}

// ProcessMaxRSS returns the most resident memory this process has held so
// far, in bytes (0 where the kernel does not say).
func ProcessMaxRSS() uint64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil || ru.Maxrss < 0 {
		return 0
	}
	return uint64(ru.Maxrss) * 1024 // Linux: kilobytes
}
