//! The one integration-test binary: every layer driven in-process against obshell-sim on
//! 127.0.0.1:0.

mod resource;
