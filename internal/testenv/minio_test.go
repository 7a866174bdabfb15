package testenv_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/testenv"
)

func TestMinIO(t *testing.T) {
	srv := testenv.MinIO(t)
	if srv.Endpoint == "" || srv.AccessKey == "" || srv.SecretKey == "" {
		t.Fatalf("incomplete server: %+v", srv)
	}
	resp, err := http.Get(srv.URL() + "/minio/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live: %s", resp.Status)
	}
	// Anonymous requests are refused: the server really has credentials.
	resp, err = http.Get(srv.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous list buckets: %s, want 403", resp.Status)
	}
}

// TestMinIOStops checks that the server is gone once its test has ended.
func TestMinIOStops(t *testing.T) {
	var url string
	t.Run("server", func(t *testing.T) { url = testenv.MinIO(t).URL() })
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get(url + "/minio/health/live")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("server at %s still answers after its test ended: %s", url, resp.Status)
	}
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func TestBucketName(t *testing.T) {
	for _, name := range []string{"Simple", "with/Sub_test#01", "--", "a_very_long_name_" + strings.Repeat("x", 80)} {
		t.Run(name, func(t *testing.T) {
			a, b := testenv.BucketName(t), testenv.BucketName(t)
			if !bucketRE.MatchString(a) {
				t.Errorf("BucketName = %q, not a valid bucket name", a)
			}
			if a == b {
				t.Errorf("BucketName returned %q twice", a)
			}
		})
	}
}
