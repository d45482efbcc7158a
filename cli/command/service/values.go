package service

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
	swarmtypes "github.com/moby/moby/api/types/swarm"
)

// The flag values of service create and update. Each names its type in
// help as docker's does ("list", "uint", "port"…); a value is parsed when
// the flag is, so a bad one fails as a flag error in docker's words.

// listValue is a repeatable flag ("list"), each value checked (and
// possibly rewritten) by validate.
type listValue struct {
	values   []string
	validate func(string) (string, error)
}

func (l *listValue) String() string { return "" }

// Type names the value in help.
func (l *listValue) Type() string { return "list" }

// Set adds a value.
func (l *listValue) Set(s string) error {
	if l.validate != nil {
		v, err := l.validate(s)
		if err != nil {
			return err
		}
		s = v
	}
	l.values = append(l.values, s)
	return nil
}

// uintValue is an optional count ("uint"): nil until set.
type uintValue struct{ v *uint64 }

func (u *uintValue) String() string {
	if u.v == nil {
		return ""
	}
	return strconv.FormatUint(*u.v, 10)
}

// Type names the value in help.
func (u *uintValue) Type() string { return "uint" }

// Set parses a count (decimal, 0x… or 0…).
func (u *uintValue) Set(s string) error {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return err
	}
	u.v = &v
	return nil
}

// floatValue is a failure ratio ("float").
type floatValue float32

func (f *floatValue) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 32) }

// Type names the value in help.
func (f *floatValue) Type() string { return "float" }

// Set parses a float.
func (f *floatValue) Set(s string) error {
	v, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return err
	}
	*f = floatValue(v)
	return nil
}

// durationValue is an optional duration ("duration"): nil until set;
// positive refuses negative ones.
type durationValue struct {
	v        *time.Duration
	positive bool
}

func (d *durationValue) String() string {
	if d.v == nil {
		return ""
	}
	return d.v.String()
}

// Type names the value in help.
func (d *durationValue) Type() string { return "duration" }

// Set parses a Go duration ("10s").
func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d.positive && v < 0 {
		return fmt.Errorf("duration cannot be negative")
	}
	d.v = &v
	return nil
}

// cpuValue is a CPU count ("decimal", "1.5") kept in nano-CPUs.
type cpuValue int64

func (c *cpuValue) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}

// Type names the value in help.
func (c *cpuValue) Type() string { return "decimal" }

// Set parses a decimal number of CPUs.
func (c *cpuValue) Set(s string) error {
	n, err := parseCPUs(s)
	if err != nil {
		return err
	}
	*c = cpuValue(n)
	return nil
}

// parseCPUs turns "1.5" into 1500000000 nano-CPUs.
func parseCPUs(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("failed to parse %v as a rational number", s)
	}
	n := r.Mul(r, big.NewRat(1e9, 1))
	if !n.IsInt() {
		return 0, fmt.Errorf("value is too precise")
	}
	return n.Num().Int64(), nil
}

// bytesValue is a memory size ("bytes", "512m").
type bytesValue int64

func (b *bytesValue) String() string {
	if *b == 0 {
		return "0"
	}
	return units.BytesSize(float64(*b))
}

// Type names the value in help.
func (b *bytesValue) Type() string { return "bytes" }

// Set parses a size with docker's units (b, k, m, g…; binary).
func (b *bytesValue) Set(s string) error {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return err
	}
	*b = bytesValue(n)
	return nil
}

// commandValue is a command line split as a shell would ("command").
type commandValue struct {
	v   []string
	set bool
}

func (c *commandValue) String() string {
	if len(c.v) == 0 {
		return ""
	}
	return fmt.Sprint(c.v)
}

// Type names the value in help.
func (c *commandValue) Type() string { return "command" }

// Set splits s into words.
func (c *commandValue) Set(s string) error {
	words, err := shellSplit(s)
	if err != nil {
		return err
	}
	c.v, c.set = words, true
	return nil
}

// shellSplit splits s into words as a POSIX shell does: blanks separate
// words, single quotes keep everything, double quotes keep all but \" \\
// \$ \`, and a backslash outside quotes escapes the next character.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 >= len(s) {
				return nil, fmt.Errorf("EOF found after escape character")
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
			}
		case c == '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("EOF found when expecting closing quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			i++
			for ; ; i++ {
				if i >= len(s) {
					return nil, fmt.Errorf("EOF found when expecting closing quote")
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] == '\n' {
						continue
					}
				}
				cur.WriteByte(s[i])
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// itemsValue is a repeatable flag each value of which parse turns into
// one or more items: ports, mounts, networks, placement preferences,
// secrets and configs. typ names it in help ("port", "mount"…).
type itemsValue[T any] struct {
	typ   string
	parse func(string) ([]T, error)
	items []T
}

func (v *itemsValue[T]) String() string { return "" }

// Type names the value in help.
func (v *itemsValue[T]) Type() string { return v.typ }

// Set adds the items of one value.
func (v *itemsValue[T]) Set(s string) error {
	items, err := v.parse(s)
	if err != nil {
		return err
	}
	v.items = append(v.items, items...)
	return nil
}

// one makes a parser of one item a parser of items.
func one[T any](parse func(string) (T, error)) func(string) ([]T, error) {
	return func(s string) ([]T, error) {
		it, err := parse(s)
		if err != nil {
			return nil, err
		}
		return []T{it}, nil
	}
}

// portsValue is a -p/--publish list, short or long syntax.
func portsValue() itemsValue[swarmtypes.PortConfig] {
	return itemsValue[swarmtypes.PortConfig]{typ: "port", parse: parsePublish}
}

// mountsValue is a --mount list.
func mountsValue() itemsValue[mount.Mount] {
	return itemsValue[mount.Mount]{typ: "mount", parse: one(parseMount)}
}

// networksValue is a --network list.
func networksValue() itemsValue[swarmtypes.NetworkAttachmentConfig] {
	return itemsValue[swarmtypes.NetworkAttachmentConfig]{typ: "network", parse: one(parseNetwork)}
}

// prefsValue is a --placement-pref list ("spread=node.labels.zone").
func prefsValue() itemsValue[swarmtypes.PlacementPreference] {
	return itemsValue[swarmtypes.PlacementPreference]{typ: "pref", parse: one(parsePref)}
}
