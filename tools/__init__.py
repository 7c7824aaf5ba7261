"""Developer tools run through the Makefile (schema generation, benchmarks, knowledge-base sync)."""
