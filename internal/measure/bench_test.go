package measure

import (
	"testing"
	"time"
)

// BenchmarkRecord: the cost of recording one operation (goal < 100 ns).
func BenchmarkRecord(b *testing.B) {
	rec, err := NewRecorder(Config{Ops: []string{"read", "write"}, Start: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := time.Duration(i) * 10 * time.Microsecond
		rec.Record(0, Outcome{Op: i & 1, Intended: at, Start: at, End: at + time.Duration(100+i%10000)*time.Microsecond})
	}
}

// BenchmarkRecordParallel: the same from every core at once.
func BenchmarkRecordParallel(b *testing.B) {
	rec, err := NewRecorder(Config{Ops: []string{"read", "write"}, Start: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		hint := int(time.Now().UnixNano())
		for pb.Next() {
			at := time.Duration(i) * 10 * time.Microsecond
			rec.Record(hint, Outcome{Op: i & 1, Intended: at, Start: at, End: at + time.Duration(100+i%10000)*time.Microsecond})
			i++
		}
	})
}

// BenchmarkRecordPerNode: the same with per-node statistics (5 nodes):
// what a drivers.ServingClient costs per operation.
func BenchmarkRecordPerNode(b *testing.B) {
	rec, err := NewRecorder(Config{Ops: []string{"read", "write"}, Start: time.Now(), PerNode: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := time.Duration(i) * 10 * time.Microsecond
		rec.Record(0, Outcome{Op: i & 1, Intended: at, Start: at, End: at + time.Duration(100+i%10000)*time.Microsecond, Node: 1 + i%5})
	}
}
