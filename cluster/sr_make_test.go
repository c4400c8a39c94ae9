package cluster_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/xapi"
)

func TestSRMake(t *testing.T) {
	p, master, _, down := downHost(t)
	bad := "OpaqueRef:nope"
	secrets := func() []string { return p.where("secret", "true") }
	before, srs := secrets(), p.where("SR", "true")
	config := map[string]any{"server": "10.0.0.5", "cifspassword": "s3cret", "password": "x"}
	args := func(host string) []any {
		return []any{host, config, int64(0), "made", "", "nfs", "", map[string]any{}}
	}
	p.expectErrors([]errorCase{
		{"bad host", "SR.make", args(bad), []string{"HANDLE_INVALID", "host", bad}},
	})
	assert.Equal(t, before, secrets(), "a bad host moves no password")
	p.expectErrors([]errorCase{
		{"host down", "SR.make", args(down), []string{"HOST_OFFLINE", down}},
		{"deprecated", "SR.make", args(master), []string{"MESSAGE_DEPRECATED"}},
	})
	// Each call moved both passwords into secrets that stay.
	var values []string
	for _, ref := range secrets() {
		if !slices.Contains(before, ref) {
			values = append(values, xapi.Str(p.get("secret", ref), "value"))
		}
	}
	assert.ElementsMatch(t, []string{"s3cret", "x", "s3cret", "x"}, values)
	assert.Equal(t, srs, p.where("SR", "true"), "no SR is made")
}
