//! The consuming RPCs (ReceiveMessage, AckMessage, ChangeInvisibleDuration)
//! as remoting POP requests: POP_MESSAGE on queue -1, ACK_MESSAGE and
//! CHANGE_MESSAGE_INVISIBLETIME, with the receipt handles of
//! [`crate::handles`].

use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::pop::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    ExtraInfo, PopMessageRequestHeader,
};
use tonic::Request;

use super::{
    ACK_ENTRIES_MAX, INVISIBLE_MS_MAX, INVISIBLE_MS_MIN, Messaging, POLL_MS_MAX, POP_INIT_MODE_MIN,
    RECEIVE_BATCH_SIZE, ok, remoting_refusal, resource_name, status,
};
use crate::convert;
use crate::handles::ReceiptHandle;
use crate::pb;
use crate::session::Session;

impl Messaging {
    pub(super) async fn receive_inner(
        &self,
        request: Request<pb::ReceiveMessageRequest>,
    ) -> Result<Vec<pb::Message>, pb::Status> {
        let session = self.session(&request)?;
        let req = request.get_ref();
        let group = resource_name(req.group.as_ref(), pb::Code::IllegalConsumerGroup)?;
        let topic = resource_name(
            req.message_queue.as_ref().and_then(|q| q.topic.as_ref()),
            pb::Code::IllegalTopic,
        )?;
        let invisible_ms = req
            .invisible_duration
            .as_ref()
            .map(convert::duration_ms)
            .ok_or_else(|| {
                status(
                    pb::Code::IllegalInvisibleTime,
                    "invisible_duration is required",
                )
            })?;
        if !(INVISIBLE_MS_MIN..=INVISIBLE_MS_MAX).contains(&invisible_ms) {
            return Err(status(
                pb::Code::IllegalInvisibleTime,
                format!("invisible_duration must be {INVISIBLE_MS_MIN}..={INVISIBLE_MS_MAX} ms"),
            ));
        }
        let poll_ms = req
            .long_polling_timeout
            .as_ref()
            .map_or(0, convert::duration_ms)
            .min(POLL_MS_MAX);
        let (exp_type, exp) = match req.filter_expression.as_ref() {
            Some(filter) if filter.r#type() == pb::FilterType::Sql => {
                ("SQL92".to_owned(), filter.expression.clone())
            }
            Some(filter) if !filter.expression.is_empty() => {
                ("TAG".to_owned(), filter.expression.clone())
            }
            _ => ("TAG".to_owned(), "*".to_owned()),
        };
        let header = PopMessageRequestHeader {
            consumer_group: group,
            topic: topic.clone(),
            queue_id: -1,
            max_msg_nums: req.batch_size.clamp(1, RECEIVE_BATCH_SIZE),
            invisible_time: invisible_ms,
            poll_time: poll_ms,
            born_time: ringmq_net::message_id::now_ms(),
            init_mode: POP_INIT_MODE_MIN,
            exp_type: Some(exp_type),
            exp: Some(exp),
            order: Some(false),
            attempt_id: req.attempt_id.clone(),
        };
        let command = RemotingCommand::request(request::POP_MESSAGE).with_header(&header);
        let reply = self
            .call(&session, command)
            .await?
            .ok_or_else(|| status(pb::Code::InternalServerError, "the broker gave no answer"))?;
        match reply.code {
            response::SUCCESS => {}
            response::POLLING_TIMEOUT | response::NO_MESSAGE | response::PULL_NOT_FOUND => {
                return Ok(Vec::new());
            }
            response::POLLING_FULL => {
                return Err(status(
                    pb::Code::TooManyRequests,
                    "too many receives wait on this broker",
                ));
            }
            code => return Err(remoting_refusal(code, reply.remark.as_deref())),
        }
        self.popped_messages(&reply.body, &topic, invisible_ms)
    }

    /// The gRPC messages of a POP_MESSAGE body, each with its receipt handle.
    fn popped_messages(
        &self,
        mut body: &[u8],
        topic: &str,
        invisible_ms: i64,
    ) -> Result<Vec<pb::Message>, pb::Status> {
        let store_host = self.gateway.state().store_host;
        let corrupt = |what: String| status(pb::Code::InternalServerError, what);
        let mut messages = Vec::new();
        while !body.is_empty() {
            let (record, used) = ringmq_net::record::MessageRecord::decode(body)
                .map_err(|err| corrupt(format!("a popped record does not decode: {err}")))?;
            body = body.get(used..).unwrap_or_default();
            let receipt = ringmq_net::properties::find(&record.properties, convert::POP_CK)
                .ok_or_else(|| corrupt("a popped record has no POP_CK".to_owned()))?;
            let extra_info = ExtraInfo::parse(receipt)
                .map_err(|err| corrupt(format!("a popped record's POP_CK is bad: {err}")))?;
            let handle = ReceiptHandle {
                physical_offset: record.physical_offset,
                extra_info,
            };
            let delivered = convert::Delivered {
                receipt_handle: Some(handle.render()),
                invisible_ms: Some(invisible_ms),
                topic: Some(topic.to_owned()),
            };
            let message = convert::incoming(&record, store_host, delivered)
                .map_err(|err| corrupt(err.to_string()))?;
            messages.push(message);
        }
        Ok(messages)
    }

    /// The queue a receipt's message was popped from: the topic itself or
    /// the group's POP retry topic.
    fn popped_topic(topic: &str, group: &str, receipt: &ExtraInfo) -> String {
        if receipt.retry {
            ringmq_net::topic::pop_retry_topic(topic, group)
        } else {
            topic.to_owned()
        }
    }

    pub(super) async fn ack_inner(
        &self,
        request: Request<pb::AckMessageRequest>,
    ) -> Result<pb::AckMessageResponse, pb::Status> {
        let session = self.session(&request)?;
        let req = request.get_ref();
        let group = resource_name(req.group.as_ref(), pb::Code::IllegalConsumerGroup)?;
        let topic = resource_name(req.topic.as_ref(), pb::Code::IllegalTopic)?;
        if req.entries.is_empty() || req.entries.len() > ACK_ENTRIES_MAX {
            return Err(status(
                pb::Code::BadRequest,
                format!("an ack carries 1..={ACK_ENTRIES_MAX} entries"),
            ));
        }
        let mut entries = Vec::with_capacity(req.entries.len());
        for entry in &req.entries {
            let outcome = self
                .ack_one(&session, &group, &topic, &entry.receipt_handle)
                .await;
            entries.push(pb::AckMessageResultEntry {
                message_id: entry.message_id.clone(),
                receipt_handle: entry.receipt_handle.clone(),
                status: Some(outcome.err().unwrap_or_else(ok)),
            });
        }
        let statuses: Vec<Option<&pb::Status>> =
            entries.iter().map(|e| e.status.as_ref()).collect();
        let top = super::batch_status(&statuses, "some entries were not acked");
        Ok(pb::AckMessageResponse {
            status: Some(top),
            entries,
        })
    }

    async fn ack_one(
        &self,
        session: &Session,
        group: &str,
        topic: &str,
        receipt_handle: &str,
    ) -> Result<(), pb::Status> {
        let handle = ReceiptHandle::parse(receipt_handle)
            .map_err(|err| status(pb::Code::InvalidReceiptHandle, err.to_string()))?;
        let offset = handle
            .extra_info
            .msg_queue_offset
            .unwrap_or(handle.extra_info.ck_queue_offset);
        let header = AckMessageRequestHeader {
            consumer_group: group.to_owned(),
            topic: Self::popped_topic(topic, group, &handle.extra_info),
            queue_id: handle.extra_info.queue_id,
            extra_info: handle.extra_info.render(),
            offset,
        };
        let command = RemotingCommand::request(request::ACK_MESSAGE).with_header(&header);
        self.call_ok(session, command).await.map(|_| ())
    }

    pub(super) async fn change_invisible_inner(
        &self,
        request: Request<pb::ChangeInvisibleDurationRequest>,
    ) -> Result<pb::ChangeInvisibleDurationResponse, pb::Status> {
        let session = self.session(&request)?;
        let req = request.get_ref();
        let group = resource_name(req.group.as_ref(), pb::Code::IllegalConsumerGroup)?;
        let topic = resource_name(req.topic.as_ref(), pb::Code::IllegalTopic)?;
        let handle = ReceiptHandle::parse(&req.receipt_handle)
            .map_err(|err| status(pb::Code::InvalidReceiptHandle, err.to_string()))?;
        let invisible_ms = req
            .invisible_duration
            .as_ref()
            .map(convert::duration_ms)
            .unwrap_or_default();
        if !(0..=INVISIBLE_MS_MAX).contains(&invisible_ms) {
            return Err(status(
                pb::Code::IllegalInvisibleTime,
                format!("invisible_duration must be 0..={INVISIBLE_MS_MAX} ms"),
            ));
        }
        let offset = handle
            .extra_info
            .msg_queue_offset
            .unwrap_or(handle.extra_info.ck_queue_offset);
        let header = ChangeInvisibleTimeRequestHeader {
            consumer_group: group.clone(),
            topic: Self::popped_topic(&topic, &group, &handle.extra_info),
            queue_id: handle.extra_info.queue_id,
            extra_info: handle.extra_info.render(),
            offset,
            invisible_time: invisible_ms,
        };
        let command =
            RemotingCommand::request(request::CHANGE_MESSAGE_INVISIBLETIME).with_header(&header);
        let reply = self
            .call(&session, command)
            .await?
            .ok_or_else(|| status(pb::Code::InternalServerError, "the broker gave no answer"))?;
        if reply.code == response::NO_MESSAGE {
            return Err(status(
                pb::Code::InvalidReceiptHandle,
                "the receipt handle expired or its message was acked",
            ));
        }
        if reply.code != response::SUCCESS {
            return Err(remoting_refusal(reply.code, reply.remark.as_deref()));
        }
        let head: ChangeInvisibleTimeResponseHeader = reply
            .decode_header()
            .map_err(|err| status(pb::Code::InternalServerError, err.to_string()))?;
        // The new receipt names the message itself as its checkpoint start.
        let renewed = ReceiptHandle {
            physical_offset: handle.physical_offset,
            extra_info: ExtraInfo {
                ck_queue_offset: offset,
                pop_time: head.pop_time,
                invisible_time: head.invisible_time,
                revive_qid: head.revive_qid,
                ..handle.extra_info
            },
        };
        Ok(pb::ChangeInvisibleDurationResponse {
            status: Some(ok()),
            receipt_handle: renewed.render(),
        })
    }
}
