//! A fake nameserver + brokers on 127.0.0.1 for client tests: answers
//! routes, heartbeats, sends, pulls and offsets with ringmq-net's codecs, and
//! records every request so tests can assert what the client put on the
//! wire. Not a broker: one in-memory queue list per broker, no long polling
//! beyond a short hold.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::too_many_arguments
)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringmq_net::batch::decode_batch;
use ringmq_net::body::{
    BrokerData, ConsumerListByGroupResponseBody, HeartbeatData, QueueData, TopicRouteData,
    decode_json, encode_json,
};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;
use ringmq_net::header::*;
use ringmq_net::record::MessageRecord;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One stored message.
#[derive(Debug, Clone)]
pub struct Stored {
    pub topic: String,
    pub queue_id: i32,
    pub offset: i64,
    pub flag: i32,
    pub sys_flag: i32,
    pub body: Bytes,
    pub properties: String,
    pub reconsume_times: i32,
}

#[derive(Default)]
pub struct BrokerState {
    pub name: String,
    pub addr: String,
    /// (topic, queue) -> messages in offset order.
    pub queues: BTreeMap<(String, i32), Vec<Stored>>,
    /// (group, topic, queue) -> committed offset.
    pub offsets: HashMap<(String, String, i32), i64>,
    /// Every request received, in order.
    pub requests: Vec<RemotingCommand>,
    /// Heartbeats received.
    pub heartbeats: Vec<HeartbeatData>,
    /// Sends answer this code instead of storing, when set.
    pub fail_sends_with: Option<i32>,
    /// CONSUMER_SEND_MSG_BACK answers this code instead of SUCCESS, when set.
    pub fail_send_back_with: Option<i32>,
    /// Live client connections, to push broker->client requests.
    pub clients: Vec<mpsc::Sender<RemotingCommand>>,
    pub next_physical: i64,
    /// Responses clients sent to broker->client requests.
    pub responses: Vec<RemotingCommand>,
}

pub type Broker = Arc<Mutex<BrokerState>>;

pub struct FakeCluster {
    pub namesrv_addr: String,
    pub brokers: Vec<Broker>,
    /// Topics the nameserver knows (others get TOPIC_NOT_EXIST except TBW102).
    pub topics: Arc<Mutex<BTreeMap<String, i32>>>,
    pub namesrv_requests: Arc<Mutex<Vec<RemotingCommand>>>,
}

impl FakeCluster {
    /// A nameserver and `brokers` brokers named broker-a, broker-b, ...
    pub async fn start(brokers: usize) -> FakeCluster {
        let mut all = Vec::new();
        for i in 0..brokers {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let name = format!("broker-{}", (b'a' + i as u8) as char);
            let state = Arc::new(Mutex::new(BrokerState {
                name,
                addr,
                ..Default::default()
            }));
            tokio::spawn(serve(listener, Handler::Broker(state.clone())));
            all.push(state);
        }
        let topics = Arc::new(Mutex::new(BTreeMap::new()));
        let namesrv_requests = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let namesrv_addr = listener.local_addr().unwrap().to_string();
        let route_brokers: Vec<(String, String)> = all
            .iter()
            .map(|b| {
                let b = b.lock().unwrap();
                (b.name.clone(), b.addr.clone())
            })
            .collect();
        tokio::spawn(serve(
            listener,
            Handler::Namesrv {
                brokers: route_brokers,
                topics: topics.clone(),
                requests: namesrv_requests.clone(),
            },
        ));
        FakeCluster {
            namesrv_addr,
            brokers: all,
            topics,
            namesrv_requests,
        }
    }

    /// Makes `topic` known with `queues` queues per broker.
    pub fn create_topic(&self, topic: &str, queues: i32) {
        self.topics
            .lock()
            .unwrap()
            .insert(topic.to_string(), queues);
    }

    pub fn broker(&self, i: usize) -> std::sync::MutexGuard<'_, BrokerState> {
        self.brokers[i].lock().unwrap()
    }

    /// All stored messages of `topic` across brokers.
    pub fn stored(&self, topic: &str) -> Vec<(String, Stored)> {
        let mut out = Vec::new();
        for b in &self.brokers {
            let b = b.lock().unwrap();
            for ((t, _), msgs) in &b.queues {
                if t == topic {
                    out.extend(msgs.iter().map(|m| (b.name.clone(), m.clone())));
                }
            }
        }
        out
    }

    /// Requests with `code` received by broker `i`.
    pub fn requests_with(&self, i: usize, code: i32) -> Vec<RemotingCommand> {
        self.broker(i)
            .requests
            .iter()
            .filter(|r| r.code == code)
            .cloned()
            .collect()
    }

    /// Pushes a broker->client request to every client connected to broker `i`.
    pub async fn push_to_clients(&self, i: usize, cmd: RemotingCommand) {
        let clients = self.broker(i).clients.clone();
        for c in clients {
            let _ = c.send(cmd.clone()).await;
        }
    }
}

enum Handler {
    Namesrv {
        brokers: Vec<(String, String)>,
        topics: Arc<Mutex<BTreeMap<String, i32>>>,
        requests: Arc<Mutex<Vec<RemotingCommand>>>,
    },
    Broker(Broker),
}

impl Clone for Handler {
    fn clone(&self) -> Self {
        match self {
            Handler::Namesrv {
                brokers,
                topics,
                requests,
            } => Handler::Namesrv {
                brokers: brokers.clone(),
                topics: topics.clone(),
                requests: requests.clone(),
            },
            Handler::Broker(b) => Handler::Broker(b.clone()),
        }
    }
}

async fn serve(listener: TcpListener, handler: Handler) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            return;
        };
        tokio::spawn(connection(stream, peer, handler.clone()));
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, handler: Handler) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<RemotingCommand>(1024);
    if let Handler::Broker(b) = &handler {
        b.lock().unwrap().clients.push(tx.clone());
    }
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            let mut out = BytesMut::new();
            cmd.encode(&mut out).unwrap();
            if wr.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while let Ok(Some(cmd)) = decoder.decode(&mut buf) {
            if cmd.is_response() {
                if let Handler::Broker(b) = &handler {
                    b.lock().unwrap().responses.push(cmd);
                }
                continue;
            }
            let handler = handler.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let oneway = cmd.is_oneway();
                if let Some(reply) = handle(&handler, cmd, peer).await
                    && !oneway
                {
                    let _ = tx.send(reply).await;
                }
            });
        }
    }
}

async fn handle(
    handler: &Handler,
    cmd: RemotingCommand,
    peer: SocketAddr,
) -> Option<RemotingCommand> {
    match handler {
        Handler::Namesrv {
            brokers,
            topics,
            requests,
        } => {
            requests.lock().unwrap().push(cmd.clone());
            Some(route_reply(&cmd, brokers, &topics.lock().unwrap()))
        }
        Handler::Broker(b) => {
            b.lock().unwrap().requests.push(cmd.clone());
            broker_reply(b, cmd, peer).await
        }
    }
}

fn route_reply(
    cmd: &RemotingCommand,
    brokers: &[(String, String)],
    topics: &BTreeMap<String, i32>,
) -> RemotingCommand {
    let header: GetRouteInfoRequestHeader = cmd.decode_header().unwrap();
    let queues = match topics.get(&header.topic) {
        Some(q) => *q,
        None if header.topic == "TBW102" => 8,
        None => {
            return RemotingCommand::response_to(
                cmd,
                response::TOPIC_NOT_EXIST,
                Some(format!(
                    "No topic route info in name server for the topic: {}",
                    header.topic
                )),
            );
        }
    };
    let route = TopicRouteData {
        broker_datas: brokers
            .iter()
            .map(|(name, addr)| BrokerData {
                broker_addrs: [(0i64, addr.clone())].into_iter().collect(),
                broker_name: name.clone(),
                cluster: "DefaultCluster".into(),
                enable_acting_master: false,
            })
            .collect(),
        queue_datas: brokers
            .iter()
            .map(|(name, _)| QueueData {
                broker_name: name.clone(),
                perm: 6,
                read_queue_nums: queues,
                write_queue_nums: queues,
                topic_sys_flag: 0,
            })
            .collect(),
        ..Default::default()
    };
    RemotingCommand::response_to(cmd, response::SUCCESS, None)
        .with_body(encode_json(&route).unwrap())
}

fn ok(cmd: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(cmd, response::SUCCESS, None)
}

fn store(
    b: &mut BrokerState,
    topic: &str,
    queue_id: i32,
    flag: i32,
    sys_flag: i32,
    body: Bytes,
    properties: String,
    reconsume_times: i32,
) -> i64 {
    let q = b.queues.entry((topic.to_string(), queue_id)).or_default();
    let offset = q.len() as i64;
    q.push(Stored {
        topic: topic.to_string(),
        queue_id,
        offset,
        flag,
        sys_flag,
        body,
        properties,
        reconsume_times,
    });
    b.next_physical += 1;
    offset
}

async fn broker_reply(
    b: &Broker,
    cmd: RemotingCommand,
    peer: SocketAddr,
) -> Option<RemotingCommand> {
    match cmd.code {
        request::HEART_BEAT => {
            let hb: HeartbeatData = decode_json(&cmd.body).unwrap();
            b.lock().unwrap().heartbeats.push(hb);
            Some(ok(&cmd))
        }
        request::UNREGISTER_CLIENT => {
            let h: UnregisterClientRequestHeader = cmd.decode_header().unwrap();
            b.lock()
                .unwrap()
                .heartbeats
                .retain(|hb| hb.client_id != h.client_id);
            Some(ok(&cmd))
        }
        request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => Some(send_reply(b, &cmd)),
        request::PULL_MESSAGE => Some(pull_reply(b, &cmd, peer).await),
        request::QUERY_CONSUMER_OFFSET => {
            let h: QueryConsumerOffsetRequestHeader = cmd.decode_header().unwrap();
            let st = b.lock().unwrap();
            match st.offsets.get(&(h.consumer_group, h.topic, h.queue_id)) {
                Some(o) => {
                    Some(ok(&cmd).with_header(&QueryConsumerOffsetResponseHeader { offset: *o }))
                }
                None => Some(RemotingCommand::response_to(
                    &cmd,
                    response::QUERY_NOT_FOUND,
                    Some("Not found".into()),
                )),
            }
        }
        request::UPDATE_CONSUMER_OFFSET => {
            let h: UpdateConsumerOffsetRequestHeader = cmd.decode_header().unwrap();
            b.lock()
                .unwrap()
                .offsets
                .insert((h.consumer_group, h.topic, h.queue_id), h.commit_offset);
            Some(ok(&cmd))
        }
        request::GET_MAX_OFFSET => {
            let h: GetMaxOffsetRequestHeader = cmd.decode_header().unwrap();
            let st = b.lock().unwrap();
            let max = st
                .queues
                .get(&(h.topic, h.queue_id))
                .map(|q| q.len() as i64)
                .unwrap_or(0);
            Some(ok(&cmd).with_header(&GetMaxOffsetResponseHeader { offset: max }))
        }
        request::SEARCH_OFFSET_BY_TIMESTAMP => {
            Some(ok(&cmd).with_header(&SearchOffsetResponseHeader { offset: 0 }))
        }
        request::GET_CONSUMER_LIST_BY_GROUP => {
            let st = b.lock().unwrap();
            let mut ids: Vec<String> = st
                .heartbeats
                .iter()
                .filter(|h| !h.consumer_data_set.is_empty())
                .map(|h| h.client_id.clone())
                .collect();
            ids.sort();
            ids.dedup();
            let body = ConsumerListByGroupResponseBody {
                consumer_id_list: ids,
            };
            Some(ok(&cmd).with_body(encode_json(&body).unwrap()))
        }
        request::CONSUMER_SEND_MSG_BACK => Some(match b.lock().unwrap().fail_send_back_with {
            Some(code) => {
                RemotingCommand::response_to(&cmd, code, Some("injected send-back failure".into()))
            }
            None => ok(&cmd),
        }),
        _ => Some(RemotingCommand::response_to(
            &cmd,
            response::REQUEST_CODE_NOT_SUPPORTED,
            None,
        )),
    }
}

fn send_reply(b: &Broker, cmd: &RemotingCommand) -> RemotingCommand {
    let h: SendMessageRequestHeaderV2 = cmd.decode_header().unwrap();
    let mut st = b.lock().unwrap();
    if let Some(code) = st.fail_sends_with {
        return RemotingCommand::response_to(cmd, code, Some("injected failure".into()));
    }
    let props = h.properties.clone().unwrap_or_default();
    let first = if cmd.code == request::SEND_BATCH_MESSAGE {
        let entries = decode_batch(&cmd.body).unwrap();
        let mut first = None;
        for e in entries {
            let o = store(
                &mut st,
                &h.topic,
                h.queue_id,
                e.flag,
                0,
                e.body,
                e.properties,
                0,
            );
            first.get_or_insert(o);
        }
        first.unwrap_or(0)
    } else {
        store(
            &mut st,
            &h.topic,
            h.queue_id,
            h.flag,
            h.sys_flag,
            cmd.body.clone(),
            props,
            h.reconsume_times.unwrap_or(0),
        )
    };
    let header = SendMessageResponseHeader {
        msg_id: format!("7F00000100002A9F{:016X}", st.next_physical),
        queue_id: h.queue_id,
        queue_offset: first,
        transaction_id: None,
        msg_region: Some("DefaultRegion".into()),
        trace_on: Some(true),
    };
    ok(cmd).with_header(&header)
}

/// Pull: answers at once with what exists, or holds briefly (up to 200 ms,
/// polling) and answers PULL_NOT_FOUND.
async fn pull_reply(b: &Broker, cmd: &RemotingCommand, peer: SocketAddr) -> RemotingCommand {
    let h: PullMessageRequestHeader = cmd.decode_header().unwrap();
    if h.sys_flag & 1 != 0 {
        b.lock().unwrap().offsets.insert(
            (h.consumer_group.clone(), h.topic.clone(), h.queue_id),
            h.commit_offset,
        );
    }
    for _ in 0..10 {
        let found = {
            let st = b.lock().unwrap();
            let q = st
                .queues
                .get(&(h.topic.clone(), h.queue_id))
                .cloned()
                .unwrap_or_default();
            let max = q.len() as i64;
            let picked: Vec<Stored> = q
                .into_iter()
                .filter(|m| m.offset >= h.queue_offset)
                .take(h.max_msg_nums.max(1) as usize)
                .collect();
            (picked, max, st.addr.clone())
        };
        let (picked, max, addr) = found;
        if !picked.is_empty() {
            let next = picked.last().unwrap().offset + 1;
            let mut body = Vec::new();
            for m in &picked {
                let rec = MessageRecord {
                    queue_id: m.queue_id,
                    flag: m.flag,
                    queue_offset: m.offset,
                    physical_offset: m.offset * 1000,
                    sys_flag: m.sys_flag,
                    born_timestamp: 1,
                    born_host: peer,
                    store_timestamp: 2,
                    store_host: addr.parse().unwrap(),
                    reconsume_times: m.reconsume_times,
                    prepared_transaction_offset: 0,
                    body: m.body.clone(),
                    topic: m.topic.clone(),
                    properties: m.properties.clone(),
                };
                rec.encode(&mut body).unwrap();
            }
            let header = PullMessageResponseHeader {
                suggest_which_broker_id: 0,
                next_begin_offset: next,
                min_offset: 0,
                max_offset: max,
                topic_sys_flag: None,
                group_sys_flag: None,
            };
            return ok(cmd)
                .with_header(&header)
                .with_body(body)
                .with_remark("FOUND");
        }
        if h.sys_flag & 2 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let max = {
        let st = b.lock().unwrap();
        st.queues
            .get(&(h.topic.clone(), h.queue_id))
            .map(|q| q.len() as i64)
            .unwrap_or(0)
    };
    let header = PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: h.queue_offset,
        min_offset: 0,
        max_offset: max,
        topic_sys_flag: None,
        group_sys_flag: None,
    };
    RemotingCommand::response_to(
        cmd,
        response::PULL_NOT_FOUND,
        Some("OFFSET_OVERFLOW_ONE".into()),
    )
    .with_header(&header)
}

/// The captured wire frames, inside this repository (`fixtures/wire`,
/// described in `fixtures/README.md`).
pub const WIRE_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wire");

/// The bytes of one captured frame. A fixture that cannot be read fails the
/// test that asked for it (naming the path): nothing is skipped.
pub fn wire_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(WIRE_FIXTURES).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("wire fixture {}: {e}", path.display()))
}
