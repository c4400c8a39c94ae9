package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

// pool is an in-process server with the default inventory and a root session.
type pool struct {
	t       *testing.T
	srv     *xapi.Server
	sim     *cluster.Sim
	session string
}

func newPool(t *testing.T, spec cluster.Spec, options ...func(*xapi.Config)) *pool {
	srv := xapitest.NewServer(t, options...)
	sim := cluster.New(srv, spec)
	require.NoError(t, sim.BuildInventory())
	return &pool{t: t, srv: srv, sim: sim, session: xapitest.Login(t, srv)}
}

// call returns the result of a call (JSON-decoded) and its error as [code, params…].
func (p *pool) call(method string, args ...any) (any, []string) {
	return xapitest.JSON(xapitest.Call(p.srv, method, append([]any{p.session}, args...)...))
}

// ok calls and fails the test on an error.
func (p *pool) ok(method string, args ...any) any {
	p.t.Helper()
	v, err := p.call(method, args...)
	require.Nil(p.t, err, "%s: %v", method, err)
	return v
}

// where returns the refs of a class matching a where-expression.
func (p *pool) where(class, expr string) []string {
	p.t.Helper()
	var out []string
	for _, r := range p.ok(class+".get_all_where", expr).([]any) {
		out = append(out, r.(string))
	}
	return out
}

func (p *pool) first(class, expr string) string {
	p.t.Helper()
	refs := p.where(class, expr)
	require.NotEmpty(p.t, refs, "%s where %s", class, expr)
	return refs[0]
}

func (p *pool) get(class, ref string) *store.Object {
	o := p.srv.Store.Get(class, ref)
	require.NotNil(p.t, o, "%s %s", class, ref)
	return o
}

// errorCase is one call that must fail with xapi's error.
type errorCase struct {
	name   string
	method string
	args   []any
	want   []string
}

func (p *pool) expectErrors(cases []errorCase) {
	p.t.Helper()
	for _, tc := range cases {
		_, err := p.call(tc.method, tc.args...)
		assert.Equal(p.t, tc.want, err, tc.name)
	}
}

// record builds a constructor record from pairs.
func record(pairs ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i+1 < len(pairs); i += 2 {
		out[pairs[i].(string)] = pairs[i+1]
	}
	return out
}
