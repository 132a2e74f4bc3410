package render

import (
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"

	"github.com/evalrun/evalrun/reports/model"
)

// This file draws the gauges a cluster reported (Window.Gauges) over time:
// one plot per unit, so that seconds of lag, 0/1 flags and partition
// counts never share an axis, and a caption that explains the gauges the
// run has, and only those.

// gaugeColors cycle over the gauges of a plot.
var gaugeColors = []color.Color{colP50, colP99, colRate, colMax, colErrors, colEvent}

// gaugeUnit is what a family of gauges measures; gauges of one unit share
// a plot.
type gaugeUnit struct {
	title  string // the plot's title
	ylabel string
	whole  bool // counts or flags: whole-number ticks
	flag   bool // 0 or 1: the axis runs to 1 whatever the values
}

var (
	unitSeconds    = gaugeUnit{title: "Replication lag (seconds)", ylabel: "seconds"}
	unitFlag       = gaugeUnit{title: "Replication running (1 = yes, 0 = no)", ylabel: "1 = yes, 0 = no", whole: true, flag: true}
	unitPartitions = gaugeUnit{title: "Partitions waiting for handoff or moving", ylabel: "partitions", whole: true}
)

// gaugeFamily is a kind of gauge the drivers report, known by its name
// up to the first dot (lag_s.node2 is of the family lag_s).
type gaugeFamily struct {
	unit gaugeUnit
	// about explains the family in the caption.
	about string
}

// gaugeFamilies are the gauges evalrun's drivers report. A gauge of
// another family gets a plot of its own, titled with its name.
var gaugeFamilies = map[string]gaugeFamily{
	"lag_s": {unitSeconds, "lag_s.<node>: the age of the newest heartbeat the replica has applied " +
		"(the primary writes one every 100 ms), i.e. how far its data trails the primary"},
	"seconds_behind_master": {unitSeconds, "seconds_behind_master.<node>: the replica's own estimate " +
		"(SHOW SLAVE STATUS), absent while its replication threads do not run"},
	"replicating": {unitFlag, "replicating.<node>: 1 while both of the replica's replication threads run, 0 when not"},
	"handoff_partitions": {unitPartitions, "handoff_partitions: partitions waiting for handoff or moving " +
		"(riak admin transfers)"},
}

// gaugeFamilyName is the family of a gauge: its name up to the first dot.
func gaugeFamilyName(gauge string) string {
	family, _, _ := strings.Cut(gauge, ".")
	return family
}

// gaugeGroup is the gauges of one plot.
type gaugeGroup struct {
	unit  gaugeUnit
	names []string
}

// gaugeGroups sorts the gauges of ws into plots by unit, in the order of
// the units' first gauge (names sorted); the gauges of an unknown family
// get a plot of their own.
func gaugeGroups(ws []model.Window) []gaugeGroup {
	var groups []gaugeGroup
	at := map[gaugeUnit]int{}
	for _, name := range gaugeNames(ws) {
		family := gaugeFamilyName(name)
		unit := gaugeUnit{title: family, ylabel: "value"}
		if f, ok := gaugeFamilies[family]; ok {
			unit = f.unit
		}
		i, ok := at[unit]
		if !ok {
			i = len(groups)
			at[unit] = i
			groups = append(groups, gaugeGroup{unit: unit})
		}
		groups[i].names = append(groups[i].names, name)
	}
	return groups
}

// gaugeCaption says what the plotted gauges are: the explanation of every
// known family the run has, in name order.
func gaugeCaption(ws []model.Window) string {
	caption := "Values the cluster reported while the load ran, one plot per unit; each holds from its sample to the next."
	var seen []string
	for _, name := range gaugeNames(ws) {
		family := gaugeFamilyName(name)
		if f, ok := gaugeFamilies[family]; ok && !slices.Contains(seen, family) {
			seen = append(seen, family)
			caption += " " + f.about + "."
		}
	}
	return caption
}

// gaugePlots draws one plot per gauge unit (nil when the cluster reported
// no gauges).
func gaugePlots(r *model.Report, shades []shade, lines []vline, endMs int64) ([]*plot.Plot, error) {
	var plots []*plot.Plot
	for _, g := range gaugeGroups(r.Windows) {
		p, err := gaugePlot(r, g, shades, lines, endMs)
		if err != nil {
			return nil, err
		}
		plots = append(plots, p)
	}
	return plots, nil
}

// gaugePlot draws the gauges of g, one line per gauge name. A value holds
// from its sample to the next one (a step line: the cluster is asked every
// few seconds, and nothing is drawn that it did not say); the line ends
// with the last sample.
func gaugePlot(r *model.Report, g gaugeGroup, shades []shade, lines []vline, endMs int64) (*plot.Plot, error) {
	p := newPlot(g.unit.title, float64(endMs)/1000)
	n := windowLen(r.Windows)
	hi := 0.0
	var series []timeXYs
	for k, name := range g.names {
		s := timeXYs{name: name, color: gaugeColors[k%len(gaugeColors)], width: 1.4}
		for _, w := range r.Windows {
			v, ok := w.Gauges[name]
			if !ok {
				continue
			}
			x := float64(w.StartMs+n/2) / 1000
			if len(s.ys) > 0 { // hold the previous value until this sample
				s.xs, s.ys = append(s.xs, x), append(s.ys, s.ys[len(s.ys)-1])
			}
			s.xs, s.ys = append(s.xs, x), append(s.ys, v)
			hi = math.Max(hi, v)
		}
		series = append(series, s)
	}
	if hi <= 0 || g.unit.flag {
		hi = math.Max(hi, 1)
	}
	p.Y.Min, p.Y.Max = 0, hi*1.3
	p.Y.Tick.Marker = linearTicks{}
	if g.unit.whole {
		p.Y.Tick.Marker = countTicks{}
	}
	return finishPlot(p, g.unit.ylabel, series, shades, lines)
}

// gaugeNames lists the gauges of ws, sorted.
func gaugeNames(ws []model.Window) []string {
	seen := map[string]bool{}
	var names []string
	for _, w := range ws {
		for name := range w.Gauges {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}
