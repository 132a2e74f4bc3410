package mariadb

import (
	"fmt"
	"sync"

	"github.com/evalrun/evalrun/drivers"
)

// replicationWatch turns what the gauge polls see in SHOW SLAVE STATUS
// into notices: a replica whose SQL thread stopped on an error is reported
// once per distinct error, in the server's words (drivers.NoticeReporter).
// A stopped IO thread is not a notice: it is what every replica shows
// while its primary is down, and the lag gauge says it.
type replicationWatch struct {
	mu      sync.Mutex
	last    map[int]string // per node, the error already noticed
	pending []drivers.Notice
}

// observe records st, the slave status of node index called name.
func (w *replicationWatch) observe(index int, name string, st slaveStatus) {
	text := sqlThreadError(st)
	w.mu.Lock()
	defer w.mu.Unlock()
	if text == "" {
		delete(w.last, index)
		return
	}
	if w.last[index] == text {
		return
	}
	if w.last == nil {
		w.last = map[int]string{}
	}
	w.last[index] = text
	w.pending = append(w.pending, drivers.Notice{Node: index, What: "replication stopped", Text: name + ": " + text})
}

// take returns the notices since the last take.
func (w *replicationWatch) take() []drivers.Notice {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.pending
	w.pending = nil
	return out
}

// sqlThreadError is the SQL thread's error in st, "" when it has none.
func sqlThreadError(st slaveStatus) string {
	errno := st["Last_SQL_Errno"]
	if errno == "" || errno == "0" { // also when st is nil: no replication
		return ""
	}
	return fmt.Sprintf("Slave_SQL_Running %s, Last_SQL_Errno %s: %s", st["Slave_SQL_Running"], errno, st["Last_SQL_Error"])
}

// TakeNotices implements drivers.NoticeReporter.
func (c *cluster) TakeNotices() []drivers.Notice { return c.watch.take() }
