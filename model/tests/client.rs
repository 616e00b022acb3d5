//! The reference client driven by hand through the exchanges of the OMA interoperability
//! cases (ETS int-0, int-4, int-5, int-8, int-9) and the seed's re-bootstrap: sans-IO, one
//! input at a time, checking each response and each outgoing message.

use bootstrap_model::client::{
    Client, ClientSpec, Content, Input, Outgoing, Output, PackAnswer, Peer, Phase, Timer,
    WriteValue,
};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::objects::{KeyId, ServerUri};
use bootstrap_model::path::Path;
use bootstrap_model::profile::Profile;
use bootstrap_model::system::{account, acl, server_instance, Factory};

const BS: Peer = Peer::BootstrapServer;

fn boot(profile: Profile, factory: Factory) -> (Client, ClientSpec, Output) {
    let spec = ClientSpec::reference(profile);
    let (c, out) = Client::boot(
        &spec,
        factory.store(),
        bootstrap_model::client::Choices::reference(profile),
    );
    (c, spec, out)
}

fn write(path: &str, value: WriteValue) -> Input {
    Input::Write {
        from: BS,
        path: path.parse().unwrap(),
        value,
        keep_server_info: false,
    }
}

fn code(out: &Output) -> ResponseCode {
    out.response.as_ref().expect("a response").code
}

/// Hold-off, Bootstrap-Request, 2.04: the client is in a bootstrap session.
fn open_session(c: &mut Client, spec: &ClientSpec) -> Outgoing {
    let out = c.handle(spec, &Input::TimerExpired(Timer::ClientHoldOff));
    let request = out.send[0].clone();
    if let Outgoing::BootstrapPackRequest { .. } = request {
        let out = c.handle(
            spec,
            &Input::PackAnswer(PackAnswer::Error(ResponseCode::NotImplemented)),
        );
        let request = out.send[0].clone();
        c.handle(
            spec,
            &Input::BootstrapRequestAnswer(Some(ResponseCode::Changed)),
        );
        return request;
    }
    c.handle(
        spec,
        &Input::BootstrapRequestAnswer(Some(ResponseCode::Changed)),
    );
    assert_eq!(c.phase, Phase::Bootstrapping);
    request
}

#[test]
fn ets_int_0_client_initiated_bootstrap_in_1_0() {
    let (mut c, spec, boot_out) = boot(Profile::V1_0, Factory::BootstrapOnly);
    assert!(
        boot_out.send.is_empty(),
        "waits the hold-off first (BS-FACT-05)"
    );
    assert_eq!(
        c.phase,
        Phase::HoldOff {
            target: ServerUri::Bootstrap
        }
    );
    let request = open_session(&mut c, &spec);
    assert_eq!(
        request.to_string(),
        "Bootstrap-Request POST coaps://bs/bs?ep=urn:dev:ref-1",
        "1.0: ep mandatory, no pct (BS-REQ-01)"
    );
    let out = c.handle(
        &spec,
        &write("/0/1", WriteValue::Security(account(0, KeyId(1)))),
    );
    assert_eq!(code(&out), ResponseCode::Changed);
    let out = c.handle(
        &spec,
        &write("/1/0", WriteValue::Server(server_instance(0))),
    );
    assert_eq!(code(&out), ResponseCode::Changed);
    let out = c.handle(
        &spec,
        &Input::Discover {
            from: BS,
            path: Path::Root,
        },
    );
    let r = out.response.unwrap();
    assert_eq!(r.code, ResponseCode::Content);
    assert_eq!(
        r.content.unwrap().link_format().unwrap(),
        "lwm2m=\"1.0\",</0/0>,</0/1>;ssid=1,</1/0>;ssid=1,</2>,</3/0>"
    );
    let out = c.handle(&spec, &Input::Finish { from: BS });
    assert_eq!(code(&out), ResponseCode::Changed);
    assert_eq!(out.send.len(), 1);
    assert_eq!(
        out.send[0].to_string(),
        "Register POST coaps://dm0/rd?ep=urn:dev:ref-1&lt=300&lwm2m=1.0&b=U </1/0>,</3/0>",
        "no /0 in the object list (BS-REG-04)"
    );
}

#[test]
fn discover_in_1_1_uses_the_root_link_and_lists_uris() {
    let (mut c, spec, _) = boot(Profile::V1_1, Factory::BootstrapOnly);
    let request = open_session(&mut c, &spec);
    assert!(
        request.to_string().ends_with("ep=urn:dev:ref-1&pct=11542"),
        "{request}"
    );
    c.handle(
        &spec,
        &write("/0/1", WriteValue::Security(account(0, KeyId(1)))),
    );
    let out = c.handle(
        &spec,
        &Input::Discover {
            from: BS,
            path: Path::Object(0),
        },
    );
    assert_eq!(
        out.response
            .unwrap()
            .content
            .unwrap()
            .link_format()
            .unwrap(),
        "</>;lwm2m=1.1,</0/0>,</0/1>;ssid=1;uri=\"coaps://dm0\""
    );
    let out = c.handle(
        &spec,
        &Input::Discover {
            from: BS,
            path: Path::Object(5),
        },
    );
    assert_eq!(code(&out), ResponseCode::NotFound);
}

#[test]
fn ets_int_9_finish_refused_on_an_inconsistent_configuration_then_corrected() {
    let (mut c, spec, _) = boot(Profile::V1_1, Factory::BootstrapOnly);
    open_session(&mut c, &spec);
    c.handle(&spec, &write("/1/0/1", WriteValue::Lifetime(86400)));
    let out = c.handle(&spec, &Input::Finish { from: BS });
    assert_eq!(code(&out), ResponseCode::NotAcceptable, "BS-FIN-02/03");
    assert!(out.send.is_empty());
    assert_eq!(
        c.phase,
        Phase::Bootstrapping,
        "BS-FIN-04: still in bootstrap"
    );
    c.handle(
        &spec,
        &write("/0/1", WriteValue::Security(account(0, KeyId(1)))),
    );
    c.handle(
        &spec,
        &write("/1/0", WriteValue::Server(server_instance(0))),
    );
    let out = c.handle(&spec, &Input::Finish { from: BS });
    assert_eq!(code(&out), ResponseCode::Changed);
    assert!(matches!(
        &out.send[0],
        Outgoing::Register { lifetime: 300, .. }
    ));
}

#[test]
fn ets_int_4_delete_keeps_the_bootstrap_account_and_the_device() {
    let (mut c, spec, _) = boot(Profile::V1_1, Factory::ServerAndBootstrap);
    c.handle(
        &spec,
        &Input::ExecuteBootstrapTrigger {
            from: Peer::Server(0),
            instance: 0,
        },
    );
    open_session(&mut c, &spec);
    let out = c.handle(
        &spec,
        &Input::Delete {
            from: BS,
            path: Path::Root,
        },
    );
    assert_eq!(code(&out), ResponseCode::Deleted);
    let out = c.handle(
        &spec,
        &Input::Discover {
            from: BS,
            path: Path::Root,
        },
    );
    assert_eq!(
        out.response
            .unwrap()
            .content
            .unwrap()
            .link_format()
            .unwrap(),
        "</>;lwm2m=1.1,</0/0>,</1>,</2>,</3/0>",
        "BS-WIPE-03"
    );
    let out = c.handle(
        &spec,
        &Input::Delete {
            from: BS,
            path: "/0/0".parse().unwrap(),
        },
    );
    assert_eq!(
        code(&out),
        ResponseCode::Deleted,
        "A-06: reference answers 2.02"
    );
    assert!(c.store.bootstrap_account().is_some(), "BS-DEL-03");
    let out = c.handle(
        &spec,
        &Input::Delete {
            from: BS,
            path: "/0/0/5".parse().unwrap(),
        },
    );
    assert_eq!(
        code(&out),
        ResponseCode::BadRequest,
        "BS-DEL-01: no resource paths"
    );
}

#[test]
fn ets_int_5_trigger_and_int_8_read() {
    let (mut c, spec, _) = boot(Profile::V1_2, Factory::ServerAndBootstrap);
    let out = c.handle(
        &spec,
        &Input::ExecuteBootstrapTrigger {
            from: Peer::Server(0),
            instance: 0,
        },
    );
    assert_eq!(code(&out), ResponseCode::Changed, "BS-RB-03");
    assert!(matches!(c.phase, Phase::HoldOff { .. }));
    let request = open_session(&mut c, &spec);
    assert!(
        request.to_string().starts_with("Bootstrap-Request"),
        "after the Pack fallback"
    );
    let out = c.handle(
        &spec,
        &Input::Read {
            from: BS,
            path: Path::Object(1),
        },
    );
    assert_eq!(code(&out), ResponseCode::Content);
    assert!(matches!(out.response.unwrap().content, Some(Content::Servers(v)) if v.len() == 1));
    let out = c.handle(
        &spec,
        &Input::Read {
            from: BS,
            path: Path::Object(0),
        },
    );
    assert_eq!(
        code(&out),
        ResponseCode::MethodNotAllowed,
        "BS-READ-02, A-05"
    );
    let out = c.handle(
        &spec,
        &Input::Read {
            from: BS,
            path: "/2/7".parse().unwrap(),
        },
    );
    assert_eq!(code(&out), ResponseCode::NotFound);
}

#[test]
fn management_servers_cannot_write_security_and_commands_outside_a_session_are_refused() {
    let (mut c, spec, _) = boot(Profile::V1_1, Factory::ServerAndBootstrap);
    let before = c.store.clone();
    let out = c.handle(
        &spec,
        &Input::Write {
            from: Peer::Server(0),
            path: "/0/1".parse().unwrap(),
            value: WriteValue::Security(account(0, KeyId(9))),
            keep_server_info: false,
        },
    );
    assert_eq!(code(&out), ResponseCode::Unauthorized, "BS-OBJ-02");
    let out = c.handle(
        &spec,
        &write("/0/1", WriteValue::Security(account(0, KeyId(9)))),
    );
    assert_eq!(
        code(&out),
        ResponseCode::BadRequest,
        "1.1 reference refuses pushes (A-10)"
    );
    assert_eq!(c.store, before);
}

#[test]
fn seed_re_bootstrap_cascades_unless_keep_server_info() {
    for keep in [false, true] {
        let (mut c, spec, _) = boot(Profile::Seed, Factory::ServerAndBootstrap);
        let out = c.handle(
            &spec,
            &Input::ReBootstrapNotification {
                from: Peer::Server(0),
                uri: ServerUri::BootstrapAlternate,
            },
        );
        assert_eq!(code(&out), ResponseCode::Changed);
        let request = open_session(&mut c, &spec);
        assert_eq!(
            request.to_string(),
            "Bootstrap-Request POST coaps://bs-alt/bs?ep=urn:dev:ref-1&dev=lwm2m-bootstrap-model reference&sm=0,3",
            "Step 1 goes to the notified URI with device info and security modes (BS-RB-02)"
        );
        let out = c.handle(
            &spec,
            &Input::Write {
                from: BS,
                path: "/0/1".parse().unwrap(),
                value: WriteValue::Security(account(0, KeyId(7))),
                keep_server_info: keep,
            },
        );
        assert_eq!(code(&out), ResponseCode::Changed);
        assert_eq!(c.store.security.get(1).unwrap().key, Some(KeyId(7)));
        if keep {
            assert_eq!(
                c.store.server.get(0),
                Some(&server_instance(0)),
                "BS-KEEP-01"
            );
            assert_eq!(c.store.access_control.get(0), Some(&acl(0)), "BS-KEEP-01");
        } else {
            assert!(c.store.server.is_empty(), "BS-WIPE-01");
            assert!(c.store.access_control.is_empty(), "BS-WIPE-01");
        }
    }
}

#[test]
fn published_profiles_never_cascade_and_ignore_keep_server_info() {
    for keep in [false, true] {
        let (mut c, spec, _) = boot(Profile::V1_0, Factory::ServerAndBootstrap);
        // 1.0 Server Initiated Bootstrap: the BS pushes without a request (BS-RB-04).
        let out = c.handle(
            &spec,
            &Input::Write {
                from: BS,
                path: "/0/1".parse().unwrap(),
                value: WriteValue::Security(account(0, KeyId(7))),
                keep_server_info: keep,
            },
        );
        assert_eq!(code(&out), ResponseCode::Changed);
        assert_eq!(c.phase, Phase::Bootstrapping);
        assert_eq!(
            c.store.server.get(0),
            Some(&server_instance(0)),
            "BS-KEEP-02/03"
        );
        assert_eq!(
            c.store.access_control.get(0),
            Some(&acl(0)),
            "BS-KEEP-02/03"
        );
    }
}

#[test]
fn failed_bootstrap_restores_the_bootstrap_account() {
    let (mut c, spec, _) = boot(Profile::V1_1, Factory::BootstrapOnly);
    open_session(&mut c, &spec);
    let before = *c.store.bootstrap_account().unwrap().1;
    let mut changed = before;
    changed.account_timeout = Some(5);
    c.handle(&spec, &write("/0/0", WriteValue::Security(changed)));
    c.handle(&spec, &Input::TimerExpired(Timer::ExchangeLifetime));
    assert_eq!(c.store.bootstrap_account().unwrap().1, &before, "BS-CI-04");
    assert!(
        matches!(c.phase, Phase::HoldOff { .. }),
        "BS-CI-03: bootstrap failed, retry"
    );
}
