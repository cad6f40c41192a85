//! Shared helpers for the criterion benchmarks and the end-to-end load generator.
