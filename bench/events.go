package main

// eventLatency is filled in by the events work: the time from a commit to the last of
// 1,000 event.from waiters' replies.
func eventLatency(url, session string) {}
