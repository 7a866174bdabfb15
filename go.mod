module github.com/kybflow/kybflow

go 1.26
