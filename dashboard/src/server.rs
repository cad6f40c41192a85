//! The HTTP side: the route table, the embedded static assets, and the two
//! ways to run it (inside a caller's tokio runtime with [`serve`], or on a
//! thread of its own with [`DashboardThread`], which is what `ringmq
//! standalone` uses next to its compio broker).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ringmq_client::admin::Admin;

use crate::auth::{self, AuthError, BasicCredentials};
use crate::history::HistoryConfig;
use crate::pages;
use crate::state::{self, AppState};

/// The dashboard's default address.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8080";
/// How often pages refresh their live part by default.
pub const REFRESH_DEFAULT: Duration = Duration::from_secs(3);

/// The stylesheet, embedded.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");
/// The live-refresh and confirmation script, embedded.
pub const LIVE_JS: &str = include_str!("../assets/live.js");

/// How to run a dashboard.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The nameserver(s), `host:port[;host:port]`.
    pub namesrv: String,
    /// Basic-auth credentials; required beyond loopback.
    pub auth: Option<BasicCredentials>,
    /// ACL access and secret key the admin client and producer sign with.
    pub acl: Option<(String, String)>,
    /// Chart history bounds and sampling period.
    pub history: HistoryConfig,
    /// Live refresh period of the pages.
    pub refresh: Duration,
}

impl DashboardConfig {
    /// Defaults for `namesrv` on `listen`.
    pub fn new(listen: SocketAddr, namesrv: &str) -> Self {
        Self {
            listen,
            namesrv: namesrv.to_owned(),
            auth: None,
            acl: None,
            history: HistoryConfig::default(),
            refresh: REFRESH_DEFAULT,
        }
    }

    /// The admin client this configuration describes.
    pub fn admin(&self) -> Admin {
        match &self.acl {
            Some((access, secret)) => Admin::with_credentials(&self.namesrv, access, secret),
            None => Admin::new(&self.namesrv),
        }
    }
}

/// Why the dashboard cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Refused by the auth rules.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime or the server failed.
    #[error("dashboard server: {0}")]
    Io(#[from] std::io::Error),
}

/// Every page and action of the dashboard over `state`, behind basic auth
/// when `auth` is given.
pub fn router(state: AppState, auth: Option<BasicCredentials>) -> Router {
    let routes = Router::new()
        .route("/", get(pages::overview::page))
        .route(
            "/topics",
            get(pages::topics::list).post(pages::topics::create),
        )
        .route("/topics/{topic}", get(pages::topics::detail))
        .route("/topics/{topic}/update", post(pages::topics::update))
        .route("/topics/{topic}/delete", post(pages::topics::delete))
        .route("/topics/{topic}/send", post(pages::topics::send))
        .route("/groups", get(pages::groups::list))
        .route("/groups/{group}", get(pages::groups::detail))
        .route("/groups/{group}/reset", post(pages::groups::reset))
        .route("/messages", get(pages::messages::search))
        .route("/messages/{id}", get(pages::messages::detail))
        .route("/messages/{id}/resend", post(pages::messages::resend));
    let routes = pages::extra_routes(routes)
        .route("/static/style.css", get(style))
        .route("/static/live.js", get(script))
        .fallback(not_found)
        .with_state(state);
    routes.layer(axum::middleware::from_fn_with_state(
        Arc::new(auth),
        auth::require,
    ))
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", LIVE_JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    response
}

async fn not_found() -> Response {
    pages::layout::error_page(StatusCode::NOT_FOUND, "no such page")
}

/// Serves the dashboard on `listener` until `shutdown` resolves, sampling
/// the cluster for the charts in the background.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: DashboardConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = AppState::new(
        config.admin(),
        config.acl.clone(),
        config.history,
        config.refresh,
    );
    let sampler = tokio::spawn(state::sampler(
        state.clone(),
        config.history.bounded().sample_every,
    ));
    let app = router(state.clone(), config.auth.clone());
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    sampler.abort();
    state.shutdown().await;
    Ok(served?)
}

/// Binds `config.listen` after checking the auth rules.
pub fn bind(config: &DashboardConfig) -> Result<std::net::TcpListener, ServeError> {
    auth::check_listen(config.listen, config.auth.as_ref())?;
    let listener =
        std::net::TcpListener::bind(config.listen).map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A dashboard on a thread of its own (with its own tokio runtime).
#[derive(Debug)]
pub struct DashboardThread {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl DashboardThread {
    /// Binds (errors come back here) and starts serving.
    pub fn start(config: DashboardConfig) -> Result<Self, ServeError> {
        let listener = bind(&config)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dashboard".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    serve(listener, config, async {
                        let _ = stopped.await;
                    })
                    .await
                })
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the thread.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServeError::Io(std::io::Error::other(
                "the dashboard thread panicked",
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for DashboardThread {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use base64::Engine;
    use tower::ServiceExt;

    fn app(auth: Option<&str>) -> Router {
        // No cluster is needed for the assets; nothing listens on port 1.
        let state = AppState::new(
            Admin::new("127.0.0.1:1"),
            None,
            HistoryConfig::default(),
            REFRESH_DEFAULT,
        );
        router(state, auth.map(|a| a.parse().unwrap()))
    }

    async fn status(app: Router, authorization: Option<&str>) -> (StatusCode, Option<String>) {
        let mut request = Request::get("/static/style.css");
        if let Some(value) = authorization {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value);
            request = request.header(header::AUTHORIZATION, format!("Basic {encoded}"));
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), challenge)
    }

    #[tokio::test]
    async fn basic_auth_guards_every_route_when_configured() {
        let (open, _) = status(app(None), None).await;
        assert_eq!(open, StatusCode::OK);
        let (missing, challenge) = status(app(Some("ops:pw")), None).await;
        assert_eq!(missing, StatusCode::UNAUTHORIZED);
        assert!(challenge.unwrap().starts_with("Basic realm="));
        let (wrong, _) = status(app(Some("ops:pw")), Some("ops:nope")).await;
        assert_eq!(wrong, StatusCode::UNAUTHORIZED);
        let (right, _) = status(app(Some("ops:pw")), Some("ops:pw")).await;
        assert_eq!(right, StatusCode::OK);
    }

    #[test]
    fn a_dashboard_beyond_loopback_without_auth_does_not_start() {
        let config = DashboardConfig::new("0.0.0.0:0".parse().unwrap(), "127.0.0.1:1");
        let err = DashboardThread::start(config).unwrap_err();
        assert!(
            matches!(err, ServeError::Auth(AuthError::OpenToTheNetwork(_))),
            "{err}"
        );
    }

    #[test]
    fn a_dashboard_thread_serves_and_stops() {
        let config = DashboardConfig::new("127.0.0.1:0".parse().unwrap(), "127.0.0.1:1");
        let thread = DashboardThread::start(config).unwrap();
        let addr = thread.local_addr();
        assert_ne!(addr.port(), 0);
        std::net::TcpStream::connect(addr).unwrap();
        thread.stop().unwrap();
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "closed after stop"
        );
    }
}
