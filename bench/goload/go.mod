module strom.bench/goload

go 1.22
