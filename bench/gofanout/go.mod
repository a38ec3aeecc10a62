module strom.dev/bench/gofanout

go 1.22
