//! Timing harness (not a test): how fast can a shard push pull bodies from a
//! commit-log segment file to a socket? Compares the path the broker uses
//! (`SegmentMaps`: a blocking `pread` into a buffer; it used to send slices
//! of a read-only mapping, which a truncated file turns into SIGBUS) with
//! an io_uring `read_at` into a buffer, then the send.
//!
//! `cargo run --release -p ringmq-broker --example pull_transfer [body_kib] [rounds]`

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use compio::io::AsyncReadAtExt;
use compio::io::AsyncWriteExt;
use ringmq_broker::transfer::{SegmentMaps, WireChunk};

/// Size of the fake segment file.
const SEGMENT_BYTES: usize = 256 * 1024 * 1024;
/// Bytes of the frame prefix sent before each body.
const PREFIX_BYTES: usize = 200;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let body_kib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4000);
    let body = body_kib * 1024;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("00000000000000000000");
    let pattern: Vec<u8> = (0..SEGMENT_BYTES).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &pattern)?;
    drop(pattern);
    println!(
        "body {body_kib} KiB x {rounds} rounds, segment {} MiB (page cache hot)",
        SEGMENT_BYTES >> 20
    );
    for name in [
        "broker path (SegmentMaps pread)",
        "copying (read_at + send)",
        "broker path (SegmentMaps pread)",
        "copying (read_at + send)",
    ] {
        let zero_copy = name.starts_with("zero");
        let (gib_s, per_ms) = run(&path, body, rounds, zero_copy)?;
        println!("{name:28} {gib_s:6.2} GiB/s  {per_ms:7.4} ms per pull body");
    }
    Ok(())
}

fn run(
    path: &std::path::Path,
    body: usize,
    rounds: usize,
    zero_copy: bool,
) -> std::io::Result<(f64, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let total = (body + PREFIX_BYTES) * rounds;
    let reader = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut socket, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut seen = 0;
        while seen < total {
            let n = socket.read(&mut buf)?;
            if n == 0 {
                break;
            }
            seen += n;
        }
        Ok(seen)
    });
    let runtime = compio::runtime::Runtime::new()?;
    let path = path.to_owned();
    let started = Instant::now();
    runtime.block_on(async move {
        let std_stream = TcpStream::connect(addr)?;
        let mut stream = compio::net::TcpStream::from_std(std_stream)?;
        let file = compio::fs::File::open(&path).await?;
        let mut maps = SegmentMaps::default();
        let positions = (SEGMENT_BYTES - body) / 4096;
        for round in 0..rounds {
            let position = ((round * 7919) % positions.max(1)) as u64 * 4096;
            let prefix = bytes::Bytes::from(vec![0u8; PREFIX_BYTES]);
            if zero_copy {
                let chunk = maps.chunk(&path, position, body)?;
                let parts = vec![WireChunk::Bytes(prefix), WireChunk::File(chunk)];
                stream.write_vectored_all(parts).await.0?;
            } else {
                let compio::BufResult(read, buf) =
                    file.read_exact_at(Vec::with_capacity(body), position).await;
                read?;
                let parts = vec![
                    WireChunk::Bytes(prefix),
                    WireChunk::Bytes(bytes::Bytes::from(buf)),
                ];
                stream.write_vectored_all(parts).await.0?;
            }
        }
        std::io::Result::Ok(())
    })?;
    let seen = reader
        .join()
        .map_err(|_| std::io::Error::other("reader panicked"))??;
    let secs = started.elapsed().as_secs_f64();
    Ok((
        seen as f64 / secs / f64::from(1u32 << 30),
        secs * 1000.0 / rounds as f64,
    ))
}
