//! Helpers for integration tests that start real `ringmq` processes on loopback.
