package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// waiters is how many concurrent event.from calls wait for one commit.
const waiters = 1000

// eventLatency measures how long a commit takes to reach 1,000 blocked event.from calls
// over real HTTP connections: from just before the committing call is sent to each
// waiter's reply, over several rounds. It prints p50, p99 and the last reply.
func eventLatency(url, session string) {
	token := eventToken(url, session)
	vm := firstVMOf(url, session)
	ours := rounds(func(round int) []time.Duration {
		lat, next := eventRound(url, session, vm, token, round)
		token = next
		return lat
	})
	bare := rounds(bareRound)
	fmt.Printf("\n%d blocked event.from calls woken by one commit, time to each reply (5 rounds):\n", waiters)
	fmt.Printf("%-10s %10s %10s %12s\n", "server", "p50", "p99", "last reply")
	fmt.Printf("%-10s %10s %10s %12s\n", "xapisim", ours.p50, ours.p99, ours.last)
	fmt.Printf("%-10s %10s %10s %12s\n", "bare", bare.p50, bare.p99, bare.last)
}

type latencies struct{ p50, p99, last time.Duration }

// rounds runs five rounds and summarises every reply's latency and each round's last.
func rounds(round func(int) []time.Duration) latencies {
	var all, lasts []time.Duration
	for i := 0; i < 5; i++ {
		lat := round(i)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		all = append(all, lat...)
		lasts = append(lasts, lat[len(lat)-1])
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	sort.Slice(lasts, func(i, j int) bool { return lasts[i] < lasts[j] })
	return latencies{pct(all, 50), pct(all, 99), lasts[len(lasts)/2].Round(10 * time.Microsecond)}
}

// bareRound is the floor of this machine: 1,000 requests blocked in a bare net/http
// handler on one channel, released at once, each answering a small fixed body.
func bareRound(int) []time.Duration {
	release := make(chan struct{})
	url := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","result":{"events":[],"valid_ref_counts":{},"token":""},"id":0}`))
	}))
	return waitAll(url, `{}`, func() { close(release) })
}

func pct(d []time.Duration, p int) time.Duration {
	return d[(len(d)-1)*p/100].Round(10 * time.Microsecond)
}

// eventRound starts the waiters, lets them block, commits one change and collects each
// waiter's latency. It returns the latencies and the token to continue from.
func eventRound(url, session, vm, token string, round int) ([]time.Duration, string) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"event.from","params":["%s",["vm"],"%s",30.0]}`, session, token)
	var next string
	lat := waitAll(url+"/jsonrpc", body, func() {
		call(url+"/jsonrpc", fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"VM.set_name_label","params":["%s","%s","round %d"]}`, session, vm, round))
	}, func(first []byte) { next = tokenOf(first) })
	return lat, next
}

// waitAll posts body from 1,000 connections, waits until they block, runs trigger and
// returns each reply's latency from just before trigger. onFirst sees one reply body.
func waitAll(url, body string, trigger func(), onFirst ...func([]byte)) []time.Duration {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done []time.Time
	var first []byte
	start := make(chan struct{})
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			<-start
			resp, err := c.Post(url, "", bytes.NewReader([]byte(body)))
			check(err)
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			at := time.Now()
			mu.Lock()
			done = append(done, at)
			if first == nil { // keep one reply only: the client's work is not measured
				first = data
			}
			mu.Unlock()
		}()
	}
	close(start)
	time.Sleep(2 * time.Second) // every waiter is blocked in the server by now
	t0 := time.Now()
	trigger()
	wg.Wait()
	for _, f := range onFirst {
		f(first)
	}
	lat := make([]time.Duration, len(done))
	for i, at := range done {
		lat[i] = at.Sub(t0)
	}
	return lat
}

func eventToken(url, session string) string {
	data, _ := fetch(url+"/jsonrpc", fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"event.from","params":["%s",["vm"],"",1.0]}`, session))
	return tokenOf(data)
}

func tokenOf(data []byte) string {
	var reply struct {
		Result struct {
			Token string `json:"token"`
		} `json:"result"`
	}
	check(json.Unmarshal(data, &reply))
	return reply.Result.Token
}

func firstVMOf(url, session string) string {
	data, _ := fetch(url+"/jsonrpc", fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"VM.get_all","params":["%s"]}`, session))
	var reply struct{ Result []string }
	check(json.Unmarshal(data, &reply))
	return reply.Result[0]
}
