//! obshell-sim: an obshell-compatible HTTP server for tests and demos (see README.md).
