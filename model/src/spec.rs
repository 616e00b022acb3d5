//! What the specification accepts as the client's answer to one input, computed from the
//! state before the input and independently of the reference client's code paths (so that an
//! injected bug in the client is judged against this, not against itself). Where several
//! answers are allowed (ambiguities) the set holds all of them.

use crate::client::{Client, Input, Peer, Phase, WriteValue};
use crate::code::{CodeSet, ResponseCode};
use crate::path::{Path, ACCESS_CONTROL, DEVICE, SECURITY, SERVER};
use crate::profile::{
    missing_delete_codes, protected_delete_codes, refusal_codes, Operation, Profile, PushAcceptance,
};

/// The response codes the specification accepts for `input` given the client state `pre`,
/// or `None` when the input gets no response (answers to the client's own requests, timers)
/// or is judged elsewhere (a CoAP duplicate, judged against the first answer).
pub fn expected_codes(profile: Profile, pre: &Client, input: &Input) -> Option<CodeSet> {
    use ResponseCode::*;
    let from = match input {
        Input::Write { from, .. }
        | Input::Read { from, .. }
        | Input::Discover { from, .. }
        | Input::Delete { from, .. }
        | Input::Finish { from } => *from,
        Input::ExecuteBootstrapTrigger { instance, .. } => {
            return Some(
                if !profile.supports(Operation::BootstrapRequestTrigger)
                    || pre.store.server.get(*instance).is_none()
                {
                    CodeSet::of(&[NotFound])
                } else if pre.store.bootstrap_account().is_some() {
                    // BS-RB-03.
                    CodeSet::of(&[Changed])
                } else {
                    // BS-RB-06: nothing to bootstrap with; the answer is not specified.
                    CodeSet::of(&[Changed, BadRequest, MethodNotAllowed])
                },
            );
        }
        Input::ReBootstrapNotification { .. } => return Some(CodeSet::of(&[Changed])),
        _ => return None,
    };
    if from != Peer::BootstrapServer {
        // BS-OBJ-02: Security is invisible on the DM interface.
        return Some(CodeSet::of(&[Unauthorized]));
    }
    if pre.phase == Phase::Bootstrapping {
        return Some(in_session(profile, pre, input));
    }
    let has_bs = pre.store.bootstrap_account().is_some();
    Some(match profile.push_acceptance() {
        PushAcceptance::Required if has_bs => in_session(profile, pre, input),
        PushAcceptance::Allowed if has_bs => {
            let a = in_session(profile, pre, input);
            CodeSet::of(&a.codes().chain(refusal_codes().codes()).collect::<Vec<_>>())
        }
        _ => refusal_codes(),
    })
}

fn in_session(profile: Profile, pre: &Client, input: &Input) -> CodeSet {
    use ResponseCode::*;
    let store = &pre.store;
    let exists = |o: u16, i: u16| match o {
        SECURITY => store.security.get(i).is_some(),
        SERVER => store.server.get(i).is_some(),
        ACCESS_CONTROL => store.access_control.get(i).is_some(),
        DEVICE => i == 0 && store.device,
        _ => false,
    };
    match input {
        // BS-WRITE-06.
        Input::Write { path, value, .. } => CodeSet::of(&[match (path, value) {
            (_, WriteValue::UnsupportedContentFormat) => UnsupportedContentFormat,
            (_, WriteValue::Undecodable) => BadRequest,
            (Path::Instance(SECURITY, _), WriteValue::Security(_))
            | (Path::Resource(SECURITY, _, 5), WriteValue::SecretKey(_))
            | (Path::Instance(SERVER, _), WriteValue::Server(_))
            | (Path::Resource(SERVER, _, 1), WriteValue::Lifetime(_))
            | (Path::Instance(ACCESS_CONTROL, _), WriteValue::AccessControl(_))
            | (Path::Object(SERVER), WriteValue::ServerObject(_)) => Changed,
            _ => BadRequest,
        }]),
        // BS-DEL-01..05, A-06.
        Input::Delete { path, .. } => match *path {
            Path::Resource(..) => CodeSet::of(&[BadRequest]),
            Path::Root | Path::Object(_) => CodeSet::of(&[Deleted]),
            Path::Instance(SECURITY, x)
                if store.security.get(x).is_some_and(|s| s.is_bootstrap()) =>
            {
                protected_delete_codes()
            }
            Path::Instance(DEVICE, _) => protected_delete_codes(),
            Path::Instance(o, i) if exists(o, i) => CodeSet::of(&[Deleted]),
            Path::Instance(..) => missing_delete_codes(),
        },
        // BS-DISC-01, BS-DISC-05.
        Input::Discover { path, .. } => match *path {
            Path::Root => CodeSet::of(&[Content]),
            Path::Object(o) if o <= DEVICE => CodeSet::of(&[Content]),
            Path::Object(_) => CodeSet::of(&[NotFound]),
            _ => CodeSet::of(&[BadRequest]),
        },
        // BS-READ-01..04, A-05.
        Input::Read { path, .. } => match path.object() {
            Some(o) if profile.readable(o) => match path.instance() {
                Some(i) if !exists(o, i) => CodeSet::of(&[NotFound]),
                _ => CodeSet::of(&[Content]),
            },
            _ => refusal_codes(),
        },
        // BS-FIN-02/03, A-04.
        Input::Finish { .. } => {
            if store.consistency(false).is_err() {
                CodeSet::of(&[NotAcceptable])
            } else if store.consistency(true).is_err() {
                CodeSet::of(&[Changed, NotAcceptable])
            } else {
                CodeSet::of(&[Changed])
            }
        }
        _ => CodeSet::default(),
    }
}
