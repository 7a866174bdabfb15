package blob_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/envconfig"
)

func TestSettingsRegisterTheirParts(t *testing.T) {
	for _, tc := range []struct {
		parts blob.Parts
		want  string
	}{
		{blob.AllParts, "S3_ENDPOINT,S3_BUCKET,S3_ACCESS_KEY,S3_SECRET_KEY,S3_REGION,S3_SECURE,S3_SSE,S3_PART_SIZE,S3_UPLOAD_MEMORY,BLOB_DIR"},
		{blob.PartS3 | blob.PartDir, "S3_ENDPOINT,S3_ACCESS_KEY,S3_SECRET_KEY,S3_REGION,S3_SECURE,BLOB_DIR"},
		{blob.PartS3 | blob.PartBucket, "S3_ENDPOINT,S3_BUCKET,S3_ACCESS_KEY,S3_SECRET_KEY,S3_REGION,S3_SECURE"},
		{blob.PartDir, "BLOB_DIR"},
	} {
		c := blob.DefaultSettings()
		s := envconfig.New("test", envconfig.MapLookup(nil), io.Discard)
		c.RegisterParts(s, tc.parts)
		if got := strings.Join(s.Vars(), ","); got != tc.want {
			t.Errorf("parts %b: %s, want %s", tc.parts, got, tc.want)
		}
	}
	// The defaults are the package's; a value set before registering is
	// the default instead; the environment beats it.
	c := blob.DefaultSettings()
	c.Bucket = "dev"
	s := envconfig.New("test", envconfig.MapLookup(map[string]string{"S3_SECURE": "false", "S3_PART_SIZE": "5242880"}), io.Discard)
	c.Register(s)
	if err := s.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.Bucket != "dev" || c.Secure || c.PartSize != 5<<20 || c.UploadMemory != blob.DefaultUploadMemory {
		t.Errorf("read %+v", c)
	}
	// Help shows the defaults, not what the environment set.
	md := s.Markdown()
	for _, want := range []string{
		fmt.Sprintf("| `S3_PART_SIZE` | `--s3-part-size` | `%d` |", blob.DefaultPartSize),
		fmt.Sprintf("| `S3_UPLOAD_MEMORY` | `--s3-upload-memory` | `%d` |", blob.DefaultUploadMemory),
		"| `S3_BUCKET` | `--s3-bucket` | `dev` |", "| `S3_SECURE` | `--s3-secure` | `true` |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestSettingsCheckNamesTheVariable(t *testing.T) {
	s3 := blob.DefaultSettings()
	s3.Endpoint, s3.Bucket, s3.AccessKey, s3.SecretKey = "127.0.0.1:9000", "results", "a", "s"
	dir := blob.DefaultSettings()
	dir.Dir = t.TempDir()
	for _, tc := range []struct {
		name   string
		change func(*blob.Settings)
		from   blob.Settings
		want   string // "" valid
	}{
		{"S3", func(*blob.Settings) {}, s3, ""},
		{"dir", func(*blob.Settings) {}, dir, ""},
		{"nothing", func(c *blob.Settings) { c.Dir = "" }, dir, "S3_ENDPOINT is required"},
		{"both", func(c *blob.Settings) { c.Dir = "/tmp/x" }, s3, "BLOB_DIR: set BLOB_DIR or the S3_* variables, not both"},
		{"no bucket", func(c *blob.Settings) { c.Bucket = "" }, s3, "S3_BUCKET is required"},
		{"no secret", func(c *blob.Settings) { c.SecretKey = "" }, s3, "S3_SECRET_KEY is required"},
		{"scheme", func(c *blob.Settings) { c.Endpoint = "http://minio:9000" }, s3, "S3_ENDPOINT"},
		{"small part", func(c *blob.Settings) { c.PartSize = 1 << 20 }, s3, "S3_PART_SIZE"},
		{"memory under a part", func(c *blob.Settings) { c.UploadMemory = c.PartSize - 1 }, s3, "S3_UPLOAD_MEMORY"},
	} {
		c := tc.from
		tc.change(&c)
		var ck envconfig.Checker
		c.Check(&ck)
		err := ck.Err()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// The store's configuration is the settings', and neither shows the
	// secret key.
	if got := s3.S3Config(); got.Endpoint != s3.Endpoint || got.Bucket != "results" || got.SecretKey != "s" || !got.Secure ||
		got.PartSize != blob.DefaultPartSize || got.UploadMemory != blob.DefaultUploadMemory {
		t.Errorf("S3Config: %v", got)
	}
	s3.SecretKey = "hunter2"
	if strings.Contains(s3.String(), "hunter2") || strings.Contains(fmt.Sprint(s3), "hunter2") {
		t.Errorf("settings show the secret key: %s", s3)
	}
}
