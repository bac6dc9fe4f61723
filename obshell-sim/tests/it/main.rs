//! HTTP integration tests: obshell-sim on 127.0.0.1:0, driven by a raw client.

mod auth;
mod backup_config;
mod faults;
mod operators;
mod reads;
mod support;
