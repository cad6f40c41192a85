//! The dashboard over plain HTTP (no browser) against a real `ringmq
//! standalone` with real traffic: every route answers with its status and
//! shows what the cluster holds; the live refresh gets the data part alone;
//! a form with a bad name gets 400 and the reason; actions redirect with
//! their report; failures carry the broker's remark.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod dashboard_common;

use dashboard_common::{Standalone, consumer, create_topic, producer, send, wait_until};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use ringmq_client::consumer::ConsumeResult;
use ringmq_tests::unique_name;

async fn get(http: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let response = http.get(url).send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

#[test]
fn every_route_answers_with_the_cluster_s_data() {
    let standalone = Standalone::start();
    assert!(
        standalone
            .banner()
            .contains(&format!("dashboard:  {}/", standalone.url)),
        "the banner names the dashboard: {}",
        standalone.banner()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let admin = standalone.admin();
        let topic = unique_name("DashHttp");
        let group = unique_name("dash_http_cg");
        create_topic(&admin, &topic, 2).await;
        let producer = producer(&standalone.namesrv);
        let ids = send(&producer, &topic, "hello", 3).await;
        let member = consumer(
            &standalone.namesrv,
            &group,
            &topic,
            ConsumeResult::Success,
            16,
        )
        .await;
        wait_until("the group consumed all", || async {
            admin
                .consumer_progress(&group)
                .await
                .is_ok_and(|p| p.total_lag == 0 && !p.queues.is_empty())
        })
        .await;

        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        let base = &standalone.url;
        let cases: Vec<(String, Vec<String>)> = vec![
            (
                "/".into(),
                vec![
                    "Brokers".into(),
                    "broker-a".into(),
                    "Nameservers".into(),
                    standalone.namesrv.clone(),
                    "<svg".into(),
                ],
            ),
            ("/topics".into(), vec![topic.clone()]),
            ("/topics?kind=system".into(), vec!["TBW102".into()]),
            (
                format!("/topics/{topic}"),
                vec!["Route".into(), "min offset".into(), group.clone()],
            ),
            ("/groups".into(), vec![group.clone()]),
            (
                format!("/groups/{group}"),
                vec![
                    "total lag".into(),
                    member.client_id().to_owned(),
                    "<svg".into(),
                ],
            ),
            (
                format!("/messages?topic={topic}&key=hello-key-1"),
                vec!["hello-1".into(), ids[1].clone()],
            ),
            (
                format!("/messages?topic={topic}&queue=0&offset=0"),
                vec!["message(s)".into()],
            ),
            (
                format!("/messages?topic={topic}&begin=2000-01-01T00:00"),
                vec!["hello-0".into(), "hello-2".into()],
            ),
            (
                format!("/messages?id={}&topic={topic}", ids[2]),
                vec!["hello-2".into()],
            ),
            (
                format!("/messages/{}?topic={topic}", ids[0]),
                vec![
                    "hello-0".into(),
                    "KEYS".into(),
                    "hello-key-0".into(),
                    group.clone(),
                ],
            ),
            (
                format!("/messages/{}?topic={topic}&format=hex", ids[0]),
                vec!["68 65 6c 6c 6f".into()],
            ),
            ("/dlq".into(), vec!["Dead letters".into()]),
            (format!("/dlq/{group}"), vec!["dead letter(s)".into()]),
            ("/throttles".into(), vec!["Set a throttle".into()]),
        ];
        for (path, wanted) in &cases {
            let (status, body) = get(&http, &format!("{base}{path}")).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            for want in wanted {
                assert!(
                    body.contains(want.as_str()),
                    "{path} lacks {want:?}:\n{body}"
                );
            }
        }

        // The live refresh gets the data part alone.
        let live = http
            .get(format!("{base}/topics"))
            .header("X-Live", "1")
            .send()
            .await
            .unwrap();
        let live = live.text().await.unwrap();
        assert!(live.contains(&topic) && !live.contains("<html"), "{live}");

        // Static assets are embedded; unknown pages are 404.
        let css = http
            .get(format!("{base}/static/style.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        let (status, _) = get(&http, &format!("{base}/no/such/page")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // An unknown group shows the reason.
        let (status, body) = get(&http, &format!("{base}/groups/no_such_group_x")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("does not exist"), "{body}");

        // A bad topic name is refused with the rule it breaks; a good one
        // is created and redirects with the report.
        let bad = http
            .post(format!("{base}/topics"))
            .form(&[("topic", "bad name!"), ("queues", "4"), ("perm", "6")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert!(bad.text().await.unwrap().contains("contains the character"));
        let created = unique_name("DashCreated");
        let made = http
            .post(format!("{base}/topics"))
            .form(&[("topic", created.as_str()), ("queues", "3"), ("perm", "6")])
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::SEE_OTHER);
        let location = made.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("/topics/{created}?done=")),
            "{location}"
        );
        wait_until("a route for the created topic", || async {
            admin.topic_route(&created).await.is_ok()
        })
        .await;
        let masters = admin.topic_masters(&created).await.unwrap();
        assert_eq!(masters[0].3, 3, "3 write queues");

        // A test message from the topic page is stored.
        let sent = http
            .post(format!("{base}/topics/{created}/send"))
            .form(&[("body", "from the page"), ("key", "page-key"), ("tag", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::SEE_OTHER);
        let found = admin
            .messages_by_key(&created, "page-key", (0, i64::MAX))
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(&found[0].body[..], b"from the page");

        // A refusal carries the broker's remark: resetting a group on a
        // topic that does not exist.
        let reset = http
            .post(format!("{base}/groups/{group}/reset"))
            .form(&[("topic", "NoSuchTopicX"), ("to", "earliest")])
            .send()
            .await
            .unwrap();
        assert_eq!(reset.status(), StatusCode::NOT_FOUND);
        assert!(reset.text().await.unwrap().contains("NoSuchTopicX"));

        // A throttle set from the page is on the broker (read back through
        // the admin API, not the page), and clearing it from the page
        // removes it there.
        let limited = unique_name("DashLimited");
        let set = http
            .post(format!("{base}/throttles"))
            .form(&[
                ("topic", limited.as_str()),
                ("producer_group", ""),
                ("rate", "7"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), StatusCode::SEE_OTHER);
        let rules = admin.throttle_list().await.unwrap();
        let rule = rules.iter().find(|t| t.rule.topic == limited);
        assert_eq!(rule.map(|t| t.rule.rate), Some(7), "{rules:?}");
        assert_eq!(rule.and_then(|t| t.rule.producer_group.clone()), None);
        let (status, body) = get(&http, &format!("{base}/throttles")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&limited), "the page lists the rule");
        let cleared = http
            .post(format!("{base}/throttles/clear"))
            .form(&[("topic", limited.as_str()), ("producer_group", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
        let rules = admin.throttle_list().await.unwrap();
        assert!(rules.iter().all(|t| t.rule.topic != limited), "{rules:?}");

        member.shutdown().await;
        producer.shutdown().await;
    });
}
