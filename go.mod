module idletrace

go 1.26.8

require github.com/0xrawsec/golang-evtx v1.2.9

require (
	github.com/0xrawsec/golang-utils v1.3.0 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/mattn/go-sqlite3 v1.14.53 // indirect
)
