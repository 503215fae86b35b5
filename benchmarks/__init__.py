"""Scripts that print the book's figures (run by hand: ``python benchmarks/<name>.py``); importable as
``benchmarks.<name>`` so the tests read a script's tables through the script itself."""
