package console

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

// BenchmarkIndexMemory applies 100,000 lookups' events (accepted,
// session_opened, completed with a JSON and two reports) and reports the
// heap the index holds, and a filtered page's time.
func BenchmarkIndexMemory(b *testing.B) {
	const n = 100_000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ix := NewIndex()
		seq := uint64(0)
		for i := range n {
			cmd := command(fmt.Sprintf("bench-%06d", i), kybflow.TypeOrganization, kybflow.CountryNO, fmt.Sprintf("crm-%d", i))
			at := t0.Add(time.Duration(i) * time.Second)
			d := completed(cmd)
			d.Artifacts = append(d.Artifacts, d.Artifacts[1])
			d.Artifacts[2].Name, d.Artifacts[2].Key = "report:certificate_of_incorporation", "aml/"+cmd.LookupID+"/coi.pdf"
			for k, data := range map[kybflow.Kind]any{kybflow.KindAccepted: cmd.AcceptedData(), kybflow.KindSessionOpened: cmd.SessionOpenedData("sess-0123456789abcdef0123456789abcdef"), kybflow.KindCompleted: d} {
				seq++
				ev, err := kybflow.NewEvent("urn:bench", k, cmd.LookupID, at, data)
				if err != nil {
					b.Fatal(err)
				}
				ev.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
				ix.Apply(seq, ev)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		start := time.Now()
		p, err := ix.Query(Query{State: StateCompleted, Country: "NO", Search: "crm-9999"})
		if err != nil || p.Total != 11 {
			b.Fatalf("query: %d, %v", p.Total, err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds()), "µs/filtered-page")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/100k-lookups")
		runtime.KeepAlive(ix)
	}
}
