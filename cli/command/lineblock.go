package command

import (
	"fmt"
	"io"
	"strings"

	"github.com/moby/term"
)

// LineBlock draws docker's progress block: one line per ID, in the order
// the IDs first appear, redrawn in place on a terminal; off a terminal
// only the block's final lines are printed, when it ends (Flush). Service
// convergence and CA rotation progress are drawn with it.
type LineBlock struct {
	Out   io.Writer
	TTY   bool
	Width int // the terminal's columns; 200 off a terminal
	// Redraw is the escape sequence that rewrites the line up lines above
	// the cursor, as a format of (up, line, up).
	Redraw string
	// EndCR ends a drawn block with a carriage return.
	EndCR bool

	ids   []string
	lines map[string]string
}

// NewLineBlock returns a block drawing on out, redrawn in place when out
// is a terminal.
func NewLineBlock(out io.Writer, redraw string, endCR bool) *LineBlock {
	b := &LineBlock{Out: out, Width: 200, Redraw: redraw, EndCR: endCR, lines: map[string]string{}}
	if fd, isTerm := term.GetFdInfo(out); isTerm {
		b.TTY = true
		if ws, err := term.GetWinsize(fd); err == nil {
			b.Width = int(ws.Width)
		}
	}
	return b
}

// Set shows line as id's line: a new id opens a line below the others.
func (b *LineBlock) Set(id, line string) {
	if b.lines == nil {
		b.lines = map[string]string{}
	}
	i := -1
	for j, have := range b.ids {
		if have == id {
			i = j
			break
		}
	}
	if i < 0 {
		b.ids = append(b.ids, id)
		i = len(b.ids) - 1
		if b.TTY {
			fmt.Fprint(b.Out, "\n")
		}
	}
	b.lines[id] = line
	if b.TTY {
		up := len(b.ids) - i
		fmt.Fprintf(b.Out, b.Redraw, up, line, up)
	}
}

// Line is id's line as last set.
func (b *LineBlock) Line(id string) string { return b.lines[id] }

// Message ends the block and prints text on a line of its own.
func (b *LineBlock) Message(text string) {
	b.Flush()
	fmt.Fprintln(b.Out, text)
}

// Flush ends the block: off a terminal, its final lines are printed.
func (b *LineBlock) Flush() {
	if !b.TTY {
		for _, id := range b.ids {
			fmt.Fprintln(b.Out, strings.TrimRight(b.lines[id], " "))
		}
	} else if b.EndCR && len(b.ids) > 0 {
		fmt.Fprint(b.Out, "\r")
	}
	b.ids, b.lines = nil, map[string]string{}
}

// ProgressBar is docker's 50-column bar for current of total
// ("[=====>     ] "); callers show it only on lines wider than 110.
func ProgressBar(current, total int64) string {
	pct := min(max(int(float64(current)/float64(total)*100)/2, 0), 50)
	return "[" + strings.Repeat("=", pct) + ">" + strings.Repeat(" ", 50-pct) + "] "
}
