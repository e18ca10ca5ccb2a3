module idletrace

go 1.26.8

require github.com/0xrawsec/golang-evtx v1.2.9

require (
	github.com/0xrawsec/golang-utils v1.3.0 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/chromedp/chromedp v0.23.0 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/mattn/go-sqlite3 v1.14.53 // indirect
)
