//! This suite's wire encoding of the seed's two mechanisms that no published version kept
//! (BS-KEEP-01, BS-RB-02). Seed-profile extension: only the `seed` profile uses it, and a 1.x
//! client must ignore it (BS-KEEP-03). Everything the seed adds to the wire is in this module.
//!
//! - `keepServerInfo`: a Uri-Query option without value on the Bootstrap-Write that
//!   re-provisions a server's account: `PUT /0/x?keepServerInfo`. Chosen because the harness
//!   probe of KEEP-03 already sends exactly this to 1.x clients, so one encoding serves both.
//! - Step 0 ("re-bootstrap needed", carrying the URI): the management server sends
//!   `POST /rbs` (Confirmable) with a `text/plain` (0) payload holding the bootstrap URI. The
//!   client answers 2.04 Changed and then requests re-bootstrap at that URI.
//! - Step 1 (device information and supported security modes): the Bootstrap-Request carries
//!   two more Uri-Query options: `dev=<manufacturer model>` and `sm=<modes>`, the Security
//!   Mode numbers (BS-OBJ-01) the client supports joined by `,`, e.g. `sm=0,3`.

/// Uri-Query option name of `keepServerInfo` on a Bootstrap-Write.
pub const KEEP_SERVER_INFO_QUERY: &str = "keepServerInfo";
/// Uri-Path of the Step 0 re-bootstrap notification.
pub const REBOOTSTRAP_NOTIFICATION_PATH: &str = "rbs";
/// Content-Format of the Step 0 payload (text/plain).
pub const REBOOTSTRAP_NOTIFICATION_FORMAT: u16 = 0;
/// Uri-Query option name carrying device information in a seed Bootstrap-Request.
pub const DEVICE_INFO_QUERY: &str = "dev";
/// Uri-Query option name carrying the supported security modes in a seed Bootstrap-Request.
pub const SECURITY_MODES_QUERY: &str = "sm";
/// The device information the reference client sends.
pub const REFERENCE_DEVICE_INFO: &str = "lwm2m-bootstrap-model reference";
/// The security modes the reference client supports: PSK (0) and NoSec (3).
pub const REFERENCE_SECURITY_MODES: &[u8] = &[0, 3];

/// The `sm=` value for a list of security modes.
pub fn security_modes_query_value(modes: &[u8]) -> String {
    modes
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn modes_are_comma_separated() {
        assert_eq!(super::security_modes_query_value(&[0, 3]), "0,3");
        assert_eq!(super::security_modes_query_value(&[]), "");
    }
}
