//! Harness that runs real `redis-server` and `redis-sentinel` processes on loopback ports.
#![deny(missing_docs)]
