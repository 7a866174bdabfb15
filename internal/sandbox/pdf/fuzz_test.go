package pdf_test

import (
	"bytes"
	"testing"

	"github.com/kybflow/kybflow/internal/sandbox/pdf"
)

// FuzzParseSignature: ParseSignature never panics, and what it accepts is
// a byte range over the whole file but one hex string, holding one DER
// element.
func FuzzParseSignature(f *testing.F) {
	_, s := signer(f)
	signed := signedSample(f, s)
	f.Add(signed)
	f.Add(signed[:len(signed)/2])
	f.Add([]byte("<< /ByteRange [0 2 4 0] /Contents <3000> >>"))
	f.Add([]byte("%PDF-1.4\n<< /Contents <300000> /ByteRange [0 22 30 3] >>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := pdf.ParseSignature(data)
		if err != nil {
			return
		}
		a, b, c := sig.ByteRange[1], sig.ByteRange[2], sig.ByteRange[3]
		if sig.ByteRange[0] != 0 || b+c != int64(len(data)) || data[a] != '<' || data[b-1] != '>' {
			t.Fatalf("accepted ByteRange %v of a %d-byte file", sig.ByteRange, len(data))
		}
		if len(sig.Contents) == 0 || int64(len(sig.Contents)) > (b-a-1)/2 {
			t.Fatalf("%d bytes of Contents from a hole of %d", len(sig.Contents), b-a)
		}
		if got := sig.Signed(data); int64(len(got)) != a+c || !bytes.HasPrefix(data, got[:a]) {
			t.Fatalf("Signed is %d bytes, want %d", len(got), a+c)
		}
	})
}

// FuzzVerify: Verify never panics, on signed and unsigned files alike.
func FuzzVerify(f *testing.F) {
	_, s := signer(f)
	f.Add(signedSample(f, s))
	f.Add(sample(f, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		if n, err := pdf.Verify(data); err == nil && n < 0 {
			t.Fatalf("Verify = %d pages", n)
		}
	})
}
