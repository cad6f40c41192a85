//! Sends a few messages and prints where they went.
//!
//! `cargo run -p ringmq-client --example produce -- 127.0.0.1:9876 TopicTest 10`
#![allow(clippy::unwrap_used)]

use ringmq_client::Message;
use ringmq_client::producer::Producer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let namesrv = args.next().unwrap_or_else(|| "127.0.0.1:9876".into());
    let topic = args.next().unwrap_or_else(|| "TopicTest".into());
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(10);
    let producer = Producer::builder("example-pg").namesrv(&namesrv).build()?;
    for i in 0..count {
        let msg = Message::new(topic.as_str(), format!("hello {i}"))
            .with_tags("example")
            .with_keys([format!("key-{i}")]);
        let r = producer.send(msg).await?;
        println!(
            "{} {:?} {} offset {}",
            r.msg_id, r.status, r.queue, r.queue_offset
        );
    }
    producer.shutdown().await;
    Ok(())
}
