package driverkit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

type testNode struct{ Node }

// tableOf is a Base with nodes 1..n up and no Docker behind it: enough for
// the table and the partition plan.
func tableOf(t *testing.T, n int) *Base[*testNode] {
	t.Helper()
	b := &Base[*testNode]{Driver: "test"}
	ns, err := b.Reserve(make([]int, n), func(int) *testNode { return &testNode{} })
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ns {
		b.Attach(x, nil)
	}
	return b
}

func TestPartitionPlan(t *testing.T) {
	b := tableOf(t, 6)
	names := func(groups [][]*testNode) string {
		var gs []string
		for _, g := range groups {
			var is []string
			for _, n := range g {
				is = append(is, strconv.Itoa(n.Index))
			}
			gs = append(gs, strings.Join(is, ","))
		}
		return strings.Join(gs, " | ")
	}
	for _, tt := range []struct {
		groups [][]int
		want   string
	}{
		// Nodes in no group join the first group; the largest stays on the run network.
		{[][]int{{1}, {2, 3}}, "1,4,5,6 | 2,3"},
		{[][]int{{2, 3}, {1}}, "2,3,4,5,6 | 1"},
		{[][]int{{1}, {2, 3, 4, 5, 6}}, "2,3,4,5,6 | 1"},
		{[][]int{{1, 2, 3}, {4, 5, 6}}, "1,2,3 | 4,5,6"},
		{[][]int{{1}, {2}, {3, 4, 5}, {6}}, "3,4,5 | 1 | 2 | 6"},
	} {
		p, err := b.PartitionPlan(tt.groups)
		if err != nil {
			t.Errorf("%v: %v", tt.groups, err)
			continue
		}
		if got := names(p); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.groups, got, tt.want)
		}
	}
	for _, bad := range [][][]int{{{1}, {1, 2}}, {{1}, {9}}, {}} {
		if _, err := b.PartitionPlan(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	n2, _ := b.Node(2)
	b.SetState(n2, StateRemoved)
	if _, err := b.PartitionPlan([][]int{{1}, {2}}); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Errorf("partition with a removed node: %v", err)
	}
}

func TestTable(t *testing.T) {
	b := tableOf(t, 3)
	// indexes are never reused; gaps below an index are removed placeholders
	ns, err := b.Reserve([]int{0, 7}, func(int) *testNode { return &testNode{} })
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].Index != 4 || ns[1].Index != 7 || ns[1].Name != "node7" || len(b.All()) != 7 {
		t.Fatalf("reserved %d and %d (%s), table of %d", ns[0].Index, ns[1].Index, ns[1].Name, len(b.All()))
	}
	if _, err := b.Node(5); err == nil || !strings.Contains(err.Error(), "node 5 was removed") {
		t.Errorf("a gap: %v", err)
	}
	if _, err := b.Reserve([]int{2}, func(int) *testNode { return &testNode{} }); err == nil {
		t.Error("an index in use was reserved again")
	}
	b.Attach(ns[1], nil)
	n1, _ := b.Node(1)
	b.SetState(n1, StateDown)
	n3, _ := b.Node(3)
	b.SetState(n3, StatePaused)
	var live, members []int
	for _, n := range b.Live() {
		live = append(live, n.Index)
	}
	for _, n := range b.Members() {
		members = append(members, n.Index)
	}
	if toString(live) != "2 7" || toString(members) != "1 2 3 7" {
		t.Errorf("live %v, members %v", live, members)
	}
	if _, err := b.Node(0); err == nil {
		t.Error("node 0 accepted")
	}
	// a node that is down cannot be paused, whatever the database
	if err := b.PauseNode(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "pause node1: the node is not running") {
		t.Errorf("pause a down node: %v", err)
	}
	if err := b.KillNode(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "kill node1: the node is not running") {
		t.Errorf("kill a down node: %v", err)
	}
	b.closed = true
	if _, err := b.Node(2); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: %v", err)
	}
	// Close ends the operation in progress
	b.closed = false
	ctx, release, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	shut := make(chan error)
	go func() {
		rel, err := b.slot.Shut(context.Background()) // waits for release below
		if err == nil {
			rel()
		}
		shut <- err
	}()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Error("the operation in progress was not cancelled by Close")
	}
	release()
	if err := <-shut; err != nil {
		t.Errorf("Shut: %v", err)
	}
	if _, _, err := b.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("acquire after Close began: %v", err)
	}
}

func toString(is []int) string {
	var s []string
	for _, i := range is {
		s = append(s, strconv.Itoa(i))
	}
	return strings.Join(s, " ")
}
