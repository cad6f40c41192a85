//! Fuzzes the `plain_acl.yml` parser and the ACL decision: any text must
//! parse or fail with a typed error, never panic; a parsed file must judge
//! any request without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmq_net::acl::AclConfig;
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(acl) = AclConfig::parse(text) {
        let mut req = RemotingCommand::request(request::PULL_MESSAGE);
        req.ext_fields.insert("AccessKey".into(), text.chars().take(16).collect());
        req.ext_fields.insert("topic".into(), "T".into());
        let _ = acl.check(&req, std::net::IpAddr::from([127, 0, 0, 1]));
    }
});
