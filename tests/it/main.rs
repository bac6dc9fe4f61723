//! The one integration-test binary: every test that runs against in-process servers on 127.0.0.1:0.

mod client;
mod support;
