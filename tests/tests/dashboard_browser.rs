//! The dashboard in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, the `fantoccini` client) against a real `ringmq
//! standalone` with real traffic. It checks what a person would: the topic
//! list shows the topics created, a group's lag on the page is what `ringmq
//! admin consumer progress` reports, a message found by key shows its
//! body, a dead letter resent from the page is back in its topic, a backlog
//! move from the page moves the backlog, destructive actions ask first (a
//! dismissed dialog changes nothing), and the live part refreshes without a
//! reload. Every page is saved as a PNG under
//! `target/dashboard-screenshots/`.
//!
//! Chromium and chromedriver come from Debian's `chromium` and
//! `chromium-driver` packages, installed by `scripts/ensure-chromium.sh`
//! (which this test runs first, so the README's test command works on a
//! fresh machine).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod dashboard_common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dashboard_common::{
    Standalone, WAIT_MAX, admin_json, consumer, create_topic, producer, screenshot_dir, send,
    wait_until,
};
use fantoccini::{Client, ClientBuilder, Locator};
use ringmq_client::consumer::ConsumeResult;
use ringmq_tests::process::free_port;
use ringmq_tests::unique_name;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ensure_chromium() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/ensure-chromium.sh");
    let status = Command::new("bash").arg(script).status().unwrap();
    assert!(
        status.success(),
        "{script} failed: install chromium and chromium-driver"
    );
}

fn start_driver() -> Driver {
    let port = free_port().unwrap();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT_MAX;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver) -> Client {
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,1000"],
        },
        // Dialogs stay open until the test answers them.
        "unhandledPromptBehavior": "ignore",
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap()
}

/// The text of `css` once it contains `want` (bounded wait; the live part
/// refreshes in place).
async fn text_with(client: &Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && text.contains(want)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed {want:?}; page:\n{}",
            client.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn open(client: &Client, standalone: &Standalone, path: &str) {
    client
        .goto(&format!("{}{path}", standalone.url))
        .await
        .unwrap();
}

/// Clicks the submit button of form `css` and answers its confirmation
/// dialog; returns the question asked.
async fn submit_confirmed(client: &Client, css: &str, accept: bool) -> String {
    let form = client.find(Locator::Css(css)).await.unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let question = client.get_alert_text().await.unwrap();
    if accept {
        client.accept_alert().await.unwrap();
    } else {
        client.dismiss_alert().await.unwrap();
    }
    question
}

#[test]
fn the_dashboard_in_a_real_browser() {
    ensure_chromium();
    let standalone = Standalone::start();
    let driver = start_driver();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let admin = standalone.admin();
        let client = browser(&driver).await;
        let orders = unique_name("Orders");
        let audit = unique_name("Audit");
        let billing = unique_name("billing_cg");
        let dead = unique_name("dead_cg");
        create_topic(&admin, &orders, 4).await;
        create_topic(&admin, &audit, 2).await;
        let producer = producer(&standalone.namesrv);

        // Real traffic: billing consumes 20 orders, goes away, 7 more arrive.
        send(&producer, &orders, "order", 20).await;
        let member = consumer(
            &standalone.namesrv,
            &billing,
            &orders,
            ConsumeResult::Success,
            16,
        )
        .await;
        wait_until("billing consumed 20", || async {
            admin.consumer_progress(&billing).await.is_ok_and(|p| {
                p.total_lag == 0 && p.queues.iter().map(|q| q.consumer_offset).sum::<i64>() == 20
            })
        })
        .await;
        member.shutdown().await;
        send(&producer, &orders, "late", 7).await;

        // Overview.
        open(&client, &standalone, "/").await;
        text_with(&client, "#brokers", "broker-a").await;
        text_with(&client, "#namesrvs", "up").await;
        screenshot(&client, "overview").await;

        // Topics: the list shows both topics created.
        open(&client, &standalone, "/topics").await;
        let list = text_with(&client, "#topics", &orders).await;
        assert!(list.contains(&audit), "{list}");
        screenshot(&client, "topics").await;
        open(&client, &standalone, &format!("/topics/{orders}")).await;
        text_with(&client, "#queues", "broker-a").await;
        text_with(&client, "#consumers", &billing).await;
        screenshot(&client, "topic").await;

        // A group's lag is what `ringmq admin consumer progress` says.
        let cli = admin_json(&standalone.namesrv, &["consumer", "progress", &billing]);
        let cli_lag = cli["total_lag"].as_i64().unwrap();
        assert_eq!(cli_lag, 7);
        open(&client, &standalone, &format!("/groups/{billing}")).await;
        let shown = text_with(&client, "#total-lag", "7").await;
        assert_eq!(shown.trim(), cli_lag.to_string());
        screenshot(&client, "group").await;
        open(&client, &standalone, "/groups").await;
        text_with(&client, "#groups", &billing).await;
        screenshot(&client, "groups").await;

        // The live part refreshes in place (no reload).
        let live = client.find(Locator::Css("#live")).await.unwrap();
        let deadline = Instant::now() + WAIT_MAX;
        while live.attr("data-refreshes").await.unwrap().as_deref() == Some("0") {
            assert!(Instant::now() < deadline, "the live part never refreshed");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        // A message found by key shows its body.
        open(
            &client,
            &standalone,
            &format!("/messages?topic={orders}&key=late-key-3"),
        )
        .await;
        text_with(&client, "#messages", "late-3").await;
        screenshot(&client, "messages").await;
        client
            .find(Locator::Css("#messages td.mono a"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let body = text_with(&client, "#message-body", "late-3").await;
        assert_eq!(body.trim(), "late-3");
        text_with(&client, "#message-properties", "late-key-3").await;
        screenshot(&client, "message").await;

        // Dead letters: dead_cg fails its one message, which is
        // dead-lettered at once (no retries allowed).
        let failing = unique_name("Failing");
        create_topic(&admin, &failing, 1).await;
        let member = consumer(
            &standalone.namesrv,
            &dead,
            &failing,
            ConsumeResult::ReconsumeLater,
            0,
        )
        .await;
        send(&producer, &failing, "doomed", 1).await;
        wait_until("a dead letter", || async {
            admin.dlq_list(&dead, 10).await.is_ok_and(|d| d.len() == 1)
        })
        .await;
        member.shutdown().await;
        open(&client, &standalone, &format!("/dlq/{dead}")).await;
        text_with(&client, "#dead-letters", "doomed-0").await;
        text_with(&client, "#dead-letters", "dead").await;
        screenshot(&client, "dlq").await;
        let before = admin
            .messages_by_key(&failing, "doomed-key-0", (0, i64::MAX))
            .await
            .unwrap()
            .len();
        assert_eq!(before, 1);
        let question = submit_confirmed(&client, "#dead-letters form", true).await;
        assert!(question.starts_with("Resend "), "{question}");
        text_with(&client, "#notice", "resent 1").await;
        text_with(&client, "#dead-letters", "resent").await;
        let after = admin
            .messages_by_key(&failing, "doomed-key-0", (0, i64::MAX))
            .await
            .unwrap();
        assert_eq!(after.len(), 2, "the dead letter is back in {failing}");
        assert!(after.iter().all(|m| &m.body[..] == b"doomed-0"));

        // Backlog move from the group page: a dismissed confirmation changes
        // nothing; an accepted one moves billing's 7 to the temporary topic.
        let temp = unique_name("OrdersBacklog");
        open(&client, &standalone, &format!("/groups/{billing}")).await;
        // Open the <details> so the form is visible and clickable.
        let details = client
            .find(Locator::XPath(
                "//form[@id='backlog-move']/ancestor::details",
            ))
            .await
            .unwrap();
        details
            .find(Locator::Css("summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .find(Locator::Css("#backlog-move"))
            .await
            .unwrap()
            .find(Locator::Css("input[name=to]"))
            .await
            .unwrap()
            .send_keys(&temp)
            .await
            .unwrap();
        client
            .find(Locator::Css(&format!(
                "#backlog-move select[name=topic] option[value='{orders}']"
            )))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let question = submit_confirmed(&client, "#backlog-move", false).await;
        assert!(question.contains("temporary topic"), "{question}");
        assert_eq!(
            admin.consumer_progress(&billing).await.unwrap().total_lag,
            7,
            "dismissed: nothing moved"
        );
        submit_confirmed(&client, "#backlog-move", true).await;
        text_with(&client, "#notice", "7 copied").await;
        assert_eq!(
            admin.consumer_progress(&billing).await.unwrap().total_lag,
            0
        );
        let mut copies = 0;
        for (_, addr, _, _) in admin.topic_masters(&temp).await.unwrap() {
            let stats = admin.topic_stats(&addr, &temp).await.unwrap();
            copies += stats
                .offset_table
                .values()
                .map(|o| o.max_offset - o.min_offset)
                .sum::<i64>();
        }
        assert_eq!(copies, 7, "the backlog is in {temp}");
        text_with(&client, "#total-lag", "0").await;
        screenshot(&client, "group-after-move").await;

        // Throttles page (shown as the brokers answer).
        open(&client, &standalone, "/throttles").await;
        client.find(Locator::Css("#set-throttle")).await.unwrap();
        screenshot(&client, "throttles").await;

        client.close().await.unwrap();
        producer.shutdown().await;
    });
}
