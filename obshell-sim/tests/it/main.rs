//! HTTP integration tests: obshell-sim on 127.0.0.1:0, driven by a raw client.

mod auth;
mod backup_config;
mod binary;
mod clock;
mod faults;
mod lag;
mod latency;
mod operators;
mod partial;
mod reads;
mod routes;
mod support;
mod tenant_config;
