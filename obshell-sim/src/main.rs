//! The `obshell-sim` command line.

fn main() {}
