//! `--access-key` / `--secret-key` (or `RINGMQ_ACCESS_KEY` /
//! `RINGMQ_SECRET_KEY`) of the client subcommands (`produce`, `consume`,
//! `bench`): with both set, every request is signed for a broker or
//! nameserver running RocketMQ ACL (`ringmq_client::acl`).
//!
//! The subcommand calls [`CredentialArgs::install`] once; the places that
//! build clients then pass their builder through [`producer`],
//! [`push_consumer`] or [`client_config`].

use std::sync::OnceLock;

use ringmq_client::consumer::push::PushConsumerBuilder;
use ringmq_client::instance::ClientConfig;
use ringmq_client::producer::ProducerBuilder;

/// The ACL credential flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CredentialArgs {
    /// ACL access key (RocketMQ plain ACL); needs --secret-key.
    #[arg(long, env = "RINGMQ_ACCESS_KEY", requires = "secret_key")]
    pub access_key: Option<String>,
    /// ACL secret key; needs --access-key.
    #[arg(
        long,
        env = "RINGMQ_SECRET_KEY",
        hide_env_values = true,
        requires = "access_key"
    )]
    pub secret_key: Option<String>,
}

static INSTALLED: OnceLock<Option<(String, String)>> = OnceLock::new();

impl CredentialArgs {
    /// Makes these the credentials of every client this process builds.
    pub fn install(&self) {
        let pair = match (&self.access_key, &self.secret_key) {
            (Some(access), Some(secret)) => Some((access.clone(), secret.clone())),
            _ => None,
        };
        let _ = INSTALLED.set(pair);
    }
}

fn installed() -> Option<&'static (String, String)> {
    INSTALLED.get().and_then(Option::as_ref)
}

/// `builder` signing with the installed credentials, if any.
pub fn producer(builder: ProducerBuilder) -> ProducerBuilder {
    match installed() {
        Some((access, secret)) => builder.with_credentials(access, secret),
        None => builder,
    }
}

/// `builder` signing with the installed credentials, if any.
pub fn push_consumer(builder: PushConsumerBuilder) -> PushConsumerBuilder {
    match installed() {
        Some((access, secret)) => builder.with_credentials(access, secret),
        None => builder,
    }
}

/// `config` signing with the installed credentials, if any.
pub fn client_config(config: ClientConfig) -> ClientConfig {
    match installed() {
        Some((access, secret)) => config.with_credentials(access.as_str(), secret.as_str()),
        None => config,
    }
}
