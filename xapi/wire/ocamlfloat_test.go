package wire

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFormatOCamlFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0.5, "0.5"},
		{0, "0."},
		{20, "20."},
		{-1, "-1."},
		{0.64, "0.64"},
		{1e-05, "1e-05"},
		{1e20, "1e+20"},
		{123456789012345, "1.23456789012e+14"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	} {
		assert.Equal(t, tc.want, FormatOCamlFloat(tc.in), "%v", tc.in)
	}
}
