package wire

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

var errNumber = errors.New("not a number")

// ParseInt64 reads an integer as OCaml's Int64.of_string does, which is what xapi
// uses for ints sent as strings: an optional sign, an optional 0x/0o/0b/0u prefix, and
// digits with underscores allowed after the first. Decimal values must fit in 64 bits;
// prefixed ones may use all 64 bits and wrap, as in OCaml.
func ParseInt64(s string) (int64, error) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	if len(s) >= 2 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		case 'u', 'U':
			base = -10 // unsigned decimal
		}
		if base != 10 {
			s = s[2:]
		}
	}
	if s == "" || s[0] == '_' {
		return 0, errNumber
	}
	s = strings.ReplaceAll(s, "_", "")
	if base == 10 {
		if neg {
			s = "-" + s
		}
		return strconv.ParseInt(s, 10, 64)
	}
	if base == -10 {
		base = 10
	}
	u, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		return 0, err
	}
	if neg {
		return -int64(u), nil
	}
	return int64(u), nil
}

// parseOCamlFloat reads a float as OCaml's float_of_string does (underscores allowed,
// nan and inf spelled in lower case).
func parseOCamlFloat(s string) (float64, error) {
	switch s {
	case "nan", "-nan", "+nan":
		return math.NaN(), nil
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	}
	if s == "" || strings.ContainsAny(s, " \t\n") || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
		return 0, errNumber
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, err
	}
	return f, nil
}

// FormatOCamlFloat prints a float as OCaml's string_of_float does, which is how xapi
// quotes floats in error parameters: "%.12g", with a trailing "." when that leaves an
// integer ("20.", "0.", "-1.") so it still reads as a float.
func FormatOCamlFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', 12, 64)
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case strings.ContainsAny(s, ".e"):
		return s
	}
	return s + "."
}
