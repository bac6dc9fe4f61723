//! The `obshell-sim` command line: a thin wrapper around [`obshell_sim::spawn`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use obshell_sim::{
    parse_clock_offset, parse_utc_offset, Latency, ObshellVersion, SimConfig, SimTls,
};

/// An obshell-compatible server with an in-memory OceanBase cluster, for tests and demos.
///
/// Prints `obshell-sim listening on http://ADDR` as its first stdout line, then serves until
/// interrupted. Logs go to stderr (RUST_LOG sets the level). The control API is under /sim/v1
/// (see CONTROL.md).
#[derive(Debug, Parser)]
#[command(name = "obshell-sim", version)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:2886")]
    listen: SocketAddr,
    /// The root@sys password that clients must send.
    #[arg(long, default_value = "", hide_default_value = true)]
    password: String,
    /// obshell version to emulate: 4.2.4.0..4.3.0.x give legacy integer error codes, 4.3.1+
    /// errCode strings, 4.3.2+ the storage and archive-task reads, 4.4.2+ a 1024-bit RSA key.
    #[arg(long, default_value = "4.5.0.0")]
    obshell_version: ObshellVersion,
    /// Number of user tenants (t1, t2, ...) at start.
    #[arg(long, default_value_t = 2)]
    tenants: usize,
    /// Cluster name.
    #[arg(long, default_value = "obcluster")]
    cluster_name: String,
    /// Cluster id (the first segment of every per-tenant backup destination).
    #[arg(long, default_value_t = 1_726_000_000)]
    cluster_id: i64,
    /// How long each DAG node runs, e.g. 100ms, 2s, 1m.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    task_duration: Duration,
    /// Seed for the RSA key and everything else random.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Delay every obshell answer (not /sim/v1) by DURATION, plus or minus up to JITTER
    /// (uniform), e.g. 20ms or 20ms,5ms; units us, ms, s.
    #[arg(long, value_name = "DURATION[,JITTER]", default_value = "0ms")]
    latency: Latency,
    /// Also serve the sys tenant's backup views over the MySQL protocol on this address (root
    /// and the same password); port 0 picks a free port. Prints a second line
    /// `obshell-sim sql listening on ADDR`.
    #[arg(long)]
    sql_listen: Option<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. The address
    /// line then says https://.
    #[arg(long, value_name = "PEM_FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM_FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: require a client certificate that chains to this PEM CA; needs --tls-cert.
    #[arg(long, value_name = "PEM_FILE", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Store object-store destinations without their query string, as an OceanBase may; the
    /// storage read then answers 400 OB.Storage.URI.Invalid.
    #[arg(long)]
    query_less_object_paths: bool,
    /// How long a tenant parameter change takes to reach every server (three simulated
    /// servers, each at its share); until then reads show the old value or both, e.g. 1s.
    #[arg(long, value_parser = parse_duration)]
    parameter_lag: Option<Duration>,
    /// How long archive log takes to open (PREPARE, BEGINNING, then DOING) or close (STOPPING,
    /// then STOP), e.g. 400ms.
    #[arg(long, value_parser = parse_duration)]
    archive_log_delay: Option<Duration>,
    /// OceanBase's clock minus the agent host's (DAG times come from OceanBase's NOW(6),
    /// /api/v1/time from the agent host), signed, units ms, s, m, h: e.g. -3h, +90m.
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true, value_parser = parse_clock_offset)]
    db_clock_offset: Option<i64>,
    /// OceanBase's session time zone, in which DAG times are written, e.g. +08:00 (OceanBase's
    /// default) or -05:00.
    #[arg(long, value_name = "ZONE", default_value = "+08:00", allow_hyphen_values = true, value_parser = parse_utc_offset)]
    db_time_zone: i32,
    /// A set of switches: "default" (none), or "harsh": --latency 5ms,4ms,
    /// --query-less-object-paths, --parameter-lag 600ms, --archive-log-delay 300ms and
    /// --db-clock-offset=-10817s (3 h 17 s behind), the realistic behaviours a quiet test cluster
    /// hides. A --latency, --parameter-lag, --archive-log-delay or --db-clock-offset given too
    /// takes precedence.
    #[arg(long, default_value = "default", value_parser = ["default", "harsh"])]
    profile: String,
}

impl Cli {
    /// The TLS material the flags name, read from their files.
    fn tls(&self) -> Result<Option<SimTls>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let read = |flag: &str, path: &PathBuf| {
            std::fs::read(path).map_err(|e| format!("{flag}: cannot read {}: {e}", path.display()))
        };
        let mut tls = SimTls::new(read("--tls-cert", cert)?, read("--tls-key", key)?);
        if let Some(ca) = &self.tls_client_ca {
            tls = tls.with_client_ca(read("--tls-client-ca", ca)?);
        }
        Ok(Some(tls))
    }
}

/// Parses `<integer><ms|s|m>`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 100ms, 2s or 1m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" | "" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("unknown unit in {text:?}: use ms, s or m")),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a log file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "obshell_sim=info".into()),
        )
        .init();
    let cli = Cli::parse();
    let tls = match cli.tls() {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("obshell-sim: {message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let config = SimConfig {
        listen: cli.listen,
        password: cli.password,
        obshell_version: cli.obshell_version,
        tenants: cli.tenants,
        cluster_name: cli.cluster_name,
        cluster_id: cli.cluster_id,
        task_duration: cli.task_duration,
        seed: cli.seed,
        latency: cli.latency,
        sql_listen: cli.sql_listen,
        tls,
        query_less_object_paths: cli.query_less_object_paths,
        parameter_lag: Duration::ZERO,
        archive_log_delay: Duration::ZERO,
        db_clock_offset_ms: 0,
        db_time_zone_minutes: cli.db_time_zone,
    };
    let explicit_latency = config.latency;
    let mut config = config
        .with_profile(&cli.profile)
        .expect("clap accepts only known profiles");
    if !explicit_latency.is_none() {
        config.latency = explicit_latency;
    }
    if let Some(lag) = cli.parameter_lag {
        config.parameter_lag = lag;
    }
    if let Some(delay) = cli.archive_log_delay {
        config.archive_log_delay = delay;
    }
    if let Some(offset) = cli.db_clock_offset {
        config.db_clock_offset_ms = offset;
    }
    let sim = match obshell_sim::spawn(config).await {
        Ok(sim) => sim,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("obshell-sim: {message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    #[allow(clippy::print_stdout)] // The address line is the command's output; scripts read it.
    {
        use std::io::Write as _;
        println!("obshell-sim listening on {}", sim.base_url());
        if let Some(sql_addr) = sim.sql_addr() {
            println!("obshell-sim sql listening on {sql_addr}");
        }
        let _ = std::io::stdout().flush();
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    sim.shutdown().await;
    std::process::ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
