// Command phasecpu prints one phase's harness CPU per operation from an
// evalrun report, for scripts/cpu-bench.sh:
//
//	phasecpu -phase measure report.json  ->  "<us/op> <user us/op> <sys us/op> <ops> <lag p50 us> <lag p99 us>"
//	phasecpu -image report.json          ->  the image the run used
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/evalrun/evalrun/reports"
)

func main() {
	phase := flag.String("phase", "measure", "phase to read")
	image := flag.Bool("image", false, "print the run's image instead")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: phasecpu [-phase NAME | -image] report.json")
		os.Exit(2)
	}
	r, err := reports.ReadJSON(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "phasecpu:", err)
		os.Exit(1)
	}
	if *image {
		fmt.Println(r.Driver.Image)
		return
	}
	for _, p := range r.Phases {
		if p.Name != *phase {
			continue
		}
		c := p.HarnessCPU
		sent := p.Total.Count - p.Total.Missed
		if c == nil || sent == 0 {
			fmt.Fprintf(os.Stderr, "phasecpu: phase %s has no CPU or no operations\n", *phase)
			os.Exit(1)
		}
		lagP50, lagP99 := int64(-1), int64(-1) // -1: the report has no start lag
		if p.StartLag != nil {
			lagP50, lagP99 = p.StartLag.P50Us, p.StartLag.P99Us
		}
		fmt.Printf("%.1f %.1f %.1f %d %d %d\n", c.PerOpUs, float64(c.UserUs)/float64(sent), float64(c.SysUs)/float64(sent), sent, lagP50, lagP99)
		return
	}
	fmt.Fprintf(os.Stderr, "phasecpu: %s has no phase %s\n", flag.Arg(0), *phase)
	os.Exit(1)
}
