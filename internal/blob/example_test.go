package blob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kybflow/kybflow/internal/blob"
)

func ExampleDir() {
	root, err := os.MkdirTemp("", "blob-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)

	store, err := blob.NewDir(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	result := strings.NewReader(`{"match":false}`)
	obj, err := store.Put(ctx, "aml/lookup-1/result.json", result, result.Size(), blob.PutOptions{
		ContentType: "application/json",
		Metadata:    map[string]string{"lookup-id": "lookup-1", "session-id": "session-1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(obj.Key, obj.Size, obj.ContentType, obj.Bucket == store.Bucket())
	fmt.Println(obj.SHA256)

	rc, info, err := store.Get(ctx, obj.Key)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rc.Close()
	content, err := io.ReadAll(rc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(content), info.SHA256 == obj.SHA256, info.Metadata["lookup-id"])

	_, err = store.Stat(ctx, "aml/lookup-1/missing.pdf")
	fmt.Println(errors.Is(err, blob.ErrNotFound), blob.IsTransient(err))

	_, err = store.Put(ctx, "../outside", strings.NewReader("x"), 1, blob.PutOptions{})
	fmt.Println(err)
	// Output:
	// aml/lookup-1/result.json 15 application/json true
	// 695e2ec8fd54dce7055af5b1fdc11af193584a3503fabb4804afdd0272a745f2
	// {"match":false} true lookup-1
	// true false
	// put ../outside: blob: invalid key "../outside": ".." path segment
}
