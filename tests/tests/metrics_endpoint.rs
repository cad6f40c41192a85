//! The broker's `/metrics` endpoint scraped from a real process: the text
//! is parsed as Prometheus exposition format (by a small parser here, not
//! the server's encoder), and its figures match what the test sent and
//! consumed: messages and bytes in per topic, messages out per group and
//! topic, and the group's lag after more messages arrive; sends refused by
//! a throttle rule appear in `ringmq_rejected_total{reason="throttle"}`,
//! and the store, flush, long-poll and connection families are there.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ringmq_client::consumer::ConsumeFrom;
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::producer::Producer;
use ringmq_client::{Message, MessageQueue};
use ringmq_tests::process::free_port;
use ringmq_tests::{Cluster, unique_name};

const WAIT_ROUNDS: usize = 100;
/// Sends to a topic throttled at 1 message/s, back to back.
const THROTTLED_SENDS: usize = 6;
const WAIT_STEP: Duration = Duration::from_millis(100);

/// One sample: metric name, sorted labels, value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses the text exposition format: `# HELP`/`# TYPE` comments, and
/// `name{k="v",…} value` sample lines (escapes `\\`, `\"`, `\n`).
fn parse_exposition(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name_labels, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match name_labels.split_once('{') {
            None => (name_labels.to_owned(), BTreeMap::new()),
            Some((name, rest)) => (
                name.to_owned(),
                parse_labels(rest.strip_suffix('}').unwrap()),
            ),
        };
        samples.insert((name, labels), value);
    }
    samples
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label value is quoted: {text}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

fn scrape(addr: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples.get(&(name.to_owned(), labels)).copied()
}

#[test]
fn parser_reads_labels_with_escapes() {
    let s = parse_exposition("# TYPE x counter\nx_total{a=\"1\",b=\"q\\\"z\"} 3\nplain 1.5\n");
    assert_eq!(
        value(&s, "x_total", &[("a", "1"), ("b", "q\"z")]),
        Some(3.0)
    );
    assert_eq!(value(&s, "plain", &[]), Some(1.5));
}

#[test]
fn scraped_figures_match_what_was_sent_and_consumed() {
    let metrics_addr = format!("127.0.0.1:{}", free_port().unwrap());
    let set = format!("metrics_address={metrics_addr}");
    let cluster = Cluster::start_with(1, |o| {
        o.extra_args = vec!["--set".into(), set.clone()];
    })
    .expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let broker = cluster.brokers[0].name().to_owned();
    let topic = unique_name("MetricsT");
    let group = unique_name("MetricsG");
    cluster.create_topic(&topic, 2).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let producer = rt.block_on(async {
        Producer::builder(unique_name("MetricsP"))
            .namesrv(&ns)
            .build()
            .unwrap()
    });
    let send = |n: usize, from: usize| {
        rt.block_on(async {
            // send_to_queue needs the route: fetch it first.
            producer.queues(&topic).await.unwrap();
            let mut bytes = 0usize;
            for i in from..from + n {
                let body = format!("metrics-body-{i}");
                bytes += body.len();
                let queue = MessageQueue::new(&topic, &broker, (i % 2) as i32);
                producer
                    .send_to_queue(Message::new(&topic, body), &queue)
                    .await
                    .unwrap();
            }
            bytes
        })
    };
    let first_bytes = send(8, 0);
    rt.block_on(async {
        let consumer = PullConsumer::builder(group.as_str())
            .namesrv(&ns)
            .consume_from(ConsumeFrom::FirstOffset)
            .start()
            .unwrap();
        consumer
            .assign(vec![
                MessageQueue::new(&topic, &broker, 0),
                MessageQueue::new(&topic, &broker, 1),
            ])
            .await
            .unwrap();
        let mut got = 0;
        for _ in 0..WAIT_ROUNDS {
            got += consumer.poll(WAIT_STEP).await.unwrap().len();
            if got >= 8 {
                break;
            }
        }
        assert_eq!(got, 8);
        consumer.commit().await;
        consumer.shutdown().await;
    });
    let more_bytes = send(3, 8);

    // Wait (bounded) for the committed offsets to show: lag = 3.
    let mut samples = Samples::new();
    for _ in 0..WAIT_ROUNDS {
        let (head, body) = scrape(&metrics_addr);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.to_ascii_lowercase().contains("text/plain"), "{head}");
        samples = parse_exposition(&body);
        if value(
            &samples,
            "ringmq_consumer_lag",
            &[("group", &group), ("topic", &topic)],
        ) == Some(3.0)
        {
            break;
        }
        std::thread::sleep(WAIT_STEP);
    }
    let t = [("topic", topic.as_str())];
    let gt = [("group", group.as_str()), ("topic", topic.as_str())];
    assert_eq!(value(&samples, "ringmq_consumer_lag", &gt), Some(3.0));
    assert_eq!(value(&samples, "ringmq_messages_in_total", &t), Some(11.0));
    assert_eq!(
        value(&samples, "ringmq_bytes_in_total", &t),
        Some((first_bytes + more_bytes) as f64)
    );
    // Every consumed message was delivered; a client may re-pull a range
    // (the counter counts deliveries), so at least the 8 consumed.
    assert!(value(&samples, "ringmq_messages_out_total", &gt).unwrap() >= 8.0);
    assert!(value(&samples, "ringmq_bytes_out_total", &gt).unwrap() > first_bytes as f64);
    let sends: f64 = samples
        .iter()
        .filter(|((name, _), _)| name == "ringmq_send_latency_seconds_count")
        .map(|(_, v)| *v)
        .sum();
    assert!(
        sends >= 11.0,
        "send latency histogram counts every send: {sends}"
    );
    let ratio = value(&samples, "ringmq_disk_used_ratio", &[]).unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    let family_sum = |samples: &Samples, family: &str| -> Option<f64> {
        let found: Vec<f64> = samples
            .iter()
            .filter(|((name, _), _)| name == family)
            .map(|(_, v)| *v)
            .collect();
        (!found.is_empty()).then(|| found.iter().sum())
    };
    let stored = family_sum(&samples, "ringmq_store_bytes").expect("store bytes per shard");
    assert!(
        stored >= (first_bytes + more_bytes) as f64,
        "the logs hold at least the bodies sent: {stored}"
    );
    assert!(family_sum(&samples, "ringmq_flush_latency_seconds_count").is_some());
    assert!(family_sum(&samples, "ringmq_held_pulls").is_some());
    assert!(value(&samples, "ringmq_tcp_connections", &[]).unwrap() >= 1.0);
    let throttle = [("reason", "throttle")];
    assert_eq!(
        value(&samples, "ringmq_rejected_total", &throttle),
        Some(0.0)
    );

    // Sends over a throttle rule: each refusal is counted once.
    let limited = unique_name("MetricsThr");
    cluster.create_topic(&limited, 1).unwrap();
    let refused = rt.block_on(async {
        let admin = ringmq_client::admin::Admin::new(&ns);
        let rule = ringmq_client::admin::ThrottleRule {
            topic: limited.clone(),
            producer_group: None,
            rate: 1,
        };
        admin.throttle_set(&rule).await.unwrap();
        let single = Producer::builder(unique_name("MetricsQ"))
            .namesrv(&ns)
            .retries(0)
            .build()
            .unwrap();
        let mut refused = 0u64;
        for i in 0..THROTTLED_SENDS {
            match single.send(Message::new(&limited, format!("t-{i}"))).await {
                Ok(_) => {}
                Err(ringmq_client::producer::SendError::Broker { code: 2, .. }) => refused += 1,
                Err(err) => panic!("send {i}: {err}"),
            }
        }
        single.shutdown().await;
        admin.shutdown();
        refused
    });
    assert!(refused > 0, "{THROTTLED_SENDS} sends at 1/s");
    let (_, body) = scrape(&metrics_addr);
    let samples = parse_exposition(&body);
    assert_eq!(
        value(&samples, "ringmq_rejected_total", &throttle),
        Some(refused as f64)
    );

    // Anything but GET /metrics is a 404.
    let mut stream = TcpStream::connect(&metrics_addr).unwrap();
    write!(
        stream,
        "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    rt.block_on(producer.shutdown());
}
