//! Micro-benchmarks of the wire codec: frame encode and decode of a typical
//! SEND_MESSAGE_V2 request (the one-letter header of fixture
//! `producev2-01`, 1 KiB body) and of a PULL_MESSAGE SUCCESS response
//! header (the broker writes only the prefix and sends the body zero-copy),
//! in both serialize types.
//!
//! `stream_decode` feeds a fresh copy of the frame to `FrameDecoder` (the
//! copy is made outside the timed part); `decode_frame` decodes a shared
//! `Bytes` (a reference-count clone), so it times the header parse alone.
//!
//! Run: `cargo bench -p ringmq-benches --bench wire`.
//!
//! The buffers are `bytes::BytesMut`, named here only through type
//! inference from the `ringmq_net` signatures (this package does not depend
//! on `bytes` directly).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ringmq_net::code::{request, response};
use ringmq_net::command::{RemotingCommand, SerializeType};
use ringmq_net::frame::FrameDecoder;

/// The body of the benchmarked send.
const SEND_BODY_BYTES: usize = 1024;
/// The body that follows the benchmarked pull response header (32 messages
/// in fixture `consume-10`).
const PULL_BODY_BYTES: usize = 18322;

/// A SEND_MESSAGE_V2 request as fixture `producev2-01` carries it.
fn send_v2_request(serialize_type: SerializeType) -> RemotingCommand {
    let properties = "ringmq.run\u{1}r34e8a20ac7e3ff\u{2}ringmq.seq\u{1}0\u{2}\
        UNIQ_KEY\u{1}C000020234E9AC4C820C765FFC060000\u{2}ringmq.warmup\u{1}false\u{2}\
        TAGS\u{1}TagA\u{2}KEYS\u{1}key-0 run-r34e8a20ac7e3ff\u{2}ringmq.size\u{1}1024\u{2}\
        WAIT\u{1}true";
    let mut command = RemotingCommand::request(request::SEND_MESSAGE_V2)
        .with_opaque(2)
        .with_body(vec![b'x'; SEND_BODY_BYTES]);
    command.serialize_type = serialize_type;
    for (key, value) in [
        ("a", "ringmq_pg_r34e8a20ac7e3ff"),
        ("b", "RingProduceV2"),
        ("bname", "peer-broker-a"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "3"),
        ("f", "0"),
        ("g", "1795477201926"),
        ("h", "0"),
        ("i", properties),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
        ("n", "peer-broker-a"),
    ] {
        command.ext_fields.insert(key.to_owned(), value.to_owned());
    }
    command
}

/// A PULL_MESSAGE SUCCESS response header as fixture `consume-10` carries it.
fn pull_response(serialize_type: SerializeType) -> RemotingCommand {
    let mut pull = RemotingCommand::request(request::PULL_MESSAGE).with_opaque(16);
    pull.serialize_type = serialize_type;
    let mut command = RemotingCommand::response_to(&pull, response::SUCCESS, Some("FOUND".into()));
    for (key, value) in [
        ("groupSysFlag", "0"),
        ("maxOffset", "253"),
        ("minOffset", "0"),
        ("nextBeginOffset", "32"),
        ("suggestWhichBrokerId", "0"),
        ("topicSysFlag", "0"),
    ] {
        command.ext_fields.insert(key.to_owned(), value.to_owned());
    }
    command
}

fn type_name(serialize_type: SerializeType) -> &'static str {
    match serialize_type {
        SerializeType::Json => "json",
        SerializeType::RocketMq => "rocketmq",
    }
}

fn bench_send(c: &mut Criterion, serialize_type: SerializeType) {
    let command = send_v2_request(serialize_type);
    let mut frame = Default::default();
    command
        .encode(&mut frame)
        .expect("the benchmarked command encodes");
    let mut group = c.benchmark_group(format!("send_v2_1k_{}", type_name(serialize_type)));
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| {
        let mut out = Default::default();
        b.iter(|| {
            command
                .encode(&mut out)
                .expect("the benchmarked command encodes");
            out.clear();
        })
    });
    group.bench_function("stream_decode", |b| {
        b.iter_batched(
            || frame.clone(),
            |mut buf| FrameDecoder::default().decode(&mut buf),
            BatchSize::SmallInput,
        )
    });
    let whole = frame.clone().freeze();
    group.bench_function("decode_frame", |b| {
        b.iter(|| RemotingCommand::decode_frame(whole.clone()))
    });
    group.finish();
}

fn bench_pull_response(c: &mut Criterion, serialize_type: SerializeType) {
    let command = pull_response(serialize_type);
    let mut frame = Default::default();
    command
        .encode_prefix(PULL_BODY_BYTES, &mut frame)
        .expect("the benchmarked command encodes");
    frame.extend_from_slice(&vec![0u8; PULL_BODY_BYTES]);
    let mut group = c.benchmark_group(format!("pull_response_{}", type_name(serialize_type)));
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_prefix", |b| {
        let mut out = Default::default();
        b.iter(|| {
            command
                .encode_prefix(PULL_BODY_BYTES, &mut out)
                .expect("the benchmarked command encodes");
            out.clear();
        })
    });
    group.bench_function("stream_decode", |b| {
        b.iter_batched(
            || frame.clone(),
            |mut buf| FrameDecoder::default().decode(&mut buf),
            BatchSize::SmallInput,
        )
    });
    let whole = frame.clone().freeze();
    group.bench_function("decode_frame", |b| {
        b.iter(|| RemotingCommand::decode_frame(whole.clone()))
    });
    group.finish();
}

fn wire(c: &mut Criterion) {
    for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
        bench_send(c, serialize_type);
        bench_pull_response(c, serialize_type);
    }
}

criterion_group!(benches, wire);
criterion_main!(benches);
