"""Runner scripts for ``trace2skill evaluate`` that wrap real agent harnesses (each an optional extra)."""
