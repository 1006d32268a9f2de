package storage

import (
	"bytes"
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/zoogate/zoogate/storage/vfs"
)

// crashConfig draws a small random configuration so that crashes hit
// segment rolls, preallocation growth and batch boundaries.
func crashConfig(rng *rand.Rand) LogConfig {
	c := DefaultLogConfig()
	c.SegmentSize = int64(4<<10 + rng.Intn(8<<10))
	c.Preallocate = int64(rng.Intn(3)) * 2 << 10 // 0, 2 KiB or 4 KiB
	c.MaxRecordSize = 4 << 10
	c.MaxBatchBytes = 1<<10 + rng.Intn(8<<10)
	return c
}

// TestCrashConcurrentAppends: appenders run concurrently, done callbacks
// record the acknowledged zxids, and the disk is crash-cloned at a random
// moment. After recovery every acknowledged record is present and intact,
// and the log is a contiguous prefix of what was appended.
func TestCrashConcurrentAppends(t *testing.T) {
	base := testSeed(t)
	runs := 60
	if testing.Short() {
		runs = 15
	}
	for i := 0; i < runs; i++ {
		seed := base + int64(i)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("replay with -seed=%d -run 'TestCrashConcurrentAppends/%d'", seed, seed)
				}
			})
			crashConcurrentOnce(t, seed)
		})
	}
}

func crashConcurrentOnce(t *testing.T, seed int64) {
	rng := newRand(seed)
	cfg := crashConfig(rng)
	m := vfs.NewMem()
	l, err := OpenLog(m, "data/log", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex // orders zxid allocation with Append
		next     int64      = 0x100000000
		appended []int64
		ackMu    sync.Mutex
		acked    = map[int64]bool{}
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	const maxRecords = 400
	appenders := 1 + rng.Intn(6)
	for a := 0; a < appenders; a++ {
		arng := newRand(seed*31 + int64(a))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := 1 + arng.Intn(4)
				mu.Lock()
				if len(appended) >= maxRecords {
					mu.Unlock()
					return
				}
				batch := make([]int64, n)
				for i := range batch {
					if arng.Intn(50) == 0 {
						next = (next>>32 + 1) << 32 // new epoch
					}
					next++
					batch[i] = next
				}
				done := make(chan struct{})
				err := l.Append(recs(batch...), func(err error) {
					if err == nil {
						ackMu.Lock()
						for _, z := range batch {
							acked[z] = true
						}
						ackMu.Unlock()
					}
					close(done)
				})
				if err == nil {
					appended = append(appended, batch...)
				}
				mu.Unlock()
				if err != nil {
					return
				}
				if arng.Intn(3) > 0 {
					<-done
				}
			}
		}()
	}
	target := 1 + rng.Intn(maxRecords-10)
	waitFor(t, "acknowledgements", func() bool {
		ackMu.Lock()
		defer ackMu.Unlock()
		return len(acked) >= target
	})
	ackMu.Lock()
	ackedBefore := make(map[int64]bool, len(acked))
	for z := range acked {
		ackedBefore[z] = true
	}
	ackMu.Unlock()
	crashed := m.CrashClone(rng)
	close(stop)
	wg.Wait()
	l.Close()
	mu.Lock()
	sent := append([]int64(nil), appended...)
	mu.Unlock()

	l2, err := OpenLog(crashed, "data/log", cfg, testLogger(t))
	if err != nil {
		t.Fatalf("recovery failed: %v\nfiles:\n%s", err, crashed)
	}
	defer l2.Close()
	got := readAll(t, l2, 0)
	if len(got) > len(sent) {
		t.Fatalf("recovered %d records, only %d appended", len(got), len(sent))
	}
	// A contiguous prefix of what was appended, payloads intact.
	checkRecords(t, got, sent[:len(got)])
	for z := range ackedBefore {
		if len(got) == 0 || z > got[len(got)-1].Zxid {
			t.Fatalf("acknowledged zxid %#x lost (recovered up to %v of %d appended)", z, len(got), len(sent))
		}
	}
	if l2.LastZxid() != lastOf(got) {
		t.Fatalf("LastZxid %#x, last record %#x", l2.LastZxid(), lastOf(got))
	}
	// The recovered log accepts appends and survives a clean reopen.
	nz := lastOf(got) + 1
	if err := l2.AppendSync(recs(nz)); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	l3 := openLog(t, crashed, "data/log", cfg)
	defer l3.Close()
	checkRecords(t, readAll(t, l3, 0), append(sent[:len(got):len(got)], nz))
}

func lastOf(rs []Record) int64 {
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Zxid
}

// TestCrashAtEveryStage drives a log single-threaded with a seeded script
// of appends, truncations and purges, and crashes the disk exactly before
// the N-th file-system operation (N drawn from the seed), so a failing seed
// replays exactly. The recovered log must be consistent with what was
// acknowledged and with the operation in flight.
func TestCrashAtEveryStage(t *testing.T) {
	base := testSeed(t)
	runs := 300
	if testing.Short() {
		runs = 60
	}
	for i := 0; i < runs; i++ {
		seed := base + int64(i)
		if !crashAtStageOnce(t, seed) {
			t.Logf("replay with -seed=%d -run TestCrashAtEveryStage", seed)
			return
		}
	}
}

// modelRec is a record the model expects, with a payload unique to each
// time the zxid was appended.
type modelRec struct {
	zxid    int64
	payload []byte
}

func crashAtStageOnce(t *testing.T, seed int64) bool {
	t.Helper()
	rng := newRand(seed)
	cfg := crashConfig(rng)
	m := vfs.NewMem()
	l, err := OpenLog(m, "log", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	var (
		mu        sync.Mutex
		acked     []modelRec // the log after the last completed operation
		pending   []modelRec // records of the append in flight
		mustEnd   int        // recovered log must hold acked[:mustEnd] at least
		purgeMax  int64      // highest zxid a purge was asked for
		crashed   *vfs.Mem
		crashDesc string
		op        string
	)
	crashAt := 1 + rng.Int63n(180) // a script takes about 150 operations
	crashRng := newRand(seed ^ 0x5eed)
	snapshot := func() (a, p []modelRec, end int, pm int64, o string) {
		return append([]modelRec(nil), acked...), append([]modelRec(nil), pending...), mustEnd, purgeMax, op
	}
	var snapA, snapP []modelRec
	var snapEnd int
	var snapPurge int64
	m.SetHook(func(vfs.Op, string) {
		mu.Lock()
		defer mu.Unlock()
		if crashed == nil && m.Ops()+1 >= crashAt {
			crashed = m.CrashClone(crashRng)
			snapA, snapP, snapEnd, snapPurge, crashDesc = snapshot()
		}
	})
	gen := 0
	last := int64(0)
	for step := 0; step < 40; step++ {
		mu.Lock()
		done := crashed != nil
		mu.Unlock()
		if done {
			break
		}
		switch k := rng.Intn(10); {
		case k < 7 || len(acked) == 0: // append a batch
			n := 1 + rng.Intn(30)
			var batch []Record
			var mb []modelRec
			for i := 0; i < n; i++ {
				last++
				if rng.Intn(20) == 0 {
					last = (last>>32+1)<<32 | 1
				}
				gen++
				p := append(payloadFor(last), fmt.Sprintf("/gen%d", gen)...)
				batch = append(batch, Record{Zxid: last, Payload: p})
				mb = append(mb, modelRec{last, p})
			}
			mu.Lock()
			pending, mustEnd, op = mb, len(acked), fmt.Sprintf("append %d records", n)
			mu.Unlock()
			if err := l.AppendSync(batch); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			acked, pending = append(acked, mb...), nil
			mustEnd = len(acked)
			mu.Unlock()
		case k < 9: // truncate
			z := acked[rng.Intn(len(acked))].zxid
			if rng.Intn(5) == 0 {
				z = 0
			}
			keep := 0
			for keep < len(acked) && acked[keep].zxid <= z {
				keep++
			}
			mu.Lock()
			mustEnd, op = keep, fmt.Sprintf("truncate after %#x", z)
			mu.Unlock()
			if err := l.TruncateAfter(z); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			acked = acked[:keep]
			mu.Unlock()
			last = z
			if keep > 0 {
				last = acked[keep-1].zxid
			}
		default: // purge
			z := acked[rng.Intn(len(acked))].zxid
			mu.Lock()
			purgeMax, op = max(purgeMax, z), fmt.Sprintf("purge before %#x", z)
			mu.Unlock()
			if _, err := l.PurgeBefore(z); err != nil {
				t.Fatal(err)
			}
		}
	}
	m.SetHook(nil)
	mu.Lock()
	if crashed == nil {
		crashed = m.CrashClone(crashRng)
		snapA, snapP, snapEnd, snapPurge, crashDesc = snapshot()
		crashDesc = "after the script: " + crashDesc
	}
	mu.Unlock()

	l2, err := OpenLog(crashed, "log", cfg, nil)
	if err != nil {
		t.Errorf("seed %d: crash during %q: recovery failed: %v\n%s", seed, crashDesc, err, crashed)
		return false
	}
	defer l2.Close()
	var got []Record
	if err := l2.Iterate(0, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Errorf("seed %d: Iterate: %v", seed, err)
		return false
	}
	if msg := checkCrashOutcome(got, append(snapA, snapP...), snapEnd, snapPurge); msg != "" {
		t.Errorf("seed %d: crash during %q: %s (recovered %v)", seed, crashDesc, msg, zxidsOf(got))
		return false
	}
	return true
}

// checkCrashOutcome: got must be a contiguous run all[i:j] of the expected
// records with j >= mustEnd (nothing acknowledged lost) and i no later than
// the first record above purgeMax (purges never drop a needed record).
func checkCrashOutcome(got []Record, all []modelRec, mustEnd int, purgeMax int64) string {
	start := 0
	for start < len(all) && all[start].zxid <= purgeMax {
		start++
	}
	if len(got) == 0 {
		if mustEnd > start {
			return fmt.Sprintf("log empty but %d acknowledged records needed", mustEnd-start)
		}
		return ""
	}
	i := -1
	for k, r := range all {
		if r.zxid == got[0].Zxid {
			i = k
			break
		}
	}
	if i < 0 {
		return fmt.Sprintf("first recovered zxid %#x was never appended", got[0].Zxid)
	}
	if i > start {
		return fmt.Sprintf("log starts at %#x: records after the purge point %#x are missing", got[0].Zxid, purgeMax)
	}
	if i+len(got) > len(all) {
		return "more records than appended"
	}
	for k, r := range got {
		want := all[i+k]
		if r.Zxid != want.zxid || !bytes.Equal(r.Payload, want.payload) {
			return fmt.Sprintf("record %d is %#x, want %#x (or payload differs)", k, r.Zxid, want.zxid)
		}
	}
	if i+len(got) < mustEnd {
		return fmt.Sprintf("acknowledged records lost: have up to index %d, need %d", i+len(got), mustEnd)
	}
	return ""
}
