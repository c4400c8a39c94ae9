package cluster

import (
	"maps"
	"regexp"
	"slices"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// Observers (xapi_observer.ml): the tracing configuration of xapi, xenopsd, xapi-clusterd
// and SM. The components export nothing in the simulation, so the setters validate as
// xapi does and record the value; the per-host registration has no visible effect.

// observerComponents are the components an observer can trace.
var observerComponents = map[string]bool{"xapi": true, "xenopsd": true, "xapi-clusterd": true, "smapi": true}

// observerAttributeKey is the form xapi's tracing library accepts for an attribute key
// (its W3C baggage check adds nothing to it).
var observerAttributeKey = regexp.MustCompile(`^[a-z0-9][a-z0-9._]{0,253}[a-z0-9]$`)

// validObserverEndpoint is xapi's endpoint check on the coordinator: "bugtool", or an
// http(s) URL naming a host when xapi.conf enables that scheme. observer-endpoint-http-enabled
// and observer-endpoint-https-enabled are off by default, so only bugtool passes.
func validObserverEndpoint(endpoint string) bool { return endpoint == "bugtool" }

func observerComponentsError(value []any) error {
	for _, c := range value {
		if !observerComponents[c.(string)] {
			return apierror.New(apierror.InvalidValue, "component", c.(string))
		}
	}
	return nil
}

func observerEndpointsError(value []any) error {
	for _, e := range value {
		if !validObserverEndpoint(e.(string)) {
			return apierror.New(apierror.InvalidValue, "endpoint", e.(string))
		}
	}
	return nil
}

// observerAttributesError checks attributes in key order (xapi walks its association list).
func observerAttributesError(value map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(value)) {
		v := value[k].(string)
		if len(v) > 4095 || !observerAttributeKey.MatchString(k) {
			return apierror.New(apierror.InvalidValue, "attributes", k+":"+v)
		}
	}
	return nil
}

func (p *Sim) registerObserver() {
	s := p.srv
	// set validates the value, then records it on the observer.
	set := func(field string, check func(r store.Reader, value any) error) {
		s.Handle("Observer.set_"+field, func(c *xapi.Call) (any, error) {
			if err := check(s.Store, c.Arg(1)); err != nil {
				return nil, err
			}
			return nil, s.UpdateField("Observer", c.StringArg(0), field, func(any) (any, error) { return c.Arg(1), nil })
		})
	}
	set("hosts", func(r store.Reader, value any) error {
		for _, h := range value.([]any) {
			if r.Get("host", h.(string)) == nil {
				return apierror.New(apierror.InvalidValue, "host", h.(string))
			}
		}
		return nil
	})
	set("enabled", func(store.Reader, any) error { return nil })
	set("attributes", func(_ store.Reader, value any) error { return observerAttributesError(value.(map[string]any)) })
	set("endpoints", func(_ store.Reader, value any) error { return observerEndpointsError(value.([]any)) })
	set("components", func(_ store.Reader, value any) error { return observerComponentsError(value.([]any)) })
}
