//! CoAP codec for the wire (issue #5, first part). Harness side: the requests the harness
//! sends as bootstrap or management server, and what a client sends back taken as it was
//! sent (its responses and its own requests: [`observed_response`], [`client_request`]),
//! so that the one judge (`conformance::judge`) applies on the wire as in process. Client
//! side (for the reference client on the wire): the decoding of those requests into the
//! model's inputs. Messages go through coap-lite (RFC 7252 codec); the LwM2M payloads
//! (link-format, TLV, and SenML JSON, SenML CBOR and LwM2M CBOR through their TLV
//! equivalent) are decoded here, and no input can make a decoder panic.

use bootstrap_model::client::{BootstrapPack, Input, Peer, WriteValue};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::path::{Path, ACCESS_CONTROL, SECURITY, SERVER};
use bootstrap_model::seed_ext;
use bootstrap_model::store::Instances;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use conformance::lwm2m_cbor;
use conformance::observation::ObservedResponse;
use conformance::senml::{self, SenmlValue};
use conformance::senml_cbor;
use conformance::tlv::{self, IdentifierType, RawTlv, Tlv, TlvValue};
use conformance::wire::{
    self, access_control_resources, security_resources, senml_records, server_resources,
    CoapMessage, CoapRequest, Encoded, UriMap, LINK_FORMAT, LWM2M_CBOR, LWM2M_TLV, SENML_CBOR,
    SENML_JSON,
};

pub use conformance::wire::READ_FORMATS;

/// The records of a payload in a record-based `format` (SenML JSON 110, SenML CBOR 112 or
/// LwM2M CBOR 11544, all as (full path, value)), `None` for any other format.
fn senml_decode(format: u32, payload: &[u8]) -> Option<Result<Vec<(String, SenmlValue)>, String>> {
    match format {
        f if f == u32::from(SENML_JSON) => Some(senml::decode(payload)),
        f if f == u32::from(SENML_CBOR) => Some(senml_cbor::decode(payload)),
        f if f == u32::from(LWM2M_CBOR) => Some(lwm2m_cbor::decode(payload)),
        _ => None,
    }
}

/// The CoAP response type of a model response code.
pub fn response_type(c: ResponseCode) -> ResponseType {
    match c {
        ResponseCode::Deleted => ResponseType::Deleted,
        ResponseCode::Changed => ResponseType::Changed,
        ResponseCode::Content => ResponseType::Content,
        ResponseCode::BadRequest => ResponseType::BadRequest,
        ResponseCode::Unauthorized => ResponseType::Unauthorized,
        ResponseCode::NotFound => ResponseType::NotFound,
        ResponseCode::MethodNotAllowed => ResponseType::MethodNotAllowed,
        ResponseCode::NotAcceptable => ResponseType::NotAcceptable,
        ResponseCode::UnsupportedContentFormat => ResponseType::UnsupportedContentFormat,
        ResponseCode::InternalServerError => ResponseType::InternalServerError,
        ResponseCode::NotImplemented => ResponseType::NotImplemented,
    }
}

/// The model's response code of a CoAP response type, if the bootstrap interface uses it.
pub fn response_code(t: ResponseType) -> Option<ResponseCode> {
    ResponseCode::ALL
        .into_iter()
        .find(|c| response_type(*c) == t)
}

/// Encodes the request a vector step sends to the client (its preferred payload, if any) as
/// a Confirmable message.
pub fn encode_request(req: &CoapRequest, message_id: u16, token: &[u8]) -> Result<Vec<u8>, String> {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Confirmable);
    p.header.message_id = message_id;
    p.header.code = MessageClass::Request(match req.method.as_str() {
        "GET" => RequestType::Get,
        "PUT" => RequestType::Put,
        "POST" => RequestType::Post,
        "DELETE" => RequestType::Delete,
        m => return Err(format!("unknown method {m}")),
    });
    p.set_token(token.to_vec());
    for seg in req.path.split('/').filter(|s| !s.is_empty()) {
        p.add_option(CoapOption::UriPath, seg.as_bytes().to_vec());
    }
    for q in &req.query {
        p.add_option(CoapOption::UriQuery, q.as_bytes().to_vec());
    }
    if let Some(a) = req.accept {
        p.add_option(CoapOption::Accept, uint(a as u32));
    }
    if let Some(e) = req.payloads.first() {
        p.add_option(CoapOption::ContentFormat, uint(e.content_format as u32));
        p.payload = e.bytes()?;
    }
    p.to_bytes().map_err(|e| format!("cannot encode: {e:?}"))
}

/// A CoAP uint option value (RFC 7252 §3.2: shortest big-endian form).
pub fn uint(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|x| **x == 0).count();
    b[skip..].to_vec()
}

pub(crate) fn read_uint(b: &[u8]) -> Option<u32> {
    if b.len() > 4 {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, x| acc << 8 | *x as u32))
}

fn strings(p: &Packet, o: CoapOption) -> Result<Vec<String>, String> {
    p.get_option(o)
        .map(|l| {
            l.iter()
                .map(|v| {
                    String::from_utf8(v.clone()).map_err(|_| format!("{o:?} option is not UTF-8"))
                })
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// The code of a CoAP message, dotted (`2.05`), whatever its class.
pub fn dotted(p: &Packet) -> String {
    let b: u8 = p.header.code.into();
    format!("{}.{:02}", b >> 5, b & 0x1f)
}

/// The Content-Format a payload without the option is reported with: none is not a format,
/// and the judge says so when it needs one.
pub const NO_CONTENT_FORMAT: u16 = u16::MAX;

fn payload_of(p: &Packet) -> Option<Encoded> {
    if p.payload.is_empty() {
        return None;
    }
    let cf = p
        .get_first_option(CoapOption::ContentFormat)
        .and_then(|v| read_uint(v))
        .and_then(|v| u16::try_from(v).ok())
        .unwrap_or(NO_CONTENT_FORMAT);
    Some(Encoded::new(cf, &p.payload))
}

/// A client's response as it sent it: its code (any code) and its payload with the
/// Content-Format (a block-wise answer put back together first, RFC 7959 §2.4).
pub fn observed_response(p: &Packet) -> Result<ObservedResponse, String> {
    if !matches!(p.header.code, MessageClass::Response(_)) {
        return Err(format!("expected a response, got {}", p.header.code));
    }
    Ok(ObservedResponse {
        code: dotted(p),
        payload: payload_of(p),
        accept: None,
    })
}

/// A request the client sent on its own to the server at `uri`, as it sent it: method,
/// Uri-Path, Uri-Query, Accept, payload. Only options that are not UTF-8 are refused.
pub fn client_request(p: &Packet, uri: &str) -> Result<CoapMessage, String> {
    let MessageClass::Request(method) = p.header.code else {
        return Err(format!("expected a request, got {}", p.header.code));
    };
    let method = match method {
        RequestType::Get => "GET".to_string(),
        RequestType::Post => "POST".to_string(),
        RequestType::Put => "PUT".to_string(),
        RequestType::Delete => "DELETE".to_string(),
        other => format!("{other:?}").to_uppercase(),
    };
    let path = strings(p, CoapOption::UriPath)?;
    Ok(CoapMessage {
        method,
        uri: uri.to_string(),
        path: format!("/{}", path.join("/")),
        query: strings(p, CoapOption::UriQuery)?,
        accept: p
            .get_first_option(CoapOption::Accept)
            .and_then(|v| read_uint(v))
            .and_then(|v| u16::try_from(v).ok()),
        payload: payload_of(p),
    })
}

/// The LwM2M path `/o/i/r` or `/o/i/r/ri` a SenML record names.
fn senml_path(name: &str) -> Result<(u16, u16, u16, Option<u16>), String> {
    let ids = name.strip_prefix('/').map(|rest| {
        rest.split('/')
            .map(str::parse::<u16>)
            .collect::<Result<Vec<_>, _>>()
    });
    match ids {
        Some(Ok(ids)) => match ids.as_slice() {
            [o, i, r] => Ok((*o, *i, *r, None)),
            [o, i, r, ri] => Ok((*o, *i, *r, Some(*ri))),
            _ => Err(format!(
                "SenML name {name:?} is not a resource or resource instance"
            )),
        },
        _ => Err(format!("SenML name {name:?} is not an LwM2M path")),
    }
}

/// The TLV value of a SenML value: the reverse of `conformance::wire`'s mapping.
fn tlv_value(v: SenmlValue) -> TlvValue {
    match v {
        SenmlValue::Int(i) => TlvValue::Integer(i),
        SenmlValue::Bool(b) => TlvValue::Bool(b),
        SenmlValue::Str(s) => TlvValue::String(s),
        SenmlValue::Opaque(b) => TlvValue::Opaque(b),
    }
}

/// The encoded length of TLV items, `None` when a value or a container's content is longer
/// than the 24-bit length field can state (where `tlv::encode` would panic).
fn tlv_len(items: &[Tlv]) -> Option<usize> {
    let item = |id: u16, len: usize| {
        (len <= tlv::MAX_VALUE_LEN).then(|| {
            let len_field = [0, 7, 0xff, 0xffff].iter().filter(|m| len > **m).count();
            1 + if id > 0xff { 2 } else { 1 } + len_field + len
        })
    };
    items.iter().try_fold(0usize, |acc, t| {
        let n = match t {
            Tlv::ObjectInstance { id, resources } => item(*id, tlv_len(resources)?)?,
            Tlv::Resource { id, value } => item(*id, value.to_bytes().len())?,
            Tlv::MultipleResource { id, instances } => {
                let body = instances.iter().try_fold(0usize, |acc, (ri, v)| {
                    acc.checked_add(item(*ri, v.to_bytes().len())?)
                })?;
                item(*id, body)?
            }
        };
        acc.checked_add(n)
    })
}

/// A SenML JSON payload (Content-Format 110) for `path`, re-encoded as the TLV payload the
/// same content has (the inverse of `conformance::wire::senml_records`): records of the
/// same instance gather under one instance, `/o/i/r/ri` records of the same resource under
/// one multiple resource (each at the place of its first record), values in their TLV form.
/// For an object (or the root) each instance gets an object-instance wrapper, for an
/// instance or a resource the resources stand alone, as in a TLV Bootstrap-Write
/// (BS-WRITE-01, BS-WRITE-03). A record of another object, or of another instance than the
/// path's, is an error. The records come from SenML JSON, SenML CBOR or LwM2M CBOR alike.
fn senml_as_tlv(records: Vec<(String, SenmlValue)>, path: Path) -> Result<Vec<u8>, String> {
    let mut instances: Vec<(u16, Vec<Tlv>)> = Vec::new();
    for (name, value) in records {
        let (o, i, r, ri) = senml_path(&name)?;
        if path.object().is_some_and(|po| po != o) || path.instance().is_some_and(|pi| pi != i) {
            return Err(format!("SenML record {name:?} lies outside {path}"));
        }
        let pos = match instances.iter().position(|(id, _)| *id == i) {
            Some(pos) => pos,
            None => {
                instances.push((i, Vec::new()));
                instances.len() - 1
            }
        };
        let Some((_, resources)) = instances.get_mut(pos) else {
            return Err("SenML instance lost".to_string());
        };
        let value = tlv_value(value);
        match ri {
            None => resources.push(Tlv::Resource { id: r, value }),
            Some(ri) => {
                let multiple = resources.iter_mut().find_map(|t| match t {
                    Tlv::MultipleResource { id, instances } if *id == r => Some(instances),
                    _ => None,
                });
                match multiple {
                    Some(m) => m.push((ri, value)),
                    None => resources.push(Tlv::MultipleResource {
                        id: r,
                        instances: vec![(ri, value)],
                    }),
                }
            }
        }
    }
    let items: Vec<Tlv> = match path {
        Path::Instance(..) | Path::Resource(..) => {
            instances.into_iter().flat_map(|(_, r)| r).collect()
        }
        Path::Root | Path::Object(_) => instances
            .into_iter()
            .map(|(id, resources)| Tlv::ObjectInstance { id, resources })
            .collect(),
    };
    tlv_len(&items).ok_or("SenML values too long for TLV")?;
    Ok(tlv::encode(&items))
}

/// A Bootstrap-Pack as SenML JSON, one of the formats BS-PACK-01 allows: every instance of
/// the objects the pack carries (Security, Server, Access Control), with the same resources
/// a Bootstrap-Write of each would carry. An object the pack carries with no instance has no
/// record: SenML cannot say "object 0, empty" (the decoder reads it as absent).
pub fn encode_pack(p: &BootstrapPack, uris: &UriMap) -> Vec<u8> {
    senml::encode(&pack_records(p, uris)).into_bytes()
}

/// The Bootstrap-Pack in `format`, for a Bootstrap-Pack-Request whose Accept asks for it
/// (BS-PACK-01): SenML JSON (110) as [`encode_pack`], SenML CBOR (112) and LwM2M CBOR
/// (11544) with the same records; `None` for a format the suite cannot produce.
pub fn encode_pack_as(p: &BootstrapPack, uris: &UriMap, format: u16) -> Option<Vec<u8>> {
    match format {
        SENML_JSON => Some(encode_pack(p, uris)),
        SENML_CBOR => Some(senml_cbor::encode(&pack_records(p, uris))),
        LWM2M_CBOR => lwm2m_cbor::encode(&pack_records(p, uris)).ok(),
        _ => None,
    }
}

/// The SenML records of a Bootstrap-Pack (see [`encode_pack`]).
fn pack_records(p: &BootstrapPack, uris: &UriMap) -> Vec<(String, SenmlValue)> {
    let mut records = Vec::new();
    for (i, x) in p.security.iter().flat_map(|s| s.iter()) {
        records.extend(senml_records(SECURITY, i, &security_resources(x, uris)));
    }
    for (i, x) in p.server.iter().flat_map(|s| s.iter()) {
        records.extend(senml_records(
            SERVER,
            i,
            // Bootstrap-Pack exists in 1.2 only (BS-PACK-01).
            &server_resources(x, bootstrap_model::profile::Profile::V1_2),
        ));
    }
    for (i, x) in p.access_control.iter().flat_map(|s| s.iter()) {
        records.extend(senml_records(
            ACCESS_CONTROL,
            i,
            &access_control_resources(x),
        ));
    }
    records
}

/// Decodes a Bootstrap-Pack in SenML JSON (the reverse of [`encode_pack`]) into the model's
/// pack; a record of another object than 0, 1 and 2 is an error.
pub fn decode_pack(payload: &[u8], uris: &UriMap) -> Result<BootstrapPack, String> {
    decode_pack_as(u32::from(SENML_JSON), payload, uris)
}

/// Decodes a Bootstrap-Pack in `format` (the Content-Format of the answer: SenML JSON 110,
/// SenML CBOR 112 or LwM2M CBOR 11544, BS-PACK-01) into the model's pack, as
/// [`decode_pack`].
pub fn decode_pack_as(format: u32, payload: &[u8], uris: &UriMap) -> Result<BootstrapPack, String> {
    let records = senml_decode(format, payload).ok_or_else(|| {
        format!("a Bootstrap-Pack in Content-Format {format}, not SenML or LwM2M CBOR")
    })??;
    let mut pack = BootstrapPack {
        security: None,
        server: None,
        access_control: None,
    };
    for object in [SECURITY, SERVER, ACCESS_CONTROL] {
        let mine: Vec<_> = records
            .iter()
            .filter(|(n, _)| senml_path(n).is_ok_and(|(o, ..)| o == object))
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let tlv_bytes = senml_as_tlv(mine, Path::Object(object))?;
        let items = tlv::decode(&tlv_bytes).map_err(|e| format!("{e}"))?;
        let children = |t: &RawTlv| t.children.clone();
        match object {
            SECURITY => {
                let mut all = Instances::default();
                for t in &items {
                    all.put(t.id, wire::security_from_resources(&children(t), uris)?);
                }
                pack.security = Some(all);
            }
            SERVER => {
                let mut all = Instances::default();
                for t in &items {
                    all.put(t.id, wire::server_from_resources(&children(t)));
                }
                pack.server = Some(all);
            }
            _ => {
                let mut all = Instances::default();
                for t in &items {
                    all.put(t.id, wire::access_control_from_resources(&children(t)));
                }
                pack.access_control = Some(all);
            }
        }
    }
    if let Some((n, _)) = records
        .iter()
        .find(|(n, _)| !senml_path(n).is_ok_and(|(o, ..)| o <= ACCESS_CONTROL))
    {
        return Err(format!(
            "the pack carries {n:?}, outside objects 0, 1 and 2"
        ));
    }
    Ok(pack)
}

/// Decodes a request a server sends to the client (what a client on the wire receives)
/// into the model's input; `from` is the peer whose socket it came from. The reverse of
/// [`encode_request`] for every stimulus of the vectors (a duplicate Finish is the same
/// message as the first: telling them apart is the CoAP layer's deduplication).
pub fn decode_request(bytes: &[u8], from: Peer, uris: &UriMap) -> Result<Input, String> {
    let p = Packet::from_bytes(bytes).map_err(|e| format!("malformed CoAP message: {e:?}"))?;
    let MessageClass::Request(method) = p.header.code else {
        return Err(format!("expected a request, got {}", p.header.code));
    };
    let segs = strings(&p, CoapOption::UriPath)?;
    let query = strings(&p, CoapOption::UriQuery)?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let path_text = format!("/{}", segs.join("/"));
    let path = || path_text.parse::<Path>().map_err(|e| e.to_string());
    let accept = p
        .get_first_option(CoapOption::Accept)
        .and_then(|v| read_uint(v));
    let format = p
        .get_first_option(CoapOption::ContentFormat)
        .and_then(|v| read_uint(v));
    match (method, segs.as_slice()) {
        (RequestType::Post, ["bs"]) => Ok(Input::Finish { from }),
        (RequestType::Post, [seg]) if *seg == seed_ext::REBOOTSTRAP_NOTIFICATION_PATH => {
            let text =
                std::str::from_utf8(&p.payload).map_err(|_| "notification URI is not UTF-8")?;
            let uri = uris
                .server_uri(text)
                .ok_or_else(|| format!("URI {text:?} names no server"))?;
            Ok(Input::ReBootstrapNotification { from, uri })
        }
        (RequestType::Post, ["1", y, "9"]) => Ok(Input::ExecuteBootstrapTrigger {
            from,
            instance: y.parse().map_err(|_| format!("bad instance {y:?}"))?,
        }),
        (RequestType::Get, _) if accept == Some(LINK_FORMAT as u32) => Ok(Input::Discover {
            from,
            path: path()?,
        }),
        (RequestType::Get, _) => Ok(Input::Read {
            from,
            path: path()?,
        }),
        (RequestType::Delete, _) => Ok(Input::Delete {
            from,
            path: path()?,
        }),
        (RequestType::Put, _) => {
            let path = path()?;
            let value = write_value(path, format, &p.payload, uris);
            Ok(Input::Write {
                from,
                path,
                value,
                keep_server_info: query.iter().any(|q| q == seed_ext::KEEP_SERVER_INFO_QUERY),
            })
        }
        (m, _) => Err(format!("unexpected request {m:?} {path_text}")),
    }
}

/// The payload of a Bootstrap-Write, abstractly: a format the client does not take is
/// [`WriteValue::UnsupportedContentFormat`], a payload that does not decode is
/// [`WriteValue::Undecodable`] (BS-WRITE-06).
fn write_value(path: Path, format: Option<u32>, payload: &[u8], uris: &UriMap) -> WriteValue {
    match (format, path) {
        (Some(0), Path::Resource(SERVER, _, 1)) => std::str::from_utf8(payload)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .map_or(WriteValue::Undecodable, WriteValue::Lifetime),
        (Some(42), Path::Resource(SECURITY, _, 5)) => {
            wire::key_of_secret(payload).map_or(WriteValue::Undecodable, WriteValue::SecretKey)
        }
        (Some(f), _) if f == LWM2M_TLV as u32 => {
            let Ok(items) = tlv::decode(payload) else {
                return WriteValue::Undecodable;
            };
            let decoded = match path {
                Path::Instance(SECURITY, _) => wire::security_from_resources(&items, uris)
                    .ok()
                    .map(WriteValue::Security),
                Path::Instance(SERVER, _) => {
                    Some(WriteValue::Server(wire::server_from_resources(&items)))
                }
                Path::Instance(ACCESS_CONTROL, _) => Some(WriteValue::AccessControl(
                    wire::access_control_from_resources(&items),
                )),
                Path::Resource(SECURITY, _, 5) => tlv::opaque_resource(&items, 5)
                    .and_then(wire::key_of_secret)
                    .map(WriteValue::SecretKey),
                Path::Resource(SERVER, _, 1) => tlv::integer_resource(&items, 1)
                    .and_then(|v| u32::try_from(v).ok())
                    .map(WriteValue::Lifetime),
                Path::Object(SERVER) => {
                    let mut all = Instances::default();
                    for t in &items {
                        if t.kind != IdentifierType::ObjectInstance {
                            return WriteValue::Undecodable;
                        }
                        all.put(t.id, wire::server_from_resources(&t.children));
                    }
                    Some(WriteValue::ServerObject(all))
                }
                _ => None,
            };
            decoded.unwrap_or(WriteValue::Undecodable)
        }
        (Some(f), _) => match senml_decode(f, payload) {
            Some(records) => match records.and_then(|r| senml_as_tlv(r, path)) {
                Ok(tlv) => write_value(path, Some(LWM2M_TLV.into()), &tlv, uris),
                Err(_) => WriteValue::Undecodable,
            },
            None => WriteValue::UnsupportedContentFormat,
        },
        _ => WriteValue::UnsupportedContentFormat,
    }
}

/// Encodes a client's response as CoAP (a piggy-backed ACK): code `code` and, when the
/// content has `encodings` (Discover: one link-format payload, `links`; Read: one per
/// format), the one the request's `accept` asks for, or 4.06 Not Acceptable (RFC 7252
/// §5.10.4) when it is not one of the client's `formats` or has no encoding; without an
/// Accept, the first of `formats` the content has (then the first encoding). What a client
/// on the wire sends, and what the decoders are tested against.
#[allow(clippy::too_many_arguments)]
pub fn encode_response_for(
    code: ResponseType,
    encodings: &[Encoded],
    links: bool,
    message_id: u16,
    token: &[u8],
    accept: Option<u32>,
    formats: &[u16],
) -> Result<Vec<u8>, String> {
    if encodings.is_empty() {
        return response_packet(code, None, message_id, token);
    }
    let find = |f: u16| encodings.iter().find(|e| e.content_format == f).cloned();
    let chosen = match accept {
        Some(a) if links => encodings
            .iter()
            .find(|e| u32::from(e.content_format) == a)
            .cloned(),
        Some(a) => u16::try_from(a)
            .ok()
            .filter(|f| formats.contains(f))
            .and_then(find),
        None if links => encodings.first().cloned(),
        None => formats
            .iter()
            .find_map(|f| find(*f))
            .or_else(|| encodings.first().cloned()),
    };
    match chosen {
        Some(e) => response_packet(code, Some(e), message_id, token),
        None => response_packet(ResponseType::NotAcceptable, None, message_id, token),
    }
}

fn response_packet(
    t: ResponseType,
    payload: Option<Encoded>,
    message_id: u16,
    token: &[u8],
) -> Result<Vec<u8>, String> {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.message_id = message_id;
    p.header.code = MessageClass::Response(t);
    p.set_token(token.to_vec());
    if let Some(e) = payload {
        p.add_option(CoapOption::ContentFormat, uint(e.content_format as u32));
        p.payload = e.bytes()?;
    }
    p.to_bytes().map_err(|e| format!("cannot encode: {e:?}"))
}

/// Encodes a message the client sends on its own (Confirmable).
pub fn encode_client_message(
    m: &CoapMessage,
    message_id: u16,
    token: &[u8],
) -> Result<Vec<u8>, String> {
    encode_client_message_accepting(m, None, message_id, token)
}

/// Encodes a message the client sends on its own (Confirmable) with an Accept option when
/// `accept` is given (a Bootstrap-Pack-Request naming the pack's format, BS-PACK-01).
pub fn encode_client_message_accepting(
    m: &CoapMessage,
    accept: Option<u16>,
    message_id: u16,
    token: &[u8],
) -> Result<Vec<u8>, String> {
    let req = CoapRequest {
        method: m.method.clone(),
        path: m.path.clone(),
        query: m.query.clone(),
        accept: accept.or(m.accept),
        payloads: m.payload.iter().cloned().collect(),
    };
    encode_request(&req, message_id, token)
}
