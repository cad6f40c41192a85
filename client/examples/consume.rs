//! Consumes a topic from the beginning and prints every message until
//! `count` arrived (or 30 s passed).
//!
//! `cargo run -p ringmq-client --example consume -- 127.0.0.1:9876 TopicTest 10`

use std::time::Duration;

use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let namesrv = args.next().unwrap_or_else(|| "127.0.0.1:9876".into());
    let topic = args.next().unwrap_or_else(|| "TopicTest".into());
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(10);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = PushConsumer::builder("example-cg")
        .namesrv(&namesrv)
        .subscribe(topic.as_str(), "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| {
            let tx = tx.clone();
            async move {
                for m in msgs {
                    println!(
                        "{} {} offset {} {:?}",
                        m.msg_id,
                        m.queue(),
                        m.queue_offset,
                        String::from_utf8_lossy(&m.body)
                    );
                    let _ = tx.send(());
                }
                ConsumeResult::Success
            }
        })
        .start()
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for _ in 0..count {
        if tokio::time::timeout_at(deadline, rx.recv()).await.is_err() {
            break;
        }
    }
    consumer.shutdown().await;
    Ok(())
}
