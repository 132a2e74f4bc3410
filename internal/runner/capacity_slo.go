package runner

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evalrun/evalrun/reports/model"
)

// Defaults of an SLO's optional parts.
const (
	DefaultSLOErrors   = 0.01 // 1% of the operations failed or missed
	DefaultSLOAchieved = 0.95 // the achieved throughput, of the offered rate
)

// sloKeys are the parts an SLO may name, in the order they are written.
var sloKeys = []string{"p99", "errors", "achieved"}

// ParseSLO reads "p99=20ms[,errors=1%][,achieved=95%]": the
// corrected-latency p99 a stage may reach (required), the share of its
// operations that may fail or be missed (default 1%), and the share of
// the offered rate it must achieve (default 95%). An error is one line
// naming the part at fault.
func ParseSLO(text string) (model.SLO, error) {
	slo := model.SLO{ErrorShare: DefaultSLOErrors, MinAchieved: DefaultSLOAchieved}
	seen := map[string]bool{}
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		key, val, ok := strings.Cut(part, "=")
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return model.SLO{}, fmt.Errorf("--slo %q: %q is not key=value (e.g. p99=20ms,errors=1%%)", text, part)
		}
		if seen[key] {
			return model.SLO{}, fmt.Errorf("--slo %q: %s given twice", text, key)
		}
		seen[key] = true
		var err error
		switch key {
		case "p99":
			slo.P99Us, err = parseSLOLatency(val)
		case "errors":
			slo.ErrorShare, err = parseSLOShare(val, true)
		case "achieved":
			slo.MinAchieved, err = parseSLOShare(val, false)
		default:
			return model.SLO{}, fmt.Errorf("--slo %q: unknown key %q (known: %s)", text, key, strings.Join(sloKeys, ", "))
		}
		if err != nil {
			return model.SLO{}, fmt.Errorf("--slo %q: %s=%s: %w", text, key, val, err)
		}
	}
	if !seen["p99"] {
		return model.SLO{}, fmt.Errorf("--slo %q: p99 is required (e.g. p99=20ms)", text)
	}
	slo.Text = sloText(slo)
	return slo, nil
}

func parseSLOLatency(val string) (int64, error) {
	d, err := time.ParseDuration(val)
	switch {
	case err != nil:
		return 0, fmt.Errorf("want a duration with its unit, e.g. 20ms or 500us")
	case d < time.Microsecond || d > time.Hour:
		return 0, fmt.Errorf("want a latency between 1us and 1h")
	}
	return d.Microseconds(), nil
}

// parseSLOShare reads a percentage ("1%", "0.5%") as a fraction; zero is
// allowed for errors (none may fail), not for the achieved share.
func parseSLOShare(val string, zeroOK bool) (float64, error) {
	num, ok := strings.CutSuffix(val, "%")
	if !ok {
		return 0, fmt.Errorf("want a percentage with its %% sign, e.g. 1%%")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 || (f == 0 && !zeroOK) {
		return 0, fmt.Errorf("want a percentage in (0, 100], e.g. 1%%")
	}
	return f / 100, nil
}

// sloText writes an SLO in the syntax ParseSLO reads, every part given.
func sloText(s model.SLO) string {
	return fmt.Sprintf("p99=%v,errors=%s%%,achieved=%s%%", time.Duration(s.P99Us)*time.Microsecond,
		strconv.FormatFloat(s.ErrorShare*100, 'g', 4, 64), strconv.FormatFloat(s.MinAchieved*100, 'g', 4, 64))
}
