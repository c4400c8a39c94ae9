package cluster

import (
	"fmt"
	"io"

	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// CoverageLine says what one explicit message does in the emulator.
type CoverageLine struct {
	Message   string
	Simulated bool
	// Answer is what a message without behaviour replies, never a silent success.
	Answer string
}

// Coverage lists the explicit (hand-written in xapi) messages of the classes, with
// whether the simulation gives them behaviour.
func Coverage(srv *xapi.Server, classes ...string) []CoverageLine {
	var out []CoverageLine
	for _, name := range classes {
		c := srv.Schema.Class(name)
		if c == nil {
			continue
		}
		for _, m := range c.Messages {
			if m.Implicit {
				continue
			}
			line := CoverageLine{Message: m.WireName, Simulated: srv.Simulated(m.WireName)}
			switch {
			case m.Lifecycle == datamodel.Removed:
				line.Simulated, line.Answer = false, "MESSAGE_REMOVED []"
			case !line.Simulated:
				line.Answer = fmt.Sprintf("NOT_IMPLEMENTED [%s]", m.WireName)
			}
			out = append(out, line)
		}
	}
	return out
}

// WriteCoverage prints a coverage report: one line per message and the counts per class.
func WriteCoverage(w io.Writer, lines []CoverageLine) {
	type count struct{ simulated, total int }
	counts := map[string]*count{}
	var order []string
	for _, l := range lines {
		class := l.Message[:len(l.Message)-len(messageName(l.Message))-1]
		if counts[class] == nil {
			counts[class] = &count{}
			order = append(order, class)
		}
		counts[class].total++
		if l.Simulated {
			counts[class].simulated++
			fmt.Fprintf(w, "simulated  %s\n", l.Message)
		} else {
			fmt.Fprintf(w, "not yet    %s -> %s\n", l.Message, l.Answer)
		}
	}
	fmt.Fprintln(w)
	total, simulated := 0, 0
	for _, class := range order {
		c := counts[class]
		fmt.Fprintf(w, "%-14s %3d of %3d explicit messages simulated\n", class, c.simulated, c.total)
		total += c.total
		simulated += c.simulated
	}
	fmt.Fprintf(w, "%-14s %3d of %3d\n", "total", simulated, total)
}

func messageName(wire string) string {
	for i := len(wire) - 1; i >= 0; i-- {
		if wire[i] == '.' {
			return wire[i+1:]
		}
	}
	return wire
}
