# Guest job for 'make check': every test program, framed for the parser.
run-tests
