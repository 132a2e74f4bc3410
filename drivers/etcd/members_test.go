package etcd

import "testing"

func TestLeaderByVote(t *testing.T) {
	a := func(index int, id, follows uint64) leaderAnswer {
		return leaderAnswer{memberRef: memberRef{index: index, name: "node" + string(rune('0'+index)), id: id}, follows: follows}
	}
	for _, tt := range []struct {
		name    string
		answers []leaderAnswer
		want    int
		why     string
	}{
		{"nobody answers", nil, 0, "no running member answers"},
		{"all follow node2", []leaderAnswer{a(1, 11, 12), a(2, 12, 12), a(3, 13, 12)}, 2, ""},
		{"the majority wins", []leaderAnswer{a(1, 11, 11), a(2, 12, 13), a(3, 13, 13)}, 3, ""},
		{"a tie goes to the lowest ID", []leaderAnswer{a(1, 11, 11), a(2, 12, 12)}, 1, ""},
		{"nobody follows anyone", []leaderAnswer{a(1, 11, 0), a(2, 12, 0)}, 0, "no running member is leader"},
		{"the named leader did not answer", []leaderAnswer{a(1, 11, 13), a(2, 12, 13)}, 0, "no running member is leader"},
		{"the named leader follows another", []leaderAnswer{a(1, 11, 12), a(2, 12, 11), a(3, 13, 12)}, 0, "node2 is named leader but does not lead"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, why := leaderByVote(tt.answers)
			if got != tt.want || why != tt.why {
				t.Errorf("leaderByVote = %d, %q; want %d, %q", got, why, tt.want, tt.why)
			}
		})
	}
}
