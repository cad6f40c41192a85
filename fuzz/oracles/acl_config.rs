// The oracle of the `acl_config` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/acl_config.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/acl_config/` (`include!`, hence no inner attributes or
// inner doc comments here).

use ringmq_net::acl::AclConfig;
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(acl) = AclConfig::parse(text) {
        let mut req = RemotingCommand::request(request::PULL_MESSAGE);
        req.ext_fields
            .insert("AccessKey".into(), text.chars().take(16).collect());
        req.ext_fields.insert("topic".into(), "T".into());
        let _ = acl.check(&req, std::net::IpAddr::from([127, 0, 0, 1]));
    }
}
