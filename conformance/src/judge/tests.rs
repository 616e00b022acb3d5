//! The judge against hand-written answers: what a conforming client may say passes, and
//! each rule fails when broken.

use super::*;
use crate::expectation::{
    Allowance, Attr, BindingRule, ContentRule, DiscoverRule, Expectation, IfAbsent, InstanceValues,
    LinkRule, Listing, Presence, ReadRule, ResourceRule, ResourceValue, ResponseRule, SendRule,
    VersionRule,
};
use crate::links::VersionStyle;
use crate::records::Value;
use crate::wire::{CoapMessage, Encoded, UriMap, LINK_FORMAT};
use bootstrap_model::objects::ServerUri;
use bootstrap_model::path::Path;

fn uris() -> UriMap {
    UriMap::canonical(2)
}

fn ctx(u: &UriMap) -> Context<'_> {
    Context {
        uris: u,
        endpoint: "urn:dev:ref-1",
    }
}

fn link(path: Path, ssid: Attr<u16>, uri: Attr<ServerUri>) -> LinkRule {
    LinkRule { path, ssid, uri }
}

/// Discover after a server account was written at /0/1 (1.1): BS instance without ssid,
/// /0/1 with ssid 1 and its uri, /3/0; /1 listed; /0/2 deleted.
fn discover_rule() -> Expectation {
    Expectation {
        response: Some(ResponseRule {
            codes: vec!["2.05".into()],
            content: Some(ContentRule::Discover(DiscoverRule {
                target: Path::Root,
                version: VersionRule {
                    version: "1.1".into(),
                    styles: vec![VersionStyle::Bare, VersionStyle::RootLink],
                },
                listing: Listing {
                    required: vec![
                        link(Path::Instance(0, 0), Attr::Absent, Attr::Any),
                        link(
                            Path::Instance(0, 1),
                            Attr::Equals(1),
                            Attr::Equals(ServerUri::Server(0)),
                        ),
                        link(Path::Instance(3, 0), Attr::Any, Attr::Any),
                    ],
                    required_objects: vec![1],
                    absent: vec![Path::Instance(0, 2)],
                    complete: vec![],
                    forbidden_objects: vec![],
                },
            })),
        }),
        ..Expectation::default()
    }
}

fn answer(text: &str) -> ObservedResponse {
    ObservedResponse {
        code: "2.05".into(),
        payload: Some(Encoded::new(LINK_FORMAT, text.as_bytes())),
        accept: Some(LINK_FORMAT),
    }
}

#[test]
fn discover_answers_that_differ_as_real_clients_do_pass() {
    let u = uris();
    let e = discover_rule();
    for ok in [
        r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=1;uri="coap://127.0.0.1:5693",</1>,</2>,</3/0>"#,
        // Other objects, ver=, unknown attributes, another order, uri on the BS instance,
        // the bare version element of 1.1.
        r#"lwm2m="1.1",</3303/0>;ver=1.1,</5/0>,</4/0>,</3/0>;foo,</1>;ver=1.1,</0/1>;uri="coap://127.0.0.1:5693";ssid=1,</0/0>;uri="coap://127.0.0.1:5783",</10241>"#,
    ] {
        assert_eq!(judge(ctx(&u), &e, Some(&answer(ok)), &[]), Ok(()), "{ok}");
    }
}

#[test]
fn discover_answers_that_break_a_rule_fail_naming_it() {
    let u = uris();
    let e = discover_rule();
    for (bad, says) in [
        (r#"</>;lwm2m=1.1,</0/0>,</1>,</3/0>"#, "does not list /0/1"),
        (
            r#"</>;lwm2m=1.1,</0/0>,</0/1>;uri="coap://127.0.0.1:5693",</1>,</3/0>"#,
            "without ssid=1",
        ),
        (
            r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=1,</1>,</3/0>"#,
            "without uri=",
        ),
        (
            r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=2;uri="coap://127.0.0.1:5693",</1>,</3/0>"#,
            "ssid=2",
        ),
        (
            r#"</>;lwm2m=1.1,</0/0>;ssid=0,</0/1>;ssid=1;uri="coap://127.0.0.1:5693",</1>,</3/0>"#,
            "Bootstrap-Server Account has no Short Server ID",
        ),
        (
            r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=1;uri="coap://127.0.0.1:5693",</0/2>,</1>,</3/0>"#,
            "must be gone",
        ),
        (
            r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=1;uri="coap://127.0.0.1:5693",</3/0>"#,
            "object /1",
        ),
        (
            r#"</>;lwm2m=1.0,</0/0>,</0/1>;ssid=1;uri="coap://127.0.0.1:5693",</1>,</3/0>"#,
            "lwm2m=1.0",
        ),
        (
            r#"</0/0>,</0/1>;ssid=1;uri="coap://127.0.0.1:5693",</1>,</3/0>"#,
            "no version element",
        ),
        (
            r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=1;uri="coap://127.0.0.1:5693",</1>,</3/0>,</3/0/1>"#,
            "resource",
        ),
        (r#"</>;lwm2m=1.1,</0/0>,</0/1"#, "not link-format"),
    ] {
        let got = judge(ctx(&u), &e, Some(&answer(bad)), &[]);
        match got {
            Err(Finding::Fail { detail, tier: None }) => {
                assert!(detail.contains(says), "{bad}: {detail}");
                // The evidence is quoted as sent.
                assert!(
                    detail.contains(bad) || says == "not link-format",
                    "{detail}"
                );
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_code_outside_the_set_is_a_failure_that_names_it() {
    let u = uris();
    let e = Expectation {
        response: Some(ResponseRule {
            codes: vec!["2.04".into()],
            content: None,
        }),
        ..Expectation::default()
    };
    let r = ObservedResponse {
        code: "4.02".into(),
        payload: None,
        accept: None,
    };
    match judge(ctx(&u), &e, Some(&r), &[]) {
        Err(Finding::Fail { detail, .. }) => {
            assert!(detail.contains("4.02 Bad Option"), "{detail}");
            assert!(detail.contains("2.04 Changed"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

fn read_rule() -> Expectation {
    Expectation {
        response: Some(ResponseRule {
            codes: vec!["2.05".into()],
            content: Some(ContentRule::Read(ReadRule {
                target: Path::Object(1),
                instances: vec![InstanceValues {
                    instance: 0,
                    resources: vec![
                        ResourceRule {
                            resource: 0,
                            value: ResourceValue::Single(Value::Int(1)),
                        },
                        ResourceRule {
                            resource: 1,
                            value: ResourceValue::Single(Value::Int(300)),
                        },
                    ],
                    factory: false,
                }],
                absent: vec![3],
                complete: false,
                allowed: vec![Allowance {
                    resource: 16,
                    value: Some(Value::Bool(true)),
                    why: "default".into(),
                }],
            })),
        }),
        ..Expectation::default()
    }
}

fn senml(json: &str) -> ObservedResponse {
    ObservedResponse {
        code: "2.05".into(),
        payload: Some(Encoded::new(crate::senml::CONTENT_FORMAT, json.as_bytes())),
        accept: Some(crate::senml::CONTENT_FORMAT),
    }
}

#[test]
fn read_answers_carry_the_written_values_and_defaults_only() {
    let u = uris();
    let e = read_rule();
    for ok in [
        r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300}]"#,
        r#"[{"bn":"/1/0/","n":"1","v":300},{"n":"16","vb":true},{"n":"0","v":1}]"#,
    ] {
        assert_eq!(judge(ctx(&u), &e, Some(&senml(ok)), &[]), Ok(()), "{ok}");
    }
    for (bad, says) in [
        (r#"[{"bn":"/1/0/","n":"0","v":1}]"#, "lacks /1/0/1"),
        (
            r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":600}]"#,
            "the value written is 300",
        ),
        (
            r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300},{"n":"16","vb":false}]"#,
            "only its default true",
        ),
        (
            r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300},{"n":"3","v":9}]"#,
            "BS-WRITE-04",
        ),
        (
            r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300},{"bn":"/1/3/","n":"0","v":2}]"#,
            "/1/3, which must be gone",
        ),
        (r#"[{"bn":"/2/0/","n":"0","v":1}]"#, "outside /1"),
    ] {
        match judge(ctx(&u), &e, Some(&senml(bad)), &[]) {
            Err(Finding::Fail { detail, .. }) => assert!(detail.contains(says), "{bad}: {detail}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    // The right values in a format the request's Accept did not ask for (RFC 7252 §5.10.4).
    let mut other = senml(r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300}]"#);
    other.accept = Some(crate::tlv::CONTENT_FORMAT);
    match judge(ctx(&u), &e, Some(&other), &[]) {
        Err(Finding::Fail { detail, .. }) => assert!(detail.contains("Accept asked for 11542")),
        got => panic!("{got:?}"),
    }
}

/// The oracle's allowances for a 1.1+ Server instance: the resources the client keeps
/// itself (A-22) with any value, a default only with its value, nothing else.
#[test]
fn read_allowances_take_client_kept_resources_and_defaults_only() {
    let u = uris();
    let mut e = read_rule();
    if let Some(ResponseRule {
        content: Some(ContentRule::Read(r)),
        ..
    }) = &mut e.response
    {
        r.allowed = crate::oracle::server_allowances(bootstrap_model::profile::Profile::V1_1);
    }
    let base = r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300}"#;
    for extra in [
        r#"{"n":"12","v":1764500000}"#,
        r#"{"n":"11","v":0}"#,
        r#"{"n":"17","v":5}"#,
    ] {
        let json = format!("{base},{extra}]");
        assert_eq!(
            judge(ctx(&u), &e, Some(&senml(&json)), &[]),
            Ok(()),
            "{json}"
        );
    }
    for extra in [r#"{"n":"17","v":9}"#, r#"{"n":"13","v":1}"#] {
        let json = format!("{base},{extra}]");
        assert!(
            judge(ctx(&u), &e, Some(&senml(&json)), &[]).is_err(),
            "{json}"
        );
    }
}

fn message(
    method: &str,
    to: &str,
    path: &str,
    query: &[&str],
    payload: Option<&str>,
) -> CoapMessage {
    CoapMessage {
        method: method.into(),
        uri: to.into(),
        path: path.into(),
        query: query.iter().map(|q| q.to_string()).collect(),
        accept: None,
        payload: payload.map(|p| Encoded::new(LINK_FORMAT, p.as_bytes())),
    }
}

fn register_rule(binding: BindingRule, endpoint: Presence) -> SendRule {
    SendRule::Register {
        to: ServerUri::Server(0),
        endpoint,
        lifetime: 300,
        version: Some("1.1".into()),
        binding,
        objects: Listing {
            required: vec![
                link(Path::Instance(1, 0), Attr::Any, Attr::Any),
                link(Path::Instance(3, 0), Attr::Any, Attr::Any),
            ],
            required_objects: vec![],
            absent: vec![Path::Instance(1, 1)],
            complete: vec![],
            forbidden_objects: vec![0, 21],
        },
        objects_optional: false,
    }
}

#[test]
fn registers_as_real_clients_send_them_pass() {
    let u = uris();
    let e = Expectation {
        sends: vec![register_rule(BindingRule::IncludesUdp, Presence::Optional)],
        ..Expectation::default()
    };
    let dm0 = "coap://127.0.0.1:5693";
    for (q, p) in [
        (
            &["ep=urn:dev:ref-1", "lt=300", "lwm2m=1.1", "b=U"][..],
            "</1/0>,</3/0>",
        ),
        (
            &["lwm2m=1.1", "lt=300", "ep=urn:dev:ref-1"][..],
            r#"</>;rt="oma.lwm2m";ct=110,</1>;ver=1.1,</1/0>,</3/0>,</4/0>,</3303/0>,</10241/0>"#,
        ),
        (
            &["lt=300", "lwm2m=1.1", "b=UQ", "sms=123"][..],
            r#"</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>,</lwm2m/1/0>"#,
        ),
    ] {
        let m = message("POST", dm0, "/rd", q, Some(p));
        assert_eq!(judge(ctx(&u), &e, None, &[m]), Ok(()), "{q:?} {p}");
    }
}

#[test]
fn registers_that_break_a_rule_fail_naming_it() {
    let u = uris();
    let e = Expectation {
        sends: vec![register_rule(
            BindingRule::EqualsWritten("U".into()),
            Presence::Required,
        )],
        ..Expectation::default()
    };
    let dm0 = "coap://127.0.0.1:5693";
    let ok_q = ["ep=urn:dev:ref-1", "lt=300", "lwm2m=1.1"];
    for (to, q, p, says) in [
        (dm0, &ok_q[..], "</0/1>,</1/0>,</3/0>", "/0/1"),
        (dm0, &ok_q[..], "</1/0>,</3/0>,</21/0>", "/21/0"),
        (dm0, &ok_q[..], "</1/0>,</1/1>,</3/0>", "must be gone"),
        (dm0, &ok_q[..], "</3/0>", "does not list /1/0"),
        (
            dm0,
            &["ep=urn:dev:ref-1", "lt=86400", "lwm2m=1.1"][..],
            "</1/0>,</3/0>",
            "lt=86400",
        ),
        (dm0, &["lt=300", "lwm2m=1.1"][..], "</1/0>,</3/0>", "no ep="),
        (
            dm0,
            &["ep=urn:dev:ref-1", "lt=300", "lwm2m=1.1", "b=S"][..],
            "</1/0>,</3/0>",
            "b=S",
        ),
        (
            dm0,
            &["ep=urn:dev:ref-1", "lt=300"][..],
            "</1/0>,</3/0>",
            "no lwm2m=",
        ),
        (
            "coap://127.0.0.1:5783",
            &ok_q[..],
            "</1/0>,</3/0>",
            "goes to coap://127.0.0.1:5783",
        ),
    ] {
        let m = message("POST", to, "/rd", q, Some(p));
        match judge(ctx(&u), &e, None, &[m]) {
            Err(Finding::Fail { detail, .. }) => {
                assert!(detail.contains(says), "{q:?} {p}: {detail}")
            }
            other => panic!("{q:?} {p}: {other:?}"),
        }
    }
}

fn request_rule(pct: Vec<u16>) -> Expectation {
    Expectation {
        sends: vec![SendRule::BootstrapRequest {
            to: ServerUri::Bootstrap,
            pct,
            device_info: false,
        }],
        ..Expectation::default()
    }
}

/// Any `pct` BS-REQ-02 allows in the profile, or none (BS-REQ-01: it is optional), passes;
/// one outside the set does not (the `request-with-bad-pct` bug sends 40), and in the seed
/// and 1.0 none may be sent.
#[test]
fn pct_is_optional_and_its_value_the_clients_within_the_set() {
    let u = uris();
    let bs = "coap://127.0.0.1:5783";
    let allowed = crate::oracle::allowed_pct(bootstrap_model::profile::Profile::V1_2);
    let e = request_rule(allowed.clone());
    for p in allowed.iter().map(|p| Some(*p)).chain([None]) {
        let mut q = vec!["ep=urn:dev:ref-1".to_string()];
        q.extend(p.map(|p| format!("pct={p}")));
        let q: Vec<&str> = q.iter().map(String::as_str).collect();
        assert_eq!(
            judge(ctx(&u), &e, None, &[message("POST", bs, "/bs", &q, None)]),
            Ok(())
        );
    }
    for bad in ["pct=40", "pct=11543", "pct=x"] {
        let m = message("POST", bs, "/bs", &["ep=urn:dev:ref-1", bad], None);
        assert!(judge(ctx(&u), &e, None, &[m]).is_err(), "{bad}");
    }
    let none = request_rule(vec![]);
    let m = message("POST", bs, "/bs", &["ep=urn:dev:ref-1", "pct=11542"], None);
    assert!(judge(ctx(&u), &none, None, &[m]).is_err());
    let m = message("POST", bs, "/bs", &["pct=11542"], None);
    assert!(judge(ctx(&u), &e, None, &[m]).is_err(), "no ep");
    // Two requests are not one.
    let m = message("POST", bs, "/bs", &["ep=urn:dev:ref-1"], None);
    assert!(judge(ctx(&u), &e, None, &[m.clone(), m]).is_err());
}

#[test]
fn a_missing_message_counts_as_the_step_says_and_tolerated_repeats_pass() {
    let u = uris();
    let mut e = request_rule(vec![]);
    e.if_absent = Some(IfAbsent {
        tier: Tier::May,
        why: "open".into(),
    });
    assert!(matches!(
        judge(ctx(&u), &e, None, &[]),
        Err(Finding::NotObserved(_))
    ));
    e.if_absent = Some(IfAbsent {
        tier: Tier::Should,
        why: "late".into(),
    });
    assert!(matches!(
        judge(ctx(&u), &e, None, &[]),
        Err(Finding::Fail {
            tier: Some(Tier::Should),
            ..
        })
    ));
    // A wrong message is a failure of the vector's tier, whatever `if_absent` says.
    let wrong = message(
        "POST",
        "coap://127.0.0.1:5784",
        "/bs",
        &["ep=urn:dev:ref-1"],
        None,
    );
    assert!(matches!(
        judge(ctx(&u), &e, None, &[wrong]),
        Err(Finding::Fail { tier: None, .. })
    ));
    e.tolerated = vec![register_rule(BindingRule::IncludesUdp, Presence::Optional)];
    let again = message(
        "POST",
        "coap://127.0.0.1:5693",
        "/rd",
        &["lt=300", "lwm2m=1.1"],
        Some("</1/0>,</3/0>"),
    );
    let bs = message(
        "POST",
        "coap://127.0.0.1:5783",
        "/bs",
        &["ep=urn:dev:ref-1"],
        None,
    );
    assert_eq!(
        judge(ctx(&u), &e, None, &[again.clone(), again.clone(), bs]),
        Ok(())
    );
    assert!(could_still_pass(
        ctx(&u),
        &e,
        None,
        std::slice::from_ref(&again)
    ));
    // A Register sent again while the fallback has not come yet: the missing request
    // counts as `if_absent` says (here SHOULD), not as a failure of the vector's tier.
    assert!(matches!(
        judge(ctx(&u), &e, None, &[again]),
        Err(Finding::Fail {
            tier: Some(Tier::Should),
            ..
        })
    ));
}

#[test]
fn endpoint_names_and_prefix_patterns() {
    assert!(endpoint_matches("urn:dev:ref-1", "urn:dev:ref-1"));
    assert!(!endpoint_matches("urn:dev:ref-1", "urn:dev:ref-12"));
    assert!(endpoint_matches("urn:imei:*", "urn:imei:490154203237518"));
    assert!(!endpoint_matches("urn:imei:*", "urn:imei:"));
    assert!(!endpoint_matches("urn:imei:*", "urn:dev:ref-1"));
}

/// A step whose management server refuses the client's handshake expects the handshake:
/// a Register cannot stand for it (no session can carry one), a handshake to another
/// server is not it, and a handshake never meets a Register rule. A repeat is allowed only
/// where the step tolerates it.
#[test]
fn a_refused_session_is_judged_by_its_handshake() {
    let u = uris();
    let dm0 = u.uri(ServerUri::Server(0));
    let dm1 = u.uri(ServerUri::Server(1));
    let e = Expectation {
        sends: vec![SendRule::Handshake {
            to: ServerUri::Server(0),
        }],
        ..Expectation::default()
    };
    let hello = CoapMessage::handshake(dm0.clone());
    assert_eq!(
        judge(ctx(&u), &e, None, std::slice::from_ref(&hello)),
        Ok(())
    );
    assert!(hello.to_string().contains("DTLS handshake"));

    let register = message("POST", &dm0, "/rd", &["ep=urn:dev:ref-1", "lt=300"], None);
    let f = judge(ctx(&u), &e, None, &[register])
        .unwrap_err()
        .to_string();
    assert!(f.contains("not a DTLS handshake"), "{f}");
    let elsewhere = CoapMessage::handshake(dm1);
    let f = judge(ctx(&u), &e, None, &[elsewhere])
        .unwrap_err()
        .to_string();
    assert!(f.contains("goes to"), "{f}");
    let f = judge(ctx(&u), &e, None, &[hello.clone(), hello.clone()])
        .unwrap_err()
        .to_string();
    assert_eq!(
        f.matches("a DTLS handshake (ClientHello)").count(),
        3,
        "{f}"
    );
    let tolerant = Expectation {
        tolerated: e.sends.clone(),
        ..e.clone()
    };
    assert_eq!(
        judge(ctx(&u), &tolerant, None, &[hello.clone(), hello.clone()]),
        Ok(())
    );

    let r = register_rule(BindingRule::IncludesUdp, Presence::Optional);
    assert!(problems(ctx(&u), &r, &hello)
        .iter()
        .any(|p| p.contains("not a Register")));
}

/// Which servers hold the client's handshake: from the step that expects a handshake to
/// it until one that expects a Register to it.
#[test]
fn a_server_holds_handshakes_from_the_expected_handshake_to_the_next_register() {
    let mut held = std::collections::BTreeSet::new();
    let handshake = Expectation {
        sends: vec![SendRule::Handshake {
            to: ServerUri::Server(1),
        }],
        ..Expectation::default()
    };
    handshake.update_held(&mut held);
    assert_eq!(held.iter().copied().collect::<Vec<_>>(), vec![1]);
    Expectation::default().update_held(&mut held);
    assert_eq!(held.len(), 1, "a step that expects nothing changes nothing");
    let mut register = register_rule(BindingRule::IncludesUdp, Presence::Optional);
    if let SendRule::Register { to, .. } = &mut register {
        *to = ServerUri::Server(1);
    }
    Expectation {
        or_sends: vec![vec![register]],
        ..Expectation::default()
    }
    .update_held(&mut held);
    assert!(held.is_empty());
}
