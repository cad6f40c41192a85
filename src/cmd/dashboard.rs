//! `ringmq dashboard`: the web dashboard (crate `ringmq-dashboard`) for a
//! cluster given by its nameserver, and the flags `ringmq standalone` uses
//! to serve the same dashboard next to its own nameserver and broker.
//!
//! Loopback by default; any other address needs `--auth USER:PASSWORD` or
//! `--auth-file` (HTTP basic auth). With broker ACL on, `--access-key` /
//! `--secret-key` sign every admin request and test message.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ringmq_dashboard::history::HistoryConfig;
use ringmq_dashboard::{BasicCredentials, DashboardConfig, DashboardThread, LISTEN_DEFAULT};

use super::credentials::CredentialArgs;
use super::produce::STANDALONE_NAMESRV;

/// Basic-auth flags, shared by `dashboard` and `standalone`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AuthArgs {
    /// Dashboard login, `USER:PASSWORD` (HTTP basic auth); required to
    /// listen beyond loopback.
    #[arg(
        long,
        env = "RINGMQ_DASHBOARD_AUTH",
        hide_env_values = true,
        conflicts_with = "auth_file"
    )]
    pub auth: Option<String>,
    /// A file whose first line is the dashboard login `USER:PASSWORD`.
    #[arg(long, env = "RINGMQ_DASHBOARD_AUTH_FILE")]
    pub auth_file: Option<PathBuf>,
}

impl AuthArgs {
    /// The credentials these flags give, if any.
    pub fn credentials(&self) -> anyhow::Result<Option<BasicCredentials>> {
        match (&self.auth, &self.auth_file) {
            (Some(text), _) => Ok(Some(text.parse().context("bad --auth")?)),
            (None, Some(path)) => Ok(Some(
                BasicCredentials::from_file(path).context("bad --auth-file")?,
            )),
            (None, None) => Ok(None),
        }
    }
}

/// Flags of `ringmq dashboard`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Nameserver address(es), `host:port[;host:port]`.
    #[arg(long, env = "RINGMQ_NAMESRV", default_value = STANDALONE_NAMESRV)]
    pub namesrv: String,
    /// Where the dashboard listens.
    #[arg(long, env = "RINGMQ_DASHBOARD_LISTEN", default_value = LISTEN_DEFAULT)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// How often pages refresh their data, ms.
    #[arg(long, default_value_t = 3_000)]
    pub refresh_ms: u64,
    /// How often the charts' history is sampled, ms.
    #[arg(long, default_value_t = 5_000)]
    pub sample_ms: u64,
    /// Points kept per chart series (180 x 5 s = 15 minutes).
    #[arg(long, default_value_t = ringmq_dashboard::history::POINTS_PER_SERIES_DEFAULT)]
    pub history_points: usize,
    /// Chart series kept at most (the two rates and the groups' lags).
    #[arg(long, default_value_t = ringmq_dashboard::history::SERIES_MAX_DEFAULT)]
    pub history_series: usize,
}

/// Runs the dashboard until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut config = DashboardConfig::new(args.listen, &args.namesrv);
    config.auth = args.auth.credentials()?;
    config.acl = match (&args.credentials.access_key, &args.credentials.secret_key) {
        (Some(access), Some(secret)) => Some((access.clone(), secret.clone())),
        _ => None,
    };
    config.refresh = Duration::from_millis(args.refresh_ms.max(100));
    config.history = HistoryConfig {
        points_per_series: args.history_points,
        series_max: args.history_series,
        sample_every: Duration::from_millis(args.sample_ms),
    };
    let dashboard = DashboardThread::start(config).context("cannot start the dashboard")?;
    println!(
        "ringmq dashboard for {}: http://{}/",
        args.namesrv,
        dashboard.local_addr()
    );
    println!("Press Ctrl-C to stop.");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal runtime")?;
    runtime.block_on(super::standalone::wait_for_stop_signal());
    dashboard.stop().context("dashboard failed")?;
    Ok(())
}

/// The dashboard flags of `ringmq standalone`.
#[derive(clap::Args, Debug, Clone)]
pub struct StandaloneArgs {
    /// Where standalone serves the dashboard.
    #[arg(long, env = "RINGMQ_DASHBOARD_LISTEN", default_value = LISTEN_DEFAULT)]
    pub dashboard_listen: SocketAddr,
    /// Serve no dashboard.
    #[arg(long)]
    pub no_dashboard: bool,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl StandaloneArgs {
    /// No dashboard (for embedded clusters that never serve one).
    pub fn off() -> Self {
        Self {
            dashboard_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            no_dashboard: true,
            auth: AuthArgs::default(),
        }
    }

    /// Starts the dashboard for the nameserver at `namesrv`, unless turned off.
    pub fn start(&self, namesrv: SocketAddr) -> Option<anyhow::Result<DashboardThread>> {
        if self.no_dashboard {
            return None;
        }
        let start = || -> anyhow::Result<DashboardThread> {
            let mut config = DashboardConfig::new(self.dashboard_listen, &namesrv.to_string());
            config.auth = self.auth.credentials()?;
            Ok(DashboardThread::start(config)?)
        };
        Some(start())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_auth_is_read() {
        let args: Args = crate::cmd::parse_args(
            "dashboard",
            &[
                "--namesrv",
                "10.0.0.1:9876",
                "--listen",
                "0.0.0.0:9000",
                "--auth",
                "a:b",
            ],
        )
        .unwrap();
        assert_eq!(args.listen.port(), 9000);
        assert_eq!(args.auth.credentials().unwrap().unwrap().user(), "a");
        let bad: Args = crate::cmd::parse_args("dashboard", &["--auth", "nocolon"]).unwrap();
        assert!(bad.auth.credentials().is_err());
    }

    #[test]
    fn standalone_can_move_or_drop_the_dashboard() {
        let off: StandaloneArgs =
            crate::cmd::parse_args("standalone", &["--no-dashboard"]).unwrap();
        assert!(off.start("127.0.0.1:9876".parse().unwrap()).is_none());
        let moved: StandaloneArgs =
            crate::cmd::parse_args("standalone", &["--dashboard-listen", "127.0.0.1:18080"])
                .unwrap();
        assert_eq!(moved.dashboard_listen.port(), 18080);
        let open: StandaloneArgs =
            crate::cmd::parse_args("standalone", &["--dashboard-listen", "0.0.0.0:0"]).unwrap();
        let refused = open.start("127.0.0.1:9876".parse().unwrap()).unwrap();
        assert!(format!("{:#}", refused.unwrap_err()).contains("--auth"));
    }
}
